//! The admin API: tenants, licenses, sessions, API keys, usage, audit.

use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::helpers::{Caller, spawn_app};

fn items(body: &Value) -> &Vec<Value> {
    body["items"].as_array().unwrap()
}

fn actions(body: &Value) -> Vec<String> {
    items(body)
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_new_tenant_comes_with_a_working_admin_key_shown_once() {
    let app = spawn_app().await;
    let created = app
        .create_tenant(&app.operator(), "Acme CAD")
        .await
        .expect(201);
    let secret = created.body["admin_api_key"]["secret"].as_str().unwrap();
    assert!(secret.starts_with("lk_"));
    assert_eq!(created.body["admin_api_key"]["scopes"], json!(["admin"]));

    let admin = Caller::bearer(secret);
    let keys = app.list_api_keys(&admin).await.expect(200);
    assert_eq!(items(&keys.body).len(), 1);
    assert!(
        items(&keys.body)[0].get("secret").is_none(),
        "never shown again"
    );

    let tenants = app.list_tenants(&app.operator()).await.expect(200);
    assert_eq!(items(&tenants.body)[0]["name"], "Acme CAD");
    app.create_tenant(&app.operator(), "Acme CAD")
        .await
        .expect_error(409, "conflict");
}

#[tokio::test]
async fn only_the_operator_manages_tenants() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    app.create_tenant(&acme.admin, "Evil")
        .await
        .expect_error(403, "forbidden");
    app.list_tenants(&acme.admin)
        .await
        .expect_error(403, "forbidden");
    app.list_tenants(&acme.client)
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn the_operator_names_its_tenant_in_x_tenant_id() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    app.list_licenses(&app.operator(), "")
        .await
        .expect_error(400, "invalid_input");
    app.list_licenses(&app.operator().acting_for("not-a-uuid"), "")
        .await
        .expect_error(400, "invalid_input");
    app.list_licenses(
        &app.operator()
            .acting_for("01900000-0000-7000-8000-000000000000"),
        "",
    )
    .await
    .expect_error(404, "tenant_not_found");

    let operator = app.operator().acting_for(&acme.tenant_id);
    let listed = app.list_licenses(&operator, "").await.expect(200);
    assert_eq!(items(&listed.body)[0]["id"], acme.license_id.as_str());
    app.set_license_status(&operator, &acme.license_id, "suspend")
        .await
        .expect(200);
    let audit = app.audit(&acme.admin).await.expect(200);
    assert_eq!(items(&audit.body)[0]["actor"], "operator");
}

