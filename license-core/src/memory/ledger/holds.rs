//! The hold-offs of one license in the in-memory ledger: who may not acquire until when, and
//! why. Indexed by party (the acquire's check) and by end (pruning), so both stay O(log n).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::seat_ledger::UserRef;
use crate::session::HardwareId;

/// Who a hold-off keeps out: a machine or a person.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Party {
    Machine(HardwareId),
    User(String),
}

impl Party {
    pub(super) fn user(user: &UserRef) -> Self {
        Party::User(user.0.clone())
    }
}

#[derive(Debug)]
struct Entry {
    until: DateTime<Utc>,
    reason: String,
}

#[derive(Debug, Default)]
pub(super) struct Holds {
    by_party: HashMap<Party, Entry>,
    by_until: BTreeSet<(DateTime<Utc>, Party)>,
}

impl Holds {
    /// Holds `party` off until `until`. A hold-off already in force that ends later stays
    /// (with its reason): two evictions never shorten each other.
    pub(super) fn hold(&mut self, party: Party, until: DateTime<Utc>, reason: &str) {
        if let Some(old) = self.by_party.get(&party) {
            if old.until >= until {
                return;
            }
            self.by_until.remove(&(old.until, party.clone()));
        }
        self.by_until.insert((until, party.clone()));
        self.by_party.insert(
            party,
            Entry {
                until,
                reason: reason.to_owned(),
            },
        );
    }

    /// The hold-off in force at `now` for any of `parties`: the one ending last.
    pub(super) fn in_force<'a>(
        &self,
        parties: impl IntoIterator<Item = &'a Party>,
        now: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, String)> {
        parties
            .into_iter()
            .filter_map(|p| self.by_party.get(p))
            .filter(|e| e.until > now)
            .max_by_key(|e| e.until)
            .map(|e| (e.until, e.reason.clone()))
    }

    /// Drops every hold-off that ended at or before `now`.
    pub(super) fn prune(&mut self, now: DateTime<Utc>) {
        while let Some((until, _)) = self.by_until.first() {
            if *until > now {
                break;
            }
            if let Some((_, party)) = self.by_until.pop_first() {
                self.by_party.remove(&party);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn machine(name: &str) -> Party {
        Party::Machine(HardwareId::parse(name).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn a_shorter_hold_never_replaces_a_longer_one() {
        let now = Utc::now();
        let mut holds = Holds::default();
        holds.hold(machine("a"), now + TimeDelta::seconds(60), "long");
        holds.hold(machine("a"), now + TimeDelta::seconds(10), "short");
        assert_eq!(
            holds.in_force([&machine("a")], now),
            Some((now + TimeDelta::seconds(60), "long".to_owned()))
        );
        holds.hold(machine("a"), now + TimeDelta::seconds(90), "longer");
        assert_eq!(
            holds.by_until.len(),
            1,
            "the replaced hold leaves the index"
        );
    }

    #[test]
    fn the_hold_ending_last_answers_and_ended_ones_are_pruned() {
        let now = Utc::now();
        let mut holds = Holds::default();
        let user = Party::user(&UserRef("email:a@example.com".into()));
        holds.hold(machine("a"), now + TimeDelta::seconds(5), "machine");
        holds.hold(user.clone(), now + TimeDelta::seconds(50), "user");
        assert_eq!(
            holds.in_force([&machine("a"), &user], now).map(|h| h.1),
            Some("user".to_owned())
        );
        assert_eq!(holds.in_force([&machine("b")], now), None);
        holds.prune(now + TimeDelta::seconds(5));
        assert_eq!(holds.in_force([&machine("a")], now), None);
        assert_eq!(holds.by_party.len(), 1);
        holds.prune(now + TimeDelta::seconds(50));
        assert!(holds.by_party.is_empty() && holds.by_until.is_empty());
    }
}
