//! Issue #19 over HTTP: borrowing for offline work, evictions that stick, overdraft you can
//! bill, linger and the minimum hold, and bad input to all of them. The key scenarios run
//! twice: on in-memory adapters with a manual clock, and on PostgreSQL + Redis (started on
//! loopback) with the system clock, where the short periods below are waited out for real.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use license_server::AppState;
use license_testkit::redis::RedisServer;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Api, ComposedApp, Fixture, Reply, TestApp, spawn_app, spawn_app_with};
use crate::real_services::{fresh_database, replicas};

/// A borrow, a linger or a hold-off short enough to wait out on real services, long enough
/// for the calls that must fall inside it on a loaded machine.
const SHORT: u32 = 3;

/// Where a scenario runs.
enum Stage {
    /// In-memory adapters on a manual clock: time passes when the test says so.
    Memory(TestApp),
    /// PostgreSQL and Redis, on the system clock: time passes by waiting.
    Real {
        app: ComposedApp,
        _redis: RedisServer,
    },
}

impl Stage {
    async fn memory() -> Self {
        Stage::Memory(spawn_app().await)
    }

    /// A server on a fresh database of the shared PostgreSQL and a Redis of its own.
    async fn real(database: &'static str) -> Self {
        let store_url = fresh_database(database).await;
        let redis = RedisServer::start();
        let app = replicas(1, &store_url, &redis.url()).await.pop().unwrap();
        Stage::Real { app, _redis: redis }
    }

    fn api(&self) -> &Api {
        match self {
            Stage::Memory(app) => &app.api,
            Stage::Real { app, .. } => &app.api,
        }
    }

    fn state(&self) -> &Arc<AppState> {
        match self {
            Stage::Memory(app) => &app.state,
            Stage::Real { app, .. } => &app.state,
        }
    }

    /// The server's time.
    fn now(&self) -> DateTime<Utc> {
        match self {
            Stage::Memory(app) => app.clock_now(),
            Stage::Real { .. } => Utc::now(),
        }
    }

    /// Lets `seconds` (and a little more) pass for the server.
    async fn pass(&self, seconds: u32) {
        let wait = Duration::from_millis(u64::from(seconds) * 1000 + 300);
        match self {
            Stage::Memory(app) => app.clock.advance(TimeDelta::from_std(wait).unwrap()),
            Stage::Real { .. } => tokio::time::sleep(wait).await,
        }
    }

    /// Runs the write-behind flush now (peaks reach the store with it; ADR 0017).
    async fn flush(&self) {
        license_server::flusher::flush_step(self.state()).await;
    }

    /// The claims of a lease token of `fixture`'s tenant, verified offline against its
    /// pinned keys.
    async fn claims(&self, fixture: &Fixture, token: &str) -> license_core::LeaseClaims {
        self.api()
            .pinned_verifier(&fixture.tenant_id)
            .await
            .verify(token, self.now())
            .unwrap()
    }
}

/// Acquires for `hardware_id` as `email` (hold-offs hold the person too, so machines of
/// different people need different e-mails).
async fn acquire_as(api: &Api, fixture: &Fixture, hardware_id: &str, email: &str) -> Reply {
    api.send(
        Method::POST,
        "/api/v1/licenses/acquire",
        Some(&fixture.client),
        Some(json!({
            "license_key": fixture.license_key, "hardware_id": hardware_id, "user_email": email,
        })),
    )
    .await
}

fn items(reply: &Reply) -> Vec<Value> {
    reply.body["items"].as_array().cloned().unwrap_or_default()
}

async fn live(api: &Api, fixture: &Fixture) -> Vec<Value> {
    items(
        &api.license_sessions(&fixture.admin, &fixture.license_id)
            .await
            .expect(200),
    )
}

async fn borrowed(api: &Api, fixture: &Fixture) -> Vec<Value> {
    items(
        &api.borrowed_sessions(&fixture.admin, &fixture.license_id, "")
            .await
            .expect(200),
    )
}

