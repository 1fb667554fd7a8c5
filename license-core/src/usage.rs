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
}
