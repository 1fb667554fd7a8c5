//! Admin (operator only): tenants. Creating one also creates its first admin API key, so the
//! vendor can take over from there.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use license_core::{Actor, Scope, Tenant};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::api_keys::CreatedApiKey;
use super::error::AdminError;
use super::text::Text;
use crate::auth::AdminAuth;
use crate::state::AppState;

/// Operator routes for tenants.
#[derive(Debug)]
pub struct TenantsApi;

/// A software vendor.
#[derive(Object, Debug)]
pub struct TenantDto {
    /// Its id (what the operator sends as `X-Tenant-Id`).
    pub id: Uuid,
    /// Its unique display name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<Tenant> for TenantDto {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id.as_uuid(),
            name: t.name,
            created_at: t.created_at,
        }
    }
}

/// A new tenant.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// Display name, unique across the server (1–128 characters; no control, bidirectional or
    /// invisible formatting characters).
    #[oai(validator(min_length = 1, max_length = 128))]
    pub name: Text,
}

/// A created tenant and its first admin API key.
#[derive(Object, Debug)]
pub struct CreatedTenant {
    // The tenant. (A plain comment: a doc comment would wrap the $ref in allOf, which
    // client generators turn into anonymous models.)
    pub tenant: TenantDto,
    // An API key with the admin scope; its secret is shown this once.
    pub admin_api_key: CreatedApiKey,
}

/// Every tenant.
#[derive(Object, Debug)]
pub struct TenantList {
    /// Oldest first.
    pub items: Vec<TenantDto>,
}

/// A created tenant.
#[derive(ApiResponse, Debug)]
pub enum TenantCreated {
    /// The tenant and its first admin key.
    #[oai(status = 201)]
    Created(Json<CreatedTenant>),
}

/// The tenants.
#[derive(ApiResponse, Debug)]
pub enum TenantListOk {
    /// Every tenant.
    #[oai(status = 200)]
    Ok(Json<TenantList>),
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Tenants")]
impl TenantsApi {
    /// Create a tenant (operator only)
    ///
    /// Returns the tenant and a first API key with the admin scope, whose secret is shown
    /// this once. If the key cannot be created the tenant still exists: create a key with
    /// `POST /api/v1/admin/api-keys` and `X-Tenant-Id`.
    #[oai(path = "/tenants", method = "post", operation_id = "create_tenant")]
    async fn create(
        &self,
        auth: AdminAuth,
        state: Data<&Arc<AppState>>,
        body: Json<CreateTenantRequest>,
    ) -> Result<TenantCreated, AdminError> {
        auth.0.require_operator()?;
        let tenant = state
            .admin
            .create_tenant(&body.name, &Actor::Operator)
            .await?;
        let (key, secret) = state
            .admin
            .create_api_key(
                tenant.id,
                "first admin key",
                vec![Scope::Admin],
                &Actor::Operator,
            )
            .await?;
        Ok(TenantCreated::Created(Json(CreatedTenant {
            tenant: tenant.into(),
            admin_api_key: CreatedApiKey::new(key, &secret),
        })))
    }

    /// List tenants (operator only)
    #[oai(path = "/tenants", method = "get", operation_id = "list_tenants")]
    async fn list(
        &self,
        auth: AdminAuth,
        state: Data<&Arc<AppState>>,
    ) -> Result<TenantListOk, AdminError> {
        auth.0.require_operator()?;
        let tenants = state.admin.list_tenants().await?;
        Ok(TenantListOk::Ok(Json(TenantList {
            items: tenants.into_iter().map(TenantDto::from).collect(),
        })))
    }
}
