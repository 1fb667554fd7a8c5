//! Sessions bound to their holder (ADR 0023): a person's session answers only to that person;
//! a session whose license requires a secret answers only to its secret; a refusal is the
//! answer for an unknown session and changes nothing; releases are audited.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use license_core::events::{DenialReason, MemoryEvents};
use license_core::hot_path::HotPathConfig;
use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::*;

struct World {
    clock: ManualClock,
    store: Arc<MemoryStore>,
    ledger: Arc<MemoryLedger>,
    signer: Arc<LocalSigner>,
    events: Arc<MemoryEvents>,
    service: LicenseService,
    admin: AdminService,
    tenant: Tenant,
}

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn world() -> World {
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::default());
    let ledger = Arc::new(MemoryLedger::new(Arc::new(clock.clone())));
    let signer = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap());
    let events = Arc::new(MemoryEvents::default());
    let admin = AdminService::new(store.clone(), Arc::new(clock.clone()));
    let tenant =
        futures::executor::block_on(admin.create_tenant("Acme", &Actor::Operator)).unwrap();
    let service = replica(&store, &ledger, &signer, &clock).with_events(events.clone());
    World {
        clock,
        store,
        ledger,
        signer,
        events,
        service,
        admin,
        tenant,
    }
}

/// A service on the world's store and ledger with the production hot path (licenses and
/// sessions cached): another replica.
fn replica(
    store: &Arc<MemoryStore>,
    ledger: &Arc<MemoryLedger>,
    signer: &Arc<LocalSigner>,
    clock: &ManualClock,
) -> LicenseService {
    LicenseService::new(
        store.clone(),
        ledger.clone(),
        signer.clone(),
        Arc::new(clock.clone()),
        "test",
    )
    .with_hot_path(HotPathConfig::default())
}

fn user(subject: &str) -> Actor {
    Actor::User(subject.into())
}

fn key() -> Actor {
    Actor::ApiKey(ApiKeyId::new())
}

fn hw(id: &str) -> HardwareId {
    HardwareId::parse(id).unwrap()
}

impl World {
    async fn license(&self, require_session_secret: bool) -> License {
        let mut new = NewLicense::new("CAD", SeatCount::new(3).unwrap());
        new.require_session_secret = require_session_secret;
        self.admin
            .create_license(self.tenant.id, new, &Actor::Operator)
            .await
            .unwrap()
    }

    async fn acquire(&self, holder: &Actor, license: &License, machine: &str) -> Result<Lease> {
        self.service
            .acquire(self.tenant.id, holder, &license.key, &hw(machine), None)
            .await
    }

    async fn session(&self, lease: &Lease) -> Session {
        self.store
            .get_session(self.tenant.id, lease.session.id)
            .await
            .unwrap()
    }

    async fn live_seats(&self, license: &License) -> u32 {
        self.service
            .live_seats(self.tenant.id, license.id)
            .await
            .unwrap()
    }

    async fn releases(&self) -> Vec<AuditEvent> {
        self.admin
            .audit_log(self.tenant.id, 500)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "session.release")
            .collect()
    }
}

fn not_found<T: std::fmt::Debug>(result: Result<T>, what: &str) {
    match result {
        Err(Error::NotFound(Resource::Session)) => {}
        other => panic!("{what}: expected session_not_found, got {other:?}"),
    }
}

#[tokio::test]
async fn another_person_cannot_renew_or_release_a_persons_session() {
    let w = world();
    let l = w.license(false).await;
    let ada = user("ada");
    let lease = w.acquire(&ada, &l, "ws-1").await.unwrap();
    assert_eq!(w.session(&lease).await.holder, Some(ada.clone()));
    assert!(lease.secret.is_none(), "no secret unless the license asks");
    let id = lease.session.id;
    let t = w.tenant.id;

    w.clock.advance(TimeDelta::seconds(60));
    for intruder in [user("bob"), key(), Actor::System] {
        let caller = Caller::new(intruder.clone());
        not_found(w.service.heartbeat(t, id, &caller).await, "heartbeat");
        not_found(w.service.release(t, id, &caller).await, "release");
        // Another replica, which has never seen the session, answers the same.
        let other = replica(&w.store, &w.ledger, &w.signer, &w.clock);
        not_found(other.heartbeat(t, id, &caller).await, "heartbeat elsewhere");
        not_found(other.release(t, id, &caller).await, "release elsewhere");
    }
    // Nothing changed: the session is live and still Ada's to renew.
    let session = w.session(&lease).await;
    assert!(session.ended_at.is_none());
    assert_eq!(w.live_seats(&l).await, 1);
    assert!(w.releases().await.is_empty(), "refusals are not releases");
    let renewed = w
        .service
        .heartbeat(t, id, &Caller::new(ada.clone()))
        .await
        .unwrap();
    assert!(renewed.session.expires_at > lease.session.expires_at);
    w.service.release(t, id, &Caller::new(ada)).await.unwrap();
    assert_eq!(w.live_seats(&l).await, 0);
}

