//! The four scenarios: what one connection sends in its loop, and what counts as a success.
//! Every scenario counts a 2xx answer as a success and anything else — any other status
//! (402 included: each scenario's license has the seats it needs), a timeout, a broken
//! connection — as an error.

use anyhow::{Context as _, Result, bail};
use hyper::Method;
use hyper::body::Bytes;
use serde_json::json;
use tokio::time::Instant;

use crate::http::{Call, Connection, Failure};
use crate::record::Recorder;

const HEALTH: &str = "/api/v1/health/";
const ACQUIRE: &str = "/api/v1/licenses/acquire";
const HEARTBEAT: &str = "/api/v1/licenses/heartbeat";
const RELEASE: &str = "/api/v1/licenses/release";

/// Which load to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `GET /api/v1/health/`: no credential, no store, no ledger: the HTTP ceiling.
    Ceiling,
    /// `POST /api/v1/licenses/heartbeat`, round robin over sessions acquired before the clock
    /// starts.
    Heartbeat,
    /// `POST /api/v1/licenses/acquire`, each with a hardware id never used before: each a new
    /// seat.
    Acquire,
    /// Acquire then release, in a loop, each connection on its own hardware id; both requests
    /// count.
    Churn,
}

impl Scenario {
    /// Its name on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Ceiling => "ceiling",
            Scenario::Heartbeat => "heartbeat",
            Scenario::Acquire => "acquire",
            Scenario::Churn => "churn",
        }
    }

    /// Connections when `--connections` is not given.
    pub fn default_connections(self) -> usize {
        match self {
            Scenario::Acquire => 100,
            Scenario::Ceiling | Scenario::Heartbeat | Scenario::Churn => 64,
        }
    }

    /// Whether it sends the client API key and a license key.
    pub fn needs_license(self) -> bool {
        self != Scenario::Ceiling
    }
}

/// What the acquire and heartbeat bodies need.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The license key every acquire names.
    pub license_key: String,
    /// Keeps this process's hardware ids apart from any other run's.
    pub run_id: String,
}

/// One connection's state between requests.
#[derive(Debug)]
pub enum Worker {
    /// Health checks.
    Ceiling,
    /// Heartbeats its own sessions in turn.
    Heartbeat { sessions: Vec<String>, next: usize },
    /// Acquires with `<prefix>-<n>`, n counting up.
    Acquire {
        lease: Lease,
        prefix: String,
        next: u64,
    },
    /// Acquires and releases on one hardware id.
    Churn { lease: Lease, hardware_id: String },
}

impl Worker {
    /// Connection `index`'s state. For heartbeat this acquires its share of `sessions` (the
    /// ones whose number modulo `connections` is `index`), before the clock starts.
    pub async fn prepare(
        scenario: Scenario,
        conn: &mut Connection,
        index: usize,
        connections: usize,
        sessions: usize,
        lease: Option<Lease>,
    ) -> Result<Self> {
        let need = |lease: Option<Lease>| {
            lease.with_context(|| format!("{} needs --license-key", scenario.name()))
        };
        Ok(match scenario {
            Scenario::Ceiling => Worker::Ceiling,
            Scenario::Heartbeat => {
                let lease = need(lease)?;
                let mut held = Vec::new();
                for n in (index..sessions).step_by(connections) {
                    let hardware_id = format!("hb-{}-{n}", lease.run_id);
                    held.push(acquire_untimed(conn, &lease, &hardware_id).await?);
                }
                Worker::Heartbeat {
                    sessions: held,
                    next: 0,
                }
            }
            Scenario::Acquire => {
                let lease = need(lease)?;
                Worker::Acquire {
                    prefix: format!("acq-{}-{index}", lease.run_id),
                    lease,
                    next: 0,
                }
            }
            Scenario::Churn => {
                let lease = need(lease)?;
                Worker::Churn {
                    hardware_id: format!("churn-{}-{index}", lease.run_id),
                    lease,
                }
            }
        })
    }

