//! Readiness: whether the store and the ledger answer and the tenant keys can sign.

use crate::error::{ErrorKind, Result};
use crate::service::LicenseService;

/// What the readiness check can return.
pub const ERRORS: &[ErrorKind] = &[ErrorKind::Unavailable, ErrorKind::Internal];

impl LicenseService {
    /// Whether the store and the ledger answer and the tenant keys can sign; the first that
    /// cannot is named. Never calls the root (Cloud KMS): a probe must cost no KMS request.
    pub async fn check_ready(&self) -> Result<()> {
        self.store.ping().await?;
        self.ledger.ping().await?;
        self.keys.health()
    }
}
