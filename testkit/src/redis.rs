//! A real `redis-server`, and a real 3-master Redis Cluster, on free loopback ports.
//!
//! Each server runs in its own temporary directory with persistence off
//! (`--save "" --appendonly no`), so a restart loses every key, like a crashed production node
//! without persistence. The processes are killed when the value is dropped, also when the test
//! panics. Start-up polls the server (PING, `CLUSTER INFO`) instead of sleeping.
//!
//! ```no_run
//! use license_testkit::redis::RedisServer;
//! let mut redis = RedisServer::start();
//! assert_eq!(redis.command(&["SET", "k", "v"]), "OK");
//! redis.restart(); // a crash: same port, empty
//! assert_eq!(redis.command(&["EXISTS", "k"]), "0");
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::{ErrorKind, RedisError, RedisResult, Value};
use tempfile::TempDir;

use crate::ports::free_port;

const MISSING: &str = "redis-server not found: install it with `apt-get install -y redis-server`";

/// How long a server may take to answer after it was spawned.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a cluster may take to agree on its slots after `--cluster create`.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30);
/// Between two polls while waiting.
const POLL: Duration = Duration::from_millis(10);
/// Attempts with a fresh port when another process took ours between picking and binding.
const PORT_ATTEMPTS: usize = 5;

/// One `redis-server` process on `127.0.0.1`, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    /// The TLS port of a server started with [`RedisServer::start_tls`].
    tls_port: Option<u16>,
    /// Extra arguments (cluster mode), kept for [`RedisServer::restart`].
    extra_args: Vec<String>,
    dir: PathBuf,
    child: Option<Child>,
    /// Removed on drop, after the process is gone. `None` for a cluster node (the cluster owns
    /// the directory).
    _tempdir: Option<TempDir>,
}

impl RedisServer {
    /// Starts a `redis-server` on a free loopback port in a fresh temporary directory and
    /// waits until it answers PING.
    ///
    /// # Panics
    /// When `redis-server` is not installed (naming the package) or does not start.
    pub fn start() -> RedisServer {
        let tempdir = tempfile::Builder::new()
            .prefix("testkit-redis-")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating a temporary directory for redis-server: {e}"));
        let dir = tempdir.path().to_path_buf();
        let mut server = Self::start_in(dir, Vec::new());
        server._tempdir = Some(tempdir);
        server
    }

    /// Starts a `redis-server` that also listens with TLS, on a certificate for `127.0.0.1`
    /// issued by a throwaway CA (made with the `openssl` command in the temporary directory).
    /// [`RedisServer::tls_url`] names the TLS port, [`RedisServer::ca_cert`] the CA to trust;
    /// the plain port stays open for [`RedisServer::command`].
    ///
    /// # Panics
    /// When `redis-server` or `openssl` is not installed (naming the package), or the server
    /// does not start.
    pub fn start_tls() -> RedisServer {
        let tempdir = tempfile::Builder::new()
            .prefix("testkit-redis-tls-")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating a temporary directory for redis-server: {e}"));
        let dir = tempdir.path().to_path_buf();
        make_certificates(&dir);
        let tls_port = free_port().unwrap_or_else(|e| panic!("finding a free TLS port: {e}"));
        let args = tls_args(&dir, tls_port);
        let mut server = Self::start_in(dir, args);
        server.tls_port = Some(tls_port);
        server._tempdir = Some(tempdir);
        server
    }

    /// `rediss://127.0.0.1:<tls port>` of a server started with [`RedisServer::start_tls`].
    ///
    /// # Panics
    /// When the server was started without TLS.
    pub fn tls_url(&self) -> String {
        match self.tls_port {
            Some(port) => format!("rediss://127.0.0.1:{port}"),
            None => panic!("tls_url: this server was started without TLS (use start_tls)"),
        }
    }