/// Two readings of one instant by different clocks (the app's, Redis `TIME`): within a second.
#[track_caller]
fn assert_close(a: DateTime<Utc>, b: DateTime<Utc>) {
    assert!((a - b).abs() < TimeDelta::seconds(1), "{a} vs {b}");
}

#[track_caller]
fn assert_invalid(reply: Reply, field: &str) {
    let reply = reply.expect_error(400, "invalid_input");
    assert_eq!(reply.body["field"], field, "{}", reply.body);
}

// --- borrowing ---------------------------------------------------------------------------

/// One seat, borrowed for [`SHORT`] seconds: it counts with no heartbeat and frees at the
/// borrow's end; a borrow returned early frees at once.
async fn a_borrowed_seat_counts_offline_and_frees_at_its_end_or_on_return(stage: &Stage) {
    let api = stage.api();
    let acme = api
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 1, "max_borrow_seconds": 86_400 }),
        )
        .await;
    let before = stage.now();
    let lease = api
        .borrow(&acme.client, &acme.license_key, "laptop-1", json!(SHORT))
        .await
        .expect(200);
    assert_eq!(lease.body["borrowed"], true, "{}", lease.body);
    assert_eq!(lease.body["overdraft"], false);
    let until: DateTime<Utc> = lease.str("expires_at").parse().unwrap();
    let period = (until - before).num_seconds();
    assert!(
        (i64::from(SHORT) - 1..=i64::from(SHORT)).contains(&period),
        "{period}"
    );
    let claims = stage.claims(&acme, &lease.str("token")).await;
    assert!(claims.brw && !claims.ovd, "{claims:?}");
    assert_eq!(claims.exp, until.timestamp(), "valid offline to the end");
    let session = lease.str("session_id");

    // A retry returns the same borrow.
    let again = api
        .borrow(&acme.client, &acme.license_key, "laptop-1", json!(SHORT))
        .await
        .expect(200);
    assert_eq!(again.str("session_id"), session);

    // No heartbeat, and the seat still counts: the last seat is taken.
    api.acquire(&acme.client, &acme.license_key, "desk-1")
        .await
        .expect_error(402, "no_seats_available");
    let listed = borrowed(api, &acme).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], session.as_str());
    assert_eq!(listed[0]["borrowed"], true);
    // A check-in keeps the end (the store's copy of it: on Redis, milliseconds from the
    // ledger's until the write-behind flush).
    let checked_in = api.heartbeat(&acme.client, &session).await.expect(200);
    let kept: DateTime<Utc> = checked_in.str("expires_at").parse().unwrap();
    assert_close(kept, until);

    // At the borrow's end the seat is free again.
    stage.pass(SHORT).await;
    let desk = api
        .acquire(&acme.client, &acme.license_key, "desk-1")
        .await
        .expect(200);
    assert!(borrowed(api, &acme).await.is_empty());
    api.release(&acme.client, &desk.str("session_id"))
        .await
        .expect(200);

    // Returned early: free at once, and a second return answers the same.
    let trip = api
        .borrow(&acme.client, &acme.license_key, "laptop-2", json!(3600))
        .await
        .expect(200);
    let trip = trip.str("session_id");
    api.acquire(&acme.client, &acme.license_key, "desk-2")
        .await
        .expect_error(402, "no_seats_available");
    let returned = api.return_borrowed(&acme.client, &trip).await.expect(200);
    let again = api.return_borrowed(&acme.client, &trip).await.expect(200);
    assert_eq!(returned.str("returned_at"), again.str("returned_at"));
    api.acquire(&acme.client, &acme.license_key, "desk-2")
        .await
        .expect(200);
    assert!(borrowed(api, &acme).await.is_empty());
    let audit = api.audit(&acme.admin).await.expect(200);
    assert!(
        items(&audit)
            .iter()
            .any(|e| e["action"] == "session.return"),
        "{}",
        audit.body
    );
}

