//! Many threads at once on one license: exactly the seats are granted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_concurrent_acquires_on_fifty_seats_grant_exactly_fifty() {
    let store = Arc::new(MemoryStore::default());
    let ledger = Arc::new(MemoryLedger::new(Arc::new(SystemClock)));
    let signer = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap());
    let service = Arc::new(LicenseService::new(
        store.clone(),
        ledger,
        signer,
        Arc::new(SystemClock),
        "stress",
    ));
    let admin = AdminService::new(store, Arc::new(SystemClock));
    let tenant = admin
        .create_tenant("Stress", &Actor::Operator)
        .await
        .unwrap();
    let license = admin
        .create_license(
            tenant.id,
            NewLicense::new("S", SeatCount::new(50).unwrap()),
            &Actor::Operator,
        )
        .await
        .unwrap();

    let run = |from: usize, to: usize| {
        let tasks: Vec<_> = (from..to)
            .map(|i| {
                let service = service.clone();
                let key = license.key.clone();
                tokio::spawn(async move {
                    let hw = HardwareId::parse(&format!("hw-{i}")).unwrap();
                    service
                        .acquire(tenant.id, &Actor::System, &key, &hw, None)
                        .await
                })
            })
            .collect();
        async move {
            let mut results = Vec::new();
            for t in tasks {
                results.push(t.await.unwrap());
            }
            results
        }
    };

    let results = run(0, 500).await;
    let granted: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(Error::NoSeatsAvailable { .. })))
        .count();
    assert_eq!(granted.len(), 50);
    assert_eq!(refused, 450, "every other request is a clean refusal");
    assert_eq!(service.live_seats(tenant.id, license.id).await.unwrap(), 50);

    for lease in &granted {
        service
            .release(tenant.id, lease.session.id, &app())
            .await
            .unwrap();
    }
    let again = run(500, 550).await;
    assert_eq!(
        again.iter().filter(|r| r.is_ok()).count(),
        50,
        "after 50 releases, 50 more succeed"
    );
}

/// The caller in these tests: the embedding application itself (its sessions bind no one).
fn app() -> Caller {
    Caller::new(Actor::System)
}
