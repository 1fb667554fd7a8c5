//! Sessions bound to their holder (ADR 0023): who acquired each session, the hash of its
//! session secret, and the license setting that asks for secrets.
//!
//! - `sessions.holder_kind`, `sessions.holder_id`: the acquiring credential's identity, in the
//!   audit log's shape (`user` + subject, `api_key` + key id, `system`); both NULL for sessions
//!   recorded before this migration, which stay bound to no one.
//! - `sessions.secret_hash`: SHA-256 of the session secret, lower-case hex; NULL when the
//!   session has none.
//! - `licenses.require_session_secret`: false for every existing license.
//!
//! Every column is added by its own `ALTER TABLE` (SQLite takes one change per statement).
//! On PostgreSQL none rewrites the table: the nullable columns have no default, and the
//! boolean's default is a constant. The sessions' row-level security (m0002) covers the new
//! columns as it covers the rest of the row.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    HolderKind,
    HolderId,
    SecretHash,
}

#[derive(DeriveIden)]
enum Licenses {
    Table,
    RequireSessionSecret,
}

// The trait declares `&SchemaManager` with its lifetime elided; the impl must match.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Sessions::HolderKind,
            Sessions::HolderId,
            Sessions::SecretHash,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .add_column(ColumnDef::new(column).text().null())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Licenses::Table)
                    .add_column(
                        ColumnDef::new(Licenses::RequireSessionSecret)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }
}
