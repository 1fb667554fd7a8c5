//! Release: the application exits and gives its seat back. The session comes from the
//! replica's directory (the holder check needs it; a store read only on a miss), then one
//! store call ends it and writes the audit record, then one ledger call frees the seat.

use serde_json::json;

use crate::audit::AuditEvent;
use crate::error::{ErrorKind, Result};
use crate::events::SeatEventKind;
use crate::holder::Caller;
use crate::ids::{SessionId, TenantId};
use crate::service::LicenseService;
use crate::session::{EndReason, Session};

/// What release can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// The audit action of a release by the client.
pub const AUDIT_ACTION: &str = "session.release";

impl LicenseService {
    /// Ends a session and frees its seat. Only `caller` may, as for
    /// [`heartbeat`](Self::heartbeat); anyone else gets `session_not_found`. The audit log
    /// records the release (`session.release`, with the caller as actor) in the same store
    /// call. Idempotent: releasing again returns the same record (with the first `ended_at`)
    /// and records nothing more. Emits `released` when this call ended it.
    ///
    /// Errors: see [`ERRORS`] (`unavailable`: retry, the call is idempotent).
    pub async fn release(
        &self,
        tenant: TenantId,
        session_id: SessionId,
        caller: &Caller,
    ) -> Result<Session> {
        let session = self
            .directory
            .find_for(self.sessions.as_ref(), tenant, session_id, caller)
            .await?;
        let audit = AuditEvent::new(
            tenant,
            caller.actor.clone(),
            AUDIT_ACTION,
            format!("session:{session_id}"),
            self.clock.now(),
            json!({
                "license_id": session.license_id,
                "hardware_id": session.hardware_id.as_str(),
            }),
        );
        let ended = self
            .end(tenant, session_id, EndReason::Released, Some(&audit))
            .await?;
        if ended.by_this_call {
            self.emit(self.session_event(&ended.session, SeatEventKind::Released));
        }
        Ok(ended.session)
    }
}
