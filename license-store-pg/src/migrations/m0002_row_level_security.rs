//! Row-Level Security on PostgreSQL: a second line of defence behind the `WHERE tenant_id = …`
//! of every query. Each tenant-owned table only shows and accepts rows of the tenant named by
//! the transaction-local setting `app.tenant_id` (set by the store at the start of every
//! tenant-scoped transaction); without the setting a query sees no rows at all.
//!
//! `FORCE` makes the policies apply to the table owner too (the role that ran the migrations
//! is usually the role the server connects as). Superusers and `BYPASSRLS` roles still bypass
//! them: the store warns at connect time when its role does. `tenants` has no policy: it is
//! the operator's directory of tenants, and holds nothing a tenant owns.
//!
//! `audit_events` gets only `SELECT` and `INSERT` policies, so `UPDATE` and `DELETE` match no
//! rows: the log is append-only for the application role.
//!
//! SQLite has no row security; this migration does nothing there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub(super) struct Migration;

/// The tenant named by the transaction, or NULL when unset (`current_setting(…, true)` answers
/// NULL before the first `set_config` on a connection and '' after a transaction that set it).
const CURRENT_TENANT: &str = "NULLIF(current_setting('app.tenant_id', true), '')::uuid";

const TENANT_TABLES: [&str; 4] = ["licenses", "sessions", "api_keys", "usage_days"];

// The trait declares `&SchemaManager` with its lifetime elided; the impl must match.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for table in TENANT_TABLES.iter().chain(&["audit_events"]) {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; \
                 ALTER TABLE {table} FORCE ROW LEVEL SECURITY;"
            ))
            .await?;
        }
        for table in TENANT_TABLES {
            db.execute_unprepared(&format!(
                "CREATE POLICY tenant_isolation ON {table} \
                 USING (tenant_id = {CURRENT_TENANT}) \
                 WITH CHECK (tenant_id = {CURRENT_TENANT});"
            ))
            .await?;
        }
        db.execute_unprepared(&format!(
            "CREATE POLICY tenant_read ON audit_events FOR SELECT \
             USING (tenant_id = {CURRENT_TENANT}); \
             CREATE POLICY tenant_append ON audit_events FOR INSERT \
             WITH CHECK (tenant_id = {CURRENT_TENANT});"
        ))
        .await?;
        Ok(())
    }
}
