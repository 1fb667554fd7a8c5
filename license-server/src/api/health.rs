//! Liveness and readiness probes.

use std::sync::Arc;

use license_core::Readiness;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tracing::warn;

use super::ApiTags;
use super::error::error_response;
use crate::state::AppState;

/// Probes for the orchestrator.
#[derive(Debug)]
pub struct HealthApi;

/// A probe's answer.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Status {
    /// `ok` (liveness), `ready`, or `degraded` (ready, but `dependency` will soon fail).
    pub status: String,
    /// With `degraded`: the dependency in trouble (`signer`: a tenant's key will soon not
    /// cover the longest lease, or was revoked, and the root — Cloud KMS — could not certify
    /// a successor; leases that would outlive the key's certificate get 503 meanwhile).
    pub dependency: Option<String>,
}

/// The process lives.
#[derive(ApiResponse, Debug)]
pub enum HealthOk {
    /// Always, while the process serves requests.
    #[oai(status = 200)]
    Ok(Json<Status>),
}

/// Ready for traffic.
#[derive(ApiResponse, Debug)]
pub enum ReadyOk {
    /// The store and the seat ledger answer; `ready`, or `degraded` when the signer is in
    /// trouble (naming it). A signer in trouble never fails readiness: every replica shares
    /// the root, so taking replicas out of service would not help.
    #[oai(status = 200)]
    Ok(Json<Status>),
}

error_response! {
    /// Not ready: 503 names the dependency that does not answer (`store`, `ledger`, `signer`).
    pub enum ReadyError extras {}
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness
    ///
    /// 200 while the process serves requests; checks no dependency.
    #[oai(path = "/health/", method = "get", operation_id = "health")]
    async fn health(&self) -> HealthOk {
        HealthOk::Ok(Json(Status {
            status: "ok".into(),
            dependency: None,
        }))
    }

    /// Readiness
    ///
    /// 200 when the store and the seat ledger answer (`ready`, or `degraded` naming the
    /// signer when the root could not certify tenant keys that are due); otherwise 503 naming
    /// the first that does not. Calls no Cloud KMS method: the signer's state is what the
    /// last key maintenance found. A 200 is shared by every caller for
    /// `limits.ready_cache_millis` (1 s by default), and calls made while a probe runs share
    /// its answer, so calling it often costs no more store or ledger pings.
    #[oai(path = "/ready/", method = "get", operation_id = "ready")]
    async fn ready(&self, state: Data<&Arc<AppState>>) -> Result<ReadyOk, ReadyError> {
        let readiness = state.ready.answer(|| state.service.check_ready()).await?;
        let status = match readiness {
            Readiness::Ready => Status {
                status: "ready".into(),
                dependency: None,
            },
            Readiness::Degraded { dependency, reason } => {
                warn!(%dependency, %reason, "ready, but degraded");
                Status {
                    status: "degraded".into(),
                    dependency: Some(dependency.to_string()),
                }
            }
        };
        Ok(ReadyOk::Ok(Json(status)))
    }
}
