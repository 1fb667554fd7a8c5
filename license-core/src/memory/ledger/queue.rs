//! The queue of one license in the in-memory ledger (ADR 0029): tickets ordered by priority
//! (highest first), then arrival.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::ids::SessionId;
use crate::seat_policy::SeatTally;
use crate::session::HardwareId;

/// A ticket's place: higher priority first, then earlier arrival.
pub(super) type Place = (Reverse<u32>, u64);

#[derive(Debug)]
pub(super) struct Ticket {
    pub(super) session_id: SessionId,
    pub(super) hardware_id: HardwareId,
    /// Dropped unless polled by then.
    pub(super) poll_by: DateTime<Utc>,
    /// Dropped then, polled or not.
    pub(super) wait_until: DateTime<Utc>,
    /// Its latest request's tally: what decides whether it could take a seat.
    pub(super) tally: SeatTally,
}

#[derive(Debug, Default)]
pub(super) struct Queue {
    by_place: BTreeMap<Place, Ticket>,
    places: HashMap<SessionId, Place>,
    /// The next arrival number.
    arrivals: u64,
}

impl Queue {
    /// Drops the tickets not polled in time and those whose wait ended.
    pub(super) fn prune(&mut self, now: DateTime<Utc>) {
        let gone: Vec<Place> = self
            .by_place
            .iter()
            .filter(|(_, t)| t.poll_by <= now || t.wait_until <= now)
            .map(|(place, _)| *place)
            .collect();
        for place in gone {
            if let Some(ticket) = self.by_place.remove(&place) {
                self.places.remove(&ticket.session_id);
            }
        }
    }

    /// The ticket's place, when it waits for `hardware_id` (a ticket answers only the
    /// machine that joined with it).
    pub(super) fn place_of(&self, id: SessionId, hardware_id: &HardwareId) -> Option<Place> {
        let place = self.places.get(&id)?;
        let ticket = self.by_place.get(place)?;
        (ticket.hardware_id == *hardware_id).then_some(*place)
    }

    /// The tickets before `place` (all of them ahead of an asker standing there).
    pub(super) fn ahead(&self, place: Place) -> impl Iterator<Item = &Ticket> {
        self.by_place.range(..place).map(|(_, t)| t)
    }

    pub(super) fn get_mut(&mut self, id: SessionId) -> Option<&mut Ticket> {
        let place = self.places.get(&id)?;
        self.by_place.get_mut(place)
    }

    /// A new ticket at the end of its priority.
    pub(super) fn join(&mut self, priority: u32, ticket: Ticket) -> Place {
        self.remove(ticket.session_id);
        let place = (Reverse(priority), self.arrivals);
        self.arrivals += 1;
        self.places.insert(ticket.session_id, place);
        self.by_place.insert(place, ticket);
        place
    }

    /// A ticket restored by a rebuild at its own `arrival`; the arrivals go on after it.
    pub(super) fn restore(&mut self, priority: u32, arrival: u64, ticket: Ticket) {
        self.remove(ticket.session_id);
        let mut place = (Reverse(priority), arrival);
        // Two records of one arrival (never made by one ledger): the later one stands behind.
        while self.by_place.contains_key(&place) {
            place.1 = place.1.saturating_add(1);
        }
        let arrival = place.1;
        self.arrivals = self.arrivals.max(arrival.saturating_add(1));
        self.places.insert(ticket.session_id, place);
        self.by_place.insert(place, ticket);
    }

    /// Ends a ticket's wait; `false` when it had none.
    pub(super) fn remove(&mut self, id: SessionId) -> bool {
        match self.places.remove(&id) {
            Some(place) => self.by_place.remove(&place).is_some(),
            None => false,
        }
    }

    /// The tickets in order, with their priorities.
    pub(super) fn in_order(&self) -> impl Iterator<Item = (u32, &Ticket)> {
        self.by_place.iter().map(|((Reverse(p), _), t)| (*p, t))
    }

    pub(super) fn len(&self) -> usize {
        self.by_place.len()
    }
}
