//! The only place that turns errors into HTTP statuses and stable codes: domain errors
//! ([`license_core::Error`]), authentication failures, and everything the framework rejects
//! before a handler runs (malformed JSON, unknown fields, oversized bodies, unknown routes).
//! Every 4xx and 5xx body has one shape, `ErrorBody`; a 5xx body never carries the cause,
//! which is logged instead.
//!
//! | error | status | code |
//! |---|---|---|
//! | `InvalidInput`, malformed body, bad parameter | 400 | `invalid_input` |
//! | `InvalidToken` (validate) | 400 | `invalid_token` |
//! | missing / bad credentials | 401 | `unauthenticated` |
//! | `NoSeatsAvailable` | 402 | `no_seats_available` (+ `limit_reached`: `seats`, `group_max`, `user_max`, `host_max`, `processes_per_host`, `reserved_for_others`) |
//! | `BorrowLimitReached` (borrow) | 402 | `borrow_limit_reached` |
//! | wrong scope, operator-only route | 403 | `forbidden` |
//! | `Excluded` (acquire, borrow: the license's policy excludes the requester) | 403 | `excluded` |
//! | `HeldOff` (acquire, borrow: the machine or person is held off after an eviction) | 403 | `evicted` (+ `reason`, `until`, `Retry-After`) |
//! | `LicenseInactive` | 403 | `license_suspended` / `license_revoked` / `license_expired` |
//! | `QuotaExceeded` | 403 | `quota_exceeded` (+ `quota`: `licenses`, `api_keys`, `seats`) |
//! | `NotFound` (also another tenant's id, or a session the caller does not hold) | 404 | `*_not_found` |
//! | `Conflict` (also acquire of a machine whose seat is another user's session) | 409 | `conflict` |
//! | body not in within `server.body_read_timeout_seconds` | 408 | `request_timeout` |
//! | `SessionExpired` | 410 | `session_expired` |
//! | `TicketGone` | 410 | `queue_ticket_gone` |
//! | `SessionEvicted` (heartbeat of an evicted session) | 410 | `evicted` (+ `reason`; `until` and `Retry-After` while a hold-off lasts) |
//! | body over the limit | 413 | `payload_too_large` |
//! | too many requests or failures from one client (`limits`, ADR 0021) | 429 | `rate_limited` (+ `Retry-After`) |
//! | `Unavailable` | 503 | `unavailable` (+ `dependency`) |
//! | `Internal`, anything unexpected | 500 | `internal` |
//!
//! A 400 the framework gives (a value of the wrong type, out of a field's declared range, an
//! unknown field) names the field in `field` too: poem-openapi says which in its message
//! (`field \`x\``, `parameter \`x\``), and [`framework_error_response`] copies it out.
//!
//! `Retry-After` is an operation's declared header on 403, 410 (eviction) and 429.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use license_core::{Dependency, Error, Quota, SeatLimit};
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OperationId};
use tracing::{debug, error, warn};

/// The body of every error response.
#[derive(Object, Clone, Debug, PartialEq, Eq)]
#[oai(skip_serializing_if_is_none)]
pub struct ErrorBody {
    /// Stable machine-readable code (`no_seats_available`, `session_expired`, …).
    pub code: String,
    /// What went wrong, for people. Never an internal cause.
    pub message: String,
    /// The input at fault, for `invalid_input`.
    pub field: Option<String>,
    /// The dependency that failed (`store`, `ledger`, `signer`), for `unavailable`.
    pub dependency: Option<String>,
    // The quota the change would pass, for `quota_exceeded` (plain comment: keeps a bare
    // $ref for generators).
    pub quota: Option<QuotaName>,
    // For `no_seats_available`: which limit refused the seat (plain comment: keeps a bare
    // $ref for generators).
    pub limit_reached: Option<LimitReached>,
    /// Why an administrator evicted the session, as they said it, for `evicted`.
    pub reason: Option<String>,
    /// For `evicted`: when the hold-off ends (the machine and person may acquire again from
    /// then on; `Retry-After` says the same in seconds). Absent: no hold-off.
    pub until: Option<DateTime<Utc>>,
}