#[tokio::test]
async fn a_borrowed_seat_counts_offline_and_frees_at_its_end_or_on_return_in_memory() {
    a_borrowed_seat_counts_offline_and_frees_at_its_end_or_on_return(&Stage::memory().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_borrowed_seat_counts_offline_and_frees_at_its_end_or_on_return_on_postgres_and_redis() {
    let stage = Stage::real("seat_rules_borrow").await;
    a_borrowed_seat_counts_offline_and_frees_at_its_end_or_on_return(&stage).await;
}

#[tokio::test]
async fn a_bad_borrow_is_400_naming_borrow_seconds_and_changes_nothing() {
    let app = spawn_app().await;
    let off = app.fixture("Acme", 2).await;
    // Borrowing is off on a license without max_borrow_seconds.
    let refused = app
        .borrow(&off.client, &off.license_key, "laptop-1", json!(3600))
        .await;
    assert_invalid(refused, "borrow_seconds");

    let on = app
        .fixture_with(
            "Globex",
            json!({ "product": "CAD", "seats_total": 2, "max_borrow_seconds": 3600 }),
        )
        .await;
    for bad in [
        json!(3601),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1_209_601),
        json!(4_294_967_296_u64),
        json!(1e30),
        json!(-1e30),
    ] {
        let reply = app
            .borrow(&on.client, &on.license_key, "laptop-1", bad.clone())
            .await;
        assert_invalid(reply, "borrow_seconds");
    }
    // The wrong type is a 400 too (the field may go unnamed: the type is checked first).
    app.borrow(&on.client, &on.license_key, "laptop-1", json!("3600"))
        .await
        .expect_error(400, "invalid_input");

    for fixture in [&off, &on] {
        assert!(live(&app, fixture).await.is_empty(), "no seat was taken");
        assert!(borrowed(&app, fixture).await.is_empty());
    }
    // The good period still borrows.
    app.borrow(&on.client, &on.license_key, "laptop-1", json!(3600))
        .await
        .expect(200);
}

#[tokio::test]
async fn returning_a_seat_that_is_not_borrowed_is_400_naming_session_id() {
    let app = spawn_app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 1, "max_borrow_seconds": 3600 }),
        )
        .await;
    let lease = app
        .acquire(&acme.client, &acme.license_key, "desk-1")
        .await
        .expect(200);
    assert_eq!(lease.body["borrowed"], false);
    let session = lease.str("session_id");
    assert_invalid(
        app.return_borrowed(&acme.client, &session).await,
        "session_id",
    );
    // Nothing changed: the session still holds its seat.
    app.heartbeat(&acme.client, &session).await.expect(200);
    assert_eq!(live(&app, &acme).await.len(), 1);
    // A machine holding an ordinary seat cannot borrow over it.
    app.borrow(&acme.client, &acme.license_key, "desk-1", json!(60))
        .await
        .expect_error(409, "conflict");
    // An unknown session is 404, as for release.
    app.return_borrowed(&acme.client, "01a2103b-0000-7000-8000-000000000000")
        .await
        .expect_error(404, "session_not_found");
}

#[tokio::test]
async fn borrows_beyond_the_cap_are_402_borrow_limit_reached() {
    let app = spawn_app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({
                "product": "CAD", "seats_total": 3,
                "max_borrow_seconds": 3600, "max_borrowed_seats": 1,
            }),
        )
        .await;
    app.borrow(&acme.client, &acme.license_key, "laptop-1", json!(600))
        .await
        .expect(200);
    app.borrow(&acme.client, &acme.license_key, "laptop-2", json!(600))
        .await
        .expect_error(402, "borrow_limit_reached");
    assert_eq!(borrowed(&app, &acme).await.len(), 1, "nothing more lent");
    // Seats the cap does not cover are still there for ordinary use.
    app.acquire(&acme.client, &acme.license_key, "laptop-2")
        .await
        .expect(200);
    assert_eq!(live(&app, &acme).await.len(), 2);
}

