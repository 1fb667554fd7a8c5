//! Whether the ledger's grant of each session's seat is on record (ADR 0017).
//!
//! - `sessions.confirmed`: set by the write-behind's first renewal record of the session (a
//!   grant writes one); false from the store-first insert until then. A rebuild after a Redis
//!   loss restores a record without it (perhaps an acquire that never got its seat) as a seat,
//!   but such a seat is not handed out as a lease while the license counts more seats than it
//!   allows. Every existing session is taken as confirmed (`DEFAULT TRUE`): it behaves as it
//!   did before this migration.
//!
//! On PostgreSQL a constant default does not rewrite the table. Row-level security (m0002)
//! covers the column as it covers the rest of each row.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Confirmed,
}

// The trait declares `&SchemaManager` with its lifetime elided; the impl must match.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(
                        ColumnDef::new(Sessions::Confirmed)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .to_owned(),
            )
            .await
    }
}
