//! Seat rules (ADR 0025): borrowing, linger, evictions that hold off, and billable overdraft.
//!
//! - `sessions.borrowed`, `sessions.overdraft`: false for every existing session.
//! - `sessions.linger_until`: after a release, the seat stays held for its machine until then.
//! - `sessions.eviction_reason`, `sessions.hold_until`: why an administrator evicted the session
//!   and until when its machine (and person) may not acquire again; the reason is set on every
//!   eviction, the hold only when there is one.
//! - `licenses.max_borrow_seconds`, `linger_seconds`, `min_hold_seconds`: 0 (off) for every
//!   existing license; `max_borrowed_seats`, `overdraft_minutes_per_day`: NULL (no cap).
//! - `usage_days.overdraft_peak`: seats beyond `seats_total` at the day's peak, 0 before.
//!
//! Four partial indexes keep the new queries to one index range each (both backends):
//!
//! - `sessions_lingering_idx (tenant_id, license_id, linger_until) WHERE linger_until IS NOT NULL`
//!   and `sessions_held_off_idx (tenant_id, license_id, hold_until) WHERE hold_until IS NOT NULL`:
//!   the ledger rebuild's lingering seats and hold-offs still in force;
//! - `sessions_overdraft_idx (tenant_id, license_id, acquired_at) WHERE overdraft`: the daily
//!   overdraft minutes (the cap and the usage report);
//! - `sessions_live_borrowed_idx (tenant_id, license_id, acquired_at, id)
//!   WHERE borrowed AND ended_at IS NULL`: the admin listing of borrowed seats, page by page.
//!
//! Every column is added by its own `ALTER TABLE` (SQLite takes one change per statement). On
//! PostgreSQL none rewrites its table: nullable columns have no default, the others a constant
//! one. The indexes are built inside the migration transaction, like m0004's. Row-level
//! security (m0002) covers the new columns as it covers the rest of each row.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(Clone, Copy, DeriveIden)]
enum Sessions {
    Table,
    Id,
    TenantId,
    LicenseId,
    AcquiredAt,
    EndedAt,
    Borrowed,
    Overdraft,
    LingerUntil,
    EvictionReason,
    HoldUntil,
}

#[derive(DeriveIden)]
enum Licenses {
    Table,
    MaxBorrowSeconds,
    MaxBorrowedSeats,
    LingerSeconds,
    MinHoldSeconds,
    OverdraftMinutesPerDay,
}

#[derive(DeriveIden)]
enum UsageDays {
    Table,
    OverdraftPeak,
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
        for flag in [Sessions::Borrowed, Sessions::Overdraft] {
            add(
                manager,
                Sessions::Table,
                ColumnDef::new(flag).boolean().not_null().default(false),
            )
            .await?;
        }
        for time in [Sessions::LingerUntil, Sessions::HoldUntil] {
            add(
                manager,
                Sessions::Table,
                ColumnDef::new(time).timestamp_with_time_zone().null(),
            )
            .await?;
        }
        add(
            manager,
            Sessions::Table,
            ColumnDef::new(Sessions::EvictionReason).text().null(),
        )
        .await?;

        for seconds in [
            Licenses::MaxBorrowSeconds,
            Licenses::LingerSeconds,
            Licenses::MinHoldSeconds,
        ] {
            add(
                manager,
                Licenses::Table,
                ColumnDef::new(seconds).big_integer().not_null().default(0),
            )
            .await?;
        }
        for cap in [Licenses::MaxBorrowedSeats, Licenses::OverdraftMinutesPerDay] {
            add(
                manager,
                Licenses::Table,
                ColumnDef::new(cap).big_integer().null(),
            )
            .await?;
        }
        add(
            manager,
            UsageDays::Table,
            ColumnDef::new(UsageDays::OverdraftPeak)
                .big_integer()
                .not_null()
                .default(0),
        )
        .await?;

        for (name, until) in [
            ("sessions_lingering_idx", Sessions::LingerUntil),
            ("sessions_held_off_idx", Sessions::HoldUntil),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Sessions::Table)
                        .col(Sessions::TenantId)
                        .col(Sessions::LicenseId)
                        .col(until)
                        .and_where(Expr::col(until).is_not_null())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("sessions_overdraft_idx")
                    .table(Sessions::Table)
                    .col(Sessions::TenantId)
                    .col(Sessions::LicenseId)
                    .col(Sessions::AcquiredAt)
                    .and_where(Expr::col(Sessions::Overdraft))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_live_borrowed_idx")
                    .table(Sessions::Table)
                    .col(Sessions::TenantId)
                    .col(Sessions::LicenseId)
                    .col(Sessions::AcquiredAt)
                    .col(Sessions::Id)
                    .and_where(Expr::col(Sessions::Borrowed))
                    .and_where(Expr::col(Sessions::EndedAt).is_null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
