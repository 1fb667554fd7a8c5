//! The use cases over the in-memory adapters, with a manual clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::*;

struct World {
    clock: ManualClock,
    store: Arc<MemoryStore>,
    ledger: Arc<MemoryLedger>,
    service: LicenseService,
    admin: AdminService,
    tenant: Tenant,
}

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn world() -> World {
    world_with(|store, ledger| (store, ledger))
}

type Ports = (Arc<dyn Store>, Arc<dyn SeatLedger>);

fn world_with(wrap: impl FnOnce(Arc<dyn Store>, Arc<dyn SeatLedger>) -> Ports) -> World {
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::default());
    let ledger = Arc::new(MemoryLedger::new(Arc::new(clock.clone())));
    let (s, l) = wrap(store.clone(), ledger.clone());
    let signer = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap());
    let service = LicenseService::new(s.clone(), l, signer, Arc::new(clock.clone()), "test");
    let admin = AdminService::new(s, Arc::new(clock.clone()));
    let tenant =
        futures::executor::block_on(admin.create_tenant("Acme", &Actor::Operator)).unwrap();
    World {
        clock,
        store,
        ledger,
        service,
        admin,
        tenant,
    }
}

impl World {
    async fn license(&self, seats: u32) -> License {
        self.admin
            .create_license(
                self.tenant.id,
                NewLicense::new("CAD", SeatCount::new(seats).unwrap()),
                &Actor::Operator,
            )
            .await
            .unwrap()
    }

    async fn acquire(&self, license: &License, hw: &str) -> Result<Lease> {
        self.service
            .acquire(
                self.tenant.id,
                &Actor::System,
                &license.key,
                &HardwareId::parse(hw).unwrap(),
                None,
            )
            .await
    }

    fn advance(&self, seconds: i64) {
        self.clock.advance(TimeDelta::seconds(seconds));
    }
}

#[tokio::test]
async fn the_original_scenario_two_seats() {
    let w = world();
    let l = w.license(2).await;
    let a = w.acquire(&l, "hw-a").await.unwrap();
    w.acquire(&l, "hw-b").await.unwrap();
    let third = w.acquire(&l, "hw-c").await;
    assert!(
        matches!(third, Err(Error::NoSeatsAvailable { limit: 2, .. })),
        "{third:?}"
    );
    w.service
        .release(w.tenant.id, a.session.id, &app())
        .await
        .unwrap();
    assert!(w.acquire(&l, "hw-c").await.is_ok());
    // The refusal was counted for the usage report; the peak arrives with the next flush.
    w.service.flush_write_behind().await.unwrap();
    let day = start().date_naive();
    let usage = w.admin.usage(w.tenant.id, l.id, day, day).await.unwrap();
    assert_eq!((usage[0].peak_seats, usage[0].denials), (2, 1));
}

#[tokio::test]
async fn retry_does_not_take_a_second_seat() {
    let w = world();
    let l = w.license(2).await;
    let first = w.acquire(&l, "hw-a").await.unwrap();
    let retry = w.acquire(&l, "hw-a").await.unwrap();
    assert_eq!(retry.session.id, first.session.id);
    assert_eq!(w.service.live_seats(w.tenant.id, l.id).await.unwrap(), 1);
    assert!(
        w.acquire(&l, "hw-b").await.is_ok(),
        "the second seat is still free"
    );
}

/// The fault soak's `redis_loss_while_pg_down` (ADR 0017): an acquire recorded while the
/// ledger failed, whose record the database could not delete, is restored by the rebuild as a
/// seat. Its machine's next acquire does not get it as a lease while the license is full.
#[tokio::test]
async fn a_record_without_a_grant_is_not_handed_out_over_the_limit() {
    let w = world();
    let l = w.license(2).await;
    w.acquire(&l, "hw-a").await.unwrap();
    w.acquire(&l, "hw-b").await.unwrap();
    w.service.flush_write_behind().await.unwrap();
    w.ledger.set_unavailable(true);
    w.store.set_discards_fail(true);
    let failed = w.acquire(&l, "hw-c").await;
    assert!(
        matches!(failed, Err(Error::Unavailable { .. })),
        "{failed:?}"
    );
    w.ledger.set_unavailable(false);
    w.store.set_discards_fail(false);
    // Redis loses everything; the rebuild restores both leases and the leftover record.
    w.ledger.lose_state();
    assert_eq!(w.service.live_seats(w.tenant.id, l.id).await.unwrap(), 3);
    let c = w.acquire(&l, "hw-c").await;
    assert!(
        matches!(c, Err(Error::NoSeatsAvailable { limit: 2, .. })),
        "a third lease on two seats: {c:?}"
    );
    assert_eq!(
        w.service.live_seats(w.tenant.id, l.id).await.unwrap(),
        2,
        "the leftover seat is freed"
    );
    // The two leases are untouched: a retry of each returns its session.
    let a = w.acquire(&l, "hw-a").await.unwrap();
    assert!(!a.new_seat);
}

