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
