//! The use cases: acquire, heartbeat, release, reap and validate. Generic over the ports; the
//! server and the CLI only translate HTTP or terminal input into these calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::error::{Dependency, Error, Resource, Result};
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::license::{License, LicenseKey};
use crate::seat_ledger::{
    AcquireOutcome, LedgerKey, LiveCount, RenewOutcome, SeatLedger, SeatRequest,
};
use crate::session::{EndReason, HardwareId, LiveSeat, Session, UserEmail};
use crate::signer::{Jwks, PublicJwk, Signer};
use crate::store::Store;
use crate::token::{self, LeaseClaims, TokenVerifier};

/// How often one call may meet a ledger that lost its state before giving up. Each rebuild
/// initialises the ledger, so a second `Rebuild` in a row means it is losing state repeatedly.
const MAX_LEDGER_ATTEMPTS: usize = 3;

/// A granted or renewed seat: the session record and its signed lease token.
#[derive(Clone, Debug)]
pub struct Lease {
    /// The session holding the seat.
    pub session: Session,
    /// The signed lease token (compact JWS) the client verifies offline.
    pub token: String,
    /// Seconds the client should wait between heartbeats.
    pub heartbeat_interval_seconds: u32,
}

/// What one reaper pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReapOutcome {
    /// Tenants scanned.
    pub tenants: u64,
    /// Sessions marked expired by this pass.
    pub expired: u64,
}

/// Counters the server exports as metrics.
#[derive(Debug, Default)]
pub struct ServiceStats {
    /// Times a license's seats were rebuilt from the store.
    pub ledger_rebuilds: AtomicU64,
    /// Grants withdrawn because the store could not record them.
    pub compensations: AtomicU64,
}

/// The seat use cases over a store, a seat ledger, a signer and a clock.
#[derive(Debug)]
pub struct LicenseService {
    store: Arc<dyn Store>,
    ledger: Arc<dyn SeatLedger>,
    signer: Arc<dyn Signer>,
    clock: Arc<dyn Clock>,
    issuer: String,
    retired_keys: Vec<PublicJwk>,
    stats: ServiceStats,
}

impl LicenseService {
    /// Builds the service; `issuer` becomes every token's `iss`.
    pub fn new(
        store: Arc<dyn Store>,
        ledger: Arc<dyn SeatLedger>,
        signer: Arc<dyn Signer>,
        clock: Arc<dyn Clock>,
        issuer: impl Into<String>,
    ) -> Self {
        Self {
            store,
            ledger,
            signer,
            clock,
            issuer: issuer.into(),
            retired_keys: Vec::new(),
            stats: ServiceStats::default(),
        }
    }

