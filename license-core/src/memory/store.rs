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
use crate::quota::{TenantQuotas, TenantUsage};
use crate::session::Session;
use crate::store::{ApiKeyStore, AuditLog, LicenseStore, Page, Store};
use crate::tenant::Tenant;
use crate::usage::UsageDay;

#[derive(Debug, Default)]
pub(super) struct Data {
    pub(super) tenants: BTreeMap<TenantId, Tenant>,
    pub(super) licenses: BTreeMap<LicenseId, License>,
    pub(super) sessions: BTreeMap<SessionId, Session>,
    pub(super) api_keys: BTreeMap<ApiKeyId, ApiKey>,
    pub(super) audit: Vec<AuditEvent>,
    pub(super) usage: HashMap<(LicenseId, NaiveDate), UsageDay>,
    pub(super) tenant_keys: Vec<crate::tenant_keys::TenantKey>,
    pub(super) event_log: HashMap<TenantId, Vec<crate::event_log::LogEntry>>,
    /// Where each tenant's log was cut by its retention.
    pub(super) event_log_cuts: HashMap<TenantId, crate::log_retention::LogCut>,
    /// Figures kept beyond the retention, by tenant, license and day.
    pub(super) kept_days:
        BTreeMap<(TenantId, LicenseId, chrono::NaiveDate), crate::log_retention::KeptDay>,
    pub(super) webhooks: BTreeMap<crate::ids::WebhookId, crate::webhooks::WebhookEndpoint>,
    pub(super) deliveries: Vec<crate::webhooks::Delivery>,
    pub(super) queue_tickets: BTreeMap<SessionId, crate::queue_tickets::QueueTicket>,
}

/// A [`Store`] in process memory (ordered maps behind one mutex). For tests, examples and
/// embedding; the server's embedded default persists to SQLite instead.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
    unavailable: AtomicBool,
    discards_fail: AtomicBool,
    ticket_records_fail: AtomicBool,
}

impl MemoryStore {
    /// Makes every call fail with `unavailable` (or work again), to test failure handling.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// Makes [`discard_session`](crate::store::SessionStore::discard_session) alone fail with
    /// `unavailable` (or work again): a database that goes away between an acquire's record
    /// and the deletion of that record when the ledger did not grant the seat (ADR 0017).
    pub fn set_discards_fail(&self, fail: bool) {
        self.discards_fail.store(fail, Ordering::SeqCst);
    }

    /// Makes [`record_ticket`](crate::QueueTicketStore::record_ticket) alone fail with
    /// `unavailable` (or work again): a database that goes away between a join's session
    /// record and its ticket's (ADR 0029).
    pub fn set_ticket_records_fail(&self, fail: bool) {
        self.ticket_records_fail.store(fail, Ordering::SeqCst);
    }

    pub(super) fn ticket_records_fail(&self) -> bool {
        self.ticket_records_fail.load(Ordering::SeqCst)
    }

    pub(super) fn discards_fail(&self) -> bool {
        self.discards_fail.load(Ordering::SeqCst)
    }

