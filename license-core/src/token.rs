//! Lease tokens: compact JWS (`typ: license+jwt`) issued on acquire and heartbeat.

/// Why a lease token was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header names an algorithm the server never signs with (`none`, `HS256`, …).
    #[error("algorithm {0:?} is not accepted")]
    AlgorithmNotAllowed(String),
    /// No key in the JWKS has the header's `kid`.
    #[error("unknown key id {0:?}")]
    UnknownKey(String),
    /// The header's algorithm is not the one pinned by the key.
    #[error("algorithm {header} does not match the key's {key}")]
    AlgorithmMismatch {
        /// From the token header.
        header: String,
        /// From the JWK.
        key: String,
    },
    /// The signature does not verify: the token was altered or signed by another key.
    #[error("signature does not verify")]
    BadSignature,
    /// `typ` is not `license+jwt`.
    #[error("not a lease token (typ {0:?})")]
    WrongType(String),
    /// `iss` differs from the expected issuer.
    #[error("issuer {0:?} is not trusted")]
    WrongIssuer(String),
    /// `exp` is past.
    #[error("lease expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("lease not yet valid")]
    NotYetValid,
    /// The JWK cannot be used (unsupported type or bad encoding).
    #[error("unusable key: {0}")]
    BadKey(String),
}

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::signer::{Jwks, PublicJwk, Signer, SigningAlgorithm};

/// The `typ` header of every lease token.
pub const TOKEN_TYPE: &str = "license+jwt";

/// What a lease token asserts. Times are seconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseClaims {
    /// The server that issued it.
    pub iss: String,
    /// The session holding the seat.
    pub sub: SessionId,
    /// The tenant.
    pub tid: TenantId,
    /// The license.
    pub lic: LicenseId,
    /// The machine holding the seat.
    pub hwid: String,
    /// Features granted.
    #[serde(default)]
    pub ent: Vec<String>,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// The lease's expiry: the client must stop (or heartbeat) before it.
    pub exp: i64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

/// Signs `claims` into a compact JWS with `signer`.
pub async fn issue(signer: &dyn Signer, claims: &LeaseClaims) -> Result<String> {
    let header = Header {
        alg: signer.algorithm().as_str().to_owned(),
        typ: Some(TOKEN_TYPE.to_owned()),
        kid: Some(signer.key_id().to_owned()),
    };
    let mut token = b64_json(&header)?;
    token.push('.');
    token.push_str(&b64_json(claims)?);
    let signature = signer.sign(token.as_bytes()).await?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(token)
}

fn b64_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_vec(value)
        .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
        .map_err(|e| Error::Internal(format!("token serialisation: {e}")))
}

/// Verifies lease tokens offline against a JWKS. The algorithm is pinned by each key, never
/// taken from the token header, so `alg: none` and RSA-key-as-HMAC-secret tokens are refused.
///
/// ```
/// # futures::executor::block_on(async {
/// use license_core::*;
/// use license_core::token::issue;
/// let signer = LocalSigner::generate(SigningAlgorithm::EdDSA)?;
/// let now = chrono::Utc::now().timestamp();
/// let claims = LeaseClaims {
///     iss: "acme".into(), sub: SessionId::new(), tid: TenantId::new(), lic: LicenseId::new(),
///     hwid: "laptop-1".into(), ent: vec![], iat: now, nbf: now, exp: now + 360,
/// };
/// let token = issue(&signer, &claims).await?;
/// let verifier = TokenVerifier::new(Jwks { keys: vec![signer.public_jwk()] }, "acme");
/// assert_eq!(verifier.verify(&token, chrono::Utc::now())?, claims);
/// # Ok::<(), license_core::Error>(()) }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct TokenVerifier {
    jwks: Jwks,
    issuer: String,
    leeway_seconds: i64,
}

impl TokenVerifier {
    /// Default tolerance for clock skew between server and client.
    pub const DEFAULT_LEEWAY_SECONDS: i64 = 30;

