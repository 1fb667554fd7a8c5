//! Readiness: whether the store and the ledger answer and the tenant keys can sign.

use crate::error::{Dependency, ErrorKind, Result};
use crate::service::LicenseService;

/// What the readiness check can return.
pub const ERRORS: &[ErrorKind] = &[ErrorKind::Unavailable, ErrorKind::Internal];

/// Ready, or ready but about to stop being so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Everything answers.
    Ready,
    /// Serving, but `dependency` will soon fail (for the signer: a tenant key's certificate
    /// expires within the hour and the root could not certify a successor).
    Degraded {
        /// Which.
        dependency: Dependency,
        /// Why, for logs.
        reason: String,
    },
}

impl LicenseService {
    /// Whether the store and the ledger answer and the tenant keys can sign; the first that
    /// cannot is named. Never calls the root (Cloud KMS): a probe must cost no KMS request.
    pub async fn check_ready(&self) -> Result<Readiness> {
        self.store.ping().await?;
        self.ledger.ping().await?;
        Ok(match self.keys.health()? {
            None => Readiness::Ready,
            Some(reason) => Readiness::Degraded {
                dependency: Dependency::Signer,
                reason,
            },
        })
    }
}
