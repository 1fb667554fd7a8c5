//! Tenant signing keys: one key per tenant, certified by the root, rotated without a failed
//! verification, made once and shared by replicas, revocable, and off the root's per-lease
//! path (the root signs once per key, counted).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeDelta, TimeZone, Utc};
use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::token::issue;
use license_core::*;

/// A root that counts its signatures and can be switched off (Cloud KMS down).
#[derive(Debug)]
struct CountingRoot {
    inner: LocalSigner,
    signatures: AtomicU32,
    down: AtomicBool,
}

#[async_trait]
impl Signer for CountingRoot {
    fn algorithm(&self) -> SigningAlgorithm {
        self.inner.algorithm()
    }
    fn key_id(&self) -> &str {
        self.inner.key_id()
    }
    fn public_jwk(&self) -> PublicJwk {
        self.inner.public_jwk()
    }
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::unavailable(Dependency::Signer, "root switched off"));
        }
        self.signatures.fetch_add(1, Ordering::SeqCst);
        self.inner.sign(message).await
    }
}

/// A wrapper that counts its calls.
#[derive(Debug)]
struct CountingWrapper {
    inner: LocalKeyWrapper,
    wraps: AtomicU32,
    unwraps: AtomicU32,
}

#[async_trait]
impl KeyWrapper for CountingWrapper {
    fn id(&self) -> &str {
        self.inner.id()
    }
    async fn wrap(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        self.wraps.fetch_add(1, Ordering::SeqCst);
        self.inner.wrap(plaintext, context).await
    }
    async fn unwrap(&self, ciphertext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        self.unwraps.fetch_add(1, Ordering::SeqCst);
        self.inner.unwrap(ciphertext, context).await
    }
}

const ISSUER: &str = "https://licenses.test";

struct World {
    clock: ManualClock,
    store: Arc<MemoryStore>,
    ledger: Arc<MemoryLedger>,
    root: Arc<CountingRoot>,
    admin: AdminService,
    config: TenantKeyConfig,
}

fn world(rotation: Duration) -> World {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap());
    let store = Arc::new(MemoryStore::default());
    World {
        ledger: Arc::new(MemoryLedger::new(Arc::new(clock.clone()))),
        root: Arc::new(CountingRoot {
            inner: LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap(),
            signatures: AtomicU32::new(0),
            down: AtomicBool::new(false),
        }),
        admin: AdminService::new(store.clone(), Arc::new(clock.clone())),
        store,
        clock,
        config: TenantKeyConfig {
            rotation,
            ..TenantKeyConfig::default()
        },
    }
}

impl World {
    /// A replica: its own service over the shared store, ledger, root and wrapping key.
    fn replica(&self) -> (LicenseService, Arc<CountingWrapper>) {
        let wrapper = Arc::new(CountingWrapper {
            inner: LocalKeyWrapper::from_secret(
                "local:test-root",
                b"the root's secret, 32 bytes long",
            )
            .unwrap(),
            wraps: AtomicU32::new(0),
            unwraps: AtomicU32::new(0),
        });
        let service = LicenseService::new(
            self.store.clone(),
            self.ledger.clone(),
            self.root.clone(),
            Arc::new(self.clock.clone()),
            ISSUER,
        )
        .with_tenant_keys(wrapper.clone(), self.config);
        (service, wrapper)
    }

    async fn tenant_and_license(&self, name: &str, seats: u32) -> (Tenant, License) {
        let tenant = self
            .admin
            .create_tenant(name, &Actor::Operator)
            .await
            .unwrap();
        let license = self
            .admin
            .create_license(
                tenant.id,
                NewLicense::new("CAD", SeatCount::new(seats).unwrap()),
                &Actor::Operator,
            )
            .await
            .unwrap();
        (tenant, license)
    }

    fn roots(&self) -> Jwks {
        Jwks {
            keys: vec![self.root.public_jwk()],
        }
    }

    fn advance(&self, seconds: i64) {
        self.clock.advance(TimeDelta::seconds(seconds));
    }
}

fn hw(name: &str) -> HardwareId {
    HardwareId::parse(name).unwrap()
}

