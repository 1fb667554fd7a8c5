//! The client contract: acquire, heartbeat, release (and validate) a seat; borrow one for
//! offline work and return it early.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use license_core::{
    Acquired, Applicant, Caller, Error, HardwareId, HostName, LicenseKey, ProcessId, QueuePlace,
    SeatWait, SessionId, SessionSecret, UserEmail,
};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tracing::{Span, field};
use uuid::Uuid;

use super::ApiTags;
use super::error::{ApiError, RetryAfter, error_response};
use super::text::Text;
use super::whole::Whole;
use crate::auth::ClientAuth;
use crate::state::AppState;

/// Seats: the routes client applications call.
#[derive(Debug)]
pub struct LeasesApi;

/// A request for a seat.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct AcquireRequest {
    /// The license key the customer entered (8–64 of `A–Z a–z 0–9 - _`).
    #[oai(validator(min_length = 8, max_length = 64))]
    pub license_key: Text,
    /// A stable fingerprint of the machine (1–128 of `A–Z a–z 0–9 . _ : - / + =`). Acquire is
    /// idempotent per license and hardware id.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub hardware_id: Text,
    /// Who uses the application, for usage reports and seat policies: an e-mail address (no
    /// spaces, control, bidirectional or invisible formatting characters). Required by a
    /// license that leases per user, unless the caller signed in with an ID token.
    #[oai(validator(max_length = 254))]
    pub user_email: Option<Text>,
    /// The host's name as the client sees it (1–253 of `A–Z a–z 0–9 . - _`; matched
    /// case-insensitively by `host` members and `max` rules of the license's seat policy).
    /// What the client asserts: the server cannot check it.
    #[oai(validator(min_length = 1, max_length = 253))]
    pub host_name: Option<Text>,
    /// Which process asks (1–64 of `A–Z a–z 0–9 . - _ :`), e.g. its pid: required by a
    /// license that leases per process, where it keys the seat together with `hardware_id`.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub process_id: Option<Text>,
    /// Wait for a seat when none may be granted now, up to this many seconds (0–86,400; cut
    /// to the license's `max_wait_seconds`; a license without a queue refuses at once as
    /// without it). The answer is then 202 with a `queue_ticket`. Default 0: no wait.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub wait_seconds: Option<u32>,
    /// The `queue_ticket` of an earlier 202: this acquire polls it. Send the same request
    /// again with it every `poll_after_seconds` (and within `poll_within_seconds`, or the
    /// place is lost); when its turn comes the answer is the lease, whose `session_id` is the
    /// ticket.
    #[oai(validator(max_length = 64))]
    pub queue_ticket: Option<String>,
}

/// A place in a license's queue (ADR 0029).
#[derive(Object, Debug)]
pub struct QueuedResponse {
    /// Send it back as `queue_ticket` with the same acquire request to poll, or to
    /// `queue/leave` to stop waiting.
    pub queue_ticket: Uuid,
    /// 1 for the next in line (higher priorities first, then arrival).
    pub position: u32,
    /// When the wait ends: a poll after it answers 410 `queue_ticket_gone`.
    pub wait_until: DateTime<Utc>,
    /// Ask again after this many seconds.
    pub poll_after_seconds: u32,
    /// Ask again within this many seconds, or the place is given up.
    pub poll_within_seconds: u32,
}

impl From<QueuePlace> for QueuedResponse {
    fn from(place: QueuePlace) -> Self {
        let seconds = |d: std::time::Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        Self {
            queue_ticket: place.ticket.as_uuid(),
            position: place.position,
            wait_until: place.wait_until,
            poll_after_seconds: seconds(place.poll_after),
            poll_within_seconds: seconds(place.poll_within),
        }
    }
}

/// A `queue_ticket` as the client sent it (`invalid_input` naming it when it is none).
fn ticket(text: &str) -> Result<SessionId, Error> {
    Uuid::parse_str(text)
        .map(SessionId::from_uuid)
        .map_err(|_| Error::invalid("queue_ticket", "not a ticket this server gave"))
}

/// A client that stops waiting for a seat.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct LeaveQueueRequest {
    /// The license key the customer entered (8–64 of `A–Z a–z 0–9 - _`).
    #[oai(validator(min_length = 8, max_length = 64))]
    pub license_key: Text,
    /// The `queue_ticket` of the acquire's 202.
    #[oai(validator(max_length = 64))]
    pub queue_ticket: String,
}

