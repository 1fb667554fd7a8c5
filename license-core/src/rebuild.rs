//! A ledger that lost its state (Redis restarted without persistence, failed over, flushed)
//! answers `Rebuild`: the license's seats are restored from the store's live sessions and the
//! call is tried again. Every ledger call of the use cases goes through `with_rebuild`; this
//! module also holds the one use case that is nothing but such a call,
//! [`live_seats`](LicenseService::live_seats).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::error::{Dependency, Error, ErrorKind, Result};
use crate::events::SeatEvent;
use crate::events::SeatEventKind;
use crate::evict::user_ref;
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::license::LeasePolicy;
use crate::seat_ledger::{AcquireOutcome, HoldOff, LedgerKey, LiveCount, RenewOutcome, SeatKind};
use crate::service::{LicenseService, ledger_key, ttl_of};
use crate::session::{HardwareId, LiveSeat};
use crate::wait::POLL_WITHIN;

/// Most records of ended waits one rebuild deletes (the reaper deletes the rest).
const EXPIRED_TICKETS_PER_REBUILD: u32 = 1_000;

/// How often one call may meet a ledger that lost its state before giving up. Each rebuild
/// initialises the ledger, so a second `Rebuild` in a row means it is losing state repeatedly.
pub(crate) const MAX_LEDGER_ATTEMPTS: usize = 3;

/// What `live_seats` can return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// A ledger answer that may ask for a rebuild.
pub(crate) trait LedgerAnswer {
    /// Whether the ledger lost this license's state.
    fn needs_rebuild(&self) -> bool;
}

impl LedgerAnswer for AcquireOutcome {
    fn needs_rebuild(&self) -> bool {
        matches!(self, AcquireOutcome::Rebuild)
    }
}

impl LedgerAnswer for RenewOutcome {
    fn needs_rebuild(&self) -> bool {
        matches!(self, RenewOutcome::Rebuild)
    }
}

impl LedgerAnswer for LiveCount {
    fn needs_rebuild(&self) -> bool {
        matches!(self, LiveCount::Rebuild)
    }
}

/// The error once the ledger has lost its state on every attempt.
pub(crate) fn kept_losing_state() -> Error {
    Error::unavailable(Dependency::Ledger, "the seat ledger kept losing its state")
}