/// A tenant quota, as named in an error body.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum QuotaName {
    /// Licenses (revoked ones included).
    Licenses,
    /// API keys that are not revoked.
    ApiKeys,
    /// Seats plus overdraft over licenses that are not revoked.
    Seats,
}

impl From<Quota> for QuotaName {
    fn from(quota: Quota) -> Self {
        match quota {
            Quota::Licenses => QuotaName::Licenses,
            Quota::ApiKeys => QuotaName::ApiKeys,
            Quota::Seats => QuotaName::Seats,
        }
    }
}

/// Which limit refused a seat (`no_seats_available`).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum LimitReached {
    /// Every seat (plus overdraft) is in use.
    Seats,
    /// A `max` rule on a group the requester belongs to.
    GroupMax,
    /// A `max` rule on the requester (user).
    UserMax,
    /// A `max` rule on the requester's host.
    HostMax,
    /// The license's `max_processes_per_host` (per-process leasing).
    ProcessesPerHost,
    /// The free seats are reserved for groups the requester is not in.
    ReservedForOthers,
    /// A seat is free, but clients waiting in the license's queue come first.
    Queued,
    /// No seat, and the license's queue holds all the clients it may: no wait.
    QueueFull,
}

impl From<SeatLimit> for LimitReached {
    fn from(limit: SeatLimit) -> Self {
        match limit {
            SeatLimit::Seats => LimitReached::Seats,
            SeatLimit::GroupMax => LimitReached::GroupMax,
            SeatLimit::UserMax => LimitReached::UserMax,
            SeatLimit::HostMax => LimitReached::HostMax,
            SeatLimit::ProcessesPerHost => LimitReached::ProcessesPerHost,
            SeatLimit::ReservedForOthers => LimitReached::ReservedForOthers,
            SeatLimit::Queued => LimitReached::Queued,
            SeatLimit::QueueFull => LimitReached::QueueFull,
        }
    }
}

/// A status and an error body, before it becomes an operation's error response.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body (boxed: an `ApiError` travels in every handler's `Result`).
    pub body: Box<ErrorBody>,
    /// Seconds for the `Retry-After` header (429; 403 and 410 `evicted` with a hold-off).
    pub retry_after: Option<u64>,
}

