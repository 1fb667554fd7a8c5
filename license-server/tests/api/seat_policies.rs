//! Issue #20 (part 1) over HTTP: leasing strategies (per machine, per user, per process) and a
//! license's seat policy (groups; reserve, max, include, exclude): the policy routes, what a
//! refusal says (402 `limit_reached`, 403 `excluded`) and bad input. The reserve and exclude
//! scenarios run twice: on in-memory adapters, and on PostgreSQL + Redis (started on
//! loopback).

use license_testkit::redis::RedisServer;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Api, ComposedApp, Fixture, Reply, TestApp, spawn_app};
use crate::real_services::{fresh_database, replicas};

/// Where a scenario runs.
enum Stage {
    /// In-memory adapters.
    Memory(TestApp),
    /// PostgreSQL and Redis.
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
}

/// Asks for a seat with `who` (any of `hardware_id`, `user_email`, `host_name`,
/// `process_id`) added to the license key.
async fn acquire(api: &Api, fixture: &Fixture, who: Value) -> Reply {
    let mut body = json!({ "license_key": fixture.license_key });
    if let (Some(body), Some(who)) = (body.as_object_mut(), who.as_object()) {
        body.extend(who.clone());
    }
    api.send(
        Method::POST,
        "/api/v1/licenses/acquire",
        Some(&fixture.client),
        Some(body),
    )
    .await
}

fn policy_path(fixture: &Fixture) -> String {
    format!("/api/v1/admin/licenses/{}/policy", fixture.license_id)
}

async fn get_policy(api: &Api, fixture: &Fixture) -> Reply {
    api.send(
        Method::GET,
        &policy_path(fixture),
        Some(&fixture.admin),
        None,
    )
    .await
}

async fn put_policy(api: &Api, fixture: &Fixture, policy: Value) -> Reply {
    api.send(
        Method::PUT,
        &policy_path(fixture),
        Some(&fixture.admin),
        Some(policy),
    )
    .await
}

#[track_caller]
fn assert_invalid(reply: Reply, field: &str) {
    let reply = reply.expect_error(400, "invalid_input");
    assert_eq!(reply.body["field"], field, "{}", reply.body);
}

#[track_caller]
fn assert_limit(reply: Reply, limit: &str) {
    let reply = reply.expect_error(402, "no_seats_available");
    assert_eq!(reply.body["limit_reached"], limit, "{}", reply.body);
}

/// A policy with every kind of member and rule.
fn every_kind() -> Value {
    json!({
        "groups": [
            { "name": "eng", "members": [
                { "kind": "user", "value": "ada@acme.com" },
                { "kind": "domain", "value": "eng.acme.com" },
                { "kind": "hardware_id", "value": "build-hw-1" },
                { "kind": "host", "value": "build-01" },
            ] },
            { "name": "interns", "members": [{ "kind": "domain", "value": "interns.acme.com" }] },
        ],
        "rules": [
            { "rule": "reserve", "seats": 2, "group": "eng" },
            { "rule": "max", "seats": 3, "target": { "kind": "group", "value": "eng" } },
            { "rule": "max", "seats": 1, "target": { "kind": "user", "value": "bob@acme.com" } },
            { "rule": "max", "seats": 2, "target": { "kind": "host", "value": "ws-17" } },
            { "rule": "include", "group": "eng" },
            { "rule": "exclude", "group": "interns" },
        ],
    })
}

// --- the policy routes ---------------------------------------------------------------------

#[tokio::test]
async fn a_policy_put_is_read_back_whole_and_on_the_license() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 5).await;
    let empty = get_policy(&app, &acme).await.expect(200);
    assert_eq!(empty.body, json!({ "groups": [], "rules": [] }));

    let put = put_policy(&app, &acme, every_kind()).await.expect(200);
    assert_eq!(put.body, every_kind());
    let read = get_policy(&app, &acme).await.expect(200);
    assert_eq!(read.body, every_kind());
    let license = app
        .get_license(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    assert_eq!(license.body["policy"], every_kind());
    assert_eq!(license.body["leasing_strategy"], "per_machine");
    assert!(license.body["max_processes_per_host"].is_null());

    // `{}` clears it.
    put_policy(&app, &acme, json!({})).await.expect(200);
    let cleared = get_policy(&app, &acme).await.expect(200);
    assert_eq!(cleared.body, json!({ "groups": [], "rules": [] }));

    // Another tenant's license answers like a missing one.
    let other = app.fixture("Other", 1).await;
    let foreign = app
        .send(Method::GET, &policy_path(&acme), Some(&other.admin), None)
        .await;
    foreign.expect_error(404, "license_not_found");
}

