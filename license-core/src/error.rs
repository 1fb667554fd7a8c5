//! The one error type of the domain. One variant per way a caller reacts; each has a stable
//! machine-readable [`Error::code`] that the HTTP layer puts in its error body.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::quota::Quota;
use crate::seat_policy::SeatLimit;
use crate::token::TokenError;

/// Result alias used throughout the crate and by every port.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a lookup did not find. A record of another tenant is reported exactly like a missing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// A tenant.
    Tenant,
    /// A license (by id or by key).
    License,
    /// A session.
    Session,
    /// An API key.
    ApiKey,
    /// A webhook endpoint.
    Webhook,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::Tenant => "tenant",
            Resource::License => "license",
            Resource::Session => "session",
            Resource::ApiKey => "api key",
            Resource::Webhook => "webhook",
        })
    }
}

/// Why a license cannot hand out seats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InactiveReason {
    /// Suspended by the vendor; may be reinstated.
    Suspended,
    /// Revoked for good.
    Revoked,
    /// Past its `expires_at`.
    Expired,
}

/// A backing service the use cases depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependency {
    /// The durable store (PostgreSQL, SQLite).
    Store,
    /// The seat ledger (Redis, in-memory).
    Ledger,
    /// The token signer (Cloud KMS, local key).
    Signer,
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dependency::Store => "store",
            Dependency::Ledger => "ledger",
            Dependency::Signer => "signer",
        })
    }
}

/// Everything that can go wrong in a use case or a port.
///
/// ```
/// use license_core::{Error, Resource};
/// let e = Error::NotFound(Resource::License);
/// assert_eq!(e.code(), "license_not_found");
/// assert!(!e.is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record does not exist, or belongs to another tenant.
    #[error("{0} not found")]
    NotFound(Resource),
    /// No seat may be granted: every seat of the license is taken, or (`reached` says which)
    /// a limit of its policy (ADR 0026).
    #[error("no seats available: {}", no_seat_text(*.limit, *.reached))]
    NoSeatsAvailable {
        /// Seats the license allows, overdraft included.
        limit: u32,
        /// Which limit refused the seat.
        reached: SeatLimit,
    },
    /// The license's policy excludes the requester (an `exclude` rule, or not in an
    /// `include`d group). Nothing changed.
    #[error("excluded: {0}")]
    Excluded(String),
    /// The license exists but cannot grant or keep seats.
    #[error("license is {}", match .0 { InactiveReason::Suspended => "suspended", InactiveReason::Revoked => "revoked", InactiveReason::Expired => "expired" })]
    LicenseInactive(InactiveReason),
    /// The session's seat was reclaimed (TTL passed, released, or revoked): acquire again.
    #[error("session expired: acquire a new seat")]
    SessionExpired,
    /// An administrator evicted the session: stop, and do not acquire again before any
    /// hold-off ends.
    #[error("evicted by an administrator: {reason}")]
    SessionEvicted {
        /// Why, as the administrator said it.
        reason: String,
        /// When the hold-off ends (`None`: no hold-off).
        until: Option<DateTime<Utc>>,
    },
    /// The machine or person is held off after an eviction until `until`. Nothing changed.
    #[error("evicted by an administrator until {until}: {reason}")]
    HeldOff {
        /// Why, as the administrator said it.
        reason: String,
        /// When the hold-off ends.
        until: DateTime<Utc>,
    },
    /// A poll of a queue ticket that is gone: its wait ended, it was not polled in time, or it
    /// left (ADR 0029). Acquire again (with a wait) for a new place at the end.
    #[error("queue ticket gone: its wait ended or it was not polled in time")]
    TicketGone,
    /// A borrow, while the license's most borrowed seats are out. Nothing changed.
    #[error("borrow limit reached: all {limit} seats this license may lend are borrowed")]
    BorrowLimitReached {
        /// Most seats borrowed at once.
        limit: u32,
    },
    /// The change clashes with existing data (a duplicate key, say).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The change would take the tenant past one of its quotas (set by the operator).
    /// Nothing was changed.
    #[error("quota exceeded: a tenant may have at most {limit} {quota}")]
    QuotaExceeded {
        /// Which quota.
        quota: Quota,
        /// Its limit.
        limit: u64,
    },
    /// Input failed validation. Nothing was changed.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The offending field, as the caller named it.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A lease token failed verification.
    #[error("invalid token: {0}")]
    InvalidToken(#[from] TokenError),
    /// A dependency did not answer; the caller may retry. Nothing was lost.
    #[error("{dependency} unavailable: {reason}")]
    Unavailable {
        /// Which dependency failed.
        dependency: Dependency,
        /// The cause, for logs (never shown to clients).
        reason: String,
    },
    /// A bug or broken invariant; the cause is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Unavailable`].
    pub fn unavailable(dependency: Dependency, reason: impl fmt::Display) -> Self {
        Error::Unavailable {
            dependency,
            reason: reason.to_string(),
        }
    }

    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(Resource::Tenant) => "tenant_not_found",
            Error::NotFound(Resource::License) => "license_not_found",
            Error::NotFound(Resource::Session) => "session_not_found",
            Error::NotFound(Resource::ApiKey) => "api_key_not_found",
            Error::NotFound(Resource::Webhook) => "webhook_not_found",
            Error::NoSeatsAvailable { .. } => "no_seats_available",
            Error::Excluded(_) => "excluded",
            Error::LicenseInactive(InactiveReason::Suspended) => "license_suspended",
            Error::LicenseInactive(InactiveReason::Revoked) => "license_revoked",
            Error::LicenseInactive(InactiveReason::Expired) => "license_expired",
            Error::SessionExpired => "session_expired",
            // One code for both: the client stops either way; the status tells which.
            Error::SessionEvicted { .. } | Error::HeldOff { .. } => "evicted",
            Error::TicketGone => "queue_ticket_gone",
            Error::BorrowLimitReached { .. } => "borrow_limit_reached",
            Error::Conflict(_) => "conflict",
            Error::QuotaExceeded { .. } => "quota_exceeded",
            Error::InvalidInput { .. } => "invalid_input",
            Error::InvalidToken(_) => "invalid_token",
            Error::Unavailable { .. } => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }

    /// The variant without its data: what a use case declares in its `ERRORS` list.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::NoSeatsAvailable { .. } => ErrorKind::NoSeatsAvailable,
            Error::Excluded(_) => ErrorKind::Excluded,
            Error::LicenseInactive(_) => ErrorKind::LicenseInactive,
            Error::SessionExpired => ErrorKind::SessionExpired,
            Error::TicketGone => ErrorKind::TicketGone,
            Error::SessionEvicted { .. } => ErrorKind::SessionEvicted,
            Error::HeldOff { .. } => ErrorKind::HeldOff,
            Error::BorrowLimitReached { .. } => ErrorKind::BorrowLimitReached,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::QuotaExceeded { .. } => ErrorKind::QuotaExceeded,
            Error::InvalidInput { .. } => ErrorKind::InvalidInput,
            Error::InvalidToken(_) => ErrorKind::InvalidToken,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }
}