    pub(super) fn lock(&self) -> Result<MutexGuard<'_, Data>> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(Error::unavailable(
                Dependency::Store,
                "in-memory store switched off",
            ));
        }
        Ok(self.data.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Data {
    /// What `tenant` holds, in the figures its quotas limit (read under the store's one lock,
    /// so a check and the write after it are atomic).
    fn tenant_usage(&self, tenant: TenantId) -> TenantUsage {
        let mut usage = TenantUsage::default();
        for license in self.licenses.values().filter(|l| l.tenant_id == tenant) {
            usage.licenses += 1;
            usage.seats += TenantUsage::seats_of(license);
        }
        usage.api_keys = self
            .api_keys
            .values()
            .filter(|k| k.tenant_id == tenant && k.revoked_at.is_none())
            .count() as u64;
        usage
    }
}

pub(super) fn usage_day(
    data: &mut Data,
    license_id: LicenseId,
    at: DateTime<Utc>,
) -> &mut UsageDay {
    let day = at.date_naive();
    data.usage
        .entry((license_id, day))
        .or_insert_with(|| UsageDay {
            license_id,
            day,
            peak_seats: 0,
            denials: 0,
            overdraft_peak: 0,
            overdraft_seat_minutes: 0,
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

    async fn create_license(
        &self,
        license: &License,
        quotas: &TenantQuotas,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut data = self.lock()?;
        if !data.tenants.contains_key(&license.tenant_id) {
            return Err(Error::NotFound(Resource::Tenant));
        }
        let before = data.tenant_usage(license.tenant_id);
        quotas.check(&before, &before.with_license_created(license))?;
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

    async fn update_license(
        &self,
        license: &License,
        quotas: &TenantQuotas,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut data = self.lock()?;
        let before = data.tenant_usage(license.tenant_id);
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
        quotas.check(&before, &before.with_license_changed(stored, license))?;
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

    async fn tenant_usage_totals(&self, tenant: TenantId) -> Result<TenantUsage> {
        Ok(self.lock()?.tenant_usage(tenant))
    }
}

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn create_api_key(
        &self,
        key: &ApiKey,
        quotas: &TenantQuotas,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut data = self.lock()?;
        if !data.tenants.contains_key(&key.tenant_id) {
            return Err(Error::NotFound(Resource::Tenant));
        }
        let before = data.tenant_usage(key.tenant_id);
        quotas.check(&before, &before.with_api_key_created())?;
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

impl Data {
    /// The tenant's last entry (number and hash): the log's last, else its cut's.
    pub(super) fn event_log_head(&self, tenant: TenantId) -> (u64, crate::event_log::ChainHash) {
        match self.event_log.get(&tenant).and_then(|log| log.last()) {
            Some(last) => (last.seq, last.hash),
            None => self
                .event_log_cuts
                .get(&tenant)
                .map_or((0, crate::event_log::ChainHash::GENESIS), |c| {
                    (c.seq, c.hash)
                }),
        }
    }
}

#[async_trait]
impl crate::event_log::EventLogStore for MemoryStore {
    async fn append_events(
        &self,
        tenant: TenantId,
        entries: Vec<crate::event_log::NewLogEntry>,
    ) -> Result<u64> {
        use crate::event_log::LogEntry;
        let mut data = self.lock()?;
        if !data.tenants.contains_key(&tenant) {
            return Err(Error::NotFound(Resource::Tenant));
        }
        let (mut seq, mut prev) = data.event_log_head(tenant);
        let log = data.event_log.entry(tenant).or_default();
        for new in entries {
            seq += 1;
            let entry = LogEntry::link(seq, &prev, new);
            prev = entry.hash;
            log.push(entry);
        }
        Ok(seq)
    }

    async fn read_events(
        &self,
        tenant: TenantId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<crate::event_log::LogEntry>> {
        let data = self.lock()?;
        let Some(log) = data.event_log.get(&tenant) else {
            return Ok(Vec::new());
        };
        let start = log.partition_point(|e| e.seq <= after);
        Ok(log[start..].iter().take(limit as usize).cloned().collect())
    }

    async fn log_cut(&self, tenant: TenantId) -> Result<Option<crate::log_retention::LogCut>> {
        Ok(self.lock()?.event_log_cuts.get(&tenant).cloned())
    }

    async fn trim_events(
        &self,
        tenant: TenantId,
        previous: Option<u64>,
        cut: &crate::log_retention::LogCut,
        days: &[crate::log_retention::KeptDay],
    ) -> Result<u64> {
        let mut data = self.lock()?;
        if !data.tenants.contains_key(&tenant) {
            return Err(Error::NotFound(Resource::Tenant));
        }
        if data.event_log_cuts.get(&tenant).map(|c| c.seq) != previous {
            return Err(Error::Conflict("the log was trimmed meanwhile".into()));
        }
        for day in days {
            data.kept_days
                .insert((tenant, day.license_id, day.day), day.clone());
        }
        data.event_log_cuts.insert(tenant, cut.clone());
        let log = data.event_log.entry(tenant).or_default();
        let before = log.len();
        log.retain(|e| e.seq > cut.seq);
        Ok((before - log.len()) as u64)
    }

    async fn kept_days(
        &self,
        tenant: TenantId,
        license: LicenseId,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<crate::log_retention::KeptDay>> {
        if to < from {
            return Ok(Vec::new());
        }
        Ok(self
            .lock()?
            .kept_days
            .range((tenant, license, from)..=(tenant, license, to))
            .map(|(_, day)| day.clone())
            .collect())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> Result<()> {
        self.lock().map(drop)
    }
}
