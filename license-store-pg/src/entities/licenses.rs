use license_core::{
    Entitlement, LeasePolicy, LeasingStrategy, License, LicenseId, LicenseKey, LicenseStatus,
    SeatCount, SeatPolicy, SeatRules, TenantId,
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
    /// Who a seat is for (m0007): `per_machine` (the default), `per_user` or `per_process`.
    pub leasing_strategy: String,
    /// Per-process leasing's cap on one machine's processes; NULL: no cap.
    pub max_processes_per_host: Option<i64>,
    /// The seat policy as JSON text; NULL: the empty policy (also written for it).
    pub seat_policy: Option<String>,
    /// The queue (m0009): the longest wait in seconds, 0 (the default): no queue.
    pub max_wait_seconds: i64,
    /// Most clients waiting at once; NULL: the default length.
    pub max_queue_length: Option<i64>,
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
                leasing: leasing(&self.leasing_strategy)?,
                max_processes_per_host: self
                    .max_processes_per_host
                    .map(|n| count(WHAT, n))
                    .transpose()?,
                max_wait_seconds: count(WHAT, self.max_wait_seconds)?,
                max_queue_length: self.max_queue_length.map(|n| count(WHAT, n)).transpose()?,
            },
            policy: self
                .seat_policy
                .map(|text| serde_json::from_str(&text).map_err(|e| corrupt(WHAT, e)))
                .transpose()?
                .unwrap_or_default(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A stored leasing strategy (its serde form, which `as_str` gives too) back to the domain.
fn leasing(text: &str) -> license_core::Result<LeasingStrategy> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| corrupt("license", e))
}

/// The policy as stored: NULL when empty, so licenses without one keep the column empty.
fn policy_text(policy: &SeatPolicy) -> license_core::Result<Option<String>> {
    if policy.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(policy)
        .map(Some)
        .map_err(|e| license_core::Error::Internal(format!("seat policy as JSON: {e}")))
}

/// The row of a license. Fallible only in theory: a policy always serialises.
impl TryFrom<&License> for ActiveModel {
    type Error = license_core::Error;

    fn try_from(l: &License) -> license_core::Result<Self> {
        let entitlements: Vec<&str> = l.entitlements.iter().map(Entitlement::as_str).collect();
        Ok(ActiveModel {
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
            leasing_strategy: Set(l.rules.leasing.as_str().to_owned()),
            max_processes_per_host: Set(l.rules.max_processes_per_host.map(i64::from)),
            seat_policy: Set(policy_text(&l.policy)?),
            max_wait_seconds: Set(i64::from(l.rules.max_wait_seconds)),
            max_queue_length: Set(l.rules.max_queue_length.map(i64::from)),
            created_at: Set(stored_time(l.created_at)),
            updated_at: Set(stored_time(l.updated_at)),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use chrono::DateTime;
    use license_core::{Error, Member, PolicyRule, SeatGroup, Target};
    use sea_orm::TryIntoModel;

    use super::*;

    fn license() -> License {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        License {
            id: LicenseId::new(),
            tenant_id: TenantId::new(),
            key: LicenseKey::parse("ROW-KEY-0001").unwrap(),
            product: "CAD".into(),
            seats: SeatCount::new(5).unwrap(),
            overdraft: 0,
            status: LicenseStatus::Active,
            expires_at: None,
            lease: LeasePolicy::default(),
            entitlements: vec![],
            require_session_secret: false,
            rules: SeatRules::default(),
            policy: SeatPolicy::default(),
            created_at: at,
            updated_at: at,
        }
    }

    fn row(l: &License) -> Model {
        ActiveModel::try_from(l).unwrap().try_into_model().unwrap()
    }

    #[test]
    fn strategy_cap_and_policy_round_trip_and_no_policy_is_null() {
        let plain = license();
        let stored = row(&plain);
        assert_eq!(stored.leasing_strategy, "per_machine");
        assert_eq!(stored.seat_policy, None);
        assert_eq!(stored.into_domain().unwrap(), plain);

        let mut l = license();
        l.rules.leasing = LeasingStrategy::PerProcess;
        l.rules.max_processes_per_host = Some(3);
        l.policy = SeatPolicy {
            groups: vec![SeatGroup::new("eng", vec![Member::Host("b1".into())])],
            rules: vec![PolicyRule::Max {
                seats: 2,
                target: Target::Group("eng".into()),
            }],
        };
        let stored = row(&l);
        assert_eq!(
            (
                stored.leasing_strategy.as_str(),
                stored.max_processes_per_host
            ),
            ("per_process", Some(3))
        );
        assert_eq!(stored.into_domain().unwrap(), l);
    }

    #[test]
    fn queue_rules_round_trip_and_no_queue_is_zero_and_null() {
        let plain = row(&license());
        assert_eq!((plain.max_wait_seconds, plain.max_queue_length), (0, None));

        let mut l = license();
        l.rules.max_wait_seconds = 600;
        l.rules.max_queue_length = Some(50);
        let stored = row(&l);
        assert_eq!(
            (stored.max_wait_seconds, stored.max_queue_length),
            (600, Some(50))
        );
        assert_eq!(stored.into_domain().unwrap(), l);
    }

    #[test]
    fn queue_rules_out_of_range_are_internal_errors() {
        for (wait, length) in [(-1, None), (i64::from(u32::MAX) + 1, None), (0, Some(-1))] {
            let stored = Model {
                max_wait_seconds: wait,
                max_queue_length: length,
                ..row(&license())
            };
            let err = stored.into_domain().unwrap_err();
            assert!(
                matches!(&err, Error::Internal(m) if m == "stored license is invalid"),
                "{wait} {length:?}: {err:?}"
            );
        }
    }

    #[test]
    fn malformed_strategies_and_policies_are_internal_errors() {
        let bad = [
            ("per_galaxy", None),
            ("PerUser", None),
            ("per_machine", Some("not json")),
            ("per_machine", Some(r#"{"rules": [{"rule": "forbid"}]}"#)),
            ("per_machine", Some(r#"{"groups": "eng"}"#)),
        ];
        for (strategy, policy) in bad {
            let stored = Model {
                leasing_strategy: strategy.to_owned(),
                seat_policy: policy.map(str::to_owned),
                ..row(&license())
            };
            let err = stored.into_domain().unwrap_err();
            assert!(
                matches!(&err, Error::Internal(m) if m == "stored license is invalid"),
                "{strategy} {policy:?}: {err:?}"
            );
        }
    }
}
