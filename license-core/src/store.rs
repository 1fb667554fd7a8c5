//! The durable-store ports: tenants and licenses, sessions and usage, API keys, the audit
//! log, and tenant signing keys. Every method that touches a tenant's data takes the tenant id, and a record of another
//! tenant answers exactly like a missing one ([`Error::NotFound`](crate::Error::NotFound)).
//!
//! Stores keep timestamps to the microsecond (what PostgreSQL holds); the system clock reads
//! at that precision, so a value returned at creation equals the value read back later.
//!
//! Methods that change admin data take the [`AuditEvent`] describing the change, so an adapter
//! writes both in one transaction and no change goes unrecorded. Methods that add to what a
//! tenant holds take its [`TenantQuotas`] too: the adapter reads the tenant's [`TenantUsage`]
//! under a per-tenant lock and applies [`TenantQuotas::check`] in that same transaction, so
//! concurrent changes cannot overshoot a quota together.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::api_key::ApiKey;
use crate::audit::AuditEvent;
use crate::error::Result;
use crate::holder::SessionSecretHash;
use crate::ids::{ApiKeyId, LicenseId, SessionId, TenantId};
use crate::license::{License, LicenseKey};
pub use crate::page::{Page, SessionCursor};
use crate::quota::{TenantQuotas, TenantUsage};
use crate::session::{EndReason, Session, SessionEnd};
use crate::tenant::Tenant;
use crate::tenant_keys::TenantKey;
use crate::usage::UsageDay;

/// What a heartbeat does to a live session, decided by the use case from the session and its
/// license ([`heartbeat::verdict`](crate::heartbeat::verdict)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeartbeatVerdict {
    /// Renew: `last_heartbeat_at = at` and the new `expires_at`.
    Renew {
        /// When the heartbeat arrived.
        at: DateTime<Utc>,
        /// The session's new expiry.
        expires_at: DateTime<Utc>,
    },
    /// End the session instead (it expired, or its license cannot keep seats).
    End {
        /// `ended_at`.
        at: DateTime<Utc>,
        /// Why.
        reason: EndReason,
    },
}

/// A renewal the ledger granted, for the store to learn later (write-behind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeartbeatRecord {
    /// The session's tenant.
    pub tenant_id: TenantId,
    /// The session.
    pub session_id: SessionId,
    /// When it was renewed (`last_heartbeat_at`).
    pub at: DateTime<Utc>,
    /// Its new expiry (`expires_at`).
    pub expires_at: DateTime<Utc>,
}

/// A day's peak of seats in use seen by a grant, for the store to learn later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsagePeak {
    /// The license's tenant.
    pub tenant_id: TenantId,
    /// The license.
    pub license_id: LicenseId,
    /// The UTC day.
    pub day: NaiveDate,
    /// Seats in use right after a grant.
    pub in_use: u32,
    /// Of those, seats beyond the license's `seats_total` (in its overdraft).
    pub overdraft: u32,
}

/// What the write-behind buffer hands the store in one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBehindBatch {
    /// At most one renewal per session: the latest.
    pub heartbeats: Vec<HeartbeatRecord>,
    /// At most one peak per license and day: the highest.
    pub peaks: Vec<UsagePeak>,
}

impl WriteBehindBatch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.heartbeats.is_empty() && self.peaks.is_empty()
    }
}

/// What [`SessionStore::end_session`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// The session as it now is (ended, with the first end's time and reason).
    pub session: Session,
    /// Whether this call ended it (`false`: it had ended before).
    pub by_this_call: bool,
}

/// Tenants and licenses.
#[async_trait]
pub trait LicenseStore: Send + Sync {
    /// Creates a tenant. `Conflict` when the name is taken.
    async fn create_tenant(&self, tenant: &Tenant, audit: &AuditEvent) -> Result<()>;

    /// One tenant.
    async fn get_tenant(&self, id: TenantId) -> Result<Tenant>;

    /// Every tenant, oldest first. Operator-only (the one listing across tenants).
    async fn list_tenants(&self) -> Result<Vec<Tenant>>;

    /// Creates a license. `Conflict` when the tenant already has that key; `QuotaExceeded`
    /// when the tenant would then hold more licenses or seats than `quotas` allow (checked
    /// in the same transaction, under a per-tenant lock); `NotFound(Tenant)` when the tenant
    /// does not exist.
    async fn create_license(
        &self,
        license: &License,
        quotas: &TenantQuotas,
        audit: &AuditEvent,
    ) -> Result<()>;

    /// One license by id.
    async fn get_license(&self, tenant: TenantId, id: LicenseId) -> Result<License>;

    /// One license by the key clients present.
    async fn find_license_by_key(&self, tenant: TenantId, key: &LicenseKey) -> Result<License>;

    /// A page of the tenant's licenses, oldest first.
    async fn list_licenses(&self, tenant: TenantId, page: Page<LicenseId>) -> Result<Vec<License>>;

