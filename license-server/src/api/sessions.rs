//! Admin: a license's live sessions and its borrowed ones, page by page, and force-releasing
//! (evicting) one, with an optional hold-off.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use license_core::evict::EvictOptions;
use license_core::{
    AuditEvent, EndReason, Error, Eviction, LicenseId, Page, Session, SessionCursor, SessionId,
};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::json;
use uuid::Uuid;

use super::ApiTags;
use super::error::AdminError;
use crate::auth::TenantAdminAuth;
use crate::state::AppState;

/// Admin routes for sessions.
#[derive(Debug)]
pub struct SessionsApi;

/// Why a session ended.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum EndReasonDto {
    /// The client released it.
    Released,
    /// No heartbeat within the TTL.
    Expired,
    /// Its license was suspended or revoked.
    Revoked,
    /// Evicted (force-released) by an administrator.
    Evicted,
}

impl From<EndReason> for EndReasonDto {
    fn from(reason: EndReason) -> Self {
        match reason {
            EndReason::Released => EndReasonDto::Released,
            EndReason::Expired => EndReasonDto::Expired,
            EndReason::Revoked => EndReasonDto::Revoked,
            EndReason::Evicted => EndReasonDto::Evicted,
        }
    }
}

/// One running application holding one seat.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct SessionDto {
    /// Its id.
    pub id: Uuid,
    /// The license the seat belongs to.
    pub license_id: Uuid,
    /// The machine holding the seat.
    pub hardware_id: String,
    /// Who uses it, if the client said.
    pub user_email: Option<String>,
    /// When the seat was granted.
    pub acquired_at: DateTime<Utc>,
    /// The last heartbeat.
    pub last_heartbeat_at: DateTime<Utc>,
    /// The seat frees itself after this instant unless renewed.
    pub expires_at: DateTime<Utc>,
    /// When it ended, if it has.
    pub ended_at: Option<DateTime<Utc>>,
    // Why it ended, if it has (plain comment: keeps a bare $ref for generators).
    pub end_reason: Option<EndReasonDto>,
    /// Who acquired it: `user:<subject>` (an ID token: only that user may renew or release
    /// it), `api_key:<id>` or `system`; absent for sessions from before holders were recorded.
    /// (Its session secret, if any, is never shown.)
    pub holder: Option<String>,
    /// Borrowed for offline work: `expires_at` is the borrow's end and no heartbeat is due.
    pub borrowed: bool,
    /// Granted beyond the license's `seats_total`, into its overdraft (billable overage).
    pub overdraft: bool,
    /// After a release under a license with `linger_seconds`: the seat stays held for this
    /// machine until then (a re-acquire from it gets it back at once; others see it taken).
    pub linger_until: Option<DateTime<Utc>>,
    // Why an administrator evicted it and until when its machine and person are held off
    // (`end_reason` `evicted`; plain comment: keeps a bare $ref for generators).
    pub eviction: Option<EvictionDto>,
}

/// An administrator's eviction of a session.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct EvictionDto {
    /// Why, as the administrator said it (the evicted client is told).
    pub reason: String,
    /// Until when the session's machine (and person, when known) may not acquire or borrow:
    /// they get 403 `evicted`. Absent: no hold-off.
    pub hold_until: Option<DateTime<Utc>>,
}

impl From<Eviction> for EvictionDto {
    fn from(e: Eviction) -> Self {
        Self {
            reason: e.reason,
            hold_until: e.hold_until,
        }
    }
}

impl From<Session> for SessionDto {
    fn from(s: Session) -> Self {
        Self {
            id: s.id.as_uuid(),
            license_id: s.license_id.as_uuid(),
            hardware_id: s.hardware_id.as_str().to_owned(),
            user_email: s.user_email.map(|e| e.as_str().to_owned()),
            acquired_at: s.acquired_at,
            last_heartbeat_at: s.last_heartbeat_at,
            expires_at: s.expires_at,
            ended_at: s.ended_at,
            end_reason: s.end_reason.map(EndReasonDto::from),
            holder: s.holder.map(|h| h.to_label()),
            borrowed: s.borrowed,
            overdraft: s.overdraft,
            linger_until: s.linger_until,
            eviction: s.eviction.map(EvictionDto::from),
        }
    }
}

/// A page of live sessions, oldest acquired first.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct SessionList {
    /// The sessions holding a seat now.
    pub items: Vec<SessionDto>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A page of live sessions.
#[derive(ApiResponse, Debug)]
pub enum SessionListOk {
    /// The page.
    #[oai(status = 200)]
    Ok(Json<SessionList>),
}

/// A force-released session.
#[derive(ApiResponse, Debug)]
pub enum SessionReleased {
    /// The session is ended (`end_reason` `evicted`, with its `eviction`) and its seat free;
    /// its next heartbeat gets 410 `evicted`.
    #[oai(status = 200)]
    Ok(Json<SessionDto>),
}

