//! The harness: a real `license-server` process on the embedded default (in-memory store,
//! in-process ledger, local key), in a temporary data directory, on a free loopback port,
//! killed on drop; and a runner for the `license` binary with a clean environment.
//!
//! The server binary: `LICENSE_SERVER_BIN` if set (CI with a prebuilt binary), else built once
//! per test run with `cargo build -p license-server` into the same target directory as this
//! test (`CARGO_BIN_EXE_*` only exists for the package's own binaries, and a binary cannot be
//! a dev-dependency). A build failure is a loud failure naming the package.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// The `license` binary under test.
pub const LICENSE: &str = env!("CARGO_BIN_EXE_license");

/// How long a server gets to answer its health probe.
const START_TIMEOUT: Duration = Duration::from_secs(60);

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
        // <target>/<profile>/license → build into <target> with the same profile.
        let profile_dir = Path::new(LICENSE)
            .parent()
            .expect("the binary has a directory");
        let target_dir = profile_dir
            .parent()
            .expect("the profile has a target directory");
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a profile directory name");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
        let mut build = Command::new(cargo);
        build
            .args([
                "build",
                "--quiet",
                "-p",
                "license-server",
                "--bin",
                "license-server",
            ])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile != "debug" {
            build.args([
                "--profile",
                if profile == "release" {
                    "release"
                } else {
                    profile
                },
            ]);
        }
        let output = build
            .output()
            .expect("cannot run cargo to build license-server");
        assert!(
            output.status.success(),
            "`cargo build -p license-server` failed; the CLI tests need the license-server \
             binary (or LICENSE_SERVER_BIN):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let path = profile_dir.join(format!("license-server{}", std::env::consts::EXE_SUFFIX));
        assert!(
            path.is_file(),
            "license-server was built but {} is missing",
            path.display()
        );
        path
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A plain HTTP/1.0 GET on loopback: (status, body), or `None` if nothing answers.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// A running `license-server`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// The operator credential it generated.
    pub operator_token: String,
    /// Holds the data directory, the log and the CLI's config home.
    pub home: TempDir,
}

impl Server {
    /// A server on the embedded default in a fresh data directory.
    pub fn start() -> Server {
        Self::start_with(tempfile::tempdir().expect("a temp dir"), &[])
    }

    /// A server whose home (with `data/` inside) is `home`, with extra `LICENSE_…` settings.
    pub fn start_with(home: TempDir, env: &[(&str, &str)]) -> Server {
        let data_dir = home.path().join("data");
        // A port picked this way can be taken in between: retry with another.
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let log_path = home.path().join(format!("server-{port}.log"));
            let log = std::fs::File::create(&log_path).expect("a log file");
            let mut command = Command::new(server_binary());
            clear_license_env(&mut command);
            command
                .env("LICENSE_DATA_DIR", &data_dir)
                .env("LICENSE_SERVER__LISTEN", addr.to_string())
                .env("LICENSE_LOG__FILTER", "warn")
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().expect("a log handle")))
                .stderr(Stdio::from(log));
            let mut child = command.spawn().expect("cannot start license-server");
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if let Some((200, _)) = http_get(addr, "/api/v1/health/") {
                    let operator_token = std::fs::read_to_string(data_dir.join("operator-token"))
                        .expect("the server writes its operator token into the data dir")
                        .trim()
                        .to_owned();
                    return Server {
                        child,
                        url: format!("http://{addr}"),
                        addr,
                        data_dir,
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

    /// The `license` command with a clean environment: no inherited `LICENSE_…` variables, a
    /// private config home, and `LICENSE_SERVER` pointing here. No credential.
    pub fn cli(&self) -> Cli {
        let mut command = Command::new(LICENSE);
        clear_license_env(&mut command);
        command
            .env("XDG_CONFIG_HOME", self.config_home())
            .env("HOME", self.home.path())
            .env("LICENSE_SERVER", &self.url)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        Cli { command }
    }

    /// The CLI as the operator (token in `LICENSE_TOKEN`).
    pub fn operator(&self) -> Cli {
        self.cli().env("LICENSE_TOKEN", &self.operator_token)
    }

    /// The CLI's `XDG_CONFIG_HOME`.
    pub fn config_home(&self) -> PathBuf {
        self.home.path().join("config")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clear_license_env(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("LICENSE_") {
            command.env_remove(name);
        }
    }
}

/// A `license` invocation being built.
pub struct Cli {
    command: Command,
}

impl Cli {
    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.command.env_remove(key);
        self
    }

    /// Runs with `args` and waits.
    pub fn run(mut self, args: &[&str]) -> Run {
        let output = self
            .command
            .args(args)
            .output()
            .expect("cannot run the license binary");
        Run::from_output(args, &output)
    }

    /// Starts with `args` without waiting (stdout and stderr piped).
    pub fn spawn(mut self, args: &[&str]) -> Child {
        self.command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run the license binary")
    }
}

/// What one invocation did.
#[derive(Debug)]
pub struct Run {
    /// The arguments, for messages.
    pub args: String,
    /// The exit code (-1 when a signal ended it).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// From a finished process.
    pub fn from_output(args: &[&str], output: &Output) -> Run {
        Run {
            args: args.join(" "),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(
            self.code, 0,
            "`license {}` failed: {}{}",
            self.args, self.stderr, self.stdout
        );
        self
    }

    /// Asserts `code`, and that stderr is exactly one line starting `error:` that contains
    /// `needle` (no stack trace, no backtrace).
    #[track_caller]
    pub fn fails(self, code: i32, needle: &str) -> Run {
        assert_eq!(
            self.code, code,
            "`license {}`: {}{}",
            self.args, self.stderr, self.stdout
        );
        assert!(
            self.stderr.starts_with("error: "),
            "stderr: {}",
            self.stderr
        );
        assert_eq!(
            self.stderr.trim_end().lines().count(),
            1,
            "one line: {}",
            self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "expected {needle:?} in: {}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }

    /// Stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "`license {}` printed no JSON ({e}): {}",
                self.args, self.stdout
            )
        })
    }
}

