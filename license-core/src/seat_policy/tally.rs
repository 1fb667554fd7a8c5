//! What a seat counts toward, and the limits its grant must respect: the part of a policy the
//! ledger checks atomically with the grant (ADR 0026).

use serde::{Deserialize, Serialize};

/// A named count of live seats kept by the ledger per license: `g:<group>`, `u:<user>`,
/// `h:<host>` or `m:<hardware id>` (processes per machine). Adapters may store a digest of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Counter(pub String);

impl Counter {
    /// The counter of a group's seats.
    pub fn group(name: &str) -> Self {
        Self(format!("g:{name}"))
    }
    /// The counter of one user's seats (`user` lower-cased by the caller).
    pub fn user(user: &str) -> Self {
        Self(format!("u:{user}"))
    }
    /// The counter of one host's seats (`host` lower-cased by the caller).
    pub fn host(host: &str) -> Self {
        Self(format!("h:{host}"))
    }
    /// The counter of one machine's processes (per-process leasing).
    pub fn machine(hardware_id: &str) -> Self {
        Self(format!("m:{hardware_id}"))
    }
}

/// Which limit refused a seat: `seats` when every seat is taken, else the policy's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatLimit {
    /// Every seat (plus overdraft) is taken.
    #[default]
    Seats,
    /// A `max` rule on a group the requester belongs to.
    GroupMax,
    /// A `max` rule on the requester.
    UserMax,
    /// A `max` rule on the requester's host.
    HostMax,
    /// The license's `max_processes_per_host` (per-process leasing).
    ProcessesPerHost,
    /// The free seats are reserved for groups the requester is not in.
    ReservedForOthers,
    /// A seat is free, but waiting tickets of the queue come first (ADR 0029).
    Queued,
    /// No seat, and the license's queue is full: no wait (ADR 0029).
    QueueFull,
}

impl SeatLimit {
    /// The stable text form (`group_max`, …), as the API's `limit_reached` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            SeatLimit::Seats => "seats",
            SeatLimit::GroupMax => "group_max",
            SeatLimit::UserMax => "user_max",
            SeatLimit::HostMax => "host_max",
            SeatLimit::ProcessesPerHost => "processes_per_host",
            SeatLimit::ReservedForOthers => "reserved_for_others",
            SeatLimit::Queued => "queued",
            SeatLimit::QueueFull => "queue_full",
        }
    }
}

/// A `max` rule that applies to the requester: the grant must leave `counter` at most `max`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cap {
    /// What it counts.
    pub counter: Counter,
    /// Most seats.
    pub max: u32,
    /// Which limit this is, for the refusal.
    pub limit: SeatLimit,
}

/// A `reserve` rule of the license: `seats` seats are kept for the members of `counter`'s
/// group; `member` says whether the requester is one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reserve {
    /// The group's counter.
    pub counter: Counter,
    /// Seats reserved.
    pub seats: u32,
    /// Whether the requester belongs to the group (its seat would count toward the reserve).
    pub member: bool,
}

/// What a requested seat counts toward and must respect. Empty (the default) for a license
/// without policy: the ledger then does exactly what it did without one.
///
/// ```
/// use license_core::{Cap, Counter, Reserve, SeatLimit, SeatTally};
/// let eng = Counter::group("eng");
/// let tally = SeatTally {
///     counters: vec![],
///     caps: vec![],
///     reserves: vec![Reserve { counter: eng.clone(), seats: 2, member: false }],
/// };
/// // 5 seats, 2 in use by others, none by eng: a non-member may take the 3rd, not the 4th.
/// assert_eq!(tally.check(|_| 0, 2, 5), None);
/// assert_eq!(tally.check(|_| 0, 3, 5), Some(SeatLimit::ReservedForOthers));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeatTally {
    /// The counters a grant adds one to (and its end takes one from).
    pub counters: Vec<Counter>,
    /// The `max` limits that apply to the requester.
    pub caps: Vec<Cap>,
    /// Every reserve of the license.
    pub reserves: Vec<Reserve>,
}

impl SeatTally {
    /// Whether there is nothing to count or check.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty() && self.caps.is_empty() && self.reserves.is_empty()
    }

    /// The rule every ledger applies, atomically with the grant: `None` when a new seat may
    /// be granted with `in_use` seats taken (not counting a seat the grant replaces) of
    /// `limit`, each counter at `count(counter)`; else the limit that refuses it. Checked in
    /// this order: every seat taken (`seats`), a cap, then the reserves — a grant must leave
    /// at least as many free seats as the reserves still lack.
    pub fn check(
        &self,
        count: impl Fn(&Counter) -> u32,
        in_use: u32,
        limit: u32,
    ) -> Option<SeatLimit> {
        if in_use >= limit {
            return Some(SeatLimit::Seats);
        }
        if let Some(cap) = self.caps.iter().find(|c| count(&c.counter) >= c.max) {
            return Some(cap.limit);
        }
        let lacking: u64 = self
            .reserves
            .iter()
            .map(|r| {
                let have = u64::from(count(&r.counter)) + u64::from(r.member);
                u64::from(r.seats).saturating_sub(have)
            })
            .sum();
        if u64::from(in_use) + 1 + lacking > u64::from(limit) {
            return Some(SeatLimit::ReservedForOthers);
        }
        None
    }
}
