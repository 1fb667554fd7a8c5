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
use crate::service::{ledger_key_of, seat_of};
use crate::session::{EndReason, Session, SessionEnd};
use crate::tenant_keys::timeline::delta;

/// What release can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// The audit action of a release by the client.
pub const AUDIT_ACTION: &str = "session.release";

impl LicenseService {
    /// The audit record of a client ending its own `session` (`action`: a release or a
    /// return), with the caller as actor.
    pub(crate) fn client_end_audit(
        &self,
        caller: &Caller,
        action: &str,
        session: &Session,
    ) -> AuditEvent {
        AuditEvent::new(
            session.tenant_id,
            caller.actor.clone(),
            action,
            format!("session:{}", session.id),
            self.clock.now(),
            json!({
                "license_id": session.license_id,
                "hardware_id": session.hardware_id.as_str(),
            }),
        )
    }

    /// Ends a session and frees its seat. Only `caller` may, as for
    /// [`heartbeat`](Self::heartbeat); anyone else gets `session_not_found`. The audit log
    /// records the release (`session.release`, with the caller as actor) in the same store
    /// call. Idempotent: releasing again returns the same record (with the first `ended_at`)
    /// and records nothing more. Emits `released` when this call ended it. Under a license
    /// with `linger_seconds` the seat stays this machine's that long (ADR 0025).
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
        let audit = self.client_end_audit(caller, AUDIT_ACTION, &session);
        let license = self
            .policy
            .by_id(self.licenses.as_ref(), tenant, session.license_id)
            .await?;
        let linger = license.rules.linger_seconds;
        let ended = if linger == 0 || session.borrowed {
            self.end(tenant, session_id, EndReason::Released, Some(&audit))
                .await?
        } else {
            // The seat stays this machine's for the linger (ADR 0025). The ledger goes first
            // here: only a seat that is still live may linger, and only the ledger knows. The
            // store then records the linger (a rebuild restores it) — or, if the seat was gone
            // (expired, or another session holds the machine's seat), no linger at all, so a
            // rebuild can never revive a seat that was free.
            let linger = std::time::Duration::from_secs(u64::from(linger));
            let now = self.clock.now();
            let lingers = self
                .ledger
                .linger(&ledger_key_of(&session), seat_of(&session), linger)
                .await?;
            let end = SessionEnd {
                linger_until: lingers.then(|| now + delta(linger)),
                ..SessionEnd::new(now, EndReason::Released)
            };
            let ended = self
                .end_in_store(tenant, session_id, &end, Some(&audit))
                .await?;
            if !lingers {
                // As any release: free whatever the session still holds (a lingering seat
                // is left alone by the ledger, so a repeated release cannot cut it short).
                self.ledger
                    .release(&ledger_key_of(&ended.session), seat_of(&ended.session))
                    .await?;
            }
            ended
        };
        if ended.by_this_call {
            self.emit(self.session_event(&ended.session, SeatEventKind::Released));
        }
        Ok(ended.session)
    }
}