impl LicenseService {
    /// Runs `call` against the ledger; while it answers `Rebuild`, restores the license's
    /// seats from the store and tries again, at most [`MAX_LEDGER_ATTEMPTS`] times.
    pub(crate) async fn with_rebuild<T, F, Fut>(&self, key: &LedgerKey, mut call: F) -> Result<T>
    where
        T: LedgerAnswer,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        for _ in 0..MAX_LEDGER_ATTEMPTS {
            let answer = call().await?;
            if !answer.needs_rebuild() {
                return Ok(answer);
            }
            self.rebuild(key).await?;
        }
        Err(kept_losing_state())
    }

    /// Restores a license's seats from the store: every session the store cannot prove dead,
    /// each until the latest moment its seat could still be live (its stored expiry plus the
    /// write-behind slack: see [`HotPathConfig::proof_slack`](crate::hot_path::HotPathConfig::proof_slack)).
    ///
    /// A session whose stored expiry is still ahead is restored as itself (it is live; its
    /// client renews as usual). One whose stored expiry has passed may be a client whose last
    /// renewals were lost with a crashed replica, or a zombie whose seat the ledger had already
    /// given to someone else: it is restored as a *shadow* that counts against the seats but
    /// that no heartbeat or retry can take back (its client acquires again), so a zombie is
    /// never revived over the limit. So is every live session of a machine but its oldest (a
    /// newer one is an acquire in flight, which must find the older one held), sessions whose
    /// grant is on record ([`confirmed`](crate::Session::confirmed)) before those without
    /// (the record of an acquire that never got its seat must not push out a lease). See
    /// ADR 0017.
    /// Borrowed seats come back borrowed; released seats still lingering, and eviction
    /// hold-offs still in force, come back too (ADR 0025). Then the queue: every ticket on
    /// record whose wait has not ended, in its order, with a fresh poll deadline (ADR 0029).
    async fn rebuild(&self, key: &LedgerKey) -> Result<()> {
        let now = self.clock.now();
        let license = self
            .policy
            .by_id(self.licenses.as_ref(), key.tenant_id, key.license_id)
            .await?;
        let ttl = ttl_of(&license);
        // Candidates under the longest TTL there is (a session keeps the TTL of its last
        // renewal); the reaper keeps this set small.
        let longest = std::time::Duration::from_secs(u64::from(LeasePolicy::MAX_TTL_SECONDS));
        let live = self
            .sessions
            .live_sessions(
                key.tenant_id,
                key.license_id,
                now - self.hot_path.proof_slack(longest),
            )
            .await?;
        // A machine (a seat key: its person or process under per-user or per-process leasing)
        // keeps its oldest live session: a newer one of the same machine can only be
        // an acquire still in flight (recorded before its grant), which must find the older
        // one held, not take a second seat.
        // A session whose grant is on record comes first: an older record without one may be
        // an acquire that never got its seat, which must not push out the machine's lease.
        let mut keeper: HashMap<&HardwareId, (bool, DateTime<Utc>, SessionId)> = HashMap::new();
        for session in live.iter().filter(|s| s.expires_at > now) {
            let rank = (!session.confirmed, session.acquired_at, session.id);
            let entry = keeper.entry(session.seat()).or_insert(rank);
            if rank < *entry {
                *entry = rank;
            }
        }
        // Released seats still lingering for their machine. A machine whose live sessions are
        // all without a recorded grant has not taken its seat back (a take-back ends the
        // linger on record before the lease is handed out): its linger is restored, and those
        // sessions count as shadows.
        let lingering = self
            .sessions
            .lingering_sessions(key.tenant_id, key.license_id, now)
            .await?;
        for session in &lingering {
            if keeper
                .get(session.seat())
                .is_some_and(|(unconfirmed, ..)| *unconfirmed)
            {
                keeper.remove(session.seat());
            }
        }
        let mut seats: Vec<LiveSeat> = live
            .iter()
            .filter_map(|session| {
                // The session's own last TTL, if the license's has since been shortened.
                let own = (session.expires_at - session.last_heartbeat_at)
                    .to_std()
                    .unwrap_or_default();
                let expires_at = session.expires_at + self.hot_path.proof_slack(ttl.max(own));
                if expires_at <= now {
                    return None;
                }
                let keeps = keeper
                    .get(session.seat())
                    .is_some_and(|(_, _, id)| *id == session.id);
                Some(if keeps {
                    LiveSeat {
                        expires_at,
                        ..LiveSeat::from(session)
                    }
                } else {
                    LiveSeat {
                        session_id: session.id.shadow(),
                        hardware_id: HardwareId::shadow(session.id),
                        expires_at,
                        kind: SeatKind::Held,
                        // Someone of these groups holds it: it counts for them, as it did.
                        counters: session.counters.clone(),
                    }
                })
            })
            .collect();
        // Released seats still lingering for their machine, unless the machine has taken its
        // seat back since (its live session holds it).
        for session in lingering {
            if keeper.contains_key(session.seat()) {
                continue;
            }
            if let Some(until) = session.linger_until {
                seats.push(LiveSeat {
                    expires_at: until,
                    kind: SeatKind::Lingering,
                    ..LiveSeat::from(&session)
                });
            }
        }
        let holds: Vec<HoldOff> = self
            .sessions
            .held_off_sessions(key.tenant_id, key.license_id, now)
            .await?
            .iter()
            .filter_map(|session| {
                let eviction = session.eviction.as_ref()?;
                Some(HoldOff {
                    hardware_id: session.seat().clone(),
                    user: user_ref(session.holder.as_ref(), session.user_email.as_ref()),
                    until: eviction.hold_until?,
                    reason: eviction.reason.clone(),
                })
            })
            .collect();
        // The queue after the seats, in its order; ended waits are not restored (and go).
        let tickets = self
            .tickets
            .live_tickets(key.tenant_id, key.license_id, now)
            .await?;
        if let Err(e) = self
            .tickets
            .delete_expired_tickets(key.tenant_id, now, EXPIRED_TICKETS_PER_REBUILD)
            .await
        {
            // The reaper deletes them later; a rebuild never restores them.
            warn!(error = %e, license_id = %key.license_id, "could not delete ended tickets");
        }
        let outcome = self
            .ledger
            .rebuild_queued(key, &seats, &holds, &tickets, POLL_WITHIN)
            .await?;
        self.stats.ledger_rebuilds.fetch_add(1, Ordering::Relaxed);
        let count = u32::try_from(seats.len()).unwrap_or(u32::MAX);
        self.emit(
            SeatEvent::new(
                self.clock.now(),
                key.tenant_id,
                SeatEventKind::Rebuilt { seats: count },
            )
            .license(key.license_id),
        );
        info!(tenant_id = %key.tenant_id, license_id = %key.license_id, seats = seats.len(), tickets = tickets.len(), ?outcome, "seat ledger rebuilt from the store");
        Ok(())
    }

    /// Seats in use on a license now, as the ledger counts them.
    pub async fn live_seats(&self, tenant: TenantId, license_id: LicenseId) -> Result<u32> {
        let license = self.licenses.get_license(tenant, license_id).await?;
        let key = ledger_key(&license);
        match self
            .with_rebuild(&key, || self.ledger.live_count(&key))
            .await?
        {
            LiveCount::Count(n) => Ok(n),
            LiveCount::Rebuild => Err(kept_losing_state()),
        }
    }
}
