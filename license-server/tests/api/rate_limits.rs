//! Rate limits (ADR 0021): guessing license keys or credentials from one client address or
//! with one credential is cut off after the failure budget with 429 `rate_limited` and
//! `Retry-After`; a well-behaved fleet is never limited; the client address comes from a
//! proxy's header only when one is configured; refusals touch no store; malformed API keys
//! cost no store lookup; readiness is shared.

use std::time::Instant;

use chrono::TimeDelta;
use license_server::Config;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Api, Caller, Reply, TestApp, spawn_app_with};

/// A server with the rate limits on (the test servers' default is off), then `configure`.
async fn limited(configure: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(|config| {
        config.limits.enabled = true;
        configure(config);
    })
    .await
}

/// An acquire, as if from `client` behind a proxy that appended it to `X-Forwarded-For`
/// (`None`: no header).
async fn acquire_via(
    api: &Api,
    caller: &Caller,
    license_key: &str,
    hardware_id: &str,
    forwarded_for: Option<&str>,
) -> Reply {
    let mut request = api
        .http
        .post(api.url("/api/v1/licenses/acquire"))
        .bearer_auth(&caller.token)
        .json(&json!({ "license_key": license_key, "hardware_id": hardware_id }));
    if let Some(forwarded) = forwarded_for {
        request = request.header("X-Forwarded-For", forwarded);
    }
    Api::reply(request.send().await.unwrap()).await
}

/// Asserts a 429 `rate_limited` in the shared shape, returning its `Retry-After` seconds.
#[track_caller]
fn retry_after(reply: Reply) -> u64 {
    let reply = reply.expect_error(429, "rate_limited");
    reply
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("a 429 without Retry-After: {:?}", reply.headers))
        .parse()
        .unwrap()
}

/// `license_rate_limited_total{budget="…"}` (0 before the first refusal).
async fn rate_limited(api: &Api, budget: &str) -> u64 {
    let prefix = format!("license_rate_limited_total{{budget=\"{budget}\"}} ");
    api.metrics()
        .await
        .lines()
        .find_map(|line| line.strip_prefix(&prefix)?.parse().ok())
        .unwrap_or(0)
}

/// A license whose key a person chose, in a guessable series.
async fn guessable_license(app: &TestApp, key: &str) -> crate::helpers::Fixture {
    app.fixture_with(
        "Acme",
        json!({ "product": "CAD Pro", "seats_total": 5, "license_key": key }),
    )
    .await
}