fn no_seat_text(limit: u32, reached: SeatLimit) -> String {
    match reached {
        SeatLimit::Seats => format!("all {limit} seats of this license are in use"),
        SeatLimit::GroupMax => "a group you belong to holds all the seats it may".into(),
        SeatLimit::UserMax => "you hold all the seats you may".into(),
        SeatLimit::HostMax => "this host holds all the seats it may".into(),
        SeatLimit::ProcessesPerHost => {
            "this machine runs the most processes the license allows".into()
        }
        SeatLimit::ReservedForOthers => "the free seats are reserved for other groups".into(),
        SeatLimit::Queued => "clients waiting in the license's queue come first".into(),
        SeatLimit::QueueFull => "the license's queue holds all the clients it may".into(),
    }
}

/// The variants of [`Error`] without their data. Each use case module lists the kinds it can
/// return (`acquire::ERRORS`, `heartbeat::ERRORS`, …) so the HTTP layer can prove, in a test,
/// that every one of them has a status its operation declares.
///
/// ```
/// use license_core::{Error, ErrorKind};
/// assert_eq!(Error::SessionExpired.kind(), ErrorKind::SessionExpired);
/// assert!(ErrorKind::ALL.contains(&ErrorKind::Conflict));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// [`Error::NotFound`].
    NotFound,
    /// [`Error::NoSeatsAvailable`].
    NoSeatsAvailable,
    /// [`Error::Excluded`].
    Excluded,
    /// [`Error::LicenseInactive`].
    LicenseInactive,
    /// [`Error::SessionExpired`].
    SessionExpired,
    /// [`Error::TicketGone`].
    TicketGone,
    /// [`Error::SessionEvicted`].
    SessionEvicted,
    /// [`Error::HeldOff`].
    HeldOff,
    /// [`Error::BorrowLimitReached`].
    BorrowLimitReached,
    /// [`Error::Conflict`].
    Conflict,
    /// [`Error::QuotaExceeded`].
    QuotaExceeded,
    /// [`Error::InvalidInput`].
    InvalidInput,
    /// [`Error::InvalidToken`].
    InvalidToken,
    /// [`Error::Unavailable`].
    Unavailable,
    /// [`Error::Internal`].
    Internal,
}

impl ErrorKind {
    /// Every kind, for exhaustive checks.
    pub const ALL: [ErrorKind; 15] = [
        ErrorKind::NotFound,
        ErrorKind::NoSeatsAvailable,
        ErrorKind::Excluded,
        ErrorKind::LicenseInactive,
        ErrorKind::SessionExpired,
        ErrorKind::TicketGone,
        ErrorKind::SessionEvicted,
        ErrorKind::HeldOff,
        ErrorKind::BorrowLimitReached,
        ErrorKind::Conflict,
        ErrorKind::QuotaExceeded,
        ErrorKind::InvalidInput,
        ErrorKind::InvalidToken,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
    ];

    /// What any call through a port can meet: the store, ledger or signer is down
    /// (`Unavailable`) or answers something impossible (`Internal`).
    pub const ANY_PORT_CALL: [ErrorKind; 2] = [ErrorKind::Unavailable, ErrorKind::Internal];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let all = [
            Error::NotFound(Resource::Tenant),
            Error::NotFound(Resource::License),
            Error::NotFound(Resource::Session),
            Error::NotFound(Resource::ApiKey),
            Error::NotFound(Resource::Webhook),
            Error::NoSeatsAvailable {
                limit: 1,
                reached: crate::SeatLimit::Seats,
            },
            Error::Excluded("x".into()),
            Error::LicenseInactive(InactiveReason::Suspended),
            Error::LicenseInactive(InactiveReason::Revoked),
            Error::LicenseInactive(InactiveReason::Expired),
            Error::SessionExpired,
            Error::TicketGone,
            Error::SessionEvicted {
                reason: "x".into(),
                until: None,
            },
            Error::BorrowLimitReached { limit: 1 },
            Error::Conflict("x".into()),
            Error::QuotaExceeded {
                quota: Quota::Seats,
                limit: 1,
            },
            Error::invalid("x", "y"),
            Error::InvalidToken(TokenError::Expired),
            Error::unavailable(Dependency::Store, "down"),
            Error::Internal("x".into()),
        ];
        let mut codes: Vec<_> = all.iter().map(Error::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