#[tokio::test]
async fn each_tenant_has_its_own_key_and_one_tenant_s_lease_fails_for_another() {
    let w = world(Duration::from_secs(86_400));
    let (service, _) = w.replica();
    let (a, la) = w.tenant_and_license("Acme", 5).await;
    let (b, lb) = w.tenant_and_license("Globex", 5).await;
    // B's customer uses the hardware id of A's customer.
    let lease_a = service
        .acquire(a.id, &Actor::System, &la.key, &hw("ws-7"), None)
        .await
        .unwrap();
    let lease_b = service
        .acquire(b.id, &Actor::System, &lb.key, &hw("ws-7"), None)
        .await
        .unwrap();
    let now = w.clock.now();

    let set_a = service.tenant_jwks(a.id).await.unwrap();
    let set_b = service.tenant_jwks(b.id).await.unwrap();
    assert_eq!((set_a.keys.len(), set_b.keys.len()), (1, 1));
    assert_ne!(set_a.keys[0].kid, set_b.keys[0].kid, "never a shared key");
    assert_eq!(set_a.certificates.len(), 1);

    let for_a = TokenVerifier::pinned(&w.roots(), &set_a, ISSUER, a.id, now).unwrap();
    let claims = for_a.verify(&lease_a.token, now).unwrap();
    assert_eq!((claims.aud, claims.tid), (Some(a.id), a.id));
    assert!(matches!(
        for_a.verify(&lease_b.token, now),
        Err(TokenError::UnknownKey(_))
    ));
    // Even holding both sets, A's application refuses B's lease: `aud` names B.
    let both = Jwks {
        keys: [set_a.keys.clone(), set_b.keys.clone()].concat(),
    };
    let careless = TokenVerifier::new(both, ISSUER, a.id);
    assert!(matches!(
        careless.verify(&lease_b.token, now),
        Err(TokenError::WrongAudience(_))
    ));
    // B's set never serves as A's, and a set without good certificates is not trusted.
    assert!(TokenVerifier::pinned(&w.roots(), &set_b, ISSUER, a.id, now).is_err());
    let mut forged = set_a.clone();
    forged.certificates = set_b.certificates.clone();
    assert!(TokenVerifier::pinned(&w.roots(), &forged, ISSUER, a.id, now).is_err());
    let other_root = Jwks {
        keys: vec![
            LocalSigner::generate(SigningAlgorithm::EdDSA)
                .unwrap()
                .public_jwk(),
        ],
    };
    assert!(TokenVerifier::pinned(&other_root, &set_a, ISSUER, a.id, now).is_err());
    // And the license can be pinned too.
    assert!(
        for_a
            .clone()
            .for_license(la.id)
            .verify(&lease_a.token, now)
            .is_ok()
    );
    assert!(matches!(
        for_a.for_license(lb.id).verify(&lease_a.token, now),
        Err(TokenError::WrongLicense(_))
    ));
}

#[tokio::test]
async fn a_token_with_the_right_signature_but_another_audience_is_refused() {
    let w = world(Duration::from_secs(86_400));
    let (service, _) = w.replica();
    let (a, la) = w.tenant_and_license("Acme", 5).await;
    let lease = service
        .acquire(a.id, &Actor::System, &la.key, &hw("ws-1"), None)
        .await
        .unwrap();
    let set = service.tenant_jwks(a.id).await.unwrap();
    let now = w.clock.now();
    let verifier = TokenVerifier::pinned(&w.roots(), &set, ISSUER, a.id, now).unwrap();
    let mut claims = verifier.verify(&lease.token, now).unwrap();
    // Signed by A's key (as a bug or a stolen key could), but for another audience.
    let key = w.store.tenant_keys(a.id, now).await.unwrap().remove(0);
    let wrapper =
        LocalKeyWrapper::from_secret("local:test-root", b"the root's secret, 32 bytes long")
            .unwrap();
    let context = format!("tenant-key:{}:{}", a.id, key.kid());
    let pkcs8 = wrapper
        .unwrap(&key.wrapped_private_key, context.as_bytes())
        .await
        .unwrap();
    let a_key = LocalSigner::from_pkcs8(SigningAlgorithm::EdDSA, &pkcs8).unwrap();
    claims.aud = Some(TenantId::new());
    let token = issue(&a_key, &claims).await.unwrap();
    assert!(matches!(
        verifier.verify(&token, now),
        Err(TokenError::WrongAudience(_))
    ));
    claims.aud = None;
    let token = issue(&a_key, &claims).await.unwrap();
    assert!(matches!(
        verifier.verify(&token, now),
        Err(TokenError::WrongAudience(_))
    ));
}

