//! Webhook secret rotation (ADR 0032): each endpoint keeps the secret a rotation replaced,
//! which signs alongside the new one until `previous_secret_until`. Both columns are null
//! until the first rotation. The table's row security (m0011) covers them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    PreviousSecret,
    PreviousSecretUntil,
}

// The trait declares `&SchemaManager` with its lifetime elided; the impl must match.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use WebhookEndpoints as W;
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(W::Table)
                    .add_column(ColumnDef::new(W::PreviousSecret).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(W::Table)
                    .add_column(
                        ColumnDef::new(W::PreviousSecretUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }
}
