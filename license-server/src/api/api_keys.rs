//! Admin: a tenant's API keys — create (the secret is shown once), list, revoke.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use license_core::{ApiKey, ApiKeyId, ApiKeySecret, Scope};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::error::AdminError;
use super::text::Text;
use crate::auth::TenantAdminAuth;
use crate::state::AppState;

/// Admin routes for API keys.
#[derive(Debug)]
pub struct ApiKeysApi;

/// What a key may do.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ScopeDto {
    /// Acquire, heartbeat, release and validate seats.
    Client,
    /// Manage the tenant's licenses, sessions, keys and usage.
    Admin,
}

impl From<Scope> for ScopeDto {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::Client => ScopeDto::Client,
            Scope::Admin => ScopeDto::Admin,
        }
    }
}

impl From<ScopeDto> for Scope {
    fn from(scope: ScopeDto) -> Self {
        match scope {
            ScopeDto::Client => Scope::Client,
            ScopeDto::Admin => Scope::Admin,
        }
    }
}

/// An API key (never its secret).
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ApiKeyDto {
    /// Its id.
    pub id: Uuid,
    /// A label chosen by its creator.
    pub name: String,
    /// The first characters of its secret part, to recognise it.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<ScopeDto>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyDto {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id.as_uuid(),
            name: key.name,
            prefix: key.prefix,
            scopes: key.scopes.into_iter().map(ScopeDto::from).collect(),
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// A new API key with its secret. The secret is shown this once and never stored.
#[derive(Object, Debug)]
pub struct CreatedApiKey {
    /// The key record.
    #[oai(flatten)]
    pub key: ApiKeyDto,
    /// The whole key (`lk_<tenant>_<secret>`): send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

impl CreatedApiKey {
    /// The response for a freshly created key.
    pub fn new(key: ApiKey, secret: &ApiKeySecret) -> Self {
        Self {
            key: key.into(),
            secret: secret.expose().to_owned(),
        }
    }
}

/// A new API key.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// A label (1–128 characters; no control, bidirectional or invisible formatting
    /// characters).
    #[oai(validator(min_length = 1, max_length = 128))]
    pub name: Text,
    /// What it may do: `client`, `admin` or both.
    #[oai(validator(min_items = 1, max_items = 2))]
    pub scopes: Vec<ScopeDto>,
}

/// The tenant's API keys.
#[derive(Object, Debug)]
pub struct ApiKeyList {
    /// Oldest first, revoked ones included.
    pub items: Vec<ApiKeyDto>,
}

/// A created key.
#[derive(ApiResponse, Debug)]
pub enum ApiKeyCreated {
    /// The key and its secret, shown once.
    #[oai(status = 201)]
    Created(Json<CreatedApiKey>),
}

/// The keys.
#[derive(ApiResponse, Debug)]
pub enum ApiKeyListOk {
    /// The tenant's keys.
    #[oai(status = 200)]
    Ok(Json<ApiKeyList>),
}

/// A revoked key.
#[derive(ApiResponse, Debug)]
pub enum ApiKeyRevoked {
    /// The key no longer authenticates anything. Revoking again answers the same.
    #[oai(status = 204)]
    Revoked,
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::ApiKeys")]
impl ApiKeysApi {
    /// Create an API key
    ///
    /// The secret is in this response only; it is stored as a hash.
    #[oai(path = "/api-keys", method = "post", operation_id = "create_api_key")]
    async fn create(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        body: Json<CreateApiKeyRequest>,
    ) -> Result<ApiKeyCreated, AdminError> {
        let tenant = auth.0.tenant()?;
        let scopes = body.scopes.iter().copied().map(Scope::from).collect();
        let (key, secret) = state
            .admin
            .create_api_key(tenant, &body.name, scopes, &auth.0.actor())
            .await?;
        Ok(ApiKeyCreated::Created(Json(CreatedApiKey::new(
            key, &secret,
        ))))
    }

    /// List API keys
    #[oai(path = "/api-keys", method = "get", operation_id = "list_api_keys")]
    async fn list(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
    ) -> Result<ApiKeyListOk, AdminError> {
        let tenant = auth.0.tenant()?;
        let keys = state.admin.list_api_keys(tenant).await?;
        Ok(ApiKeyListOk::Ok(Json(ApiKeyList {
            items: keys.into_iter().map(ApiKeyDto::from).collect(),
        })))
    }

    /// Revoke an API key
    #[oai(
        path = "/api-keys/:api_key_id/revoke",
        method = "post",
        operation_id = "revoke_api_key"
    )]
    async fn revoke(
        &self,
        /// The tenant (id) the operator acts on; a tenant API key acts on its own and may omit it.
        #[oai(name = "X-Tenant-Id")]
        auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        api_key_id: Path<Uuid>,
    ) -> Result<ApiKeyRevoked, AdminError> {
        let tenant = auth.0.tenant()?;
        state
            .admin
            .revoke_api_key(tenant, ApiKeyId::from_uuid(api_key_id.0), &auth.0.actor())
            .await?;
        Ok(ApiKeyRevoked::Revoked)
    }
}