/// The answer to leaving the queue.
#[derive(Object, Debug)]
pub struct LeaveQueueResponse {
    /// Whether the ticket was waiting (`false`: it had left, got its seat, or its wait ended).
    pub left: bool,
}

/// A client out of the queue.
#[derive(ApiResponse, Debug)]
pub enum LeaveQueueOk {
    /// The ticket waits no more. Leaving again answers `left: false`.
    #[oai(status = 200)]
    Ok(Json<LeaveQueueResponse>),
}

error_response! {
    /// Why the ticket did not leave.
    pub enum LeaveQueueError extras {}
}

/// A seat to borrow for offline work.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct BorrowRequest {
    /// The license key the customer entered (8–64 of `A–Z a–z 0–9 - _`).
    #[oai(validator(min_length = 8, max_length = 64))]
    pub license_key: Text,
    /// A stable fingerprint of the machine (1–128 of `A–Z a–z 0–9 . _ : - / + =`). Borrow is
    /// idempotent per license and hardware id: a retry returns the same borrow.
    #[oai(validator(min_length = 1, max_length = 128))]
    pub hardware_id: Text,
    /// Who uses the application, for usage reports, hold-offs and seat policies: an e-mail
    /// address (required by a per-user license unless the caller signed in).
    #[oai(validator(max_length = 254))]
    pub user_email: Option<Text>,
    /// The host's name as the client sees it (1–253 of `A–Z a–z 0–9 . - _`; matched
    /// case-insensitively by `host` members and `max` rules of the license's seat policy).
    /// What the client asserts: the server cannot check it.
    #[oai(validator(min_length = 1, max_length = 253))]
    pub host_name: Option<Text>,
    /// Which process asks (1–64 of `A–Z a–z 0–9 . - _ :`), e.g. its pid: required by a
    /// license that leases per process, where it keys the seat together with `hardware_id`.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub process_id: Option<Text>,
    /// How long to borrow the seat, in seconds: 1 to the license's `max_borrow_seconds` (at
    /// most 1,209,600, 14 days). The lease token is valid offline until then.
    #[oai(validator(minimum(value = "1"), maximum(value = "1209600")))]
    pub borrow_seconds: Whole,
}

/// A granted seat.
#[derive(Object, Debug)]
pub struct AcquireResponse {
    /// The session holding the seat; send it with heartbeat and release (or return).
    pub session_id: Uuid,
    /// The seat frees itself at this instant unless a heartbeat renews it; for a borrowed
    /// seat, the borrow's end (the lease token is valid offline until then).
    pub expires_at: DateTime<Utc>,
    /// Seconds to wait between heartbeats. A borrowed seat needs none: a heartbeat is then a
    /// check-in that keeps the end and tells whether an administrator revoked the seat.
    pub heartbeat_interval_seconds: u32,
    /// Borrowed for offline work until `expires_at` (token claim `brw`).
    pub borrowed: bool,
    /// Granted beyond the license's `seats_total`, into its overdraft: billable overage (token
    /// claim `ovd`).
    pub overdraft: bool,
    /// The signed lease token (compact JWS); verify it offline against `/.well-known/jwks.json`.
    pub token: String,
    /// Only when the license requires session secrets: send it with every heartbeat and release
    /// of this session. Shown once (a retried acquire for the same machine gets a new one, and
    /// the old one stops working); the server keeps only a hash.
    #[oai(skip_serializing_if_is_none)]
    pub session_secret: Option<String>,
}

/// A session to renew or release.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct SessionRequest {
    /// The session id from acquire.
    pub session_id: Uuid,
    /// The `session_secret` from acquire, for sessions that have one. A missing or wrong one
    /// is answered like an unknown session (404).
    #[oai(validator(max_length = 128))]
    pub session_secret: Option<Text>,
}

impl SessionRequest {
    /// Who asks: the credential's identity and the secret it presents (a malformed secret is a
    /// 400 naming `session_secret`, whatever the session).
    fn caller(&self, auth: &ClientAuth) -> license_core::Result<Caller> {
        let secret = self
            .session_secret
            .as_deref()
            .map(SessionSecret::parse)
            .transpose()?;
        Ok(Caller::new(auth.0.actor.clone()).with_secret(secret))
    }
}

/// A renewed seat.
#[derive(Object, Debug)]
pub struct HeartbeatResponse {
    /// The new expiry.
    pub expires_at: DateTime<Utc>,
    /// A fresh lease token.
    pub token: String,
}

