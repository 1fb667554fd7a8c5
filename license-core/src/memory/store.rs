use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::api_key::ApiKey;
use crate::audit::AuditEvent;
use crate::error::{Dependency, Error, Resource, Result};
use crate::ids::{ApiKeyId, LicenseId, SessionId, TenantId};
use crate::license::{License, LicenseKey};
use crate::session::{EndReason, Session};
use crate::store::{ApiKeyStore, AuditLog, LicenseStore, Page, SessionStore, Store};
use crate::tenant::Tenant;
use crate::usage::UsageDay;

#[derive(Debug, Default)]
struct Data {
    tenants: BTreeMap<TenantId, Tenant>,
    licenses: BTreeMap<LicenseId, License>,
    sessions: BTreeMap<SessionId, Session>,
    api_keys: BTreeMap<ApiKeyId, ApiKey>,
    audit: Vec<AuditEvent>,
    usage: HashMap<(LicenseId, NaiveDate), UsageDay>,
}

/// A [`Store`] in process memory (ordered maps behind one mutex). For tests, examples and
/// embedding; the server's embedded default persists to SQLite instead.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
    unavailable: AtomicBool,
}

impl MemoryStore {
    /// Makes every call fail with `unavailable` (or work again), to test failure handling.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    fn lock(&self) -> Result<MutexGuard<'_, Data>> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(Error::unavailable(
                Dependency::Store,
                "in-memory store switched off",
            ));
        }
        Ok(self.data.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn usage_day(data: &mut Data, license_id: LicenseId, at: DateTime<Utc>) -> &mut UsageDay {
    let day = at.date_naive();
    data.usage
        .entry((license_id, day))
        .or_insert_with(|| UsageDay {
            license_id,
            day,
            peak_seats: 0,
            denials: 0,
        })
}

#[async_trait]
impl LicenseStore for MemoryStore {
    async fn create_tenant(&self, tenant: &Tenant, audit: &AuditEvent) -> Result<()> {
        let mut data = self.lock()?;
        if data.tenants.values().any(|t| t.name == tenant.name) {
            return Err(Error::Conflict("a tenant with this name exists".into()));
        }
        data.tenants.insert(tenant.id, tenant.clone());
        data.audit.push(audit.clone());
        Ok(())
    }

    async fn get_tenant(&self, id: TenantId) -> Result<Tenant> {
        self.lock()?
            .tenants
            .get(&id)
            .cloned()
            .ok_or(Error::NotFound(Resource::Tenant))
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        Ok(self.lock()?.tenants.values().cloned().collect())
    }

    async fn create_license(&self, license: &License, audit: &AuditEvent) -> Result<()> {
        let mut data = self.lock()?;
        if !data.tenants.contains_key(&license.tenant_id) {
            return Err(Error::NotFound(Resource::Tenant));
        }
        if data
            .licenses
            .values()
            .any(|l| l.tenant_id == license.tenant_id && l.key == license.key)
        {
            return Err(Error::Conflict(
                "this tenant already has that license key".into(),
            ));
        }
        data.licenses.insert(license.id, license.clone());
        data.audit.push(audit.clone());
        Ok(())
    }

    async fn get_license(&self, tenant: TenantId, id: LicenseId) -> Result<License> {
        self.lock()?
            .licenses
            .get(&id)
            .filter(|l| l.tenant_id == tenant)
            .cloned()
            .ok_or(Error::NotFound(Resource::License))
    }

    async fn find_license_by_key(&self, tenant: TenantId, key: &LicenseKey) -> Result<License> {
        self.lock()?
            .licenses
            .values()
            .find(|l| l.tenant_id == tenant && &l.key == key)
            .cloned()
            .ok_or(Error::NotFound(Resource::License))
    }

    async fn list_licenses(&self, tenant: TenantId, page: Page<LicenseId>) -> Result<Vec<License>> {
        let data = self.lock()?;
        Ok(data
            .licenses
            .values()
            .filter(|l| l.tenant_id == tenant && page.after.is_none_or(|after| l.id > after))
            .take(page.limit as usize)
            .cloned()
            .collect())
    }

    async fn update_license(&self, license: &License, audit: &AuditEvent) -> Result<()> {
        let mut data = self.lock()?;
        let stored = data
            .licenses
            .get_mut(&license.id)
            .filter(|l| l.tenant_id == license.tenant_id)
            .ok_or(Error::NotFound(Resource::License))?;
        // Identity and creation fields never change.
        let License {
            id,
            tenant_id,
            key,
            created_at,
            ..
        } = stored.clone();
        *stored = License {
            id,
            tenant_id,
            key,
            created_at,
            ..license.clone()
        };
        data.audit.push(audit.clone());
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert_session(&self, session: &Session, in_use: u32) -> Result<()> {
        let mut data = self.lock()?;
        if data
            .licenses
            .get(&session.license_id)
            .is_none_or(|l| l.tenant_id != session.tenant_id)
        {
            return Err(Error::NotFound(Resource::License));
        }
        if data.sessions.contains_key(&session.id) {
            return Err(Error::Conflict("session id exists".into()));
        }
        data.sessions.insert(session.id, session.clone());
        let day = usage_day(&mut data, session.license_id, session.acquired_at);
        day.peak_seats = day.peak_seats.max(in_use);
        Ok(())
    }

    async fn get_session(&self, tenant: TenantId, id: SessionId) -> Result<Session> {
        self.lock()?
            .sessions
            .get(&id)
            .filter(|s| s.tenant_id == tenant)
            .cloned()
            .ok_or(Error::NotFound(Resource::Session))
    }

    async fn live_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        Ok(self
            .lock()?
            .sessions
            .values()
            .filter(|s| s.tenant_id == tenant && s.license_id == license && s.is_live(now))
            .cloned()
            .collect())
    }

    async fn record_heartbeat(
        &self,
        tenant: TenantId,
        id: SessionId,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let mut data = self.lock()?;
        let session = data
            .sessions
            .get_mut(&id)
            .filter(|s| s.tenant_id == tenant)
            .ok_or(Error::NotFound(Resource::Session))?;
        if session.ended_at.is_some() {
            return Err(Error::SessionExpired);
        }
        session.last_heartbeat_at = at;
        session.expires_at = expires_at;
        Ok(())
    }

    async fn end_session(
        &self,
        tenant: TenantId,
        id: SessionId,
        at: DateTime<Utc>,
        reason: EndReason,
        audit: Option<&AuditEvent>,
    ) -> Result<Session> {
        let mut data = self.lock()?;
        let session = data
            .sessions
            .get_mut(&id)
            .filter(|s| s.tenant_id == tenant)
            .ok_or(Error::NotFound(Resource::Session))?;
        if session.ended_at.is_none() {
            session.ended_at = Some(at);
            session.end_reason = Some(reason);
        }
        let ended = session.clone();
        if let Some(event) = audit {
            data.audit.push(event.clone());
        }
        Ok(ended)
    }

    async fn expire_due(&self, tenant: TenantId, now: DateTime<Utc>, limit: u32) -> Result<u64> {
        let mut data = self.lock()?;
        let mut marked = 0;
        for session in data
            .sessions
            .values_mut()
            .filter(|s| s.tenant_id == tenant && s.ended_at.is_none() && s.expires_at <= now)
        {
            if marked == u64::from(limit) {
                break;
            }
            session.ended_at = Some(session.expires_at);
            session.end_reason = Some(EndReason::Expired);
            marked += 1;
        }
        Ok(marked)
    }

    async fn record_denial(
        &self,
        tenant: TenantId,
        license: LicenseId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut data = self.lock()?;
        if data
            .licenses
            .get(&license)
            .is_none_or(|l| l.tenant_id != tenant)
        {
            return Err(Error::NotFound(Resource::License));
        }
        usage_day(&mut data, license, at).denials += 1;
        Ok(())
    }

    async fn usage(
        &self,
        tenant: TenantId,
        license: LicenseId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UsageDay>> {
        let data = self.lock()?;
        if data
            .licenses
            .get(&license)
            .is_none_or(|l| l.tenant_id != tenant)
        {
            return Err(Error::NotFound(Resource::License));
        }
        let mut days: Vec<_> = data
            .usage
            .values()
            .filter(|u| u.license_id == license && u.day >= from && u.day <= to)
            .cloned()
            .collect();
        days.sort_by_key(|u| u.day);
        Ok(days)
    }
}

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn create_api_key(&self, key: &ApiKey, audit: &AuditEvent) -> Result<()> {
        let mut data = self.lock()?;
        if !data.tenants.contains_key(&key.tenant_id) {
            return Err(Error::NotFound(Resource::Tenant));
        }
        if data
            .api_keys
            .values()
            .any(|k| k.tenant_id == key.tenant_id && k.prefix == key.prefix)
        {
            return Err(Error::Conflict("API key prefix exists".into()));
        }
        data.api_keys.insert(key.id, key.clone());
        data.audit.push(audit.clone());
        Ok(())
    }

    async fn find_api_key(&self, tenant: TenantId, prefix: &str) -> Result<ApiKey> {
        self.lock()?
            .api_keys
            .values()
            .find(|k| k.tenant_id == tenant && k.prefix == prefix)
            .cloned()
            .ok_or(Error::NotFound(Resource::ApiKey))
    }

    async fn list_api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>> {
        Ok(self
            .lock()?
            .api_keys
            .values()
            .filter(|k| k.tenant_id == tenant)
            .cloned()
            .collect())
    }

    async fn revoke_api_key(
        &self,
        tenant: TenantId,
        id: ApiKeyId,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut data = self.lock()?;
        let key = data
            .api_keys
            .get_mut(&id)
            .filter(|k| k.tenant_id == tenant)
            .ok_or(Error::NotFound(Resource::ApiKey))?;
        key.revoked_at.get_or_insert(at);
        data.audit.push(audit.clone());
        Ok(())
    }

    async fn touch_api_key(&self, tenant: TenantId, id: ApiKeyId, at: DateTime<Utc>) -> Result<()> {
        let mut data = self.lock()?;
        let key = data
            .api_keys
            .get_mut(&id)
            .filter(|k| k.tenant_id == tenant)
            .ok_or(Error::NotFound(Resource::ApiKey))?;
        key.last_used_at = Some(at);
        Ok(())
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        let mut data = self.lock()?;
        if !data.tenants.contains_key(&event.tenant_id) {
            return Err(Error::NotFound(Resource::Tenant));
        }
        data.audit.push(event.clone());
        Ok(())
    }

    async fn list_audit(&self, tenant: TenantId, limit: u32) -> Result<Vec<AuditEvent>> {
        Ok(self
            .lock()?
            .audit
            .iter()
            .rev()
            .filter(|e| e.tenant_id == tenant)
            .take(limit as usize)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> Result<()> {
        self.lock().map(drop)
    }
}
