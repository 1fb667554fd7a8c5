//! Admin: the tenant's audit log.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use license_core::AuditEvent;
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::error::AdminError;
use crate::auth::TenantAdminAuth;
use crate::state::AppState;

/// Admin routes for the audit log.
#[derive(Debug)]
pub struct AuditApi;

/// One change: who did what, when.
#[derive(Object, Debug)]
pub struct AuditEventDto {
    /// Its id.
    pub id: Uuid,
    /// Who: `operator`, `api_key:<id>`, `user:<subject>` or `system`.
    pub actor: String,
    /// What, dotted (`license.create`, `session.force_release`).
    pub action: String,
    /// To what (`license:<id>`).
    pub target: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Anything else recorded (new values, reasons). Never secrets.
    pub details: serde_json::Value,
}

impl From<AuditEvent> for AuditEventDto {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id.as_uuid(),
            actor: e.actor.to_label(),
            action: e.action,
            target: e.target,
            at: e.at,
            details: e.details,
        }
    }
}

/// Audit events.
#[derive(Object, Debug)]
pub struct AuditList {
    /// Newest first.
    pub items: Vec<AuditEventDto>,
}

/// The audit log.
#[derive(ApiResponse, Debug)]
pub enum AuditOk {
    /// The most recent events.
    #[oai(status = 200)]
    Ok(Json<AuditList>),
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Audit")]
impl AuditApi {
    /// List audit events
    #[oai(
        path = "/audit-events",
        method = "get",
        operation_id = "list_audit_events"
    )]
    async fn list(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        /// How many of the most recent events (1–500, default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
    ) -> Result<AuditOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let events = state
            .admin
            .audit_log(tenant, limit.0.unwrap_or(100))
            .await?;
        Ok(AuditOk::Ok(Json(AuditList {
            items: events.into_iter().map(AuditEventDto::from).collect(),
        })))
    }
}
