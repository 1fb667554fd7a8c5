//! [`TenantKeyStore`] on [`MemoryStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::audit::AuditEvent;
use crate::error::{Error, Resource, Result};
use crate::ids::TenantId;
use crate::store::TenantKeyStore;
use crate::tenant_keys::TenantKey;

#[async_trait]
impl TenantKeyStore for MemoryStore {
    async fn tenant_keys(&self, tenant: TenantId, now: DateTime<Utc>) -> Result<Vec<TenantKey>> {
        let data = self.lock()?;
        let newest = data
            .tenant_keys
            .iter()
            .filter(|k| k.tenant_id == tenant)
            .map(|k| k.generation)
            .max();
        let mut keys: Vec<TenantKey> = data
            .tenant_keys
            .iter()
            .filter(|k| {
                k.tenant_id == tenant && (k.expires_at > now || Some(k.generation) == newest)
            })
            .cloned()
            .collect();
        keys.sort_by_key(|k| k.generation);
        Ok(keys)
    }

    async fn insert_tenant_key(&self, key: &TenantKey, audit: Option<&AuditEvent>) -> Result<()> {
        let mut data = self.lock()?;
        if !data.tenants.contains_key(&key.tenant_id) {
            return Err(Error::NotFound(Resource::Tenant));
        }
        if data.tenant_keys.iter().any(|k| {
            (k.tenant_id == key.tenant_id && k.generation == key.generation) || k.kid() == key.kid()
        }) {
            return Err(Error::Conflict(
                "the tenant already has a signing key of this generation".into(),
            ));
        }
        data.tenant_keys.push(key.clone());
        if let Some(audit) = audit {
            data.audit.push(audit.clone());
        }
        Ok(())
    }

    async fn revoke_tenant_keys(
        &self,
        tenant: TenantId,
        generation: u32,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u32> {
        let mut data = self.lock()?;
        if !data.tenants.contains_key(&tenant) {
            return Err(Error::NotFound(Resource::Tenant));
        }
        let mut revoked = 0;
        for key in data.tenant_keys.iter_mut() {
            if key.tenant_id == tenant && key.generation <= generation && key.revoked_at.is_none() {
                key.revoked_at = Some(at);
                revoked += 1;
            }
        }
        data.audit.push(audit.clone());
        Ok(revoked)
    }

    async fn tenant_keys_changed_since(&self, since: DateTime<Utc>) -> Result<Vec<TenantId>> {
        let data = self.lock()?;
        let mut tenants: Vec<TenantId> = data
            .tenant_keys
            .iter()
            .filter(|k| k.created_at >= since || k.revoked_at.is_some_and(|at| at >= since))
            .map(|k| k.tenant_id)
            .collect();
        tenants.sort();
        tenants.dedup();
        Ok(tenants)
    }
}
