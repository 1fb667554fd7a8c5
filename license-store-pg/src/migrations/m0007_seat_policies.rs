//! Seat policies and leasing strategies (ADR 0026): who a license's seats are for, and what
//! each session's seat counts toward.
//!
//! - `licenses.leasing_strategy`: `per_machine`, `per_user` or `per_process`; `per_machine`
//!   (what every license did before) for every existing license.
//! - `licenses.max_processes_per_host`: the per-process cap; NULL (no cap) before.
//! - `licenses.seat_policy`: the groups and rules as JSON; NULL is the empty policy, which is
//!   what every existing license has.
//! - `sessions.seat_key`: the seat's key in the ledger when it is not the machine (a person's
//!   or a process's seat); NULL, the machine, for every existing session.
//! - `sessions.counters`: the policy counters the seat counts toward, a JSON array of text;
//!   NULL is none, as for every existing session.
//!
//! The JSON columns are text on both backends: they are read and written whole, never queried.
//! Every column is added by its own `ALTER TABLE` (SQLite takes one change per statement). On
//! PostgreSQL none rewrites its table: nullable columns have no default, the strategy a
//! constant one. Row-level security (m0002) covers the new columns as it covers the rest of
//! each row.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    SeatKey,
    Counters,
}

#[derive(DeriveIden)]
enum Licenses {
    Table,
    LeasingStrategy,
    MaxProcessesPerHost,
    SeatPolicy,
}

/// `ALTER TABLE table ADD COLUMN column`.
async fn add(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: &mut ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(table)
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
            Licenses::Table,
            ColumnDef::new(Licenses::LeasingStrategy)
                .text()
                .not_null()
                .default("per_machine"),
        )
        .await?;
        add(
            manager,
            Licenses::Table,
            ColumnDef::new(Licenses::MaxProcessesPerHost)
                .big_integer()
                .null(),
        )
        .await?;
        add(
            manager,
            Licenses::Table,
            ColumnDef::new(Licenses::SeatPolicy).text().null(),
        )
        .await?;
        for column in [Sessions::SeatKey, Sessions::Counters] {
            add(
                manager,
                Sessions::Table,
                ColumnDef::new(column).text().null(),
            )
            .await?;
        }
        Ok(())
    }
}
