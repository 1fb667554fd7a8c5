//! Renewals and usage peaks the store learns in batches: the ledger is the authority for
//! liveness, so a heartbeat needs no store write. The buffer is bounded in time, not only in
//! size: while a renewal older than the configured lag is unflushed, [`WriteBehind::admit`]
//! refuses new renewals, so the store is never further behind the ledger than that (the
//! rebuild after a Redis loss counts on it; see ADR 0017).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::error::{Dependency, Error, Result};
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::store::{HeartbeatRecord, UsagePeak, WriteBehindBatch};

#[derive(Debug, Default)]
struct Pending {
    heartbeats: HashMap<SessionId, HeartbeatRecord>,
    peaks: HashMap<(TenantId, LicenseId, NaiveDate), UsagePeak>,
    /// When the oldest unflushed entry was added (`None`: nothing pending).
    since: Option<DateTime<Utc>>,
    /// The same for the batch a flush is writing now: until the store has taken it, its age
    /// counts too.
    in_flight: Option<DateTime<Utc>>,
    /// Whether a flush is writing now (one at a time).
    flushing: bool,
}

impl Pending {
    fn add_heartbeat(&mut self, record: HeartbeatRecord) {
        let newer = |old: &HeartbeatRecord| old.expires_at < record.expires_at;
        if self.heartbeats.get(&record.session_id).is_none_or(newer) {
            self.heartbeats.insert(record.session_id, record);
        }
    }

    fn add_peak(&mut self, peak: UsagePeak) {
        let slot = (peak.tenant_id, peak.license_id, peak.day);
        let entry = self.peaks.entry(slot).or_insert(peak);
        entry.in_use = entry.in_use.max(peak.in_use);
        entry.overdraft = entry.overdraft.max(peak.overdraft);
    }

    fn mark(&mut self, at: DateTime<Utc>) {
        self.since = Some(self.since.map_or(at, |since| since.min(at)));
    }
}

/// The write-behind buffer of one replica.
#[derive(Debug)]
pub struct WriteBehind {
    pending: Mutex<Pending>,
    max_lag: TimeDelta,
}