#[tokio::test]
async fn a_persons_machine_is_not_handed_to_another_person() {
    let w = world();
    let l = w.license(false).await;
    let lease = w.acquire(&user("ada"), &l, "ws-1").await.unwrap();
    let before = w.events.events().len();
    let refused = w.acquire(&user("bob"), &l, "ws-1").await.unwrap_err();
    assert_eq!(refused.code(), "conflict");
    let denied = w.events.events().pop().unwrap();
    assert_eq!(w.events.events().len(), before + 1);
    assert_eq!(
        denied.kind,
        SeatEventKind::Denied {
            reason: DenialReason::HeldByAnotherUser
        }
    );
    // Ada's retry gets her own session back; a key-acquired session goes to anyone's retry.
    let retry = w.acquire(&user("ada"), &l, "ws-1").await.unwrap();
    assert_eq!(retry.session.id, lease.session.id);
    assert!(!retry.new_seat);
    let shared = w.acquire(&key(), &l, "kiosk").await.unwrap();
    let again = w.acquire(&user("bob"), &l, "kiosk").await.unwrap();
    assert_eq!(again.session.id, shared.session.id);
    assert_eq!(w.live_seats(&l).await, 2);
}

#[tokio::test]
async fn a_session_with_a_secret_answers_only_to_its_secret() {
    let w = world();
    let l = w.license(true).await;
    let app = key();
    let lease = w.acquire(&app, &l, "pc-1").await.unwrap();
    let secret = lease.secret.clone().expect("the license asks for a secret");
    let stored = w.session(&lease).await;
    assert!(stored.secret_hash.is_some_and(|h| h.matches(&secret)));
    let (t, id) = (w.tenant.id, lease.session.id);

    w.clock.advance(TimeDelta::seconds(60));
    let wrong = SessionSecret::generate().unwrap();
    for caller in [
        Caller::new(app.clone()),
        Caller::new(app.clone()).with_secret(Some(wrong.clone())),
        Caller::new(key()).with_secret(Some(wrong)),
    ] {
        not_found(w.service.heartbeat(t, id, &caller).await, "heartbeat");
        not_found(w.service.release(t, id, &caller).await, "release");
    }
    assert_eq!(w.session(&lease).await, stored, "nothing changed");
    assert_eq!(w.live_seats(&l).await, 1);

    // The secret works from any copy of the app (the key is shared), and is never given again.
    let holder = Caller::new(key()).with_secret(Some(secret));
    let renewed = w.service.heartbeat(t, id, &holder).await.unwrap();
    assert!(
        renewed.secret.is_none(),
        "a heartbeat never returns the secret"
    );
    let released = w.service.release(t, id, &holder).await.unwrap();
    assert!(released.ended_at.is_some());
    assert_eq!(w.live_seats(&l).await, 0);
}