    /// Replaces a license's mutable fields (seats, overdraft, status, expiry, lease policy,
    /// entitlements, `updated_at`). `NotFound` when it is not the tenant's; `QuotaExceeded`
    /// when the change raises the tenant's seats above `quotas` (checked as in
    /// [`create_license`](Self::create_license)).
    async fn update_license(
        &self,
        license: &License,
        quotas: &TenantQuotas,
        audit: &AuditEvent,
    ) -> Result<()>;

    /// What the tenant holds, in the figures its quotas limit: licenses, API keys that are not
    /// revoked, seats plus overdraft over licenses that are not revoked.
    async fn tenant_usage_totals(&self, tenant: TenantId) -> Result<TenantUsage>;
}

/// Sessions and usage.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Records a session (before the ledger grants its seat: see `acquire`) and, when `in_use`
    /// is more than zero, raises the license's peak for the day of `acquired_at` to it, in one
    /// transaction and without reading the license first (`NotFound(License)` unless its
    /// license is the tenant's, checked by the insert itself).
    async fn insert_session(&self, session: &Session, in_use: u32) -> Result<()>;

    /// Deletes a session recorded by [`insert_session`](Self::insert_session) whose seat the
    /// ledger never granted (refused, or the machine already held one). Deleting a missing
    /// session is not an error.
    async fn discard_session(&self, tenant: TenantId, id: SessionId) -> Result<()>;

    /// One session, live or ended.
    async fn get_session(&self, tenant: TenantId, id: SessionId) -> Result<Session>;

    /// The license's sessions that have not ended and expire after `after` (every one: what
    /// a ledger rebuild needs), oldest first (by `acquired_at`, then id: session ids are
    /// random, not time-ordered).
    async fn live_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        after: DateTime<Utc>,
    ) -> Result<Vec<Session>>;

    /// A page of [`live_sessions`](Self::live_sessions) (those expiring after `now`), ordered
    /// by `(acquired_at, id)`, starting after `page.after`, at most `page.limit` of them.
    async fn live_sessions_page(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
        page: Page<SessionCursor>,
    ) -> Result<Vec<Session>>;

    /// Deletes at most `limit` of the tenant's sessions that ended before `ended_before`, and
    /// returns how many this call deleted. Live sessions are never deleted, and the daily
    /// usage figures ([`usage`](Self::usage)) are kept apart from sessions, so deleting
    /// changes no usage answer. Safe to run concurrently (each session is deleted once); an
    /// adapter may cap a batch below `limit`; callers loop.
    async fn delete_ended_sessions(
        &self,
        tenant: TenantId,
        ended_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64>;

    /// Writes a batch of renewals and peaks in one transaction: each renewal only moves a
    /// session that has not ended forward (`expires_at` never goes back, so batches from
    /// several replicas may land in any order) and marks it
    /// [`confirmed`](crate::Session::confirmed) (the ledger granted its seat, whatever the
    /// expiry); each peak only raises the day's peak.
    async fn flush_write_behind(&self, batch: &WriteBehindBatch) -> Result<()>;

    /// Ends a session and returns it, in one call: `ended_at`, `end_reason`, and the linger
    /// and eviction `end` names. Idempotent: a session that already ended is returned
    /// unchanged (first end wins) with `by_this_call` false. `audit`, when given, is written in
    /// the same transaction if this call ended the session (a repeated release changes
    /// nothing, so it records nothing).
    async fn end_session(
        &self,
        tenant: TenantId,
        id: SessionId,
        end: &SessionEnd,
        audit: Option<&AuditEvent>,
    ) -> Result<Ended>;

    /// Marks a session as granted into its license's overdraft (`overdraft = true`).
    /// `NotFound` unless the session is the tenant's.
    async fn mark_overdraft(&self, tenant: TenantId, id: SessionId) -> Result<()>;

    /// Ends a session's linger at `at` (its machine took the seat back): `linger_until`
    /// becomes `at` if it was later. `NotFound` unless the session is the tenant's.
    async fn end_linger(&self, tenant: TenantId, id: SessionId, at: DateTime<Utc>) -> Result<()>;

    /// The license's ended sessions whose seat still lingers at `now` (`linger_until > now`):
    /// what a ledger rebuild restores as lingering seats.
    async fn lingering_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>>;

    /// The license's evicted sessions whose hold-off is still in force at `now`
    /// (`eviction.hold_until > now`): what a ledger rebuild restores as hold-offs.
    async fn held_off_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>>;

    /// A page of the license's live borrowed sessions (as
    /// [`live_sessions_page`](Self::live_sessions_page), borrowed ones only).
    async fn borrowed_sessions_page(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
        page: Page<SessionCursor>,
    ) -> Result<Vec<Session>>;

    /// The license's sessions granted into the overdraft that held their seat at some time in
    /// `[from, to)`: acquired before `to`, and ended (or, if not ended, expiring) after `from`.
    async fn overdraft_sessions(
        &self,
        tenant: TenantId,
        license: LicenseId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Session>>;

    /// Replaces a session's secret hash (an acquire retried for the same machine hands the
    /// client a new secret: it never saw the first). `NotFound` unless the session is the
    /// tenant's.
    async fn set_session_secret(
        &self,
        tenant: TenantId,
        id: SessionId,
        hash: &SessionSecretHash,
    ) -> Result<()>;

    /// Marks at most `limit` of the license's sessions with `expires_at <= before` as expired
    /// (`ended_at = expires_at`) and returns the sessions this call marked, as they are now
    /// (their `expired` events name them). Safe to run concurrently: each session is marked
    /// once. An adapter may cap a batch below `limit`
    /// (bind-parameter limits); callers loop.
    async fn expire_due(
        &self,
        tenant: TenantId,
        license: LicenseId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Session>>;

    /// Counts one refused acquisition on the license for the day of `at`.
    async fn record_denial(
        &self,
        tenant: TenantId,
        license: LicenseId,
        at: DateTime<Utc>,
    ) -> Result<()>;

    /// Daily peaks and denials of a license between `from` and `to` (inclusive), days without
    /// activity left out.
    async fn usage(
        &self,
        tenant: TenantId,
        license: LicenseId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UsageDay>>;
}

/// Tenant API keys.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new key record. `QuotaExceeded` when the tenant would then hold more keys
    /// that are not revoked than `quotas` allow (checked in the same transaction, under the
    /// per-tenant lock [`LicenseStore::create_license`] takes); `NotFound(Tenant)` when the
    /// tenant does not exist.
    async fn create_api_key(
        &self,
        key: &ApiKey,
        quotas: &TenantQuotas,
        audit: &AuditEvent,
    ) -> Result<()>;

    /// The key with this lookup prefix (revoked ones included).
    async fn find_api_key(&self, tenant: TenantId, prefix: &str) -> Result<ApiKey>;

    /// The tenant's keys, oldest first.
    async fn list_api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>>;

    /// Revokes a key. Idempotent: revoking twice keeps the first time.
    async fn revoke_api_key(
        &self,
        tenant: TenantId,
        id: ApiKeyId,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<()>;

    /// Records that the key authenticated a request at `at`.
    async fn touch_api_key(&self, tenant: TenantId, id: ApiKeyId, at: DateTime<Utc>) -> Result<()>;
}

/// The append-only audit log.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends an event that is not part of a store change above. `NotFound(Tenant)` when the
    /// event's tenant does not exist.
    async fn append_audit(&self, event: &AuditEvent) -> Result<()>;

    /// The tenant's most recent events, newest first.
    async fn list_audit(&self, tenant: TenantId, limit: u32) -> Result<Vec<AuditEvent>>;
}

/// Tenant signing keys ([`tenant_keys`](crate::tenant_keys)): public halves, root certificates and
/// wrapped private halves, shared by every replica.
#[async_trait]
pub trait TenantKeyStore: Send + Sync {
    /// The tenant's keys whose certificate has not expired at `now` (revoked ones included),
    /// and always its newest key even if expired (the next key's generation follows it), by
    /// generation, oldest first.
    async fn tenant_keys(&self, tenant: TenantId, now: DateTime<Utc>) -> Result<Vec<TenantKey>>;

    /// Stores a new key, with `audit` in the same transaction when an administrator asked for
    /// it. [`Conflict`](crate::Error::Conflict) when the tenant already has a key of this
    /// generation (another replica made it first); `NotFound(Tenant)` when the tenant does not
    /// exist.
    async fn insert_tenant_key(&self, key: &TenantKey, audit: Option<&AuditEvent>) -> Result<()>;

    /// Revokes every unrevoked key of `tenant` up to and including `generation`, at `at`, with
    /// `audit` in the same transaction. Returns how many it revoked (0 is not an error).
    async fn revoke_tenant_keys(
        &self,
        tenant: TenantId,
        generation: u32,
        at: DateTime<Utc>,
        audit: &AuditEvent,
    ) -> Result<u32>;

    /// Tenants with a key created or revoked at or after `since`: what a replica reloads to
    /// learn of keys another replica made or revoked.
    async fn tenant_keys_changed_since(&self, since: DateTime<Utc>) -> Result<Vec<TenantId>>;
}

/// Everything durable, as one object: what the use cases hold.
#[async_trait]
pub trait Store:
    LicenseStore
    + SessionStore
    + ApiKeyStore
    + AuditLog
    + TenantKeyStore
    + crate::event_log::EventLogStore
    + crate::webhooks::WebhookStore
    + crate::queue_tickets::QueueTicketStore
    + std::fmt::Debug
{
    /// Whether the backend answers (for readiness).
    async fn ping(&self) -> Result<()>;
}
