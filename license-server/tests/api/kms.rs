//! The server on Cloud KMS (the fake KMS of `license-testkit`: its REST contract, real keys):
//! KMS certifies tenant keys and wraps them, and is off the per-lease path — no KMS call per
//! acquire, heartbeat or readiness probe, counted.

use std::sync::Arc;

use license_core::ManualClock;
use license_core::memory::{MemoryLedger, MemoryStore};
use license_signer_kms::{KmsConfig, KmsKeyWrapper, KmsSigner, KmsWrapConfig};
use license_testkit::fake_kms::{self, FakeKms, StaticToken, TestKey};

use crate::helpers::{TestApp, spawn_with_root};

/// A replica whose root and wrapper are Cloud KMS adapters on `fake`.
async fn replica(
    fake: &FakeKms,
    clock: &ManualClock,
    store: &Arc<MemoryStore>,
    ledger: &Arc<MemoryLedger>,
) -> TestApp {
    let signer = KmsSigner::connect_with(
        KmsConfig {
            endpoint: fake.endpoint().into(),
            algorithm: license_core::SigningAlgorithm::ES256,
            ..KmsConfig::new(fake_kms::KEY_NAME)
        },
        StaticToken::new(),
    )
    .await
    .unwrap();
    let wrapper = KmsKeyWrapper::connect_with(
        KmsWrapConfig {
            endpoint: fake.endpoint().into(),
            ..KmsWrapConfig::new(fake_kms::WRAP_KEY)
        },
        StaticToken::new(),
    )
    .await
    .unwrap();
    spawn_with_root(
        |_| {},
        clock.clone(),
        store.clone(),
        ledger.clone(),
        Arc::new(signer),
        Arc::new(wrapper),
    )
    .await
}

#[tokio::test]
async fn no_kms_call_per_lease_or_probe_and_a_handful_per_tenant_key() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let clock = ManualClock::new(chrono::Utc::now());
    let store = Arc::new(MemoryStore::default());
    let ledger = Arc::new(MemoryLedger::new(Arc::new(clock.clone())));
    let first = replica(&fake, &clock, &store, &ledger).await;
    let second = replica(&fake, &clock, &store, &ledger).await;
    let a = first.fixture("Vendor A", 100).await;
    let b = first.fixture("Vendor B", 100).await;
    let at_start = fake.calls();

    // 2 tenants × 40 machines, each acquiring on one replica and heartbeating twice on the
    // other; readiness probed throughout.
    let mut leases = 0;
    for i in 0..40 {
        for (t, (here, there)) in [(&a, (&first, &second)), (&b, (&second, &first))] {
            let lease = here
                .acquire(&t.client, &t.license_key, &format!("ws-{i}"))
                .await
                .expect(200);
            for _ in 0..2 {
                there
                    .heartbeat(&t.client, &lease.str("session_id"))
                    .await
                    .expect(200);
            }
            leases += 3;
        }
        first.ready().await.expect(200);
        second.ready().await.expect(200);
    }
    assert_eq!(leases, 240);
    let during = fake.calls();
    // One certificate per tenant key, one wrap by the replica that made it, one unwrap by the
    // other replica — and nothing else, whatever the traffic.
    assert_eq!(
        during.asymmetric_sign - at_start.asymmetric_sign,
        2,
        "{during:?}"
    );
    assert_eq!(during.encrypt - at_start.encrypt, 2, "{during:?}");
    assert_eq!(during.decrypt - at_start.decrypt, 2, "{during:?}");
    assert_eq!(during.get_public_key, at_start.get_public_key, "{during:?}");

    // Leases verify pinned to the KMS root.
    let lease = first
        .acquire(&a.client, &a.license_key, "ws-last")
        .await
        .expect(200);
    let verifier = second.pinned_verifier(&a.tenant_id).await;
    verifier
        .verify(&lease.str("token"), second.clock_now())
        .unwrap();
    let roots = first.jwks().await.expect(200);
    assert_eq!(roots.body["keys"][0]["alg"], "ES256");
}

#[tokio::test]
async fn leases_keep_being_signed_while_kms_is_down() {
    let fake = FakeKms::start(TestKey::p256()).await;
    let clock = ManualClock::new(chrono::Utc::now());
    let store = Arc::new(MemoryStore::default());
    let ledger = Arc::new(MemoryLedger::new(Arc::new(clock.clone())));
    let app = replica(&fake, &clock, &store, &ledger).await;
    let a = app.fixture("Vendor A", 30).await;
    app.acquire(&a.client, &a.license_key, "ws-0")
        .await
        .expect(200);
    // Every KMS request from now on fails.
    for _ in 0..1000 {
        fake.fail_next(fake_kms::Fault::Status(503, "UNAVAILABLE"));
    }
    let before = fake.calls();
    for i in 1..20 {
        app.acquire(&a.client, &a.license_key, &format!("ws-{i}"))
            .await
            .expect(200);
    }
    assert_eq!(app.ready().await.expect(200).body["status"], "ready");
    assert_eq!(fake.calls(), before, "no lease and no probe reached KMS");
}
