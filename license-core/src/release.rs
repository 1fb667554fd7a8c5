//! Release: the application exits and gives its seat back. One store call (end the session,
//! which returns it), then one ledger call (free the seat).

use crate::error::{ErrorKind, Result};
use crate::events::SeatEventKind;
use crate::ids::{SessionId, TenantId};
use crate::service::LicenseService;
use crate::session::{EndReason, Session};

/// What release can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

impl LicenseService {
    /// Ends a session and frees its seat. Idempotent: releasing again returns the same record
    /// (with the first `ended_at`). Emits `released` when this call ended it.
    ///
    /// Errors: see [`ERRORS`] (`unavailable`: retry, the call is idempotent).
    pub async fn release(&self, tenant: TenantId, session_id: SessionId) -> Result<Session> {
        let ended = self
            .end(tenant, session_id, EndReason::Released, None)
            .await?;
        if ended.by_this_call {
            self.emit(self.session_event(&ended.session, SeatEventKind::Released));
        }
        Ok(ended.session)
    }
}
