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
    /// No key in the JWKS has the header's `kid` (for a tenant's key set: the token may be
    /// another tenant's).
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
    /// The token is for another tenant (`aud` or `tid`), or names no audience.
    #[error("the lease is for tenant {0:?}, not the one expected")]
    WrongAudience(String),
    /// The token is for another license (`lic`) than the one expected.
    #[error("the lease is for license {0:?}, not the one expected")]
    WrongLicense(String),
    /// A tenant key's certificate does not check out against the root keys.
    #[error("tenant key certificate refused: {0}")]
    BadCertificate(String),
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

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::jws;
use crate::signer::{Jwks, Signer};
use crate::tenant_keys::TenantJwks;

/// The `typ` header of every lease token.
pub const TOKEN_TYPE: &str = "license+jwt";

/// What a lease token asserts. Times are seconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseClaims {
    /// The server that issued it.
    pub iss: String,
    /// The audience: the tenant whose applications may accept it (always set since tenant
    /// keys; absent only in tokens signed by the root before them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<TenantId>,
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
    /// The lease's expiry: the client must stop (or heartbeat) before it. For a borrowed
    /// seat, the borrow's end.
    pub exp: i64,
    /// The seat was granted into the license's overdraft (billable overage).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ovd: bool,
    /// The seat is borrowed for offline work until `exp`: no heartbeat is due.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub brw: bool,
}

/// Signs `claims` into a compact JWS with `signer` (the tenant's key).
pub async fn issue(signer: &dyn Signer, claims: &LeaseClaims) -> Result<String> {
    jws::sign(signer, TOKEN_TYPE, claims).await
}

/// Verifies one tenant's lease tokens offline. The algorithm is pinned by each key, never
/// taken from the token header, so `alg: none` and RSA-key-as-HMAC-secret tokens are refused;
/// a token must name the expected tenant as `aud` and `tid` (and the expected license, when
/// one is set), so a lease of another tenant never passes, whatever key signed it.
///
/// ```
/// # futures::executor::block_on(async {
/// use license_core::*;
/// use license_core::token::issue;
/// let tenant_key = LocalSigner::generate(SigningAlgorithm::EdDSA)?;
/// let (tenant, other) = (TenantId::new(), TenantId::new());
/// let now = chrono::Utc::now().timestamp();
/// let claims = LeaseClaims {
///     iss: "acme".into(), aud: Some(tenant), sub: SessionId::new(), tid: tenant,
///     lic: LicenseId::new(), hwid: "laptop-1".into(), ent: vec![], iat: now, nbf: now,
///     exp: now + 360, ovd: false, brw: false,
/// };
/// let token = issue(&tenant_key, &claims).await?;
/// let keys = Jwks { keys: vec![tenant_key.public_jwk()] };
/// let verifier = TokenVerifier::new(keys.clone(), "acme", tenant);
/// assert_eq!(verifier.verify(&token, chrono::Utc::now())?, claims);
/// // Another tenant's application refuses it, even holding the same keys.
/// let refused = TokenVerifier::new(keys, "acme", other).verify(&token, chrono::Utc::now());
/// assert!(matches!(refused, Err(TokenError::WrongAudience(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct TokenVerifier {
    keys: Jwks,
    legacy_keys: Jwks,
    issuer: String,
    tenant: TenantId,
    license: Option<LicenseId>,
    leeway_seconds: i64,
}

impl TokenVerifier {
    /// Default tolerance for clock skew between server and client.
    pub const DEFAULT_LEEWAY_SECONDS: i64 = 30;

    /// A verifier of `tenant`'s leases issued by `issuer`, trusting `keys` as they are: the
    /// tenant's keys from a source already trusted (its JWKS fetched over TLS, or keys checked
    /// with [`pinned`](Self::pinned)).
    pub fn new(keys: Jwks, issuer: impl Into<String>, tenant: TenantId) -> Self {
        Self {
            keys,
            legacy_keys: Jwks::default(),
            issuer: issuer.into(),
            tenant,
            license: None,
            leeway_seconds: Self::DEFAULT_LEEWAY_SECONDS,
        }
    }

