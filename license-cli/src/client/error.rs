//! The client's typed error: the server's error body (`{code, message}`) decoded, or why no
//! answer came.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;

use super::TENANT_HEADER;
use crate::api::ErrorBody;
use crate::output::time;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{message} ({code})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The stable code (`no_seats_available`, `license_not_found`, …).
        code: String,
        /// The server's message.
        message: String,
    },
    /// An administrator evicted the session, or holds this machine or person off (403 or 410
    /// `evicted`): stop, and take no seat before `until`.
    #[error("{} (evicted)", evicted_message(.reason, .until.as_ref()))]
    Evicted {
        /// The HTTP status (403: held off on acquire or borrow; 410: the session's heartbeat).
        status: u16,
        /// Why, as the administrator said it.
        reason: String,
        /// When the hold-off ends; none: no hold-off.
        until: Option<DateTime<Utc>>,
    },
    /// No answer: connection refused, DNS, TLS or a timeout.
    #[error("cannot reach the server at {server}: {reason}")]
    Unreachable {
        /// The base URL.
        server: String,
        /// The innermost cause.
        reason: String,
    },
    /// An answer that is not what the route promises.
    #[error("unexpected answer from the server: {0}")]
    BadResponse(String),
    /// The server URL cannot be used.
    #[error("invalid server URL {url:?}: {reason}")]
    BadUrl {
        /// What was given.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// An id that cannot be one (ids are UUIDs); nothing was sent.
    #[error("invalid {kind} id {value:?}: expected a UUID")]
    InvalidId {
        /// What it should identify.
        kind: &'static str,
        /// What was given.
        value: String,
    },
    /// A route that needs a credential, and none was given.
    #[error("no credential: pass --token, set LICENSE_TOKEN or run `license login`")]
    NoToken,
}

impl ClientError {
    /// The server's error code, if the server answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            ClientError::Evicted { .. } => Some("evicted"),
            _ => None,
        }
    }
}

/// The client routes go through license-client (one implementation, no retries here: a
/// command is one request); its error in the CLI's terms.
impl From<license_client::Error> for ClientError {
    fn from(e: license_client::Error) -> Self {
        use license_client::Error as Seat;
        let api = |status: u16, code: String, message: String| ClientError::Api {
            status,
            code,
            message,
        };
        match e {
            Seat::NoSeats { code, message, .. } => api(402, code, message),
            Seat::TicketGone { message } => api(410, "queue_ticket_gone".into(), message),
            Seat::Evicted { reason, until } => ClientError::Evicted {
                // 403 on acquire or borrow, 410 on a heartbeat; the variant says which kind.
                status: 403,
                reason,
                until,
            },
            Seat::LicenseInvalid { code, message } => api(
                if code == "license_not_found" {
                    404
                } else {
                    403
                },
                code,
                message,
            ),
            Seat::SessionLost { code, message } => api(
                if code == "session_expired" { 410 } else { 404 },
                code,
                message,
            ),
            Seat::Unauthorized { code, message } => api(
                if code == "unauthenticated" { 401 } else { 403 },
                code,
                message,
            ),
            Seat::Rejected {
                status,
                code,
                message,
            } => api(status, code, message),
            Seat::ServerUnavailable {
                server,
                reason,
                status,
                code,
                ..
            } => match status {
                Some(status) => {
                    let code = code.unwrap_or_else(|| format!("http_{status}"));
                    let message = reason
                        .strip_suffix(&format!(" ({code})"))
                        .map_or_else(|| reason.clone(), str::to_owned);
                    api(status, code, message)
                }
                None => ClientError::Unreachable { server, reason },
            },
            Seat::BadUrl { url, reason } => ClientError::BadUrl { url, reason },
            other => ClientError::BadResponse(other.to_string()),
        }
    }
}

/// The error of a non-2xx answer: the shared error body if there is one, else the status.
pub(super) fn decode_error(status: StatusCode, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) if e.code == "evicted" => ClientError::Evicted {
            status: status.as_u16(),
            reason: e.reason.unwrap_or(e.message),
            until: e.until,
        },
        Ok(e) => ClientError::Api {
            status: status.as_u16(),
            code: e.code,
            message: match e.field {
                Some(field) if field.eq_ignore_ascii_case(TENANT_HEADER) => {
                    format!("{}; pass --as-tenant ID or set LICENSE_TENANT", e.message)
                }
                Some(field) if !e.message.contains(&field) => {
                    format!("{} (field {field})", e.message)
                }
                // A refusal by the policy says which limit (`group_max`, `reserved_for_others`,
                // …); "every seat is taken" needs no more words.
                _ => match e.limit_reached {
                    Some(limit) if limit != "seats" => {
                        format!("{} (limit reached: {limit})", e.message)
                    }
                    _ => e.message,
                },
            },
        },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            code: format!("http_{}", status.as_u16()),
            message: format!(
                "the server answered {}",
                status.canonical_reason().unwrap_or("an error")
            ),
        },
    }
}

/// "evicted by an administrator: REASON; no seat before TIME".
fn evicted_message(reason: &str, until: Option<&DateTime<Utc>>) -> String {
    match until {
        Some(until) => format!(
            "evicted by an administrator: {reason}; no seat before {}",
            time(until)
        ),
        None => format!("evicted by an administrator: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_keep_the_code_and_message() {
        let body = br#"{"code":"no_seats_available","message":"no seats available: all 1 seats of this license are in use"}"#;
        let limited = decode_error(
            StatusCode::PAYMENT_REQUIRED,
            br#"{"code":"no_seats_available","message":"no seats available: the free seats are reserved for other groups","limit_reached":"reserved_for_others"}"#,
        );
        assert!(
            limited
                .to_string()
                .contains("(limit reached: reserved_for_others)"),
            "{limited}"
        );
        let e = decode_error(StatusCode::PAYMENT_REQUIRED, body);
        assert_eq!(e.code(), Some("no_seats_available"));
        assert!(matches!(e, ClientError::Api { status: 402, .. }));
        assert_eq!(
            e.to_string(),
            "no seats available: all 1 seats of this license are in use (no_seats_available)"
        );
    }

    #[test]
    fn evictions_keep_the_reason_and_the_end_of_the_hold_off() {
        let body = br#"{"code":"evicted","message":"evicted by an administrator until 2026-11-26T10:00:00Z: licence audit","reason":"licence audit","until":"2026-11-26T10:00:00Z"}"#;
        let e = decode_error(StatusCode::FORBIDDEN, body);
        assert_eq!(e.code(), Some("evicted"));
        let ClientError::Evicted {
            status,
            reason,
            until,
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!((*status, reason.as_str()), (403, "licence audit"));
        assert_eq!(
            until.map(|u| u.to_rfc3339()).as_deref(),
            Some("2026-11-26T10:00:00+00:00")
        );
        assert_eq!(
            e.to_string(),
            "evicted by an administrator: licence audit; no seat before 2026-11-26T10:00:00Z (evicted)"
        );
        let gone = decode_error(
            StatusCode::GONE,
            br#"{"code":"evicted","message":"m","reason":"closed"}"#,
        );
        assert_eq!(
            gone.to_string(),
            "evicted by an administrator: closed (evicted)"
        );
    }

    #[test]
    fn bodies_without_the_shape_still_give_a_code() {
        let e = decode_error(StatusCode::BAD_GATEWAY, b"<html>");
        assert_eq!(e.code(), Some("http_502"));
    }
}
