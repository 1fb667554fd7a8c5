//! The harness: a real `license-server` process on the embedded default (license-client's
//! test harness, shared), and a runner for the `license` binary with a clean environment.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// The server process (one launcher for the CLI's and the client libraries' tests).
#[path = "../../../license-client/tests/support/server.rs"]
mod server;

use server::clear_license_env;
// Each test binary uses a different part.
#[allow(unused_imports)]
pub use server::{Server, eventually, http_get};

/// The `license` binary under test.
pub const LICENSE: &str = env!("CARGO_BIN_EXE_license");

impl Server {
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
