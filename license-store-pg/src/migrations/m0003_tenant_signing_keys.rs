//! `tenant_signing_keys`: each tenant's signing keys (public JWK, root certificate, wrapped
//! private key), one per `(tenant_id, generation)`, `kid` unique across tenants.
//!
//! On PostgreSQL the table is tenant-owned like `licenses` (m0002): RLS enabled and forced,
//! with the same `tenant_isolation` policy on `app.tenant_id`.
//!
//! `tenant_keys_changed_since` must look across tenants, and no existing query does that on a
//! table with RLS (`tenants`, the only cross-tenant read, has none). A `SECURITY DEFINER`
//! function alone does not help: the application role owns the table and RLS is forced on the
//! owner. So the migration adds the narrowest opening it can:
//!
//! - a second, `SELECT`-only policy `key_change_scan`, true only while the setting
//!   `app.tenant_key_scan` is `on`;
//! - a function `tenant_keys_changed_since(since)` that turns that setting on, runs its one
//!   query, and puts the setting back before returning; it returns nothing but the distinct
//!   tenant ids with a key created or revoked at or after `since`. (A `SET` clause on the
//!   function would be tidier, but PostgreSQL lets only superusers attach a custom setting to
//!   a function. If the query fails, the transaction or savepoint aborts, which undoes the
//!   setting too.)
//!
//! The store never sets `app.tenant_key_scan` itself, so every other query stays confined to
//! `app.tenant_id`, and key rows never leave the function. Like `app.tenant_id`, the setting
//! guards against a query that forgets its tenant, not against a hostile application role
//! (which could set either).
//!
//! SQLite has no row security: there the table and indexes are all this migration creates.

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
enum TenantSigningKeys {
    Table,
    TenantId,
    Generation,
    Kid,
    PublicJwk,
    Certificate,
    WrappedPrivateKey,
    WrappedBy,
    CreatedAt,
    ActivatesAt,
    RetiresAt,
    ExpiresAt,
    RevokedAt,
}

/// As in m0002: the tenant named by the transaction, or NULL when unset.
const CURRENT_TENANT: &str = "NULLIF(current_setting('app.tenant_id', true), '')::uuid";

/// RLS, the scan policy and the scan function (PostgreSQL only; see the module docs).
fn postgres_row_security() -> String {
    format!(
        "
ALTER TABLE tenant_signing_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_signing_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_signing_keys
    USING (tenant_id = {CURRENT_TENANT})
    WITH CHECK (tenant_id = {CURRENT_TENANT});
CREATE POLICY key_change_scan ON tenant_signing_keys FOR SELECT
    USING (current_setting('app.tenant_key_scan', true) = 'on');
CREATE FUNCTION tenant_keys_changed_since(since timestamptz)
    RETURNS TABLE (tenant_id uuid)
    LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $fn$
DECLARE
    previous text := current_setting('app.tenant_key_scan', true);
BEGIN
    PERFORM set_config('app.tenant_key_scan', 'on', true);
    RETURN QUERY
        SELECT k.tenant_id FROM tenant_signing_keys AS k WHERE k.created_at >= since
        UNION
        SELECT k.tenant_id FROM tenant_signing_keys AS k WHERE k.revoked_at >= since;
    PERFORM set_config('app.tenant_key_scan', COALESCE(previous, ''), true);
END
$fn$;
"
    )
}

fn timestamp(col: TenantSigningKeys) -> ColumnDef {
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
        use TenantSigningKeys as K;
        manager
            .create_table(
                Table::create()
                    .table(K::Table)
                    .col(ColumnDef::new(K::TenantId).uuid().not_null())
                    // The domain's `u32` does not fit a 32-bit signed integer.
                    .col(ColumnDef::new(K::Generation).big_integer().not_null())
                    .col(ColumnDef::new(K::Kid).text().not_null())
                    .col(ColumnDef::new(K::PublicJwk).text().not_null())
                    .col(ColumnDef::new(K::Certificate).text().not_null())
                    .col(ColumnDef::new(K::WrappedPrivateKey).blob().not_null())
                    .col(ColumnDef::new(K::WrappedBy).text().not_null())
                    .col(timestamp(K::CreatedAt))
                    .col(timestamp(K::ActivatesAt))
                    .col(timestamp(K::RetiresAt))
                    .col(timestamp(K::ExpiresAt))
                    .col(
                        ColumnDef::new(K::RevokedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    // One key per generation: of two replicas making the next key, one loses.
                    .primary_key(Index::create().col(K::TenantId).col(K::Generation))
                    .foreign_key(
                        ForeignKey::create()
                            .name("tenant_signing_keys_tenant_fk")
                            .from_tbl(K::Table)
                            .from_col(K::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Token headers name a key by `kid` alone, so it must be unique across tenants.
        manager
            .create_index(
                Index::create()
                    .name("tenant_signing_keys_kid_key")
                    .table(K::Table)
                    .col(K::Kid)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // `tenant_keys(tenant, now)`: the tenant's unexpired keys.
        manager
            .create_index(
                Index::create()
                    .name("tenant_signing_keys_tenant_id_expires_at_idx")
                    .table(K::Table)
                    .col(K::TenantId)
                    .col(K::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        // `tenant_keys_changed_since`: one index per arm of `created_at >= $since OR
        // revoked_at >= $since`; few keys are ever revoked, so that one is partial.
        manager
            .create_index(
                Index::create()
                    .name("tenant_signing_keys_created_at_idx")
                    .table(K::Table)
                    .col(K::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tenant_signing_keys_revoked_at_idx")
                    .table(K::Table)
                    .col(K::RevokedAt)
                    .and_where(Expr::col(K::RevokedAt).is_not_null())
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