/// A fast retry (its grant's confirmation still in the write-behind buffer) keeps its session
/// across a rebuild: the regrant passes and hands the same session out.
#[tokio::test]
async fn an_unconfirmed_grant_is_regranted_to_its_retry() {
    let w = world();
    let l = w.license(2).await;
    let first = w.acquire(&l, "hw-a").await.unwrap();
    w.ledger.lose_state();
    // Something else on the license meets the loss first: the rebuild restores the record.
    assert_eq!(w.service.live_seats(w.tenant.id, l.id).await.unwrap(), 1);
    w.advance(1);
    let retry = w.acquire(&l, "hw-a").await.unwrap();
    assert_eq!(retry.session.id, first.session.id);
    assert!(!retry.new_seat);
    assert_eq!(w.service.live_seats(w.tenant.id, l.id).await.unwrap(), 1);
    w.service.flush_write_behind().await.unwrap();
    let stored = w
        .store
        .get_session(w.tenant.id, first.session.id)
        .await
        .unwrap();
    assert!(stored.confirmed, "the grant is on record after the flush");
}

#[tokio::test]
async fn heartbeat_renews_the_seat_and_signs_a_fresh_token() {
    let w = world();
    let l = w.license(1).await;
    let lease = w.acquire(&l, "hw-a").await.unwrap();
    assert_eq!(lease.session.expires_at, start() + TimeDelta::seconds(360));
    assert_eq!(lease.heartbeat_interval_seconds, 120);
    w.advance(120);
    let renewed = w
        .service
        .heartbeat(w.tenant.id, lease.session.id, &app())
        .await
        .unwrap();
    assert_eq!(
        renewed.session.expires_at,
        start() + TimeDelta::seconds(480)
    );
    assert_ne!(renewed.token, lease.token);
    let claims = w
        .service
        .verifier(w.tenant.id)
        .await
        .unwrap()
        .verify(&renewed.token, w.clock.now())
        .unwrap();
    assert_eq!(claims.exp, renewed.session.expires_at.timestamp());
    // The store learns the renewal from the write-behind buffer (ADR 0017).
    w.service.flush_write_behind().await.unwrap();
    let stored = w
        .store
        .get_session(w.tenant.id, lease.session.id)
        .await
        .unwrap();
    assert_eq!(stored.last_heartbeat_at, start() + TimeDelta::seconds(120));
    assert_eq!(stored.expires_at, renewed.session.expires_at);
}

#[tokio::test]
async fn heartbeat_after_the_ttl_is_session_expired() {
    let w = world();
    let l = w.license(1).await;
    let lease = w.acquire(&l, "hw-a").await.unwrap();
    w.advance(360);
    let late = w
        .service
        .heartbeat(w.tenant.id, lease.session.id, &app())
        .await;
    assert!(matches!(late, Err(Error::SessionExpired)), "{late:?}");
    let stored = w
        .store
        .get_session(w.tenant.id, lease.session.id)
        .await
        .unwrap();
    assert_eq!(stored.end_reason, Some(EndReason::Expired));
    let again = w
        .service
        .heartbeat(w.tenant.id, lease.session.id, &app())
        .await;
    assert!(
        matches!(again, Err(Error::SessionExpired)),
        "never back to life"
    );
}

#[tokio::test]
async fn a_zombie_seat_is_free_exactly_at_its_ttl() {
    let w = world();
    let l = w.license(1).await;
    w.acquire(&l, "crashed").await.unwrap();
    w.advance(359);
    assert!(matches!(
        w.acquire(&l, "hw-b").await,
        Err(Error::NoSeatsAvailable { .. })
    ));
    w.advance(1);
    assert!(w.acquire(&l, "hw-b").await.is_ok());
}

#[tokio::test]
async fn release_is_idempotent_and_ends_the_session() {
    let w = world();
    let l = w.license(1).await;
    let lease = w.acquire(&l, "hw-a").await.unwrap();
    w.advance(5);
    let first = w
        .service
        .release(w.tenant.id, lease.session.id, &app())
        .await
        .unwrap();
    w.advance(5);
    let second = w
        .service
        .release(w.tenant.id, lease.session.id, &app())
        .await
        .unwrap();
    assert_eq!(first.ended_at, Some(start() + TimeDelta::seconds(5)));
    assert_eq!(second.ended_at, first.ended_at);
    assert_eq!(second.end_reason, Some(EndReason::Released));
    assert!(matches!(
        w.service
            .heartbeat(w.tenant.id, lease.session.id, &app())
            .await,
        Err(Error::SessionExpired)
    ));
}

