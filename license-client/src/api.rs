//! The JSON of the client routes (`/api/v1/licenses/…`), mirrored in small serde structs.
//! Unknown fields are ignored, so a newer server does not break an older client. Ids stay
//! strings: a client only passes them back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable machine-readable code (`no_seats_available`, …).
    pub code: String,
    /// For people.
    pub message: String,
    /// The input at fault, for `invalid_input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The dependency that failed, for `unavailable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency: Option<String>,
    /// Which limit refused the seat, for `no_seats_available` (`seats`, `group_max`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_reached: Option<String>,
    /// Why an administrator evicted the session, for `evicted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the hold-off of an eviction ends, for `evicted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

/// A request for a seat.
#[derive(Debug, Clone, Serialize)]
pub struct AcquireRequest {
    /// The license key.
    pub license_key: String,
    /// The machine's id.
    pub hardware_id: String,
    /// Who uses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_email: Option<String>,
    /// The host's name (matched by seat policies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// Which process asks (per-process leasing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_id: Option<String>,
    /// Wait up to this many seconds in the license's queue when no seat is free (0–86,400,
    /// cut to the license's `max_wait_seconds`): the answer may then be a
    /// [`QueuePlace`] ([`Client::acquire_or_wait`](crate::Client::acquire_or_wait)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<u32>,
    /// The ticket of an earlier [`QueuePlace`]: this acquire polls it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_ticket: Option<String>,
}

impl AcquireRequest {
    /// A request for `license_key` on `hardware_id`, nothing else set.
    pub fn new(license_key: impl Into<String>, hardware_id: impl Into<String>) -> Self {
        Self {
            license_key: license_key.into(),
            hardware_id: hardware_id.into(),
            user_email: None,
            host_name: None,
            process_id: None,
            wait_seconds: None,
            queue_ticket: None,
        }
    }
}

/// A request to borrow a seat.
#[derive(Debug, Clone, Serialize)]
pub struct BorrowRequest {
    /// The seat.
    #[serde(flatten)]
    pub seat: AcquireRequest,
    /// How long, in seconds.
    pub borrow_seconds: u32,
}

/// A granted seat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lease {
    /// The session holding the seat.
    pub session_id: String,
    /// When the seat frees itself unless renewed.
    pub expires_at: DateTime<Utc>,
    /// Seconds between heartbeats.
    pub heartbeat_interval_seconds: u32,
    /// Borrowed for offline work until `expires_at`.
    #[serde(default)]
    pub borrowed: bool,
    /// Granted into the license's overdraft.
    #[serde(default)]
    pub overdraft: bool,
    /// The signed lease token.
    pub token: String,
    /// The session's secret, when its license requires one: heartbeats and releases send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_secret: Option<String>,
}

/// A place in a license's queue: the answer (202) to an acquire that asked to wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePlace {
    /// Send it back as `queue_ticket` with the same request to poll, or to
    /// [`leave_queue`](crate::Client::leave_queue). Granted, the lease's `session_id` is it.
    pub queue_ticket: String,
    /// 1 for the next in line (higher priorities first, then arrival).
    pub position: u32,
    /// When the wait ends: a poll after it answers 410 `queue_ticket_gone`.
    pub wait_until: DateTime<Utc>,
    /// Ask again after this many seconds …
    pub poll_after_seconds: u32,
    /// … and within this many, or the place is given up.
    pub poll_within_seconds: u32,
}

/// The answer to an acquire that may wait.
#[derive(Debug, Clone)]
pub enum Acquired {
    /// The seat (200).
    Lease(Lease),
    /// No seat yet: a place in the queue (202).
    Queued(QueuePlace),
}

/// A ticket that stops waiting.
#[derive(Debug, Clone, Serialize)]
pub struct LeaveQueueRequest<'a> {
    /// The license's key.
    pub license_key: &'a str,
    /// The ticket of the acquire's 202.
    pub queue_ticket: &'a str,
}

/// The answer to leaving the queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeftQueue {
    /// Whether the ticket was waiting (`false`: it had left, got its seat, or its wait
    /// ended).
    pub left: bool,
}

/// A session to renew, release or return.
#[derive(Debug, Clone, Serialize)]
pub struct SessionRequest<'a> {
    /// The session id.
    pub session_id: &'a str,
    /// Its secret, for sessions that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_secret: Option<&'a str>,
}

/// A renewed seat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Renewed {
    /// The new expiry.
    pub expires_at: DateTime<Utc>,
    /// A fresh lease token.
    pub token: String,
}

/// A released seat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Released {
    /// When the session ended.
    pub released_at: DateTime<Utc>,
}

/// A returned borrowed seat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Returned {
    /// When the borrow ended.
    pub returned_at: DateTime<Utc>,
}

/// A lease token to check online.
#[derive(Debug, Clone, Serialize)]
pub struct ValidateRequest<'a> {
    /// The token from acquire or heartbeat.
    pub token: &'a str,
}

/// What a valid lease token grants, as the server checked it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Validated {
    /// The session holding the seat.
    pub session_id: String,
    /// Its license.
    pub license_id: String,
    /// The machine holding the seat.
    pub hardware_id: String,
    /// Features granted.
    #[serde(default)]
    pub entitlements: Vec<String>,
    /// When the lease expires.
    pub expires_at: DateTime<Utc>,
}