    /// The PEM file of the CA that issued the TLS certificate of [`RedisServer::start_tls`].
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// Starts a server in `dir` (which must exist) with `extra_args`, retrying on a port clash.
    fn start_in(dir: PathBuf, extra_args: Vec<String>) -> RedisServer {
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port =
                free_port().unwrap_or_else(|e| panic!("finding a free port for redis-server: {e}"));
            let mut server = RedisServer {
                port,
                tls_port: None,
                extra_args: extra_args.clone(),
                dir: dir.clone(),
                child: None,
                _tempdir: None,
            };
            match server.spawn_and_wait() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("redis-server did not start after {PORT_ATTEMPTS} attempts: {last_error}");
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Deletes every key (`FLUSHALL`).
    ///
    /// # Panics
    /// When the server does not answer `OK`.
    pub fn flushall(&self) {
        let reply = self.command(&["FLUSHALL"]);
        assert_eq!(reply, "OK", "FLUSHALL on port {}", self.port);
    }

    /// Runs one command and returns its reply as text: a status or bulk string as is, an
    /// integer in decimal, nil as `(nil)`, an array as its items on separate lines.
    ///
    /// # Panics
    /// When the server does not answer or answers with an error.
    pub fn command(&self, args: &[&str]) -> String {
        command(self.port, args)
            .unwrap_or_else(|e| panic!("redis command {args:?} on port {}: {e}", self.port))
    }

    /// Kills the server at once (SIGKILL, no shutdown), like a crash. Its data is gone: it
    /// has no persistence. Calls against it now fail until [`RedisServer::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if it runs, then starts an empty one on the same port and waits until
    /// it answers.
    ///
    /// # Panics
    /// When the new server does not start.
    pub fn restart(&mut self) {
        self.stop();
        // The port was ours a moment ago; redis-server binds with SO_REUSEADDR. Retry briefly
        // in case the kernel has not released it yet.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => {
                    panic!("redis-server did not restart on port {}: {e}", self.port)
                }
                Err(_) => std::thread::sleep(POLL),
            }
        }
    }

    /// Whether the process is running (not stopped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let log = self.dir.join(format!("redis-{}.log", self.port));
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--logfile")
            .arg(&log)
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => panic!("{MISSING}"),
            Err(e) => panic!("spawning redis-server: {e}"),
        };
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if command(self.port, &["PING"]).is_ok_and(|reply| reply == "PONG") {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                return Err(format!("redis-server exited with {status}: {}", tail(&log)));
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!("no PONG within {START_TIMEOUT:?}: {}", tail(&log)));
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis Cluster of three masters (no replicas) on loopback, killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    /// Where the CA and the nodes' certificate are, for a cluster started with TLS.
    certs: Option<PathBuf>,
    /// Dropped after the nodes (fields drop in declaration order).
    _tempdir: TempDir,
}

impl RedisCluster {
    /// Starts three `redis-server --cluster-enabled yes` nodes, joins them with
    /// `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`, and waits until
    /// every node reports `cluster_state:ok`.
    ///
    /// # Panics
    /// When `redis-server` or `redis-cli` is not installed (naming the package), or the cluster
    /// does not form.
    pub fn start() -> RedisCluster {
        Self::start_with(false)
    }

    /// Like [`RedisCluster::start`], but every node also listens with TLS (a certificate for
    /// `127.0.0.1` from a throwaway CA, made with `openssl`) and the cluster bus runs over TLS
    /// (`--tls-cluster yes`), so clients connected with TLS are redirected to TLS ports.
    /// [`RedisCluster::tls_url`] names the TLS ports, [`RedisCluster::ca_cert`] the CA to trust;
    /// the plain ports stay open for [`RedisServer::command`].
    ///
    /// # Panics
    /// As [`RedisCluster::start`], and when `openssl` is not installed (naming the package).
    pub fn start_tls() -> RedisCluster {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> RedisCluster {
        let tempdir = tempfile::Builder::new()
            .prefix("testkit-redis-cluster-")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating a temporary directory for the cluster: {e}"));
        let certs = tls.then(|| {
            make_certificates(tempdir.path());
            tempdir.path().to_path_buf()
        });
        let nodes: Vec<RedisServer> = (0..3)
            .map(|i| {
                let dir = tempdir.path().join(format!("node-{i}"));
                std::fs::create_dir(&dir)
                    .unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
                let bus_port =
                    free_port().unwrap_or_else(|e| panic!("finding a free cluster bus port: {e}"));
                let mut args: Vec<String> = [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                    "--cluster-port",
                    &bus_port.to_string(),
                ]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
                let tls_port = certs.as_ref().map(|certs| {
                    let port =
                        free_port().unwrap_or_else(|e| panic!("finding a free TLS port: {e}"));
                    args.extend(tls_args(certs, port));
                    args.extend(["--tls-cluster".to_owned(), "yes".to_owned()]);
                    port
                });
                let mut node = RedisServer::start_in(dir, args);
                node.tls_port = tls_port;
                node
            })
            .collect();
        let cluster = RedisCluster {
            nodes,
            certs,
            _tempdir: tempdir,
        };
        cluster.create();
        cluster.wait_until_ok();
        cluster
    }

    /// `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// `rediss+cluster://127.0.0.1:t1,127.0.0.1:t2,127.0.0.1:t3`: the TLS ports of a cluster
    /// started with [`RedisCluster::start_tls`].
    ///
    /// # Panics
    /// When the cluster was started without TLS.
    pub fn tls_url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| match n.tls_port {
                Some(port) => format!("127.0.0.1:{port}"),
                None => panic!("tls_url: this cluster was started without TLS (use start_tls)"),
            })
            .collect();
        format!("rediss+cluster://{}", nodes.join(","))
    }

    /// The PEM file of the CA that issued the nodes' certificate ([`RedisCluster::start_tls`]).
    ///
    /// # Panics
    /// When the cluster was started without TLS.
    pub fn ca_cert(&self) -> PathBuf {
        match &self.certs {
            Some(certs) => certs.join("ca.crt"),
            None => panic!("ca_cert: this cluster was started without TLS (use start_tls)"),
        }
    }

    /// The three masters.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// Deletes every key on every master.
    ///
    /// # Panics
    /// When a master does not answer `OK`.
    pub fn flushall(&self) {
        for node in &self.nodes {
            node.flushall();
        }
    }

    fn create(&self) {
        let mut cmd = Command::new("redis-cli");
        cmd.arg("--cluster").arg("create");
        for node in &self.nodes {
            cmd.arg(format!("127.0.0.1:{}", node.port));
        }
        cmd.args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null());
        let output = match cmd.output() {
            Ok(output) => output,
            Err(e) if e.kind() == io::ErrorKind::NotFound => panic!("{MISSING}"),
            Err(e) => panic!("running redis-cli --cluster create: {e}"),
        };
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn wait_until_ok(&self) {
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        for node in &self.nodes {
            loop {
                let info = command(node.port, &["CLUSTER", "INFO"]).unwrap_or_default();
                if info.lines().any(|l| l.trim() == "cluster_state:ok") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "Redis Cluster not ok within {CLUSTER_TIMEOUT:?}; node {}: {info}",
                    node.port
                );
                std::thread::sleep(POLL);
            }
        }
    }
}