    /// Keeps publishing keys that signed before a rotation: they are listed in
    /// [`jwks`](Self::jwks) after the current key and [`validate`](Self::validate) accepts the
    /// tokens they signed until those expire. A retired key with the current key's `kid` is
    /// dropped.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use license_core::{memory, *};
    ///
    /// let clock = Arc::new(SystemClock);
    /// let old = LocalSigner::generate(SigningAlgorithm::EdDSA)?;
    /// let new = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA)?);
    /// let service = LicenseService::new(
    ///     Arc::new(memory::MemoryStore::default()),
    ///     Arc::new(memory::MemoryLedger::new(clock.clone())),
    ///     new.clone(),
    ///     clock,
    ///     "acme",
    /// )
    /// .with_retired_keys(vec![old.public_jwk(), new.public_jwk()]);
    /// let kids: Vec<_> = service.jwks().keys.into_iter().map(|k| k.kid).collect();
    /// assert_eq!(kids, [new.key_id(), old.key_id()]);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn with_retired_keys(mut self, keys: Vec<PublicJwk>) -> Self {
        let current = self.signer.key_id().to_owned();
        let mut retired: Vec<PublicJwk> = Vec::with_capacity(keys.len());
        for key in keys {
            if key.kid != current && !retired.iter().any(|k| k.kid == key.kid) {
                retired.push(key);
            }
        }
        self.retired_keys = retired;
        self
    }

    /// Counters for metrics.
    pub fn stats(&self) -> &ServiceStats {
        &self.stats
    }

    /// The public keys clients verify lease tokens with: the signer's, then the retired ones.
    pub fn jwks(&self) -> Jwks {
        let mut keys = Vec::with_capacity(1 + self.retired_keys.len());
        keys.push(self.signer.public_jwk());
        keys.extend(self.retired_keys.iter().cloned());
        Jwks { keys }
    }

    /// A verifier for this server's tokens.
    pub fn verifier(&self) -> TokenVerifier {
        TokenVerifier::new(self.jwks(), self.issuer.clone())
    }

    /// Takes a seat on the license with `key` for the machine `hardware_id`.
    ///
    /// Idempotent per `(license, hardware_id)`: while the machine holds a live seat, a retry
    /// returns that session with a fresh token and takes no second seat.
    ///
    /// Errors: `license_not_found`, `license_suspended` / `_revoked` / `_expired`,
    /// `no_seats_available`, `unavailable`.
    pub async fn acquire(
        &self,
        tenant: TenantId,
        key: &LicenseKey,
        hardware_id: &HardwareId,
        user_email: Option<UserEmail>,
    ) -> Result<Lease> {
        let license = self.store.find_license_by_key(tenant, key).await?;
        license.ensure_usable(self.clock.now())?;
        let ledger_key = ledger_key(&license);
        let ttl = ttl_of(&license);
        let mut session_id = SessionId::new();

        for _ in 0..MAX_LEDGER_ATTEMPTS {
            let request = SeatRequest {
                session_id,
                hardware_id: hardware_id.clone(),
                limit: license.seat_limit(),
                ttl,
            };
            match self.ledger.acquire(&ledger_key, &request).await? {
                AcquireOutcome::Rebuild => self.rebuild(&ledger_key).await?,
                AcquireOutcome::NoSeats => {
                    let at = self.clock.now();
                    if let Err(e) = self.store.record_denial(tenant, license.id, at).await {
                        // The answer stands; only the usage figure is lost.
                        warn!(error = %e, license_id = %license.id, "could not record a denial");
                    }
                    return Err(Error::NoSeatsAvailable {
                        limit: license.seat_limit(),
                    });
                }
                AcquireOutcome::AlreadyHeld {
                    session_id: held,
                    expires_at,
                } => {
                    match self
                        .existing_session(&license, held, hardware_id, &user_email, expires_at)
                        .await?
                    {
                        Some(session) => return self.lease(&license, session).await,
                        // The ledger's seat belongs to a session the store has ended: free it.
                        None => self.ledger.release(&ledger_key, held).await?,
                    }
                }
                AcquireOutcome::Granted { expires_at, in_use } => {
                    let now = self.clock.now();
                    let session = Session {
                        id: session_id,
                        tenant_id: tenant,
                        license_id: license.id,
                        hardware_id: hardware_id.clone(),
                        user_email: user_email.clone(),
                        acquired_at: now,
                        last_heartbeat_at: now,
                        expires_at,
                        ended_at: None,
                        end_reason: None,
                    };
                    if let Err(e) = self.store.insert_session(&session, in_use).await {
                        self.compensate(&ledger_key, session_id).await;
                        return Err(e);
                    }
                    // A ledger that lost its state between our grant and the insert above may
                    // have been rebuilt from a snapshot without this session. Only a seat the
                    // ledger still holds now, with the session recorded, is handed out.
                    if self.confirm(&ledger_key, session_id, ttl).await? {
                        return self.lease(&license, session).await;
                    }
                    self.store
                        .end_session(
                            tenant,
                            session_id,
                            self.clock.now(),
                            EndReason::Expired,
                            None,
                        )
                        .await?;
                    session_id = SessionId::new();
                }
            }
        }
        Err(Error::unavailable(
            Dependency::Ledger,
            "the seat ledger kept losing its state",
        ))
    }

    /// Renews a live session's seat and returns a fresh token.
    ///
    /// Errors: `session_not_found`, `session_expired` (the seat was reclaimed: acquire again),
    /// `license_suspended` / `_revoked` / `_expired` (the session is ended), `unavailable`.
    pub async fn heartbeat(&self, tenant: TenantId, session_id: SessionId) -> Result<Lease> {
        let mut session = self.store.get_session(tenant, session_id).await?;
        let ledger_key = LedgerKey {
            tenant_id: tenant,
            license_id: session.license_id,
        };
        if session.ended_at.is_some() {
            // Ended in the store (the reaper on a clock ahead of the ledger's, say): make sure
            // the ledger does not hold its seat until the TTL.
            self.release_quietly(&ledger_key, session_id).await;
            return Err(Error::SessionExpired);
        }
        let license = self.store.get_license(tenant, session.license_id).await?;
        if let Err(inactive) = license.ensure_usable(self.clock.now()) {
            self.end(&session, EndReason::Revoked, None).await?;
            return Err(inactive);
        }
        let ttl = ttl_of(&license);
        let Some(expires_at) = self.renew(&ledger_key, session_id, ttl).await? else {
            let ended_at = session.expires_at.min(self.clock.now());
            self.store
                .end_session(tenant, session_id, ended_at, EndReason::Expired, None)
                .await?;
            return Err(Error::SessionExpired);
        };
        let now = self.clock.now();
        if let Err(e) = self
            .store
            .record_heartbeat(tenant, session_id, now, expires_at)
            .await
        {
            if matches!(e, Error::SessionExpired) {
                // Ended between our read and the renewal: give back the seat just renewed.
                self.release_quietly(&ledger_key, session_id).await;
            }
            return Err(e);
        }
        session.last_heartbeat_at = now;
        session.expires_at = expires_at;
        self.lease(&license, session).await
    }

    /// Ends a session and frees its seat. Idempotent: releasing again returns the same record
    /// (with the first `ended_at`).
    ///
    /// Errors: `session_not_found`, `unavailable` (retry: the call is idempotent).
    pub async fn release(&self, tenant: TenantId, session_id: SessionId) -> Result<Session> {
        let session = self.store.get_session(tenant, session_id).await?;
        self.end(&session, EndReason::Released, None).await
    }

    /// An administrator ends a session (force release); recorded in the audit log.
    pub async fn revoke_session(
        &self,
        tenant: TenantId,
        session_id: SessionId,
        audit: &AuditEvent,
    ) -> Result<Session> {
        let session = self.store.get_session(tenant, session_id).await?;
        self.end(&session, EndReason::Revoked, Some(audit)).await
    }

    /// Seats in use on a license now, as the ledger counts them.
    pub async fn live_seats(&self, tenant: TenantId, license_id: LicenseId) -> Result<u32> {
        let license = self.store.get_license(tenant, license_id).await?;
        let key = ledger_key(&license);
        for _ in 0..MAX_LEDGER_ATTEMPTS {
            match self.ledger.live_count(&key).await? {
                LiveCount::Count(n) => return Ok(n),
                LiveCount::Rebuild => self.rebuild(&key).await?,
            }
        }
        Err(Error::unavailable(
            Dependency::Ledger,
            "the seat ledger kept losing its state",
        ))
    }

    /// One reaper pass: marks every session past its expiry as expired in the store, in
    /// batches of `batch`. Safe on every replica at once. (Seats need no reaping: the ledger
    /// frees them at TTL by itself.)
    pub async fn reap_once(&self, batch: u32) -> Result<ReapOutcome> {
        let batch = batch.max(1);
        let now = self.clock.now();
        let mut outcome = ReapOutcome::default();
        for tenant in self.store.list_tenants().await? {
            outcome.tenants += 1;
            loop {
                let marked = self.store.expire_due(tenant.id, now, batch).await?;
                outcome.expired += marked;
                if marked < u64::from(batch) {
                    break;
                }
            }
        }
        Ok(outcome)
    }

    /// Checks a lease token for `tenant`: signature, expiry, and that its session still holds
    /// its seat.
    pub async fn validate(&self, tenant: TenantId, token: &str) -> Result<LeaseClaims> {
        let now = self.clock.now();
        let claims = self.verifier().verify(token, now)?;
        if claims.tid != tenant {
            return Err(Error::NotFound(Resource::Session));
        }
        let session = self.store.get_session(tenant, claims.sub).await?;
        if !session.is_live(now) {
            return Err(Error::SessionExpired);
        }
        Ok(claims)
    }

    /// Whether the store, the ledger and the signer answer; the first that does not is named.
    pub async fn check_ready(&self) -> Result<()> {
        self.store.ping().await?;
        self.ledger.ping().await?;
        self.signer.check().await
    }

    /// The session the ledger says `hardware_id` holds, recorded in the store if the grant
    /// was never recorded (a crash between the two). `None` when the store has ended it.
    async fn existing_session(
        &self,
        license: &License,
        held: SessionId,
        hardware_id: &HardwareId,
        user_email: &Option<UserEmail>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<Session>> {
        match self.store.get_session(license.tenant_id, held).await {
            Ok(session) if session.ended_at.is_none() => Ok(Some(session)),
            Ok(_) => Ok(None),
            Err(Error::NotFound(_)) => {
                let now = self.clock.now();
                let session = Session {
                    id: held,
                    tenant_id: license.tenant_id,
                    license_id: license.id,
                    hardware_id: hardware_id.clone(),
                    user_email: user_email.clone(),
                    acquired_at: now,
                    last_heartbeat_at: now,
                    expires_at,
                    ended_at: None,
                    end_reason: None,
                };
                self.store.insert_session(&session, 0).await?;
                Ok(Some(session))
            }
            Err(e) => Err(e),
        }
    }

    /// Ends `session` in the store (first) and frees its seat in the ledger (second): if the
    /// ledger call fails, the seat still frees itself at TTL and a retry completes the release.
    async fn end(
        &self,
        session: &Session,
        reason: EndReason,
        audit: Option<&AuditEvent>,
    ) -> Result<Session> {
        let ended = self
            .store
            .end_session(
                session.tenant_id,
                session.id,
                self.clock.now(),
                reason,
                audit,
            )
            .await?;
        let key = LedgerKey {
            tenant_id: session.tenant_id,
            license_id: session.license_id,
        };
        self.ledger.release(&key, session.id).await?;
        Ok(ended)
    }

    /// Renews in the ledger, rebuilding it first if it lost its state. `None`: no seat held.
    async fn renew(
        &self,
        key: &LedgerKey,
        session_id: SessionId,
        ttl: Duration,
    ) -> Result<Option<DateTime<Utc>>> {
        for _ in 0..MAX_LEDGER_ATTEMPTS {
            match self.ledger.renew(key, session_id, ttl).await? {
                RenewOutcome::Renewed { expires_at } => return Ok(Some(expires_at)),
                RenewOutcome::Expired => return Ok(None),
                RenewOutcome::Rebuild => self.rebuild(key).await?,
            }
        }
        Err(Error::unavailable(
            Dependency::Ledger,
            "the seat ledger kept losing its state",
        ))
    }

    /// Whether the ledger still holds a freshly recorded grant.
    async fn confirm(&self, key: &LedgerKey, session_id: SessionId, ttl: Duration) -> Result<bool> {
        match self.renew(key, session_id, ttl).await {
            Ok(held) => Ok(held.is_some()),
            Err(e) => {
                // Recorded but unconfirmed: withdraw it so a retry starts clean.
                let now = self.clock.now();
                let ended = self
                    .store
                    .end_session(key.tenant_id, session_id, now, EndReason::Expired, None)
                    .await;
                if let Err(end_error) = ended {
                    warn!(error = %end_error, session_id = %session_id, "could not end an unconfirmed session; the reaper will");
                }
                self.compensate(key, session_id).await;
                Err(e)
            }
        }
    }

    /// Withdraws a grant the store could not record. If this fails too, the seat still frees
    /// itself at TTL.
    async fn compensate(&self, key: &LedgerKey, session_id: SessionId) {
        self.stats.compensations.fetch_add(1, Ordering::Relaxed);
        self.release_quietly(key, session_id).await;
    }

    /// Frees a seat whose session is over, when the caller's answer does not depend on it.
    /// If this fails, the seat still frees itself at TTL.
    async fn release_quietly(&self, key: &LedgerKey, session_id: SessionId) {
        if let Err(e) = self.ledger.release(key, session_id).await {
            warn!(error = %e, session_id = %session_id, "releasing a seat failed; it frees itself at TTL");
        }
    }

    /// Restores a license's seats from the store's live sessions.
    async fn rebuild(&self, key: &LedgerKey) -> Result<()> {
        let live = self
            .store
            .live_sessions(key.tenant_id, key.license_id, self.clock.now())
            .await?;
        let seats: Vec<LiveSeat> = live.iter().map(LiveSeat::from).collect();
        let outcome = self.ledger.rebuild(key, &seats).await?;
        self.stats.ledger_rebuilds.fetch_add(1, Ordering::Relaxed);
        info!(tenant_id = %key.tenant_id, license_id = %key.license_id, seats = seats.len(), ?outcome, "seat ledger rebuilt from the store");
        Ok(())
    }

    async fn lease(&self, license: &License, session: Session) -> Result<Lease> {
        let now = self.clock.now().timestamp();
        let claims = LeaseClaims {
            iss: self.issuer.clone(),
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
        };
        let token = token::issue(self.signer.as_ref(), &claims).await?;
        Ok(Lease {
            session,
            token,
            heartbeat_interval_seconds: license.lease.heartbeat_interval_seconds(),
        })
    }
}

fn ledger_key(license: &License) -> LedgerKey {
    LedgerKey {
        tenant_id: license.tenant_id,
        license_id: license.id,
    }
}

fn ttl_of(license: &License) -> Duration {
    Duration::from_secs(u64::from(license.lease.ttl_seconds()))
}