#[tokio::test]
async fn the_root_signs_once_per_tenant_key_not_per_lease() {
    let w = world(Duration::from_secs(86_400));
    let (service, wrapper) = w.replica();
    let (a, la) = w.tenant_and_license("Acme", 50).await;
    let (b, lb) = w.tenant_and_license("Globex", 50).await;
    for i in 0..40 {
        let lease = service
            .acquire(a.id, &Actor::System, &la.key, &hw(&format!("a-{i}")), None)
            .await
            .unwrap();
        service
            .heartbeat(a.id, lease.session.id, &app())
            .await
            .unwrap();
        let lease = service
            .acquire(b.id, &Actor::System, &lb.key, &hw(&format!("b-{i}")), None)
            .await
            .unwrap();
        service
            .heartbeat(b.id, lease.session.id, &app())
            .await
            .unwrap();
    }
    // 160 leases: two root signatures (one certificate per tenant), two wraps, no unwrap.
    assert_eq!(w.root.signatures.load(Ordering::SeqCst), 2);
    assert_eq!(wrapper.wraps.load(Ordering::SeqCst), 2);
    assert_eq!(wrapper.unwraps.load(Ordering::SeqCst), 0);
    // Readiness costs the root nothing.
    assert_eq!(service.check_ready().await.unwrap(), Readiness::Ready);
    assert_eq!(w.root.signatures.load(Ordering::SeqCst), 2);

    // A second replica loads the key (one unwrap) instead of making one.
    let (second, second_wrapper) = w.replica();
    let lease = second
        .acquire(a.id, &Actor::System, &la.key, &hw("a-late"), None)
        .await
        .unwrap();
    second
        .heartbeat(a.id, lease.session.id, &app())
        .await
        .unwrap();
    assert_eq!(w.root.signatures.load(Ordering::SeqCst), 2);
    assert_eq!(second_wrapper.wraps.load(Ordering::SeqCst), 0);
    assert_eq!(second_wrapper.unwraps.load(Ordering::SeqCst), 1);
    let set = second.tenant_jwks(a.id).await.unwrap();
    assert_eq!(set.keys.len(), 1, "both replicas sign with the same key");
}

/// Rotation under load loses no verification: while leases renew every two minutes for four
/// rotations, a client that refreshes its cached key set only every 20 minutes verifies every
/// token, pinned to the root.
#[tokio::test]
async fn rotation_under_load_loses_no_verification() {
    let hour = 3600;
    let w = world(Duration::from_secs(hour as u64));
    let (first, _) = w.replica();
    let (second, _) = w.replica();
    let replicas = [&first, &second];
    let (a, la) = w.tenant_and_license("Acme", 10).await;
    let mut sessions = Vec::new();
    for i in 0..4 {
        let lease = replicas[i % 2]
            .acquire(a.id, &Actor::System, &la.key, &hw(&format!("ws-{i}")), None)
            .await
            .unwrap();
        sessions.push(lease.session.id);
    }
    let mut cached = first.tenant_jwks(a.id).await.unwrap();
    let mut fetched_at = w.clock.now();
    let mut kids = std::collections::BTreeSet::new();
    let mut verified = 0;
    for step in 0..(4 * 30) {
        w.advance(120);
        for replica in replicas {
            replica.tenant_keys().maintain_once().await;
        }
        let now = w.clock.now();
        if now - fetched_at >= TimeDelta::minutes(20) {
            cached = replicas[step % 2].tenant_jwks(a.id).await.unwrap();
            fetched_at = now;
        }
        let verifier = TokenVerifier::pinned(&w.roots(), &cached, ISSUER, a.id, now).unwrap();
        for (i, session) in sessions.iter().enumerate() {
            let renewed = replicas[(i + step) % 2]
                .heartbeat(a.id, *session, &app())
                .await
                .unwrap();
            let claims = verifier
                .verify(&renewed.token, now)
                .unwrap_or_else(|e| panic!("step {step}, session {i}: {e}"));
            assert_eq!(claims.sub, *session);
            kids.insert(license_core_kid(&renewed.token));
            verified += 1;
        }
    }
    assert_eq!(verified, 480);
    assert!(
        kids.len() >= 4,
        "four rotations sign with at least four keys: {kids:?}"
    );
    // About one certificate per rotation, whichever replica made it.
    let signatures = w.root.signatures.load(Ordering::SeqCst);
    assert!(
        (4..=6).contains(&signatures),
        "{signatures} root signatures"
    );
}

