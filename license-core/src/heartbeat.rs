//! Heartbeat: a running application renews its seat and gets a fresh token.
//!
//! On the way that succeeds there is no store call: the session comes from the replica's
//! [`SessionDirectory`](crate::hot_path::SessionDirectory), its license from the
//! [`PolicyCache`](crate::hot_path::PolicyCache), the ledger renews the seat (it is the
//! authority for liveness), and the store learns the renewal from the write-behind buffer
//! within a second. Then a signature. See ADR 0017.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::{Error, ErrorKind, Result};
use crate::events::SeatEventKind;
use crate::holder::Caller;
use crate::ids::{SessionId, TenantId};
use crate::license::License;
use crate::seat_ledger::{LedgerKey, RenewOutcome, SeatRef};
use crate::service::{Lease, LicenseService, ledger_key, seat_of, ttl_of};
use crate::session::{EndReason, Session, SessionEnd};
use crate::store::{HeartbeatRecord, HeartbeatVerdict};

/// What heartbeat can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::SessionExpired,
    // An administrator evicted the session (ADR 0025).
    ErrorKind::SessionEvicted,
    ErrorKind::LicenseInactive,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// What a heartbeat at `now` does under `license`: end the session when its license can no
/// longer keep seats (revoked, suspended, expired), else renew it for the license's TTL.
/// Whether the seat is still live is the ledger's answer, not this rule's.
///
/// ```
/// use license_core::heartbeat::verdict;
/// use license_core::store::HeartbeatVerdict;
/// use license_core::*;
///
/// let now = chrono::Utc::now();
/// let mut license = License {
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
///     require_session_secret: false,
///     rules: SeatRules::default(), policy: SeatPolicy::default(),
///     created_at: now,
///     updated_at: now,
/// };
/// assert!(matches!(verdict(&license, now), HeartbeatVerdict::Renew { .. }));
/// license.status = LicenseStatus::Suspended;
/// assert!(matches!(
///     verdict(&license, now),
///     HeartbeatVerdict::End { reason: EndReason::Revoked, .. }
/// ));
/// # Ok::<(), Error>(())
/// ```
pub fn verdict(license: &License, now: DateTime<Utc>) -> HeartbeatVerdict {
    if license.ensure_usable(now).is_err() {
        return HeartbeatVerdict::End {
            at: now,
            reason: EndReason::Revoked,
        };
    }
    HeartbeatVerdict::Renew {
        at: now,
        expires_at: now + license.lease.ttl(),
    }
}

impl LicenseService {
    /// Renews a live session's seat and returns a fresh token.
    ///
    /// Only `caller` may: the person who acquired the session (if a person did), with its
    /// secret (if it has one); anyone else gets `session_not_found`, as for an unknown id
    /// ([`holder`](crate::holder)). The check needs no store call while this replica remembers
    /// the session.
    ///
    /// Errors: see [`ERRORS`]: `session_expired` means the seat was reclaimed (acquire again);
    /// an inactive license ends the session; `unavailable` (store) when this replica could not
    /// write renewals for longer than the write lag. Emits `renewed`, `expired` or `revoked`.
    pub async fn heartbeat(
        &self,
        tenant: TenantId,
        session_id: SessionId,
        caller: &Caller,
    ) -> Result<Lease> {
        let now = self.clock.now();
        let session = self
            .directory
            .find_for(self.sessions.as_ref(), tenant, session_id, caller)
            .await?;
        if session.ended_at.is_some() {
            return Err(self.already_ended(&session).await);
        }
        if session.borrowed {
            return self.check_in(tenant, &session).await;
        }
        let license = self
            .policy
            .by_id(self.licenses.as_ref(), tenant, session.license_id)
            .await?;
        if let HeartbeatVerdict::End { reason, .. } = verdict(&license, now) {
            let ended = self.end(tenant, session_id, reason, None).await?;
            if ended.by_this_call {
                self.emit(self.session_event(&ended.session, SeatEventKind::Revoked));
            }
            return Err(license
                .ensure_usable(now)
                .err()
                .unwrap_or(Error::SessionExpired));
        }
        if self.write_behind.admit(now).is_err() {
            // The background flush is behind (or the store was down): try once here, so a
            // store that is back answers at once; if it is still down, this is the 503.
            self.flush_write_behind().await?;
            self.write_behind.admit(now)?;
        }
        let key = ledger_key(&license);
        match self
            .renew_seat(&key, seat_of(&session), ttl_of(&license))
            .await?
        {
            Some(expires_at) => {
                self.write_behind.heartbeat(HeartbeatRecord {
                    tenant_id: tenant,
                    session_id,
                    at: now,
                    expires_at,
                });
                let mut renewed = Session::clone(&session);
                renewed.last_heartbeat_at = now;
                renewed.expires_at = expires_at;
                self.emit(self.session_event(&renewed, SeatEventKind::Renewed));
                self.lease(&license, renewed, false).await
            }
            None => {
                // The ledger reclaimed the seat (it expired, or was released or revoked through
                // another replica): the store must not keep the session alive.
                let end = SessionEnd::new(now, EndReason::Expired);
                let ended = self.end_in_store(tenant, session_id, &end, None).await?;
                if ended.by_this_call {
                    // The ledger freed the seat at its expiry, before this heartbeat saw it.
                    let kind = SeatEventKind::Expired {
                        ended_at: Some(session.expires_at.min(now)),
                    };
                    self.emit(self.session_event(&ended.session, kind));
                }
                Err(ended_error(&ended.session))
            }
        }
    }

    /// A heartbeat of a session the store has already ended (the reaper, or a release through
    /// another replica): make sure the ledger does not hold its seat until the TTL (a
    /// lingering seat stays: the ledger leaves it).
    async fn already_ended(&self, session: &Session) -> Error {
        self.directory.forget(session.tenant_id, session.id);
        self.release_quietly(&crate::service::ledger_key_of(session), seat_of(session))
            .await;
        ended_error(session)
    }

    /// A heartbeat of a borrowed session: a check-in. Its seat is not renewed (the borrow
    /// keeps its end); the store says whether it was returned or revoked meanwhile (through
    /// any replica), and a live one gets a fresh token with the same expiry.
    async fn check_in(&self, tenant: TenantId, remembered: &Session) -> Result<Lease> {
        let session = self.sessions.get_session(tenant, remembered.id).await?;
        if session.ended_at.is_some() || session.expires_at <= self.clock.now() {
            self.directory.forget(tenant, session.id);
            return Err(ended_error(&session));
        }
        let license = self
            .policy
            .by_id(self.licenses.as_ref(), tenant, session.license_id)
            .await?;
        self.lease(&license, session, false).await
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

/// What a client holding an ended session is told: evicted (stop, with the reason and any
/// hold-off), or expired (acquire again).
pub(crate) fn ended_error(session: &Session) -> Error {
    match (&session.end_reason, &session.eviction) {
        (Some(EndReason::Evicted), Some(eviction)) => Error::SessionEvicted {
            reason: eviction.reason.clone(),
            until: eviction.hold_until,
        },
        _ => Error::SessionExpired,
    }
}
