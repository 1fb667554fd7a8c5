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
    /// Serving, but `dependency` fails or will soon (for the signer: a tenant's key will soon
    /// not cover the longest lease, or was revoked, and the root could not certify a
    /// successor).
    Degraded {
        /// Which.
        dependency: Dependency,
        /// Why, for logs.
        reason: String,
    },
}

impl LicenseService {
    /// Whether the store and the ledger answer (the first that does not is named), and how
    /// the tenant keys stand. Never calls the root (Cloud KMS): a probe must cost no KMS
    /// request, and a root in trouble degrades readiness without failing it.
    pub async fn check_ready(&self) -> Result<Readiness> {
        self.store.ping().await?;
        self.ledger.ping().await?;
        Ok(match self.keys.health() {
            None => Readiness::Ready,
            Some(reason) => Readiness::Degraded {
                dependency: Dependency::Signer,
                reason,
            },
        })
    }
}
