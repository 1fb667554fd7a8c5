//! Credentials cached in process: a revoked API key is refused at once by the replica that
//! revoked it and within `auth.cache_seconds` by the others; made-up keys neither grow the
//! cache past `auth.cache_capacity` nor cause more than `auth.miss_lookups_per_second` store
//! lookups per tenant, and over that limit the check answers 503 with `Retry-After`.

use chrono::TimeDelta;
use serde_json::Value;

use crate::helpers::{Api, Caller, spawn_app, spawn_app_with, spawn_replica_of};

/// A well-formed key of `tenant` (a UUID as the API shows it) that no one created; `n` makes
/// its lookup prefix (the secret's first 8 characters) differ from the others'.
fn made_up_key(tenant: &str, n: usize) -> Caller {
    let secret = format!("{n:08}{}", "A".repeat(35));
    Caller::bearer(format!("lk_{}_{secret}", tenant.replace('-', "")))
}

/// Lists licenses with `caller`: status, body and the `Retry-After` header.
async fn list_with_retry_after(api: &Api, caller: &Caller) -> (u16, Value, Option<String>) {
    let response = api
        .http
        .get(api.url("/api/v1/admin/licenses"))
        .bearer_auth(&caller.token)
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let reply = Api::reply(response).await;
    (reply.status, reply.body, retry_after)
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_by_the_replica_that_revoked_it() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 2).await;
    let created = app
        .create_api_key(&acme.admin, "ci", &["client", "admin"])
        .await
        .expect(201);
    let ci = Caller::bearer(created.str("secret"));
    let hits = app.metric("license_api_key_cache_hits_total").await;
    app.list_licenses(&ci, "").await.expect(200);
    app.acquire(&ci, &acme.license_key, "m1").await.expect(200);
    assert!(
        app.metric("license_api_key_cache_hits_total").await >= hits + 2,
        "the key was served from the cache"
    );

    app.revoke_api_key(&acme.admin, &created.str("id"))
        .await
        .expect(204);
    app.list_licenses(&ci, "")
        .await
        .expect_error(401, "unauthenticated");
    app.acquire(&ci, &acme.license_key, "m2")
        .await
        .expect_error(401, "unauthenticated");
}

#[tokio::test]
async fn another_replica_refuses_a_revoked_key_once_the_cache_ttl_has_passed() {
    let a = spawn_app_with(|config| config.auth.cache_seconds = 5).await;
    let b = spawn_replica_of(&a, |config| config.auth.cache_seconds = 5).await;
    let acme = a.fixture("Acme", 2).await;
    let lookups = b.metric("license_api_key_lookups_total").await;
    b.list_licenses(&acme.admin, "").await.expect(200);
    b.list_licenses(&acme.admin, "").await.expect(200);
    assert_eq!(
        b.metric("license_api_key_lookups_total").await,
        lookups + 1,
        "B read the key once"
    );

    let other_admin = a
        .create_api_key(&acme.admin, "other-admin", &["admin"])
        .await
        .expect(201);
    let other_admin = Caller::bearer(other_admin.str("secret"));
    a.revoke_api_key(&other_admin, &acme.admin_key_id)
        .await
        .expect(204);
    a.list_licenses(&acme.admin, "")
        .await
        .expect_error(401, "unauthenticated");
    // The documented window: B trusts what it read for auth.cache_seconds…
    a.clock.advance(TimeDelta::milliseconds(4_999));
    b.list_licenses(&acme.admin, "").await.expect(200);
    // …and not a moment longer.
    a.clock.advance(TimeDelta::milliseconds(1));
    b.list_licenses(&acme.admin, "")
        .await
        .expect_error(401, "unauthenticated");
}

#[tokio::test]
async fn made_up_keys_do_not_grow_the_cache_beyond_its_capacity() {
    let app = spawn_app_with(|config| {
        config.auth.cache_capacity = 100;
        config.auth.miss_lookups_per_second = 100_000;
    })
    .await;
    let acme = app.fixture("Acme", 1).await;
    let records = app.metric("license_api_key_cache_records").await;
    for n in 0..300 {
        app.list_licenses(&made_up_key(&acme.tenant_id, n), "")
            .await
            .expect_error(401, "unauthenticated");
    }
    assert_eq!(
        app.metric("license_api_key_cache_records").await,
        records,
        "made-up keys never become records"
    );
    let missing = app.metric("license_api_key_cache_missing").await;
    assert!((1..=100).contains(&missing), "{missing} missing keys held");
    assert_eq!(app.metric("license_api_key_lookups_total").await, 300);
}

#[tokio::test]
async fn lookups_over_the_limit_answer_503_with_retry_after_and_spare_other_tenants() {
    let app = spawn_app_with(|config| config.auth.miss_lookups_per_second = 5).await;
    let acme = app.fixture("Acme", 1).await;
    let other = app.fixture("Other", 1).await;

    // Acme's budget: five lookups of keys not cached, then 503 without a lookup.
    for n in 0..5 {
        let (status, _, retry_after) =
            list_with_retry_after(&app, &made_up_key(&acme.tenant_id, n)).await;
        assert_eq!((status, retry_after), (401, None));
    }
    let lookups = app.metric("license_api_key_lookups_total").await;
    let (status, body, retry_after) =
        list_with_retry_after(&app, &made_up_key(&acme.tenant_id, 5)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "unavailable");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(app.metric("license_api_key_lookups_total").await, lookups);
    assert_eq!(app.metric("license_api_key_lookups_limited_total").await, 1);

    // Acme's cached keys still work, and Other's budget is its own.
    app.acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    let (status, _, _) = list_with_retry_after(&app, &made_up_key(&other.tenant_id, 0)).await;
    assert_eq!(status, 401);

    // Tenants this replica does not know share one budget.
    let strangers: Vec<u16> = stranger_statuses(&app, 8).await;
    assert_eq!(
        strangers.iter().filter(|s| **s == 401).count(),
        5,
        "{strangers:?}"
    );
    assert_eq!(
        strangers.iter().filter(|s| **s == 503).count(),
        3,
        "{strangers:?}"
    );

    // A second later, Acme's budget has refilled.
    app.clock.advance(TimeDelta::seconds(1));
    let (status, _, _) = list_with_retry_after(&app, &made_up_key(&acme.tenant_id, 6)).await;
    assert_eq!(status, 401);
}

/// Statuses of `n` requests with made-up keys of made-up tenants, one after another.
async fn stranger_statuses(api: &Api, n: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 0..n {
        let tenant = uuid::Uuid::now_v7().to_string();
        statuses.push(list_with_retry_after(api, &made_up_key(&tenant, i)).await.0);
    }
    statuses
}
