//! Replicas meeting at a tenant's first lease: whichever replica makes the tenant's key, the
//! others sign with it, even when their clock reads a moment earlier than the maker's. That
//! happens to every replica that read its clock just before another one made the key (replicas
//! in one process share a clock), and to replicas whose clocks run a little behind. Before,
//! such a replica found no key active yet and made a second one, and a replica that held only
//! the first refused leases signed with the second (`validate` answered 404) until its next
//! maintenance step.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::*;

const ISSUER: &str = "https://licenses.test";

fn kid(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    value["kid"].as_str().unwrap().to_owned()
}

/// Two replicas over one store, ledger, root and wrapping key; the second one's clock reads
/// `behind` earlier than the first one's.
async fn first_leases_on_two_replicas(behind: TimeDelta) {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
    let maker_clock = ManualClock::new(t0 + behind);
    let late_clock = ManualClock::new(t0);
    let store = Arc::new(MemoryStore::default());
    let ledger = Arc::new(MemoryLedger::new(Arc::new(maker_clock.clone())));
    let root = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap());
    let wrapper = Arc::new(
        LocalKeyWrapper::from_secret("local:test-root", b"the root's secret, 32 bytes long")
            .unwrap(),
    );
    let replica = |clock: &ManualClock| {
        LicenseService::new(
            store.clone(),
            ledger.clone(),
            root.clone(),
            Arc::new(clock.clone()),
            ISSUER,
        )
        .with_tenant_keys(wrapper.clone(), TenantKeyConfig::default())
    };
    let (maker, late) = (replica(&maker_clock), replica(&late_clock));
    let admin = AdminService::new(store.clone(), Arc::new(maker_clock.clone()));
    let tenant = admin.create_tenant("Acme", &Actor::Operator).await.unwrap();
    let license = admin
        .create_license(
            tenant.id,
            NewLicense::new("CAD", SeatCount::new(5).unwrap()),
            &Actor::Operator,
        )
        .await
        .unwrap();
    let hw = |name: &str| HardwareId::parse(name).unwrap();

    // The maker's lease makes the tenant's first key, active from the maker's now; the late
    // replica's first lease comes after it.
    let made = maker
        .acquire(tenant.id, &Actor::System, &license.key, &hw("ws-1"), None)
        .await
        .unwrap();
    let signed_late = late
        .acquire(tenant.id, &Actor::System, &license.key, &hw("ws-2"), None)
        .await
        .unwrap();

    assert_eq!(
        kid(&signed_late.token),
        kid(&made.token),
        "a replica {behind} behind signs with the key just made"
    );
    let stored = store.tenant_keys(tenant.id, t0).await.unwrap();
    assert_eq!(stored.len(), 1, "one key for the tenant: {stored:?}");
    // Each replica's own check accepts the other's lease.
    maker.validate(tenant.id, &signed_late.token).await.unwrap();
    late.validate(tenant.id, &made.token).await.unwrap();
}

#[tokio::test]
async fn a_replica_that_read_its_clock_just_before_the_first_key_was_made_signs_with_it() {
    first_leases_on_two_replicas(TimeDelta::milliseconds(1)).await;
}

#[tokio::test]
async fn a_replica_whose_clock_is_seconds_behind_signs_with_the_key_another_just_made() {
    first_leases_on_two_replicas(TimeDelta::seconds(5)).await;
}