/// A released seat.
#[derive(Object, Debug)]
pub struct ReleaseResponse {
    /// When the session ended (the first time, if it was released before).
    pub released_at: DateTime<Utc>,
}

/// A returned seat.
#[derive(Object, Debug)]
pub struct ReturnResponse {
    /// When the borrow ended (the first time, if it was returned before).
    pub returned_at: DateTime<Utc>,
}

/// A lease token to check.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct ValidateRequest {
    /// The lease token from acquire or heartbeat.
    #[oai(validator(min_length = 1, max_length = 8192))]
    pub token: Text,
}

/// What a valid lease token grants.
#[derive(Object, Debug)]
pub struct ValidateResponse {
    /// The session holding the seat.
    pub session_id: Uuid,
    /// Its license.
    pub license_id: Uuid,
    /// The machine holding the seat.
    pub hardware_id: String,
    /// Features granted.
    pub entitlements: Vec<String>,
    /// When the lease expires.
    pub expires_at: DateTime<Utc>,
}

/// A granted seat.
#[derive(ApiResponse, Debug)]
pub enum AcquireOk {
    /// The seat is held: a new one, or the one this machine already held.
    #[oai(status = 200)]
    Ok(Json<AcquireResponse>),
    /// No seat yet (the request asked to wait): the client waits in the license's queue and
    /// asks again with `queue_ticket`.
    #[oai(status = 202)]
    Queued(Json<QueuedResponse>),
}

error_response! {
    /// Why no seat was granted.
    pub enum AcquireError extras {
        /// No seat may be granted (`no_seats_available`): `limit_reached` says which limit
        /// refused it — every seat is in use (`seats`), or a limit of the license's seat
        /// policy (`group_max`, `user_max`, `host_max`, `processes_per_host`,
        /// `reserved_for_others`), a free seat goes to clients waiting in the license's queue
        /// (`queued`: ask with `wait_seconds` to wait too), or the queue is full
        /// (`queue_full`); try again later.
        NoSeats = 402,
        /// The polled `queue_ticket` is gone (`queue_ticket_gone`): its wait ended, it was not
        /// polled within `poll_within_seconds`, or it left. Acquire again (with `wait_seconds`) for a new place at the end.
        Gone = 410,
    }
}

/// A borrowed seat.
#[derive(ApiResponse, Debug)]
pub enum BorrowOk {
    /// The seat is borrowed until `expires_at`: a new borrow, or the one this machine already
    /// has.
    #[oai(status = 200)]
    Ok(Json<AcquireResponse>),
}

error_response! {
    /// Why no seat was borrowed.
    pub enum BorrowError extras {
        /// No seat may be granted (`no_seats_available`, with `limit_reached` as for acquire),
        /// or as many seats as the license lends at once are borrowed
        /// (`borrow_limit_reached`); try again later.
        NoSeats = 402,
    }
}

/// A returned seat.
#[derive(ApiResponse, Debug)]
pub enum ReturnOk {
    /// The borrow is ended and its seat free. Returning again answers the same.
    #[oai(status = 200)]
    Ok(Json<ReturnResponse>),
}

error_response! {
    /// Why the seat was not returned.
    pub enum ReturnError extras {}
}

/// A renewed seat.
#[derive(ApiResponse, Debug)]
pub enum HeartbeatOk {
    /// The seat is renewed.
    #[oai(status = 200)]
    Ok(Json<HeartbeatResponse>),
}

error_response! {
    /// Why the seat was not renewed.
    pub enum HeartbeatError extras {
        /// The seat was reclaimed (`session_expired`): acquire again. Or an administrator
        /// evicted the session (`evicted`, with the `reason`; while a hold-off lasts, `until`
        /// and `Retry-After` say until when): stop the application, tell the user why, and do
        /// not acquire again before `until`.
        Gone = 410 (RetryAfter),
    }
}

/// A released seat.
#[derive(ApiResponse, Debug)]
pub enum ReleaseOk {
    /// The session is ended and its seat free. Releasing again answers the same.
    #[oai(status = 200)]
    Ok(Json<ReleaseResponse>),
}

error_response! {
    /// Why the seat was not released.
    pub enum ReleaseError extras {}
}

/// A valid lease.
#[derive(ApiResponse, Debug)]
pub enum ValidateOk {
    /// The token is genuine and its session still holds the seat.
    #[oai(status = 200)]
    Ok(Json<ValidateResponse>),
}

