//! The seat queue's tickets (ADR 0029, "Record and rebuild"): `queue_tickets`, one row per
//! client waiting in a license's queue, written when it joins and deleted when its wait ends,
//! so a ledger that lost its state gets its queue back in order.
//!
//! - `id` is the ticket (the session id its lease will have); `seat` the seat key it waits for;
//!   `priority` and `arrival` its order (priority highest first, then the ledger's arrival
//!   number); `joined_at` and `wait_until` its wait; `tally` what its seat would count toward
//!   and must respect, as JSON text.
//! - `(tenant_id, license_id, priority, arrival)` serves a rebuild's read of one license's
//!   queue in order; `(tenant_id, wait_until)` the reaper's delete of ended waits.
//!
//! On PostgreSQL the table is tenant-owned (RLS enabled and forced, the `tenant_isolation`
//! policy on `app.tenant_id` as in m0002). SQLite has no row security: there the table and
//! indexes are all this migration creates.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Licenses {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum QueueTickets {
    Table,
    Id,
    TenantId,
    LicenseId,
    Seat,
    Priority,
    Arrival,
    JoinedAt,
    WaitUntil,
    Tally,
}

/// As in m0002: the tenant named by the transaction, or NULL when unset.
const CURRENT_TENANT: &str = "NULLIF(current_setting('app.tenant_id', true), '')::uuid";

/// RLS on the table (PostgreSQL only; see the module docs).
fn postgres_row_security() -> String {
    format!(
        "
ALTER TABLE queue_tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE queue_tickets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON queue_tickets
    USING (tenant_id = {CURRENT_TENANT})
    WITH CHECK (tenant_id = {CURRENT_TENANT});
"
    )
}

fn time(col: QueueTickets) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

// The trait declares `&SchemaManager` with its lifetime elided; the impl must match.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use QueueTickets as Q;
        manager
            .create_table(
                Table::create()
                    .table(Q::Table)
                    .col(ColumnDef::new(Q::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Q::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Q::LicenseId).uuid().not_null())
                    .col(ColumnDef::new(Q::Seat).text().not_null())
                    // The domain's `u32` priority and `u64` arrival.
                    .col(ColumnDef::new(Q::Priority).big_integer().not_null())
                    .col(ColumnDef::new(Q::Arrival).big_integer().not_null())
                    .col(time(Q::JoinedAt))
                    .col(time(Q::WaitUntil))
                    .col(ColumnDef::new(Q::Tally).text().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("queue_tickets_tenant_fk")
                            .from_tbl(Q::Table)
                            .from_col(Q::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("queue_tickets_license_fk")
                            .from_tbl(Q::Table)
                            .from_col(Q::LicenseId)
                            .to(Licenses::Table, Licenses::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A license's queue in order, for a rebuild.
        manager
            .create_index(
                Index::create()
                    .name("queue_tickets_license_order_idx")
                    .table(Q::Table)
                    .col(Q::TenantId)
                    .col(Q::LicenseId)
                    .col(Q::Priority)
                    .col(Q::Arrival)
                    .to_owned(),
            )
            .await?;
        // Ended waits, for the reaper.
        manager
            .create_index(
                Index::create()
                    .name("queue_tickets_wait_until_idx")
                    .table(Q::Table)
                    .col(Q::TenantId)
                    .col(Q::WaitUntil)
                    .to_owned(),
            )
            .await?;

        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&postgres_row_security())
                .await?;
        }
        Ok(())
    }
}
