//! The quota part of the store contract: what a tenant holds is counted exactly, a change over
//! a quota is refused with nothing written, and concurrent changes cannot overshoot together.

use futures::future::join_all;

use super::store::{assert_not_found, audit, license, now, ok, tenant};
use crate::api_key::{ApiKey, ApiKeySecret, Scope};
use crate::error::{Error, Resource};
use crate::ids::{ApiKeyId, TenantId};
use crate::license::{License, LicenseStatus, SeatCount};
use crate::quota::{Quota, TenantQuotas, TenantUsage};
use crate::store::Store;

const QUOTAS: TenantQuotas = TenantQuotas {
    max_licenses: 3,
    max_api_keys: 2,
    max_seats: 20,
};

fn sized(tenant: TenantId, key: &str, seats: u32, overdraft: u32) -> License {
    License {
        seats: ok(SeatCount::new(seats), "seats"),
        overdraft,
        ..license(tenant, key, seats)
    }
}

fn api_key(tenant: TenantId, name: &str) -> ApiKey {
    let secret = ok(ApiKeySecret::generate(tenant), "secret");
    ApiKey {
        id: ApiKeyId::new(),
        tenant_id: tenant,
        name: name.into(),
        prefix: secret.prefix().to_owned(),
        hash: secret.hash(),
        scopes: vec![Scope::Admin],
        created_at: now(),
        last_used_at: None,
        revoked_at: None,
    }
}

#[track_caller]
fn assert_refused(r: crate::Result<()>, quota: Quota, limit: u64, what: &str) {
    match r {
        Err(Error::QuotaExceeded { quota: q, limit: l }) if (q, l) == (quota, limit) => {}
        other => panic!("{what}: expected quota_exceeded on {quota:?} ({limit}), got {other:?}"),
    }
}

async fn totals(store: &dyn Store, tenant: TenantId) -> TenantUsage {
    ok(
        store.tenant_usage_totals(tenant).await,
        "tenant_usage_totals",
    )
}

async fn create(store: &dyn Store, l: &License, quotas: &TenantQuotas) -> crate::Result<()> {
    let event = audit(l.tenant_id, "license.create", now());
    store.create_license(l, quotas, &event).await
}

async fn update(store: &dyn Store, l: &License, quotas: &TenantQuotas) -> crate::Result<()> {
    let event = audit(l.tenant_id, "license.update", now());
    store.update_license(l, quotas, &event).await
}

async fn add_key(store: &dyn Store, k: &ApiKey, quotas: &TenantQuotas) -> crate::Result<()> {
    let event = audit(k.tenant_id, "api_key.create", now());
    store.create_api_key(k, quotas, &event).await
}

