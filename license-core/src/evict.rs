//! Evict: an administrator ends a session (force release), says why, and may hold its machine
//! and person off for a while, so the application cannot simply take a new seat (ADR 0025).
//! The hold-off lives in the ledger (checked by the same atomic step as every grant) and in the
//! store (restored by a rebuild).

use std::time::Duration;

use chrono::TimeDelta;

use crate::audit::{Actor, AuditEvent};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{SeatEvent, SeatEventKind};
use crate::ids::{SessionId, TenantId};
use crate::seat_ledger::{Hold, UserRef};
use crate::service::{LicenseService, ledger_key_of, seat_of};
use crate::session::{EndReason, Eviction, Session, SessionEnd, UserEmail};

/// What evict can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::InvalidInput,
    ErrorKind::NotFound,
    // The session is younger than its license's `min_hold_seconds` and `force` was not given.
    ErrorKind::Conflict,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// How an administrator evicts a session.
///
/// ```
/// use license_core::evict::EvictOptions;
/// let options = EvictOptions::hold_off(600, "licence audit: close the app");
/// assert!(options.validate().is_ok());
/// assert!(EvictOptions::hold_off(EvictOptions::MAX_HOLD_OFF_SECONDS + 1, "x").validate().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvictOptions {
    /// Seconds during which the machine (and person) may not acquire again; 0: none.
    pub hold_off_seconds: u32,
    /// Why (shown to the evicted client); a default is used when `None`.
    pub reason: Option<String>,
    /// Evict even a session younger than its license's `min_hold_seconds`.
    pub force: bool,
}

impl EvictOptions {
    /// Longest hold-off: 30 days.
    pub const MAX_HOLD_OFF_SECONDS: u32 = 30 * 86_400;
    /// Longest reason, in characters.
    pub const MAX_REASON_LEN: usize = 200;
    /// The reason given when the administrator gave none.
    pub const DEFAULT_REASON: &'static str = "evicted by an administrator";

    /// A hold-off of `seconds` for `reason`.
    pub fn hold_off(seconds: u32, reason: &str) -> Self {
        Self {
            hold_off_seconds: seconds,
            reason: Some(reason.to_owned()),
            force: false,
        }
    }

    /// Checks the fields; returns the reason to record.
    pub fn validate(&self) -> Result<String> {
        if self.hold_off_seconds > Self::MAX_HOLD_OFF_SECONDS {
            return Err(Error::invalid(
                "hold_off_seconds",
                format!("must be at most {} (30 days)", Self::MAX_HOLD_OFF_SECONDS),
            ));
        }
        match &self.reason {
            None => Ok(Self::DEFAULT_REASON.to_owned()),
            Some(reason) => {
                crate::text::parse_name("reason", reason, Self::MAX_REASON_LEN).map(str::to_owned)
            }
        }
    }
}

/// A person as hold-offs name them: the OIDC subject that acquired the session, else the
/// e-mail the client gave. `None`: nobody known (an API-key client without `user_email`).
pub(crate) fn user_ref(holder: Option<&Actor>, email: Option<&UserEmail>) -> Option<UserRef> {
    match (holder, email) {
        (Some(Actor::User(sub)), _) => Some(UserRef(format!("sub:{sub}"))),
        (_, Some(email)) => Some(UserRef(format!("email:{}", email.as_str().to_lowercase()))),
        _ => None,
    }
}

impl LicenseService {
    /// An administrator ends a session (force release), whoever holds it, and holds its
    /// machine and person off for `options.hold_off_seconds`: their acquires get
    /// [`Error::HeldOff`], the session's heartbeats [`Error::SessionEvicted`]. `audit` is
    /// written with the change. Emits `evicted` and the admin change. Evicting an ended
    /// session changes nothing and records nothing (a hold-off it had is re-applied to the
    /// ledger, so a retry after a ledger failure completes it).
    ///
    /// Errors: see [`ERRORS`].
    pub async fn evict_session(
        &self,
        tenant: TenantId,
        session_id: SessionId,
        options: &EvictOptions,
        audit: &AuditEvent,
    ) -> Result<Session> {
        let reason = options.validate()?;
        let session = self.sessions.get_session(tenant, session_id).await?;
        let now = self.clock.now();
        if session.ended_at.is_none() && !options.force {
            let license = self
                .policy
                .by_id(self.licenses.as_ref(), tenant, session.license_id)
                .await?;
            let min_hold = i64::from(license.rules.min_hold_seconds);
            let held = (now - session.acquired_at).num_seconds();
            if held < min_hold {
                return Err(Error::Conflict(format!(
                    "the session has held its seat for {held} s, less than the license's \
                     min_hold_seconds ({min_hold}); evict with force to end it anyway"
                )));
            }
        }
        let hold = Duration::from_secs(u64::from(options.hold_off_seconds));
        let end = SessionEnd {
            at: now,
            reason: EndReason::Evicted,
            linger_until: None,
            eviction: Some(Eviction {
                reason: reason.clone(),
                hold_until: (!hold.is_zero())
                    .then(|| now + TimeDelta::seconds(hold.as_secs() as i64)),
            }),
        };
        let ended = self
            .end_in_store(tenant, session_id, &end, Some(audit))
            .await?;
        let session = ended.session;
        let key = ledger_key_of(&session);
        // The hold-off the store holds for it now (this call's, or an earlier eviction's).
        let in_force = session
            .eviction
            .as_ref()
            .filter(|_| session.end_reason == Some(EndReason::Evicted))
            .and_then(|e| Some((e.hold_until?, e.reason.clone())))
            .filter(|(until, _)| *until > now);
        match in_force {
            Some((until, reason)) => {
                let hold = Hold {
                    user: user_ref(session.holder.as_ref(), session.user_email.as_ref()),
                    duration: (until - now).to_std().unwrap_or_default(),
                    reason,
                };
                self.ledger.evict(&key, seat_of(&session), &hold).await?;
            }
            None => self.ledger.release(&key, seat_of(&session)).await?,
        }
        if ended.by_this_call {
            let hold_until = session.eviction.as_ref().and_then(|e| e.hold_until);
            self.emit(self.session_event(&session, SeatEventKind::Evicted { reason, hold_until }));
            self.emit(SeatEvent::admin_change(audit));
        }
        Ok(session)
    }
}
