//! A throwaway PostgreSQL cluster: `initdb` into a temporary directory, `postgres` on a free
//! loopback port (durability switched off for speed), one database per test, and everything
//! stopped and deleted when the server is dropped.
//!
//! ```no_run
//! use license_testkit::postgres::PostgresServer;
//! let pg = PostgresServer::start();
//! let url = pg.create_database("orders_test"); // postgres://app@127.0.0.1:PORT/orders_test
//! # let _ = url;
//! ```
//!
//! Connections use the role [`APP_ROLE`](crate::postgres::APP_ROLE): it owns every database
//! made here but is neither a superuser nor `BYPASSRLS`, like a production role, so Row-Level
//! Security applies to it.
//!
//! A server kept in a `static` is never dropped; a watchdog process therefore stops the
//! cluster and deletes its directory as soon as the test process exits, however it exits.

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::ports::free_port;

/// The login role that owns the databases and that every URL connects as.
pub const APP_ROLE: &str = "app";

/// The database [`PostgresServer::url`] points at.
const DEFAULT_DATABASE: &str = "license";

/// Where Debian and Ubuntu install PostgreSQL, one directory per major version.
const INSTALL_ROOT: &str = "/usr/lib/postgresql";

/// A running throwaway PostgreSQL cluster on 127.0.0.1, removed on drop.
#[derive(Debug)]
pub struct PostgresServer {
    bin: PathBuf,
    /// The cluster's home: `data/`, the unix socket and the logs. Deleted on drop.
    dir: tempfile::TempDir,
    port: u16,
    running: bool,
    /// Stops the cluster when this process exits without dropping the server.
    watchdog: Option<Child>,
}

impl PostgresServer {
    /// Creates and starts a cluster, with the role [`APP_ROLE`] and a database `license`.
    ///
    /// # Panics
    /// When PostgreSQL is not installed under `/usr/lib/postgresql/*/bin` (the message names the
    /// package), or when the cluster fails to start (the message carries its log).
    pub fn start() -> PostgresServer {
        let bin = find_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("license-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        if running_as_root() {
            // initdb and postgres refuse to run as root: the cluster belongs to `postgres`.
            run(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(dir.path()),
                "chown the cluster directory to postgres",
            );
        }
        let mut server = PostgresServer {
            bin,
            dir,
            port: 0,
            running: false,
            watchdog: None,
        };
        let data = server.data_dir();
        run(
            server
                .as_cluster_owner("initdb")
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
                .arg("--no-sync"),
            "initdb",
        );
        server.launch_on_a_free_port();
        server.watchdog = Some(server.spawn_watchdog());
        server.psql(&[
            &format!("CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"),
            &format!("CREATE DATABASE {DEFAULT_DATABASE} OWNER {APP_ROLE}"),
        ]);
        server
    }

