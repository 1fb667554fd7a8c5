//! Admin: the tenant's lease-signing key — rotate it, revoking earlier keys after a leak.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use license_core::TenantKey;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::error::AdminError;
use crate::auth::TenantAdminAuth;
use crate::state::AppState;

/// The tenant's signing keys.
#[derive(Debug)]
pub struct SigningKeysApi;

/// What to do with the keys the new one replaces.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct RotateSigningKeyRequest {
    /// Revoke every earlier key (a leaked key): it is no longer published, so leases it
    /// signed stop verifying once clients refetch the tenant's key set. Without it, earlier
    /// keys stay published until their certificates expire.
    #[oai(default)]
    pub revoke_previous: bool,
}

/// A tenant signing key (its public half).
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct SigningKeyDto {
    /// Key id, as in lease-token headers.
    pub kid: String,
    /// 1 for the tenant's first key, then 2, 3, …
    pub generation: u32,
    /// Its algorithm.
    pub alg: String,
    /// From when it signs.
    pub activates_at: DateTime<Utc>,
    /// When its successor takes over.
    pub retires_at: DateTime<Utc>,
    /// When its certificate, and every lease it signed, expires.
    pub expires_at: DateTime<Utc>,
}

impl From<TenantKey> for SigningKeyDto {
    fn from(key: TenantKey) -> Self {
        Self {
            kid: key.kid().to_owned(),
            generation: key.generation,
            alg: key.algorithm().as_str().to_owned(),
            activates_at: key.activates_at,
            retires_at: key.retires_at,
            expires_at: key.expires_at,
        }
    }
}

/// The new key.
#[derive(ApiResponse, Debug)]
pub enum SigningKeyRotated {
    /// Made, certified and signing now on this replica; other replicas switch within
    /// `signer.tenant_key_refresh_seconds`.
    #[oai(status = 201)]
    Created(Json<SigningKeyDto>),
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::SigningKeys")]
impl SigningKeysApi {
    /// Rotate the tenant's signing key
    ///
    /// A new key signs the tenant's leases from now on. After a leak, set `revoke_previous`.
    #[oai(
        path = "/signing-keys/rotate",
        method = "post",
        operation_id = "rotate_signing_key"
    )]
    async fn rotate(
        &self,
        #[oai(name = "X-Tenant-Id")] auth: TenantAdminAuth,
        state: Data<&Arc<AppState>>,
        body: Json<RotateSigningKeyRequest>,
    ) -> Result<SigningKeyRotated, AdminError> {
        let tenant = auth.0.tenant()?;
        let key = state
            .service
            .rotate_tenant_key(tenant, body.revoke_previous, &auth.0.actor())
            .await?;
        Ok(SigningKeyRotated::Created(Json(key.into())))
    }
}
