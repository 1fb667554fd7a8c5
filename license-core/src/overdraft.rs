//! Overdraft as billable overage (ADR 0025): a grant beyond a license's `seats_total` marks its
//! session (and token) as overdraft; its held minutes are the overage, counted per UTC day from
//! the sessions themselves, and an optional daily cap stops new overdraft grants once reached.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::error::Result;
use crate::license::License;
use crate::service::LicenseService;
use crate::session::Session;

/// Minutes held by `sessions` in each UTC day of `[from, to)`, a live session counting up to
/// `now` (an ended one up to its end; one that expired unnoticed up to its expiry). Partial
/// minutes add up before rounding down, so many short overdraft sessions are not lost.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use license_core::overdraft::seat_minutes_by_day;
/// use license_core::*;
/// let at = |h, m| Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap();
/// let mut s = Session::start(SessionId::new(), TenantId::new(), LicenseId::new(),
///     HardwareId::parse("pc-1")?, None, at(23, 30), at(23, 59));
/// s.ended_at = Some(at(23, 50));
/// let days = seat_minutes_by_day(&[s], at(0, 0), at(23, 59), at(23, 59));
/// assert_eq!(days.values().copied().collect::<Vec<_>>(), [20]);
/// # Ok::<(), Error>(())
/// ```
pub fn seat_minutes_by_day(
    sessions: &[Session],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> BTreeMap<NaiveDate, u64> {
    let mut seconds: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for session in sessions {
        let end = session.ended_at.unwrap_or(session.expires_at.min(now));
        let mut start = session.acquired_at.max(from);
        let end = end.min(to);
        while start < end {
            let day = start.date_naive();
            let next_day = day
                .succ_opt()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map_or(end, |d| d.and_utc());
            let until = end.min(next_day);
            *seconds.entry(day).or_default() += (until - start).num_seconds();
            start = until;
        }
    }
    seconds
        .into_iter()
        .map(|(day, s)| (day, u64::try_from(s / 60).unwrap_or(0)))
        .collect()
}

/// The start of `day` (UTC).
pub(crate) fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .map_or(DateTime::<Utc>::MIN_UTC, |t| t.and_utc())
}

impl LicenseService {
    /// Most live seats `license` may have for a grant now: seats plus overdraft, or only its
    /// seats once today's overdraft minutes reached the license's daily cap. Reads the store
    /// only for a license with a cap.
    pub(crate) async fn seat_limit_now(&self, license: &License) -> Result<u32> {
        let Some(cap) = license.rules.overdraft_minutes_per_day else {
            return Ok(license.seat_limit());
        };
        if license.overdraft == 0 {
            return Ok(license.seat_limit());
        }
        let now = self.clock.now();
        let today = day_start(now.date_naive());
        let sessions = self
            .sessions
            .overdraft_sessions(license.tenant_id, license.id, today, now)
            .await?;
        let used: u64 = seat_minutes_by_day(&sessions, today, now, now)
            .values()
            .sum();
        Ok(if used >= u64::from(cap) {
            license.seats.get()
        } else {
            license.seat_limit()
        })
    }
}

/// `to`'s day plus one, as an exclusive end.
pub(crate) fn after_day(to: NaiveDate) -> DateTime<Utc> {
    day_start(to) + TimeDelta::days(1)
}