#[tokio::test]
async fn borrowed_seats_are_listed_page_by_page() {
    let app = spawn_app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 5, "max_borrow_seconds": 3600 }),
        )
        .await;
    for i in 0..3 {
        app.borrow(
            &acme.client,
            &acme.license_key,
            &format!("laptop-{i}"),
            json!(600),
        )
        .await
        .expect(200);
        // One acquired after the other (sessions of one instant are ordered by id).
        app.clock.advance(TimeDelta::seconds(1));
    }
    app.acquire(&acme.client, &acme.license_key, "desk-1")
        .await
        .expect(200);
    let first = app
        .borrowed_sessions(&acme.admin, &acme.license_id, "?limit=2")
        .await
        .expect(200);
    assert_eq!(items(&first).len(), 2);
    let cursor = first.str("next_cursor");
    let second = app
        .borrowed_sessions(
            &acme.admin,
            &acme.license_id,
            &format!("?limit=2&cursor={cursor}"),
        )
        .await
        .expect(200);
    assert_eq!(items(&second).len(), 1);
    assert!(second.body["next_cursor"].is_null());
    let machines: Vec<_> = items(&first)
        .into_iter()
        .chain(items(&second))
        .map(|s| s["hardware_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(machines, ["laptop-0", "laptop-1", "laptop-2"]);
    assert_eq!(
        live(&app, &acme).await.len(),
        4,
        "the live list has every seat"
    );
    // Another tenant's license answers 404, like a missing one.
    let other = app.fixture("Globex", 1).await;
    app.borrowed_sessions(&other.admin, &acme.license_id, "")
        .await
        .expect_error(404, "license_not_found");
}

#[tokio::test]
async fn revoking_a_borrowed_seat_frees_it_at_once_and_the_client_learns_at_check_in() {
    let app = spawn_app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 1, "max_borrow_seconds": 86_400 }),
        )
        .await;
    let lease = app
        .borrow(&acme.client, &acme.license_key, "laptop-1", json!(86_400))
        .await
        .expect(200);
    let session = lease.str("session_id");
    let revoked = app
        .evict(&acme.admin, &session, "?reason=laptop%20stolen")
        .await
        .expect(200);
    assert_eq!(revoked.body["end_reason"], "evicted");
    assert_eq!(revoked.body["borrowed"], true);
    // The seat is free at once…
    app.acquire(&acme.client, &acme.license_key, "desk-1")
        .await
        .expect(200);
    // …while the borrowed token stays valid offline to its end (nothing can reach it)…
    let claims = app
        .pinned_verifier(&acme.tenant_id)
        .await
        .verify(&lease.str("token"), app.clock_now())
        .unwrap();
    assert!(claims.brw);
    // …and the client learns at its next check-in.
    let gone = app
        .heartbeat(&acme.client, &session)
        .await
        .expect_error(410, "evicted");
    assert_eq!(gone.body["reason"], "laptop stolen");
}

// --- evictions -----------------------------------------------------------------------------

