//! Usage reports (ADR 0031): a license's figures per day or hour — peak concurrency, seat
//! time, overdraft seat time, denials, queue waits — for the whole license or broken down by
//! user, machine or policy group, computed from the tenant's seat-event log (ADR 0030).
//!
//! A seat counts from its `granted` (or `borrowed`) to the event that freed it (`released`,
//! `returned`, `evicted`, `revoked`, `expired` — the reaper's `expired` names when the
//! session ended); a seat still open counts up to now. Peaks are exact: the most seats open
//! at one instant within the bucket. A wait counts in the bucket it began in, until its
//! `granted` (seated) or `queue_ended`. `events_lost` says how many events the log's writer
//! dropped up to the period's end: when it is not zero, figures may be short.
//!
//! ```
//! use chrono::NaiveDate;
//! use license_core::usage_report::{Breakdown, Bucket, ReportQuery};
//! use license_core::LicenseId;
//!
//! let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
//! let query = ReportQuery::new(LicenseId::new(), day(1), day(30), Bucket::Day, Breakdown::User)?;
//! assert_eq!(query.to, day(30));
//! // Hourly rows are for at most 31 days.
//! let long = ReportQuery::new(LicenseId::new(), day(1), day(30), Bucket::Hour, Breakdown::License);
//! assert!(long.is_ok());
//! let too_long =
//!     ReportQuery::new(LicenseId::new(), day(1), day(1) + chrono::Days::new(40), Bucket::Hour, Breakdown::License);
//! assert_eq!(too_long.unwrap_err().code(), "invalid_input");
//! # Ok::<(), license_core::Error>(())
//! ```

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::admin::AdminService;
use crate::error::{Error, ErrorKind, Result};
use crate::event_log::ChainHash;
use crate::ids::{LicenseId, TenantId};
use crate::license::License;
use crate::store::Store;

/// Per-bucket arithmetic.
mod figures;
/// The log read into spans and rows.
mod fold;
/// Logged events read back.
mod logged;
/// What the log's retention keeps of a range it deletes.
mod retained;

pub(crate) use retained::{aggregate_days, carry};

/// Errors [`AdminService::usage_report`] may return.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::InvalidInput,
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// Entries per read of the log.
const PAGE: u32 = 1_000;

/// Most days of a report by day.
pub const MAX_DAYS: u64 = 366;
/// Most days of a report by hour.
pub const MAX_HOURLY_DAYS: u64 = 31;

/// How long a row's period is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// UTC days.
    Day,
    /// UTC hours.
    Hour,
}

/// What rows are per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Breakdown {
    /// The whole license: one row per bucket.
    License,
    /// The person a seat is for (the `user` of its events); `None`: no user named.
    User,
    /// The machine (`hardware_id`).
    Host,
    /// Each group of the license's policy (as it is now) the user or machine belongs to; a
    /// seat of several groups counts in each; `None`: in no group.
    Group,
}

/// What to report on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportQuery {
    /// The license.
    pub license_id: LicenseId,
    /// First UTC day.
    pub from: NaiveDate,
    /// Last UTC day (inclusive).
    pub to: NaiveDate,
    /// Rows per day or hour.
    pub bucket: Bucket,
    /// Rows per license, user, machine or group.
    pub by: Breakdown,
}

impl ReportQuery {
    /// A query for the UTC days `from` to `to` (inclusive): `invalid_input` naming `to` when
    /// it is before `from` or the period is longer than [`MAX_DAYS`] (by day) or
    /// [`MAX_HOURLY_DAYS`] (by hour).
    pub fn new(
        license_id: LicenseId,
        from: NaiveDate,
        to: NaiveDate,
        bucket: Bucket,
        by: Breakdown,
    ) -> Result<Self> {
        if to < from {
            return Err(Error::invalid("to", "the last day is before the first"));
        }
        let days = u64::try_from((to - from).num_days() + 1).unwrap_or(u64::MAX);
        let most = match bucket {
            Bucket::Day => MAX_DAYS,
            Bucket::Hour => MAX_HOURLY_DAYS,
        };
        if days > most {
            return Err(Error::invalid(
                "to",
                format!("a report by {bucket:?} covers at most {most} days").to_lowercase(),
            ));
        }
        Ok(Self {
            license_id,
            from,
            to,
            bucket,
            by,
        })
    }