/// redis-server arguments for a TLS port on the certificates [`make_certificates`] wrote to
/// `certs`. Clients need no certificate of their own.
fn tls_args(certs: &Path, tls_port: u16) -> Vec<String> {
    let path = |name: &str| certs.join(name).display().to_string();
    vec![
        "--tls-port".to_owned(),
        tls_port.to_string(),
        "--tls-cert-file".to_owned(),
        path("server.crt"),
        "--tls-key-file".to_owned(),
        path("server.key"),
        "--tls-ca-cert-file".to_owned(),
        path("ca.crt"),
        "--tls-auth-clients".to_owned(),
        "no".to_owned(),
    ]
}

/// A CA (`ca.crt`) and a server certificate for `127.0.0.1` (`server.crt`, `server.key`) it
/// issued, written to `dir` by the `openssl` command.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let output = match Command::new("openssl").args(args).current_dir(dir).output() {
            Ok(output) => output,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                panic!("openssl not found: install it with `apt-get install -y openssl`")
            }
            Err(e) => panic!("running openssl: {e}"),
        };
        assert!(
            output.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let p256 = "ec_paramgen_curve:prime256v1";
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        p256,
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=testkit CA",
        "-days",
        "2",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        p256,
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n")
        .unwrap_or_else(|e| panic!("writing san.ext: {e}"));
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}

/// The last lines of a log file, for start-up failures.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// How long connecting to a node may take before the command fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one command may take to be sent or answered.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends one command to the plain port on a fresh connection (the `redis` crate's sync client)
/// and returns the reply as [`text`]. An error reply is an `Err`.
fn command(port: u16, args: &[&str]) -> RedisResult<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut connection = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    connection.set_read_timeout(Some(IO_TIMEOUT))?;
    connection.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut cmd = redis::Cmd::new();
    for arg in args {
        cmd.arg(*arg);
    }
    let reply: Value = cmd.query(&mut connection)?;
    text(reply)
}

