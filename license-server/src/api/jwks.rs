//! `/.well-known/jwks.json`: the public keys lease tokens are verified with, offline.

use std::sync::Arc;

use license_core::PublicJwk;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
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

/// The key set.
#[derive(ApiResponse, Debug)]
pub enum JwksOk {
    /// The key that signs lease tokens now, then keys retired by a rotation whose tokens may
    /// still be live. Pick the key by the token's `kid`.
    #[oai(status = 200)]
    Ok(Json<JwksDto>),
}

#[OpenApi(tag = "ApiTags::Jwks")]
impl JwksApi {
    /// Lease-token verification keys
    #[oai(path = "/.well-known/jwks.json", method = "get", operation_id = "jwks")]
    async fn jwks(&self, state: Data<&Arc<AppState>>) -> JwksOk {
        let keys = state
            .service
            .jwks()
            .keys
            .into_iter()
            .map(JwkDto::from)
            .collect();
        JwksOk::Ok(Json(JwksDto { keys }))
    }
}
