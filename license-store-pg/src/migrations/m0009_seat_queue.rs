//! The seat queue's two license rules (ADR 0029).
//!
//! - `licenses.max_wait_seconds`: the longest an acquire may wait in the license's queue; 0 (no
//!   queue, a refused acquire is refused at once) for every existing license, which is what
//!   they did before this migration.
//! - `licenses.max_queue_length`: the most clients waiting at once; NULL (the default length)
//!   for every existing license.
//!
//! Both are `BIGINT`, like the other rule columns (m0006): counts that are `u32` in the domain.
//! Each column is added by its own `ALTER TABLE` (SQLite takes one change per statement). On
//! PostgreSQL neither rewrites the table: the nullable column has no default, the other a
//! constant one. Row-level security (m0002) covers the new columns as it covers the rest of
//! each row.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Licenses {
    Table,
    MaxWaitSeconds,
    MaxQueueLength,
}

/// `ALTER TABLE licenses ADD COLUMN column`.
async fn add(manager: &SchemaManager<'_>, column: &mut ColumnDef) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(Licenses::Table)
                .add_column(column.to_owned())
                .to_owned(),
        )
        .await
}

// The trait declares `&SchemaManager` with its lifetime elided; the impl must match.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add(
            manager,
            ColumnDef::new(Licenses::MaxWaitSeconds)
                .big_integer()
                .not_null()
                .default(0),
        )
        .await?;
        add(
            manager,
            ColumnDef::new(Licenses::MaxQueueLength)
                .big_integer()
                .null(),
        )
        .await
    }
}