#[tokio::test]
async fn a_bad_policy_is_a_400_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 2).await;
    put_policy(&app, &acme, every_kind_for_two_seats())
        .await
        .expect(200);
    let group =
        |name: &str| json!({ "name": name, "members": [{ "kind": "user", "value": "a@b.c" }] });
    for (policy, field) in [
        // A rule naming a group that is not defined.
        (
            json!({ "rules": [{ "rule": "include", "group": "nobody" }] }),
            "rules",
        ),
        // Reserves beyond the seats sold.
        (
            json!({ "groups": [group("eng")], "rules": [{ "rule": "reserve", "seats": 3, "group": "eng" }] }),
            "rules",
        ),
        // A group defined twice, a bad group name, a member with a space.
        (json!({ "groups": [group("eng"), group("eng")] }), "groups"),
        (json!({ "groups": [group("bad name")] }), "groups"),
        (
            json!({ "groups": [{ "name": "eng", "members": [{ "kind": "user", "value": "a b" }] }] }),
            "groups",
        ),
        // A rule without what it needs, or with what it does not take.
        (
            json!({ "groups": [group("eng")], "rules": [{ "rule": "reserve", "seats": 1 }] }),
            "rules",
        ),
        (json!({ "rules": [{ "rule": "max", "seats": 1 }] }), "rules"),
        (
            json!({ "groups": [group("eng")], "rules": [{ "rule": "include", "group": "eng", "seats": 1 }] }),
            "rules",
        ),
        // An unknown field.
        (json!({ "groups": [], "rulez": [] }), "rulez"),
        // A group without members.
        (
            json!({ "groups": [{ "name": "eng", "members": [] }] }),
            "members",
        ),
    ] {
        assert_invalid(put_policy(&app, &acme, policy.clone()).await, field);
    }
    // The message names the entry, counted from 0.
    for (policy, entry) in [
        (
            json!({ "groups": [group("eng")], "rules": [{ "rule": "include", "group": "eng" }, { "rule": "reserve", "seats": 1 }] }),
            "rules[1]: ",
        ),
        (
            json!({ "groups": [group("eng")], "rules": [{ "rule": "include", "group": "eng" }, { "rule": "exclude", "group": "ops" }] }),
            "rules[1]: ",
        ),
        (
            json!({ "groups": [group("eng"), group("bad name")] }),
            "groups[1]: ",
        ),
    ] {
        let reply = put_policy(&app, &acme, policy)
            .await
            .expect_error(400, "invalid_input");
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(entry), "{}", reply.body);
    }
    // An unknown rule or member kind is a 400 too (the framework's message names the type,
    // not the field, as for any value of the wrong type).
    for policy in [
        json!({ "rules": [{ "rule": "maybe", "group": "eng" }] }),
        json!({ "groups": [{ "name": "eng", "members": [{ "kind": "planet", "value": "mars" }] }] }),
    ] {
        put_policy(&app, &acme, policy)
            .await
            .expect_error(400, "invalid_input");
    }
    let kept = get_policy(&app, &acme).await.expect(200);
    assert_eq!(kept.body, every_kind_for_two_seats(), "nothing changed");
}

fn every_kind_for_two_seats() -> Value {
    let mut policy = every_kind();
    policy["rules"][0]["seats"] = json!(1);
    policy
}

// --- leasing strategies --------------------------------------------------------------------

