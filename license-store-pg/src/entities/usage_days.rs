use license_core::{LicenseId, UsageDay};
use sea_orm::entity::prelude::*;

use super::count;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_days")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub license_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    pub tenant_id: Uuid,
    pub peak_seats: i64,
    pub denials: i64,
    /// Seats beyond `seats_total` at the day's peak (m0006).
    pub overdraft_peak: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> license_core::Result<UsageDay> {
        Ok(UsageDay {
            license_id: LicenseId::from_uuid(self.license_id),
            day: self.day,
            peak_seats: count("usage day", self.peak_seats)?,
            denials: count("usage day", self.denials)?,
            overdraft_peak: count("usage day", self.overdraft_peak)?,
            // Computed by the core from the overdraft sessions, never stored.
            overdraft_seat_minutes: 0,
        })
    }
}