fn license_core_kid(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    value["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_revoked_key_stops_signing_and_publishing_on_every_replica() {
    let w = world(Duration::from_secs(86_400));
    let (first, _) = w.replica();
    let (second, _) = w.replica();
    let (a, la) = w.tenant_and_license("Acme", 10).await;
    let lease = first
        .acquire(a.id, &Actor::System, &la.key, &hw("ws-1"), None)
        .await
        .unwrap();
    second
        .heartbeat(a.id, lease.session.id, &app())
        .await
        .unwrap();
    let leaked = first.tenant_jwks(a.id).await.unwrap().keys.remove(0);

    let new = first
        .tenant_keys()
        .rotate(a.id, true, &Actor::Operator)
        .await
        .unwrap();
    assert_eq!(new.generation, 2);
    let set = first.tenant_jwks(a.id).await.unwrap();
    assert_eq!(
        set.keys,
        std::slice::from_ref(&new.public_jwk),
        "the leaked key is no longer published"
    );
    let now = w.clock.now();
    let verifier = TokenVerifier::pinned(&w.roots(), &set, ISSUER, a.id, now).unwrap();
    assert!(
        verifier.verify(&lease.token, now).is_err(),
        "its tokens stop verifying"
    );
    // The other replica switches at its next maintenance step.
    assert_eq!(second.tenant_keys().maintain_once().await.reloaded, 1);
    let renewed = second
        .heartbeat(a.id, lease.session.id, &app())
        .await
        .unwrap();
    assert_eq!(
        verifier.verify(&renewed.token, now).unwrap().sub,
        lease.session.id
    );
    assert_ne!(license_core_kid(&renewed.token), leaked.kid);
    let audit = w.store.list_audit(a.id, 10).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"signing_key.revoke") && actions.contains(&"signing_key.rotate"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn with_the_root_down_leases_are_signed_until_the_certificate_nears_expiry() {
    let w = world(Duration::from_secs(86_400));
    let (service, _) = w.replica();
    let keys = service.tenant_keys();
    let (a, la) = w.tenant_and_license("Acme", 10).await;
    let lease = service
        .acquire(a.id, &Actor::System, &la.key, &hw("ws-1"), None)
        .await
        .unwrap();
    w.root.down.store(true, Ordering::SeqCst);
    // Past the key's retirement (24 h): the successor cannot be certified, the key signs on,
    // even 24-hour leases.
    for _ in 0..(25 * 30) {
        w.advance(120);
        service
            .heartbeat(a.id, lease.session.id, &app())
            .await
            .unwrap();
        keys.maintain_once().await;
    }
    assert!(keys.stats().rotation_failures.load(Ordering::SeqCst) > 0);
    assert_eq!(service.check_ready().await.unwrap(), Readiness::Ready);
    // Readiness says "degraded" once the certificate (16 days: activation, a rotation, a
    // rotation plus the longest lease, a 14-day borrow) covers less than the longest lease
    // plus an hour: after 47 h, as when the longest lease was the 24 h TTL.
    w.advance(22 * 3600 + 60);
    keys.maintain_once().await;
    let early = service.check_ready().await.unwrap();
    assert!(matches!(early, Readiness::Degraded { .. }), "{early:?}");
    // Within the hour before it expires, leases are still signed (the certificate is 13 days
    // longer than a TTL-sized one: ADR 0025).
    let longer = i64::from(SeatRules::MAX_BORROW_SECONDS - LeasePolicy::MAX_TTL_SECONDS);
    w.advance(24 * 3600 + 9 * 60 + longer);
    service
        .acquire(a.id, &Actor::System, &la.key, &hw("ws-2"), None)
        .await
        .unwrap();
    keys.maintain_once().await;
    let ready = service.check_ready().await.unwrap();
    assert!(
        matches!(
            ready,
            Readiness::Degraded {
                dependency: Dependency::Signer,
                ..
            }
        ),
        "{ready:?}"
    );
    // A lease that would outlive the certificate is not signed; readiness stays degraded
    // (every replica shares the root: taking them out of service would not help).
    w.advance(50 * 60);
    let refused = service
        .acquire(a.id, &Actor::System, &la.key, &hw("ws-3"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            Error::Unavailable {
                dependency: Dependency::Signer,
                ..
            }
        ),
        "{refused:?}"
    );
    keys.maintain_once().await;
    let still = service.check_ready().await.unwrap();
    assert!(matches!(still, Readiness::Degraded { .. }), "{still:?}");
    // The root is back: the next lease makes a key, and readiness recovers.
    w.root.down.store(false, Ordering::SeqCst);
    let lease = service
        .acquire(a.id, &Actor::System, &la.key, &hw("ws-3"), None)
        .await
        .unwrap();
    keys.maintain_once().await;
    assert_eq!(service.check_ready().await.unwrap(), Readiness::Ready);
    assert!(!lease.token.is_empty());
}

#[tokio::test]
async fn an_idle_tenant_s_key_is_not_rotated() {
    let w = world(Duration::from_secs(86_400));
    let (service, _) = w.replica();
    let keys = service.tenant_keys();
    let (a, la) = w.tenant_and_license("Acme", 10).await;
    service
        .acquire(a.id, &Actor::System, &la.key, &hw("ws-1"), None)
        .await
        .unwrap();
    // Three days without a lease: one successor while it was recently used, then nothing.
    for _ in 0..(3 * 24 * 6) {
        w.advance(600);
        keys.maintain_once().await;
    }
    assert!(w.root.signatures.load(Ordering::SeqCst) <= 2);
    // Its next lease still gets a key (made at once: the last one may have retired).
    let lease = service
        .acquire(a.id, &Actor::System, &la.key, &hw("ws-2"), None)
        .await
        .unwrap();
    let set = service.tenant_jwks(a.id).await.unwrap();
    let now = w.clock.now();
    let verifier = TokenVerifier::pinned(&w.roots(), &set, ISSUER, a.id, now).unwrap();
    assert!(verifier.verify(&lease.token, now).is_ok());
}

#[tokio::test]
async fn a_key_wrapped_under_another_root_is_replaced_not_used() {
    let w = world(Duration::from_secs(86_400));
    let (service, _) = w.replica();
    let (a, la) = w.tenant_and_license("Acme", 10).await;
    service
        .acquire(a.id, &Actor::System, &la.key, &hw("ws-1"), None)
        .await
        .unwrap();
    // A replica whose wrapper is another (the root was replaced).
    let other = LicenseService::new(
        w.store.clone(),
        w.ledger.clone(),
        w.root.clone(),
        Arc::new(w.clock.clone()),
        ISSUER,
    )
    .with_tenant_keys(
        Arc::new(
            LocalKeyWrapper::from_secret("local:new-root", b"another secret, also 32 bytes!!")
                .unwrap(),
        ),
        w.config,
    );
    let lease = other
        .acquire(a.id, &Actor::System, &la.key, &hw("ws-2"), None)
        .await
        .unwrap();
    let set = other.tenant_jwks(a.id).await.unwrap();
    assert_eq!(
        set.keys.len(),
        2,
        "the old key stays published, a new one signs"
    );
    let now = w.clock.now();
    let verifier = TokenVerifier::pinned(&w.roots(), &set, ISSUER, a.id, now).unwrap();
    assert_eq!(license_core_kid(&lease.token), set.keys[1].kid);
    assert!(verifier.verify(&lease.token, now).is_ok());
}

#[tokio::test]
async fn the_jwks_of_a_missing_tenant_is_not_found_and_makes_no_key() {
    let w = world(Duration::from_secs(86_400));
    let (service, _) = w.replica();
    let missing = service.tenant_jwks(TenantId::new()).await.unwrap_err();
    assert!(
        matches!(missing, Error::NotFound(Resource::Tenant)),
        "{missing:?}"
    );
    let (a, _) = w.tenant_and_license("Acme", 1).await;
    let empty = service.tenant_jwks(a.id).await.unwrap();
    assert!(empty.keys.is_empty());
    assert_eq!(w.root.signatures.load(Ordering::SeqCst), 0);
}

/// The caller in these tests: the embedding application itself (its sessions bind no one).
fn app() -> Caller {
    Caller::new(Actor::System)
}