/// The `Retry-After` header an error response may carry (seconds).
pub type RetryAfter = Option<u64>;

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: Box::new(ErrorBody {
                code: code.to_owned(),
                message: message.into(),
                field: None,
                dependency: None,
                quota: None,
                limit_reached: None,
                reason: None,
                until: None,
            }),
            retry_after: None,
        }
    }

    /// 401: no credential, or one that is not valid. Says nothing about which check failed.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "missing or invalid credentials",
        )
    }

    /// 403: a valid credential that may not call this route.
    pub fn forbidden(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 400: invalid input in `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_input", message);
        e.body.field = Some(field.to_owned());
        e
    }

    /// 429: this client address or credential spent a request or failure budget; the
    /// response carries `Retry-After: seconds` (set by the caller, `limits`).
    pub fn rate_limited(seconds: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests or failures from this client; retry in {seconds} s"),
        );
        e.retry_after = Some(seconds);
        e
    }

    /// 503: a dependency outside the three ports (the identity provider) did not answer.
    pub fn unavailable(dependency: &str, cause: &dyn std::fmt::Display) -> Self {
        warn!(dependency, error = %cause, "dependency unavailable");
        Self::retry_later(dependency)
    }

    /// 503 naming `dependency`, without logging (the caller logs, or has reasons not to).
    pub fn retry_later(dependency: &str) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("{dependency} unavailable; retry later"),
        );
        e.body.dependency = Some(dependency.to_owned());
        e
    }

    /// 408: the request body did not arrive in time (the connection closes after it).
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time",
        )
    }

    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; it has been logged",
        )
    }

    /// The response (with `Retry-After` when it has one).
    pub fn into_response(self) -> Response {
        let mut response = Json(*self.body).into_response();
        response.set_status(self.status);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }

    /// `e` as the client sees it at `now` (the server's clock): a hold-off's `Retry-After`
    /// counts from then. [`From<Error>`](#impl-From<Error>-for-ApiError) reads the system
    /// clock instead; the client routes pass their own.
    pub fn at(e: Error, now: DateTime<Utc>) -> Self {
        let code = e.code();
        match e {
            Error::HeldOff { ref reason, until } => {
                let mut api = Self::new(StatusCode::FORBIDDEN, code, e.to_string());
                api.evicted(reason, Some(until), now);
                api
            }
            Error::SessionEvicted { ref reason, until } => {
                let mut api = Self::new(StatusCode::GONE, code, e.to_string());
                api.evicted(reason, until, now);
                api
            }
            other => Self::from(other),
        }
    }

    /// The eviction's reason and hold-off in the body, and the seconds left as `Retry-After`
    /// (rounded up, at least 1).
    fn evicted(&mut self, reason: &str, until: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        self.body.reason = Some(reason.to_owned());
        self.body.until = until;
        self.retry_after = until.map(|until| seconds_until(until, now));
    }

    /// As a framework error that renders as this response unchanged (for security checkers).
    pub fn into_poem(self) -> poem::Error {
        poem::Error::from_response(self.into_response())
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        match e {
            Error::InvalidInput { field, .. } => {
                let mut api = Self::new(StatusCode::BAD_REQUEST, code, e.to_string());
                api.body.field = Some(field.to_owned());
                api
            }
            Error::InvalidToken(_) => Self::new(StatusCode::BAD_REQUEST, code, e.to_string()),
            Error::NoSeatsAvailable { reached, .. } => {
                let mut api = Self::new(StatusCode::PAYMENT_REQUIRED, code, e.to_string());
                api.body.limit_reached = Some(reached.into());
                api
            }
            Error::Excluded(_) => Self::new(StatusCode::FORBIDDEN, code, e.to_string()),
            Error::LicenseInactive(_) => Self::new(StatusCode::FORBIDDEN, code, e.to_string()),
            Error::QuotaExceeded { quota, .. } => {
                let mut api = Self::new(StatusCode::FORBIDDEN, code, e.to_string());
                api.body.quota = Some(quota.into());
                api
            }
            Error::NotFound(_) => Self::new(StatusCode::NOT_FOUND, code, e.to_string()),
            Error::Conflict(_) => Self::new(StatusCode::CONFLICT, code, e.to_string()),
            Error::SessionExpired | Error::TicketGone => {
                Self::new(StatusCode::GONE, code, e.to_string())
            }
            Error::SessionEvicted { .. } | Error::HeldOff { .. } => Self::at(e, Utc::now()),
            Error::BorrowLimitReached { .. } => {
                Self::new(StatusCode::PAYMENT_REQUIRED, code, e.to_string())
            }
            Error::Unavailable { dependency, reason } => {
                warn!(%dependency, reason, "dependency unavailable");
                let mut api = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    code,
                    format!("{dependency} unavailable; retry later"),
                );
                api.body.dependency = Some(dependency_name(dependency).to_owned());
                api
            }
            Error::Internal(cause) => {
                error!(cause, "internal error");
                Self::internal()
            }
        }
    }
}

/// Whole seconds from `now` to `until`, rounded up, at least 1 (a `Retry-After` of 0 would
/// invite a retry that is refused again).
fn seconds_until(until: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let millis = u64::try_from((until - now).num_milliseconds()).unwrap_or(0);
    millis.div_ceil(1000).max(1)
}

fn dependency_name(dependency: Dependency) -> &'static str {
    match dependency {
        Dependency::Store => "store",
        Dependency::Ledger => "ledger",
        Dependency::Signer => "signer",
    }
}

/// The statuses every operation declares: what the framework, the credential check or any
/// store, ledger or signer call can answer on any route, whatever its use case.
///
/// - 400: a malformed body or parameter (framework), an invalid value (`InvalidInput`), a bad
///   `X-Tenant-Id`, a lease token that fails verification (`InvalidToken`).
/// - 401: no credential or a bad one (the security scheme).
/// - 403: a credential of the wrong kind or scope; an inactive license (`LicenseInactive`); a
///   requester the license's policy excludes (`Excluded`); a
///   tenant quota the change would pass (`QuotaExceeded`).
/// - 404: a record missing or another tenant's (`NotFound`), also a tenant named in
///   `X-Tenant-Id` that does not exist.
/// - 408: a body that does not arrive within `server.body_read_timeout_seconds` (middleware).
/// - 409: a write that meets a unique constraint (`Conflict`), including the race of two
///   requests inserting the same row, which any writing call can meet.
/// - 413, 415: the body limit and the JSON payload (framework).
/// - 429: a request or failure budget of the client address or credential is spent
///   (`limits`), with `Retry-After`.
/// - 500: a bug (`Internal`), and the fallback for a status an operation does not declare.
/// - 503: a dependency that does not answer (`Unavailable`, the identity provider).
///
/// Not here: 402 (`NoSeatsAvailable`) and 410 (`SessionExpired`) come from one use case each,
/// so only their operations list them as extras; 405 is answered by the router before any
/// operation is chosen.
pub const BASE_STATUSES: [u16; 11] = [400, 401, 403, 404, 408, 409, 413, 415, 429, 500, 503];

/// Whether `status` is one of [`BASE_STATUSES`] (a `const fn`, so `error_response!` can
/// refuse an extra that repeats one at compile time).
pub const fn is_base_status(status: u16) -> bool {
    let mut i = 0;
    while i < BASE_STATUSES.len() {
        if BASE_STATUSES[i] == status {
            return true;
        }
        i += 1;
    }
    false
}

/// Declares an operation's error response: the [`BASE_STATUSES`] every operation shares, plus
/// the `extras` only its use case produces, each with an `ErrorBody`, so the statuses appear
/// in the OpenAPI document (an extra's doc comment is its description there). A status the
/// enum does not declare becomes its `Internal` (500) variant and is logged: the document
/// never lies.
///
/// ```ignore
/// error_response! {
///     /// Why no seat was granted.
///     pub enum AcquireError extras {
///         /// Every seat is in use (`no_seats_available`).
///         NoSeats = 402,
///     }
/// }
/// ```
macro_rules! error_response {
    (
        $(#[$meta:meta])*
        pub enum $name:ident extras {
            $( $(#[$vmeta:meta])* $variant:ident = $status:literal $( ($header:ty) )? ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(poem_openapi::ApiResponse, Debug)]
        pub enum $name {
            /// Malformed body or parameter, or an invalid value (`invalid_input`, naming the
            /// `field`; `invalid_token` for a lease token that fails verification). Nothing
            /// was changed.
            #[oai(status = 400)]
            BadRequest(poem_openapi::payload::Json<$crate::api::error::ErrorBody>),
            /// Missing or invalid credentials (`unauthenticated`).
            #[oai(status = 401)]
            Unauthorized(poem_openapi::payload::Json<$crate::api::error::ErrorBody>),
            /// The credential may not call this route (`forbidden`: wrong scope, operator
            /// only), the license is suspended, revoked or expired (`license_suspended`,
            /// `license_revoked`, `license_expired`), the change would pass one of the
            /// tenant's quotas (`quota_exceeded`, naming it in `quota`; nothing was changed),
            /// (acquire, borrow) the license's seat policy excludes the requester (`excluded`;
            /// retrying does not help), or (acquire, borrow) an administrator evicted this machine or person and the
            /// hold-off lasts until `until` (`evicted`, with the `reason`; `Retry-After` gives
            /// the seconds left): stop, tell the user, do not retry before then.
            #[oai(status = 403)]
            Forbidden(
                poem_openapi::payload::Json<$crate::api::error::ErrorBody>,
                /// Seconds until the hold-off ends (`evicted` only).
                #[oai(header = "Retry-After")]
                $crate::api::error::RetryAfter,
            ),
            /// No such record for this tenant (`*_not_found`); another tenant's id, or a
            /// session the caller does not hold (another user's, or without its
            /// `session_secret`), answers the same.
            #[oai(status = 404)]
            NotFound(poem_openapi::payload::Json<$crate::api::error::ErrorBody>),
            /// The body did not arrive within the server's read timeout
            /// (`request_timeout`); the connection is closed. Nothing was changed.
            #[oai(status = 408)]
            RequestTimeout(poem_openapi::payload::Json<$crate::api::error::ErrorBody>),
            /// The change clashes with existing data (on acquire: the machine's seat is
            /// another user's session), or with a concurrent request that made it first
            /// (`conflict`).
            #[oai(status = 409)]
            Conflict(poem_openapi::payload::Json<$crate::api::error::ErrorBody>),
            /// The body is larger than the limit (`payload_too_large`).
            #[oai(status = 413)]
            PayloadTooLarge(poem_openapi::payload::Json<$crate::api::error::ErrorBody>),
            /// The body is not `application/json` (`unsupported_media_type`).
            #[oai(status = 415)]
            UnsupportedMediaType(poem_openapi::payload::Json<$crate::api::error::ErrorBody>),
            /// Too many requests, or too many failures (401, 404 of a client route), from this
            /// client address or credential (`rate_limited`): retry after the seconds in the
            /// `Retry-After` header. Nothing was done.
            #[oai(status = 429)]
            TooManyRequests(
                poem_openapi::payload::Json<$crate::api::error::ErrorBody>,
                /// Seconds to wait before the next request.
                #[oai(header = "Retry-After")]
                $crate::api::error::RetryAfter,
            ),
            $(
                $(#[$vmeta])*
                #[oai(status = $status)]
                $variant(
                    poem_openapi::payload::Json<$crate::api::error::ErrorBody>
                    $(,
                        /// Seconds until the hold-off ends (`evicted` with a hold-off only).
                        #[oai(header = "Retry-After")]
                        $header
                    )?
                ),
            )*
            /// A bug (`internal`); it has been logged.
            #[oai(status = 500)]
            Internal(poem_openapi::payload::Json<$crate::api::error::ErrorBody>),
            /// A dependency did not answer (`unavailable`; `dependency` names it); retry later.
            #[oai(status = 503)]
            Unavailable(poem_openapi::payload::Json<$crate::api::error::ErrorBody>),
        }

        // An extra that repeats a base status would be declared twice.
        $(
            const _: () = assert!(
                !$crate::api::error::is_base_status($status),
                concat!(stringify!($name), "::", stringify!($variant), " repeats a base status"),
            );
        )*

        impl From<$crate::api::error::ApiError> for $name {
            fn from(e: $crate::api::error::ApiError) -> Self {
                let retry_after = e.retry_after;
                let body = poem_openapi::payload::Json(*e.body);
                match e.status.as_u16() {
                    400 => Self::BadRequest(body),
                    401 => Self::Unauthorized(body),
                    403 => Self::Forbidden(body, retry_after),
                    404 => Self::NotFound(body),
                    408 => Self::RequestTimeout(body),
                    409 => Self::Conflict(body),
                    413 => Self::PayloadTooLarge(body),
                    415 => Self::UnsupportedMediaType(body),
                    429 => Self::TooManyRequests(body, retry_after),
                    500 => Self::Internal(body),
                    503 => Self::Unavailable(body),
                    $( $status => Self::$variant(body $(, <$header>::from(retry_after))?), )*
                    other => {
                        tracing::error!(status = other, code = %body.code, "error status not declared for this operation");
                        Self::Internal(poem_openapi::payload::Json($crate::api::error::internal_body()))
                    }
                }
            }
        }

        impl From<license_core::Error> for $name {
            fn from(e: license_core::Error) -> Self {
                $crate::api::error::ApiError::from(e).into()
            }
        }
    };
}
pub(crate) use error_response;

/// The body of a 500.
pub fn internal_body() -> ErrorBody {
    *ApiError::internal().body
}

error_response! {
    /// Errors of the admin routes.
    pub enum AdminError extras {}
}

/// The response to a handler that panicked: a logged 500 with the shared shape.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    error!(panic = what, "a request handler panicked");
    ApiError::internal().into_response()
}

/// Renders every error that reaches the edge of the app with the shared shape: errors from
/// handlers pass through unchanged, framework errors (parse failures, unknown routes, size
/// limits) get a code by status. The operation id survives for the metrics.
pub async fn shape_errors<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    match next.call(req).await {
        Ok(output) => Ok(output.into_response()),
        Err(err) => Ok(framework_error_response(err)),
    }
}

fn framework_error_response(err: poem::Error) -> Response {
    let operation = err.data::<OperationId>().copied();
    let mut response = if err.is_from_response() {
        err.into_response()
    } else {
        let status = err.status();
        let api = match status {
            StatusCode::BAD_REQUEST => {
                let message = err.to_string();
                let mut api = ApiError::new(status, "invalid_input", &message);
                api.body.field = named_input(&message).map(str::to_owned);
                api
            }
            StatusCode::UNAUTHORIZED => ApiError::unauthenticated(),
            StatusCode::NOT_FOUND => ApiError::new(status, "not_found", "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
                status,
                "method_not_allowed",
                "method not allowed on this route",
            ),
            StatusCode::REQUEST_TIMEOUT => ApiError::request_timeout(),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                status,
                "payload_too_large",
                "the request body is larger than the limit",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
                status,
                "unsupported_media_type",
                "send the body as application/json",
            ),
            s if s.is_client_error() => ApiError::new(s, "bad_request", err.to_string()),
            _ => {
                error!(error = %err, status = status.as_u16(), "request failed");
                ApiError::internal()
            }
        };
        debug!(status = status.as_u16(), error = %err, "request rejected");
        api.into_response()
    };
    if let Some(operation) = operation {
        response.set_data(operation);
    }
    response
}

/// The field or parameter a poem-openapi parse error names: its validators say
/// ``field `x` verification failed``, an unknown field ``unknown field `x` ``, a parameter
/// ``failed to parse parameter `x` ``. `None` when it names none (a value of the wrong JSON
/// type inside an object).
fn named_input(message: &str) -> Option<&str> {
    ["field `", "parameter `"].iter().find_map(|marker| {
        let start = message.find(marker)? + marker.len();
        let name = &message[start..][..message[start..].find('`')?];
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        plain.then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use license_core::{InactiveReason, Resource};

    use super::*;

    #[test]
    fn domain_errors_map_to_the_documented_statuses() {
        let cases = [
            (Error::invalid("hardware_id", "bad"), 400, "invalid_input"),
            (
                Error::NoSeatsAvailable {
                    limit: 2,
                    reached: license_core::SeatLimit::Seats,
                },
                402,
                "no_seats_available",
            ),
            (
                Error::LicenseInactive(InactiveReason::Revoked),
                403,
                "license_revoked",
            ),
            (Error::NotFound(Resource::Session), 404, "session_not_found"),
            (Error::Conflict("dup".into()), 409, "conflict"),
            (
                Error::QuotaExceeded {
                    quota: Quota::Seats,
                    limit: 10,
                },
                403,
                "quota_exceeded",
            ),
            (Error::SessionExpired, 410, "session_expired"),
            (
                Error::unavailable(Dependency::Ledger, "redis://secret@host refused"),
                503,
                "unavailable",
            ),
            (
                Error::Internal("db row 7 is broken".into()),
                500,
                "internal",
            ),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!(api.status.as_u16(), status, "{code}");
            assert_eq!(api.body.code, code);
        }
    }

    #[test]
    fn server_errors_never_carry_the_cause() {
        let api = ApiError::from(Error::unavailable(
            Dependency::Ledger,
            "redis://secret@host",
        ));
        assert_eq!(api.body.dependency.as_deref(), Some("ledger"));
        assert!(!api.body.message.contains("secret"));
        let api = ApiError::from(Error::Internal("db row 7 is broken".into()));
        assert!(!api.body.message.contains("row 7"));
    }

    #[test]
    fn a_quota_error_names_its_quota_and_limit() {
        let api = ApiError::from(Error::QuotaExceeded {
            quota: Quota::ApiKeys,
            limit: 100,
        });
        assert_eq!(api.body.quota, Some(QuotaName::ApiKeys));
        assert!(api.body.message.contains("100"), "{}", api.body.message);
        assert_eq!(api.body.field, None);
    }

    #[test]
    fn framework_parse_errors_name_the_field_or_parameter() {
        let cases = [
            (
                "parse request payload error: failed to parse \"BorrowRequest\": field \
                 `borrow_seconds` verification failed. maximum(1209600, exclusive: false)",
                Some("borrow_seconds"),
            ),
            (
                "parse request payload error: failed to parse \"AcquireRequest\": unknown \
                 field `extra`.",
                Some("extra"),
            ),
            (
                "failed to parse parameter `hold_off_seconds`: failed to parse \
                 \"integer(uint32)\": invalid digit found in string",
                Some("hold_off_seconds"),
            ),
            (
                "parse request payload error: failed to parse \"integer(uint32)\": bad",
                None,
            ),
            ("field `a b` verification failed", None),
        ];
        for (message, field) in cases {
            assert_eq!(named_input(message), field, "{message}");
        }
    }

    #[test]
    fn evictions_are_403_and_410_with_the_reason_the_end_and_retry_after() {
        let now = chrono::Utc::now();
        let until = now + chrono::TimeDelta::milliseconds(90_500);
        let held = ApiError::at(
            Error::HeldOff {
                reason: "licence audit".into(),
                until,
            },
            now,
        );
        assert_eq!(held.status.as_u16(), 403);
        assert_eq!(held.body.code, "evicted");
        assert_eq!(held.body.reason.as_deref(), Some("licence audit"));
        assert_eq!(held.body.until, Some(until));
        assert_eq!(held.retry_after, Some(91), "rounded up");
        let response = held.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "91");

        let gone = ApiError::at(
            Error::SessionEvicted {
                reason: "closed".into(),
                until: None,
            },
            now,
        );
        assert_eq!(gone.status.as_u16(), 410);
        assert_eq!(gone.body.code, "evicted");
        assert_eq!(gone.body.reason.as_deref(), Some("closed"));
        assert_eq!((gone.body.until, gone.retry_after), (None, None));

        // A hold-off that ends now still says to wait a second, never 0.
        let ending = ApiError::at(
            Error::SessionEvicted {
                reason: "closed".into(),
                until: Some(now),
            },
            now,
        );
        assert_eq!(ending.retry_after, Some(1));

        let limit = ApiError::from(Error::BorrowLimitReached { limit: 2 });
        assert_eq!(limit.status.as_u16(), 402);
        assert_eq!(limit.body.code, "borrow_limit_reached");
    }

    #[test]
    fn retry_after_reaches_the_operation_response() {
        use crate::api::leases::{AcquireError, HeartbeatError};
        let now = chrono::Utc::now();
        let held = Error::HeldOff {
            reason: "audit".into(),
            until: now + chrono::TimeDelta::seconds(60),
        };
        let AcquireError::Forbidden(body, Some(seconds)) = ApiError::at(held, now).into() else {
            panic!("a hold-off is a 403 with Retry-After");
        };
        assert_eq!((body.code.as_str(), seconds), ("evicted", 60));
        let evicted = Error::SessionEvicted {
            reason: "audit".into(),
            until: Some(now + chrono::TimeDelta::seconds(5)),
        };
        assert!(matches!(
            HeartbeatError::from(ApiError::at(evicted, now)),
            HeartbeatError::Gone(_, Some(5))
        ));
        assert!(matches!(
            HeartbeatError::from(Error::SessionExpired),
            HeartbeatError::Gone(_, None)
        ));
    }

    #[test]
    fn undeclared_statuses_become_internal() {
        let e = AdminError::from(Error::NoSeatsAvailable {
            limit: 1,
            reached: license_core::SeatLimit::Seats,
        });
        assert!(matches!(e, AdminError::Internal(_)));
    }

    #[test]
    fn a_conflict_on_acquire_is_a_409_not_a_500() {
        use crate::api::leases::{AcquireError, HeartbeatError, ReleaseError};
        let conflict = || Error::Conflict("session id exists".into());
        assert!(matches!(
            AcquireError::from(conflict()),
            AcquireError::Conflict(_)
        ));
        assert!(matches!(
            HeartbeatError::from(conflict()),
            HeartbeatError::Conflict(_)
        ));
        assert!(matches!(
            ReleaseError::from(conflict()),
            ReleaseError::Conflict(_)
        ));
        assert!(matches!(
            AcquireError::from(Error::NoSeatsAvailable {
                limit: 1,
                reached: license_core::SeatLimit::Seats
            }),
            AcquireError::NoSeats(_)
        ));
    }
}
