//! Tenants and licenses (`LicenseStore`).

use async_trait::async_trait;
use license_core::{
    AuditEvent, Error, License, LicenseId, LicenseKey, LicenseStore, Page, Resource, Result,
    Tenant, TenantId, TenantQuotas, TenantUsage,
};
use sea_orm::ActiveValue::NotSet;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::audit::insert_audit;
use crate::connect::{Access, SqlStore};
use crate::entities::{licenses, tenants};
use crate::errors::db_err;
use crate::quotas;

/// `NotFound(Tenant)` unless the tenant exists.
pub(crate) async fn ensure_tenant(db: &impl ConnectionTrait, tenant: TenantId) -> Result<()> {
    let found = tenants::Entity::find_by_id(tenant.as_uuid())
        .count(db)
        .await
        .map_err(db_err)?;
    if found == 0 {
        return Err(Error::NotFound(Resource::Tenant));
    }
    Ok(())
}

/// `NotFound(License)` unless the license exists and is the tenant's.
pub(crate) async fn ensure_license(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    license: LicenseId,
) -> Result<()> {
    let found = licenses::Entity::find()
        .filter(licenses::Column::TenantId.eq(tenant.as_uuid()))
        .filter(licenses::Column::Id.eq(license.as_uuid()))
        .count(db)
        .await
        .map_err(db_err)?;
    if found == 0 {
        return Err(Error::NotFound(Resource::License));
    }
    Ok(())
}

#[async_trait]
impl LicenseStore for SqlStore {
    async fn create_tenant(&self, tenant: &Tenant, audit: &AuditEvent) -> Result<()> {
        // `tenants` has no row security; the scope is for the audit event.
        let txn = self.scoped(tenant.id, Access::Write).await?;
        tenants::Entity::insert(tenants::ActiveModel::from(tenant))
            .exec_without_returning(&txn)
            .await
            .map_err(db_err)?;
        insert_audit(&txn, tenant.id, audit).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn get_tenant(&self, id: TenantId) -> Result<Tenant> {
        tenants::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(tenants::Model::into_domain)
            .ok_or(Error::NotFound(Resource::Tenant))
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let rows = tenants::Entity::find()
            .order_by_asc(tenants::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().map(tenants::Model::into_domain).collect())
    }

    /// Under the tenant's lock (`quotas::lock_tenant`): count, check, insert, audit.
    async fn create_license(
        &self,
        license: &License,
        quotas: &TenantQuotas,
        audit: &AuditEvent,
    ) -> Result<()> {
        let tenant = license.tenant_id;
        let txn = self.scoped(tenant, Access::Write).await?;
        if !quotas::lock_tenant(&txn, tenant).await? {
            return Err(Error::NotFound(Resource::Tenant));
        }
        let before = quotas::usage(&txn, tenant).await?;
        quotas.check(&before, &before.with_license_created(license))?;
        licenses::Entity::insert(licenses::ActiveModel::try_from(license)?)
            .exec_without_returning(&txn)
            .await
            .map_err(db_err)?;
        insert_audit(&txn, license.tenant_id, audit).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn get_license(&self, tenant: TenantId, id: LicenseId) -> Result<License> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let row = licenses::Entity::find()
            .filter(licenses::Column::TenantId.eq(tenant.as_uuid()))
            .filter(licenses::Column::Id.eq(id.as_uuid()))
            .one(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        row.ok_or(Error::NotFound(Resource::License))?.into_domain()
    }

    async fn find_license_by_key(&self, tenant: TenantId, key: &LicenseKey) -> Result<License> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let row = licenses::Entity::find()
            .filter(licenses::Column::TenantId.eq(tenant.as_uuid()))
            .filter(licenses::Column::LicenseKey.eq(key.as_str()))
            .one(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        row.ok_or(Error::NotFound(Resource::License))?.into_domain()
    }

    async fn list_licenses(&self, tenant: TenantId, page: Page<LicenseId>) -> Result<Vec<License>> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let mut query =
            licenses::Entity::find().filter(licenses::Column::TenantId.eq(tenant.as_uuid()));
        if let Some(after) = page.after {
            query = query.filter(licenses::Column::Id.gt(after.as_uuid()));
        }
        let rows = query
            .order_by_asc(licenses::Column::Id)
            .limit(u64::from(page.limit))
            .all(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        rows.into_iter().map(licenses::Model::into_domain).collect()
    }

    /// Under the tenant's lock: count, read the license as stored, check, update, audit.
    async fn update_license(
        &self,
        license: &License,
        quotas: &TenantQuotas,
        audit: &AuditEvent,
    ) -> Result<()> {
        let tenant = license.tenant_id;
        let txn = self.scoped(tenant, Access::Write).await?;
        if !quotas::lock_tenant(&txn, tenant).await? {
            return Err(Error::NotFound(Resource::License));
        }
        let before = quotas::usage(&txn, tenant).await?;
        let stored = licenses::Entity::find()
            .filter(licenses::Column::TenantId.eq(tenant.as_uuid()))
            .filter(licenses::Column::Id.eq(license.id.as_uuid()))
            .one(&txn)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound(Resource::License))?
            .into_domain()?;
        quotas.check(&before, &before.with_license_changed(&stored, license))?;
        // Identity (id, tenant, key) and `created_at` never change: leave them out of the SET.
        let changes = licenses::ActiveModel {
            id: NotSet,
            tenant_id: NotSet,
            license_key: NotSet,
            created_at: NotSet,
            ..licenses::ActiveModel::try_from(license)?
        };
        let updated = licenses::Entity::update_many()
            .set(changes)
            .filter(licenses::Column::TenantId.eq(license.tenant_id.as_uuid()))
            .filter(licenses::Column::Id.eq(license.id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if updated.rows_affected == 0 {
            return Err(Error::NotFound(Resource::License));
        }
        insert_audit(&txn, license.tenant_id, audit).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn tenant_usage_totals(&self, tenant: TenantId) -> Result<TenantUsage> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let usage = quotas::usage(&txn, tenant).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(usage)
    }
}