impl WriteBehind {
    /// A buffer whose entries may wait at most `max_lag` before renewals are refused.
    pub fn new(max_lag: Duration) -> Self {
        Self {
            pending: Mutex::new(Pending::default()),
            max_lag: TimeDelta::from_std(max_lag).unwrap_or(TimeDelta::MAX),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // Every step below leaves the maps consistent, so a panic elsewhere cannot corrupt them.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// May a renewal be granted at `now`? Not while an entry older than the lag is unflushed:
    /// the store cannot be trusted to be that close behind the ledger any more.
    pub(crate) fn admit(&self, now: DateTime<Utc>) -> Result<()> {
        let pending = self.lock();
        let oldest = match (pending.since, pending.in_flight) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match oldest {
            Some(since) if now - since > self.max_lag => Err(Error::unavailable(
                Dependency::Store,
                format!(
                    "heartbeats cannot be recorded: the store has not taken them for {} s",
                    (now - since).num_seconds()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Buffers a renewal the ledger granted at `record.at`.
    pub(crate) fn heartbeat(&self, record: HeartbeatRecord) {
        let mut pending = self.lock();
        pending.mark(record.at);
        pending.add_heartbeat(record);
    }

    /// Buffers a day's peak seen by a grant at `at`.
    pub(crate) fn peak(&self, peak: UsagePeak, at: DateTime<Utc>) {
        let mut pending = self.lock();
        pending.mark(at);
        pending.add_peak(peak);
    }

    /// Everything pending, leaving the buffer empty; its age still counts until
    /// [`flushed`](Self::flushed), or [`restore`](Self::restore) if the store does not take it.
    /// `None` while another flush is writing.
    pub(crate) fn take(&self) -> Option<(WriteBehindBatch, Option<DateTime<Utc>>)> {
        let mut pending = self.lock();
        if pending.flushing {
            return None;
        }
        pending.flushing = true;
        let batch = WriteBehindBatch {
            heartbeats: std::mem::take(&mut pending.heartbeats)
                .into_values()
                .collect(),
            peaks: std::mem::take(&mut pending.peaks).into_values().collect(),
        };
        let since = pending.since.take();
        pending.in_flight = since;
        Some((batch, since))
    }

    /// The batch from [`take`](Self::take) is in the store.
    pub(crate) fn flushed(&self) {
        let mut pending = self.lock();
        pending.in_flight = None;
        pending.flushing = false;
    }

    /// Puts back a batch the store refused, keeping anything newer buffered meanwhile.
    pub(crate) fn restore(&self, batch: WriteBehindBatch, since: Option<DateTime<Utc>>) {
        let mut pending = self.lock();
        pending.in_flight = None;
        pending.flushing = false;
        if let Some(since) = since {
            pending.mark(since);
        }
        batch
            .heartbeats
            .into_iter()
            .for_each(|h| pending.add_heartbeat(h));
        batch.peaks.into_iter().for_each(|p| pending.add_peak(p));
    }

    /// Renewals waiting (for metrics).
    pub fn pending(&self) -> usize {
        self.lock().heartbeats.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(id: SessionId, at: DateTime<Utc>, ttl: i64) -> HeartbeatRecord {
        HeartbeatRecord {
            tenant_id: TenantId::new(),
            session_id: id,
            at,
            expires_at: at + TimeDelta::seconds(ttl),
        }
    }

    #[test]
    fn refuses_renewals_once_an_entry_waits_longer_than_the_lag() {
        let buffer = WriteBehind::new(Duration::from_secs(10));
        let t0 = Utc::now();
        assert!(buffer.admit(t0 + TimeDelta::hours(1)).is_ok(), "empty");
        buffer.heartbeat(beat(SessionId::new(), t0, 60));
        assert!(buffer.admit(t0 + TimeDelta::seconds(10)).is_ok());
        let refused = buffer.admit(t0 + TimeDelta::seconds(11)).unwrap_err();
        assert_eq!(refused.code(), "unavailable");
        // A failed flush keeps the age; a successful one clears it.
        let (batch, since) = buffer.take().unwrap();
        assert!(buffer.take().is_none(), "one flush at a time");
        buffer.restore(batch, since);
        assert!(buffer.admit(t0 + TimeDelta::seconds(11)).is_err());
        let (batch, _) = buffer.take().unwrap();
        assert_eq!(batch.heartbeats.len(), 1);
        // Taken but not yet written: a slow flush does not hide the batch's age.
        assert!(buffer.admit(t0 + TimeDelta::seconds(11)).is_err());
        buffer.flushed();
        assert!(buffer.admit(t0 + TimeDelta::seconds(11)).is_ok());
    }

    #[test]
    fn keeps_the_latest_renewal_and_the_highest_peak() {
        let buffer = WriteBehind::new(Duration::from_secs(10));
        let t0 = Utc::now();
        let id = SessionId::new();
        buffer.heartbeat(beat(id, t0 + TimeDelta::seconds(5), 60));
        buffer.heartbeat(beat(id, t0, 60));
        let peak = |in_use| UsagePeak {
            tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
            license_id: LicenseId::from_uuid(uuid::Uuid::nil()),
            day: t0.date_naive(),
            overdraft: 0,
            in_use,
        };
        buffer.peak(peak(3), t0);
        buffer.peak(peak(7), t0);
        buffer.peak(peak(5), t0);
        let (batch, since) = buffer.take().unwrap();
        // Restoring an older batch over a newer renewal keeps the newer one.
        buffer.heartbeat(beat(id, t0 + TimeDelta::seconds(9), 60));
        buffer.restore(batch, since);
        let (batch, _) = buffer.take().unwrap();
        assert_eq!(batch.heartbeats.len(), 1);
        assert_eq!(batch.heartbeats[0].at, t0 + TimeDelta::seconds(9));
        assert_eq!(batch.peaks.len(), 1);
        assert_eq!(batch.peaks[0].in_use, 7);
    }
}
