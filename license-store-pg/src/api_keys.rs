//! Tenant API keys (`ApiKeyStore`): only the hash and the lookup prefix are stored.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use license_core::{
    ApiKey, ApiKeyId, ApiKeyStore, AuditEvent, Error, Resource, Result, TenantId, TenantQuotas,
};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::audit::insert_audit;
use crate::connect::{Access, SqlStore};
use crate::entities::api_keys::{self, Column};
use crate::entities::stored_time;
use crate::errors::db_err;
use crate::quotas;

#[async_trait]
impl ApiKeyStore for SqlStore {
    /// Under the tenant's lock (`quotas::lock_tenant`): count, check, insert, audit.
    async fn create_api_key(
        &self,
        key: &ApiKey,
        quotas: &TenantQuotas,
        audit: &AuditEvent,
    ) -> Result<()> {
        let txn = self.scoped(key.tenant_id, Access::Write).await?;
        if !quotas::lock_tenant(&txn, key.tenant_id).await? {
            return Err(Error::NotFound(Resource::Tenant));
        }
        let before = quotas::usage(&txn, key.tenant_id).await?;
        quotas.check(&before, &before.with_api_key_created())?;
        api_keys::Entity::insert(api_keys::ActiveModel::from(key))
            .exec_without_returning(&txn)
            .await
            .map_err(db_err)?;
        insert_audit(&txn, key.tenant_id, audit).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn find_api_key(&self, tenant: TenantId, prefix: &str) -> Result<ApiKey> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let row = api_keys::Entity::find()
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::Prefix.eq(prefix))
            .one(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        row.ok_or(Error::NotFound(Resource::ApiKey))?.into_domain()
    }

    async fn list_api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let rows = api_keys::Entity::find()
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .order_by_asc(Column::Id)
            .all(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        rows.into_iter().map(api_keys::Model::into_domain).collect()
    }

    async fn revoke_api_key(
        &self,
        tenant: TenantId,
        id: ApiKeyId,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<()> {
        let txn = self.scoped(tenant, Access::Write).await?;
        // `COALESCE` keeps the first revocation time; the row still counts as matched.
        let updated = api_keys::Entity::update_many()
            .col_expr(
                Column::RevokedAt,
                Func::coalesce([Expr::col(Column::RevokedAt), Expr::val(stored_time(at))]).into(),
            )
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::Id.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if updated.rows_affected == 0 {
            return Err(Error::NotFound(Resource::ApiKey));
        }
        insert_audit(&txn, tenant, audit).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn touch_api_key(&self, tenant: TenantId, id: ApiKeyId, at: DateTime<Utc>) -> Result<()> {
        let txn = self.scoped(tenant, Access::Write).await?;
        let updated = api_keys::Entity::update_many()
            .col_expr(Column::LastUsedAt, Expr::value(stored_time(at)))
            .filter(Column::TenantId.eq(tenant.as_uuid()))
            .filter(Column::Id.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if updated.rows_affected == 0 {
            return Err(Error::NotFound(Resource::ApiKey));
        }
        txn.commit().await.map_err(db_err)
    }
}