#[tokio::test]
async fn inactive_licenses_grant_nothing_and_end_live_sessions() {
    let w = world();
    let l = w.license(2).await;
    let lease = w.acquire(&l, "hw-a").await.unwrap();
    let t = w.tenant.id;
    w.admin
        .set_status(t, l.id, LicenseStatus::Suspended, &Actor::Operator)
        .await
        .unwrap();
    let refused = w.acquire(&l, "hw-b").await;
    assert_eq!(refused.unwrap_err().code(), "license_suspended");
    let beat = w.service.heartbeat(t, lease.session.id, &app()).await;
    assert_eq!(beat.unwrap_err().code(), "license_suspended");
    let ended = w.store.get_session(t, lease.session.id).await.unwrap();
    assert_eq!(ended.end_reason, Some(EndReason::Revoked));
    w.admin
        .set_status(t, l.id, LicenseStatus::Active, &Actor::Operator)
        .await
        .unwrap();
    assert_eq!(
        w.service.live_seats(t, l.id).await.unwrap(),
        0,
        "the seat was freed"
    );

    w.admin
        .set_status(t, l.id, LicenseStatus::Revoked, &Actor::Operator)
        .await
        .unwrap();
    assert_eq!(
        w.acquire(&l, "hw-b").await.unwrap_err().code(),
        "license_revoked"
    );
    let back = w
        .admin
        .set_status(t, l.id, LicenseStatus::Active, &Actor::Operator)
        .await;
    assert!(
        matches!(back, Err(Error::Conflict(_))),
        "revocation is final"
    );

    let mut new = NewLicense::new("Trial", SeatCount::new(1).unwrap());
    new.expires_at = Some(start() + TimeDelta::days(1));
    let trial = w
        .admin
        .create_license(t, new, &Actor::Operator)
        .await
        .unwrap();
    assert!(w.acquire(&trial, "hw-a").await.is_ok());
    w.advance(86_400);
    assert_eq!(
        w.acquire(&trial, "hw-b").await.unwrap_err().code(),
        "license_expired"
    );
}

