//! The client's typed error: one variant per thing the application does about it, decoded
//! from the server's error body (`{code, message, …}`), its status and `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::api::ErrorBody;

/// Why a call failed, worded by what the application should do. `Clone`, so a
/// [`SeatGuard`](crate::SeatGuard) can publish it in its state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Every seat is taken (402 `no_seats_available` or `borrow_limit_reached`): try again
    /// later (after `retry_after` when the server said), or tell the user.
    #[error("{message} ({code})")]
    NoSeats {
        /// `no_seats_available` or `borrow_limit_reached`.
        code: String,
        /// The server's message.
        message: String,
        /// Which limit refused (`seats`, `group_max`, …), when the server said.
        limit: Option<String>,
        /// The server's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// The polled queue ticket is gone (410 `queue_ticket_gone`): its wait ended, it was not
    /// polled in time, or it left. Acquire again (with a wait) for a new place at the end.
    #[error("{message} (queue_ticket_gone)")]
    TicketGone {
        /// The server's message.
        message: String,
    },
    /// No seat came within the wait ([`Client::wait_for_seat`](crate::Client::wait_for_seat)):
    /// the place in the queue was given up. Try again later, or tell the user.
    #[error("no seat within the wait of {} s (still number {position} in the queue)", .waited.as_secs())]
    WaitEnded {
        /// How long the client waited.
        waited: Duration,
        /// Its last place in the queue (1: next in line).
        position: u32,
    },
    /// An administrator evicted the session or holds this machine or person off (403 or 410
    /// `evicted`): stop using the licensed feature, and do not ask again before `until`.
    #[error("{} (evicted)", evicted_message(.reason, .until.as_ref()))]
    Evicted {
        /// Why, as the administrator said it.
        reason: String,
        /// When the hold-off ends; none: no hold-off.
        until: Option<DateTime<Utc>>,
    },
    /// The license cannot be used: unknown key (404), suspended, revoked or expired (403).
    /// Retrying will not help; tell the user.
    #[error("{message} ({code})")]
    LicenseInvalid {
        /// `license_not_found`, `license_suspended`, `license_revoked`, `license_expired`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The session is gone (410 `session_expired`, 404 `session_not_found`): acquire again.
    #[error("{message} ({code})")]
    SessionLost {
        /// `session_expired` or `session_not_found`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The credential is missing, wrong, or not allowed here (401, 403 `forbidden`): fix the
    /// configuration; retrying will not help.
    #[error("{message} ({code})")]
    Unauthorized {
        /// `unauthenticated` or `forbidden`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server refused the request as it is (400, 409, …): a bug or bad input.
    #[error("{message} ({code})")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The stable code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// No usable answer after every retry (connection refused, timeout, 5xx, 429): keep
    /// working offline while the lease token is valid, and try again.
    #[error("the license server at {server} is unavailable after {attempts} attempt(s): {reason}")]
    ServerUnavailable {
        /// The base URL.
        server: String,
        /// How many requests were sent.
        attempts: u32,
        /// The last cause.
        reason: String,
        /// The status of the last answer, if the server answered (5xx, 429).
        status: Option<u16>,
        /// The stable code of the last answer, if it had the error body (`unavailable`, …).
        code: Option<String>,
        /// The server's last `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// A lease token failed offline verification (signature, tenant, license, expiry): do not
    /// trust it.
    #[error("invalid lease token: {0}")]
    InvalidToken(String),
    /// An answer that is not what the route promises.
    #[error("unexpected answer from the license server: {0}")]
    BadResponse(String),
    /// The server URL cannot be used; nothing was sent.
    #[error("invalid server URL {url:?}: {reason}")]
    BadUrl {
        /// What was given.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// The client is configured wrongly (key set, runtime, …); nothing was sent.
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// The server's stable error code, when the server answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::NoSeats { code, .. }
            | Error::LicenseInvalid { code, .. }
            | Error::SessionLost { code, .. }
            | Error::Unauthorized { code, .. }
            | Error::Rejected { code, .. } => Some(code),
            Error::Evicted { .. } => Some("evicted"),
            Error::TicketGone { .. } => Some("queue_ticket_gone"),
            _ => None,
        }
    }

    /// Whether the same request may succeed when sent again soon (the API is idempotent, so
    /// the client retries these itself, with backoff).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::ServerUnavailable { .. })
    }
}

/// A failed attempt: either final, or worth another try.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// Do not retry.
    Final(Error),
    /// Transport error, timeout, 5xx or 429: retry after the backoff (or `Retry-After`).
    Transient {
        reason: String,
        retry_after: Option<Duration>,
        /// The answer's status and code, when there was an answer.
        status: Option<u16>,
        code: Option<String>,
    },
}

/// The error of a non-2xx answer.
pub(crate) fn decode(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Attempt {
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        let reason = match &parsed {
            Some(e) => format!("{} ({})", e.message, e.code),
            None => format!("the server answered {status}"),
        };
        return Attempt::Transient {
            reason,
            retry_after,
            status: Some(status.as_u16()),
            code: parsed.map(|e| e.code),
        };
    }
    let Some(e) = parsed else {
        return Attempt::Final(Error::Rejected {
            status: status.as_u16(),
            code: format!("http_{}", status.as_u16()),
            message: format!(
                "the server answered {}",
                status.canonical_reason().unwrap_or("an error")
            ),
        });
    };
    Attempt::Final(match e.code.as_str() {
        "evicted" => Error::Evicted {
            reason: e.reason.unwrap_or(e.message),
            until: e.until,
        },
        "no_seats_available" | "borrow_limit_reached" => Error::NoSeats {
            message: match &e.limit_reached {
                Some(limit) if limit != "seats" => {
                    format!("{} (limit reached: {limit})", e.message)
                }
                _ => e.message,
            },
            code: e.code,
            limit: e.limit_reached,
            retry_after,
        },
        "license_not_found" | "license_suspended" | "license_revoked" | "license_expired" => {
            Error::LicenseInvalid {
                code: e.code,
                message: e.message,
            }
        }
        "queue_ticket_gone" => Error::TicketGone { message: e.message },
        "session_expired" | "session_not_found" => Error::SessionLost {
            code: e.code,
            message: e.message,
        },
        "unauthenticated" | "forbidden" => Error::Unauthorized {
            code: e.code,
            message: e.message,
        },
        _ => Error::Rejected {
            status: status.as_u16(),
            message: match e.field {
                Some(field) if !e.message.contains(&field) => {
                    format!("{} (field {field})", e.message)
                }
                _ => e.message,
            },
            code: e.code,
        },
    })
}

/// "evicted by an administrator: REASON; no seat before TIME".
fn evicted_message(reason: &str, until: Option<&DateTime<Utc>>) -> String {
    match until {
        Some(until) => format!(
            "evicted by an administrator: {reason}; no seat before {}",
            until.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
        None => format!("evicted by an administrator: {reason}"),
    }
}

/// The innermost cause of a transport error: "Connection refused (os error 111)", not
/// "error sending request".
pub fn transport_cause(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "the request timed out".into();
    }
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn final_error(status: u16, body: &str) -> Error {
        match decode(
            StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            &HeaderMap::new(),
            body.as_bytes(),
        ) {
            Attempt::Final(e) => e,
            Attempt::Transient { reason, .. } => panic!("transient: {reason}"),
        }
    }

    #[test]
    fn each_code_becomes_the_variant_that_says_what_to_do() {
        let e = final_error(
            402,
            r#"{"code":"no_seats_available","message":"all 1 seats in use"}"#,
        );
        assert!(matches!(e, Error::NoSeats { .. }), "{e:?}");
        assert_eq!(e.to_string(), "all 1 seats in use (no_seats_available)");
        let e = final_error(
            410,
            r#"{"code":"evicted","message":"m","reason":"audit","until":"2026-11-26T10:00:00Z"}"#,
        );
        assert_eq!(
            e.to_string(),
            "evicted by an administrator: audit; no seat before 2026-11-26T10:00:00Z (evicted)"
        );
        let e = final_error(403, r#"{"code":"license_suspended","message":"suspended"}"#);
        assert!(matches!(e, Error::LicenseInvalid { .. }));
        let e = final_error(410, r#"{"code":"session_expired","message":"gone"}"#);
        assert!(matches!(e, Error::SessionLost { .. }));
        let e = final_error(401, r#"{"code":"unauthenticated","message":"who?"}"#);
        assert!(matches!(e, Error::Unauthorized { .. }));
        let e = final_error(
            402,
            r#"{"code":"no_seats_available","message":"no seats","limit_reached":"queued"}"#,
        );
        assert!(
            matches!(&e, Error::NoSeats { limit: Some(l), .. } if l == "queued"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "no seats (limit reached: queued) (no_seats_available)"
        );
        let e = final_error(410, r#"{"code":"queue_ticket_gone","message":"gone"}"#);
        assert!(matches!(e, Error::TicketGone { .. }), "{e:?}");
        assert_eq!(e.code(), Some("queue_ticket_gone"));
        let e = final_error(400, "<html>");
        assert_eq!(e.code(), Some("http_400"));
    }

    #[test]
    fn server_errors_and_rate_limits_are_retried_with_their_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, reqwest::header::HeaderValue::from_static("7"));
        let attempt = decode(StatusCode::SERVICE_UNAVAILABLE, &headers, b"{}");
        assert!(matches!(
            attempt,
            Attempt::Transient { retry_after: Some(d), .. } if d == Duration::from_secs(7)
        ));
        assert!(matches!(
            decode(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), b""),
            Attempt::Transient { .. }
        ));
    }
}
