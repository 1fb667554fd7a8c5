//! Revoke: an administrator ends a session (force release), recorded in the audit log in the
//! same store call.

use crate::audit::AuditEvent;
use crate::error::{ErrorKind, Result};
use crate::events::{SeatEvent, SeatEventKind};
use crate::ids::{SessionId, TenantId};
use crate::service::LicenseService;
use crate::session::{EndReason, Session};

/// What revoke can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

impl LicenseService {
    /// An administrator ends a session (force release), whoever holds it; `audit` is written
    /// with the change. Emits `revoked` and the admin change. Ending an ended session changes
    /// nothing and records nothing.
    ///
    /// Errors: see [`ERRORS`].
    pub async fn revoke_session(
        &self,
        tenant: TenantId,
        session_id: SessionId,
        audit: &AuditEvent,
    ) -> Result<Session> {
        let ended = self
            .end(tenant, session_id, EndReason::Revoked, Some(audit))
            .await?;
        if ended.by_this_call {
            self.emit(self.session_event(&ended.session, SeatEventKind::Revoked));
            self.emit(SeatEvent::admin_change(audit));
        }
        Ok(ended.session)
    }
}
