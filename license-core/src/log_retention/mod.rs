//! Retention of the seat-event log (ADR 0034): old entries are deleted in whole ranges that
//! end at a signed checkpoint entry, after their figures are kept as daily aggregates, so a
//! report or a daily statement of a day before the retention gives what it gave before.
//!
//! A trim ([`LicenseService::trim_event_log`](crate::LicenseService::trim_event_log)) takes
//! the days that left the retention window (at most
//! [`DAYS_PER_TRIM`](crate::log_retention::DAYS_PER_TRIM) per pass), computes each license's
//! figures per day by every breakdown ([`DayFigures`](crate::log_retention::DayFigures)), and
//! cuts the log at the last `checkpoint` entry before the first day kept
//! ([`LogCut`](crate::log_retention::LogCut)). What the deleted range still says about later
//! days — seats still held at the cut, waits still going, writer drops — is kept in the cut as
//! the bodies of those events (`carry`), which a report reads before the kept entries. The
//! first kept entry links to the cut's hash, which the checkpoint vouches for, so the kept log
//! still verifies offline.
//!
//! ```
//! use chrono::{NaiveDate, Utc};
//! use license_core::event_log::ChainHash;
//! use license_core::log_retention::LogCut;
//!
//! let cut = LogCut {
//!     seq: 420,
//!     hash: ChainHash::GENESIS,
//!     at: Utc::now(),
//!     kept_from: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
//!     carry: Vec::new(),
//! };
//! // Entry 421, the first kept, links to the cut.
//! assert_eq!(cut.first_kept(), 421);
//! ```

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::event_log::ChainHash;
use crate::ids::{LicenseId, TenantId};
use crate::license::License;
use crate::page::Page;
use crate::service::LicenseService;
use crate::usage_report::{self, Breakdown, ReportRow};

/// Errors [`LicenseService::trim_event_log`] may return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// Most days one trim aggregates: a log far behind its retention (retention just turned on)
/// catches up a month per pass, so one pass's memory and time stay bounded.
pub const DAYS_PER_TRIM: u64 = 31;

/// Where a tenant's log was last cut.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCut {
    /// The last entry deleted: a `checkpoint` entry, signed with the tenant's key.
    pub seq: u64,
    /// Its hash: the first kept entry's `prev_hash`.
    pub hash: ChainHash,
    /// Its time.
    pub at: DateTime<Utc>,
    /// The first UTC day the kept log serves; earlier days come from [`KeptDay`]s (by day
    /// only: hourly figures go with the entries).
    pub kept_from: NaiveDate,
    /// The bodies of deleted entries that still bear on later days (seats held and waits
    /// going at the cut, releases logged before their grant, and one `events_lost` summing
    /// the writer's drops), read before the kept log.
    pub carry: Vec<String>,
}

impl LogCut {
    /// The number of the first entry kept.
    pub fn first_kept(&self) -> u64 {
        self.seq + 1
    }
}

/// A license's figures for one UTC day, kept beyond the log's retention.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptDay {
    /// The license.
    pub license_id: LicenseId,
    /// The day.
    pub day: NaiveDate,
    /// Its figures.
    pub figures: DayFigures,
}

/// One day's report rows by every breakdown, and what its statement names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayFigures {
    /// The license's row (none when the day saw nothing).
    pub license: Vec<ReportRow>,
    /// Rows per user.
    pub user: Vec<ReportRow>,
    /// Rows per machine.
    pub host: Vec<ReportRow>,
    /// Rows per policy group (the groups as they were when the day was aggregated).
    pub group: Vec<ReportRow>,
    /// Events the writer dropped up to the day's end.
    pub events_lost: u64,
    /// The last entry bearing on the day.
    pub through_seq: u64,
    /// Its hash.
    pub through_hash: ChainHash,
}

impl Default for DayFigures {
    fn default() -> Self {
        Self {
            license: Vec::new(),
            user: Vec::new(),
            host: Vec::new(),
            group: Vec::new(),
            events_lost: 0,
            through_seq: 0,
            through_hash: ChainHash::GENESIS,
        }
    }
}

