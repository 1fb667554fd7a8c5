//! `spawn_app` and `TestApp`: a real server on 127.0.0.1:0 with fresh in-memory adapters, a
//! local key and a manual clock; `spawn_composed` and `ComposedApp`: a server whose adapters
//! `build_adapters` picks from its `Config` (PostgreSQL, Redis, …), on the system clock. Both
//! deref to [`Api`]: one method per endpoint.

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::{
    Clock, LocalKeyWrapper, LocalSigner, ManualClock, SigningAlgorithm, SystemClock,
};
use license_server::config::Secret;
use license_server::data_dir::write_private_file;
use license_server::keys::signing_key_path;
use license_server::{Adapters, App, AppState, Config, build_adapters};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const OPERATOR_TOKEN: &str = "op_test-operator-token-at-least-32-characters";

/// An HTTP answer: status and JSON body (`Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// Response headers, names lower-case.
    pub headers: std::collections::HashMap<String, String>,
}

impl Reply {
    /// The error code of an error reply.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// A string member of the body.
    pub fn str(&self, key: &str) -> String {
        self.body[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string {key:?} in {}", self.body))
            .to_owned()
    }

    /// Asserts the status, returning the reply for chaining.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected reply: {}", self.body);
        self
    }

    /// Asserts an error reply: status, code, and the shared shape.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        assert_eq!(self.status, status, "unexpected reply: {}", self.body);
        assert_eq!(self.code(), code, "unexpected reply: {}", self.body);
        assert!(
            self.body["message"].is_string(),
            "no message in {}",
            self.body
        );
        self
    }
}

/// Who calls: a bearer credential, and for the operator the tenant it acts on.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token: String,
    pub tenant_header: Option<String>,
}

impl Caller {
    pub fn bearer(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            tenant_header: None,
        }
    }

    pub fn acting_for(mut self, tenant: &str) -> Self {
        self.tenant_header = Some(tenant.to_owned());
        self
    }
}

/// A tenant with an admin key, a client key and one license.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub tenant_id: String,
    pub admin: Caller,
    pub client: Caller,
    pub admin_key_id: String,
    pub client_key_id: String,
    pub license_id: String,
    pub license_key: String,
}

/// The HTTP side of a test server: where it listens, a client, one method per endpoint.
/// Clones share the client's connection pool.
#[derive(Clone)]
pub struct Api {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
}

/// Stops its server when dropped.
struct Stopper(Option<oneshot::Sender<()>>);

impl Drop for Stopper {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `server.listen` and serves in the background until the returned [`Stopper`] drops.
/// The listener is bound before this returns, so no test waits for start-up.
async fn serve(app: App) -> (Api, Arc<AppState>, Stopper) {
    let app = app.bind().await.unwrap();
    let addr = app.local_addr();
    let state = app.state();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    let api = Api {
        addr,
        http: reqwest::Client::new(),
    };
    (api, state, Stopper(Some(stop)))
}

/// What every test server shares: its own data directory, a free port, the test operator
/// token, and no background reaper (tests run its step).
fn test_config(data_dir: &Path) -> Config {
    let mut config = Config {
        data_dir: data_dir.to_owned(),
        ..Config::default()
    };
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.auth.operator_token = Secret::new(OPERATOR_TOKEN);
    config.reaper.enabled = false;
    // Rate limits are tested in rate_limits.rs; elsewhere tests send hundreds of failing
    // requests from one address on a clock that stands still, and expect readiness to follow
    // a dependency switched off at once.
    config.limits.enabled = false;
    config.limits.ready_cache_millis = 0;
    config
}

/// A server on in-memory adapters the test can switch off, with a manual clock.
pub struct TestApp {
    pub api: Api,
    pub clock: ManualClock,
    pub store: Arc<MemoryStore>,
    pub ledger: Arc<MemoryLedger>,
    pub state: Arc<AppState>,
    /// The root key (PKCS#8) that certifies tenant keys; replicas share it, as a deployment's
    /// replicas share one KMS key.
    pub root: Vec<u8>,
    _stop: Stopper,
    _data_dir: tempfile::TempDir,
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server whose config `configure` may change first. Returns once it listens.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let clock = ManualClock::new(chrono::Utc::now());
    let store = Arc::new(MemoryStore::default());
    let ledger = Arc::new(MemoryLedger::new(Arc::new(clock.clone())));
    spawn_on(configure, clock, store, ledger, signing_key()).await
}

/// Starts a second server (a replica) on `app`'s store, ledger and clock, with its own
/// in-process state (caches, metrics, unwrapped tenant keys) and the same root key.
pub async fn spawn_replica_of(app: &TestApp, configure: impl FnOnce(&mut Config)) -> TestApp {
    spawn_on(
        configure,
        app.clock.clone(),
        app.store.clone(),
        app.ledger.clone(),
        app.root.clone(),
    )
    .await
}

async fn spawn_on(
    configure: impl FnOnce(&mut Config),
    clock: ManualClock,
    store: Arc<MemoryStore>,
    ledger: Arc<MemoryLedger>,
    root: Vec<u8>,
) -> TestApp {
    let signer = LocalSigner::from_pkcs8(SigningAlgorithm::EdDSA, &root).unwrap();
    let wrapper = Arc::new(LocalKeyWrapper::for_root(&signer).unwrap());
    let mut app = spawn_with_root(configure, clock, store, ledger, Arc::new(signer), wrapper).await;
    app.root = root;
    app
}

/// Starts a server on in-memory adapters whose root signer and key wrapper are given (Cloud
/// KMS adapters on the fake KMS, say).
pub async fn spawn_with_root(
    configure: impl FnOnce(&mut Config),
    clock: ManualClock,
    store: Arc<MemoryStore>,
    ledger: Arc<MemoryLedger>,
    signer: Arc<dyn license_core::Signer>,
    wrapper: Arc<dyn license_core::KeyWrapper>,
) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = test_config(data_dir.path());
    configure(&mut config);