#[tokio::test]
async fn foreign_ids_answer_like_missing_ones() {
    let w = world();
    let l = w.license(1).await;
    let lease = w.acquire(&l, "hw-a").await.unwrap();
    let other = w
        .admin
        .create_tenant("Globex", &Actor::Operator)
        .await
        .unwrap();
    let hw = HardwareId::parse("hw-x").unwrap();
    let by_key = w
        .service
        .acquire(other.id, &Actor::System, &l.key, &hw, None)
        .await;
    assert_eq!(by_key.unwrap_err().code(), "license_not_found");
    for result in [
        w.service
            .heartbeat(other.id, lease.session.id, &app())
            .await
            .map(drop),
        w.service
            .release(other.id, lease.session.id, &app())
            .await
            .map(drop),
        w.service.validate(other.id, &lease.token).await.map(drop),
    ] {
        assert_eq!(result.unwrap_err().code(), "session_not_found");
    }
    let missing = w
        .service
        .heartbeat(w.tenant.id, SessionId::new(), &app())
        .await;
    assert_eq!(missing.unwrap_err().code(), "session_not_found");
    // Nothing changed for the owner.
    assert!(
        w.service
            .heartbeat(w.tenant.id, lease.session.id, &app())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_lost_ledger_is_rebuilt_from_the_store() {
    let w = world();
    let l = w.license(2).await;
    let a = w.acquire(&l, "hw-a").await.unwrap();
    w.acquire(&l, "hw-b").await.unwrap();
    let before = w.service.stats().ledger_rebuilds.load(Ordering::Relaxed);
    w.ledger.lose_state();
    assert!(
        matches!(
            w.acquire(&l, "hw-c").await,
            Err(Error::NoSeatsAvailable { .. })
        ),
        "the rebuilt ledger still counts both seats"
    );
    assert!(w.service.stats().ledger_rebuilds.load(Ordering::Relaxed) > before);
    w.ledger.lose_state();
    let renewed = w.service.heartbeat(w.tenant.id, a.session.id, &app()).await;
    assert!(renewed.is_ok(), "heartbeat rebuilds too: {renewed:?}");
    assert_eq!(
        w.acquire(&l, "hw-a").await.unwrap().session.id,
        a.session.id
    );
}

#[tokio::test]
async fn reaper_marks_expired_sessions_once() {
    let w = world();
    let l = w.license(5).await;
    for i in 0..3 {
        w.acquire(&l, &format!("hw-{i}")).await.unwrap();
    }
    w.advance(400);
    // Not yet provably dead: a renewal may still be on its way to the store (ADR 0017).
    assert_eq!(w.service.reap_once(2).await.unwrap().expired, 0);
    w.advance(2 * 86_400);
    assert_eq!(
        w.service.reap_once(2).await.unwrap(),
        ReapOutcome {
            tenants: 1,
            expired: 3,
            deleted: 0,
            tickets: 0
        }
    );
    assert_eq!(w.service.reap_once(2).await.unwrap().expired, 0);
}

#[tokio::test]
async fn validate_checks_the_token_and_the_session() {
    let w = world();
    let l = w.license(1).await;
    let lease = w.acquire(&l, "hw-a").await.unwrap();
    let claims = w.service.validate(w.tenant.id, &lease.token).await.unwrap();
    assert_eq!((claims.sub, claims.lic), (lease.session.id, l.id));
    w.service
        .release(w.tenant.id, lease.session.id, &app())
        .await
        .unwrap();
    let after = w.service.validate(w.tenant.id, &lease.token).await;
    assert!(matches!(after, Err(Error::SessionExpired)), "{after:?}");
    let forged = w.service.validate(w.tenant.id, "e30.e30.e30").await;
    assert_eq!(forged.unwrap_err().code(), "invalid_token");
}

#[tokio::test]
async fn a_new_root_keeps_tenant_keys_published_and_certifies_the_next_ones() {
    let w = world();
    let l = w.license(1).await;
    let lease = w.acquire(&l, "hw-a").await.unwrap();
    let old_root = w.service.jwks().keys.remove(0);
    // The root rotation: a new root over the same store, ledger and clock, the old one
    // retired (still published, so certificates it signed keep checking out).
    let new_root = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap());
    let service = LicenseService::new(
        w.store.clone(),
        w.ledger.clone(),
        new_root.clone(),
        Arc::new(w.clock.clone()),
        "test",
    )
    .with_retired_keys(vec![old_root.clone()]);
    let roots = service.jwks();
    assert_eq!(roots.keys.len(), 2);
    assert_eq!(roots.keys[1], old_root);
    // The old tenant key is still published: its leases validate.
    let claims = service.validate(w.tenant.id, &lease.token).await.unwrap();
    assert_eq!(claims.sub, lease.session.id);
    // Its private half was wrapped under the old root's wrapper: the new service makes its
    // own key, certified by the new root.
    let renewed = service
        .heartbeat(w.tenant.id, lease.session.id, &app())
        .await
        .unwrap();
    let published = service.tenant_jwks(w.tenant.id).await.unwrap();
    assert_eq!(published.keys.len(), 2, "{published:?}");
    let pinned_new = TokenVerifier::pinned(
        &Jwks {
            keys: vec![new_root.public_jwk()],
        },
        &published,
        "test",
        w.tenant.id,
        w.clock.now(),
    )
    .unwrap();
    assert!(pinned_new.verify(&renewed.token, w.clock.now()).is_ok());
    // A client pinning both roots trusts both keys; one pinning only the old root cannot
    // trust the new key yet (the runbook ships the new root to applications first).
    let pinned_both =
        TokenVerifier::pinned(&roots, &published, "test", w.tenant.id, w.clock.now()).unwrap();
    assert!(pinned_both.verify(&lease.token, w.clock.now()).is_ok());
    assert!(pinned_both.verify(&renewed.token, w.clock.now()).is_ok());
    let pinned_old = TokenVerifier::pinned(
        &Jwks {
            keys: vec![old_root],
        },
        &published,
        "test",
        w.tenant.id,
        w.clock.now(),
    )
    .unwrap();
    assert!(pinned_old.verify(&renewed.token, w.clock.now()).is_err());

    w.advance(6 * 60 + 1);
    let expired = service.validate(w.tenant.id, &lease.token).await;
    assert!(expired.is_err(), "{expired:?}");
}

#[tokio::test]
async fn tokens_the_root_signed_before_tenant_keys_validate_until_they_expire() {
    let w = world();
    let l = w.license(1).await;
    let lease = w.acquire(&l, "hw-a").await.unwrap();
    // A token as the server signed it before tenant keys: by the root, without `aud`.
    let root = LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap();
    let service = LicenseService::new(
        w.store.clone(),
        w.ledger.clone(),
        Arc::new(LocalSigner::from_pkcs8(SigningAlgorithm::EdDSA, &root.to_pkcs8()).unwrap()),
        Arc::new(w.clock.clone()),
        "test",
    );
    let now = w.clock.now().timestamp();
    let mut legacy = LeaseClaims {
        iss: "test".into(),
        aud: None,
        sub: lease.session.id,
        tid: w.tenant.id,
        lic: l.id,
        hwid: "hw-a".into(),
        ent: vec![],
        iat: now,
        nbf: now,
        exp: lease.session.expires_at.timestamp(),
        ovd: false,
        brw: false,
    };
    let token = license_core::token::issue(&root, &legacy).await.unwrap();
    let claims = service.validate(w.tenant.id, &token).await.unwrap();
    assert_eq!(claims, legacy);
    // Still bound to its tenant.
    let other = w
        .admin
        .create_tenant("Globex", &Actor::Operator)
        .await
        .unwrap();
    let refused = service.validate(other.id, &token).await;
    assert_eq!(refused.unwrap_err().code(), "session_not_found");
    // A root-signed token that is not a legacy one (it names an audience) is for that
    // audience only.
    legacy.aud = Some(other.id);
    let token = license_core::token::issue(&root, &legacy).await.unwrap();
    let refused = service.validate(w.tenant.id, &token).await;
    assert_eq!(refused.unwrap_err().code(), "session_not_found");

    w.advance(6 * 60 + 31);
    let expired = service.validate(w.tenant.id, &lease.token).await;
    assert!(expired.is_err(), "{expired:?}");
}

#[tokio::test]
async fn an_unavailable_ledger_grants_nothing_and_records_nothing() {
    let w = world();
    let l = w.license(1).await;
    w.ledger.set_unavailable(true);
    let down = w.acquire(&l, "hw-a").await;
    assert!(
        matches!(
            down,
            Err(Error::Unavailable {
                dependency: Dependency::Ledger,
                ..
            })
        ),
        "{down:?}"
    );
    assert!(
        w.store
            .live_sessions(w.tenant.id, l.id, w.clock.now())
            .await
            .unwrap()
            .is_empty()
    );
    let ready = w.service.check_ready().await;
    assert!(matches!(
        ready,
        Err(Error::Unavailable {
            dependency: Dependency::Ledger,
            ..
        })
    ));
    w.ledger.set_unavailable(false);
    assert!(w.acquire(&l, "hw-a").await.is_ok());
    assert!(w.service.check_ready().await.is_ok());
    w.store.set_unavailable(true);
    let ready = w.service.check_ready().await;
    assert!(matches!(
        ready,
        Err(Error::Unavailable {
            dependency: Dependency::Store,
            ..
        })
    ));
}

/// A store whose session inserts fail on demand; everything else is the memory store.
#[derive(Debug)]
struct InsertFails {
    inner: Arc<MemoryStore>,
    failing: AtomicBool,
}

#[async_trait]
impl LicenseStore for InsertFails {
    async fn create_tenant(&self, t: &Tenant, a: &AuditEvent) -> Result<()> {
        self.inner.create_tenant(t, a).await
    }
    async fn get_tenant(&self, id: TenantId) -> Result<Tenant> {
        self.inner.get_tenant(id).await
    }
    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.inner.list_tenants().await
    }
    async fn create_license(&self, l: &License, q: &TenantQuotas, a: &AuditEvent) -> Result<()> {
        self.inner.create_license(l, q, a).await
    }
    async fn get_license(&self, t: TenantId, id: LicenseId) -> Result<License> {
        self.inner.get_license(t, id).await
    }
    async fn find_license_by_key(&self, t: TenantId, k: &LicenseKey) -> Result<License> {
        self.inner.find_license_by_key(t, k).await
    }
    async fn list_licenses(&self, t: TenantId, p: Page<LicenseId>) -> Result<Vec<License>> {
        self.inner.list_licenses(t, p).await
    }
    async fn update_license(&self, l: &License, q: &TenantQuotas, a: &AuditEvent) -> Result<()> {
        self.inner.update_license(l, q, a).await
    }
    async fn tenant_usage_totals(&self, t: TenantId) -> Result<TenantUsage> {
        self.inner.tenant_usage_totals(t).await
    }
}