#[tokio::test]
async fn enumerating_license_keys_is_cut_off_after_the_failure_budget() {
    let app = limited(|_| {}).await;
    let budget = Config::default().limits.failures_per_minute_per_address;
    let acme = guessable_license(&app, "ACME-PRO-2026-0777").await;

    // The outside reproduction: 1,000 acquires over ACME-PRO-2026-%04d, one address, one
    // credential, as fast as they go.
    let started = Instant::now();
    let mut statuses = Vec::new();
    for n in 0..1_000 {
        let key = format!("ACME-PRO-2026-{n:04}");
        let reply = app.acquire(&acme.client, &key, &format!("m{n}")).await;
        if reply.status == 429 {
            assert!(retry_after(reply.clone()) >= 1);
        }
        statuses.push(reply.status);
    }
    let elapsed = started.elapsed();
    let count = |status: u16| statuses.iter().filter(|s| **s == status).count();
    eprintln!(
        "1,000 enumeration attempts: {elapsed:?}; {} answered 404, {} answered 429, {} other",
        count(404),
        count(429),
        1_000 - count(404) - count(429)
    );
    assert_eq!(count(404), budget as usize, "no more 404s than the budget");
    assert_eq!(
        count(429),
        1_000 - budget as usize,
        "every other attempt refused"
    );
    assert_eq!(statuses[777], 429, "the right key was refused unread");
    assert!(statuses[..budget as usize].iter().all(|s| *s == 404));
    assert_eq!(
        rate_limited(&app, "address_failures").await,
        1_000 - u64::from(budget)
    );

    // A minute later the budget has refilled; the guesses took no seat.
    app.clock.advance(TimeDelta::seconds(60));
    let sessions = app
        .license_sessions(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    assert_eq!(sessions.body["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn a_fleet_behind_one_address_at_a_normal_rate_is_never_limited() {
    // A thousand machines behind one NAT, heartbeating every second: the rate of 5,000
    // machines heartbeating every five seconds, plus a few honest mistakes.
    let app = limited(|_| {}).await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD Pro", "seats_total": 1_000 }),
        )
        .await;
    let machines: Vec<String> = (0..1_000).map(|n| format!("machine-{n:04}")).collect();
    let sessions: Vec<String> = futures::future::join_all(machines.iter().map(|hwid| async {
        app.acquire(&acme.client, &acme.license_key, hwid)
            .await
            .expect(200)
            .str("session_id")
    }))
    .await;
    for round in 0..3 {
        app.clock.advance(TimeDelta::seconds(1));
        let replies = futures::future::join_all(
            sessions
                .iter()
                .map(|session| app.heartbeat(&acme.client, session)),
        )
        .await;
        assert!(replies.iter().all(|r| r.status == 200), "round {round}");
        app.acquire(&acme.client, "TYPO-IN-THE-KEY", "new-machine")
            .await
            .expect_error(404, "license_not_found");
    }
    app.ready().await.expect(200);
    for budget in [
        "address_requests",
        "address_failures",
        "credential_requests",
        "credential_failures",
    ] {
        assert_eq!(rate_limited(&app, budget).await, 0, "{budget}");
    }
}

#[tokio::test]
async fn retry_after_is_honoured_and_then_requests_pass_again() {
    // Three failures a minute: one more every 20 s.
    let app = limited(|config| config.limits.failures_per_minute_per_address = 3).await;
    let acme = guessable_license(&app, "ACME-PRO-2026-0003").await;
    for n in 0..3 {
        acquire_via(
            &app,
            &acme.client,
            &format!("ACME-PRO-2026-{n:04}"),
            "m",
            None,
        )
        .await
        .expect_error(404, "license_not_found");
    }
    let wrong = acquire_via(&app, &acme.client, "ACME-PRO-2026-0004", "m", None).await;
    assert_eq!(
        retry_after(wrong),
        20,
        "the failure over the budget is refused"
    );
    let right = acquire_via(&app, &acme.client, &acme.license_key, "m", None).await;
    assert_eq!(retry_after(right), 20, "blocked: even the right key");

    app.clock.advance(TimeDelta::seconds(19));
    let early = acquire_via(&app, &acme.client, &acme.license_key, "m", None).await;
    assert_eq!(retry_after(early), 1, "a second before the budget has room");
    app.clock.advance(TimeDelta::seconds(1));
    acquire_via(&app, &acme.client, &acme.license_key, "m", None)
        .await
        .expect(200);
}

#[tokio::test]
async fn the_credential_failure_budget_holds_across_addresses_and_spares_held_seats() {
    let app = limited(|config| {
        config.limits.client_address_header = "X-Forwarded-For".into();
        config.limits.failures_per_minute_per_address = 5;
        config.limits.failures_per_minute_per_credential = 10;
    })
    .await;
    let acme = guessable_license(&app, "ACME-PRO-2026-9999").await;
    let held = acquire_via(
        &app,
        &acme.client,
        &acme.license_key,
        "m0",
        Some("198.51.100.1"),
    )
    .await
    .expect(200)
    .str("session_id");

    // Ten addresses, each within its own budget, spend the credential's ten failures…
    for n in 0..10 {
        let address = format!("203.0.113.{n}");
        acquire_via(
            &app,
            &acme.client,
            "ACME-PRO-2026-0000",
            "m",
            Some(&address),
        )
        .await
        .expect_error(404, "license_not_found");
    }
    // …so the eleventh address gets 429, the right key too, whatever the address.
    let refused = acquire_via(
        &app,
        &acme.client,
        "ACME-PRO-2026-0000",
        "m",
        Some("203.0.113.10"),
    )
    .await;
    assert!(retry_after(refused) >= 1);
    let right = acquire_via(
        &app,
        &acme.client,
        &acme.license_key,
        "m1",
        Some("203.0.113.11"),
    )
    .await;
    assert!(retry_after(right) >= 1);
    assert!(rate_limited(&app, "credential_failures").await >= 2);

    // A seat already held keeps its heartbeat; another credential is untouched.
    app.heartbeat(&acme.client, &held).await.expect(200);
    let other = app.fixture("Other", 1).await;
    acquire_via(
        &app,
        &other.client,
        &other.license_key,
        "m1",
        Some("203.0.113.11"),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn lost_sessions_are_no_failures_and_heartbeats_are_never_blocked() {
    let app = limited(|config| config.limits.failures_per_minute_per_address = 2).await;
    let acme = app.fixture("Acme", 2).await;
    let held = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200)
        .str("session_id");
    // A mass loss of sessions (a store restored, say): every heartbeat answers 404, and the
    // clients' re-acquires are not blocked for it.
    for _ in 0..10 {
        let lost = uuid::Uuid::now_v7().to_string();
        app.heartbeat(&acme.client, &lost)
            .await
            .expect_error(404, "session_not_found");
    }
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect(200);
    // An address blocked for wrong license keys still renews and releases the seats it holds.
    for n in 0..3 {
        app.acquire(&acme.client, &format!("WRONG-KEY-{n}"), "m3")
            .await;
    }
    assert!(retry_after(app.acquire(&acme.client, &acme.license_key, "m3").await) >= 1);
    app.heartbeat(&acme.client, &held).await.expect(200);
    app.release(&acme.client, &held).await.expect(200);
}

#[tokio::test]
async fn the_per_credential_request_budget_refills_each_second() {
    let app = limited(|config| config.limits.requests_per_second_per_credential = 5).await;
    let acme = app.fixture("Acme", 2).await;
    let session = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200)
        .str("session_id");
    for _ in 0..4 {
        app.heartbeat(&acme.client, &session).await.expect(200);
    }
    let refused = app.heartbeat(&acme.client, &session).await;
    assert_eq!(retry_after(refused), 1);
    assert_eq!(rate_limited(&app, "credential_requests").await, 1);
    // Another credential from the same address is not limited.
    app.list_licenses(&acme.admin, "").await.expect(200);

    app.clock.advance(TimeDelta::seconds(1));
    app.heartbeat(&acme.client, &session).await.expect(200);
}

#[tokio::test]
async fn a_forwarded_for_header_is_believed_only_when_configured() {
    // Not configured: a client that makes up X-Forwarded-For is still its TCP peer.
    let app = limited(|config| config.limits.failures_per_minute_per_address = 2).await;
    let acme = app.fixture("Acme", 1).await;
    for _ in 0..2 {
        acquire_via(&app, &acme.client, "WRONG-KEY-1", "m", Some("203.0.113.7"))
            .await
            .expect_error(404, "license_not_found");
    }
    let spoofed = acquire_via(&app, &acme.client, "WRONG-KEY-1", "m", Some("203.0.113.99")).await;
    assert!(
        retry_after(spoofed) >= 1,
        "a made-up address got a fresh budget"
    );

    // Configured: the right-most entry (the proxy's) is the client; entries to its left are
    // the client's own writing and are ignored.
    let app = limited(|config| {
        config.limits.failures_per_minute_per_address = 2;
        config.limits.client_address_header = "X-Forwarded-For".into();
    })
    .await;
    let acme = app.fixture("Acme", 1).await;
    for _ in 0..2 {
        acquire_via(&app, &acme.client, "WRONG-KEY-1", "m", Some("203.0.113.7"))
            .await
            .expect_error(404, "license_not_found");
    }
    let blocked = acquire_via(&app, &acme.client, "WRONG-KEY-1", "m", Some("203.0.113.7")).await;
    assert!(retry_after(blocked) >= 1);
    let prepended = acquire_via(
        &app,
        &acme.client,
        "WRONG-KEY-1",
        "m",
        Some("198.51.100.1, 203.0.113.7"),
    )
    .await;
    assert!(
        retry_after(prepended) >= 1,
        "a spoofed left entry is ignored"
    );
    acquire_via(&app, &acme.client, "WRONG-KEY-1", "m", Some("203.0.113.8"))
        .await
        .expect_error(404, "license_not_found");
}

#[tokio::test]
async fn guessing_credentials_is_cut_off_and_refusals_touch_no_store() {
    let app = limited(|config| config.limits.failures_per_minute_per_address = 3).await;
    let acme = app.fixture("Acme", 1).await;
    let tenant = acme.tenant_id.replace('-', "");
    for n in 0..3 {
        let made_up = Caller::bearer(format!("lk_{tenant}_{n:08}{}", "A".repeat(35)));
        app.list_licenses(&made_up, "")
            .await
            .expect_error(401, "unauthenticated");
    }
    let lookups = app.metric("license_api_key_lookups_total").await;

    // Blocked: with the store switched off, the answer is still 429, not 503.
    app.store.set_unavailable(true);
    let made_up = Caller::bearer(format!("lk_{tenant}_{}", "B".repeat(43)));
    assert!(retry_after(app.list_licenses(&made_up, "").await) >= 1);
    assert!(retry_after(app.acquire(&acme.client, &acme.license_key, "m1").await) >= 1);
    assert_eq!(app.metric("license_api_key_lookups_total").await, lookups);
    assert_eq!(rate_limited(&app, "address_failures").await, 2);
}

#[tokio::test]
async fn malformed_api_keys_cost_no_store_lookup_and_a_repeated_unknown_key_one() {
    let app = limited(|config| config.limits.enabled = false).await;
    let acme = app.fixture("Acme", 1).await;
    let tenant = acme.tenant_id.replace('-', "");
    let lookups = app.metric("license_api_key_lookups_total").await;
    let malformed = [
        format!("lk_{tenant}_{}", "A".repeat(42)),
        format!("lk_{tenant}_{}", "A".repeat(44)),
        format!("lk_{tenant}_{}!", "A".repeat(42)),
        format!("lk_nottenant_{}", "A".repeat(43)),
        format!("LK_{tenant}_{}", "A".repeat(43)),
        "lk_".to_owned(),
    ];
    for token in &malformed {
        let caller = Caller::bearer(token);
        app.acquire(&caller, &acme.license_key, "m1")
            .await
            .expect_error(401, "unauthenticated");
        app.list_licenses(&caller, "")
            .await
            .expect_error(401, "unauthenticated");
    }
    assert_eq!(
        app.metric("license_api_key_lookups_total").await,
        lookups,
        "no store lookup for a malformed key"
    );

    // Well-formed but unknown: one lookup, then the cache remembers it missing (on either
    // kind of route: one check whatever the scope).
    let unknown = Caller::bearer(format!("lk_{tenant}_{}", "Z".repeat(43)));
    for _ in 0..10 {
        app.acquire(&unknown, &acme.license_key, "m1")
            .await
            .expect_error(401, "unauthenticated");
        app.list_licenses(&unknown, "")
            .await
            .expect_error(401, "unauthenticated");
    }
    assert_eq!(
        app.metric("license_api_key_lookups_total").await,
        lookups + 1
    );
}

#[tokio::test]
async fn with_limits_off_nothing_is_limited() {
    let app = limited(|config| {
        config.limits.enabled = false;
        config.limits.failures_per_minute_per_address = 1;
    })
    .await;
    let acme = app.fixture("Acme", 1).await;
    for n in 0..100 {
        app.acquire(&acme.client, &format!("WRONG-KEY-{n}"), "m")
            .await
            .expect_error(404, "license_not_found");
    }
    app.acquire(&acme.client, &acme.license_key, "m")
        .await
        .expect(200);
}

#[tokio::test]
async fn a_ready_answer_is_shared_for_a_second_and_a_failure_is_not() {
    let app = limited(|config| {
        config.limits.ready_cache_millis = Config::default().limits.ready_cache_millis;
    })
    .await;
    app.ready().await.expect(200);
    app.store.set_unavailable(true);
    app.ready().await.expect(200);
    app.clock.advance(TimeDelta::milliseconds(1_000));
    let down = app.ready().await.expect_error(503, "unavailable");
    assert_eq!(down.body["dependency"], "store");
    app.store.set_unavailable(false);
    app.ready().await.expect(200);
}

#[tokio::test]
async fn liveness_and_the_root_keys_are_never_limited() {
    let app = limited(|config| config.limits.requests_per_second_per_address = 2).await;
    for _ in 0..10 {
        app.health().await.expect(200);
        app.jwks().await.expect(200);
    }
    app.ready().await.expect(200);
    app.ready().await.expect(200);
    let over = app
        .send(Method::GET, "/api/v1/ready", None, None::<Value>)
        .await;
    assert_eq!(retry_after(over), 1);
    assert_eq!(rate_limited(&app, "address_requests").await, 1);
}