/// A reply as text: a status or bulk string as is, an integer in decimal, nil as `(nil)`, an
/// array (or set, or a map's keys and values in turn) as its items on separate lines. A bulk
/// string that is not UTF-8 is an error.
fn text(reply: Value) -> RedisResult<String> {
    let lines = |items: Vec<Value>| -> RedisResult<String> {
        let items = items
            .into_iter()
            .map(text)
            .collect::<RedisResult<Vec<_>>>()?;
        Ok(items.join("\n"))
    };
    match reply {
        Value::Nil => Ok("(nil)".to_owned()),
        Value::Okay => Ok("OK".to_owned()),
        Value::Int(n) => Ok(n.to_string()),
        Value::SimpleString(s) => Ok(s),
        Value::BulkString(bytes) => String::from_utf8(bytes).map_err(|_| {
            RedisError::from((ErrorKind::UnexpectedReturnType, "bulk string is not UTF-8"))
        }),
        Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => lines(items),
        Value::Map(pairs) => lines(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        Value::Attribute { data, .. } => text(*data),
        Value::VerbatimString { text, .. } => Ok(text),
        Value::Double(x) => Ok(x.to_string()),
        Value::Boolean(b) => Ok(if b { "1" } else { "0" }.to_owned()),
        Value::ServerError(e) => Err(e.into()),
        other => Err(RedisError::from((
            ErrorKind::UnexpectedReturnType,
            "unknown reply type",
            format!("{other:?}"),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_type_reads_as_text() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        assert_eq!(text(Value::Okay).unwrap(), "OK");
        assert_eq!(text(Value::SimpleString("PONG".into())).unwrap(), "PONG");
        assert_eq!(text(Value::Int(42)).unwrap(), "42");
        assert_eq!(text(bulk("hello")).unwrap(), "hello");
        assert_eq!(text(Value::Nil).unwrap(), "(nil)");
        assert_eq!(
            text(Value::Array(vec![bulk("a"), Value::Int(1)])).unwrap(),
            "a\n1"
        );
        assert!(text(Value::BulkString(vec![0xff])).is_err(), "not UTF-8");
    }

    #[test]
    fn replies_from_a_real_server_read_as_text() {
        let redis = RedisServer::start();
        assert_eq!(redis.command(&["SET", "k", "v"]), "OK");
        assert_eq!(redis.command(&["PING"]), "PONG");
        assert_eq!(redis.command(&["GET", "k"]), "v");
        assert_eq!(redis.command(&["GET", "missing"]), "(nil)");
        assert_eq!(redis.command(&["INCR", "n"]), "1");
        assert_eq!(redis.command(&["RPUSH", "l", "a", "1"]), "2");
        assert_eq!(redis.command(&["LRANGE", "l", "0", "-1"]), "a\n1");
        let error = command(redis.port(), &["NO-SUCH-COMMAND"]).unwrap_err();
        assert!(error.to_string().contains("unknown command"), "{error}");
    }

    #[test]
    fn a_restarted_server_is_empty_and_on_the_same_port() {
        let mut redis = RedisServer::start();
        let port = redis.port();
        assert_eq!(redis.command(&["SET", "k", "v"]), "OK");
        redis.stop();
        assert!(
            command(port, &["PING"]).is_err(),
            "a stopped server answers"
        );
        redis.restart();
        assert_eq!(redis.port(), port);
        assert_eq!(redis.command(&["EXISTS", "k"]), "0");
        assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}"));
    }

    #[test]
    fn a_dropped_server_stops() {
        let redis = RedisServer::start();
        let port = redis.port();
        drop(redis);
        assert!(
            command(port, &["PING"]).is_err(),
            "the server outlived its drop"
        );
    }

    #[test]
    fn a_tls_server_has_a_certificate_for_loopback_from_its_ca() {
        let redis = RedisServer::start_tls();
        assert!(redis.tls_url().starts_with("rediss://127.0.0.1:"));
        assert!(
            std::fs::read_to_string(redis.ca_cert())
                .unwrap()
                .contains("BEGIN CERTIFICATE")
        );
        let info = redis.command(&["CONFIG", "GET", "tls-port"]);
        assert!(
            redis.tls_url().ends_with(info.lines().nth(1).unwrap()),
            "{info}"
        );
    }

    #[test]
    fn the_cluster_has_three_masters_covering_every_slot() {
        let cluster = RedisCluster::start();
        for node in cluster.nodes() {
            let info = node.command(&["CLUSTER", "INFO"]);
            assert!(info.contains("cluster_slots_assigned:16384"), "{info}");
            assert!(info.contains("cluster_known_nodes:3"), "{info}");
        }
        assert!(cluster.url().starts_with("redis+cluster://127.0.0.1:"));
        assert_eq!(cluster.url().matches(',').count(), 2);
        cluster.flushall();
    }

    #[test]
    fn a_tls_cluster_runs_its_bus_over_tls_and_names_its_tls_ports() {
        let cluster = RedisCluster::start_tls();
        let url = cluster.tls_url();
        assert!(url.starts_with("rediss+cluster://127.0.0.1:"), "{url}");
        for node in cluster.nodes() {
            let info = node.command(&["CLUSTER", "INFO"]);
            assert!(info.contains("cluster_state:ok"), "{info}");
            let tls = node.command(&["CONFIG", "GET", "tls-cluster"]);
            assert_eq!(tls.lines().nth(1), Some("yes"), "{tls}");
            let port = node.command(&["CONFIG", "GET", "tls-port"]);
            let port = port.lines().nth(1).unwrap();
            assert!(
                url.contains(&format!("127.0.0.1:{port}")),
                "{url} lacks {port}"
            );
        }
        assert!(
            std::fs::read_to_string(cluster.ca_cert())
                .unwrap()
                .contains("BEGIN CERTIFICATE")
        );
    }
}
