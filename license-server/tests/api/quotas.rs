//! Abuse resistance for shared resources (issue #18): per-tenant quotas on licenses, API keys
//! and seats; the live-session listing in pages; ended sessions deleted after the retention
//! while the usage report stays the same.

use std::collections::HashSet;

use chrono::TimeDelta;
use license_core::{Resource, SessionId, SessionStore};
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app_with};

/// A tenant may have 2 licenses, 3 active API keys and 30 seats (overdraft included).
async fn small_quotas() -> TestApp {
    spawn_app_with(|c| {
        c.quotas.max_licenses_per_tenant = 2;
        c.quotas.max_api_keys_per_tenant = 3;
        c.quotas.max_seats_per_tenant = 30;
    })
    .await
}

#[track_caller]
fn assert_quota(reply: Reply, quota: &str, limit: u64) {
    let reply = reply.expect_error(403, "quota_exceeded");
    assert_eq!(reply.body["quota"], quota, "{}", reply.body);
    let message = reply.str("message");
    assert!(message.contains(&limit.to_string()), "{message}");
}

fn items(reply: &Reply) -> Vec<Value> {
    reply.body["items"].as_array().cloned().unwrap_or_default()
}

async fn audit_actions(app: &TestApp, caller: &crate::helpers::Caller, action: &str) -> usize {
    let log = app.audit(caller).await.expect(200);
    items(&log).iter().filter(|e| e["action"] == action).count()
}

#[tokio::test]
async fn each_quota_refuses_with_403_naming_it_and_creates_nothing() {
    let app = small_quotas().await;
    // One license of 10 seats, the first admin key and a client key.
    let acme = app.fixture("Acme", 10).await;

    // Seats: 10 + 15 + 6 = 31 > 30.
    let over = json!({ "product": "CAD", "seats_total": 15, "overdraft": 6 });
    assert_quota(app.create_license(&acme.admin, over).await, "seats", 30);
    let listed = app.list_licenses(&acme.admin, "").await.expect(200);
    assert_eq!(
        items(&listed).len(),
        1,
        "the refused license was not created"
    );
    let fits = json!({ "product": "CAD", "seats_total": 15, "overdraft": 5 });
    let second = app.create_license(&acme.admin, fits).await.expect(201);

    // Licenses: a third is refused however small.
    let tiny = json!({ "product": "CAD", "seats_total": 1 });
    assert_quota(app.create_license(&acme.admin, tiny).await, "licenses", 2);
    let listed = app.list_licenses(&acme.admin, "").await.expect(200);
    assert_eq!(items(&listed).len(), 2);
    assert_eq!(audit_actions(&app, &acme.admin, "license.create").await, 2);

    // Raising seats or overdraft past the quota is refused and changes nothing.
    let id = &acme.license_id;
    let raise = app
        .update_license(&acme.admin, id, json!({ "seats_total": 11 }))
        .await;
    assert_quota(raise, "seats", 30);
    let raise = app
        .update_license(&acme.admin, id, json!({ "overdraft": 1 }))
        .await;
    assert_quota(raise, "seats", 30);
    let license = app.get_license(&acme.admin, id).await.expect(200);
    assert_eq!(
        (&license.body["seats_total"], &license.body["overdraft"]),
        (&json!(10), &json!(0))
    );
    assert_eq!(audit_actions(&app, &acme.admin, "license.update").await, 0);
    // Lowering is always allowed; revoking frees a license's seats (not its place).
    app.update_license(&acme.admin, id, json!({ "seats_total": 5 }))
        .await
        .expect(200);
    app.set_license_status(&acme.admin, &second.str("id"), "revoke")
        .await
        .expect(200);
    app.update_license(&acme.admin, id, json!({ "seats_total": 30 }))
        .await
        .expect(200);

    // API keys: the fixture holds 2 (admin, client); the third fits, the fourth does not.
    app.create_api_key(&acme.admin, "ci", &["admin"])
        .await
        .expect(201);
    assert_quota(
        app.create_api_key(&acme.admin, "one too many", &["client"])
            .await,
        "api_keys",
        3,
    );
    let keys = app.list_api_keys(&acme.admin).await.expect(200);
    assert_eq!(items(&keys).len(), 3, "the refused key was not created");
    // A revoked key frees its place.
    app.revoke_api_key(&acme.admin, &acme.client_key_id)
        .await
        .expect(204);
    app.create_api_key(&acme.admin, "replacement", &["client"])
        .await
        .expect(201);

    // What the tenant sees of its quotas.
    let quotas = app
        .send(
            reqwest::Method::GET,
            "/api/v1/admin/quotas",
            Some(&acme.admin),
            None,
        )
        .await
        .expect(200);
    assert_eq!(
        quotas.body,
        json!({
            "licenses": { "limit": 2, "used": 2 },
            "api_keys": { "limit": 3, "used": 3 },
            "seats": { "limit": 30, "used": 30 },
        })
    );

    // Another tenant has its own allowance.
    let globex = app.fixture("Globex", 30).await;
    app.create_license(&globex.admin, json!({ "product": "P", "seats_total": 1 }))
        .await
        .expect_error(403, "quota_exceeded");
}