error_response! {
    /// Why the lease is not valid.
    pub enum ValidateError extras {
        /// The session no longer holds its seat (`session_expired`).
        Gone = 410,
    }
}

/// What an acquire or borrow says about who asks, as the request carries it.
struct Asked<'a> {
    license_key: &'a str,
    hardware_id: &'a str,
    user_email: Option<&'a str>,
    host_name: Option<&'a str>,
    process_id: Option<&'a str>,
}

impl Asked<'_> {
    /// The license key and the applicant, parsed (`invalid_input` naming the field
    /// otherwise).
    fn parse(&self) -> Result<(LicenseKey, Applicant), Error> {
        Ok((
            LicenseKey::parse(self.license_key)?,
            Applicant {
                hardware_id: HardwareId::parse(self.hardware_id)?,
                user_email: self.user_email.map(UserEmail::parse).transpose()?,
                host_name: self.host_name.map(HostName::parse).transpose()?,
                process_id: self.process_id.map(ProcessId::parse).transpose()?,
            },
        ))
    }
}

impl AcquireRequest {
    fn asked(&self) -> Asked<'_> {
        Asked {
            license_key: &self.license_key,
            hardware_id: &self.hardware_id,
            user_email: self.user_email.as_deref(),
            host_name: self.host_name.as_deref(),
            process_id: self.process_id.as_deref(),
        }
    }
}

impl BorrowRequest {
    fn asked(&self) -> Asked<'_> {
        Asked {
            license_key: &self.license_key,
            hardware_id: &self.hardware_id,
            user_email: self.user_email.as_deref(),
            host_name: self.host_name.as_deref(),
            process_id: self.process_id.as_deref(),
        }
    }
}

/// The outcome label of a failed acquire (span field and metric): a refusal names the limit
/// that refused it (`no_seats` when every seat is taken, else the policy's limit, or
/// `excluded`).
pub(crate) fn refusal_label(e: &Error) -> &'static str {
    match e {
        Error::NoSeatsAvailable { reached, .. } => match reached {
            license_core::SeatLimit::Seats => "no_seats",
            other => other.as_str(),
        },
        Error::Excluded(_) => "excluded",
        _ => "error",
    }
}

/// The answer to a granted acquire or borrow.
fn lease_response(lease: license_core::Lease) -> AcquireResponse {
    AcquireResponse {
        session_id: lease.session.id.as_uuid(),
        expires_at: lease.session.expires_at,
        heartbeat_interval_seconds: lease.heartbeat_interval_seconds,
        borrowed: lease.session.borrowed,
        overdraft: lease.session.overdraft,
        token: lease.token,
        session_secret: lease.secret.map(|s| s.expose().to_owned()),
    }
}

#[OpenApi(prefix_path = "/api/v1/licenses", tag = "ApiTags::Leases")]
impl LeasesApi {
    /// Take a seat
    ///
    /// Takes a seat on the license for this machine and returns a signed lease token.
    /// Idempotent per license and `hardware_id`: while the machine holds a live seat, a retry
    /// returns that session (with a fresh token, and a new `session_secret` if it has one) and
    /// takes no second seat. A license that leases per user keys the seat by the person
    /// instead (the same user from another machine gets the same session; `user_email` is
    /// then required unless signed in), one that leases per process by `hardware_id` and
    /// `process_id`. The license's seat policy may refuse the requester (403 `excluded`) or
    /// the seat (402 `no_seats_available` with `limit_reached`). The session is bound to the caller: acquired with an ID token, it
    /// answers only to that user, and another user asking for the same machine gets 409
    /// `conflict`.
    #[oai(path = "/acquire", method = "post", operation_id = "acquire")]
    #[tracing::instrument(name = "acquire", skip_all, fields(tenant_id = %auth.0.tenant, license_id = field::Empty, session_id = field::Empty, outcome = field::Empty))]
    async fn acquire(
        &self,
        auth: ClientAuth,
        state: Data<&Arc<AppState>>,
        body: Json<AcquireRequest>,
    ) -> Result<AcquireOk, AcquireError> {
        let result = async {
            let (key, applicant) = body.asked().parse()?;
            let wait = SeatWait {
                seconds: body.wait_seconds.unwrap_or(0),
                ticket: body.queue_ticket.as_deref().map(ticket).transpose()?,
            };
            state
                .service
                .acquire_waiting(auth.0.tenant, &auth.0.actor, &key, &applicant, wait)
                .await
        }
        .await;
        // Seat outcomes are counted from the events the use case emitted; failures here.
        let outcome = match &result {
            Ok(Acquired::Lease(lease)) if lease.new_seat => "granted",
            Ok(Acquired::Lease(_)) => "idempotent",
            Ok(Acquired::Waiting(_)) => "queued",
            Err(e) => {
                state.metrics.acquire_failed(e);
                refusal_label(e)
            }
        };
        let span = Span::current();
        span.record("outcome", outcome);
        let lease = match result.map_err(|e| ApiError::at(e, state.clock.now()))? {
            Acquired::Lease(lease) => *lease,
            Acquired::Waiting(place) => {
                state.metrics.acquire_waiting();
                span.record("session_id", field::display(place.ticket));
                return Ok(AcquireOk::Queued(Json(place.into())));
            }
        };
        span.record("license_id", field::display(lease.session.license_id));
        span.record("session_id", field::display(lease.session.id));
        Ok(AcquireOk::Ok(Json(lease_response(lease))))
    }

