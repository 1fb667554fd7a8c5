//! The OpenAPI document, the docs page, JWKS, health paths and metrics.

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_committed_openapi_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = license_server::api::spec();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "docs/openapi.json is stale; regenerate it with:\n\n    cargo run -p license-server -- openapi > docs/openapi.json\n"
    );
}

#[test]
fn tenant_scoped_admin_operations_declare_x_tenant_id_and_days_are_dates() {
    let spec: serde_json::Value = serde_json::from_str(&license_server::api::spec()).unwrap();
    let operator_only = ["create_tenant", "list_tenants"];
    let mut declared = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["security"][0].get("admin").is_none() {
                continue;
            }
            let id = op["operationId"].as_str().unwrap();
            let header = op["parameters"].as_array().into_iter().flatten().find(|p| {
                p["name"] == "X-Tenant-Id" && p["in"] == "header" && p["required"] == false
            });
            if operator_only.contains(&id) {
                assert!(header.is_none(), "{method} {path} is operator-only");
            } else {
                let header = header.unwrap_or_else(|| panic!("{method} {path} lacks X-Tenant-Id"));
                // A plain string: openapi-python-client sends a `uuid` header unconverted.
                assert_eq!(header["schema"]["type"], "string");
                declared += 1;
            }
        }
    }
    assert_eq!(declared, 33);
    for route in ["usage", "report"] {
        let op = &spec["paths"][format!("/api/v1/admin/licenses/{{license_id}}/{route}")]["get"];
        for p in op["parameters"].as_array().unwrap() {
            if p["name"] == "from" || p["name"] == "to" {
                assert_eq!(p["schema"]["format"], "date", "{route}: {p}");
            }
        }
    }
    let day = &spec["components"]["schemas"]["UsageDayDto"]["properties"]["day"];
    assert_eq!(day["format"], "date", "{day}");
}

/// Redocly's recommended rules (run by `docs/check`) want every operation to say whether it
/// takes a credential, a server and a licence; exactly the four public operations say "none".
#[test]
fn every_operation_declares_its_security_and_only_the_public_ones_need_none() {
    let spec: serde_json::Value = serde_json::from_str(&license_server::api::spec()).unwrap();
    let mut public = Vec::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let security = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{} declares no security", op["operationId"]));
            if security.is_empty() {
                public.push(op["operationId"].as_str().unwrap().to_owned());
            }
        }
    }
    public.sort();
    assert_eq!(public, ["health", "jwks", "ready", "tenant_jwks"]);
    assert_eq!(spec["servers"][0]["url"], "/");
    assert_eq!(spec["info"]["license"]["name"], "Apache-2.0 OR MIT");
}

#[tokio::test]
async fn the_spec_and_the_docs_page_are_served() {
    let app = spawn_app().await;
    let spec: serde_json::Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        spec,
        serde_json::from_str::<serde_json::Value>(&license_server::api::spec()).unwrap(),
        "/openapi.json serves what `license-server openapi` prints"
    );
    assert_eq!(
        spec["paths"]["/api/v1/licenses/acquire"]["post"]["operationId"],
        "acquire"
    );
    let responses = &spec["paths"]["/api/v1/licenses/heartbeat"]["post"]["responses"];
    for status in ["200", "404", "410", "503"] {
        assert!(
            responses.get(status).is_some(),
            "heartbeat documents {status}"
        );
    }
    let page = app.http.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("<html"));
}

#[tokio::test]
async fn health_and_ready_answer_with_and_without_the_trailing_slash() {
    let app = spawn_app().await;
    assert_eq!(app.health().await.expect(200).body["status"], "ok");
    assert_eq!(app.ready().await.expect(200).body["status"], "ready");
    let bare = app
        .http
        .get(app.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status().as_u16(), 200);
}

#[tokio::test]
async fn jwks_publishes_the_root_key_cacheably() {
    let app = spawn_app().await;
    let jwks = app.jwks().await.expect(200);
    assert_eq!(jwks.headers["cache-control"], "public, max-age=300");
    let key = &jwks.body["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    assert!(key["kid"].is_string());
}

#[tokio::test]
async fn metrics_count_acquire_outcomes_by_operation() {
    let app = spawn_app().await;
    let acme = app.fixture("Acme", 1).await;
    app.acquire(&acme.client, &acme.license_key, "m1")
        .await
        .expect(200);
    app.acquire(&acme.client, &acme.license_key, "m2")
        .await
        .expect(402);
    let text = app.metrics().await;
    assert!(
        text.contains(r#"license_acquires_total{outcome="granted"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"license_acquires_total{outcome="no_seats"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"license_http_requests_total{operation="acquire",status="402"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("license_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(!text.contains(&acme.license_id), "no ids in labels");
}