/// An eviction with a hold-off: the machine and its person get 403 `evicted` with the reason
/// and `Retry-After` until it ends; the evicted session's heartbeat gets 410 `evicted`; other
/// machines and people are not held.
async fn an_eviction_with_a_hold_off_sticks_to_the_machine_until_it_ends(stage: &Stage) {
    let api = stage.api();
    let acme = api.fixture("Acme", 2).await;
    let lease = acquire_as(api, &acme, "pc-1", "ada@example.com")
        .await
        .expect(200);
    let session = lease.str("session_id");

    let evicted = api
        .evict(
            &acme.admin,
            &session,
            &format!("?hold_off_seconds={SHORT}&reason=licence%20audit"),
        )
        .await
        .expect(200);
    assert_eq!(evicted.body["end_reason"], "evicted", "{}", evicted.body);
    assert_eq!(evicted.body["eviction"]["reason"], "licence audit");
    let hold_until: DateTime<Utc> = evicted.body["eviction"]["hold_until"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // The same machine (and the same person on another machine) is held off.
    for (machine, email) in [("pc-1", "ada@example.com"), ("pc-9", "ada@example.com")] {
        let held = acquire_as(api, &acme, machine, email)
            .await
            .expect_error(403, "evicted");
        assert_eq!(held.body["reason"], "licence audit", "{}", held.body);
        // The ledger's clock decides the hold-off (Redis `TIME`), the store keeps the app's.
        let until: DateTime<Utc> = held.str("until").parse().unwrap();
        assert_close(until, hold_until);
        let retry_after: u32 = held.headers["retry-after"].parse().unwrap();
        assert!((1..=SHORT).contains(&retry_after), "{retry_after}");
    }
    // The evicted session's heartbeat: 410 evicted, not session_expired.
    let gone = api
        .heartbeat(&acme.client, &session)
        .await
        .expect_error(410, "evicted");
    assert_eq!(gone.body["reason"], "licence audit");
    // Another machine of another person takes a seat.
    let other = acquire_as(api, &acme, "pc-2", "grace@example.com")
        .await
        .expect(200);
    assert_eq!(
        live(api, &acme).await.len(),
        1,
        "no seat for the held-off machine"
    );

    // Once the hold-off has passed, the machine may acquire again.
    stage.pass(SHORT).await;
    acquire_as(api, &acme, "pc-1", "ada@example.com")
        .await
        .expect(200);
    api.release(&acme.client, &other.str("session_id"))
        .await
        .expect(200);
    let audit = api.audit(&acme.admin).await.expect(200);
    let eviction = items(&audit)
        .into_iter()
        .find(|e| e["action"] == "session.force_release")
        .unwrap();
    assert_eq!(eviction["details"]["hold_off_seconds"], SHORT);
    assert_eq!(eviction["details"]["reason"], "licence audit");
}

#[tokio::test]
async fn an_eviction_with_a_hold_off_sticks_to_the_machine_until_it_ends_in_memory() {
    an_eviction_with_a_hold_off_sticks_to_the_machine_until_it_ends(&Stage::memory().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eviction_with_a_hold_off_sticks_to_the_machine_until_it_ends_on_postgres_and_redis() {
    let stage = Stage::real("seat_rules_evict").await;
    an_eviction_with_a_hold_off_sticks_to_the_machine_until_it_ends(&stage).await;
}

#[tokio::test]
async fn a_held_off_client_is_not_rate_limited_for_its_evictions() {
    let app = spawn_app_with(|config| {
        config.limits.enabled = true;
        config.limits.failures_per_minute_per_address = 2;
        config.limits.failures_per_minute_per_credential = 2;
    })
    .await;
    let acme = app.fixture("Acme", 2).await;
    let lease = acquire_as(&app, &acme, "pc-1", "ada@example.com")
        .await
        .expect(200);
    app.evict(
        &acme.admin,
        &lease.str("session_id"),
        "?hold_off_seconds=600",
    )
    .await
    .expect(200);
    // Far more 403s than the failure budget: every one is the eviction, never a 429.
    for _ in 0..6 {
        acquire_as(&app, &acme, "pc-1", "ada@example.com")
            .await
            .expect_error(403, "evicted");
        app.heartbeat(&acme.client, &lease.str("session_id"))
            .await
            .expect_error(410, "evicted");
    }
    // The address and the key are not blocked for anyone else either.
    acquire_as(&app, &acme, "pc-2", "grace@example.com")
        .await
        .expect(200);
    // And once the hold-off is over, the machine gets its seat back at once.
    app.clock.advance(TimeDelta::seconds(601));
    acquire_as(&app, &acme, "pc-1", "ada@example.com")
        .await
        .expect(200);
}

#[tokio::test]
async fn a_young_session_needs_force_to_be_evicted_under_min_hold() {
    let app = spawn_app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({
                "product": "CAD", "seats_total": 1, "min_hold_seconds": 600, "ttl_seconds": 3600,
            }),
        )
        .await;
    let session = app
        .acquire(&acme.client, &acme.license_key, "pc-1")
        .await
        .expect(200)
        .str("session_id");
    let refused = app
        .force_release(&acme.admin, &session)
        .await
        .expect_error(409, "conflict");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("min_hold_seconds"),
        "{}",
        refused.body
    );
    app.heartbeat(&acme.client, &session).await.expect(200);
    app.evict(&acme.admin, &session, "?force=false")
        .await
        .expect_error(409, "conflict");
    let forced = app
        .evict(&acme.admin, &session, "?force=true")
        .await
        .expect(200);
    assert_eq!(forced.body["end_reason"], "evicted");
    assert!(live(&app, &acme).await.is_empty());

    // An older session needs no force.
    let older = app
        .acquire(&acme.client, &acme.license_key, "pc-2")
        .await
        .expect(200)
        .str("session_id");
    app.clock.advance(TimeDelta::seconds(601));
    app.heartbeat(&acme.client, &older).await.expect(200);
    app.force_release(&acme.admin, &older).await.expect(200);
}

#[tokio::test]
async fn bad_eviction_options_are_400_naming_the_parameter_and_change_nothing() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    let session = app
        .acquire(&acme.client, &acme.license_key, "pc-1")
        .await
        .expect(200)
        .str("session_id");
    for (query, field) in [
        ("?hold_off_seconds=-1", "hold_off_seconds"),
        ("?hold_off_seconds=2592001", "hold_off_seconds"),
        ("?hold_off_seconds=99999999999999", "hold_off_seconds"),
        ("?hold_off_seconds=1.5", "hold_off_seconds"),
        ("?force=maybe", "force"),
        ("?reason=", "reason"),
        ("?reason=a%E2%80%AEb", "reason"),
    ] {
        assert_invalid(app.evict(&acme.admin, &session, query).await, field);
    }
    let long = "x".repeat(201);
    assert_invalid(
        app.evict(&acme.admin, &session, &format!("?reason={long}"))
            .await,
        "reason",
    );
    // Nothing changed: the session holds its seat.
    app.heartbeat(&acme.client, &session).await.expect(200);
    assert_eq!(live(&app, &acme).await.len(), 1);
}

