//! [`TenantKey`]: one tenant signing key as the store keeps it — the public key, the root's
//! certificate for it, and the private key wrapped by a [`KeyWrapper`](super::KeyWrapper).

use chrono::{DateTime, Utc};

use crate::ids::TenantId;
use crate::signer::{PublicJwk, SigningAlgorithm};

/// A tenant's signing key, as stored. Every time is set when the key is made; only
/// `revoked_at` changes later.
///
/// A key signs leases from `activates_at` until its successor activates (normally at
/// `retires_at`); its certificate, and so every token it signed, stays valid until
/// `expires_at` (the timeline is in ADR 0019, `docs/adr/0019-tenant-signing-keys.md`).
#[derive(Clone, PartialEq, Eq)]
pub struct TenantKey {
    /// The tenant it signs for, and only for.
    pub tenant_id: TenantId,
    /// 1 for the tenant's first key, then 2, 3, …: at most one key per generation, so two
    /// replicas making the next key at once cannot both succeed.
    pub generation: u32,
    /// The public key; its `kid` (the RFC 7638 thumbprint) is unique across tenants.
    pub public_jwk: PublicJwk,
    /// The root's certificate for the key: a compact JWS (`typ: tenant-key+jwt`).
    pub certificate: String,
    /// The private key (PKCS#8 DER) encrypted by the wrapper named by `wrapped_by`.
    pub wrapped_private_key: Vec<u8>,
    /// The [`KeyWrapper::id`](super::KeyWrapper::id) that wrapped it.
    pub wrapped_by: String,
    /// When it was made and published.
    pub created_at: DateTime<Utc>,
    /// From when it signs.
    pub activates_at: DateTime<Utc>,
    /// When its successor takes over (it keeps signing past this only while no successor
    /// could be made).
    pub retires_at: DateTime<Utc>,
    /// Its certificate's `exp`: no token it signs outlives it.
    pub expires_at: DateTime<Utc>,
    /// Set when an administrator revoked it (a leak): it signs nothing more and is no longer
    /// published, so tokens it signed stop verifying.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TenantKey {
    /// The key id (`kid`).
    pub fn kid(&self) -> &str {
        &self.public_jwk.kid
    }

    /// The algorithm its signatures use.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.public_jwk.alg
    }

    /// Whether it is revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// Never prints the wrapped private key.
impl std::fmt::Debug for TenantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantKey")
            .field("tenant_id", &self.tenant_id)
            .field("generation", &self.generation)
            .field("kid", &self.public_jwk.kid)
            .field("wrapped_by", &self.wrapped_by)
            .field("activates_at", &self.activates_at)
            .field("retires_at", &self.retires_at)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}
