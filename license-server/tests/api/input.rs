//! Bad input: 4xx with the shared error shape, never a 500, and nothing changed.

use reqwest::Method;
use serde_json::json;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{Reply, TestApp, spawn_app};

/// A POST with `Transfer-Encoding: chunked` (no declared length), over a plain socket.
async fn chunked_post(app: &TestApp, path: &str, token: &str, body: &str) -> Reply {
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.addr
    );
    let mut request = head.into_bytes();
    for chunk in body.as_bytes().chunks(8192) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before it has read everything.
    let _ = socket.write_all(&request).await;
    let mut response = Vec::new();
    let _ = socket.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or_default();
    Reply {
        status,
        body,
        headers: Default::default(),
    }
}

#[track_caller]
fn assert_shape(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.code(), code, "{}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[tokio::test]
async fn malformed_and_invalid_bodies_are_400_and_change_nothing() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    let acquire = "/api/v1/licenses/acquire";
    let key = acme.license_key.as_str();

    let raw = [
        "{not json",
        "",
        "[]",
        r#"{"license_key": 12345678, "hardware_id": "m1"}"#,
        r#"{"license_key": null, "hardware_id": "m1"}"#,
        r#"{"hardware_id": "m1"}"#,
    ];
    for body in raw {
        let reply = app.send_raw(acquire, &acme.client, body).await;
        assert_shape(&reply, 400, "invalid_input");
    }
    let invalid = [
        json!({ "license_key": key, "hardware_id": "m1", "extra": true }),
        json!({ "license_key": key, "hardware_id": "" }),
        json!({ "license_key": key, "hardware_id": "has spaces" }),
        json!({ "license_key": key, "hardware_id": "x".repeat(129) }),
        json!({ "license_key": "short", "hardware_id": "m1" }),
        json!({ "license_key": "has spaces in it", "hardware_id": "m1" }),
        json!({ "license_key": key, "hardware_id": "m1", "user_email": "not an email" }),
    ];
    for body in invalid {
        let reply = app
            .send(
                Method::POST,
                acquire,
                Some(&acme.client),
                Some(body.clone()),
            )
            .await;
        assert_shape(&reply, 400, "invalid_input");
    }
    let bad_session = app
        .send(
            Method::POST,
            "/api/v1/licenses/heartbeat",
            Some(&acme.client),
            Some(json!({ "session_id": "not-a-uuid" })),
        )
        .await;
    assert_shape(&bad_session, 400, "invalid_input");

    let bad_licenses = [
        json!({ "product": "", "seats_total": 1 }),
        json!({ "product": "P", "seats_total": 0 }),
        json!({ "product": "P", "seats_total": -1 }),
        json!({ "product": "P", "seats_total": "two" }),
        json!({ "product": "P", "seats_total": 1, "overdraft": 11 }),
        json!({ "product": "P", "seats_total": 1, "ttl_seconds": 60, "heartbeat_interval_seconds": 60 }),
        json!({ "product": "P", "seats_total": 1, "entitlements": ["no spaces allowed"] }),
        json!({ "product": "P", "seats_total": 1, "expires_at": "tomorrow" }),
        json!({ "product": "P", "seats_total": 1, "sneaky": 1 }),
    ];
    for body in bad_licenses {
        let reply = app.create_license(&acme.admin, body.clone()).await;
        assert_shape(&reply, 400, "invalid_input");
    }
    let bad_path = app.get_license(&acme.admin, "not-a-uuid").await;
    assert_shape(&bad_path, 400, "invalid_input");

    let licenses = app.list_licenses(&acme.admin, "").await.expect(200);
    assert_eq!(
        licenses.body["items"].as_array().unwrap().len(),
        1,
        "nothing was created"
    );
    let live = app
        .license_sessions(&acme.admin, &acme.license_id)
        .await
        .expect(200);
    assert!(
        live.body["items"].as_array().unwrap().is_empty(),
        "no seat was taken"
    );
}

#[tokio::test]
async fn oversized_bodies_are_413_whether_or_not_their_length_is_declared() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    let huge = json!({ "product": "x".repeat(70 * 1024), "seats_total": 1 }).to_string();

    let declared = app
        .send_raw("/api/v1/admin/licenses", &acme.admin, huge.clone())
        .await;
    assert_shape(&declared, 413, "payload_too_large");

    let undeclared = chunked_post(&app, "/api/v1/admin/licenses", &acme.admin.token, &huge).await;
    assert_shape(&undeclared, 413, "payload_too_large");

    let licenses = app.list_licenses(&acme.admin, "").await.expect(200);
    assert_eq!(licenses.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_routes_and_methods_have_the_shared_shape() {
    let app = spawn_app().await;
    let missing = app.send(Method::GET, "/api/v1/nope", None, None).await;
    assert_shape(&missing, 404, "not_found");
    let wrong_method = app
        .send(Method::DELETE, "/api/v1/health/", None, None)
        .await;
    assert_shape(&wrong_method, 405, "method_not_allowed");
}
