//! What the log's retention keeps of a range before deleting it (ADR 0034): each license's
//! figures per day by every breakdown, and the events of the range that still bear on later
//! days (the cut's carry).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::fold::{FORGET_EARLY, REORDER, ReportBuilder};
use super::logged::{LoggedEvent, Meaning};
use super::{Breakdown, Bucket, ReportQuery};
use crate::error::Result;
use crate::event_log::{ChainHash, LogEntry};
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::license::License;
use crate::log_retention::{DayFigures, KeptDay, LogCut};
use crate::store::Store;

/// Entries per read.
const PAGE: u32 = 1_000;

/// How far past the last aggregated day the log is read: replicas' batches land a little
/// after the events they carry (see [`REORDER`]), and the reaper's `expired` names a time
/// before it was logged.
const READ_PAST: TimeDelta = TimeDelta::hours(1);

const BREAKDOWNS: [Breakdown; 4] = [
    Breakdown::License,
    Breakdown::User,
    Breakdown::Host,
    Breakdown::Group,
];

/// Days aggregated, and where the log may be cut after them.
#[derive(Debug)]
pub(crate) struct Aggregated {
    /// Every license's figures for every day aggregated.
    pub days: Vec<KeptDay>,
    /// The last `checkpoint` entry before the first day not aggregated: number, hash, time.
    pub cut_at: Option<(u64, ChainHash, DateTime<Utc>)>,
}

