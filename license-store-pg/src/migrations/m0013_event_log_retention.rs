//! The seat-event log's retention (ADR 0034): `event_log_cuts`, where each tenant's log was
//! last cut (the checkpoint entry it was cut at, the first day the kept log serves, and the
//! bodies of deleted events that still bear on later days), and `kept_days`, each license's
//! figures per day, kept beyond the retention.
//!
//! On PostgreSQL both tables are tenant-owned (RLS enabled and forced, the `tenant_isolation`
//! policy on `app.tenant_id` as in m0002), and `event_log` gains its first `DELETE` policy:
//! the application role may delete its tenant's entries only up to the tenant's recorded cut.
//! The log stays append-only above the cut, and `UPDATE` still matches no row.
//!
//! SQLite has no row security: there the two tables are all this migration creates.

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
enum EventLogCuts {
    Table,
    TenantId,
    Seq,
    Hash,
    At,
    KeptFrom,
    Carry,
}

#[derive(DeriveIden)]
enum KeptDays {
    Table,
    TenantId,
    LicenseId,
    Day,
    Figures,
}

/// As in m0002: the tenant named by the transaction, or NULL when unset.
const CURRENT_TENANT: &str = "NULLIF(current_setting('app.tenant_id', true), '')::uuid";

/// RLS on both tables and the log's trim policy (PostgreSQL only; see the module docs).
fn postgres_row_security() -> String {
    format!(
        "
ALTER TABLE event_log_cuts ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_log_cuts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON event_log_cuts
    USING (tenant_id = {CURRENT_TENANT})
    WITH CHECK (tenant_id = {CURRENT_TENANT});
ALTER TABLE kept_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE kept_days FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON kept_days
    USING (tenant_id = {CURRENT_TENANT})
    WITH CHECK (tenant_id = {CURRENT_TENANT});
CREATE POLICY tenant_trim ON event_log FOR DELETE
    USING (tenant_id = {CURRENT_TENANT}
        AND seq <= (SELECT c.seq FROM event_log_cuts c WHERE c.tenant_id = event_log.tenant_id));
"
    )
}

// The trait declares `&SchemaManager` with its lifetime elided; the impl must match.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use EventLogCuts as C;
        use KeptDays as D;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(ColumnDef::new(C::TenantId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(C::Seq).big_integer().not_null())
                    .col(ColumnDef::new(C::Hash).blob().not_null())
                    .col(ColumnDef::new(C::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(C::KeptFrom).date().not_null())
                    // A JSON array of event bodies, each kept byte for byte.
                    .col(ColumnDef::new(C::Carry).text().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("event_log_cuts_tenant_fk")
                            .from_tbl(C::Table)
                            .from_col(C::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(ColumnDef::new(D::TenantId).uuid().not_null())
                    .col(ColumnDef::new(D::LicenseId).uuid().not_null())
                    .col(ColumnDef::new(D::Day).date().not_null())
                    // The day's figures as JSON (rows by every breakdown, drops, last entry).
                    .col(ColumnDef::new(D::Figures).text().not_null())
                    .primary_key(
                        Index::create()
                            .col(D::TenantId)
                            .col(D::LicenseId)
                            .col(D::Day),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("kept_days_tenant_fk")
                            .from_tbl(D::Table)
                            .from_col(D::TenantId)
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