// --- overdraft -----------------------------------------------------------------------------

/// A grant beyond `seats_total` goes into the overdraft and is marked: in the token (`ovd`),
/// the session, and the usage (`overdraft_peak`). Overdraft seat-minutes need minutes of wall
/// time: license-core's tests count them.
async fn an_overdraft_grant_is_marked_in_the_token_the_session_and_the_usage(stage: &Stage) {
    let api = stage.api();
    let acme = api
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 1, "overdraft": 1 }),
        )
        .await;
    let first = api
        .acquire(&acme.client, &acme.license_key, "pc-1")
        .await
        .expect(200);
    assert_eq!(first.body["overdraft"], false);
    assert!(!stage.claims(&acme, &first.str("token")).await.ovd);

    let over = api
        .acquire(&acme.client, &acme.license_key, "pc-2")
        .await
        .expect(200);
    assert_eq!(over.body["overdraft"], true, "{}", over.body);
    let claims = stage.claims(&acme, &over.str("token")).await;
    assert!(claims.ovd, "{claims:?}");
    // The overdraft is the limit: a third machine is refused.
    api.acquire(&acme.client, &acme.license_key, "pc-3")
        .await
        .expect_error(402, "no_seats_available");
    // A heartbeat's fresh token keeps the mark.
    let renewed = api
        .heartbeat(&acme.client, &over.str("session_id"))
        .await
        .expect(200);
    assert!(stage.claims(&acme, &renewed.str("token")).await.ovd);

    let sessions = live(api, &acme).await;
    let mut marked: Vec<_> = sessions
        .iter()
        .map(|s| (s["hardware_id"].as_str().unwrap(), s["overdraft"] == true))
        .collect();
    marked.sort_unstable();
    assert_eq!(marked, [("pc-1", false), ("pc-2", true)]);

    stage.flush().await;
    let usage = api
        .usage(&acme.admin, &acme.license_id, "")
        .await
        .expect(200);
    let today = stage.now().date_naive().to_string();
    let day = usage.body["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["day"] == today.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("no usage for {today}: {}", usage.body));
    assert_eq!(day["peak_seats"], 2, "{day}");
    assert!(day["overdraft_peak"].as_u64().unwrap() >= 1, "{day}");
    assert!(day["overdraft_seat_minutes"].is_u64(), "{day}");
}

