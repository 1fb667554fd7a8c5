use license_core::{
    Entitlement, LeasePolicy, License, LicenseId, LicenseKey, LicenseStatus, SeatCount, SeatRules,
    TenantId,
};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

use super::{count, stored_time, string_list};
use crate::errors::corrupt;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "licenses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub license_key: String,
    pub product: String,
    pub seats: i64,
    pub overdraft: i64,
    pub status: String,
    pub expires_at: Option<DateTimeUtc>,
    pub lease_ttl_seconds: i64,
    pub heartbeat_interval_seconds: i64,
    pub entitlements: Json,
    pub require_session_secret: bool,
    /// The seat rules (m0006): 0 and NULL are "off" and "no cap".
    pub max_borrow_seconds: i64,
    pub max_borrowed_seats: Option<i64>,
    pub linger_seconds: i64,
    pub min_hold_seconds: i64,
    pub overdraft_minutes_per_day: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub(crate) fn into_domain(self) -> license_core::Result<License> {
        const WHAT: &str = "license";
        let entitlements = string_list(WHAT, self.entitlements)?
            .iter()
            .map(|e| Entitlement::parse(e))
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt(WHAT, e))?;
        Ok(License {
            id: LicenseId::from_uuid(self.id),
            tenant_id: TenantId::from_uuid(self.tenant_id),
            key: LicenseKey::parse(&self.license_key).map_err(|e| corrupt(WHAT, e))?,
            product: self.product,
            seats: SeatCount::new(count(WHAT, self.seats)?).map_err(|e| corrupt(WHAT, e))?,
            overdraft: count(WHAT, self.overdraft)?,
            status: LicenseStatus::parse(&self.status).map_err(|e| corrupt(WHAT, e))?,
            expires_at: self.expires_at,
            lease: LeasePolicy::new(
                count(WHAT, self.lease_ttl_seconds)?,
                count(WHAT, self.heartbeat_interval_seconds)?,
            )
            .map_err(|e| corrupt(WHAT, e))?,
            entitlements,
            require_session_secret: self.require_session_secret,
            rules: SeatRules {
                max_borrow_seconds: count(WHAT, self.max_borrow_seconds)?,
                max_borrowed_seats: self
                    .max_borrowed_seats
                    .map(|n| count(WHAT, n))
                    .transpose()?,
                linger_seconds: count(WHAT, self.linger_seconds)?,
                min_hold_seconds: count(WHAT, self.min_hold_seconds)?,
                overdraft_minutes_per_day: self
                    .overdraft_minutes_per_day
                    .map(|n| count(WHAT, n))
                    .transpose()?,
                // Compile stub (replaced by p20-store): not stored yet.
                leasing: Default::default(),
                max_processes_per_host: None,
            },
            policy: license_core::SeatPolicy::default(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

impl From<&License> for ActiveModel {
    fn from(l: &License) -> Self {
        let entitlements: Vec<&str> = l.entitlements.iter().map(Entitlement::as_str).collect();
        ActiveModel {
            id: Set(l.id.as_uuid()),
            tenant_id: Set(l.tenant_id.as_uuid()),
            license_key: Set(l.key.as_str().to_owned()),
            product: Set(l.product.clone()),
            seats: Set(i64::from(l.seats.get())),
            overdraft: Set(i64::from(l.overdraft)),
            status: Set(l.status.as_str().to_owned()),
            expires_at: Set(l.expires_at.map(stored_time)),
            lease_ttl_seconds: Set(i64::from(l.lease.ttl_seconds())),
            heartbeat_interval_seconds: Set(i64::from(l.lease.heartbeat_interval_seconds())),
            entitlements: Set(serde_json::json!(entitlements)),
            require_session_secret: Set(l.require_session_secret),
            max_borrow_seconds: Set(i64::from(l.rules.max_borrow_seconds)),
            max_borrowed_seats: Set(l.rules.max_borrowed_seats.map(i64::from)),
            linger_seconds: Set(i64::from(l.rules.linger_seconds)),
            min_hold_seconds: Set(i64::from(l.rules.min_hold_seconds)),
            overdraft_minutes_per_day: Set(l.rules.overdraft_minutes_per_day.map(i64::from)),
            created_at: Set(stored_time(l.created_at)),
            updated_at: Set(stored_time(l.updated_at)),
        }
    }
}