#[async_trait]
impl SessionStore for InsertFails {
    async fn mark_overdraft(&self, t: TenantId, id: SessionId) -> Result<()> {
        self.inner.mark_overdraft(t, id).await
    }
    async fn end_linger(&self, t: TenantId, id: SessionId, at: DateTime<Utc>) -> Result<()> {
        self.inner.end_linger(t, id, at).await
    }
    async fn lingering_sessions(
        &self,
        t: TenantId,
        l: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        self.inner.lingering_sessions(t, l, now).await
    }
    async fn held_off_sessions(
        &self,
        t: TenantId,
        l: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        self.inner.held_off_sessions(t, l, now).await
    }
    async fn borrowed_sessions_page(
        &self,
        t: TenantId,
        l: LicenseId,
        now: DateTime<Utc>,
        p: Page<SessionCursor>,
    ) -> Result<Vec<Session>> {
        self.inner.borrowed_sessions_page(t, l, now, p).await
    }
    async fn overdraft_sessions(
        &self,
        t: TenantId,
        l: LicenseId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        self.inner.overdraft_sessions(t, l, from, to).await
    }

    async fn insert_session(&self, s: &Session, in_use: u32) -> Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::unavailable(Dependency::Store, "injected"));
        }
        self.inner.insert_session(s, in_use).await
    }
    async fn get_session(&self, t: TenantId, id: SessionId) -> Result<Session> {
        self.inner.get_session(t, id).await
    }
    async fn live_sessions(
        &self,
        t: TenantId,
        l: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        self.inner.live_sessions(t, l, now).await
    }
    async fn live_sessions_page(
        &self,
        t: TenantId,
        l: LicenseId,
        now: DateTime<Utc>,
        p: Page<SessionCursor>,
    ) -> Result<Vec<Session>> {
        self.inner.live_sessions_page(t, l, now, p).await
    }
    async fn delete_ended_sessions(
        &self,
        t: TenantId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64> {
        self.inner.delete_ended_sessions(t, before, limit).await
    }
    async fn discard_session(&self, t: TenantId, id: SessionId) -> Result<()> {
        self.inner.discard_session(t, id).await
    }
    async fn flush_write_behind(&self, batch: &WriteBehindBatch) -> Result<()> {
        self.inner.flush_write_behind(batch).await
    }
    async fn end_session(
        &self,
        t: TenantId,
        id: SessionId,
        end: &SessionEnd,
        a: Option<&AuditEvent>,
    ) -> Result<Ended> {
        self.inner.end_session(t, id, end, a).await
    }
    async fn set_session_secret(
        &self,
        t: TenantId,
        id: SessionId,
        hash: &SessionSecretHash,
    ) -> Result<()> {
        self.inner.set_session_secret(t, id, hash).await
    }
    async fn expire_due(
        &self,
        t: TenantId,
        l: LicenseId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Session>> {
        self.inner.expire_due(t, l, before, limit).await
    }
    async fn record_denial(&self, t: TenantId, l: LicenseId, at: DateTime<Utc>) -> Result<()> {
        self.inner.record_denial(t, l, at).await
    }
    async fn usage(
        &self,
        t: TenantId,
        l: LicenseId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UsageDay>> {
        self.inner.usage(t, l, from, to).await
    }
}

#[async_trait]
impl ApiKeyStore for InsertFails {
    async fn create_api_key(&self, k: &ApiKey, q: &TenantQuotas, a: &AuditEvent) -> Result<()> {
        self.inner.create_api_key(k, q, a).await
    }
    async fn find_api_key(&self, t: TenantId, p: &str) -> Result<ApiKey> {
        self.inner.find_api_key(t, p).await
    }
    async fn list_api_keys(&self, t: TenantId) -> Result<Vec<ApiKey>> {
        self.inner.list_api_keys(t).await
    }
    async fn revoke_api_key(
        &self,
        t: TenantId,
        id: ApiKeyId,
        at: DateTime<Utc>,
        a: &AuditEvent,
    ) -> Result<()> {
        self.inner.revoke_api_key(t, id, at, a).await
    }
    async fn touch_api_key(&self, t: TenantId, id: ApiKeyId, at: DateTime<Utc>) -> Result<()> {
        self.inner.touch_api_key(t, id, at).await
    }
}

#[async_trait]
impl AuditLog for InsertFails {
    async fn append_audit(&self, e: &AuditEvent) -> Result<()> {
        self.inner.append_audit(e).await
    }
    async fn list_audit(&self, t: TenantId, limit: u32) -> Result<Vec<AuditEvent>> {
        self.inner.list_audit(t, limit).await
    }
}

#[async_trait]
impl license_core::TenantKeyStore for InsertFails {
    async fn tenant_keys(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
    ) -> Result<Vec<license_core::TenantKey>> {
        self.inner.tenant_keys(t, now).await
    }
    async fn insert_tenant_key(
        &self,
        k: &license_core::TenantKey,
        a: Option<&AuditEvent>,
    ) -> Result<()> {
        self.inner.insert_tenant_key(k, a).await
    }
    async fn revoke_tenant_keys(
        &self,
        t: TenantId,
        g: u32,
        at: DateTime<Utc>,
        a: &AuditEvent,
    ) -> Result<u32> {
        self.inner.revoke_tenant_keys(t, g, at, a).await
    }
    async fn tenant_keys_changed_since(&self, since: DateTime<Utc>) -> Result<Vec<TenantId>> {
        self.inner.tenant_keys_changed_since(since).await
    }
}

#[async_trait]
impl license_core::event_log::EventLogStore for InsertFails {
    async fn append_events(
        &self,
        t: TenantId,
        e: Vec<license_core::event_log::NewLogEntry>,
    ) -> Result<u64> {
        self.inner.append_events(t, e).await
    }
    async fn read_events(
        &self,
        t: TenantId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<license_core::event_log::LogEntry>> {
        self.inner.read_events(t, after, limit).await
    }
    async fn log_cut(&self, t: TenantId) -> Result<Option<license_core::log_retention::LogCut>> {
        self.inner.log_cut(t).await
    }
    async fn trim_events(
        &self,
        t: TenantId,
        previous: Option<u64>,
        cut: &license_core::log_retention::LogCut,
        days: &[license_core::log_retention::KeptDay],
    ) -> Result<u64> {
        self.inner.trim_events(t, previous, cut, days).await
    }
    async fn kept_days(
        &self,
        t: TenantId,
        l: LicenseId,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<license_core::log_retention::KeptDay>> {
        self.inner.kept_days(t, l, from, to).await
    }
}

#[async_trait]
impl license_core::webhooks::WebhookStore for InsertFails {
    async fn create_webhook(
        &self,
        e: &license_core::webhooks::WebhookEndpoint,
        a: &AuditEvent,
    ) -> Result<license_core::webhooks::WebhookEndpoint> {
        self.inner.create_webhook(e, a).await
    }
    async fn get_webhook(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
    ) -> Result<license_core::webhooks::WebhookEndpoint> {
        self.inner.get_webhook(t, id).await
    }
    async fn list_webhooks(
        &self,
        t: TenantId,
    ) -> Result<Vec<license_core::webhooks::WebhookEndpoint>> {
        self.inner.list_webhooks(t).await
    }
    async fn update_webhook(
        &self,
        e: &license_core::webhooks::WebhookEndpoint,
        with_state: bool,
        a: &AuditEvent,
    ) -> Result<()> {
        self.inner.update_webhook(e, with_state, a).await
    }
    async fn delete_webhook(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        a: &AuditEvent,
    ) -> Result<()> {
        self.inner.delete_webhook(t, id, a).await
    }
    async fn claim_due_webhooks(
        &self,
        c: &license_core::webhooks::WebhookClaim,
        limit: u32,
    ) -> Result<Vec<license_core::webhooks::WebhookEndpoint>> {
        self.inner.claim_due_webhooks(c, limit).await
    }
    async fn record_webhook_progress(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        by: &str,
        cursor: u64,
        d: Option<&license_core::webhooks::Delivery>,
    ) -> Result<()> {
        self.inner
            .record_webhook_progress(t, id, by, cursor, d)
            .await
    }
    async fn record_webhook_failure(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        by: &str,
        f: &license_core::webhooks::DeliveryFailure,
    ) -> Result<()> {
        self.inner.record_webhook_failure(t, id, by, f).await
    }
    async fn release_webhook_claim(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        by: &str,
    ) -> Result<()> {
        self.inner.release_webhook_claim(t, id, by).await
    }
    async fn list_webhook_deliveries(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        limit: u32,
    ) -> Result<Vec<license_core::webhooks::Delivery>> {
        self.inner.list_webhook_deliveries(t, id, limit).await
    }
    async fn rotate_webhook_secret(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        secret: &license_core::webhooks::WebhookSecret,
        until: DateTime<Utc>,
        a: &AuditEvent,
    ) -> Result<license_core::webhooks::WebhookEndpoint> {
        self.inner
            .rotate_webhook_secret(t, id, secret, until, a)
            .await
    }
    async fn prune_webhook_deliveries(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64> {
        self.inner
            .prune_webhook_deliveries(t, id, before, limit)
            .await
    }
    async fn redeliver_webhook(
        &self,
        t: TenantId,
        id: license_core::WebhookId,
        from: u64,
        a: &AuditEvent,
    ) -> Result<()> {
        self.inner.redeliver_webhook(t, id, from, a).await
    }
}

#[async_trait]
impl QueueTicketStore for InsertFails {
    async fn record_ticket(&self, t: &QueueTicket) -> Result<()> {
        self.inner.record_ticket(t).await
    }
    async fn delete_ticket(&self, t: TenantId, ticket: SessionId) -> Result<bool> {
        self.inner.delete_ticket(t, ticket).await
    }
    async fn live_tickets(
        &self,
        t: TenantId,
        l: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueueTicket>> {
        self.inner.live_tickets(t, l, now).await
    }
    async fn delete_expired_tickets(
        &self,
        t: TenantId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64> {
        self.inner.delete_expired_tickets(t, before, limit).await
    }
}

#[async_trait]
impl Store for InsertFails {
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
}

#[tokio::test]
async fn a_session_the_store_cannot_record_takes_no_seat() {
    let slot = Arc::new(std::sync::OnceLock::<Arc<InsertFails>>::new());
    let s = slot.clone();
    // The service and admin use the flaky store; `w.store` plays no part in this test.
    let w = world_with(move |_, ledger| (store_slot(&s), ledger));
    let flaky = slot.get().unwrap().clone();
    let tenant = w
        .admin
        .create_tenant("Flaky", &Actor::Operator)
        .await
        .unwrap();
    let l = w
        .admin
        .create_license(
            tenant.id,
            NewLicense::new("CAD", SeatCount::new(1).unwrap()),
            &Actor::Operator,
        )
        .await
        .unwrap();
    let hw = HardwareId::parse("hw-a").unwrap();
    flaky.failing.store(true, Ordering::SeqCst);
    let failed = w
        .service
        .acquire(tenant.id, &Actor::System, &l.key, &hw, None)
        .await;
    assert!(
        matches!(
            failed,
            Err(Error::Unavailable {
                dependency: Dependency::Store,
                ..
            })
        ),
        "{failed:?}"
    );
    // Recorded first (ADR 0017): a store that cannot record means the ledger was never asked.
    assert_eq!(w.service.stats().compensations.load(Ordering::Relaxed), 0);
    assert_eq!(
        w.service.live_seats(tenant.id, l.id).await.unwrap(),
        0,
        "no seat was taken"
    );
    flaky.failing.store(false, Ordering::SeqCst);
    let other = HardwareId::parse("hw-b").unwrap();
    assert!(
        w.service
            .acquire(tenant.id, &Actor::System, &l.key, &other, None)
            .await
            .is_ok(),
        "the one seat is free"
    );
}

fn store_slot(slot: &std::sync::OnceLock<Arc<InsertFails>>) -> Arc<dyn Store> {
    let flaky = Arc::new(InsertFails {
        inner: Arc::new(MemoryStore::default()),
        failing: AtomicBool::new(false),
    });
    let _ = slot.set(flaky.clone());
    flaky
}

/// A ledger that loses its state right after one grant; another replica then rebuilds it from
/// the store as it is at that moment, and another client asks for the last seat.
#[derive(Debug)]
struct LossAfterGrant {
    inner: Arc<MemoryLedger>,
    store: Arc<dyn Store>,
    armed: AtomicBool,
    intruder_refused: AtomicBool,
}

#[async_trait]
impl SeatLedger for LossAfterGrant {
    async fn acquire_queued(
        &self,
        key: &LedgerKey,
        request: &SeatRequest,
        queue: &QueueRequest,
    ) -> Result<AcquireOutcome> {
        let outcome = self.inner.acquire_queued(key, request, queue).await?;
        if matches!(outcome, AcquireOutcome::Granted { .. })
            && self.armed.swap(false, Ordering::SeqCst)
        {
            self.inner.lose_state();
            let live = self
                .store
                .live_sessions(key.tenant_id, key.license_id, start())
                .await?;
            let seats: Vec<LiveSeat> = live.iter().map(LiveSeat::from).collect();
            self.inner.rebuild(key, &seats, &[]).await?;
            let intruder = SeatRequest {
                session_id: SessionId::new(),
                hardware_id: HardwareId::parse("other-replica").unwrap(),
                ..request.clone()
            };
            let refused = self.inner.acquire(key, &intruder).await? == AcquireOutcome::NoSeats;
            self.intruder_refused.store(refused, Ordering::SeqCst);
        }
        Ok(outcome)
    }
    async fn regrant(&self, key: &LedgerKey, request: &SeatRequest) -> Result<AcquireOutcome> {
        self.inner.regrant(key, request).await
    }
    async fn leave(&self, key: &LedgerKey, ticket: SessionId) -> Result<bool> {
        self.inner.leave(key, ticket).await
    }
    async fn queue(&self, key: &LedgerKey, limit: usize) -> Result<Vec<Waiter>> {
        self.inner.queue(key, limit).await
    }
    async fn renew(
        &self,
        key: &LedgerKey,
        seat: SeatRef<'_>,
        ttl: std::time::Duration,
    ) -> Result<RenewOutcome> {
        self.inner.renew(key, seat, ttl).await
    }
    async fn release(&self, key: &LedgerKey, seat: SeatRef<'_>) -> Result<()> {
        self.inner.release(key, seat).await
    }
    async fn live_count(&self, key: &LedgerKey) -> Result<LiveCount> {
        self.inner.live_count(key).await
    }
    async fn evict(&self, key: &LedgerKey, seat: SeatRef<'_>, hold: &Hold) -> Result<()> {
        self.inner.evict(key, seat, hold).await
    }
    async fn linger(
        &self,
        key: &LedgerKey,
        seat: SeatRef<'_>,
        linger: std::time::Duration,
    ) -> Result<bool> {
        self.inner.linger(key, seat, linger).await
    }
    async fn rebuild_queued(
        &self,
        key: &LedgerKey,
        seats: &[LiveSeat],
        holds: &[HoldOff],
        tickets: &[QueueTicket],
        poll_within: std::time::Duration,
    ) -> Result<RebuildOutcome> {
        self.inner
            .rebuild_queued(key, seats, holds, tickets, poll_within)
            .await
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
}

#[tokio::test]
async fn a_rebuild_right_after_a_grant_keeps_the_grant() {
    let slot = Arc::new(std::sync::OnceLock::<Arc<LossAfterGrant>>::new());
    let s = slot.clone();
    let w = world_with(move |store, _| {
        // Time stands still in this test: the ledger's own clock at `start()` is enough.
        let clock = ManualClock::new(start());
        let lossy = Arc::new(LossAfterGrant {
            inner: Arc::new(MemoryLedger::new(Arc::new(clock))),
            store: store.clone(),
            armed: AtomicBool::new(false),
            intruder_refused: AtomicBool::new(false),
        });
        let _ = s.set(lossy.clone());
        (store, lossy)
    });
    let lossy = slot.get().unwrap().clone();
    let l = w.license(1).await;
    // Initialised first, so the acquire below is an ordinary grant.
    assert_eq!(w.service.live_seats(w.tenant.id, l.id).await.unwrap(), 0);
    lossy.armed.store(true, Ordering::SeqCst);
    // The session is recorded before the ledger grants (ADR 0017), so the rebuild finds it.
    let lease = w.acquire(&l, "hw-a").await.unwrap();
    assert!(lease.new_seat);
    assert!(
        lossy.intruder_refused.load(Ordering::SeqCst),
        "the rebuilt ledger must still count the seat just granted"
    );
}

/// The caller in these tests: the embedding application itself (its sessions bind no one).
fn app() -> Caller {
    Caller::new(Actor::System)
}