/// The page a listing asks for: after `cursor` (opaque, from the previous page), `limit`
/// sessions (100 unless given).
fn page_asked(cursor: Option<&str>, limit: Option<u32>) -> Result<Page<SessionCursor>, Error> {
    let after = cursor.map(str::parse).transpose()?;
    Ok(Page::new(after, limit.unwrap_or(100)))
}

/// One page of sessions and the cursor to the next.
fn session_page(sessions: Vec<Session>, limit: u32) -> SessionList {
    let next_cursor = (sessions.len() == limit as usize)
        .then(|| sessions.last().map(|s| SessionCursor::after(s).to_string()))
        .flatten();
    SessionList {
        items: sessions.into_iter().map(SessionDto::from).collect(),
        next_cursor,
    }
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Sessions")]
impl SessionsApi {
    /// List a license's live sessions
    ///
    /// Keyset pagination, oldest acquired first: pass the previous page's `next_cursor` as
    /// `cursor`. A session acquired while paging appears on a later page.
    #[oai(
        path = "/licenses/:license_id/sessions",
        method = "get",
        operation_id = "list_license_sessions"
    )]
    async fn list(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        license_id: Path<Uuid>,
        /// Start after this point: the previous page's `next_cursor` (opaque).
        #[oai(validator(max_length = 64))]
        cursor: Query<Option<String>>,
        /// Page size (1–500, default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
    ) -> Result<SessionListOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let page = page_asked(cursor.0.as_deref(), limit.0)?;
        let sessions = state
            .admin
            .live_sessions(tenant, LicenseId::from_uuid(license_id.0), page)
            .await?;
        Ok(SessionListOk::Ok(Json(session_page(sessions, page.limit))))
    }

    /// List a license's borrowed seats
    ///
    /// The live borrowed sessions (offline work until their `expires_at`), paged exactly like
    /// the license's sessions: oldest acquired first, pass the previous page's `next_cursor`
    /// as `cursor`. Force-release one to revoke it: the seat is free at once, but the
    /// client's lease token stays valid offline until its `expires_at`; the client learns of
    /// the revocation at its next check-in (its heartbeat answers 410 `evicted`).
    #[oai(
        path = "/licenses/:license_id/borrowed",
        method = "get",
        operation_id = "list_borrowed_sessions"
    )]
    async fn list_borrowed(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        license_id: Path<Uuid>,
        /// Start after this point: the previous page's `next_cursor` (opaque).
        #[oai(validator(max_length = 64))]
        cursor: Query<Option<String>>,
        /// Page size (1–500, default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
    ) -> Result<SessionListOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let page = page_asked(cursor.0.as_deref(), limit.0)?;
        let sessions = state
            .admin
            .borrowed_sessions(tenant, LicenseId::from_uuid(license_id.0), page)
            .await?;
        Ok(SessionListOk::Ok(Json(session_page(sessions, page.limit))))
    }

    /// Force-release (evict) a session
    ///
    /// Frees the seat now, whoever holds it (a borrowed one too), and records the eviction in
    /// the audit log; the session's next heartbeat gets 410 `evicted` with the `reason`.
    /// With `hold_off_seconds`, the session's machine (and person, when known) gets 403
    /// `evicted` with `Retry-After` on acquire and borrow until the hold-off ends, so an
    /// application cannot simply take a new seat. A session younger than its license's
    /// `min_hold_seconds` is refused with 409 `conflict` unless `force` is true. Evicting an
    /// ended session answers with it unchanged. A borrowed seat's lease token stays valid
    /// offline until its end: the client learns of the eviction at its next check-in.
    #[oai(
        path = "/sessions/:session_id/release",
        method = "post",
        operation_id = "force_release_session"
    )]
    async fn release(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        session_id: Path<Uuid>,
        /// Seconds (0–2,592,000, 30 days; default 0: none) during which the session's machine
        /// and person may not acquire or borrow on the license again.
        #[oai(validator(maximum(value = "2592000")))]
        hold_off_seconds: Query<Option<u32>>,
        /// Why (1–200 characters; no control, bidirectional or invisible formatting
        /// characters): the evicted client is told. Default: "evicted by an administrator".
        #[oai(validator(max_length = 200))]
        reason: Query<Option<String>>,
        /// Evict even a session younger than its license's `min_hold_seconds` (default false).
        force: Query<Option<bool>>,
    ) -> Result<SessionReleased, AdminError> {
        let tenant = auth.0.tenant()?;
        let id = SessionId::from_uuid(session_id.0);
        let options = EvictOptions {
            hold_off_seconds: hold_off_seconds.0.unwrap_or(0),
            reason: reason.0,
            force: force.0.unwrap_or(false),
        };
        let audit = AuditEvent::new(
            tenant,
            auth.0.actor(),
            "session.force_release",
            format!("session:{id}"),
            state.clock.now(),
            json!({
                "hold_off_seconds": options.hold_off_seconds,
                "reason": options.reason,
                "force": options.force,
            }),
        );
        let session = state
            .service
            .evict_session(tenant, id, &options, &audit)
            .await?;
        Ok(SessionReleased::Ok(Json(session.into())))
    }
}
