//! [`LicenseService`]: the seat use cases over the ports they need. Each use case lives in its
//! own module (`acquire`, `heartbeat`, `release`, `revoke`, `reap`, `validate`, `keys`,
//! `readiness`); this module holds what they share: the ports, the event sinks, and the steps
//! several of them take (signing a lease, ending a session, freeing a seat).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tracing::warn;

use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::error::Result;
use crate::events::{EventSink, EventSinks, SeatEvent, SeatEventKind};
use crate::holder::SessionSecret;
use crate::hot_path::{HotPathConfig, PolicyCache, SessionDirectory, WriteBehind};
use crate::ids::SessionId;
use crate::license::License;
use crate::queue_tickets::QueueTicketStore;
use crate::seat_ledger::{LedgerKey, SeatLedger, SeatRef};
use crate::session::{EndReason, Session, SessionEnd};
use crate::signer::{PublicJwk, Signer};
use crate::store::{Ended, LicenseStore, SessionStore, Store};
use crate::tenant_keys::ring::ephemeral_wrapper;
use crate::tenant_keys::{KeyWrapper, TenantKeyConfig, TenantKeys};
use crate::token::{self, LeaseClaims};

/// A granted or renewed seat: the session record and its signed lease token.
#[derive(Clone, Debug)]
pub struct Lease {
    /// The session holding the seat.
    pub session: Session,
    /// The signed lease token (compact JWS) the client verifies offline.
    pub token: String,
    /// Seconds the client should wait between heartbeats.
    pub heartbeat_interval_seconds: u32,
    /// Whether this call took the seat (`false`: the machine already held it, or a heartbeat).
    pub new_seat: bool,
    /// The session secret its heartbeats and releases must present: only in the answer of the
    /// acquire that made it (a retried acquire replaces it), and only when the license requires
    /// one. Never given again; the store keeps only its hash.
    pub secret: Option<SessionSecret>,
}

/// Counters the server exports as metrics.
#[derive(Debug, Default)]
pub struct ServiceStats {
    /// Times a license's seats were rebuilt from the store.
    pub ledger_rebuilds: AtomicU64,
    /// Acquires withdrawn after the session was recorded, because the ledger failed: the
    /// record is deleted again and the seat freed in case the ledger granted it.
    pub compensations: AtomicU64,
}

/// The seat use cases over the license and session stores, a seat ledger, a signer, a clock
/// and the event sinks.
pub struct LicenseService {
    pub(crate) licenses: Arc<dyn LicenseStore>,
    pub(crate) sessions: Arc<dyn SessionStore>,
    /// The queue's tickets on record (ADR 0029).
    pub(crate) tickets: Arc<dyn QueueTicketStore>,
    /// Only for readiness: the narrow ports above carry every use case.
    pub(crate) store: Arc<dyn Store>,
    pub(crate) ledger: Arc<dyn SeatLedger>,
    /// The root: certifies tenant keys, and is what `/.well-known/jwks.json` publishes.
    pub(crate) root: Arc<dyn Signer>,
    /// The tenant keys that sign leases.
    pub(crate) keys: Arc<TenantKeys>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) events: Arc<dyn EventSink>,
    pub(crate) issuer: String,
    pub(crate) retired_keys: Vec<PublicJwk>,
    pub(crate) stats: ServiceStats,
    pub(crate) hot_path: HotPathConfig,
    pub(crate) policy: Arc<PolicyCache>,
    pub(crate) directory: SessionDirectory,
    pub(crate) write_behind: WriteBehind,
    /// How long ended sessions are kept before the reaper deletes them (`None`: for ever).
    pub(crate) session_retention: Option<std::time::Duration>,
}

