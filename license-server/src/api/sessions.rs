//! Admin: a license's live sessions, page by page, and force-releasing one.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use license_core::{AuditEvent, EndReason, LicenseId, Page, Session, SessionCursor, SessionId};
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
    /// The session is ended and its seat free; its next heartbeat gets 410.
    #[oai(status = 200)]
    Ok(Json<SessionDto>),
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
        let after = cursor.0.as_deref().map(str::parse).transpose()?;
        let page = Page::<SessionCursor>::new(after, limit.0.unwrap_or(100));
        let sessions = state
            .admin
            .live_sessions(tenant, LicenseId::from_uuid(license_id.0), page)
            .await?;
        let next_cursor = (sessions.len() == page.limit as usize)
            .then(|| sessions.last().map(|s| SessionCursor::after(s).to_string()))
            .flatten();
        Ok(SessionListOk::Ok(Json(SessionList {
            items: sessions.into_iter().map(SessionDto::from).collect(),
            next_cursor,
        })))
    }

    /// Force-release a session
    ///
    /// Frees the seat now; recorded in the audit log. Releasing an ended session answers
    /// with it unchanged.
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
    ) -> Result<SessionReleased, AdminError> {
        let tenant = auth.0.tenant()?;
        let id = SessionId::from_uuid(session_id.0);
        let audit = AuditEvent::new(
            tenant,
            auth.0.actor(),
            "session.force_release",
            format!("session:{id}"),
            state.clock.now(),
            json!({}),
        );
        // TODO(#19 http): hold-off, reason, force from the request.
        let options = license_core::evict::EvictOptions::default();
        let session = state
            .service
            .evict_session(tenant, id, &options, &audit)
            .await?;
        Ok(SessionReleased::Ok(Json(session.into())))
    }
}
