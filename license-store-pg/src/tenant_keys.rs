//! Tenant signing keys (`TenantKeyStore`): public halves, root certificates and wrapped private
//! halves, one row per tenant and generation.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use license_core::{AuditEvent, Error, Result, TenantId, TenantKey, TenantKeyStore};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::audit::insert_audit;
use crate::connect::{Access, SqlStore};
use crate::entities::stored_time;
use crate::entities::tenant_signing_keys::{self, Column};
use crate::errors::db_err;
use crate::licenses::ensure_tenant;

#[async_trait]
impl TenantKeyStore for SqlStore {
    async fn tenant_keys(&self, tenant: TenantId, now: DateTime<Utc>) -> Result<Vec<TenantKey>> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let mut rows = tenant_signing_keys::Entity::find()
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::ExpiresAt.gt(stored_time(now)))
            .order_by_asc(Column::Generation)
            .all(&txn)
            .await
            .map_err(db_err)?;
        // The newest key even if expired: the next key's generation follows it.
        let newest = tenant_signing_keys::Entity::find()
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .order_by_desc(Column::Generation)
            .one(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        if let Some(newest) = newest
            && rows
                .last()
                .is_none_or(|last| last.generation < newest.generation)
        {
            rows.push(newest);
        }
        rows.into_iter()
            .map(tenant_signing_keys::Model::into_domain)
            .collect()
    }

    /// A taken `(tenant_id, generation)` or `kid` is a unique violation, which `db_err` maps
    /// to `Conflict`; the tenant is checked first, as for every other insert.
    async fn insert_tenant_key(&self, key: &TenantKey, audit: Option<&AuditEvent>) -> Result<()> {
        let row = tenant_signing_keys::ActiveModel::try_from(key)?;
        let txn = self.scoped(key.tenant_id, Access::Write).await?;
        ensure_tenant(&txn, key.tenant_id).await?;
        tenant_signing_keys::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(db_err)?;
        if let Some(event) = audit {
            insert_audit(&txn, key.tenant_id, event).await?;
        }
        txn.commit().await.map_err(db_err)
    }

    /// Only unrevoked keys are touched, so the first revocation time stays and the count is of
    /// keys this call revoked.
    async fn revoke_tenant_keys(
        &self,
        tenant: TenantId,
        generation: u32,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u32> {
        let txn = self.scoped(tenant, Access::Write).await?;
        ensure_tenant(&txn, tenant).await?;
        let updated = tenant_signing_keys::Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(stored_time(at)))
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::Generation.lte(i64::from(generation)))
            .filter(Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        insert_audit(&txn, tenant, audit).await?;
        txn.commit().await.map_err(db_err)?;
        // At most one row per generation up to a `u32`: the count always fits.
        u32::try_from(updated.rows_affected)
            .map_err(|_| Error::Internal("revoked more keys than generations".into()))
    }

    /// Across tenants. On PostgreSQL row security hides other tenants' rows from every query,
    /// so this calls the SQL function made for it (migration m0003), which returns tenant ids
    /// only; SQLite has no row security and runs the same query directly.
    async fn tenant_keys_changed_since(&self, since: DateTime<Utc>) -> Result<Vec<TenantId>> {
        let since = stored_time(since);
        let ids: Vec<Uuid> = if self.backend() == DbBackend::Postgres {
            self.db
                .query_all_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT tenant_id FROM tenant_keys_changed_since($1)",
                    [since.into()],
                ))
                .await
                .map_err(db_err)?
                .iter()
                .map(|row| row.try_get::<Uuid>("", "tenant_id"))
                .collect::<std::result::Result<_, _>>()
                .map_err(db_err)?
        } else {
            tenant_signing_keys::Entity::find()
                .select_only()
                .column(Column::TenantId)
                .distinct()
                .filter(
                    Condition::any()
                        .add(Column::CreatedAt.gte(since))
                        .add(Column::RevokedAt.gte(since)),
                )
                .into_tuple()
                .all(&self.db)
                .await
                .map_err(db_err)?
        };
        let mut tenants: Vec<TenantId> = ids.into_iter().map(TenantId::from_uuid).collect();
        tenants.sort();
        tenants.dedup();
        Ok(tenants)
    }
}
