//! The seats of one license in the in-memory ledger.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::holds::Holds;
use super::queue::Queue;
use crate::ids::SessionId;
use crate::seat_ledger::SeatKind;
use crate::seat_policy::Counter;
use crate::session::HardwareId;

#[derive(Debug)]
pub(super) struct Seat {
    pub(super) hardware_id: HardwareId,
    pub(super) expires_at: DateTime<Utc>,
    pub(super) kind: SeatKind,
    /// The policy counters it counts toward (ADR 0026).
    pub(super) counters: Vec<Counter>,
}

/// The seats of one license, indexed three ways so every step is O(log n) at a million seats:
/// by session, by machine (idempotent acquire) and by expiry (pruning); plus the count of
/// borrowed seats (the borrow cap), the live seats per policy counter and the hold-offs. Its
/// presence in the map is the *initialised* marker.
#[derive(Debug, Default)]
pub(super) struct Seats {
    pub(super) by_session: HashMap<SessionId, Seat>,
    pub(super) by_machine: HashMap<HardwareId, SessionId>,
    by_expiry: BTreeSet<(DateTime<Utc>, SessionId)>,
    pub(super) borrowed: u32,
    /// Live seats per policy counter; a counter at zero is absent.
    counts: HashMap<Counter, u32>,
    pub(super) holds: Holds,
    /// The tickets waiting for a seat (ADR 0029).
    pub(super) queue: Queue,
}

impl Seats {
    pub(super) fn insert(
        &mut self,
        session_id: SessionId,
        hardware_id: HardwareId,
        expires_at: DateTime<Utc>,
        kind: SeatKind,
        counters: &[Counter],
    ) {
        self.remove(session_id);
        self.by_machine.insert(hardware_id.clone(), session_id);
        self.by_expiry.insert((expires_at, session_id));
        if kind == SeatKind::Borrowed {
            self.borrowed += 1;
        }
        for counter in counters {
            *self.counts.entry(counter.clone()).or_default() += 1;
        }
        self.by_session.insert(
            session_id,
            Seat {
                hardware_id,
                expires_at,
                kind,
                counters: counters.to_vec(),
            },
        );
    }

    /// Live seats counted toward `counter`, leaving out `except`'s seat (a seat the asking
    /// grant would replace).
    pub(super) fn count(&self, counter: &Counter, except: Option<SessionId>) -> u32 {
        let own = except
            .and_then(|id| self.by_session.get(&id))
            .is_some_and(|seat| seat.counters.contains(counter));
        self.counts
            .get(counter)
            .copied()
            .unwrap_or(0)
            .saturating_sub(u32::from(own))
    }

    pub(super) fn remove(&mut self, session_id: SessionId) {
        if let Some(seat) = self.by_session.remove(&session_id) {
            self.by_expiry.remove(&(seat.expires_at, session_id));
            if self.by_machine.get(&seat.hardware_id) == Some(&session_id) {
                self.by_machine.remove(&seat.hardware_id);
            }
            if seat.kind == SeatKind::Borrowed {
                self.borrowed -= 1;
            }
            for counter in &seat.counters {
                if let Some(n) = self.counts.get_mut(counter) {
                    *n -= 1;
                    if *n == 0 {
                        self.counts.remove(counter);
                    }
                }
            }
        }
    }

    /// Drops every seat that expired at or before `now`.
    pub(super) fn prune(&mut self, now: DateTime<Utc>) {
        while let Some(&(expires_at, session_id)) = self.by_expiry.first() {
            if expires_at > now {
                break;
            }
            self.remove(session_id);
        }
    }

    /// Gives a held seat a new expiry and kind; `false` if the session holds none.
    pub(super) fn update(
        &mut self,
        session_id: SessionId,
        expires_at: DateTime<Utc>,
        kind: SeatKind,
    ) -> bool {
        let Some(seat) = self.by_session.get_mut(&session_id) else {
            return false;
        };
        self.by_expiry.remove(&(seat.expires_at, session_id));
        self.by_expiry.insert((expires_at, session_id));
        seat.expires_at = expires_at;
        match (seat.kind == SeatKind::Borrowed, kind == SeatKind::Borrowed) {
            (true, false) => self.borrowed -= 1,
            (false, true) => self.borrowed += 1,
            _ => {}
        }
        seat.kind = kind;
        true
    }

    pub(super) fn len(&self) -> u32 {
        u32::try_from(self.by_session.len()).unwrap_or(u32::MAX)
    }
}
