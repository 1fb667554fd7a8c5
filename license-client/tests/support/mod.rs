//! The harness: a real `license-server` process on the embedded default (in-memory store,
//! in-process ledger, local key) in a temporary data directory on a free loopback port,
//! killed on drop, and a tenant with a license and a client key set up through the admin
//! API. Shared with license-client-c's tests (`#[path]`).
//!
//! The server binary: `LICENSE_SERVER_BIN` if set (CI with a prebuilt binary), else built
//! once per test run with `cargo build -p license-server` into the target directory of this
//! test. A build failure is a loud failure naming the package.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

/// `<target>/<profile>` of the running test executable (`…/debug/deps/name-hash`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test executable lives in <target>/<profile>/deps")
        .to_path_buf()
}

fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("LICENSE_SERVER_BIN") {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "LICENSE_SERVER_BIN={} is not a file",
                path.display()
            );
            return path;
        }
        cargo_build("license-server", &["--bin", "license-server"]);
        let path = profile_dir().join(format!("license-server{}", std::env::consts::EXE_SUFFIX));
        assert!(
            path.is_file(),
            "license-server was built but {} is missing",
            path.display()
        );
        path
    })
}

/// `cargo build -p PACKAGE EXTRA…` into this test's target directory and profile.
pub fn cargo_build(package: &str, extra: &[&str]) {
    let profile_dir = profile_dir();
    let target_dir = profile_dir.parent().expect("a target directory");
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a profile name");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "-p", package])
        .args(extra)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile != "debug" {
        build.args(["--profile", profile]);
    }
    let output = build.output().expect("cannot run cargo");
    assert!(
        output.status.success(),
        "`cargo build -p {package}` failed; these tests need it:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A free loopback port (nothing listens on it once returned).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if write!(
        stream,
        "GET /api/v1/health/ HTTP/1.0\r\nHost: {addr}\r\n\r\n"
    )
    .is_err()
    {
        return false;
    }
    let mut response = String::new();
    stream.read_to_string(&mut response).is_ok()
        && (response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"))
}

/// A running `license-server`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The operator credential it generated.
    pub operator_token: String,
    /// Holds the data directory and the log.
    pub home: TempDir,
}

impl Server {
    /// A server on the embedded default in a fresh data directory.
    pub fn start() -> Server {
        let home = tempfile::tempdir().expect("a temp dir");
        let data_dir = home.path().join("data");
        let mut last_log = String::new();
        // A port picked this way can be taken in between: retry with another.
        for _ in 0..3 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let log_path = home.path().join(format!("server-{}.log", addr.port()));
            let log = std::fs::File::create(&log_path).expect("a log file");
            let mut command = Command::new(server_binary());
            for (name, _) in std::env::vars_os() {
                if name.to_string_lossy().starts_with("LICENSE_") {
                    command.env_remove(name);
                }
            }
            let mut child = command
                .env("LICENSE_DATA_DIR", &data_dir)
                .env("LICENSE_SERVER__LISTEN", addr.to_string())
                .env("LICENSE_LOG__FILTER", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().expect("a log handle")))
                .stderr(Stdio::from(log))
                .spawn()
                .expect("cannot start license-server");
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if healthy(addr) {
                    let operator_token = std::fs::read_to_string(data_dir.join("operator-token"))
                        .expect("the server writes its operator token into the data dir")
                        .trim()
                        .to_owned();
                    return Server {
                        child,
                        url: format!("http://{addr}"),
                        operator_token,
                        home,
                    };
                }
                if child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    break;
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        panic!("license-server did not become healthy; its log:\n{last_log}");
    }

    /// Stops the server (the test's "server gone").
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

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
    /// entitlement `export`) and a client key.
    pub fn create(server: &Server, name: &str, seats: u32) -> Tenant {
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
        let license = admin(
            "/api/v1/admin/licenses",
            json!({
                "product": "CAD Pro", "seats_total": seats, "ttl_seconds": 30,
                "heartbeat_interval_seconds": 1, "entitlements": ["export"],
            }),
        );
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

/// Polls `check` every 25 ms until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
