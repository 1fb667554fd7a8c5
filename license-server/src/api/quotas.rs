//! Admin: the tenant's quotas, and how much of each it uses.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::error::AdminError;
use crate::auth::TenantAdminAuth;
use crate::state::AppState;

/// Admin routes for quotas.
#[derive(Debug)]
pub struct QuotasApi;

/// One quota: its limit and what the tenant uses of it.
#[derive(Object, Debug)]
pub struct QuotaDto {
    /// The most the tenant may have.
    pub limit: u64,
    /// What it has now.
    pub used: u64,
}

/// The tenant's quotas, set by the operator for every tenant. A change that would pass one
/// answers 403 `quota_exceeded` naming it in `quota`.
#[derive(Object, Debug)]
pub struct Quotas {
    /// Licenses, revoked ones included.
    pub licenses: QuotaDto,
    /// API keys that are not revoked.
    pub api_keys: QuotaDto,
    /// Seats the licenses that are not revoked may allow together (`seats_total` plus
    /// `overdraft`).
    pub seats: QuotaDto,
}

/// The quotas.
#[derive(ApiResponse, Debug)]
pub enum QuotasOk {
    /// Limits and usage.
    #[oai(status = 200)]
    Ok(Json<Quotas>),
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Usage")]
impl QuotasApi {
    /// Get the tenant's quotas and usage
    #[oai(path = "/quotas", method = "get", operation_id = "get_quotas")]
    async fn get(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
    ) -> Result<QuotasOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let (limits, used) = state.admin.quota_usage(tenant).await?;
        let quota = |limit, used| QuotaDto { limit, used };
        Ok(QuotasOk::Ok(Json(Quotas {
            licenses: quota(limits.max_licenses, used.licenses),
            api_keys: quota(limits.max_api_keys, used.api_keys),
            seats: quota(limits.max_seats, used.seats),
        })))
    }
}
