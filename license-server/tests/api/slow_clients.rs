//! Slow clients on raw TCP (ADR 0020): a head that stalls or trickles, a body that stalls, a
//! kept-alive connection left idle, and more connections than `server.max_connections`. Each
//! is cut (or held back) by the server within its configured bound, and normal requests keep
//! being served meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::{Clock, LocalKeyWrapper, LocalSigner, ManualClock, SigningAlgorithm};
use license_server::{Adapters, App, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app_with};

/// How late a cut may come on a loaded machine.
const SLACK: Duration = Duration::from_secs(3);
/// How early a cut may seem, measured from before the connect (timer granularity).
const EARLY: Duration = Duration::from_millis(100);

const HEALTH: &[u8] = b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// A server whose `[server]` timeouts are `header`, `body` and `idle` seconds.
async fn spawn_with_timeouts(header: u64, body: u64, idle: u64) -> TestApp {
    spawn_app_with(|c| {
        c.server.header_read_timeout_seconds = header;
        c.server.body_read_timeout_seconds = body;
        c.server.keep_alive_idle_seconds = idle;
    })
    .await
}

async fn connect(addr: std::net::SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

/// Reads until the server closes `stream` (a read returns 0 or fails), for at most
/// `within`; returns what it sent before closing. Panics if it is still open.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut sent = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => sent.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read_all)
        .await
        .unwrap_or_else(|_| panic!("still open after {within:?}"));
    sent
}

/// One HTTP/1.1 response: its status, its head (lower-case) and its body.
struct RawResponse {
    status: u16,
    head: String,
    body: String,
}

/// Reads exactly one response (sized by `Content-Length`), leaving the connection open.
async fn read_response(stream: &mut TcpStream) -> RawResponse {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before a whole response head");
        bytes.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while bytes.len() < head_end + length {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the whole body");
        bytes.extend_from_slice(&buf[..n]);
    }
    parse(&bytes[..head_end + length], head_end)
}

fn parse(bytes: &[u8], head_end: usize) -> RawResponse {
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    RawResponse {
        status,
        body: String::from_utf8_lossy(&bytes[head_end..]).into_owned(),
        head,
    }
}

/// A connection that has been served one request and is kept alive.
async fn kept_alive(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = connect(addr).await;
    stream.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut stream).await.status, 200);
    stream
}

/// The value of the series `name` (with its labels, as exported) on `app`'s `/metrics`,
/// read in process so it needs no connection.
fn metric(app: &TestApp, series: &str) -> f64 {
    let text = app.state.metrics.render();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

const HALF_HEAD: &[u8] = b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nX-Stall";
const STALLED_BODY: &[u8] = b"POST /api/v1/licenses/acquire HTTP/1.1\r\nHost: localhost\r\n\
    Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"license_key\":";

#[tokio::test]
async fn stalled_heads_and_bodies_are_cut_within_their_timeouts_while_others_are_served() {
    let app = spawn_with_timeouts(2, 3, 60).await;
    let started = Instant::now();
    let mut heads = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..50 {
        let mut head = connect(app.addr).await;
        head.write_all(HALF_HEAD).await.unwrap();
        heads.push(head);
        let mut body = connect(app.addr).await;
        body.write_all(STALLED_BODY).await.unwrap();
        bodies.push(body);
    }

    // Served while a hundred clients stall (none of them cut yet).
    app.health().await.expect(200);
    let cut = |reason: &str| {
        metric(
            &app,
            &format!("license_http_connections_cut_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(cut("header") + cut("body"), 0.0);

    for head in &mut heads {
        let sent = until_closed(head, Duration::from_secs(2) + SLACK).await;
        assert!(sent.is_empty(), "a cut head gets no answer");
    }
    assert!(started.elapsed() >= Duration::from_secs(2) - EARLY);
    for body in &mut bodies {
        let sent = until_closed(body, Duration::from_secs(3) + SLACK).await;
        let head_end = sent.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let reply = parse(&sent, head_end);
        assert_eq!(reply.status, 408, "{}", reply.head);
        assert!(reply.head.contains("connection: close"), "{}", reply.head);
        let error: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(error["code"], "request_timeout");
        assert!(error["message"].is_string());
    }
    assert!(started.elapsed() >= Duration::from_secs(3) - EARLY);
    assert_eq!(cut("header"), 50.0);
    assert_eq!(cut("body"), 50.0);
    app.health().await.expect(200);
}

#[tokio::test]
async fn a_head_trickled_a_byte_at_a_time_is_cut_at_the_header_timeout() {
    let app = spawn_with_timeouts(2, 30, 60).await;
    let head = format!(
        "GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nX-Trickle: {}\r\n\r\n",
        "a".repeat(100)
    );
    let started = Instant::now();
    let mut stream = connect(app.addr).await;
    let mut buf = [0u8; 1024];
    let mut sent = 0;
    let cut = loop {
        assert!(sent < head.len(), "the whole head went through");
        assert!(
            started.elapsed() < Duration::from_secs(2) + SLACK,
            "still open"
        );
        if stream
            .write_all(&head.as_bytes()[sent..=sent])
            .await
            .is_err()
        {
            break started.elapsed();
        }
        sent += 1;
        // One byte every 300 ms; a read that ends in time is the server closing.
        match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => break started.elapsed(),
            Ok(Ok(n)) => panic!("answered: {:?}", String::from_utf8_lossy(&buf[..n])),
        }
    };
    assert!(cut >= Duration::from_secs(2) - EARLY, "cut after {cut:?}");
    assert!(sent >= 5, "bytes kept coming until the deadline: {sent}");
    assert_eq!(
        metric(
            &app,
            "license_http_connections_cut_total{reason=\"header\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_at_the_idle_timeout() {
    let app = spawn_with_timeouts(10, 30, 1).await;
    let mut stream = kept_alive(app.addr).await;
    let answered = Instant::now();
    until_closed(&mut stream, Duration::from_secs(1) + SLACK).await;
    assert!(answered.elapsed() >= Duration::from_secs(1) - EARLY);
    assert_eq!(
        metric(&app, "license_http_connections_cut_total{reason=\"idle\"}"),
        1.0
    );
}

#[tokio::test]
async fn a_client_that_does_not_read_its_responses_is_cut_at_the_idle_timeout() {
    let app = spawn_with_timeouts(10, 30, 1).await;
    // Fifty pipelined requests for the 150 kB document, and nothing read: the kernel's
    // buffers fill and the server waits on the client to take the rest.
    let mut stream = connect(app.addr).await;
    let ask = b"GET /openapi.json HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(50);
    stream.write_all(&ask).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1) + SLACK).await;
    assert_eq!(
        metric(&app, "license_http_connections_cut_total{reason=\"idle\"}"),
        1.0,
        "the responses were not taken within server.keep_alive_idle_seconds"
    );
    let read = until_closed(&mut stream, SLACK).await;
    assert!(
        read.len() < 50 * 150_000,
        "cut before the end: {}",
        read.len()
    );
}

#[tokio::test]
async fn a_kept_alive_connection_outlives_the_header_timeout_until_the_idle_timeout() {
    // A proxy pooling connections must not find them closed at the (shorter) head timeout.
    let app = spawn_with_timeouts(1, 30, 3).await;
    let mut stream = kept_alive(app.addr).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stream.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut stream).await.status, 200);
    let answered = Instant::now();
    until_closed(&mut stream, Duration::from_secs(3) + SLACK).await;
    assert!(answered.elapsed() >= Duration::from_secs(3) - EARLY);
}

#[tokio::test]
async fn past_max_connections_a_connection_waits_until_one_closes() {
    let app = spawn_app_with(|c| c.server.max_connections = 2).await;
    // Two clients owing their heads hold both slots (for up to the 10 s head timeout).
    let mut first = connect(app.addr).await;
    first.write_all(HALF_HEAD).await.unwrap();
    let mut second = connect(app.addr).await;
    second.write_all(HALF_HEAD).await.unwrap();

    // The kernel completes the handshake, but the server does not accept it yet.
    let mut third = connect(app.addr).await;
    third.write_all(HEALTH).await.unwrap();
    let mut buf = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(700), third.peek(&mut buf)).await;
    assert!(early.is_err(), "served past max_connections: {early:?}");
    assert!(metric(&app, "license_http_connection_limit_waits_total") >= 1.0);
    assert_eq!(metric(&app, "license_http_connections_open"), 2.0);
    assert_eq!(metric(&app, "license_http_connections_accepted_total"), 2.0);

    drop(first);
    let reply = tokio::time::timeout(SLACK, read_response(&mut third))
        .await
        .expect("served once a connection closed");
    assert_eq!(reply.status, 200);
    assert_eq!(metric(&app, "license_http_connections_accepted_total"), 3.0);
    second.write_all(b": 1\r\n\r\n").await.unwrap();
    assert_eq!(
        read_response(&mut second).await.status,
        200,
        "the other waiting client was not disturbed"
    );
}