#[tokio::test]
async fn the_leasing_strategy_is_set_on_create_and_changed_by_patch() {
    let app = spawn_app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 3, "leasing_strategy": "per_process",
                    "max_processes_per_host": 2 }),
        )
        .await;
    let license = app
        .get_license(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    assert_eq!(license.body["leasing_strategy"], "per_process");
    assert_eq!(license.body["max_processes_per_host"], 2);

    // The cap only goes with per-process leasing.
    assert_invalid(
        app.update_license(
            &acme.admin,
            &acme.license_id,
            json!({ "leasing_strategy": "per_user" }),
        )
        .await,
        "max_processes_per_host",
    );
    assert_invalid(
        app.create_license(
            &acme.admin,
            json!({ "product": "CAD", "seats_total": 1, "max_processes_per_host": 2 }),
        )
        .await,
        "max_processes_per_host",
    );
    assert_invalid(
        app.update_license(
            &acme.admin,
            &acme.license_id,
            json!({ "max_processes_per_host": 0 }),
        )
        .await,
        "max_processes_per_host",
    );
    let changed = app
        .update_license(
            &acme.admin,
            &acme.license_id,
            json!({ "leasing_strategy": "per_user", "max_processes_per_host": null }),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["leasing_strategy"], "per_user");
    assert!(changed.body["max_processes_per_host"].is_null());
    app.create_license(
        &acme.admin,
        json!({ "product": "CAD", "seats_total": 1, "leasing_strategy": "per_seat" }),
    )
    .await
    .expect_error(400, "invalid_input");
}

#[tokio::test]
async fn per_user_the_same_user_gets_one_seat_from_any_machine() {
    let app = spawn_app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 2, "leasing_strategy": "per_user" }),
        )
        .await;
    let ada = acquire(
        &app,
        &acme,
        json!({ "hardware_id": "pc-1", "user_email": "ada@acme.com" }),
    )
    .await
    .expect(200);
    let ada_again = acquire(
        &app,
        &acme,
        json!({ "hardware_id": "laptop-7", "user_email": "ada@acme.com" }),
    )
    .await
    .expect(200);
    assert_eq!(ada_again.str("session_id"), ada.str("session_id"));
    let bob = acquire(
        &app,
        &acme,
        json!({ "hardware_id": "pc-1", "user_email": "bob@acme.com" }),
    )
    .await
    .expect(200);
    assert_ne!(bob.str("session_id"), ada.str("session_id"));
    let usage = app
        .usage(&acme.admin, &acme.license_id, "")
        .await
        .expect(200);
    assert_eq!(usage.body["live_seats"], 2, "{}", usage.body);
    acquire(
        &app,
        &acme,
        json!({ "hardware_id": "pc-2", "user_email": "cy@acme.com" }),
    )
    .await
    .expect_error(402, "no_seats_available");
}

#[tokio::test]
async fn per_user_without_a_user_is_a_400_naming_user_email() {
    let app = spawn_app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 2, "leasing_strategy": "per_user" }),
        )
        .await;
    assert_invalid(
        acquire(&app, &acme, json!({ "hardware_id": "pc-1" })).await,
        "user_email",
    );
}

#[tokio::test]
async fn per_process_the_third_process_of_a_host_capped_at_two_is_refused() {
    let app = spawn_app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 5, "leasing_strategy": "per_process",
                    "max_processes_per_host": 2 }),
        )
        .await;
    let process = |hw: &str, pid: &str| json!({ "hardware_id": hw, "process_id": pid });
    let first = acquire(&app, &acme, process("pc-1", "101"))
        .await
        .expect(200);
    acquire(&app, &acme, process("pc-1", "102"))
        .await
        .expect(200);
    // A retry of one process is the same seat.
    let again = acquire(&app, &acme, process("pc-1", "101"))
        .await
        .expect(200);
    assert_eq!(again.str("session_id"), first.str("session_id"));
    assert_limit(
        acquire(&app, &acme, process("pc-1", "103")).await,
        "processes_per_host",
    );
    // Another machine has its own two.
    acquire(&app, &acme, process("pc-2", "101"))
        .await
        .expect(200);
    assert_invalid(
        acquire(&app, &acme, json!({ "hardware_id": "pc-1" })).await,
        "process_id",
    );
    assert_invalid(
        acquire(&app, &acme, process("pc-1", "pid 7")).await,
        "process_id",
    );
}

// --- policies at acquire -------------------------------------------------------------------

