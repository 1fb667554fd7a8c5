//! The append-only audit log, and the helper every audited change uses to write its event in
//! its own transaction.

use async_trait::async_trait;
use license_core::{AuditEvent, AuditLog, Error, Result, TenantId};
use sea_orm::ColumnTrait;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::connect::{Access, SqlStore};
use crate::entities::audit_events;
use crate::errors::db_err;

/// Writes `event` in `txn`, which must be scoped to `tenant`: an event always belongs to the
/// tenant whose data the change touched.
pub(crate) async fn insert_audit(
    txn: &impl ConnectionTrait,
    tenant: TenantId,
    event: &AuditEvent,
) -> Result<()> {
    if event.tenant_id != tenant {
        return Err(Error::Internal(
            "an audit event must belong to the tenant whose data changed".into(),
        ));
    }
    audit_events::Entity::insert(audit_events::ActiveModel::from(event))
        .exec_without_returning(txn)
        .await
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl AuditLog for SqlStore {
    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        let txn = self.scoped(event.tenant_id, Access::Write).await?;
        crate::licenses::ensure_tenant(&txn, event.tenant_id).await?;
        insert_audit(&txn, event.tenant_id, event).await?;
        txn.commit().await.map_err(db_err)
    }

    async fn list_audit(&self, tenant: TenantId, limit: u32) -> Result<Vec<AuditEvent>> {
        let txn = self.scoped(tenant, Access::Read).await?;
        let rows = audit_events::Entity::find()
            .filter(audit_events::Column::TenantId.eq(tenant.as_uuid()))
            .order_by_desc(audit_events::Column::At)
            .order_by_desc(audit_events::Column::Id)
            .limit(u64::from(limit))
            .all(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        rows.into_iter()
            .map(audit_events::Model::into_domain)
            .collect()
    }
}