    /// A verifier pinned to the root: trusts only the keys of `published` (the tenant's
    /// `/api/v1/tenants/{id}/jwks.json`) whose certificate verifies with a `root` key for
    /// `tenant` at `now`. Fails when the set is another tenant's or no key is certified.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use license_core::*;
    /// use license_core::tenant_keys::{TenantJwks, certify};
    /// let root = LocalSigner::generate(SigningAlgorithm::EdDSA)?;
    /// let tenant_key = LocalSigner::generate(SigningAlgorithm::EdDSA)?;
    /// let tenant = TenantId::new();
    /// let now = chrono::Utc::now();
    /// let certificate = certify(&root, "acme", tenant, &tenant_key.public_jwk(),
    ///     now, now + chrono::TimeDelta::days(2)).await?;
    /// let published = TenantJwks {
    ///     tenant_id: tenant,
    ///     keys: vec![tenant_key.public_jwk()],
    ///     certificates: vec![certificate],
    /// };
    /// let root_keys = Jwks { keys: vec![root.public_jwk()] };
    /// assert!(TokenVerifier::pinned(&root_keys, &published, "acme", tenant, now).is_ok());
    /// // A set served for one tenant never serves as another's.
    /// assert!(TokenVerifier::pinned(&root_keys, &published, "acme", TenantId::new(), now).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn pinned(
        root: &Jwks,
        published: &TenantJwks,
        issuer: impl Into<String>,
        tenant: TenantId,
        now: DateTime<Utc>,
    ) -> Result<Self, TokenError> {
        let issuer = issuer.into();
        let keys = published.certified_keys(root, &issuer, tenant, now)?;
        Ok(Self::new(keys, issuer, tenant))
    }

    /// Also requires the token's license (`lic`) to be `license`.
    pub fn for_license(mut self, license: LicenseId) -> Self {
        self.license = Some(license);
        self
    }

    /// Also accepts tokens the root signed itself before tenant keys existed (they carry no
    /// `aud`), still requiring the expected tenant as `tid`: for the server's own `validate`
    /// while such tokens may be live.
    pub fn with_legacy_keys(mut self, root: Jwks) -> Self {
        self.legacy_keys = root;
        self
    }

    /// Sets the clock-skew tolerance applied to `exp` and `nbf`.
    pub fn with_leeway_seconds(mut self, leeway_seconds: i64) -> Self {
        self.leeway_seconds = leeway_seconds.max(0);
        self
    }

    /// Checks the signature, type, issuer, audience, tenant, license and validity window of
    /// `token` at `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<LeaseClaims, TokenError> {
        let (checked, legacy) = match jws::check(&self.keys, token)? {
            Some(checked) => (checked, false),
            None => match jws::check(&self.legacy_keys, token)? {
                Some(checked) => (checked, true),
                None => {
                    return Err(TokenError::UnknownKey(
                        jws::unverified_kid(token).unwrap_or_default(),
                    ));
                }
            },
        };
        // Only now, with the signature checked, is anything else in the token trusted.
        if checked.header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(TokenError::WrongType(
                checked.header.typ.clone().unwrap_or_default(),
            ));
        }
        let claims: LeaseClaims = checked.claims()?;
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer(claims.iss));
        }
        let audience_ok = match claims.aud {
            Some(aud) => aud == self.tenant,
            None => legacy,
        };
        if !audience_ok || claims.tid != self.tenant {
            let named = claims.aud.unwrap_or(claims.tid);
            return Err(TokenError::WrongAudience(named.to_string()));
        }
        if self.license.is_some_and(|license| license != claims.lic) {
            return Err(TokenError::WrongLicense(claims.lic.to_string()));
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