/// Two seats, one reserved for `eng`: an outsider gets one seat, then 402
/// `reserved_for_others`, while an engineer still gets the reserved one.
async fn reserved_seats_stay_free_for_their_group(stage: &Stage) {
    let api = stage.api();
    let acme = api.fixture("Acme", 2).await;
    put_policy(
        api,
        &acme,
        json!({
            "groups": [{ "name": "eng", "members": [{ "kind": "domain", "value": "eng.acme.com" }] }],
            "rules": [{ "rule": "reserve", "seats": 1, "group": "eng" }],
        }),
    )
    .await
    .expect(200);
    let outsider = |hw: &str| json!({ "hardware_id": hw, "user_email": "sam@sales.acme.com" });
    acquire(api, &acme, outsider("sales-1")).await.expect(200);
    assert_limit(
        acquire(api, &acme, outsider("sales-2")).await,
        "reserved_for_others",
    );
    acquire(
        api,
        &acme,
        json!({ "hardware_id": "eng-1", "user_email": "ada@eng.acme.com" }),
    )
    .await
    .expect(200);
    assert_limit(
        acquire(
            api,
            &acme,
            json!({ "hardware_id": "eng-2", "user_email": "bo@eng.acme.com" }),
        )
        .await,
        "seats",
    );
}

/// An excluded user gets 403 `excluded`; others of the license are not affected.
async fn an_excluded_user_is_refused_with_403(stage: &Stage) {
    let api = stage.api();
    let acme = api
        .fixture_with(
            "Acme",
            json!({ "product": "CAD", "seats_total": 3, "max_borrow_seconds": 3600 }),
        )
        .await;
    put_policy(
        api,
        &acme,
        json!({
            "groups": [{ "name": "banned", "members": [
                { "kind": "user", "value": "eve@acme.com" },
                { "kind": "host", "value": "kiosk-1" },
            ] }],
            "rules": [{ "rule": "exclude", "group": "banned" }],
        }),
    )
    .await
    .expect(200);
    acquire(
        api,
        &acme,
        json!({ "hardware_id": "pc-1", "user_email": "EVE@acme.com" }),
    )
    .await
    .expect_error(403, "excluded");
    acquire(
        api,
        &acme,
        json!({ "hardware_id": "pc-2", "user_email": "ada@acme.com", "host_name": "Kiosk-1" }),
    )
    .await
    .expect_error(403, "excluded");
    acquire(
        api,
        &acme,
        json!({ "hardware_id": "pc-3", "user_email": "ada@acme.com", "host_name": "ws-1" }),
    )
    .await
    .expect(200);
    // A borrow is refused the same way.
    let borrow = api
        .send(
            Method::POST,
            "/api/v1/licenses/borrow",
            Some(&acme.client),
            Some(
                json!({ "license_key": acme.license_key, "hardware_id": "pc-4",
                         "user_email": "eve@acme.com", "borrow_seconds": 60 }),
            ),
        )
        .await;
    borrow.expect_error(403, "excluded");
}

#[tokio::test]
async fn reserved_seats_stay_free_for_their_group_in_memory() {
    reserved_seats_stay_free_for_their_group(&Stage::memory().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_seats_stay_free_for_their_group_on_postgres_and_redis() {
    let stage = Stage::real("seat_policies_reserve").await;
    reserved_seats_stay_free_for_their_group(&stage).await;
}

#[tokio::test]
async fn an_excluded_user_is_refused_with_403_in_memory() {
    an_excluded_user_is_refused_with_403(&Stage::memory().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_excluded_user_is_refused_with_403_on_postgres_and_redis() {
    let stage = Stage::real("seat_policies_exclude").await;
    an_excluded_user_is_refused_with_403(&stage).await;
}

#[tokio::test]
async fn a_group_max_refuses_the_groups_next_seat_with_402_group_max() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 5).await;
    put_policy(
        &app,
        &acme,
        json!({
            "groups": [{ "name": "eng", "members": [{ "kind": "domain", "value": "acme.com" }] }],
            "rules": [{ "rule": "max", "seats": 1, "target": { "kind": "group", "value": "eng" } }],
        }),
    )
    .await
    .expect(200);
    acquire(
        &app,
        &acme,
        json!({ "hardware_id": "pc-1", "user_email": "ada@acme.com" }),
    )
    .await
    .expect(200);
    assert_limit(
        acquire(
            &app,
            &acme,
            json!({ "hardware_id": "pc-2", "user_email": "bo@acme.com" }),
        )
        .await,
        "group_max",
    );
    // Outside the group, seats are free.
    acquire(
        &app,
        &acme,
        json!({ "hardware_id": "pc-3", "user_email": "cy@other.org" }),
    )
    .await
    .expect(200);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("license_acquires_total{outcome=\"group_max\"} 1"),
        "{metrics}"
    );
}
