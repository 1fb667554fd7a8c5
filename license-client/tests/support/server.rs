//! A real `license-server` process on the embedded default (in-memory store, in-process
//! ledger, local key) in a temporary data directory on a free loopback port, killed on drop.
//! Shared by the tests of license-client, license-client-c and license-cli (`#[path]`).
//!
//! The server binary: `LICENSE_SERVER_BIN` if set (CI with a prebuilt binary), else built
//! once per test run with `cargo build -p license-server` into the target directory and
//! profile of the running test. A build failure is a loud failure naming the package.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server gets to answer its health probe.
const START_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Removes every inherited `LICENSE_…` variable from `command`.
pub fn clear_license_env(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("LICENSE_") {
            command.env_remove(name);
        }
    }
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
    /// Holds the data directory and the log (and the CLI's config home).
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
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let log_path = home.path().join(format!("server-{}.log", addr.port()));
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

    /// Stops the server (a test's "server gone").
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