impl DayFigures {
    /// The rows by `by`.
    pub fn rows(&self, by: Breakdown) -> &[ReportRow] {
        match by {
            Breakdown::License => &self.license,
            Breakdown::User => &self.user,
            Breakdown::Host => &self.host,
            Breakdown::Group => &self.group,
        }
    }

    pub(crate) fn rows_mut(&mut self, by: Breakdown) -> &mut Vec<ReportRow> {
        match by {
            Breakdown::License => &mut self.license,
            Breakdown::User => &mut self.user,
            Breakdown::Host => &mut self.host,
            Breakdown::Group => &mut self.group,
        }
    }
}

/// What one trim did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trimmed {
    /// Entries deleted.
    pub entries: u64,
    /// License-days aggregated.
    pub days: u64,
}

impl LicenseService {
    /// Trims every tenant's log to its last `keep_days` UTC days (today counts as one); see
    /// [`trim_event_log`](Self::trim_event_log). The server runs it after each checkpoint
    /// pass when `events.retention_days` is set.
    ///
    /// Errors: see [`ERRORS`] (the first tenant that fails stops the pass).
    pub async fn trim_event_logs(&self, keep_days: u32) -> Result<Trimmed> {
        let mut total = Trimmed::default();
        for tenant in self.store.list_tenants().await? {
            let done = self.trim_event_log(tenant.id, keep_days).await?;
            total.entries += done.entries;
            total.days += done.days;
        }
        Ok(total)
    }

    /// Aggregates the oldest days of `tenant`'s log that are older than `keep_days` (at most
    /// [`DAYS_PER_TRIM`] of them) and deletes the log up to the last checkpoint entry before
    /// the first day kept. Nothing is deleted without such a checkpoint, and a day is only
    /// aggregated once it has ended.
    ///
    /// Errors: see [`ERRORS`].
    pub async fn trim_event_log(&self, tenant: TenantId, keep_days: u32) -> Result<Trimmed> {
        let now = self.clock.now();
        let horizon = now
            .date_naive()
            .checked_sub_days(Days::new(u64::from(keep_days.saturating_sub(1))))
            .unwrap_or(NaiveDate::MIN);
        let store = self.store.as_ref();
        let previous = store.log_cut(tenant).await?;
        let from = match &previous {
            Some(cut) => cut.kept_from,
            None => match store.read_events(tenant, 0, 1).await?.first() {
                Some(first) => first.at.date_naive(),
                None => return Ok(Trimmed::default()),
            },
        };
        if from >= horizon {
            return Ok(Trimmed::default());
        }
        let until = from
            .checked_add_days(Days::new(DAYS_PER_TRIM))
            .map_or(horizon, |d| d.min(horizon));
        let licenses = all_licenses(self, tenant).await?;
        let aggregated =
            usage_report::aggregate_days(store, tenant, &licenses, previous.as_ref(), from, until)
                .await?;
        let Some((seq, hash, at)) = aggregated.cut_at else {
            return Ok(Trimmed::default());
        };
        let carry = usage_report::carry(store, tenant, previous.as_ref(), seq).await?;
        let cut = LogCut {
            seq,
            hash,
            at,
            kept_from: until,
            carry,
        };
        let days = aggregated.days.len() as u64;
        let previous = previous.map(|c| c.seq);
        match store
            .trim_events(tenant, previous, &cut, &aggregated.days)
            .await
        {
            Ok(entries) => Ok(Trimmed { entries, days }),
            // Another replica trimmed this log meanwhile (from what it read, which this pass
            // may have read half-deleted): its trim stands, this one is dropped.
            Err(Error::Conflict(_)) => Ok(Trimmed::default()),
            Err(e) => Err(e),
        }
    }
}

/// Every license of the tenant, page by page.
async fn all_licenses(service: &LicenseService, tenant: TenantId) -> Result<Vec<License>> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = service
            .store
            .list_licenses(tenant, Page::new(after, Page::<LicenseId>::MAX_LIMIT))
            .await?;
        let full = page.len() == Page::<LicenseId>::MAX_LIMIT as usize;
        after = page.last().map(|l| l.id);
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

#[cfg(test)]
mod tests;
