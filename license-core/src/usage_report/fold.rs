//! Reading a tenant's log into one license's seat spans, denials and queue waits, then into
//! the report's rows. The log is in commit order; events are taken in time order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};

use super::figures::{self, Buckets, Span, Wait};
use super::logged::{LoggedEvent, Meaning};
use super::{Breakdown, ReportQuery, ReportRow, UsageReport};
use crate::error::Result;
use crate::event_log::{ChainHash, LogEntry};
use crate::ids::SessionId;
use crate::log_retention::LogCut;
use crate::seat_policy::{Requester, SeatPolicy};

/// How far behind the latest event an event may be on record and still be taken in time
/// order. Replicas append their own batches (every quarter second; later while the store is
/// out of their reach), so one replica's release may be on record before another replica's
/// grant of that seat. Events are reordered by time within this window; beyond it (and for
/// replicas' clocks a little apart) [`Early`] keeps what came before its grant.
pub(super) const REORDER: TimeDelta = TimeDelta::minutes(2);

/// How long [`Early`] keeps what it noted: a release whose grant is not on record (before the
/// log began, or among lost events) is forgotten then.
pub(super) const FORGET_EARLY: TimeDelta = TimeDelta::hours(1);

/// Who a seat, a denial or a wait is for.
#[derive(Clone, Debug, Default)]
struct Who {
    user: Option<String>,
    hardware_id: Option<String>,
}

impl Who {
    fn of(event: &LoggedEvent) -> Self {
        Self {
            user: event.user.clone(),
            hardware_id: event.hardware_id.clone(),
        }
    }
}

/// A session's seat as the log tells it.
#[derive(Debug)]
struct Seat {
    who: Who,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    /// A borrow's end: the seat is free then even before the reaper says so.
    until: Option<DateTime<Utc>>,
    overdraft: bool,
}

#[derive(Debug)]
struct Waiting {
    who: Who,
    joined: DateTime<Utc>,
    ended: Option<(DateTime<Utc>, bool)>,
}

/// What was taken of a session before its grant.
#[derive(Debug)]
struct Early {
    /// When its seat was freed.
    freed: Option<DateTime<Utc>>,
    /// Whether it went into the overdraft.
    overdraft: bool,
    /// When it was noted (the event's time).
    noted: DateTime<Utc>,
}

/// An event waiting for its turn: by time, then by its place in the log.
#[derive(Debug)]
struct Pending {
    event: LoggedEvent,
    seq: u64,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.event.at, self.seq) == (other.event.at, other.seq)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.event.at, self.seq).cmp(&(other.event.at, other.seq))
    }
}

/// The fold: what the log said so far about the license.
#[derive(Debug)]
pub(super) struct ReportBuilder<'a> {
    query: &'a ReportQuery,
    policy: &'a SeatPolicy,
    buckets: Buckets,
    /// Events read, not yet taken: those within [`REORDER`] of the latest.
    pending: BinaryHeap<Reverse<Pending>>,
    /// The latest event time read.
    latest: Option<DateTime<Utc>>,
    seats: HashMap<SessionId, Seat>,
    early: HashMap<SessionId, Early>,
    /// Seats whose span is over and touched the period.
    done: Vec<Seat>,
    waits: HashMap<SessionId, Waiting>,
    denials: Vec<(DateTime<Utc>, Who)>,
    events_lost: u64,
    through: (u64, ChainHash),
}

impl<'a> ReportBuilder<'a> {
    pub fn new(query: &'a ReportQuery, policy: &'a SeatPolicy) -> Self {
        Self {
            query,
            policy,
            buckets: query.buckets(),
            pending: BinaryHeap::new(),
            latest: None,
            seats: HashMap::new(),
            early: HashMap::new(),
            done: Vec::new(),
            waits: HashMap::new(),
            denials: Vec::new(),
            events_lost: 0,
            through: (0, ChainHash::GENESIS),
        }
    }

    /// Starts after `cut`: the log before it is gone, and what it still says about later
    /// days is in its `carry`.
    pub fn seed(&mut self, cut: &LogCut) -> Result<()> {
        self.through = (cut.seq, cut.hash);
        for body in &cut.carry {
            let event = LoggedEvent::parse(cut.seq, body)?;
            self.add_event(cut.seq, cut.hash, event);
        }
        Ok(())
    }