/// Totals count licenses (revoked included), seats plus overdraft of licenses not revoked, and
/// keys not revoked; each quota refuses the change that would pass it, writing nothing; a
/// tenant over a lowered limit may still shrink.
pub(super) async fn quotas(store: &dyn Store) {
    let a = tenant(store, "Quota A").await;
    let b = tenant(store, "Quota B").await;
    assert_eq!(totals(store, a.id).await, TenantUsage::default());

    let la = sized(a.id, "QUOTA-A-0001", 5, 1);
    let lb = sized(a.id, "QUOTA-A-0002", 3, 1);
    ok(create(store, &la, &QUOTAS).await, "license a");
    ok(create(store, &lb, &QUOTAS).await, "license b");
    let expected = TenantUsage {
        licenses: 2,
        api_keys: 0,
        seats: 10,
    };
    assert_eq!(totals(store, a.id).await, expected);
    assert_eq!(
        totals(store, b.id).await,
        TenantUsage::default(),
        "another tenant's licenses are not counted"
    );

    // Seats: 10 + 12 > 20, refused and not written; 10 + 10 fits exactly.
    let big = sized(a.id, "QUOTA-A-0003", 11, 1);
    assert_refused(
        create(store, &big, &QUOTAS).await,
        Quota::Seats,
        20,
        "seats",
    );
    assert_not_found(
        store.get_license(a.id, big.id).await,
        Resource::License,
        "a refused license",
    );
    assert_eq!(totals(store, a.id).await, expected, "nothing was written");
    let fits = sized(a.id, "QUOTA-A-0003", 9, 1);
    ok(
        create(store, &fits, &QUOTAS).await,
        "exactly at the seat quota",
    );

    // Licenses: a fourth is refused whatever its size.
    let fourth = sized(a.id, "QUOTA-A-0004", 1, 0);
    let roomy = TenantQuotas {
        max_seats: u64::MAX,
        ..QUOTAS
    };
    assert_refused(
        create(store, &fourth, &roomy).await,
        Quota::Licenses,
        3,
        "licenses",
    );
    assert_not_found(
        store.get_license(a.id, fourth.id).await,
        Resource::License,
        "a refused license",
    );

    // Raising seats or overdraft over the quota is refused and changes nothing.
    let mut more = la.clone();
    more.seats = ok(SeatCount::new(7), "seats");
    assert_refused(
        update(store, &more, &QUOTAS).await,
        Quota::Seats,
        20,
        "raise",
    );
    let mut more_overdraft = la.clone();
    more_overdraft.overdraft = 2;
    assert_refused(
        update(store, &more_overdraft, &QUOTAS).await,
        Quota::Seats,
        20,
        "raise overdraft",
    );
    assert_eq!(
        ok(store.get_license(a.id, la.id).await, "unchanged"),
        la,
        "a refused update writes nothing"
    );

    // A revoked license frees its seats, not its place.
    let revoked = License {
        status: LicenseStatus::Revoked,
        ..lb.clone()
    };
    ok(update(store, &revoked, &QUOTAS).await, "revoke");
    assert_eq!(
        totals(store, a.id).await,
        TenantUsage {
            licenses: 3,
            api_keys: 0,
            seats: 16,
        }
    );
    ok(
        update(store, &more, &QUOTAS).await,
        "raise within the freed seats",
    );

    // Over a lowered limit: shrinking and suspending pass, growing does not.
    let tight = TenantQuotas {
        max_seats: 5,
        ..QUOTAS
    };
    let mut less = more.clone();
    less.seats = ok(SeatCount::new(6), "seats");
    ok(
        update(store, &less, &tight).await,
        "shrink over a lowered limit",
    );
    let suspended = License {
        status: LicenseStatus::Suspended,
        ..less.clone()
    };
    ok(update(store, &suspended, &tight).await, "suspend");
    assert_refused(update(store, &more, &tight).await, Quota::Seats, 5, "grow");

    // API keys: revoked ones do not count.
    let k1 = api_key(a.id, "one");
    let k2 = api_key(a.id, "two");
    ok(add_key(store, &k1, &QUOTAS).await, "key 1");
    ok(add_key(store, &k2, &QUOTAS).await, "key 2");
    let k3 = api_key(a.id, "three");
    assert_refused(
        add_key(store, &k3, &QUOTAS).await,
        Quota::ApiKeys,
        2,
        "keys",
    );
    assert_not_found(
        store.find_api_key(a.id, &k3.prefix).await,
        Resource::ApiKey,
        "a refused key",
    );
    let at = now();
    let event = audit(a.id, "api_key.revoke", at);
    ok(
        store.revoke_api_key(a.id, k1.id, at, &event).await,
        "revoke",
    );
    assert_eq!(totals(store, a.id).await.api_keys, 1);
    ok(
        add_key(store, &k3, &QUOTAS).await,
        "a revoked key frees its place",
    );
    assert_eq!(totals(store, a.id).await.api_keys, 2);

    // The other tenant has its own allowance.
    ok(
        add_key(store, &api_key(b.id, "b"), &QUOTAS).await,
        "b's key",
    );
    ok(
        create(store, &sized(b.id, "QUOTA-B-0001", 20, 0), &QUOTAS).await,
        "b's license",
    );
}

/// Concurrent creates with room for one: exactly one is stored, whichever store serves them
/// (the check and the insert are one atomic step). Each round first opens as many pooled
/// connections as it then races on, so the creates really overlap.
pub(super) async fn concurrent_creates_cannot_overshoot_a_quota(store: &dyn Store) {
    const RACERS: usize = 6;
    let one_each = TenantQuotas {
        max_licenses: 1,
        max_api_keys: 1,
        max_seats: u64::MAX,
    };
    for round in 0..4 {
        let t = tenant(store, &format!("Race {round}")).await;
        let warm = join_all((0..RACERS).map(|_| store.tenant_usage_totals(t.id))).await;
        assert!(warm.iter().all(Result::is_ok), "{warm:?}");

        let licenses: Vec<License> = (0..RACERS)
            .map(|i| sized(t.id, &format!("RACE-KEY-000{i}"), 1, 0))
            .collect();
        let created = join_all(licenses.iter().map(|l| create(store, l, &one_each))).await;
        assert_eq!(
            created.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: exactly one license is created: {created:?}"
        );
        for r in created.into_iter().filter(Result::is_err) {
            assert_refused(r, Quota::Licenses, 1, "the other licenses");
        }

        let keys: Vec<ApiKey> = (0..RACERS)
            .map(|i| api_key(t.id, &format!("racer {i}")))
            .collect();
        let created = join_all(keys.iter().map(|k| add_key(store, k, &one_each))).await;
        assert_eq!(
            created.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: exactly one key is created: {created:?}"
        );
        assert_eq!(
            totals(store, t.id).await,
            TenantUsage {
                licenses: 1,
                api_keys: 1,
                seats: 1,
            }
        );
    }
}
