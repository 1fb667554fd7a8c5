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
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> license_core::Result<UsageDay> {
        Ok(UsageDay {
            overdraft_peak: 0,
            overdraft_seat_minutes: 0, // TODO(#19 store)
            license_id: LicenseId::from_uuid(self.license_id),
            day: self.day,
            peak_seats: count("usage day", self.peak_seats)?,
            denials: count("usage day", self.denials)?,
        })
    }
}
