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
    /// With `degraded`: the dependency about to fail (`signer`: a tenant key's certificate
    /// expires within the hour and the root, Cloud KMS, could not certify a successor).
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
    /// The store and the seat ledger answer and every tenant key can sign (`ready`), or will
    /// only for less than an hour more (`degraded`, naming the dependency).
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
    /// 200 only when the store and the seat ledger answer and the tenant keys can sign;
    /// otherwise 503 naming the first that cannot. Calls no Cloud KMS method: the signer's
    /// state is what the last key maintenance found.
    #[oai(path = "/ready/", method = "get", operation_id = "ready")]
    async fn ready(&self, state: Data<&Arc<AppState>>) -> Result<ReadyOk, ReadyError> {
        let status = match state.service.check_ready().await? {
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
