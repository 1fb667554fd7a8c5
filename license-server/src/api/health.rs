//! Liveness and readiness probes.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::error::error_response;
use crate::state::AppState;

/// Probes for the orchestrator.
#[derive(Debug)]
pub struct HealthApi;

/// A probe's answer.
#[derive(Object, Debug)]
pub struct Status {
    /// `ok` or `ready`.
    pub status: String,
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
    /// The store, the seat ledger and the signer all answer.
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
        }))
    }

    /// Readiness
    ///
    /// 200 only when the store, the seat ledger and the signer answer; otherwise 503 naming
    /// the first that does not.
    #[oai(path = "/ready/", method = "get", operation_id = "ready")]
    async fn ready(&self, state: Data<&Arc<AppState>>) -> Result<ReadyOk, ReadyError> {
        state.service.check_ready().await?;
        Ok(ReadyOk::Ok(Json(Status {
            status: "ready".into(),
        })))
    }
}
