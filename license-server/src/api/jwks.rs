//! The public keys lease tokens are verified with, offline: `/.well-known/jwks.json` (the
//! root keys an application pins) and `/api/v1/tenants/{tenant_id}/jwks.json` (one tenant's
//! signing keys, each with the root's certificate).

use std::sync::Arc;

use license_core::{PublicJwk, TenantId};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::ApiTags;
use super::error::error_response;
use crate::state::AppState;

/// The key set.
#[derive(Debug)]
pub struct JwksApi;

/// A public key (RFC 7517). Verifiers pin `alg` from the key, never from the token.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct JwkDto {
    /// Key type: `OKP`, `EC` or `RSA`.
    pub kty: String,
    /// Key id, as in lease-token headers.
    pub kid: String,
    /// The one algorithm this key verifies: `EdDSA`, `ES256`, `RS256` or `PS256`.
    pub alg: String,
    /// Always `sig`.
    #[oai(rename = "use")]
    pub use_: String,
    /// Curve, for `OKP` and `EC` keys.
    pub crv: Option<String>,
    /// RSA modulus.
    pub n: Option<String>,
    /// RSA exponent.
    pub e: Option<String>,
    /// EC x coordinate, or the OKP public key.
    pub x: Option<String>,
    /// EC y coordinate.
    pub y: Option<String>,
}

impl From<PublicJwk> for JwkDto {
    fn from(k: PublicJwk) -> Self {
        Self {
            kty: k.kty,
            kid: k.kid,
            alg: k.alg.as_str().to_owned(),
            use_: k.use_,
            crv: k.crv,
            n: k.n,
            e: k.e,
            x: k.x,
            y: k.y,
        }
    }
}

/// A JWK set.
#[derive(Object, Debug)]
pub struct JwksDto {
    /// The keys.
    pub keys: Vec<JwkDto>,
}

/// How long clients and caches may keep a key set: a successor key is published half a
/// rotation (12 h by default) before it signs, far longer than this.
const CACHE_CONTROL: &str = "public, max-age=300";

/// The root key set.
#[derive(ApiResponse, Debug)]
pub enum JwksOk {
    /// The root key that certifies every tenant's signing keys, then root keys retired by a
    /// rotation whose certificates may still be live. Pin these in your application.
    #[oai(status = 200)]
    Ok(Json<JwksDto>, #[oai(header = "Cache-Control")] String),
}

/// One tenant's signing keys.
#[derive(Object, Debug)]
pub struct TenantJwksDto {
    /// The tenant.
    pub tenant_id: Uuid,
    /// Its keys: the current one, its successor once made, and retired keys whose leases
    /// may be live. Pick the key by the token's `kid`.
    pub keys: Vec<JwkDto>,
    /// The root's certificate of each key, in `keys` order: a compact JWS
    /// (`typ: tenant-key+jwt`, signed by a key of `/.well-known/jwks.json`) whose claims are
    /// `iss`, `sub` (the tenant id), `iat`, `nbf`, `exp` and `cnf.jwk` (the key). A client
    /// pinned to the root trusts only keys whose certificate checks out.
    pub certificates: Vec<String>,
}

/// A tenant's key set.
#[derive(ApiResponse, Debug)]
pub enum TenantJwksOk {
    /// The tenant's keys and their certificates (empty before its first lease).
    #[oai(status = 200)]
    Ok(Json<TenantJwksDto>, #[oai(header = "Cache-Control")] String),
}

error_response! {
    /// A missing tenant (`tenant_not_found`), or the store did not answer.
    pub enum TenantJwksError extras {}
}

#[OpenApi(tag = "ApiTags::Jwks")]
impl JwksApi {
    /// Root keys
    ///
    /// The keys that certify every tenant's signing keys: what an application pins.
    #[oai(path = "/.well-known/jwks.json", method = "get", operation_id = "jwks")]
    async fn jwks(&self, state: Data<&Arc<AppState>>) -> JwksOk {
        let keys = state
            .service
            .jwks()
            .keys
            .into_iter()
            .map(JwkDto::from)
            .collect();
        JwksOk::Ok(Json(JwksDto { keys }), CACHE_CONTROL.into())
    }

    /// A tenant's lease-signing keys
    ///
    /// The keys that sign the tenant's lease tokens, each with the root's certificate. Never
    /// another tenant's keys.
    #[oai(
        path = "/api/v1/tenants/:tenant_id/jwks.json",
        method = "get",
        operation_id = "tenant_jwks"
    )]
    async fn tenant_jwks(
        &self,
        state: Data<&Arc<AppState>>,
        /// The tenant's id.
        tenant_id: Path<Uuid>,
    ) -> Result<TenantJwksOk, TenantJwksError> {
        let published = state
            .service
            .tenant_jwks(TenantId::from(tenant_id.0))
            .await?;
        Ok(TenantJwksOk::Ok(
            Json(TenantJwksDto {
                tenant_id: published.tenant_id.as_uuid(),
                keys: published.keys.into_iter().map(JwkDto::from).collect(),
                certificates: published.certificates,
            }),
            CACHE_CONTROL.into(),
        ))
    }
}