#[tokio::test]
async fn a_retried_acquire_replaces_the_secret_on_every_replica() {
    let w = world();
    let l = w.license(true).await;
    let app = key();
    let first = w.acquire(&app, &l, "pc-1").await.unwrap();
    let old = first.secret.clone().unwrap();
    let (t, id) = (w.tenant.id, first.session.id);
    // Another replica learns the session (and its first secret) from a heartbeat.
    let other = replica(&w.store, &w.ledger, &w.signer, &w.clock);
    let with = |s: &SessionSecret| Caller::new(app.clone()).with_secret(Some(s.clone()));
    other.heartbeat(t, id, &with(&old)).await.unwrap();

    // The client timed out and retried: same session, a new secret (it never saw the first).
    let retry = w.acquire(&app, &l, "pc-1").await.unwrap();
    assert_eq!(retry.session.id, id);
    let new = retry.secret.clone().unwrap();
    assert_ne!(new.expose(), old.expose());

    // Both replicas accept the new secret (the other one re-reads the store once) and refuse
    // the old one.
    for service in [&w.service, &other] {
        service.heartbeat(t, id, &with(&new)).await.unwrap();
        not_found(service.heartbeat(t, id, &with(&old)).await, "old secret");
    }
    // A license that starts requiring secrets gives one to a retry of an older session.
    let plain = w.license(false).await;
    let open = w.acquire(&app, &plain, "pc-2").await.unwrap();
    assert!(open.secret.is_none());
    w.admin
        .update_license(
            t,
            plain.id,
            LicenseChange {
                require_session_secret: Some(true),
                ..LicenseChange::default()
            },
            &Actor::Operator,
        )
        .await
        .unwrap();
    let fresh = replica(&w.store, &w.ledger, &w.signer, &w.clock);
    let guarded = fresh
        .acquire(t, &app, &plain.key, &hw("pc-2"), None)
        .await
        .unwrap();
    assert_eq!(guarded.session.id, open.session.id);
    let secret = guarded.secret.unwrap();
    not_found(
        fresh
            .heartbeat(t, open.session.id, &Caller::new(app.clone()))
            .await,
        "now guarded",
    );
    fresh
        .heartbeat(t, open.session.id, &with(&secret))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_heartbeat_checks_the_holder_without_the_store() {
    let w = world();
    let l = w.license(true).await;
    let ada = user("ada");
    let lease = w.acquire(&ada, &l, "ws-1").await.unwrap();
    let caller = Caller::new(ada).with_secret(lease.secret.clone());
    let (t, id) = (w.tenant.id, lease.session.id);
    // Licenses and sessions are cached; the write-behind has not come due.
    w.store.set_unavailable(true);
    w.service.heartbeat(t, id, &caller).await.unwrap();
    // A refusal would re-read the store; it is down, so that is a 503, not a guess.
    let refused = w.service.heartbeat(t, id, &Caller::new(user("bob"))).await;
    assert_eq!(refused.unwrap_err().code(), "unavailable");
    w.store.set_unavailable(false);
}

#[tokio::test]
async fn client_releases_are_audited_once_with_their_actor() {
    let w = world();
    let l = w.license(false).await;
    let ada = user("ada");
    let lease = w.acquire(&ada, &l, "ws-1").await.unwrap();
    let caller = Caller::new(ada.clone());
    let t = w.tenant.id;
    w.clock.advance(TimeDelta::seconds(5));
    let ended = w
        .service
        .release(t, lease.session.id, &caller)
        .await
        .unwrap();
    w.service
        .release(t, lease.session.id, &caller)
        .await
        .unwrap();
    let releases = w.releases().await;
    assert_eq!(releases.len(), 1, "a repeated release records nothing");
    let event = &releases[0];
    assert_eq!(event.actor, ada);
    assert_eq!(event.target, format!("session:{}", lease.session.id));
    assert_eq!(Some(event.at), ended.ended_at);
    assert_eq!(event.details["hardware_id"], "ws-1");
    assert_eq!(event.details["license_id"], l.id.to_string());

    // An administrator's force release is audited with the administrator.
    let other = w.acquire(&key(), &l, "ws-2").await.unwrap();
    let admin = Actor::ApiKey(ApiKeyId::new());
    let audit = AuditEvent::new(
        t,
        admin.clone(),
        "session.force_release",
        format!("session:{}", other.session.id),
        w.clock.now(),
        serde_json::json!({}),
    );
    w.service
        .evict_session(t, other.session.id, &Default::default(), &audit)
        .await
        .unwrap();
    w.service
        .evict_session(t, other.session.id, &Default::default(), &audit)
        .await
        .unwrap();
    let forced: Vec<_> = w
        .admin
        .audit_log(t, 500)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "session.force_release")
        .collect();
    assert_eq!(forced.len(), 1);
    assert_eq!(forced[0].actor, admin);
}

#[tokio::test]
async fn session_ids_are_random_and_distinct() {
    let w = world();
    let l = w.license(false).await;
    let mut ids = std::collections::HashSet::new();
    for i in 0..3 {
        let lease = w.acquire(&key(), &l, &format!("pc-{i}")).await.unwrap();
        assert_eq!(lease.session.id.as_uuid().get_version_num(), 4);
        ids.insert(lease.session.id);
        let claims = w.service.validate(w.tenant.id, &lease.token).await.unwrap();
        assert_eq!(claims.sub, lease.session.id);
    }
    assert_eq!(ids.len(), 3);
}