    /// URL of the database `license`, as [`APP_ROLE`].
    pub fn url(&self) -> String {
        self.url_of(DEFAULT_DATABASE)
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates an empty database owned by [`APP_ROLE`] and returns its URL. `name`: 1–63 of
    /// `a–z 0–9 _`.
    ///
    /// # Panics
    /// On a bad name, a name already taken, or a stopped server.
    pub fn create_database(&self, name: &str) -> String {
        let valid = (1..=63).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        assert!(valid, "database name {name:?}: use 1-63 of a-z 0-9 _");
        self.psql(&[&format!("CREATE DATABASE {name} OWNER {APP_ROLE}")]);
        self.url_of(name)
    }

    /// Stops the server (fast shutdown: open connections are closed). Data is kept, so
    /// [`PostgresServer::restart`] brings back the same databases on the same port.
    pub fn stop(&mut self) {
        if self.running {
            self.pg_ctl_stop("fast");
            self.running = false;
        }
    }

    /// Starts a stopped server again, on the same port.
    ///
    /// # Panics
    /// When it does not start (the message carries the log).
    pub fn restart(&mut self) {
        if !self.running
            && let Err(log) = self.launch(self.port)
        {
            panic!("PostgreSQL did not restart on port {}:\n{log}", self.port);
        }
    }

    fn url_of(&self, database: &str) -> String {
        format!("postgres://{APP_ROLE}@127.0.0.1:{}/{database}", self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A command for a PostgreSQL binary, run as the `postgres` OS user when we are root.
    fn as_cluster_owner(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        // The test's working directory may be unreadable for `postgres`.
        command.current_dir(self.dir.path());
        command
    }

    /// Starts `postgres` on a free port, trying another port if one was taken meanwhile.
    fn launch_on_a_free_port(&mut self) {
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port().unwrap_or_else(|e| panic!("no free port: {e}"));
            match self.launch(port) {
                Ok(()) => return,
                Err(log) => last_log = log,
            }
        }
        panic!("PostgreSQL did not start:\n{last_log}");
    }

    /// `pg_ctl start -w`: returns once the server accepts connections (pg_ctl polls it), or
    /// the server log on failure.
    fn launch(&mut self, port: u16) -> Result<(), String> {
        let log = self.dir.path().join("postgres.log");
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=200",
            self.dir.path().display()
        );
        let output = self.dir.path().join("pg_ctl.out");
        let status = self
            .as_cluster_owner("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdin(Stdio::null())
            .stdout(log_file(&output))
            .stderr(log_file(&output))
            .status()
            .unwrap_or_else(|e| panic!("cannot run pg_ctl: {e}"));
        if status.success() {
            self.port = port;
            self.running = true;
            Ok(())
        } else {
            Err(format!("{}\n{}", read_log(&output), read_log(&log)))
        }
    }

    fn pg_ctl_stop(&self, mode: &str) {
        let output = self.dir.path().join("pg_ctl.out");
        let stopped = self
            .as_cluster_owner("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", mode, "-w", "-t", "60", "stop"])
            .stdin(Stdio::null())
            .stdout(log_file(&output))
            .stderr(log_file(&output))
            .status();
        if !stopped.is_ok_and(|s| s.success()) {
            eprintln!("pg_ctl stop failed:\n{}", read_log(&output));
        }
    }

    /// A shell that waits for this process to end, then stops the cluster and deletes its
    /// directory. It ignores Ctrl-C so it outlives an interrupted test run.
    fn spawn_watchdog(&self) -> Child {
        let stop = self.as_cluster_owner("pg_ctl").get_args().fold(
            shell_quote(
                &self
                    .as_cluster_owner("pg_ctl")
                    .get_program()
                    .to_string_lossy(),
            ),
            |line, arg| format!("{line} {}", shell_quote(&arg.to_string_lossy())),
        );
        let script = format!(
            "trap '' INT TERM HUP; while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; \
             {stop} -D \"$2\" -m immediate -w stop; rm -rf \"$3\""
        );
        Command::new("sh")
            .args(["-c", &script, "license-pg-watchdog"])
            .arg(std::process::id().to_string())
            .arg(self.data_dir())
            .arg(self.dir.path())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the PostgreSQL watchdog: {e}"))
    }

    /// Runs statements as the superuser `postgres` in the `postgres` database, each on its own
    /// (`CREATE DATABASE` cannot run in a transaction block).
    fn psql(&self, statements: &[&str]) {
        let mut command = Command::new(self.bin.join("psql"));
        command
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .env("PGCONNECT_TIMEOUT", "10");
        for sql in statements {
            command.args(["-c", sql]);
        }
        run(&mut command, "psql");
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if self.running {
            self.pg_ctl_stop("immediate");
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        // The TempDir removes the directory after this.
    }
}

/// The `bin` directory of the newest PostgreSQL under `/usr/lib/postgresql`.
fn find_bin_dir() -> PathBuf {
    newest_bin_dir(Path::new(INSTALL_ROOT)).unwrap_or_else(|| {
        panic!(
            "PostgreSQL not found under {INSTALL_ROOT}/*/bin: install it with \
             `apt-get install -y postgresql-15`"
        )
    })
}

/// `<root>/<major>/bin` of the highest major version that has every binary the harness runs.
fn newest_bin_dir(root: &Path) -> Option<PathBuf> {
    fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            let complete = ["initdb", "pg_ctl", "postgres", "psql"]
                .iter()
                .all(|b| bin.join(b).is_file());
            complete.then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Runs a command to completion; panics with its output when it fails.
fn run(command: &mut Command, what: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn log_file(path: &Path) -> File {
    File::options()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
}

fn read_log(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_highest_complete_version() {
        let root = tempfile::tempdir().unwrap();
        for (version, binaries) in [
            ("9", &["initdb", "pg_ctl", "postgres", "psql"][..]),
            ("15", &["initdb", "pg_ctl", "postgres", "psql"][..]),
            ("16", &["initdb", "psql"][..]),
        ] {
            let bin = root.path().join(version).join("bin");
            fs::create_dir_all(&bin).unwrap();
            for b in binaries {
                fs::write(bin.join(b), "").unwrap();
            }
        }
        fs::create_dir_all(root.path().join("common")).unwrap();
        assert_eq!(
            newest_bin_dir(root.path()),
            Some(root.path().join("15").join("bin"))
        );
    }

    #[test]
    fn finds_nothing_in_an_empty_or_missing_root() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(newest_bin_dir(root.path()), None);
        assert_eq!(newest_bin_dir(&root.path().join("absent")), None);
    }
}