#[tokio::test]
async fn an_overdraft_grant_is_marked_in_the_token_the_session_and_the_usage_in_memory() {
    an_overdraft_grant_is_marked_in_the_token_the_session_and_the_usage(&Stage::memory().await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdraft_grant_is_marked_in_the_token_the_session_and_the_usage_on_postgres_and_redis()
{
    let stage = Stage::real("seat_rules_overdraft").await;
    an_overdraft_grant_is_marked_in_the_token_the_session_and_the_usage(&stage).await;
}

// --- linger --------------------------------------------------------------------------------

/// After a release under `linger_seconds` the seat stays its machine's: the same hardware id
/// gets it back at once, another machine is refused until the linger ends.
async fn a_lingering_seat_is_regranted_to_its_machine_and_not_to_another(stage: &Stage) {
    let api = stage.api();
    let acme = api
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 1, "linger_seconds": SHORT }),
        )
        .await;
    let first = api
        .acquire(&acme.client, &acme.license_key, "pc-1")
        .await
        .expect(200);
    api.release(&acme.client, &first.str("session_id"))
        .await
        .expect(200);
    // The same machine re-acquires at once (a new session on the lingering seat).
    let second = api
        .acquire(&acme.client, &acme.license_key, "pc-1")
        .await
        .expect(200);
    assert_ne!(second.str("session_id"), first.str("session_id"));
    api.release(&acme.client, &second.str("session_id"))
        .await
        .expect(200);
    // Another machine: taken while the seat lingers.
    api.acquire(&acme.client, &acme.license_key, "pc-2")
        .await
        .expect_error(402, "no_seats_available");
    // After the linger, the seat is anyone's.
    stage.pass(SHORT).await;
    api.acquire(&acme.client, &acme.license_key, "pc-2")
        .await
        .expect(200);
}

