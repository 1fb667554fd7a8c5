//! Keys: what clients verify lease tokens with. `/.well-known/jwks.json` publishes the root
//! (and root keys retired by a rotation); each tenant's own set lists its signing keys with
//! the root's certificate for each.

use crate::audit::Actor;
use crate::error::{ErrorKind, Result};
use crate::ids::TenantId;
use crate::service::LicenseService;
use crate::signer::{Jwks, PublicJwk};
use crate::tenant_keys::{TenantJwks, TenantKey};
use crate::token::TokenVerifier;

/// What publishing the root keys can return: nothing, it reads memory.
pub const ERRORS: &[ErrorKind] = &[];

/// What an administrator's rotation of a tenant's key can return.
pub const ROTATE_ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::Conflict,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// What publishing a tenant's keys can return.
pub const TENANT_ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

impl LicenseService {
    /// Keeps publishing root keys that certified before a rotation: they are listed in
    /// [`jwks`](Self::jwks) after the current root, so certificates (and tokens the root
    /// signed itself before tenant keys) they signed keep verifying. A retired key with the
    /// current root's `kid` is dropped.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use license_core::{memory, *};
    ///
    /// let clock = Arc::new(SystemClock);
    /// let old = LocalSigner::generate(SigningAlgorithm::EdDSA)?;
    /// let new = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA)?);
    /// let service = LicenseService::new(
    ///     Arc::new(memory::MemoryStore::default()),
    ///     Arc::new(memory::MemoryLedger::new(clock.clone())),
    ///     new.clone(),
    ///     clock,
    ///     "acme",
    /// )
    /// .with_retired_keys(vec![old.public_jwk(), new.public_jwk()]);
    /// let kids: Vec<_> = service.jwks().keys.into_iter().map(|k| k.kid).collect();
    /// assert_eq!(kids, [new.key_id(), old.key_id()]);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn with_retired_keys(mut self, keys: Vec<PublicJwk>) -> Self {
        let current = self.root.key_id().to_owned();
        let mut retired: Vec<PublicJwk> = Vec::with_capacity(keys.len());
        for key in keys {
            if key.kid != current && !retired.iter().any(|k| k.kid == key.kid) {
                retired.push(key);
            }
        }
        self.retired_keys = retired;
        self
    }

    /// The root keys clients pin: the current root, then retired ones.
    pub fn jwks(&self) -> Jwks {
        let mut keys = Vec::with_capacity(1 + self.retired_keys.len());
        keys.push(self.root.public_jwk());
        keys.extend(self.retired_keys.iter().cloned());
        Jwks { keys }
    }

    /// `tenant`'s signing keys, each with the root's certificate: what its applications
    /// verify leases with. Never makes a key; `NotFound(Tenant)` for a missing tenant.
    pub async fn tenant_jwks(&self, tenant: TenantId) -> Result<TenantJwks> {
        self.keys.published(tenant).await
    }

    /// An administrator's rotation of `tenant`'s signing key: a new key signs from now on;
    /// with `revoke_previous` (a leaked key) every earlier key is revoked first and no longer
    /// published. Returns the new key. Audited.
    pub async fn rotate_tenant_key(
        &self,
        tenant: TenantId,
        revoke_previous: bool,
        actor: &Actor,
    ) -> Result<TenantKey> {
        self.keys.rotate(tenant, revoke_previous, actor).await
    }

    /// A verifier of `tenant`'s tokens as this server issues them: the tenant's keys, and the
    /// root keys for tokens the root signed itself before tenant keys existed.
    pub async fn verifier(&self, tenant: TenantId) -> Result<TokenVerifier> {
        let keys = self.keys.tenant_jwks(tenant).await?;
        Ok(TokenVerifier::new(keys, self.issuer.clone(), tenant).with_legacy_keys(self.jwks()))
    }
}
