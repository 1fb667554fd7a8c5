//! Keys: the public keys clients verify lease tokens with (the JWKS), including keys retired
//! by a rotation that still verify tokens they signed.

use crate::error::ErrorKind;
use crate::service::LicenseService;
use crate::signer::{Jwks, PublicJwk};
use crate::token::TokenVerifier;

/// What publishing the keys can return: nothing, it reads memory.
pub const ERRORS: &[ErrorKind] = &[];

impl LicenseService {
    /// Keeps publishing keys that signed before a rotation: they are listed in
    /// [`jwks`](Self::jwks) after the current key and [`validate`](Self::validate) accepts the
    /// tokens they signed until those expire. A retired key with the current key's `kid` is
    /// dropped.
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
        let current = self.signer.key_id().to_owned();
        let mut retired: Vec<PublicJwk> = Vec::with_capacity(keys.len());
        for key in keys {
            if key.kid != current && !retired.iter().any(|k| k.kid == key.kid) {
                retired.push(key);
            }
        }
        self.retired_keys = retired;
        self
    }

    /// The public keys clients verify lease tokens with: the signer's, then the retired ones.
    pub fn jwks(&self) -> Jwks {
        let mut keys = Vec::with_capacity(1 + self.retired_keys.len());
        keys.push(self.signer.public_jwk());
        keys.extend(self.retired_keys.iter().cloned());
        Jwks { keys }
    }

    /// A verifier for this server's tokens.
    pub fn verifier(&self) -> TokenVerifier {
        TokenVerifier::new(self.jwks(), self.issuer.clone())
    }
}
