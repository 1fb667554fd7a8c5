//! Heartbeat: a running application renews its seat and gets a fresh token.
//!
//! One store call on the way that succeeds ([`SessionStore::heartbeat_session`]: the session,
//! its license's policy and the update in one transaction), then one ledger renewal and a
//! signature. The store asks [`verdict`](crate::heartbeat::verdict) what to do, so the rule lives here and runs inside the
//! store's transaction.
//!
//! [`SessionStore::heartbeat_session`]: crate::store::SessionStore::heartbeat_session

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::{Error, ErrorKind, Result};
use crate::events::SeatEventKind;
use crate::ids::{SessionId, TenantId};
use crate::license::License;
use crate::seat_ledger::{LedgerKey, RenewOutcome, SeatRef};
use crate::service::{Lease, LicenseService, ledger_key, seat_of, ttl_of};
use crate::session::{EndReason, Session};
use crate::store::HeartbeatVerdict;

/// What heartbeat can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::SessionExpired,
    ErrorKind::LicenseInactive,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// What a heartbeat at `now` does to a live `session` of `license`: end it when its license
/// can no longer keep seats (revoked) or its expiry has passed (expired, at that expiry), else
/// renew it for the license's TTL.
///
/// ```
/// use license_core::heartbeat::verdict;
/// use license_core::store::HeartbeatVerdict;
/// use license_core::*;
///
/// let now = chrono::Utc::now();
/// let license = License {
///     id: LicenseId::new(),
///     tenant_id: TenantId::new(),
///     key: LicenseKey::generate()?,
///     product: "CAD".into(),
///     seats: SeatCount::new(1)?,
///     overdraft: 0,
///     status: LicenseStatus::Active,
///     expires_at: None,
///     lease: LeasePolicy::default(),
///     entitlements: vec![],
///     created_at: now,
///     updated_at: now,
/// };
/// let session = Session::start(
///     SessionId::new(), license.tenant_id, license.id, HardwareId::parse("pc")?, None,
///     now, now + chrono::TimeDelta::seconds(360),
/// );
/// assert!(matches!(verdict(&session, &license, now), HeartbeatVerdict::Renew { .. }));
/// let late = now + chrono::TimeDelta::seconds(360);
/// assert!(matches!(
///     verdict(&session, &license, late),
///     HeartbeatVerdict::End { reason: EndReason::Expired, .. }
/// ));
/// # Ok::<(), Error>(())
/// ```
pub fn verdict(session: &Session, license: &License, now: DateTime<Utc>) -> HeartbeatVerdict {
    if license.ensure_usable(now).is_err() {
        return HeartbeatVerdict::End {
            at: now,
            reason: EndReason::Revoked,
        };
    }
    if session.expires_at <= now {
        return HeartbeatVerdict::End {
            at: session.expires_at,
            reason: EndReason::Expired,
        };
    }
    let ttl = TimeDelta::seconds(i64::from(license.lease.ttl_seconds()));
    HeartbeatVerdict::Renew {
        at: now,
        expires_at: now + ttl,
    }
}

impl LicenseService {
    /// Renews a live session's seat and returns a fresh token.
    ///
    /// Errors: see [`ERRORS`]: `session_expired` means the seat was reclaimed (acquire again);
    /// an inactive license ends the session. Emits `renewed`, `expired` or `revoked`.
    pub async fn heartbeat(&self, tenant: TenantId, session_id: SessionId) -> Result<Lease> {
        let now = self.clock.now();
        let rule = |session: &Session, license: &License| verdict(session, license, now);
        let beat = match self
            .sessions
            .heartbeat_session(tenant, session_id, &rule)
            .await
        {
            Ok(beat) => beat,
            Err(Error::SessionExpired) => return Err(self.already_ended(tenant, session_id).await),
            Err(e) => return Err(e),
        };
        let key = ledger_key(&beat.license);
        match beat.verdict {
            HeartbeatVerdict::End { reason, .. } => {
                self.release_quietly(&key, seat_of(&beat.session)).await;
                let kind = match reason {
                    EndReason::Revoked => SeatEventKind::Revoked,
                    _ => SeatEventKind::Expired,
                };
                self.emit(self.session_event(&beat.session, kind));
                match beat.license.ensure_usable(now) {
                    Err(inactive) => Err(inactive),
                    Ok(()) => Err(Error::SessionExpired),
                }
            }
            HeartbeatVerdict::Renew { .. } => {
                match self
                    .renew_seat(&key, seat_of(&beat.session), ttl_of(&beat.license))
                    .await?
                {
                    Some(_) => {
                        self.emit(self.session_event(&beat.session, SeatEventKind::Renewed));
                        self.lease(&beat.license, beat.session, false).await
                    }
                    None => {
                        // The ledger reclaimed the seat (its clock ran ahead of ours, or it was
                        // rebuilt without it): the store must not keep it alive.
                        let ended = self
                            .sessions
                            .end_session(tenant, session_id, now, EndReason::Expired, None)
                            .await?;
                        self.emit(self.session_event(&ended.session, SeatEventKind::Expired));
                        Err(Error::SessionExpired)
                    }
                }
            }
        }
    }

    /// A heartbeat of a session the store has already ended (the reaper on a clock ahead of
    /// the ledger's, say): make sure the ledger does not hold its seat until the TTL.
    async fn already_ended(&self, tenant: TenantId, session_id: SessionId) -> Error {
        if let Ok(session) = self.sessions.get_session(tenant, session_id).await {
            self.release_quietly(&crate::service::ledger_key_of(&session), seat_of(&session))
                .await;
        }
        Error::SessionExpired
    }

    /// Renews in the ledger, rebuilding it first if it lost its state. `None`: no seat held.
    pub(crate) async fn renew_seat(
        &self,
        key: &LedgerKey,
        seat: SeatRef<'_>,
        ttl: Duration,
    ) -> Result<Option<DateTime<Utc>>> {
        let answer = self
            .with_rebuild(key, || self.ledger.renew(key, seat, ttl))
            .await?;
        Ok(match answer {
            RenewOutcome::Renewed { expires_at } => Some(expires_at),
            RenewOutcome::Expired => None,
            RenewOutcome::Rebuild => return Err(crate::rebuild::kept_losing_state()),
        })
    }
}
