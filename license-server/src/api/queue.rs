//! Admin: who waits in a license's queue (ADR 0029).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use license_core::LicenseId;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::error::AdminError;
use crate::auth::TenantAdminAuth;
use crate::state::AppState;

/// Admin routes for the queue.
#[derive(Debug)]
pub struct QueueApi;

/// A client waiting for a seat.
#[derive(Object, Debug)]
pub struct WaiterDto {
    /// 1 for the next in line.
    pub position: u32,
    /// Its ticket (the session id its lease will have).
    pub queue_ticket: Uuid,
    /// The machine it waits on (under per-user or per-process leasing, the seat key the
    /// strategy made of it).
    pub hardware_id: String,
    /// Its priority (from the license's `priority` rules; higher first).
    pub priority: u32,
    /// When its wait ends.
    pub wait_until: DateTime<Utc>,
    /// When it is dropped unless it asks again.
    pub poll_by: DateTime<Utc>,
}

/// A license's queue.
#[derive(Object, Debug)]
pub struct QueueListing {
    /// The license.
    pub license_id: Uuid,
    /// Who waits, first in line first (at most 1,000).
    pub waiting: Vec<WaiterDto>,
}

/// The queue.
#[derive(ApiResponse, Debug)]
pub enum QueueOk {
    /// Who waits now.
    #[oai(status = 200)]
    Ok(Json<QueueListing>),
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Sessions")]
impl QueueApi {
    /// List who waits for a seat
    ///
    /// The clients waiting in the license's queue now, in the order they will be seated:
    /// priority, then arrival. Empty when the license has no queue or nobody waits.
    #[oai(
        path = "/licenses/:license_id/queue",
        method = "get",
        operation_id = "list_license_queue"
    )]
    async fn queue(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        license_id: Path<Uuid>,
    ) -> Result<QueueOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let id = LicenseId::from_uuid(license_id.0);
        let waiting = state.service.queue(tenant, id).await?;
        Ok(QueueOk::Ok(Json(QueueListing {
            license_id: id.as_uuid(),
            waiting: (1..)
                .zip(waiting)
                .map(|(position, w)| WaiterDto {
                    position,
                    queue_ticket: w.ticket.as_uuid(),
                    hardware_id: w.hardware_id.as_str().to_owned(),
                    priority: w.priority,
                    wait_until: w.wait_until,
                    poll_by: w.poll_by,
                })
                .collect(),
        })))
    }
}
