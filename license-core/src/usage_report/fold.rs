//! Reading a tenant's log, oldest first, into one license's seat spans, denials and queue
//! waits, then into the report's rows.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::figures::{self, Buckets, Span, Wait};
use super::logged::{LoggedEvent, Meaning};
use super::{Breakdown, ReportQuery, ReportRow, UsageReport};
use crate::error::{Error, Result};
use crate::event_log::{ChainHash, LogEntry};
use crate::ids::SessionId;
use crate::seat_policy::{Requester, SeatPolicy};

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

/// The fold: what the log said so far about the license.
#[derive(Debug)]
pub(super) struct ReportBuilder<'a> {
    query: &'a ReportQuery,
    policy: &'a SeatPolicy,
    buckets: Buckets,
    seats: HashMap<SessionId, Seat>,
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
            seats: HashMap::new(),
            done: Vec::new(),
            waits: HashMap::new(),
            denials: Vec::new(),
            events_lost: 0,
            through: (0, ChainHash::GENESIS),
        }
    }

    /// The next entry of the log (in `seq` order).
    pub fn add(&mut self, entry: &LogEntry) -> Result<()> {
        self.through = (entry.seq, entry.hash);
        let event: LoggedEvent = serde_json::from_str(&entry.body).map_err(|e| {
            Error::Internal(format!(
                "event log entry {} is not an event: {e}",
                entry.seq
            ))
        })?;
        let (from, to) = (self.buckets.from, self.buckets.to());
        let meaning = event.meaning();
        if meaning == Meaning::Lost {
            // Lost before the period's end: any of them may have been this license's.
            if event.at < to {
                self.events_lost += event.count.unwrap_or(0);
            }
            return Ok(());
        }
        if event.license_id != Some(self.query.license_id) {
            return Ok(());
        }
        let session = event.session_id;
        match (meaning, session) {
            (Meaning::SeatTaken, Some(id)) => {
                if let Some(wait) = self.waits.get_mut(&id) {
                    wait.ended.get_or_insert((event.at, true));
                }
                if event.at < to {
                    let until = (event.kind == "borrowed").then_some(event.until).flatten();
                    self.seats.entry(id).or_insert(Seat {
                        who: Who::of(&event),
                        start: event.at,
                        end: None,
                        until,
                        overdraft: false,
                    });
                }
            }
            (Meaning::Overdraft, Some(id)) => {
                if let Some(seat) = self.seats.get_mut(&id) {
                    seat.overdraft = true;
                }
            }
            (Meaning::SeatFreed, Some(id)) => {
                if let Some(mut seat) = self.seats.remove(&id) {
                    let end = event.freed_at().max(seat.start);
                    seat.end = Some(end);
                    // A seat freed before the period never shows in it.
                    if end > from {
                        self.done.push(seat);
                    }
                }
            }
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
        Ok(())
    }

    /// The report, with what is still open counted up to `now` (or the period's end).
    pub fn finish(mut self, now: DateTime<Utc>) -> UsageReport {
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
