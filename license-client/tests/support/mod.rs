//! The harness of license-client's (and license-client-c's) tests: a real server
//! ([`server`]) and a tenant with a license and a client key, set up through the admin API.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

/// The server process.
mod server;

// Each test binary uses a different part.
#[allow(unused_imports)]
pub use server::{Server, cargo_build, eventually, free_port, profile_dir};

use serde_json::{Value, json};

/// A blocking admin call: `(status, JSON body)`.
fn call(
    method: &str,
    url: &str,
    token: &str,
    tenant: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    // A tiny runtime per call keeps the harness usable from sync and async tests alike.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(async {
                    let http = reqwest::Client::new();
                    let mut request = http.request(method.parse().expect("a method"), url);
                    if !token.is_empty() {
                        request = request.bearer_auth(token);
                    }
                    if let Some(tenant) = tenant {
                        request = request.header("X-Tenant-Id", tenant);
                    }
                    if let Some(body) = body {
                        request = request.json(&body);
                    }
                    let response = request.send().await.expect("the admin call is answered");
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    (
                        status,
                        serde_json::from_str(&text).unwrap_or(Value::String(text)),
                    )
                })
            })
            .join()
            .expect("the admin call thread")
    })
}

/// A tenant on a server: its ids and keys, and a license set up for fast tests.
pub struct Tenant {
    /// The server's URL.
    pub url: String,
    /// The tenant id.
    pub id: String,
    /// Its admin key.
    pub admin_key: String,
    /// A client-scope key.
    pub client_key: String,
    /// The license id.
    pub license_id: String,
    /// The license key.
    pub license_key: String,
}

impl Tenant {
    /// A tenant with one license of `seats` seats (heartbeat every second, TTL 30 s,
    /// entitlement `export`, borrowing up to an hour) and a client key.
    pub fn create(server: &Server, name: &str, seats: u32) -> Tenant {
        Self::create_with(server, name, seats, json!({}))
    }

    /// [`create`](Self::create) with more license fields (`max_wait_seconds`, …).
    pub fn create_with(server: &Server, name: &str, seats: u32, extra: Value) -> Tenant {
        let (status, created) = call(
            "POST",
            &format!("{}/api/v1/admin/tenants", server.url),
            &server.operator_token,
            None,
            Some(json!({ "name": name })),
        );
        assert!((200..300).contains(&status), "{created}");
        let id = created["tenant"]["id"]
            .as_str()
            .expect("tenant id")
            .to_owned();
        let admin_key = created["admin_api_key"]["secret"]
            .as_str()
            .expect("admin key")
            .to_owned();
        let admin = |path: &str, body: Value| {
            let (status, answer) = call(
                "POST",
                &format!("{}{path}", server.url),
                &admin_key,
                None,
                Some(body),
            );
            assert!((200..300).contains(&status), "{path}: {answer}");
            answer
        };
        let mut terms = json!({
            "product": "CAD Pro", "seats_total": seats, "ttl_seconds": 30,
            "heartbeat_interval_seconds": 1, "entitlements": ["export"],
            "max_borrow_seconds": 3600,
        });
        if let (Some(terms), Some(extra)) = (terms.as_object_mut(), extra.as_object()) {
            terms.extend(extra.clone());
        }
        let license = admin("/api/v1/admin/licenses", terms);
        let client = admin(
            "/api/v1/admin/api-keys",
            json!({ "name": "app", "scopes": ["client"] }),
        );
        Tenant {
            url: server.url.clone(),
            id,
            admin_key,
            client_key: client["secret"].as_str().expect("client secret").to_owned(),
            license_id: license["id"].as_str().expect("license id").to_owned(),
            license_key: license["license_key"]
                .as_str()
                .expect("license key")
                .to_owned(),
        }
    }

    /// The license's live sessions.
    pub fn live_sessions(&self) -> Vec<Value> {
        let (status, page) = call(
            "GET",
            &format!(
                "{}/api/v1/admin/licenses/{}/sessions",
                self.url, self.license_id
            ),
            &self.admin_key,
            None,
            None,
        );
        assert_eq!(status, 200, "{page}");
        page["items"].as_array().cloned().expect("a list")
    }

    /// Evicts `session_id` with a hold-off of ten minutes and `reason`.
    pub fn evict(&self, session_id: &str, reason: &str) {
        let (status, answer) = call(
            "POST",
            &format!(
                "{}/api/v1/admin/sessions/{session_id}/release?hold_off_seconds=600&reason={}",
                self.url,
                reason.replace(' ', "%20")
            ),
            &self.admin_key,
            None,
            Some(json!({})),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["end_reason"], "evicted", "{answer}");
    }

    /// The tenant's published key set, as served (JSON text).
    pub fn key_set(&self) -> String {
        let (status, set) = call(
            "GET",
            &format!("{}/api/v1/tenants/{}/jwks.json", self.url, self.id),
            "",
            None,
            None,
        );
        assert_eq!(status, 200, "{set}");
        set.to_string()
    }

    /// The server's root key set (JSON text).
    pub fn root_key_set(&self) -> String {
        let (status, set) = call(
            "GET",
            &format!("{}/.well-known/jwks.json", self.url),
            "",
            None,
            None,
        );
        assert_eq!(status, 200, "{set}");
        set.to_string()
    }
}
