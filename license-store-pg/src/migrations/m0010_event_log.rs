//! The seat-event log (ADR 0030): `event_log`, every seat event of a tenant numbered from 1
//! and linked in a hash chain, and `event_log_heads`, each tenant's last entry.
//!
//! - `event_log`: one row per entry, keyed `(tenant_id, seq)` so a number is given once per
//!   tenant; `body` is the event's JSON as text (kept byte for byte, never `jsonb`, which would
//!   re-serialize it and break its hash); `prev_hash` and `hash` are the 32-byte chain links.
//!   An index on `(tenant_id, at)` serves reports over a time range.
//! - `event_log_heads`: the tenant's last number and hash. An append locks this row, so
//!   replicas appending to one tenant at once queue on it and never fork the chain.
//!
//! On PostgreSQL both tables are tenant-owned (RLS enabled and forced, keyed on
//! `app.tenant_id` as in m0002). `event_log_heads` takes the `tenant_isolation` policy of the
//! other tenant tables; `event_log` takes `audit_events`' pair of `SELECT` and `INSERT`
//! policies, so `UPDATE` and `DELETE` match no rows: the log is append-only for the
//! application role, on top of the hash chain that catches any change made around it.
//!
//! SQLite has no row security: there the tables and the index are all this migration creates.

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
enum EventLog {
    Table,
    TenantId,
    Seq,
    At,
    Replica,
    Body,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum EventLogHeads {
    Table,
    TenantId,
    Seq,
    Hash,
}

/// As in m0002: the tenant named by the transaction, or NULL when unset.
const CURRENT_TENANT: &str = "NULLIF(current_setting('app.tenant_id', true), '')::uuid";

/// RLS on both tables (PostgreSQL only; see the module docs).
fn postgres_row_security() -> String {
    format!(
        "
ALTER TABLE event_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON event_log FOR SELECT
    USING (tenant_id = {CURRENT_TENANT});
CREATE POLICY tenant_append ON event_log FOR INSERT
    WITH CHECK (tenant_id = {CURRENT_TENANT});
ALTER TABLE event_log_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_log_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON event_log_heads
    USING (tenant_id = {CURRENT_TENANT})
    WITH CHECK (tenant_id = {CURRENT_TENANT});
"
    )
}

// The trait declares `&SchemaManager` with its lifetime elided; the impl must match.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use EventLog as L;
        use EventLogHeads as H;
        manager
            .create_table(
                Table::create()
                    .table(L::Table)
                    .col(ColumnDef::new(L::TenantId).uuid().not_null())
                    // The domain's `u64`; a log never reaches 2^63 entries.
                    .col(ColumnDef::new(L::Seq).big_integer().not_null())
                    .col(ColumnDef::new(L::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(L::Replica).text().not_null())
                    .col(ColumnDef::new(L::Body).text().not_null())
                    .col(ColumnDef::new(L::PrevHash).blob().not_null())
                    .col(ColumnDef::new(L::Hash).blob().not_null())
                    .primary_key(Index::create().col(L::TenantId).col(L::Seq))
                    .foreign_key(
                        ForeignKey::create()
                            .name("event_log_tenant_fk")
                            .from_tbl(L::Table)
                            .from_col(L::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Reports over a time range of one tenant's log.
        manager
            .create_index(
                Index::create()
                    .name("event_log_tenant_id_at_idx")
                    .table(L::Table)
                    .col(L::TenantId)
                    .col(L::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(H::Table)
                    .col(ColumnDef::new(H::TenantId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(H::Seq).big_integer().not_null())
                    .col(ColumnDef::new(H::Hash).blob().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("event_log_heads_tenant_fk")
                            .from_tbl(H::Table)
                            .from_col(H::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
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
