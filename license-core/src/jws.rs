//! Compact JWS, the part lease tokens and key certificates share: signing through the
//! [`Signer`] port, and checking a signature with the algorithm pinned by the key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::signer::{Jwks, PublicJwk, Signer, SigningAlgorithm};
use crate::token::TokenError;

#[derive(Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) typ: Option<String>,
    #[serde(default)]
    pub(crate) kid: Option<String>,
}

/// Signs `claims` with `signer` into a compact JWS of type `typ`.
pub(crate) async fn sign<T: Serialize>(
    signer: &dyn Signer,
    typ: &str,
    claims: &T,
) -> Result<String> {
    let header = Header {
        alg: signer.algorithm().as_str().to_owned(),
        typ: Some(typ.to_owned()),
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

/// A JWS whose signature checked out: its header and its payload
/// (still base64url) — nothing in it was trusted before the signature was.
pub(crate) struct Checked<'t> {
    pub(crate) header: Header,
    payload_b64: &'t str,
}

impl Checked<'_> {
    /// The payload as `T`.
    pub(crate) fn claims<T: serde::de::DeserializeOwned>(&self) -> Result<T, TokenError> {
        decode_json(self.payload_b64).ok_or_else(|| TokenError::Malformed("bad claims".into()))
    }
}

/// Parses `token`, finds its key in `keys` by `kid`, requires the header's algorithm to be
/// the one the key pins, and checks the signature. `Ok(None)` when no key has the `kid`,
/// so a caller can try another key set.
pub(crate) fn check<'t>(keys: &Jwks, token: &'t str) -> Result<Option<Checked<'t>>, TokenError> {
    let malformed = |what: &str| TokenError::Malformed(what.to_owned());
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("expected three dot-separated parts"));
    };
    let header: Header = decode_json(header_b64).ok_or_else(|| malformed("bad header"))?;
    let algorithm = SigningAlgorithm::parse(&header.alg)
        .map_err(|_| TokenError::AlgorithmNotAllowed(header.alg.clone()))?;
    let kid = header.kid.as_deref().unwrap_or_default();
    let Some(jwk) = keys.find(kid) else {
        return Ok(None);
    };
    if jwk.alg != algorithm {
        return Err(TokenError::AlgorithmMismatch {
            header: header.alg,
            key: jwk.alg.as_str().to_owned(),
        });
    }
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    let key = decoding_key(jwk)?;
    let valid = jsonwebtoken::crypto::verify(
        signature_b64,
        signing_input.as_bytes(),
        &key,
        jose_algorithm(jwk.alg),
    )
    .map_err(|_| malformed("bad signature encoding"))?;
    if !valid {
        return Err(TokenError::BadSignature);
    }
    Ok(Some(Checked {
        header,
        payload_b64,
    }))
}

/// A document a tenant's key signs (an event-log checkpoint, a usage statement): the
/// signature against `keys`, the `typ`, then the claims, whose issuer and tenant `whose`
/// reads, against `issuer` and `tenant`.
pub(crate) fn verify_tenant_document<C: serde::de::DeserializeOwned>(
    keys: &Jwks,
    jws: &str,
    typ: &str,
    issuer: &str,
    tenant: crate::ids::TenantId,
    whose: impl Fn(&C) -> (&str, crate::ids::TenantId),
) -> std::result::Result<C, TokenError> {
    let Some(checked) = check(keys, jws)? else {
        return Err(TokenError::UnknownKey(
            unverified_kid(jws).unwrap_or_default(),
        ));
    };
    let found = checked.header.typ.clone().unwrap_or_default();
    if found != typ {
        return Err(TokenError::WrongType(found));
    }
    let claims: C = checked.claims()?;
    let (iss, tid) = whose(&claims);
    if iss != issuer {
        return Err(TokenError::WrongIssuer(iss.to_owned()));
    }
    if tid != tenant {
        return Err(TokenError::WrongAudience(tid.to_string()));
    }
    Ok(claims)
}

/// The `kid` of a token's header, unverified: for error messages and key look-ups only.
pub(crate) fn unverified_kid(token: &str) -> Option<String> {
    let header: Header = decode_json(token.split('.').next()?)?;
    header.kid
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
