//! Admin use cases: tenants, licenses, API keys and usage. Each change is validated here and
//! stored together with its audit event; changes that add to what a tenant holds are held to
//! its [`TenantQuotas`], which the store applies in the same transaction.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use crate::audit::{Actor, AuditEvent};
use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{EventSink, EventSinks, SeatEvent};
use crate::ids::{LicenseId, TenantId};
use crate::license::{Entitlement, LeasePolicy, License, LicenseKey, LicenseStatus, SeatCount};
use crate::page::SessionCursor;
use crate::quota::{TenantQuotas, TenantUsage};
use crate::seat_policy::SeatPolicy;
use crate::seat_rules::{SeatRules, SeatRulesChange};
use crate::session::Session;
use crate::store::{Page, Store};
use crate::tenant::Tenant;
use crate::usage::UsageDay;

/// API keys: create, list, revoke, authenticate.
mod api_keys;
/// Verified API-key records in process: bounded size, bounded staleness, limited misses.
mod key_cache;
/// Per-tenant budgets for the store lookups that keys not in the cache cause.
mod miss_limiter;

pub use key_cache::{CredentialCacheConfig, CredentialCacheStats};

/// What a new license is made of. Unset fields take safe defaults: a generated key, no
/// overdraft, no expiry, the default lease policy, no entitlements.
#[derive(Clone, Debug)]
pub struct NewLicense {
    /// Product name.
    pub product: String,
    /// Seats sold.
    pub seats: SeatCount,
    /// Extra seats tolerated.
    pub overdraft: u32,
    /// The key clients will present; generated when `None`. A chosen key must reach
    /// [`LicenseKey::MIN_CHOSEN_BITS`] unless `allow_weak_key` is set.
    pub key: Option<LicenseKey>,
    /// Accept a chosen `key` below the minimum strength (keys already in customers' hands,
    /// say); recorded in the audit event. Ignored for generated keys.
    pub allow_weak_key: bool,
    /// Expiry; perpetual when `None`.
    pub expires_at: Option<DateTime<Utc>>,
    /// TTL and heartbeat interval.
    pub lease: LeasePolicy,
    /// Features granted.
    pub entitlements: Vec<Entitlement>,
    /// Whether each session gets a secret its heartbeats and releases must present.
    pub require_session_secret: bool,
    /// Borrowing, linger, minimum hold, overdraft cap, leasing strategy.
    pub rules: SeatRules,
    /// Groups and seat rules per group, user and host (ADR 0026).
    pub policy: SeatPolicy,
}

impl NewLicense {
    /// A license for `product` with `seats` seats and defaults for everything else.
    pub fn new(product: &str, seats: SeatCount) -> Self {
        Self {
            product: product.to_owned(),
            seats,
            overdraft: 0,
            key: None,
            allow_weak_key: false,
            expires_at: None,
            lease: LeasePolicy::default(),
            entitlements: Vec::new(),
            require_session_secret: false,
            rules: SeatRules::default(),
            policy: SeatPolicy::default(),
        }
    }
}

/// A change to a license's terms; `None` fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct LicenseChange {
    /// New seat count. Lowering it below the seats in use ends no session: new grants wait
    /// until enough are released.
    pub seats: Option<SeatCount>,
    /// New overdraft.
    pub overdraft: Option<u32>,
    /// New expiry (`Some(None)` makes it perpetual).
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// New lease policy (applies from each session's next heartbeat).
    pub lease: Option<LeasePolicy>,
    /// New entitlements (in tokens from the next heartbeat).
    pub entitlements: Option<Vec<Entitlement>>,
    /// Whether sessions acquired from now on get a secret (a session keeps the choice made at
    /// its acquire, so no running client is locked out).
    pub require_session_secret: Option<bool>,
    /// Changes to borrowing, linger, minimum hold, overdraft cap (apply to new grants,
    /// releases and evictions; never to a seat already borrowed).
    pub rules: SeatRulesChange,
    /// A new policy, replacing the old (applies to new grants; never evicts).
    pub policy: Option<SeatPolicy>,
}