#[tokio::test]
async fn a_license_at_the_largest_size_needs_a_quota_that_holds_it() {
    // The finding: one license could allow 11 M live seats. The default quota holds one
    // license of the largest size without overdraft, and no more.
    let app = spawn_app_with(|_| {}).await;
    let acme = app.fixture("Acme", 1).await;
    let huge = json!({ "product": "P", "seats_total": 1_000_000, "overdraft": 10_000_000 });
    assert_quota(
        app.create_license(&acme.admin, huge).await,
        "seats",
        1_000_000,
    );
    let big = json!({ "product": "P", "seats_total": 999_999 });
    app.create_license(&acme.admin, big).await.expect(201);
    let one_more = app
        .update_license(&acme.admin, &acme.license_id, json!({ "overdraft": 1 }))
        .await;
    assert_quota(one_more, "seats", 1_000_000);
}

/// Every page of the license's live sessions, following `next_cursor` with `limit`.
async fn all_pages(
    app: &TestApp,
    caller: &crate::helpers::Caller,
    id: &str,
    limit: u32,
) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut query = format!("?limit={limit}");
    loop {
        let path = format!("/api/v1/admin/licenses/{id}/sessions{query}");
        let page = app
            .send(reqwest::Method::GET, &path, Some(caller), None)
            .await
            .expect(200);
        pages.push(items(&page));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit={limit}&cursor={cursor}"),
            None => return pages,
        }
    }
}

#[tokio::test]
async fn the_sessions_list_comes_in_pages_each_session_once() {
    let app = spawn_app_with(|_| {}).await;
    let acme = app.fixture("Acme", 300).await;
    let mut acquired = HashSet::new();
    for i in 0..230 {
        // Many sessions share an instant (the manual clock): ties are broken by id.
        if i % 50 == 0 {
            app.clock.advance(TimeDelta::seconds(1));
        }
        let lease = app
            .acquire(&acme.client, &acme.license_key, &format!("m{i}"))
            .await
            .expect(200);
        acquired.insert(lease.str("session_id"));
    }

    // Default page size 100, with a cursor to the next page.
    let first = app
        .license_sessions(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    assert_eq!(items(&first).len(), 100);
    assert!(
        first.body["next_cursor"].is_string(),
        "{}",
        first.body["next_cursor"]
    );

    let pages = all_pages(&app, &acme.admin, &acme.license_id, 100).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [100, 100, 30]
    );
    let seen: Vec<String> = pages
        .iter()
        .flatten()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), unique.len(), "no session twice");
    assert_eq!(unique, acquired, "every live session once");
    let times: Vec<&str> = pages
        .iter()
        .flatten()
        .map(|s| s["acquired_at"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "oldest acquired first"
    );
    assert_eq!(
        pages,
        all_pages(&app, &acme.admin, &acme.license_id, 100).await
    );

    // The cap: 500 is the largest page; a larger limit, a zero limit or a made-up cursor is
    // refused.
    let everything = all_pages(&app, &acme.admin, &acme.license_id, 500).await;
    assert_eq!(everything.len(), 1);
    assert_eq!(everything[0].len(), 230);
    let base = format!("/api/v1/admin/licenses/{}/sessions", acme.license_id);
    for query in ["?limit=501", "?limit=0"] {
        app.send(
            reqwest::Method::GET,
            &format!("{base}{query}"),
            Some(&acme.admin),
            None,
        )
        .await
        .expect_error(400, "invalid_input");
    }
    let bad = app
        .send(
            reqwest::Method::GET,
            &format!("{base}?cursor=nonsense"),
            Some(&acme.admin),
            None,
        )
        .await
        .expect_error(400, "invalid_input");
    assert_eq!(bad.body["field"], "cursor");
}