    /// The period's start: `from`, midnight UTC.
    pub fn start(&self) -> DateTime<Utc> {
        self.from.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    fn buckets(&self) -> figures::Buckets {
        let days = usize::try_from((self.to - self.from).num_days() + 1).unwrap_or(0);
        let (step, count) = match self.bucket {
            Bucket::Day => (TimeDelta::days(1), days),
            Bucket::Hour => (TimeDelta::hours(1), days * 24),
        };
        figures::Buckets {
            from: self.start(),
            step,
            count,
        }
    }
}

/// One bucket's figures for the license, or one user, machine or group of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    /// The bucket's start (UTC).
    pub start: DateTime<Utc>,
    /// The user, machine or group (`None`: the whole license, no user named, in no group).
    pub key: Option<String>,
    /// Most seats in use at once.
    pub peak_seats: u32,
    /// Seat time, in seconds.
    pub seat_seconds: u64,
    /// Seat time of seats granted into the overdraft (billable), in seconds.
    pub overdraft_seat_seconds: u64,
    /// Acquisitions refused.
    pub denials: u32,
    /// Waits in the queue begun.
    pub queue_waits: u32,
    /// Of them, waits that ended with a seat.
    pub queue_waits_seated: u32,
    /// Time those waits lasted (up to now for a wait still going), in seconds.
    pub queue_wait_seconds: u64,
}

/// A license's usage report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    /// What was asked.
    pub query: ReportQuery,
    /// The period's end (exclusive): midnight after `query.to`.
    pub to: DateTime<Utc>,
    /// Buckets with activity, oldest first, then by key.
    pub rows: Vec<ReportRow>,
    /// Events the log's writer dropped before the period's end (figures may be short).
    pub events_lost: u64,
    /// The last log entry that bears on the period (an event before its end): the log up to
    /// it gives these figures, and later entries do not change them.
    pub through_seq: u64,
    /// That entry's hash (checkpoint it to pin the report's input).
    pub through_hash: ChainHash,
}

/// Reads the tenant's log, oldest first, into `query`'s report on `license`: days before the
/// log's retention cut from the figures kept for them, later ones from the kept log read after
/// the cut's carry.
pub(crate) async fn build(
    store: &dyn Store,
    tenant: TenantId,
    license: &License,
    query: &ReportQuery,
    now: DateTime<Utc>,
) -> Result<UsageReport> {
    let cut = store.log_cut(tenant).await?;
    let mut kept_rows = Vec::new();
    let mut kept_trail = (0, 0, ChainHash::GENESIS);
    let mut rest = query.clone();
    if let Some(cut) = &cut
        && query.from < cut.kept_from
    {
        if query.bucket == Bucket::Hour {
            return Err(Error::invalid(
                "from",
                format!(
                    "hourly figures are kept from {} on (the log's retention); ask by day",
                    cut.kept_from
                ),
            ));
        }
        let last = cut
            .kept_from
            .pred_opt()
            .unwrap_or(cut.kept_from)
            .min(query.to);
        for day in store
            .kept_days(tenant, license.id, query.from, last)
            .await?
        {
            kept_rows.extend(day.figures.rows(query.by).iter().cloned());
            kept_trail = (
                day.figures.events_lost,
                day.figures.through_seq,
                day.figures.through_hash,
            );
        }
        if query.to < cut.kept_from {
            let (events_lost, through_seq, through_hash) = kept_trail;
            return Ok(UsageReport {
                query: query.clone(),
                to: query.buckets().to(),
                rows: kept_rows,
                events_lost,
                through_seq,
                through_hash,
            });
        }
        rest.from = cut.kept_from;
    }
    let mut builder = fold::ReportBuilder::new(&rest, &license.policy);
    let mut after = 0;
    if let Some(cut) = &cut {
        builder.seed(cut)?;
        after = cut.seq;
    }
    loop {
        let page = store.read_events(tenant, after, PAGE).await?;
        for entry in &page {
            builder.add(entry)?;
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = last.seq,
            _ => break,
        }
    }
    let mut report = builder.finish(now);
    report.query = query.clone();
    if !kept_rows.is_empty() {
        kept_rows.append(&mut report.rows);
        report.rows = kept_rows;
    }
    Ok(report)
}

impl AdminService {
    /// The license's usage report (see the [module](self)), from the tenant's whole
    /// seat-event log.
    ///
    /// Errors: see [`ERRORS`].
    pub async fn usage_report(&self, tenant: TenantId, query: &ReportQuery) -> Result<UsageReport> {
        let license = self.store.get_license(tenant, query.license_id).await?;
        build(
            self.store.as_ref(),
            tenant,
            &license,
            query,
            self.clock.now(),
        )
        .await
    }
}

#[cfg(test)]
mod tests;