    /// The next entry of the log (in `seq` order).
    pub fn add(&mut self, entry: &LogEntry) -> Result<()> {
        let event = LoggedEvent::parse(entry.seq, &entry.body)?;
        self.add_event(entry.seq, entry.hash, event);
        Ok(())
    }

    /// The next entry of the log, read.
    pub fn add_event(&mut self, seq: u64, hash: ChainHash, event: LoggedEvent) {
        // The last entry that bears on the period: later ones only tell of after its end, so
        // a report (a statement) of a settled period names the same entry however the log
        // grows, and the log up to it gives the same figures.
        if event.freed_at() < self.buckets.to() {
            self.through = (seq, hash);
        }
        let latest = self.latest.map_or(event.at, |l| l.max(event.at));
        self.latest = Some(latest);
        self.pending.push(Reverse(Pending { event, seq }));
        while let Some(Reverse(next)) = self.pending.peek() {
            if next.event.at >= latest - REORDER {
                break;
            }
            if let Some(Reverse(next)) = self.pending.pop() {
                self.apply(next.event);
            }
        }
        if self.early.len() > 1_000 {
            let horizon = latest - FORGET_EARLY;
            self.early.retain(|_, e| e.noted >= horizon);
        }
    }

    /// Takes one event, in time order.
    fn apply(&mut self, event: LoggedEvent) {
        let (from, to) = (self.buckets.from, self.buckets.to());
        let meaning = event.meaning();
        if meaning == Meaning::Lost {
            // Lost before the period's end: any of them may have been this license's.
            if event.at < to {
                self.events_lost += event.count.unwrap_or(0);
            }
            return;
        }
        if event.license_id != Some(self.query.license_id) {
            return;
        }
        match (meaning, event.session_id) {
            (Meaning::SeatTaken, Some(id)) => {
                if let Some(wait) = self.waits.get_mut(&id) {
                    wait.ended.get_or_insert((event.at, true));
                }
                if event.at < to && !self.seats.contains_key(&id) {
                    let until = (event.kind == "borrowed").then_some(event.until).flatten();
                    let early = self.early.remove(&id);
                    let seat = Seat {
                        who: Who::of(&event),
                        start: event.at,
                        end: None,
                        until,
                        overdraft: early.as_ref().is_some_and(|e| e.overdraft),
                    };
                    match early.and_then(|e| e.freed) {
                        Some(freed) => self.close(seat, freed),
                        None => {
                            self.seats.insert(id, seat);
                        }
                    }
                }
            }
            (Meaning::Overdraft, Some(id)) => match self.seats.get_mut(&id) {
                Some(seat) => seat.overdraft = true,
                None => self.note_early(id, event.at).overdraft = true,
            },
            (Meaning::SeatFreed, Some(id)) => match self.seats.remove(&id) {
                Some(seat) => self.close(seat, event.freed_at()),
                None => {
                    let freed = event.freed_at();
                    self.note_early(id, event.at).freed.get_or_insert(freed);
                }
            },
            (Meaning::Denied, _) if (from..to).contains(&event.at) => {
                self.denials.push((event.at, Who::of(&event)));
            }
            (Meaning::Queued, Some(id)) if (from..to).contains(&event.at) => {
                self.waits.entry(id).or_insert(Waiting {
                    who: Who::of(&event),
                    joined: event.at,
                    ended: None,
                });
            }
            (Meaning::QueueEnded, Some(id)) => {
                if let Some(wait) = self.waits.get_mut(&id) {
                    wait.ended.get_or_insert((event.at, false));
                }
            }
            _ => {}
        }
    }

    fn note_early(&mut self, id: SessionId, at: DateTime<Utc>) -> &mut Early {
        self.early.entry(id).or_insert(Early {
            freed: None,
            overdraft: false,
            noted: at,
        })
    }

    /// Ends `seat` at `end`; a seat freed before the period never shows in it.
    fn close(&mut self, mut seat: Seat, end: DateTime<Utc>) {
        let end = end.max(seat.start);
        seat.end = Some(end);
        if end > self.buckets.from {
            self.done.push(seat);
        }
    }