    // The server's one clock; the test keeps `clock`, a handle on the same time.
    let server_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let adapters = Adapters {
        store: store.clone(),
        ledger: ledger.clone(),
        signer,
        wrapper,
    };
    let app = App::new(config, adapters, server_clock);
    let (api, state, stop) = serve(app).await;
    TestApp {
        api,
        clock,
        store,
        ledger,
        state,
        root: Vec::new(),
        _stop: stop,
        _data_dir: data_dir,
    }
}

/// A server built the way `license-server` builds itself: `build_adapters(&config, clock)` picks the
/// store, the ledger and the signer by URL, and time is the system clock.
pub struct ComposedApp {
    pub api: Api,
    /// The server's state (to run a background step, such as the write-behind flush, now).
    pub state: Arc<AppState>,
    _stop: Stopper,
    _data_dir: tempfile::TempDir,
}

impl Deref for ComposedApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A local root key (PKCS#8) for [`spawn_composed`]. Replicas given the same root share the
/// tenant keys in the store (they can unwrap them), as replicas sharing one KMS key do.
pub fn signing_key() -> Vec<u8> {
    LocalSigner::generate(SigningAlgorithm::EdDSA)
        .unwrap()
        .to_pkcs8()
}

/// Starts a server from a `Config` naming `store_url` and `ledger_url`, with its own data
/// directory holding `signing_key` (the local signer loads it instead of generating one).
/// Migrations run inside `build_adapters`, under PostgreSQL's advisory lock.
pub async fn spawn_composed(store_url: &str, ledger_url: &str, signing_key: &[u8]) -> ComposedApp {
    spawn_composed_with(store_url, ledger_url, signing_key, |_| {}).await
}

/// [`spawn_composed`] with a config `configure` may change first.
pub async fn spawn_composed_with(
    store_url: &str,
    ledger_url: &str,
    signing_key: &[u8],
    configure: impl FnOnce(&mut Config),
) -> ComposedApp {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = test_config(data_dir.path());
    configure(&mut config);
    config.store.url = Secret::new(store_url);
    config.ledger.url = Secret::new(ledger_url);
    let key_file = signing_key_path(&config.data_dir, config.signer.algorithm);
    write_private_file(&key_file, signing_key).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let adapters = build_adapters(&config, clock.clone())
        .await
        .unwrap_or_else(|e| panic!("build_adapters: {e}"));
    let (api, state, stop) = serve(App::new(config, adapters, clock)).await;
    ComposedApp {
        api,
        state,
        _stop: stop,
        _data_dir: data_dir,
    }
}

impl TestApp {
    /// The server's (manual) time.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        license_core::Clock::now(&self.clock)
    }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn operator(&self) -> Caller {
        Caller::bearer(OPERATOR_TOKEN)
    }

    /// Any request; the body is sent as JSON when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        caller: Option<&Caller>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, self.url(path));
        if let Some(caller) = caller {
            request = request.bearer_auth(&caller.token);
            if let Some(tenant) = &caller.tenant_header {
                request = request.header("X-Tenant-Id", tenant);
            }
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        Self::reply(response).await
    }

    /// A request with a raw body (for malformed input).
    pub async fn send_raw(
        &self,
        path: &str,
        caller: &Caller,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(&caller.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        Self::reply(response).await
    }

    pub async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    value.to_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, caller: &Caller) -> Reply {
        self.send(Method::GET, path, Some(caller), None).await
    }

    async fn post(&self, path: &str, caller: &Caller, body: Value) -> Reply {
        self.send(Method::POST, path, Some(caller), Some(body))
            .await
    }

    // --- public ---

    pub async fn health(&self) -> Reply {
        self.send(Method::GET, "/api/v1/health/", None, None).await
    }

    pub async fn ready(&self) -> Reply {
        self.send(Method::GET, "/api/v1/ready/", None, None).await
    }

    pub async fn jwks(&self) -> Reply {
        self.send(Method::GET, "/.well-known/jwks.json", None, None)
            .await
    }

    pub async fn tenant_jwks(&self, tenant_id: &str) -> Reply {
        let path = format!("/api/v1/tenants/{tenant_id}/jwks.json");
        self.send(Method::GET, &path, None, None).await
    }

    /// A verifier of `tenant_id`'s leases as an application builds it: the root keys pinned,
    /// the tenant's published keys checked against them.
    pub async fn pinned_verifier(&self, tenant_id: &str) -> license_core::TokenVerifier {
        let roots: license_core::Jwks =
            serde_json::from_value(self.jwks().await.expect(200).body).unwrap();
        let published: license_core::TenantJwks =
            serde_json::from_value(self.tenant_jwks(tenant_id).await.expect(200).body).unwrap();
        let tenant = tenant_id.parse().unwrap();
        license_core::TokenVerifier::pinned(
            &roots,
            &published,
            "license-server",
            tenant,
            chrono::Utc::now(),
        )
        .unwrap()
    }

    pub async fn rotate_signing_key(&self, caller: &Caller, revoke_previous: bool) -> Reply {
        self.send(
            Method::POST,
            "/api/v1/admin/signing-keys/rotate",
            Some(caller),
            Some(json!({ "revoke_previous": revoke_previous })),
        )
        .await
    }

    pub async fn metrics(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.text().await.unwrap()
    }

    /// The value of an unlabelled counter (`…_total`) or gauge on `/metrics`.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no metric {name} in /metrics:\n{text}"))
    }

    // --- client routes ---

    pub async fn acquire(&self, caller: &Caller, license_key: &str, hardware_id: &str) -> Reply {
        self.post(
            "/api/v1/licenses/acquire",
            caller,
            json!({ "license_key": license_key, "hardware_id": hardware_id, "user_email": "ada@example.com" }),
        )
        .await
    }

    pub async fn heartbeat(&self, caller: &Caller, session_id: &str) -> Reply {
        self.post(
            "/api/v1/licenses/heartbeat",
            caller,
            json!({ "session_id": session_id }),
        )
        .await
    }

    pub async fn release(&self, caller: &Caller, session_id: &str) -> Reply {
        self.post(
            "/api/v1/licenses/release",
            caller,
            json!({ "session_id": session_id }),
        )
        .await
    }

    /// Borrows a seat for `hardware_id` (no user e-mail) for `seconds` (any JSON value, to
    /// send bad ones too).
    pub async fn borrow(
        &self,
        caller: &Caller,
        license_key: &str,
        hardware_id: &str,
        seconds: Value,
    ) -> Reply {
        self.post(
            "/api/v1/licenses/borrow",
            caller,
            json!({ "license_key": license_key, "hardware_id": hardware_id, "borrow_seconds": seconds }),
        )
        .await
    }

    pub async fn return_borrowed(&self, caller: &Caller, session_id: &str) -> Reply {
        self.post(
            "/api/v1/licenses/return",
            caller,
            json!({ "session_id": session_id }),
        )
        .await
    }

    pub async fn validate(&self, caller: &Caller, token: &str) -> Reply {
        self.post(
            "/api/v1/licenses/validate",
            caller,
            json!({ "token": token }),
        )
        .await
    }

    // --- admin routes ---

    pub async fn create_tenant(&self, caller: &Caller, name: &str) -> Reply {
        self.post("/api/v1/admin/tenants", caller, json!({ "name": name }))
            .await
    }

    pub async fn list_tenants(&self, caller: &Caller) -> Reply {
        self.get("/api/v1/admin/tenants", caller).await
    }

    pub async fn create_license(&self, caller: &Caller, body: Value) -> Reply {
        self.post("/api/v1/admin/licenses", caller, body).await
    }

    pub async fn list_licenses(&self, caller: &Caller, query: &str) -> Reply {
        self.get(&format!("/api/v1/admin/licenses{query}"), caller)
            .await
    }

    pub async fn get_license(&self, caller: &Caller, id: &str) -> Reply {
        self.get(&format!("/api/v1/admin/licenses/{id}"), caller)
            .await
    }

    pub async fn update_license(&self, caller: &Caller, id: &str, body: Value) -> Reply {
        self.send(
            Method::PATCH,
            &format!("/api/v1/admin/licenses/{id}"),
            Some(caller),
            Some(body),
        )
        .await
    }

    /// `action` is `suspend`, `reinstate` or `revoke`.
    pub async fn set_license_status(&self, caller: &Caller, id: &str, action: &str) -> Reply {
        self.send(
            Method::POST,
            &format!("/api/v1/admin/licenses/{id}/{action}"),
            Some(caller),
            None,
        )
        .await
    }

    pub async fn license_sessions(&self, caller: &Caller, id: &str) -> Reply {
        self.get(&format!("/api/v1/admin/licenses/{id}/sessions"), caller)
            .await
    }

    pub async fn force_release(&self, caller: &Caller, session_id: &str) -> Reply {
        self.evict(caller, session_id, "").await
    }

    /// Force-release with options: `query` is `""` or `?hold_off_seconds=…&reason=…&force=…`.
    pub async fn evict(&self, caller: &Caller, session_id: &str, query: &str) -> Reply {
        self.send(
            Method::POST,
            &format!("/api/v1/admin/sessions/{session_id}/release{query}"),
            Some(caller),
            None,
        )
        .await
    }

    /// A page of the license's borrowed seats.
    pub async fn borrowed_sessions(&self, caller: &Caller, id: &str, query: &str) -> Reply {
        self.get(
            &format!("/api/v1/admin/licenses/{id}/borrowed{query}"),
            caller,
        )
        .await
    }

    pub async fn create_api_key(&self, caller: &Caller, name: &str, scopes: &[&str]) -> Reply {
        self.post(
            "/api/v1/admin/api-keys",
            caller,
            json!({ "name": name, "scopes": scopes }),
        )
        .await
    }

    pub async fn list_api_keys(&self, caller: &Caller) -> Reply {
        self.get("/api/v1/admin/api-keys", caller).await
    }

    pub async fn revoke_api_key(&self, caller: &Caller, id: &str) -> Reply {
        self.send(
            Method::POST,
            &format!("/api/v1/admin/api-keys/{id}/revoke"),
            Some(caller),
            None,
        )
        .await
    }

    pub async fn usage(&self, caller: &Caller, id: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/admin/licenses/{id}/usage{query}"), caller)
            .await
    }

    pub async fn audit(&self, caller: &Caller) -> Reply {
        self.get("/api/v1/admin/audit-events", caller).await
    }

    /// A signed checkpoint of the seat-event log (`query`: `?seq=…`).
    pub async fn events_checkpoint(&self, caller: &Caller, query: &str) -> Reply {
        self.get(&format!("/api/v1/admin/events/checkpoint{query}"), caller)
            .await
    }

    /// A license's usage report (`query`: `?from=…&by=…&format=json`).
    pub async fn report(&self, caller: &Caller, id: &str, query: &str) -> Reply {
        self.get(
            &format!("/api/v1/admin/licenses/{id}/report{query}"),
            caller,
        )
        .await
    }

    /// A license's usage report as text (CSV, NDJSON): status, content type, body.
    pub async fn report_text(
        &self,
        caller: &Caller,
        id: &str,
        query: &str,
    ) -> (u16, String, String) {
        let response = self
            .http
            .get(self.url(&format!("/api/v1/admin/licenses/{id}/report{query}")))
            .bearer_auth(&caller.token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, content_type, response.text().await.unwrap())
    }

    /// A license's signed usage statement for `day`.
    pub async fn statement(&self, caller: &Caller, id: &str, day: &str) -> Reply {
        self.get(
            &format!("/api/v1/admin/licenses/{id}/statements/{day}"),
            caller,
        )
        .await
    }

    /// A range of the seat-event log (`query`: `?after=…&limit=…` or empty).
    pub async fn events(&self, caller: &Caller, query: &str) -> Reply {
        self.get(&format!("/api/v1/admin/events{query}"), caller)
            .await
    }

    // --- set-up ---

    /// A new tenant (via the operator) with an admin key, a client key and a license with
    /// `seats` seats.
    pub async fn fixture(&self, name: &str, seats: u32) -> Fixture {
        self.fixture_with(name, json!({ "product": "CAD Pro", "seats_total": seats }))
            .await
    }

    pub async fn fixture_with(&self, name: &str, license: Value) -> Fixture {
        let created = self.create_tenant(&self.operator(), name).await.expect(201);
        let tenant_id = created.body["tenant"]["id"].as_str().unwrap().to_owned();
        let admin_key = &created.body["admin_api_key"];
        let admin = Caller::bearer(admin_key["secret"].as_str().unwrap());
        let client_key = self
            .create_api_key(&admin, "app", &["client"])
            .await
            .expect(201);
        let license = self.create_license(&admin, license).await.expect(201);
        Fixture {
            tenant_id,
            client: Caller::bearer(client_key.str("secret")),
            admin,
            admin_key_id: admin_key["id"].as_str().unwrap().to_owned(),
            client_key_id: client_key.str("id"),
            license_id: license.str("id"),
            license_key: license.str("license_key"),
        }
    }
}
