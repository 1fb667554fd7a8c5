//! Tenant isolation: every route called with another tenant's ids answers 404, exactly like a
//! missing id, and changes nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Fixture, TestApp, spawn_app};

/// Everything tenant B can see of itself, to compare before and after A's attempts.
async fn snapshot(app: &TestApp, b: &Fixture) -> Vec<Value> {
    vec![
        app.get_license(&b.admin, &b.license_id)
            .await
            .expect(200)
            .body,
        app.license_sessions(&b.admin, &b.license_id)
            .await
            .expect(200)
            .body,
        app.list_api_keys(&b.admin).await.expect(200).body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| json!([k["id"], k["revoked_at"]]))
            .collect(),
        app.audit(&b.admin).await.expect(200).body,
        app.usage(&b.admin, &b.license_id, "")
            .await
            .expect(200)
            .body,
    ]
}

#[tokio::test]
async fn another_tenants_ids_answer_404_and_change_nothing() {
    let app = spawn_app().await;
    let a = app.fixture("Tenant A", 5).await;
    let b = app.fixture("Tenant B", 5).await;
    let b_lease = app
        .acquire(&b.client, &b.license_key, "b-machine")
        .await
        .expect(200);
    let b_session = b_lease.str("session_id");
    let b_token = b_lease.str("token");
    let before = snapshot(&app, &b).await;

    let lic = &b.license_id;
    let admin_routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/admin/licenses/{lic}"), None),
        (
            Method::PATCH,
            format!("/api/v1/admin/licenses/{lic}"),
            Some(json!({ "seats_total": 1 })),
        ),
        (
            Method::POST,
            format!("/api/v1/admin/licenses/{lic}/suspend"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/admin/licenses/{lic}/reinstate"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/admin/licenses/{lic}/revoke"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/admin/licenses/{lic}/sessions"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/admin/licenses/{lic}/usage"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/admin/sessions/{b_session}/release"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/admin/api-keys/{}/revoke", b.client_key_id),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/admin/api-keys/{}/revoke", b.admin_key_id),
            None,
        ),
    ];
    // A's admin key, and the operator acting for A: both see only A.
    let operator_for_a = app.operator().acting_for(&a.tenant_id);
    for caller in [&a.admin, &operator_for_a] {
        for (method, path, body) in &admin_routes {
            let reply = app
                .send(method.clone(), path, Some(caller), body.clone())
                .await;
            assert_eq!(reply.status, 404, "{method} {path}: {}", reply.body);
            assert!(
                reply.code().ends_with("_not_found"),
                "{method} {path}: {}",
                reply.body
            );
        }
    }
    // A's key naming B in X-Tenant-Id is refused like an unknown tenant.
    app.list_licenses(&a.admin.clone().acting_for(&b.tenant_id), "")
        .await
        .expect_error(404, "tenant_not_found");

    // Listings never show B's records to A.
    let listed = app.list_licenses(&a.admin, "").await.expect(200);
    assert!(!listed.body.to_string().contains(lic.as_str()));
    let keys = app.list_api_keys(&a.admin).await.expect(200);
    assert!(!keys.body.to_string().contains(&b.client_key_id));
    let audit = app.audit(&a.admin).await.expect(200);
    assert!(!audit.body.to_string().contains(&b.tenant_id));

    // Client routes with B's license key, session and token.
    app.acquire(&a.client, &b.license_key, "a-machine")
        .await
        .expect_error(404, "license_not_found");
    app.heartbeat(&a.client, &b_session)
        .await
        .expect_error(404, "session_not_found");
    app.release(&a.client, &b_session)
        .await
        .expect_error(404, "session_not_found");
    app.validate(&a.client, &b_token)
        .await
        .expect_error(404, "session_not_found");

    assert_eq!(snapshot(&app, &b).await, before, "B's data changed");
    app.heartbeat(&b.client, &b_session).await.expect(200);
}

#[tokio::test]
async fn a_missing_id_answers_exactly_like_a_foreign_one() {
    let app = spawn_app().await;
    let a = app.fixture("Tenant A", 1).await;
    let b = app.fixture("Tenant B", 1).await;
    let missing = "01900000-0000-7000-8000-000000000000";
    let foreign = app.get_license(&a.admin, &b.license_id).await;
    let absent = app.get_license(&a.admin, missing).await;
    assert_eq!((foreign.status, foreign.body), (absent.status, absent.body));
}