#[tokio::test]
async fn at_max_connections_idle_kept_alive_connections_give_their_slot_up() {
    let app = spawn_app_with(|c| c.server.max_connections = 2).await;
    let mut idle = kept_alive(app.addr).await;
    let mut owing = connect(app.addr).await;
    owing.write_all(HALF_HEAD).await.unwrap();

    let mut third = connect(app.addr).await;
    third.write_all(HEALTH).await.unwrap();
    let reply = tokio::time::timeout(SLACK, read_response(&mut third))
        .await
        .expect("served at once: the idle connection made room");
    assert_eq!(reply.status, 200);
    until_closed(&mut idle, SLACK).await;
    assert_eq!(
        metric(&app, "license_http_connections_cut_total{reason=\"shed\"}"),
        1.0
    );
    owing.write_all(b": 1\r\n\r\n").await.unwrap();
    assert_eq!(
        read_response(&mut owing).await.status,
        200,
        "a connection in the middle of a request is never shed"
    );
}

#[tokio::test]
async fn shutdown_closes_idle_connections_at_once_and_cuts_the_rest_after_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.server.shutdown_grace_seconds = 1;
    config.reaper.enabled = false;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let signer = LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap();
    let adapters = Adapters {
        store: Arc::new(MemoryStore::default()),
        ledger: Arc::new(MemoryLedger::new(clock.clone())),
        wrapper: Arc::new(LocalKeyWrapper::for_root(&signer).unwrap()),
        signer: Arc::new(signer),
    };
    let server_clock: Arc<dyn Clock> = clock;
    let app = App::new(config, adapters, server_clock)
        .bind()
        .await
        .unwrap();
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));

    let mut idle = kept_alive(addr).await;
    // Busy: its body will not come, and its own timeout (30 s) is longer than the grace.
    let mut busy = connect(addr).await;
    busy.write_all(STALLED_BODY).await.unwrap();
    // Time for the server to read that head, so the request is in flight when it stops.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let stopping = Instant::now();
    stop.send(()).unwrap();
    until_closed(&mut idle, Duration::from_millis(500)).await;
    until_closed(&mut busy, Duration::from_secs(1) + SLACK).await;
    assert!(stopping.elapsed() >= Duration::from_secs(1) - EARLY);
    tokio::time::timeout(SLACK, server)
        .await
        .expect("run returns once every connection is closed")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}