/// What the admin use cases can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::InvalidInput,
    ErrorKind::NotFound,
    ErrorKind::Conflict,
    ErrorKind::QuotaExceeded,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// The admin use cases.
#[derive(Debug)]
pub struct AdminService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    events: Arc<dyn EventSink>,
    keys: key_cache::KeyCache,
    quotas: TenantQuotas,
}

impl AdminService {
    /// Builds the service. Admin changes are events too, once [`with_events`](Self::with_events)
    /// names a sink. API keys are cached as [`CredentialCacheConfig::DEFAULT`] says until
    /// [`with_credential_cache`](Self::with_credential_cache) says otherwise. Tenants are held
    /// to [`TenantQuotas::DEFAULT`] until [`with_quotas`](Self::with_quotas).
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            keys: key_cache::KeyCache::new(CredentialCacheConfig::DEFAULT, clock.clone()),
            store,
            clock,
            events: Arc::new(EventSinks::none()),
            quotas: TenantQuotas::DEFAULT,
        }
    }

    /// Holds every tenant to `quotas`.
    pub fn with_quotas(mut self, quotas: TenantQuotas) -> Self {
        self.quotas = quotas;
        self
    }

    /// The quotas every tenant is held to, and what `tenant` holds now.
    pub async fn quota_usage(&self, tenant: TenantId) -> Result<(TenantQuotas, TenantUsage)> {
        self.store.get_tenant(tenant).await?;
        let usage = self.store.tenant_usage_totals(tenant).await?;
        Ok((self.quotas, usage))
    }

    /// Bounds the API-key cache with `config` (an empty cache: call before serving).
    pub fn with_credential_cache(mut self, config: CredentialCacheConfig) -> Self {
        self.keys = key_cache::KeyCache::new(config, self.clock.clone());
        self
    }

    /// What the API-key cache has done and holds (for metrics and tests).
    pub fn credential_cache_stats(&self) -> CredentialCacheStats {
        self.keys.stats()
    }

    /// Sends an `admin_change` event for every audited change to `sink` (which must not block).
    pub fn with_events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = sink;
        self
    }

    /// Tells the sinks about a change that is now stored with its audit record.
    fn changed(&self, audit: &AuditEvent) {
        self.events.emit(&SeatEvent::admin_change(audit));
    }

    pub(crate) fn event(
        &self,
        tenant: TenantId,
        actor: &Actor,
        action: &str,
        target: String,
        details: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent::new(
            tenant,
            actor.clone(),
            action,
            target,
            self.clock.now(),
            details,
        )
    }

    /// Creates a tenant (operator only; the caller checks that).
    pub async fn create_tenant(&self, name: &str, actor: &Actor) -> Result<Tenant> {
        let tenant = Tenant::new(name, self.clock.now())?;
        let audit = self.event(
            tenant.id,
            actor,
            "tenant.create",
            format!("tenant:{}", tenant.id),
            json!({ "name": tenant.name }),
        );
        self.store.create_tenant(&tenant, &audit).await?;
        self.changed(&audit);
        Ok(tenant)
    }

    /// Every tenant (operator only).
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.store.list_tenants().await
    }

    /// Creates a license for `tenant`. A chosen key too easy to guess is refused
    /// (`invalid_input` naming `license_key`) unless [`NewLicense::allow_weak_key`] is set;
    /// `QuotaExceeded` (nothing created) when the tenant would then hold more licenses, or more
    /// seats plus overdraft, than its quotas allow.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use license_core::{memory::MemoryStore, *};
    /// # futures::executor::block_on(async {
    /// let admin = AdminService::new(Arc::new(MemoryStore::default()), Arc::new(SystemClock));
    /// let tenant = admin.create_tenant("Acme", &Actor::Operator).await?;
    /// let mut new = NewLicense::new("CAD Pro", SeatCount::new(5)?);
    /// new.key = Some(LicenseKey::parse("ACME-PRO-2026-0001")?);
    /// let refused = admin.create_license(tenant.id, new.clone(), &Actor::Operator).await;
    /// assert_eq!(refused.unwrap_err().code(), "invalid_input");
    /// new.allow_weak_key = true;
    /// assert!(admin.create_license(tenant.id, new, &Actor::Operator).await.is_ok());
    /// # Ok::<(), Error>(()) }).unwrap();
    /// ```
    pub async fn create_license(
        &self,
        tenant: TenantId,
        new: NewLicense,
        actor: &Actor,
    ) -> Result<License> {
        let now = self.clock.now();
        let (key, origin) = match new.key {
            Some(key) => match key.ensure_strong() {
                Ok(()) => (key, "chosen"),
                Err(_) if new.allow_weak_key => (key, "weak"),
                Err(e) => return Err(e),
            },
            None => (LicenseKey::generate()?, "generated"),
        };
        let license = License {
            id: LicenseId::new(),
            tenant_id: tenant,
            key,
            product: new.product.trim().to_owned(),
            seats: new.seats,
            overdraft: new.overdraft,
            status: LicenseStatus::Active,
            expires_at: new.expires_at,
            lease: new.lease,
            entitlements: new.entitlements,
            require_session_secret: new.require_session_secret,
            rules: new.rules,
            policy: new.policy,
            created_at: now,
            updated_at: now,
        };
        license.validate()?;
        let audit = self.event(
            tenant,
            actor,
            "license.create",
            format!("license:{}", license.id),
            json!({
                "product": license.product,
                "seats": license.seats.get(),
                "overdraft": license.overdraft,
                "require_session_secret": license.require_session_secret,
                "rules": license.rules,
                // generated, chosen, or weak: chosen below the minimum with allow_weak_key.
                "key": origin,
            }),
        );
        self.store
            .create_license(&license, &self.quotas, &audit)
            .await?;
        self.changed(&audit);
        Ok(license)
    }

    /// One license.
    pub async fn get_license(&self, tenant: TenantId, id: LicenseId) -> Result<License> {
        self.store.get_license(tenant, id).await
    }

    /// A page of licenses.
    pub async fn list_licenses(
        &self,
        tenant: TenantId,
        page: Page<LicenseId>,
    ) -> Result<Vec<License>> {
        self.store.list_licenses(tenant, page).await
    }

    /// Changes a license's terms. `QuotaExceeded` (nothing changed) when new seats or
    /// overdraft would raise the tenant's seats above its quota.
    pub async fn update_license(
        &self,
        tenant: TenantId,
        id: LicenseId,
        change: LicenseChange,
        actor: &Actor,
    ) -> Result<License> {
        let mut license = self.store.get_license(tenant, id).await?;
        if let Some(seats) = change.seats {
            license.seats = seats;
        }
        if let Some(overdraft) = change.overdraft {
            license.overdraft = overdraft;
        }
        if let Some(expires_at) = change.expires_at {
            license.expires_at = expires_at;
        }
        if let Some(lease) = change.lease {
            license.lease = lease;
        }
        if let Some(entitlements) = change.entitlements {
            license.entitlements = entitlements;
        }
        if let Some(required) = change.require_session_secret {
            license.require_session_secret = required;
        }
        license.rules = change.rules.apply(license.rules);
        if let Some(policy) = change.policy {
            license.policy = policy;
        }
        license.validate()?;
        license.updated_at = self.clock.now();
        let audit = self.event(
            tenant,
            actor,
            "license.update",
            format!("license:{id}"),
            json!({
                "seats": license.seats.get(),
                "overdraft": license.overdraft,
                "expires_at": license.expires_at,
                "ttl_seconds": license.lease.ttl_seconds(),
                "entitlements": license.entitlements,
                "require_session_secret": license.require_session_secret,
                "rules": license.rules,
                "policy": license.policy,
            }),
        );
        self.store
            .update_license(&license, &self.quotas, &audit)
            .await?;
        self.changed(&audit);
        Ok(license)
    }

    /// Suspends, reinstates or revokes a license. Revocation is final: a revoked license
    /// cannot change status again (`conflict`).
    pub async fn set_status(
        &self,
        tenant: TenantId,
        id: LicenseId,
        status: LicenseStatus,
        actor: &Actor,
    ) -> Result<License> {
        let mut license = self.store.get_license(tenant, id).await?;
        if license.status == LicenseStatus::Revoked && status != LicenseStatus::Revoked {
            return Err(Error::Conflict(
                "a revoked license cannot be reinstated".into(),
            ));
        }
        let previous = license.status;
        license.status = status;
        license.updated_at = self.clock.now();
        let audit = self.event(
            tenant,
            actor,
            &format!("license.{}", status_verb(status)),
            format!("license:{id}"),
            json!({ "from": previous.as_str(), "to": status.as_str() }),
        );
        self.store
            .update_license(&license, &self.quotas, &audit)
            .await?;
        self.changed(&audit);
        Ok(license)
    }

    /// Daily peaks and denials of a license between two UTC days (inclusive, at most 366 days).
    pub async fn usage(
        &self,
        tenant: TenantId,
        license: LicenseId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UsageDay>> {
        if to < from || (to - from).num_days() > 366 {
            return Err(Error::invalid(
                "to",
                "must be on or after from, at most 366 days later",
            ));
        }
        let mut days = self.store.usage(tenant, license, from, to).await?;
        let (start, end) = (
            crate::overdraft::day_start(from),
            crate::overdraft::after_day(to),
        );
        let sessions = self
            .store
            .overdraft_sessions(tenant, license, start, end)
            .await?;
        let minutes =
            crate::overdraft::seat_minutes_by_day(&sessions, start, end, self.clock.now());
        for (day, minutes) in minutes.into_iter().filter(|(_, m)| *m > 0) {
            match days.iter_mut().find(|d| d.day == day) {
                Some(usage) => usage.overdraft_seat_minutes = minutes,
                None => days.push(UsageDay {
                    license_id: license,
                    day,
                    peak_seats: 0,
                    denials: 0,
                    overdraft_peak: 0,
                    overdraft_seat_minutes: minutes,
                }),
            }
        }
        days.sort_by_key(|d| d.day);
        Ok(days)
    }

    /// The tenant's most recent audit events.
    pub async fn audit_log(&self, tenant: TenantId, limit: u32) -> Result<Vec<AuditEvent>> {
        self.store.list_audit(tenant, limit.clamp(1, 500)).await
    }

    /// Up to `limit` (1–1,000) entries of the tenant's event log numbered after `after`,
    /// oldest first (ADR 0030): a range to export and check with
    /// [`verify_chain`](crate::event_log::verify_chain).
    pub async fn event_log(
        &self,
        tenant: TenantId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<crate::event_log::LogEntry>> {
        if !(1..=1_000).contains(&limit) {
            return Err(Error::invalid("limit", "between 1 and 1000"));
        }
        self.store.get_tenant(tenant).await?;
        self.store.read_events(tenant, after, limit).await
    }

    /// A page of the license's live borrowed sessions, oldest acquired first (after checking
    /// the license is the tenant's).
    pub async fn borrowed_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        page: Page<SessionCursor>,
    ) -> Result<Vec<Session>> {
        self.store.get_license(tenant, license).await?;
        self.store
            .borrowed_sessions_page(tenant, license, self.clock.now(), page)
            .await
    }

    /// A page of the license's live sessions, oldest acquired first (after checking the
    /// license is the tenant's). Pass the last session's [`SessionCursor::after`] for the next.
    pub async fn live_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        page: Page<SessionCursor>,
    ) -> Result<Vec<Session>> {
        self.store.get_license(tenant, license).await?;
        self.store
            .live_sessions_page(tenant, license, self.clock.now(), page)
            .await
    }
}

fn status_verb(status: LicenseStatus) -> &'static str {
    match status {
        LicenseStatus::Active => "reinstate",
        LicenseStatus::Suspended => "suspend",
        LicenseStatus::Revoked => "revoke",
    }
}
