//! Offline verification of lease tokens, pinned to one tenant's key set and, when given, the
//! root key set that certifies it — license-core's [`TokenVerifier`] with the inputs an
//! application ships (JSON documents), plus entitlement checks.

use chrono::{DateTime, Utc};
use license_core::{Jwks, LeaseClaims, TenantId, TenantJwks, TokenVerifier};

use crate::error::Error;

/// The issuer the server names in its tokens unless configured otherwise (`issuer`).
pub const DEFAULT_ISSUER: &str = "license-server";

/// Verifies lease tokens offline for one tenant.
#[derive(Debug, Clone)]
pub struct Verifier {
    tenant: TenantId,
    inner: TokenVerifier,
}

impl Verifier {
    /// A verifier from the tenant's key set as the server publishes it
    /// (`/api/v1/tenants/{id}/jwks.json`: `tenant_id`, `keys`, `certificates`) and, optionally,
    /// the root key set (`/.well-known/jwks.json`). With the root, only tenant keys whose
    /// certificate the root signed are trusted (checked at `now`); without it, the tenant's
    /// keys are trusted as read. Tokens must name the key set's tenant and `issuer`.
    pub fn from_json(
        tenant_key_set: &str,
        root_key_set: Option<&str>,
        issuer: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, Error> {
        let published: TenantJwks = serde_json::from_str(tenant_key_set).map_err(|e| {
            Error::Config(format!(
                "the tenant key set is not a tenant's published JWK set: {e}"
            ))
        })?;
        let tenant = published.tenant_id;
        let inner = match root_key_set {
            Some(root) => {
                let root: Jwks = serde_json::from_str(root).map_err(|e| {
                    Error::Config(format!("the root key set is not a JWK set: {e}"))
                })?;
                TokenVerifier::pinned(&root, &published, issuer, tenant, now)
                    .map_err(|e| Error::InvalidToken(e.to_string()))?
            }
            None => TokenVerifier::new(published.jwks(), issuer, tenant),
        };
        Ok(Self { tenant, inner })
    }

    /// The tenant whose tokens this verifier accepts.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// Checks `token` (signature with the algorithm pinned by the key, type, issuer, tenant,
    /// validity window) at `now`. Pass the real time: a `now` past the token's `exp` fails,
    /// which is how a clock jump forward ends an offline grace period.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<LeaseClaims, Error> {
        self.inner
            .verify(token.trim(), now)
            .map_err(|e| Error::InvalidToken(e.to_string()))
    }

    /// Whether `token` verifies at `now` and grants `entitlement`.
    pub fn has_entitlement(
        &self,
        token: &str,
        entitlement: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        Ok(self
            .verify(token, now)?
            .ent
            .iter()
            .any(|granted| granted == entitlement))
    }
}
