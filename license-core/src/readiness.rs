//! Readiness: whether every port answers, naming the first that does not.

use crate::error::{ErrorKind, Result};
use crate::service::LicenseService;

/// What the readiness check can return.
pub const ERRORS: &[ErrorKind] = &[ErrorKind::Unavailable, ErrorKind::Internal];

impl LicenseService {
    /// Whether the store, the ledger and the signer answer; the first that does not is named.
    pub async fn check_ready(&self) -> Result<()> {
        self.store.ping().await?;
        self.ledger.ping().await?;
        self.signer.check().await
    }
}