    /// Stop waiting for a seat
    ///
    /// Ends the wait of an acquire that got 202: its place in the license's queue goes to
    /// the next in line. Idempotent (`left: false` when the ticket was not waiting).
    #[oai(path = "/queue/leave", method = "post", operation_id = "leave_queue")]
    #[tracing::instrument(name = "leave_queue", skip_all, fields(tenant_id = %auth.0.tenant))]
    async fn leave_queue(
        &self,
        auth: ClientAuth,
        state: Data<&Arc<AppState>>,
        body: Json<LeaveQueueRequest>,
    ) -> Result<LeaveQueueOk, LeaveQueueError> {
        let key = LicenseKey::parse(&body.license_key)?;
        let ticket = ticket(&body.queue_ticket)?;
        let left = state
            .service
            .leave_queue(auth.0.tenant, &key, ticket)
            .await
            .map_err(|e| ApiError::at(e, state.clock.now()))?;
        Ok(LeaveQueueOk::Ok(Json(LeaveQueueResponse { left })))
    }

    /// Borrow a seat for offline work
    ///
    /// Takes a seat on the license for this machine for `borrow_seconds` (up to the license's
    /// `max_borrow_seconds`; 400 naming `borrow_seconds` when the license does not lend seats
    /// or the period is out of range): the lease token (claim `brw`) is valid offline until
    /// `expires_at` and no heartbeat is due. The seat counts against the license until then or
    /// until it is returned. At most `max_borrowed_seats` are borrowed at once (402
    /// `borrow_limit_reached`). Idempotent per license and `hardware_id`: a retry returns the
    /// same borrow; a machine that holds an ordinary seat gets 409 (release it first). An
    /// administrator may revoke a borrowed seat: it is free at once, the client learns it at
    /// its next check-in (a heartbeat answers 410 `evicted`), and its token stays valid
    /// offline until `expires_at` — revocation cannot reach a machine that is offline.
    #[oai(path = "/borrow", method = "post", operation_id = "borrow")]
    #[tracing::instrument(name = "borrow", skip_all, fields(tenant_id = %auth.0.tenant, license_id = field::Empty, session_id = field::Empty))]
    async fn borrow(
        &self,
        auth: ClientAuth,
        state: Data<&Arc<AppState>>,
        body: Json<BorrowRequest>,
    ) -> Result<BorrowOk, BorrowError> {
        let result = async {
            let (key, applicant) = body.asked().parse()?;
            let seconds = body.borrow_seconds.get("borrow_seconds")?;
            state
                .service
                .borrow_as(auth.0.tenant, &auth.0.actor, &key, &applicant, seconds)
                .await
        }
        .await;
        let lease = result.map_err(|e| ApiError::at(e, state.clock.now()))?;
        let span = Span::current();
        span.record("license_id", field::display(lease.session.license_id));
        span.record("session_id", field::display(lease.session.id));
        Ok(BorrowOk::Ok(Json(lease_response(lease))))
    }