#[tokio::test]
async fn a_lingering_seat_is_regranted_to_its_machine_and_not_to_another_in_memory() {
    a_lingering_seat_is_regranted_to_its_machine_and_not_to_another(&Stage::memory().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lingering_seat_is_regranted_to_its_machine_and_not_to_another_on_postgres_and_redis() {
    let stage = Stage::real("seat_rules_linger").await;
    a_lingering_seat_is_regranted_to_its_machine_and_not_to_another(&stage).await;
}

// --- the rules on the license ----------------------------------------------------------------

const RULES: [&str; 5] = [
    "max_borrow_seconds",
    "max_borrowed_seats",
    "linger_seconds",
    "min_hold_seconds",
    "overdraft_minutes_per_day",
];

#[tokio::test]
async fn the_rules_are_set_shown_changed_and_cleared_like_the_other_terms() {
    let app = spawn_app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({
                "product": "CAD", "seats_total": 10, "overdraft": 2,
                "max_borrow_seconds": 604_800, "max_borrowed_seats": 3, "linger_seconds": 300,
                "min_hold_seconds": 60, "overdraft_minutes_per_day": 600,
            }),
        )
        .await;
    let shown = app
        .get_license(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    for (field, value) in RULES.iter().zip([604_800, 3, 300, 60, 600]) {
        assert_eq!(shown.body[field], value, "{field}: {}", shown.body);
    }
    // Absent fields stay; null clears the optional caps.
    let changed = app
        .update_license(
            &acme.admin,
            &acme.license_id,
            json!({ "linger_seconds": 0, "max_borrowed_seats": null, "overdraft_minutes_per_day": null }),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["linger_seconds"], 0);
    assert_eq!(changed.body["max_borrow_seconds"], 604_800);
    assert_eq!(changed.body["min_hold_seconds"], 60);
    assert!(
        changed.body.get("max_borrowed_seats").is_none(),
        "{}",
        changed.body
    );
    assert!(changed.body.get("overdraft_minutes_per_day").is_none());
    // Defaults: nothing lent, no linger, no minimum hold, no caps.
    let plain = app.fixture("Globex", 1).await;
    let plain = app
        .get_license(&plain.admin, &plain.license_id)
        .await
        .expect(200);
    assert_eq!(
        (
            &plain.body["max_borrow_seconds"],
            &plain.body["linger_seconds"],
            &plain.body["min_hold_seconds"]
        ),
        (&json!(0), &json!(0), &json!(0))
    );
}

/// `{ field: value }`.
fn one(field: &str, value: Value) -> Value {
    let mut body = json!({});
    body[field] = value;
    body
}

#[tokio::test]
async fn negative_huge_or_inconsistent_rules_are_400_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 10).await;
    let before = app
        .get_license(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    let base = json!({ "product": "CAD", "seats_total": 10, "overdraft": 1 });
    for field in RULES {
        for bad in [
            json!(-1),
            json!(-1e30),
            json!(1e30),
            json!(4_294_967_296_u64),
            json!(99_999_999_999_u64),
            json!(2.5),
        ] {
            let mut body = base.clone();
            body[field] = bad.clone();
            assert_invalid(app.create_license(&acme.admin, body).await, field);
            assert_invalid(
                app.update_license(&acme.admin, &acme.license_id, one(field, bad))
                    .await,
                field,
            );
        }
    }
    // Within the type but beyond what the license allows.
    for (field, bad) in [
        ("max_borrow_seconds", 1_209_601),
        ("max_borrowed_seats", 12),
        ("linger_seconds", 86_401),
        ("min_hold_seconds", 86_401),
        ("overdraft_minutes_per_day", 1441),
    ] {
        let mut body = base.clone();
        body[field] = json!(bad);
        assert_invalid(app.create_license(&acme.admin, body).await, field);
        // The fixture's license has 10 seats and no overdraft: 11 seats too many to lend.
        let bad = if field == "max_borrowed_seats" {
            11
        } else {
            bad
        };
        let bad = if field == "overdraft_minutes_per_day" {
            1
        } else {
            bad
        };
        assert_invalid(
            app.update_license(&acme.admin, &acme.license_id, one(field, json!(bad)))
                .await,
            field,
        );
    }

    let licenses = app.list_licenses(&acme.admin, "").await.expect(200);
    assert_eq!(items(&licenses).len(), 1, "nothing was created");
    let after = app
        .get_license(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    assert_eq!(after.body, before.body, "nothing was changed");
}

#[tokio::test]
async fn the_document_describes_borrow_return_and_eviction() {
    let app = spawn_app().await;
    let spec = app
        .send(Method::GET, "/openapi.json", None, None)
        .await
        .expect(200)
        .body;
    let borrow = &spec["paths"]["/api/v1/licenses/borrow"]["post"];
    assert_eq!(borrow["operationId"], "borrow");
    assert_eq!(
        spec["paths"]["/api/v1/licenses/return"]["post"]["operationId"],
        "return_borrowed"
    );
    assert_eq!(
        spec["paths"]["/api/v1/admin/licenses/{license_id}/borrowed"]["get"]["operationId"],
        "list_borrowed_sessions"
    );
    let evict = &spec["paths"]["/api/v1/admin/sessions/{session_id}/release"]["post"];
    let parameters: Vec<_> = evict["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in ["hold_off_seconds", "reason", "force"] {
        assert!(parameters.contains(&name), "{parameters:?}");
    }
    let schemas = &spec["components"]["schemas"];
    let seconds = &schemas["BorrowRequest"]["properties"]["borrow_seconds"];
    assert_eq!(seconds["type"], "integer");
    assert_eq!(seconds["maximum"].as_f64(), Some(1_209_600.0));
    for field in ["reason", "until"] {
        assert!(
            schemas["ErrorBody"]["properties"][field].is_object(),
            "{field}"
        );
    }
    for field in ["borrowed", "overdraft", "linger_until", "eviction"] {
        assert!(
            schemas["SessionDto"]["properties"][field].is_object(),
            "{field}"
        );
    }
}