/// Each license's figures for the days `from` up to `until` (exclusive), read from the log
/// after `previous` (and its carry).
pub(crate) async fn aggregate_days(
    store: &dyn Store,
    tenant: TenantId,
    licenses: &[License],
    previous: Option<&LogCut>,
    from: NaiveDate,
    until: NaiveDate,
) -> Result<Aggregated> {
    let Some(last) = until.pred_opt().filter(|last| *last >= from) else {
        return Ok(Aggregated {
            days: Vec::new(),
            cut_at: None,
        });
    };
    let queries = licenses
        .iter()
        .flat_map(|l| {
            BREAKDOWNS
                .iter()
                .map(|by| ReportQuery::new(l.id, from, last, Bucket::Day, *by))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut builders: Vec<ReportBuilder<'_>> = queries
        .iter()
        .zip(licenses.iter().flat_map(|l| BREAKDOWNS.map(|_| l)))
        .map(|(q, l)| ReportBuilder::new(q, &l.policy))
        .collect();
    let mut by_license: HashMap<LicenseId, Vec<usize>> = HashMap::new();
    for (i, q) in queries.iter().enumerate() {
        by_license.entry(q.license_id).or_default().push(i);
    }
    let end = day_start(until);
    let day_ends: Vec<DateTime<Utc>> = (1..=day_count(from, until))
        .map(|n| day_start(from) + TimeDelta::days(n))
        .collect();
    let mut per_day = DayTrail::new(previous, day_ends);
    let mut cut_at = None;

    if let Some(cut) = previous {
        for builder in &mut builders {
            builder.seed(cut)?;
        }
        for body in &cut.carry {
            per_day.note(cut.seq, cut.hash, &LoggedEvent::parse(cut.seq, body)?);
        }
    }
    let mut after = previous.map_or(0, |c| c.seq);
    'read: loop {
        let page = store.read_events(tenant, after, PAGE).await?;
        for entry in &page {
            let event = LoggedEvent::parse(entry.seq, &entry.body)?;
            if event.at >= end + READ_PAST {
                break 'read;
            }
            if event.kind == "checkpoint" && event.at < end {
                cut_at = Some((entry.seq, entry.hash, event.at));
            }
            per_day.note(entry.seq, entry.hash, &event);
            let targets: &[usize] = match event.license_id {
                Some(id) => by_license.get(&id).map_or(&[], Vec::as_slice),
                None => &[],
            };
            if event.meaning() == Meaning::Lost {
                // Drops are anyone's: every builder counts them.
                for builder in &mut builders {
                    builder.add_event(entry.seq, entry.hash, event.clone());
                }
            } else {
                for &i in targets {
                    builders[i].add_event(entry.seq, entry.hash, event.clone());
                }
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = last.seq,
            _ => break,
        }
    }

    let now = end;
    let mut figures: HashMap<(LicenseId, NaiveDate), DayFigures> = HashMap::new();
    for (builder, query) in builders.into_iter().zip(&queries) {
        let report = builder.finish(now);
        for row in report.rows {
            figures
                .entry((query.license_id, row.start.date_naive()))
                .or_default()
                .rows_mut(query.by)
                .push(row);
        }
    }
    let mut days = Vec::new();
    for license in licenses {
        for (i, day) in from.iter_days().take_while(|d| *d < until).enumerate() {
            let mut f = figures.remove(&(license.id, day)).unwrap_or_default();
            (f.events_lost, f.through_seq, f.through_hash) = per_day.of(i);
            days.push(KeptDay {
                license_id: license.id,
                day,
                figures: f,
            });
        }
    }
    Ok(Aggregated { days, cut_at })
}

/// Per day: the writer's drops up to its end and the last entry bearing on it (any license's,
/// as a report's `events_lost` and `through_seq` are).
#[derive(Debug)]
struct DayTrail {
    ends: Vec<DateTime<Utc>>,
    /// Drops logged, by time.
    lost: Vec<(DateTime<Utc>, u64)>,
    /// Per day, the last entry (in log order) whose first day is that one.
    last: Vec<Option<(u64, ChainHash)>>,
    base: (u64, ChainHash),
}

impl DayTrail {
    fn new(previous: Option<&LogCut>, ends: Vec<DateTime<Utc>>) -> Self {
        Self {
            last: vec![None; ends.len()],
            ends,
            lost: Vec::new(),
            base: previous.map_or((0, ChainHash::GENESIS), |c| (c.seq, c.hash)),
        }
    }

    fn note(&mut self, seq: u64, hash: ChainHash, event: &LoggedEvent) {
        if event.meaning() == Meaning::Lost {
            self.lost.push((event.at, event.count.unwrap_or(0)));
        }
        let freed = event.freed_at();
        if let Some(first) = self.ends.iter().position(|end| freed < *end) {
            self.last[first] = Some((seq, hash));
        }
    }

    /// Day `i`'s drops, last entry and its hash.
    fn of(&self, i: usize) -> (u64, u64, ChainHash) {
        let end = self.ends[i];
        let lost = self
            .lost
            .iter()
            .filter(|(at, _)| *at < end)
            .map(|(_, n)| n)
            .sum();
        let through = self.last[..=i]
            .iter()
            .flatten()
            .max_by_key(|(seq, _)| *seq)
            .copied()
            .unwrap_or(self.base);
        (lost, through.0, through.1)
    }
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn day_count(from: NaiveDate, until: NaiveDate) -> i64 {
    (until - from).num_days().max(0)
}

/// The bodies of the entries numbered up to `through` (after `previous`, whose carry is read
/// first) that still bear on what comes after: a seat not yet freed, a wait not yet ended, a
/// release logged before its grant (for [`FORGET_EARLY`]), and the writer's drops as one
/// `events_lost`.
pub(crate) async fn carry(
    store: &dyn Store,
    tenant: TenantId,
    previous: Option<&LogCut>,
    through: u64,
) -> Result<Vec<String>> {
    let mut open = Open::default();
    if let Some(cut) = previous {
        for body in &cut.carry {
            open.note(LoggedEvent::parse(cut.seq, body)?, body);
        }
    }
    let mut after = previous.map_or(0, |c| c.seq);
    let mut last_at = previous.map(|c| c.at);
    while after < through {
        let limit = u32::try_from((through - after).min(u64::from(PAGE))).unwrap_or(PAGE);
        let page: Vec<LogEntry> = store.read_events(tenant, after, limit).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for entry in page.iter().filter(|e| e.seq <= through) {
            let event = LoggedEvent::parse(entry.seq, &entry.body)?;
            last_at = Some(last_at.map_or(event.at, |l| l.max(event.at)));
            open.note(event, &entry.body);
        }
    }
    Ok(open.into_carry(last_at))
}

/// Sessions whose story is not over, with the bodies told so far.
#[derive(Debug, Default)]
struct Open {
    sessions: HashMap<SessionId, Story>,
    lost: u64,
    lost_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Story {
    bodies: Vec<String>,
    taken: bool,
    freed: bool,
    queued: bool,
    queue_ended: bool,
    latest: Option<DateTime<Utc>>,
}

impl Open {
    fn note(&mut self, event: LoggedEvent, body: &str) {
        let meaning = event.meaning();
        if meaning == Meaning::Lost {
            self.lost += event.count.unwrap_or(0);
            self.lost_at = Some(self.lost_at.map_or(event.at, |l| l.max(event.at)));
            return;
        }
        let Some(id) = event.session_id else { return };
        if !matches!(
            meaning,
            Meaning::SeatTaken
                | Meaning::SeatFreed
                | Meaning::Overdraft
                | Meaning::Queued
                | Meaning::QueueEnded
        ) {
            return;
        }
        let story = self.sessions.entry(id).or_default();
        story.bodies.push(body.to_owned());
        story.latest = Some(story.latest.map_or(event.at, |l| l.max(event.at)));
        match meaning {
            Meaning::SeatTaken => story.taken = true,
            Meaning::SeatFreed => story.freed = true,
            Meaning::Queued => story.queued = true,
            Meaning::QueueEnded => story.queue_ended = true,
            _ => {}
        }
        // Over: a seat taken and freed (its wait, if any, ended with it), or a wait that
        // ended without a seat.
        if (story.taken && story.freed) || (story.queued && story.queue_ended && !story.taken) {
            self.sessions.remove(&id);
        }
    }

    fn into_carry(self, last_at: Option<DateTime<Utc>>) -> Vec<String> {
        // A release (or overdraft) whose grant never came is forgotten as the report forgets
        // it; a window's worth of them stays, for grants logged just after the cut.
        let horizon = last_at.map(|l| l - FORGET_EARLY - REORDER);
        let mut stories: Vec<Story> = self
            .sessions
            .into_values()
            .filter(|s| s.taken || s.queued || horizon.is_none_or(|h| s.latest >= Some(h)))
            .collect();
        stories.sort_by_key(|s| s.latest);
        let mut carry: Vec<String> = stories.into_iter().flat_map(|s| s.bodies).collect();
        if self.lost > 0
            && let Some(at) = self.lost_at
        {
            carry.push(
                serde_json::json!({"type": "events_lost", "at": at, "count": self.lost})
                    .to_string(),
            );
        }
        carry
    }
}
