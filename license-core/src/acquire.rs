//! Acquire: take a seat for a machine, or give back the one it already holds.
//!
//! Store calls: one read of the license by key, one insert of the session with its usage (one
//! transaction). The ledger decides; the store records; a grant the store cannot record is
//! withdrawn from the ledger (compensation).

use chrono::{DateTime, Utc};
use tracing::warn;

use crate::error::{Error, ErrorKind, Result};
use crate::events::{DenialReason, SeatEventKind};
use crate::ids::{SessionId, TenantId};
use crate::license::{License, LicenseKey};
use crate::rebuild::{MAX_LEDGER_ATTEMPTS, kept_losing_state};
use crate::seat_ledger::{AcquireOutcome, LedgerKey, SeatRef, SeatRequest};
use crate::service::{Lease, LicenseService, ledger_key, seat_of, ttl_of};
use crate::session::{EndReason, HardwareId, Session, UserEmail};

/// What acquire can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::LicenseInactive,
    ErrorKind::NoSeatsAvailable,
    // A session-id clash in the store: practically never with v7 ids, but declared.
    ErrorKind::Conflict,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

impl LicenseService {
    /// Takes a seat on the license with `key` for the machine `hardware_id`.
    ///
    /// Idempotent per `(license, hardware_id)`: while the machine holds a live seat, a retry
    /// returns that session with a fresh token and takes no second seat
    /// ([`Lease::new_seat`] is `false`).
    ///
    /// Errors: see [`ERRORS`]. Emits `granted`, `held` or `denied`.
    pub async fn acquire(
        &self,
        tenant: TenantId,
        key: &LicenseKey,
        hardware_id: &HardwareId,
        user_email: Option<UserEmail>,
    ) -> Result<Lease> {
        let license = self.licenses.find_license_by_key(tenant, key).await?;
        if let Err(e) = license.ensure_usable(self.clock.now()) {
            if let Error::LicenseInactive(reason) = &e {
                self.emit_denial(&license, hardware_id, DenialReason::inactive(*reason));
            }
            return Err(e);
        }
        let ledger_key = ledger_key(&license);
        let ttl = ttl_of(&license);
        // This machine's session on this license, starting now.
        let start = |id: SessionId, expires_at: DateTime<Utc>| {
            Session::start(
                id,
                tenant,
                license.id,
                hardware_id.clone(),
                user_email.clone(),
                self.clock.now(),
                expires_at,
            )
        };

        for _ in 0..MAX_LEDGER_ATTEMPTS {
            let request = SeatRequest {
                session_id: SessionId::new(),
                hardware_id: hardware_id.clone(),
                limit: license.seat_limit(),
                ttl,
            };
            let outcome = self
                .with_rebuild(&ledger_key, || self.ledger.acquire(&ledger_key, &request))
                .await?;
            match outcome {
                AcquireOutcome::Rebuild => return Err(kept_losing_state()),
                AcquireOutcome::NoSeats => return Err(self.refuse(&license, hardware_id).await),
                AcquireOutcome::AlreadyHeld {
                    session_id: held,
                    expires_at,
                } => {
                    match self.existing_session(start(held, expires_at)).await? {
                        Some(session) => {
                            self.emit(self.session_event(&session, SeatEventKind::Held));
                            return self.lease(&license, session, false).await;
                        }
                        // The ledger's seat belongs to a session the store has ended: free it.
                        None => {
                            self.ledger
                                .release(&ledger_key, SeatRef::new(held, hardware_id))
                                .await?
                        }
                    }
                }
                AcquireOutcome::Granted { expires_at, in_use } => {
                    let session = start(request.session_id, expires_at);
                    if let Some(lease) = self.record_grant(&license, session, in_use).await? {
                        return Ok(lease);
                    }
                }
            }
        }
        Err(kept_losing_state())
    }

    /// Records a grant and confirms the ledger still holds it. `None`: the ledger lost it
    /// meanwhile (the session is ended again) and the caller tries once more.
    async fn record_grant(
        &self,
        license: &License,
        session: Session,
        in_use: u32,
    ) -> Result<Option<Lease>> {
        let key = ledger_key(license);
        if let Err(e) = self.sessions.insert_session(&session, in_use).await {
            self.compensate(&key, seat_of(&session)).await;
            return Err(e);
        }
        // A ledger that lost its state between our grant and the insert above may have been
        // rebuilt from a snapshot without this session. Only a seat the ledger still holds now,
        // with the session recorded, is handed out.
        if self
            .confirm(&key, seat_of(&session), ttl_of(license))
            .await?
        {
            self.emit(self.session_event(&session, SeatEventKind::Granted { in_use }));
            return self.lease(license, session, true).await.map(Some);
        }
        self.sessions
            .end_session(
                session.tenant_id,
                session.id,
                self.clock.now(),
                EndReason::Expired,
                None,
            )
            .await?;
        Ok(None)
    }

    /// Counts a refusal for the usage report and says why there is no seat.
    async fn refuse(&self, license: &License, hardware_id: &HardwareId) -> Error {
        let at = self.clock.now();
        if let Err(e) = self
            .sessions
            .record_denial(license.tenant_id, license.id, at)
            .await
        {
            // The answer stands; only the usage figure is lost.
            warn!(error = %e, license_id = %license.id, "could not record a denial");
        }
        self.emit_denial(license, hardware_id, DenialReason::NoSeats);
        Error::NoSeatsAvailable {
            limit: license.seat_limit(),
        }
    }

    fn emit_denial(&self, license: &License, hardware_id: &HardwareId, reason: DenialReason) {
        self.emit(
            crate::events::SeatEvent::new(
                self.clock.now(),
                license.tenant_id,
                SeatEventKind::Denied { reason },
            )
            .license(license.id)
            .hardware(hardware_id.as_str()),
        );
    }

    /// The session the ledger says this machine holds (`new` names it), recorded in the store
    /// if the grant was never recorded (a crash between the two). `None` when the store has
    /// ended it.
    async fn existing_session(&self, new: Session) -> Result<Option<Session>> {
        match self.sessions.get_session(new.tenant_id, new.id).await {
            Ok(session) if session.ended_at.is_none() => Ok(Some(session)),
            Ok(_) => Ok(None),
            Err(Error::NotFound(_)) => {
                self.sessions.insert_session(&new, 0).await?;
                Ok(Some(new))
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the ledger still holds a freshly recorded grant.
    async fn confirm(
        &self,
        key: &LedgerKey,
        seat: SeatRef<'_>,
        ttl: std::time::Duration,
    ) -> Result<bool> {
        let session_id = seat.session_id;
        match self.renew_seat(key, seat, ttl).await {
            Ok(held) => Ok(held.is_some()),
            Err(e) => {
                // Recorded but unconfirmed: withdraw it so a retry starts clean.
                let now = self.clock.now();
                let ended = self
                    .sessions
                    .end_session(key.tenant_id, session_id, now, EndReason::Expired, None)
                    .await;
                if let Err(end_error) = ended {
                    warn!(error = %end_error, session_id = %session_id, "could not end an unconfirmed session; the reaper will");
                }
                self.compensate(key, seat).await;
                Err(e)
            }
        }
    }
}