impl std::fmt::Debug for LicenseService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenseService")
            .field("store", &self.store)
            .field("ledger", &self.ledger)
            .field("root", &self.root)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl LicenseService {
    /// Builds the service; `root` certifies the tenant keys that sign leases, and `issuer`
    /// becomes every token's `iss`. Tenant keys are wrapped by a key that lives only in this
    /// process until [`with_tenant_keys`](Self::with_tenant_keys) names a lasting one. Events
    /// go nowhere until [`with_events`](Self::with_events).
    pub fn new(
        store: Arc<dyn Store>,
        ledger: Arc<dyn SeatLedger>,
        root: Arc<dyn Signer>,
        clock: Arc<dyn Clock>,
        issuer: impl Into<String>,
    ) -> Self {
        let issuer = issuer.into();
        let keys = Arc::new(TenantKeys::new(
            root.clone(),
            ephemeral_wrapper(),
            store.clone(),
            clock.clone(),
            issuer.clone(),
            TenantKeyConfig::default(),
        ));
        Self {
            licenses: store.clone(),
            sessions: store.clone(),
            tickets: store.clone(),
            store,
            ledger,
            root,
            keys,
            clock,
            events: Arc::new(EventSinks::none()),
            issuer,
            retired_keys: Vec::new(),
            stats: ServiceStats::default(),
            hot_path: NO_POLICY_CACHE,
            policy: Arc::new(PolicyCache::new(NO_POLICY_CACHE.policy_ttl)),
            directory: SessionDirectory::new(NO_POLICY_CACHE.directory_capacity),
            write_behind: WriteBehind::new(NO_POLICY_CACHE.max_write_lag),
            session_retention: None,
        }
    }

    /// Sets the hot path's bounds (the default caches no license policy: every use case reads
    /// it from the store, which a test that changes licenses behind the service's back needs).
    /// Wire [`policy_cache`](Self::policy_cache) to the admin events so changes made through
    /// this replica apply at once.
    pub fn with_hot_path(mut self, config: HotPathConfig) -> Self {
        self.policy = Arc::new(PolicyCache::new(config.policy_ttl));
        self.directory = SessionDirectory::new(config.directory_capacity);
        self.write_behind = WriteBehind::new(config.max_write_lag);
        self.hot_path = config;
        self
    }

    /// Protects tenant keys at rest with `wrapper` (the local root's, or Cloud KMS) and makes
    /// and rotates them as `config` says.
    pub fn with_tenant_keys(
        mut self,
        wrapper: Arc<dyn KeyWrapper>,
        config: TenantKeyConfig,
    ) -> Self {
        self.keys = Arc::new(TenantKeys::new(
            self.root.clone(),
            wrapper,
            self.store.clone(),
            self.clock.clone(),
            self.issuer.clone(),
            config,
        ));
        self
    }

    /// The tenant keys: for the maintenance loop, rotation and metrics.
    pub fn tenant_keys(&self) -> Arc<TenantKeys> {
        self.keys.clone()
    }

    /// The license cache, to receive admin changes (it is an [`EventSink`]).
    pub fn policy_cache(&self) -> Arc<PolicyCache> {
        self.policy.clone()
    }

    /// Renewals waiting to be written to the store.
    pub fn pending_heartbeats(&self) -> usize {
        self.write_behind.pending()
    }

    /// Sends every [`SeatEvent`] the use cases emit to `sink` (which must not block).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use license_core::{events::MemoryEvents, memory, *};
    ///
    /// # futures::executor::block_on(async {
    /// let clock = Arc::new(SystemClock);
    /// let store = Arc::new(memory::MemoryStore::default());
    /// let events = Arc::new(MemoryEvents::default());
    /// let service = LicenseService::new(
    ///     store.clone(),
    ///     Arc::new(memory::MemoryLedger::new(clock.clone())),
    ///     Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA)?),
    ///     clock.clone(),
    ///     "acme",
    /// )
    /// .with_events(events.clone());
    /// let admin = AdminService::new(store, clock);
    /// let tenant = admin.create_tenant("Acme", &Actor::Operator).await?;
    /// let license = admin
    ///     .create_license(tenant.id, NewLicense::new("CAD", SeatCount::new(1)?), &Actor::Operator)
    ///     .await?;
    /// let hw = HardwareId::parse("pc-1")?;
    /// service.acquire(tenant.id, &Actor::System, &license.key, &hw, None).await?;
    /// service.acquire(tenant.id, &Actor::System, &license.key, &hw, None).await?;
    /// // A fresh ledger is initialised from the store first: `rebuilt`.
    /// assert_eq!(events.names(), ["rebuilt", "granted", "held"]);
    /// # Ok::<(), Error>(()) }).unwrap();
    /// ```
    pub fn with_events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = sink;
        self
    }

    /// Counters for metrics.
    pub fn stats(&self) -> &ServiceStats {
        &self.stats
    }

    /// Tells the sinks what happened now.
    pub(crate) fn emit(&self, event: SeatEvent) {
        self.events.emit(&event);
    }

    /// An event about `session`, at the service's clock.
    pub(crate) fn session_event(&self, session: &Session, kind: SeatEventKind) -> SeatEvent {
        // A seat's end is the instant the store ended its session, before the ledger freed
        // the seat: a grant of that seat elsewhere is always later (reports' exact peaks).
        // (`expired` says when the session ended in `ended_at`; its `at` is when it was seen.)
        let at = match (&kind, session.ended_at) {
            (
                SeatEventKind::Released
                | SeatEventKind::Returned
                | SeatEventKind::Revoked
                | SeatEventKind::Evicted { .. },
                Some(ended),
            ) => ended,
            _ => self.clock.now(),
        };
        let event = SeatEvent::new(at, session.tenant_id, kind)
            .license(session.license_id)
            .session(session.id)
            .hardware(session.hardware_id.as_str());
        match &session.user_email {
            Some(user) => event.user(user.as_str()),
            None => event,
        }
    }

    /// Ends `session` in the store (first) and frees its seat in the ledger (second): if the
    /// ledger call fails, the seat still frees itself at TTL and a retry completes the release.
    /// Also says whether this call ended it (`false`: it had ended before).
    pub(crate) async fn end(
        &self,
        tenant: crate::ids::TenantId,
        session_id: SessionId,
        reason: EndReason,
        audit: Option<&AuditEvent>,
    ) -> Result<Ended> {
        let end = SessionEnd::new(self.clock.now(), reason);
        let ended = self.end_in_store(tenant, session_id, &end, audit).await?;
        self.ledger
            .release(&ledger_key_of(&ended.session), seat_of(&ended.session))
            .await?;
        Ok(ended)
    }

    /// Ends a session in the store and forgets it on this replica; the caller frees the seat.
    pub(crate) async fn end_in_store(
        &self,
        tenant: crate::ids::TenantId,
        session_id: SessionId,
        end: &SessionEnd,
        audit: Option<&AuditEvent>,
    ) -> Result<Ended> {
        let ended = self
            .sessions
            .end_session(tenant, session_id, end, audit)
            .await?;
        self.directory.forget(tenant, session_id);
        Ok(ended)
    }

    /// Frees a seat whose session is over, when the caller's answer does not depend on it.
    /// If this fails, the seat still frees itself at TTL.
    pub(crate) async fn release_quietly(&self, key: &LedgerKey, seat: SeatRef<'_>) {
        if let Err(e) = self.ledger.release(key, seat).await {
            warn!(error = %e, session_id = %seat.session_id, "releasing a seat failed; it frees itself at TTL");
        }
    }

    /// Signs a lease token for `session` under `license`'s entitlements.
    pub(crate) async fn lease(
        &self,
        license: &License,
        session: Session,
        new_seat: bool,
    ) -> Result<Lease> {
        let now = self.clock.now().timestamp();
        let claims = LeaseClaims {
            iss: self.issuer.clone(),
            aud: Some(session.tenant_id),
            sub: session.id,
            tid: session.tenant_id,
            lic: session.license_id,
            hwid: session.hardware_id.as_str().to_owned(),
            ent: license
                .entitlements
                .iter()
                .map(|e| e.as_str().to_owned())
                .collect(),
            iat: now,
            nbf: now,
            exp: session.expires_at.timestamp(),
            ovd: session.overdraft,
            brw: session.borrowed,
        };
        let signer = self
            .keys
            .signer_for(session.tenant_id, session.expires_at)
            .await?;
        let token = token::issue(signer.as_ref(), &claims).await?;
        Ok(Lease {
            session,
            token,
            heartbeat_interval_seconds: license.lease.heartbeat_interval_seconds(),
            new_seat,
            secret: None,
        })
    }
}

/// [`LicenseService::new`]'s hot path: the default bounds, but no license policy caching.
const NO_POLICY_CACHE: HotPathConfig = HotPathConfig {
    policy_ttl: std::time::Duration::ZERO,
    directory_capacity: 100_000,
    max_write_lag: std::time::Duration::from_secs(10),
};

/// The ledger key of a license.
pub(crate) fn ledger_key(license: &License) -> LedgerKey {
    LedgerKey {
        tenant_id: license.tenant_id,
        license_id: license.id,
    }
}

/// The ledger key of a session's license.
pub(crate) fn ledger_key_of(session: &Session) -> LedgerKey {
    LedgerKey {
        tenant_id: session.tenant_id,
        license_id: session.license_id,
    }
}

/// The seat a session holds.
pub(crate) fn seat_of(session: &Session) -> SeatRef<'_> {
    SeatRef::new(session.id, session.seat())
}

/// A license's lease TTL.
pub(crate) fn ttl_of(license: &License) -> std::time::Duration {
    std::time::Duration::from_secs(u64::from(license.lease.ttl_seconds()))
}
