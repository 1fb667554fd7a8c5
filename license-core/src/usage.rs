//! Usage figures: the evidence vendors and customers use to size licenses.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::LicenseId;

/// One license's usage on one UTC day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDay {
    /// The license.
    pub license_id: LicenseId,
    /// The UTC day.
    pub day: NaiveDate,
    /// Most seats in use at once that day (as seen at each grant).
    pub peak_seats: u32,
    /// Acquisitions refused for lack of seats that day.
    pub denials: u32,
    /// Seats in use beyond `seats_total` at the day's peak (as seen at each grant).
    #[serde(default)]
    pub overdraft_peak: u32,
    /// Minutes that day held by sessions granted into the overdraft (the billable overage;
    /// a live session counts up to now). From the sessions the store still keeps.
    #[serde(default)]
    pub overdraft_seat_minutes: u64,
}