    /// Renew a seat
    ///
    /// Extends the session's seat by the license's TTL and returns a fresh lease token.
    /// `410 session_expired` means the seat was reclaimed: acquire again. Only the session's
    /// holder may renew it: the person who acquired it (when an ID token did), with its
    /// `session_secret` (when it has one); anyone else gets 404, as for an unknown session.
    #[oai(path = "/heartbeat", method = "post", operation_id = "heartbeat")]
    #[tracing::instrument(name = "heartbeat", skip_all, fields(tenant_id = %auth.0.tenant, session_id = %body.session_id, outcome = field::Empty))]
    async fn heartbeat(
        &self,
        auth: ClientAuth,
        state: Data<&Arc<AppState>>,
        body: Json<SessionRequest>,
    ) -> Result<HeartbeatOk, HeartbeatError> {
        let session_id = SessionId::from_uuid(body.session_id);
        let result = match body.caller(&auth) {
            Ok(caller) => {
                state
                    .service
                    .heartbeat(auth.0.tenant, session_id, &caller)
                    .await
            }
            Err(e) => Err(e),
        };
        let outcome = match &result {
            Ok(_) => "renewed",
            Err(e) => {
                state.metrics.heartbeat_failed(e);
                match e {
                    Error::SessionExpired => "expired",
                    Error::SessionEvicted { .. } => "evicted",
                    _ => "error",
                }
            }
        };
        Span::current().record("outcome", outcome);
        let lease = result.map_err(|e| ApiError::at(e, state.clock.now()))?;
        Ok(HeartbeatOk::Ok(Json(HeartbeatResponse {
            expires_at: lease.session.expires_at,
            token: lease.token,
        })))
    }

    /// Release a seat
    ///
    /// Ends the session and frees its seat, and records the release in the audit log.
    /// Idempotent: releasing a session that has already ended (released, expired or revoked)
    /// answers 200 with the time it ended, so a client never treats a repeated release
    /// specially. Only the session's holder may release it, as for heartbeat (404 otherwise).
    #[oai(path = "/release", method = "post", operation_id = "release")]
    #[tracing::instrument(name = "release", skip_all, fields(tenant_id = %auth.0.tenant, session_id = %body.session_id))]
    async fn release(
        &self,
        auth: ClientAuth,
        state: Data<&Arc<AppState>>,
        body: Json<SessionRequest>,
    ) -> Result<ReleaseOk, ReleaseError> {
        let session_id = SessionId::from_uuid(body.session_id);
        let caller = body.caller(&auth)?;
        let session = state
            .service
            .release(auth.0.tenant, session_id, &caller)
            .await?;
        let released_at = session.ended_at.unwrap_or_else(|| state.clock.now());
        Ok(ReleaseOk::Ok(Json(ReleaseResponse { released_at })))
    }

    /// Return a borrowed seat
    ///
    /// Ends a borrow before its end and frees its seat; recorded in the audit log
    /// (`session.return`). Idempotent: returning again answers 200 with the time it ended.
    /// Only the session's holder may return it, as for release (404 otherwise); a session that
    /// is not borrowed is a 400 naming `session_id` (release it instead).
    #[oai(path = "/return", method = "post", operation_id = "return_borrowed")]
    #[tracing::instrument(name = "return_borrowed", skip_all, fields(tenant_id = %auth.0.tenant, session_id = %body.session_id))]
    async fn return_borrowed(
        &self,
        auth: ClientAuth,
        state: Data<&Arc<AppState>>,
        body: Json<SessionRequest>,
    ) -> Result<ReturnOk, ReturnError> {
        let session_id = SessionId::from_uuid(body.session_id);
        let caller = body.caller(&auth)?;
        let session = state
            .service
            .return_borrowed(auth.0.tenant, session_id, &caller)
            .await?;
        let returned_at = session.ended_at.unwrap_or_else(|| state.clock.now());
        Ok(ReturnOk::Ok(Json(ReturnResponse { returned_at })))
    }

    /// Check a lease token
    ///
    /// Verifies the token's signature and expiry, and that its session still holds the seat.
    #[oai(path = "/validate", method = "post", operation_id = "validate")]
    #[tracing::instrument(name = "validate", skip_all, fields(tenant_id = %auth.0.tenant))]
    async fn validate(
        &self,
        auth: ClientAuth,
        state: Data<&Arc<AppState>>,
        body: Json<ValidateRequest>,
    ) -> Result<ValidateOk, ValidateError> {
        let claims = state.service.validate(auth.0.tenant, &body.token).await?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or_default();
        Ok(ValidateOk::Ok(Json(ValidateResponse {
            session_id: claims.sub.as_uuid(),
            license_id: claims.lic.as_uuid(),
            hardware_id: claims.hwid,
            entitlements: claims.ent,
            expires_at,
        })))
    }
}