    /// A verifier trusting `jwks`, accepting only tokens issued by `issuer`.
    pub fn new(jwks: Jwks, issuer: impl Into<String>) -> Self {
        Self {
            jwks,
            issuer: issuer.into(),
            leeway_seconds: Self::DEFAULT_LEEWAY_SECONDS,
        }
    }

    /// Sets the clock-skew tolerance applied to `exp` and `nbf`.
    pub fn with_leeway_seconds(mut self, leeway_seconds: i64) -> Self {
        self.leeway_seconds = leeway_seconds.max(0);
        self
    }

    /// Checks the signature, type, issuer and validity window of `token` at `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<LeaseClaims, TokenError> {
        let malformed = |what: &str| TokenError::Malformed(what.to_owned());
        let mut parts = token.split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("expected three dot-separated parts"));
        };
        let header: Header = decode_json(header_b64).ok_or_else(|| malformed("bad header"))?;
        let algorithm = SigningAlgorithm::parse(&header.alg)
            .map_err(|_| TokenError::AlgorithmNotAllowed(header.alg.clone()))?;
        let kid = header.kid.as_deref().unwrap_or_default();
        let jwk = self
            .jwks
            .find(kid)
            .ok_or_else(|| TokenError::UnknownKey(kid.to_owned()))?;
        if jwk.alg != algorithm {
            return Err(TokenError::AlgorithmMismatch {
                header: header.alg,
                key: jwk.alg.as_str().to_owned(),
            });
        }
        let signing_input_len = header_b64.len() + 1 + claims_b64.len();
        let signing_input = &token.as_bytes()[..signing_input_len];
        let key = decoding_key(jwk)?;
        let valid = jsonwebtoken::crypto::verify(
            signature_b64,
            signing_input,
            &key,
            jose_algorithm(jwk.alg),
        )
        .map_err(|_| malformed("bad signature encoding"))?;
        if !valid {
            return Err(TokenError::BadSignature);
        }
        // Only now, with the signature checked, is anything else in the token trusted.
        if header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(TokenError::WrongType(header.typ.unwrap_or_default()));
        }
        let claims: LeaseClaims = decode_json(claims_b64).ok_or_else(|| malformed("bad claims"))?;
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer(claims.iss));
        }
        let now = now.timestamp();
        if claims.exp + self.leeway_seconds <= now {
            return Err(TokenError::Expired);
        }
        if claims.nbf - self.leeway_seconds > now {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(b64: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(b64).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn jose_algorithm(alg: SigningAlgorithm) -> Algorithm {
    match alg {
        SigningAlgorithm::EdDSA => Algorithm::EdDSA,
        SigningAlgorithm::RS256 => Algorithm::RS256,
        SigningAlgorithm::PS256 => Algorithm::PS256,
        SigningAlgorithm::ES256 => Algorithm::ES256,
    }
}

fn decoding_key(jwk: &PublicJwk) -> Result<DecodingKey, TokenError> {
    let member = |v: &Option<String>, name: &str| {
        v.clone()
            .ok_or_else(|| TokenError::BadKey(format!("{} key without {name}", jwk.kty)))
    };
    let expected_kty = match jwk.alg {
        SigningAlgorithm::EdDSA => "OKP",
        SigningAlgorithm::RS256 | SigningAlgorithm::PS256 => "RSA",
        SigningAlgorithm::ES256 => "EC",
    };
    if jwk.kty != expected_kty {
        return Err(TokenError::BadKey(format!(
            "{} key cannot verify {}",
            jwk.kty, jwk.alg
        )));
    }
    let bad = |e: jsonwebtoken::errors::Error| TokenError::BadKey(e.to_string());
    match jwk.alg {
        SigningAlgorithm::EdDSA => {
            DecodingKey::from_ed_components(&member(&jwk.x, "x")?).map_err(bad)
        }
        SigningAlgorithm::RS256 | SigningAlgorithm::PS256 => {
            DecodingKey::from_rsa_components(&member(&jwk.n, "n")?, &member(&jwk.e, "e")?)
                .map_err(bad)
        }
        SigningAlgorithm::ES256 => {
            DecodingKey::from_ec_components(&member(&jwk.x, "x")?, &member(&jwk.y, "y")?)
                .map_err(bad)
        }
    }
}
