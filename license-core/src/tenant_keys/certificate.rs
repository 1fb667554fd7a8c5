//! Key certificates: the root's signed statement "this public key signs leases for this
//! tenant until then", a compact JWS (`typ: tenant-key+jwt`) whose claims hold the key as an
//! RFC 7800 confirmation key (`cnf.jwk`). Any JOSE library checks one with the root's JWK.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ids::TenantId;
use crate::jws;
use crate::signer::{Jwks, PublicJwk, Signer};
use crate::token::TokenError;

/// The `typ` header of every key certificate.
pub const CERTIFICATE_TYPE: &str = "tenant-key+jwt";

/// What a key certificate asserts. Times are seconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateClaims {
    /// The server whose root signed it (the lease tokens' `iss`).
    pub iss: String,
    /// The tenant the key signs for.
    pub sub: TenantId,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// After this no lease signed by the key is valid.
    pub exp: i64,
    /// The certified key.
    pub cnf: Confirmation,
}

/// RFC 7800 §3.2: the key the certificate is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The tenant's public key.
    pub jwk: PublicJwk,
}

/// The root's certificate for `key`, valid from `not_before` until `expires`: one signature
/// by the root (a Cloud KMS call in production), once per key.
pub async fn certify(
    root: &dyn Signer,
    issuer: &str,
    tenant: TenantId,
    key: &PublicJwk,
    not_before: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<String> {
    let claims = CertificateClaims {
        iss: issuer.to_owned(),
        sub: tenant,
        iat: not_before.timestamp(),
        nbf: not_before.timestamp(),
        exp: expires.timestamp(),
        cnf: Confirmation { jwk: key.clone() },
    };
    jws::sign(root, CERTIFICATE_TYPE, &claims).await
}

/// Checks `certificate` against the `root` keys: signature (algorithm pinned by the root
/// key), type, issuer, tenant, validity at `now` (with `leeway_seconds` of clock skew), and
/// that the certified key's `kid` is its own thumbprint. Returns the certified key.
pub fn check_certificate(
    root: &Jwks,
    certificate: &str,
    issuer: &str,
    tenant: TenantId,
    now: DateTime<Utc>,
    leeway_seconds: i64,
) -> Result<PublicJwk, TokenError> {
    let refused = |why: String| TokenError::BadCertificate(why);
    let checked = jws::check(root, certificate)?.ok_or_else(|| {
        refused(format!(
            "signed by key {:?}, which is not a root key",
            jws::unverified_kid(certificate).unwrap_or_default()
        ))
    })?;
    if checked.header.typ.as_deref() != Some(CERTIFICATE_TYPE) {
        return Err(refused("not a key certificate".into()));
    }
    let claims: CertificateClaims = checked.claims()?;
    if claims.iss != issuer {
        return Err(refused(format!("issuer {:?} is not trusted", claims.iss)));
    }
    if claims.sub != tenant {
        return Err(TokenError::WrongAudience(claims.sub.to_string()));
    }
    let now = now.timestamp();
    if claims.exp + leeway_seconds <= now {
        return Err(refused("expired".into()));
    }
    if claims.nbf - leeway_seconds > now {
        return Err(refused("not yet valid".into()));
    }
    let key = claims.cnf.jwk;
    if key.kid != key.thumbprint() {
        return Err(refused("the key's kid is not its thumbprint".into()));
    }
    Ok(key)
}
