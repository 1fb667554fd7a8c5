//! Flush: the write-behind buffer (renewals and usage peaks) goes to the store in one call.
//! The server runs it every second and once more at shutdown.

use crate::error::{ErrorKind, Result};
use crate::service::LicenseService;

/// What a flush can return.
pub const ERRORS: &[ErrorKind] = &[ErrorKind::Unavailable, ErrorKind::Internal];

impl LicenseService {
    /// Writes every buffered renewal and peak to the store in one transaction and says how many
    /// renewals it wrote. On failure they stay buffered for the next flush (and once the oldest
    /// has waited longer than the write lag, heartbeats answer `unavailable`).
    ///
    /// Errors: see [`ERRORS`].
    pub async fn flush_write_behind(&self) -> Result<usize> {
        // Another flush is writing: what it does not take, the next one will.
        let Some((batch, since)) = self.write_behind.take() else {
            return Ok(0);
        };
        if batch.is_empty() {
            self.write_behind.flushed();
            return Ok(0);
        }
        let renewals = batch.heartbeats.len();
        match self.sessions.flush_write_behind(&batch).await {
            Ok(()) => {
                self.write_behind.flushed();
                Ok(renewals)
            }
            Err(e) => {
                self.write_behind.restore(batch, since);
                Err(e)
            }
        }
    }
}