/// A server with a tenant, a license and a client-scope key for it.
pub struct Fixture {
    /// The server.
    pub server: Server,
    /// The tenant id.
    pub tenant: String,
    /// The tenant's first admin key.
    pub admin_key: String,
    /// A client-scope key.
    pub client_key: String,
    /// The license id.
    pub license_id: String,
    /// The license key.
    pub license_key: String,
}

impl Fixture {
    /// One license with `seats` seats (heartbeat interval 1 s, TTL 30 s).
    pub fn new(seats: u32) -> Fixture {
        let server = Server::start();
        let created = server
            .operator()
            .run(&["-o", "json", "tenant", "create", "Acme CAD"])
            .success()
            .json();
        let tenant = created["tenant"]["id"]
            .as_str()
            .expect("tenant id")
            .to_owned();
        let admin_key = created["admin_api_key"]["secret"]
            .as_str()
            .expect("admin key secret")
            .to_owned();
        let license_key = "CADPRO-7QX2M-9KD4P-VTH8W".to_owned();
        let license = server
            .cli()
            .env("LICENSE_TOKEN", &admin_key)
            .run(&[
                "-o",
                "json",
                "license",
                "create",
                "--product",
                "CAD Pro",
                "--seats",
                &seats.to_string(),
                "--key",
                &license_key,
                "--ttl",
                "30",
                "--heartbeat-interval",
                "1",
                "--entitlement",
                "export",
            ])
            .success()
            .json();
        let client = server
            .cli()
            .env("LICENSE_TOKEN", &admin_key)
            .run(&[
                "-o", "json", "api-key", "create", "--name", "app", "--scope", "client",
            ])
            .success()
            .json();
        Fixture {
            tenant,
            admin_key,
            client_key: client["secret"].as_str().expect("client secret").to_owned(),
            license_id: license["id"].as_str().expect("license id").to_owned(),
            license_key,
            server,
        }
    }

    /// The CLI as the tenant's admin key.
    pub fn admin(&self) -> Cli {
        self.server.cli().env("LICENSE_TOKEN", &self.admin_key)
    }

    /// The CLI as the client key.
    pub fn client(&self) -> Cli {
        self.server.cli().env("LICENSE_TOKEN", &self.client_key)
    }

    /// The license's live sessions.
    pub fn live_sessions(&self) -> Vec<Value> {
        let run = self
            .admin()
            .run(&["-o", "json", "session", "list", &self.license_id])
            .success();
        run.json().as_array().cloned().expect("a list")
    }

    /// Acquires a seat for `hardware_id`: the lease JSON.
    pub fn acquire(&self, hardware_id: &str) -> Value {
        self.client()
            .run(&[
                "-o",
                "json",
                "acquire",
                "--license-key",
                &self.license_key,
                "--hardware-id",
                hardware_id,
            ])
            .success()
            .json()
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