    /// The report, with what is still open counted up to `now` (or the period's end).
    pub fn finish(mut self, now: DateTime<Utc>) -> UsageReport {
        while let Some(Reverse(next)) = self.pending.pop() {
            self.apply(next.event);
        }
        let (from, to) = (self.buckets.from, self.buckets.to());
        let open_until = to.min(now).max(from);
        let mut spans: BTreeMap<Option<String>, Vec<Span>> = BTreeMap::new();
        let mut denials: BTreeMap<Option<String>, Vec<DateTime<Utc>>> = BTreeMap::new();
        let mut waits: BTreeMap<Option<String>, Vec<Wait>> = BTreeMap::new();
        for seat in self.done.drain(..).chain(self.seats.into_values()) {
            let end = seat
                .end
                .or(seat.until.map(|u| u.min(open_until)))
                .unwrap_or(open_until);
            let span = Span {
                start: seat.start.max(from),
                end: end.min(to),
                overdraft: seat.overdraft,
            };
            if span.end <= span.start {
                continue;
            }
            for key in keys(self.query.by, self.policy, &seat.who) {
                spans.entry(key).or_default().push(span);
            }
        }
        for (at, who) in &self.denials {
            for key in keys(self.query.by, self.policy, who) {
                denials.entry(key).or_default().push(*at);
            }
        }
        for wait in self.waits.values() {
            let (ended, seated) = wait.ended.unwrap_or((open_until, false));
            let wait_ = Wait {
                joined: wait.joined,
                ended: ended.min(open_until).max(wait.joined),
                seated,
            };
            for key in keys(self.query.by, self.policy, &wait.who) {
                waits.entry(key).or_default().push(wait_);
            }
        }
        let all_keys: std::collections::BTreeSet<Option<String>> = spans
            .keys()
            .chain(denials.keys())
            .chain(waits.keys())
            .cloned()
            .collect();
        let mut rows = Vec::new();
        for key in all_keys {
            let none = Vec::new();
            let per_bucket = figures::figures(
                &self.buckets,
                spans.get(&key).unwrap_or(&Vec::new()),
                denials.get(&key).unwrap_or(&none),
                waits.get(&key).map(Vec::as_slice).unwrap_or_default(),
            );
            for (i, f) in per_bucket.iter().enumerate() {
                if f.is_empty() {
                    continue;
                }
                rows.push(ReportRow {
                    start: self.buckets.start(i),
                    key: key.clone(),
                    peak_seats: f.peak_seats,
                    seat_seconds: millis_to_seconds(f.seat_millis),
                    overdraft_seat_seconds: millis_to_seconds(f.overdraft_seat_millis),
                    denials: f.denials,
                    queue_waits: f.queue_waits,
                    queue_waits_seated: f.queue_waits_seated,
                    queue_wait_seconds: millis_to_seconds(f.queue_wait_millis),
                });
            }
        }
        rows.sort_by(|a, b| (a.start, &a.key).cmp(&(b.start, &b.key)));
        UsageReport {
            query: self.query.clone(),
            to,
            rows,
            events_lost: self.events_lost,
            through_seq: self.through.0,
            through_hash: self.through.1,
        }
    }
}

/// Whole seconds (a report is not a stopwatch; sums of rows may differ from the whole by
/// rounding).
fn millis_to_seconds(millis: i64) -> u64 {
    u64::try_from(millis.max(0) / 1000).unwrap_or(0)
}

/// The rows a seat, denial or wait counts in: the license's (`None`), its user's, its
/// machine's, or each of its groups' (`None`: no user named / in no group).
fn keys(by: Breakdown, policy: &SeatPolicy, who: &Who) -> Vec<Option<String>> {
    match by {
        Breakdown::License => vec![None],
        Breakdown::User => vec![who.user.clone()],
        Breakdown::Host => vec![who.hardware_id.clone()],
        Breakdown::Group => {
            let requester = Requester {
                hardware_id: who.hardware_id.as_deref().unwrap_or_default(),
                user_email: who.user.as_deref(),
                ..Requester::default()
            };
            let groups = policy.groups_of(&requester);
            if groups.is_empty() {
                vec![None]
            } else {
                groups.into_iter().map(|g| Some(g.to_owned())).collect()
            }
        }
    }
}