#[tokio::test]
async fn the_reaper_deletes_sessions_ended_past_the_retention_and_keeps_usage() {
    let app = spawn_app_with(|c| c.reaper.session_retention_days = 90).await;
    let acme = app.fixture("Acme", 2).await;
    let day = app.clock_now().date_naive();
    let released = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200)
        .str("session_id");
    let zombie = app
        .acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect(200)
        .str("session_id");
    app.acquire(&acme.client, &acme.license_key, "m3")
        .await
        .expect_error(402, "no_seats_available");
    app.release(&acme.client, &released).await.expect(200);
    // Peaks reach the store with the next write-behind flush (ADR 0017).
    license_server::flusher::flush_step(&app.state).await;
    let query = format!("?from={day}&to={day}");
    let usage = app
        .usage(&acme.admin, &acme.license_id, &query)
        .await
        .expect(200);
    let days_before = usage.body["days"].clone();
    assert_eq!(days_before[0]["peak_seats"], 2);
    assert_eq!(days_before[0]["denials"], 1);

    // The zombie is marked expired two days on; a session ended 89 days on is recent.
    app.clock.advance(TimeDelta::days(2));
    let reaped = license_server::reaper::reap_step(&app.state, 100)
        .await
        .unwrap();
    assert_eq!((reaped.expired, reaped.deleted), (1, 0));
    app.clock.advance(TimeDelta::days(87));
    let recent = app
        .acquire(&acme.client, &acme.license_key, "m4")
        .await
        .expect(200)
        .str("session_id");
    app.release(&acme.client, &recent).await.expect(200);

    // 91 days after the first two ended: they go, in batches of one; the recent one stays.
    app.clock.advance(TimeDelta::days(2));
    let reaped = license_server::reaper::reap_step(&app.state, 1)
        .await
        .unwrap();
    assert_eq!(reaped.deleted, 2);
    let tenant = acme.tenant_id.parse().unwrap();
    for id in [&released, &zombie] {
        let id: SessionId = id.parse().unwrap();
        match app.store.get_session(tenant, id).await {
            Err(license_core::Error::NotFound(Resource::Session)) => {}
            other => panic!("session {id} should be deleted: {other:?}"),
        }
    }
    let id: SessionId = recent.parse().unwrap();
    app.store.get_session(tenant, id).await.unwrap();
    app.force_release(&acme.admin, &released)
        .await
        .expect_error(404, "session_not_found");

    // The usage report for their day is the same.
    let usage = app
        .usage(&acme.admin, &acme.license_id, &query)
        .await
        .expect(200);
    assert_eq!(usage.body["days"], days_before);
    assert!(
        app.metrics()
            .await
            .contains("license_deleted_sessions_total 2")
    );
    let again = license_server::reaper::reap_step(&app.state, 1)
        .await
        .unwrap();
    assert_eq!(again.deleted, 0);
}

#[tokio::test]
async fn a_retention_of_zero_keeps_ended_sessions() {
    let app = spawn_app_with(|c| c.reaper.session_retention_days = 0).await;
    let acme = app.fixture("Acme", 1).await;
    let session = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200)
        .str("session_id");
    app.release(&acme.client, &session).await.expect(200);
    app.clock.advance(TimeDelta::days(3650));
    let reaped = license_server::reaper::reap_step(&app.state, 10)
        .await
        .unwrap();
    assert_eq!(reaped.deleted, 0);
    let tenant = acme.tenant_id.parse().unwrap();
    app.store
        .get_session(tenant, session.parse().unwrap())
        .await
        .unwrap();
}