    /// One turn of the loop: one request (two for churn), recorded in `rec` when it starts
    /// at or after `from` (before it is warm-up).
    pub async fn step(&mut self, conn: &mut Connection, rec: &mut Recorder, from: Instant) {
        match self {
            Worker::Ceiling => {
                let call = Call {
                    method: &Method::GET,
                    path: HEALTH,
                    json: None,
                    authorised: false,
                };
                timed(conn, rec, from, call, |_| Ok(())).await;
            }
            Worker::Heartbeat { sessions, next } => {
                let Some(session) = sessions.get(*next % sessions.len().max(1)) else {
                    // This connection holds no session: it is idle.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    return;
                };
                *next = next.wrapping_add(1);
                let body = session_body(session);
                timed(conn, rec, from, post(HEARTBEAT, &body), |_| Ok(())).await;
            }
            Worker::Acquire {
                lease,
                prefix,
                next,
            } => {
                let body = acquire_body(lease, &format!("{prefix}-{next}"));
                *next += 1;
                timed(conn, rec, from, post(ACQUIRE, &body), |_| Ok(())).await;
            }
            Worker::Churn { lease, hardware_id } => {
                let body = acquire_body(lease, hardware_id);
                let session = timed(conn, rec, from, post(ACQUIRE, &body), session_id).await;
                if let Some(session) = session {
                    let body = session_body(&session);
                    timed(conn, rec, from, post(RELEASE, &body), |_| Ok(())).await;
                }
            }
        }
    }
}

fn post<'a>(path: &'a str, body: &'a [u8]) -> Call<'a> {
    Call {
        method: &Method::POST,
        path,
        json: Some(body),
        authorised: true,
    }
}

fn acquire_body(lease: &Lease, hardware_id: &str) -> Vec<u8> {
    json!({ "license_key": lease.license_key, "hardware_id": hardware_id })
        .to_string()
        .into_bytes()
}

fn session_body(session: &str) -> Vec<u8> {
    json!({ "session_id": session }).to_string().into_bytes()
}

/// The `session_id` of an acquire answer.
fn session_id(body: &Bytes) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    value["session_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no session_id in {}", text(body)))
}

/// Sends `call` and records it (when it started at or after `from`): a 2xx answer whose body
/// `check` accepts is a success and gives `check`'s value; anything else is an error.
async fn timed<T>(
    conn: &mut Connection,
    rec: &mut Recorder,
    from: Instant,
    call: Call<'_>,
    check: impl FnOnce(&Bytes) -> Result<T, String>,
) -> Option<T> {
    let started = Instant::now();
    let outcome = conn.send(call).await;
    let counted = started >= from;
    let (kind, detail) = match outcome {
        Ok(response) if response.status.is_success() => match check(&response.body) {
            Ok(value) => {
                if counted {
                    rec.ok(started);
                }
                return Some(value);
            }
            Err(why) => ("bad_response".to_owned(), why),
        },
        Ok(response) => (
            format!("status {}", response.status.as_u16()),
            text(&response.body),
        ),
        Err(Failure::Timeout) => ("timeout".to_owned(), "no answer in time".to_owned()),
        Err(Failure::Transport(why)) => ("transport".to_owned(), why),
    };
    if counted {
        rec.error(&kind, || format!("{} {}: {detail}", call.method, call.path));
    }
    None
}

/// An acquire outside the measurement (heartbeat's sessions): any failure stops the run.
async fn acquire_untimed(
    conn: &mut Connection,
    lease: &Lease,
    hardware_id: &str,
) -> Result<String> {
    let body = acquire_body(lease, hardware_id);
    match conn.send(post(ACQUIRE, &body)).await {
        Ok(response) if response.status.is_success() => {
            session_id(&response.body).map_err(anyhow::Error::msg)
        }
        Ok(response) => bail!(
            "acquiring the heartbeat sessions: {} {}",
            response.status,
            text(&response.body)
        ),
        Err(Failure::Timeout) => bail!("acquiring the heartbeat sessions: timed out"),
        Err(Failure::Transport(why)) => bail!("acquiring the heartbeat sessions: {why}"),
    }
}

/// A body for an error message, cut short.
fn text(body: &Bytes) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
}