#[tokio::test]
async fn licenses_page_by_keyset() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    for i in 0..4 {
        app.create_license(
            &acme.admin,
            json!({ "product": format!("P{i}"), "seats_total": 1 }),
        )
        .await
        .expect(201);
    }
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let page = app.list_licenses(&acme.admin, &query).await.expect(200);
        seen.extend(
            items(&page.body)
                .iter()
                .map(|l| l["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_after"].as_str() {
            Some(after) => query = format!("?limit=2&after={after}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "oldest first");
    app.list_licenses(&acme.admin, "?limit=0")
        .await
        .expect_error(400, "invalid_input");
}

#[tokio::test]
async fn license_terms_change_and_every_change_is_audited() {
    let app = spawn_app().await;
    let acme = app
        .fixture_with(
            "Acme",
            json!({
                "product": "CAD", "seats_total": 2, "overdraft": 1, "license_key": "ACME-CAD-7QX2M-9KD4P-VTH8W",
                "expires_at": "2099-01-01T00:00:00Z", "ttl_seconds": 600,
                "heartbeat_interval_seconds": 200, "entitlements": ["pro"]
            }),
        )
        .await;
    let license = app
        .get_license(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    assert_eq!(license.body["license_key"], "ACME-CAD-7QX2M-9KD4P-VTH8W");
    assert_eq!(license.body["overdraft"], 1);
    assert_eq!(license.body["ttl_seconds"], 600);
    assert_eq!(license.body["entitlements"], json!(["pro"]));

    let changed = app
        .update_license(
            &acme.admin,
            &acme.license_id,
            json!({ "seats_total": 5, "expires_at": null, "heartbeat_interval_seconds": 60 }),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["seats_total"], 5);
    assert!(changed.body["expires_at"].is_null());
    assert_eq!(changed.body["ttl_seconds"], 600, "left out: unchanged");
    assert_eq!(changed.body["heartbeat_interval_seconds"], 60);
    assert_eq!(changed.body["overdraft"], 1);

    app.update_license(
        &acme.admin,
        &acme.license_id,
        json!({ "heartbeat_interval_seconds": 600 }),
    )
    .await
    .expect_error(400, "invalid_input");

    app.set_license_status(&acme.admin, &acme.license_id, "revoke")
        .await
        .expect(200);
    app.set_license_status(&acme.admin, &acme.license_id, "reinstate")
        .await
        .expect_error(409, "conflict");

    let audit = app.audit(&acme.admin).await.expect(200);
    let actions = actions(&audit.body);
    assert_eq!(
        actions,
        [
            "license.revoke",
            "license.update",
            "license.create",
            "api_key.create",
            "api_key.create",
            "tenant.create"
        ]
    );
    let key_actor = format!("api_key:{}", acme.admin_key_id);
    assert_eq!(items(&audit.body)[0]["actor"], key_actor.as_str());
}

#[tokio::test]
async fn revoked_api_keys_stop_working() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    let created = app
        .create_api_key(&acme.admin, "ci", &["client", "admin"])
        .await
        .expect(201);
    let both = Caller::bearer(created.str("secret"));
    app.acquire(&both, &acme.license_key, "m1")
        .await
        .expect(200);
    app.list_licenses(&both, "").await.expect(200);

    app.revoke_api_key(&acme.admin, &created.str("id"))
        .await
        .expect(204);
    app.revoke_api_key(&acme.admin, &created.str("id"))
        .await
        .expect(204);
    app.list_licenses(&both, "")
        .await
        .expect_error(401, "unauthenticated");
    app.acquire(&both, &acme.license_key, "m2")
        .await
        .expect_error(401, "unauthenticated");
    let keys = app.list_api_keys(&acme.admin).await.expect(200);
    let revoked = items(&keys.body)
        .iter()
        .find(|k| k["id"] == created.str("id").as_str())
        .unwrap();
    assert!(revoked["revoked_at"].is_string());

    app.create_api_key(&acme.admin, "none", &[])
        .await
        .expect_error(400, "invalid_input");
    app.create_api_key(&acme.admin, "bad", &["root"])
        .await
        .expect_error(400, "invalid_input");
}

#[tokio::test]
async fn usage_reports_live_seats_peaks_and_denials() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 2).await;
    app.acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect(200);
    app.acquire(&acme.client, &acme.license_key, "m3")
        .await
        .expect(402);
    app.acquire(&acme.client, &acme.license_key, "m4")
        .await
        .expect(402);

    // Peaks reach the store with the next write-behind flush (every second; ADR 0017).
    license_server::flusher::flush_step(&app.state).await;
    let usage = app
        .usage(&acme.admin, &acme.license_id, "")
        .await
        .expect(200);
    assert_eq!(usage.body["live_seats"], 2);
    let days = usage.body["days"].as_array().unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0]["peak_seats"], 2);
    assert_eq!(days[0]["denials"], 2);
    assert_eq!(
        days[0]["day"],
        app.clock_now().date_naive().to_string().as_str()
    );

    app.clock.advance(TimeDelta::seconds(361));
    let later = app
        .usage(&acme.admin, &acme.license_id, "")
        .await
        .expect(200);
    assert_eq!(later.body["live_seats"], 0);

    app.usage(
        &acme.admin,
        &acme.license_id,
        "?from=2026-02-01&to=2026-01-01",
    )
    .await
    .expect_error(400, "invalid_input");
    for bad in ["?from=yesterday", "?from=2026-02-30", "?to=2026-1-1x"] {
        app.usage(&acme.admin, &acme.license_id, bad)
            .await
            .expect_error(400, "invalid_input");
    }
}

#[tokio::test]
async fn force_release_frees_the_seat_and_is_audited() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    let lease = app
        .acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    let session = lease.str("session_id");

    let live = app
        .license_sessions(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    assert_eq!(items(&live.body)[0]["id"], session.as_str());
    assert_eq!(items(&live.body)[0]["user_email"], "ada@example.com");

    let ended = app.force_release(&acme.admin, &session).await.expect(200);
    assert_eq!(ended.body["end_reason"], "evicted");
    assert_eq!(
        ended.body["eviction"]["reason"], "evicted by an administrator",
        "{}",
        ended.body
    );
    let gone = app
        .heartbeat(&acme.client, &session)
        .await
        .expect_error(410, "evicted");
    assert_eq!(gone.body["reason"], "evicted by an administrator");
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect(200);

    let audit = app.audit(&acme.admin).await.expect(200);
    assert!(actions(&audit.body).contains(&"session.force_release".to_owned()));
}
