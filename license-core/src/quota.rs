//! Per-tenant quotas: how many licenses, active API keys and potential live seats one tenant
//! may hold, so that one tenant cannot exhaust what every tenant shares (store rows, the
//! reaper's passes, the seat ledger's memory).
//!
//! The rule lives here; the store applies it inside the transaction that writes the change
//! (see [`LicenseStore::create_license`](crate::LicenseStore::create_license)), reading the
//! tenant's [`TenantUsage`] under a per-tenant lock, so two concurrent creates cannot both
//! pass a check that only one of them fits.

use std::fmt;

use crate::error::{Error, Result};
use crate::license::{License, LicenseStatus};

/// Which quota a change would exceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quota {
    /// Licenses of the tenant (revoked ones included: they stay on record).
    Licenses,
    /// API keys of the tenant that are not revoked.
    ApiKeys,
    /// Live seats the tenant's licenses may allow together: the sum of `seats_total` plus
    /// `overdraft` over its licenses that are not revoked.
    Seats,
}

impl Quota {
    /// The stable wire name (`licenses`, `api_keys`, `seats`): the error body's `quota`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Quota::Licenses => "licenses",
            Quota::ApiKeys => "api_keys",
            Quota::Seats => "seats",
        }
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Quota::Licenses => "licenses",
            Quota::ApiKeys => "active API keys",
            Quota::Seats => "seats (seats_total plus overdraft, over licenses not revoked)",
        })
    }
}

/// The limits every tenant is held to, set by the operator.
///
/// ```
/// use license_core::{TenantQuotas, TenantUsage, Quota, Error};
/// let quotas = TenantQuotas { max_licenses: 2, max_api_keys: 5, max_seats: 100 };
/// let before = TenantUsage { licenses: 2, api_keys: 1, seats: 40 };
/// let after = TenantUsage { licenses: 3, ..before };
/// match quotas.check(&before, &after) {
///     Err(Error::QuotaExceeded { quota, limit }) => assert_eq!((quota, limit), (Quota::Licenses, 2)),
///     other => panic!("{other:?}"),
/// }
/// // A change that raises nothing passes, even over a limit lowered since.
/// assert!(quotas.check(&TenantUsage { seats: 500, ..before }, &TenantUsage { seats: 400, ..before }).is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TenantQuotas {
    /// Most licenses (revoked ones included).
    pub max_licenses: u64,
    /// Most API keys that are not revoked.
    pub max_api_keys: u64,
    /// Most seats over the licenses that are not revoked, overdraft included.
    pub max_seats: u64,
}

impl TenantQuotas {
    /// The defaults: 10,000 licenses, 100 active API keys, 1,000,000 seats (one license of the
    /// largest size, or many smaller ones).
    pub const DEFAULT: TenantQuotas = TenantQuotas {
        max_licenses: 10_000,
        max_api_keys: 100,
        max_seats: 1_000_000,
    };

    /// No limit at all (tests and embedders that police tenants themselves).
    pub const UNLIMITED: TenantQuotas = TenantQuotas {
        max_licenses: u64::MAX,
        max_api_keys: u64::MAX,
        max_seats: u64::MAX,
    };

    /// Whether a change taking the tenant from `before` to `after` is allowed: it is refused
    /// with [`Error::QuotaExceeded`] when it raises a figure above its limit. A change that
    /// raises nothing always passes, so lowering a limit below what a tenant holds never
    /// blocks it from shrinking, suspending or revoking.
    pub fn check(&self, before: &TenantUsage, after: &TenantUsage) -> Result<()> {
        let checks = [
            (
                Quota::Licenses,
                before.licenses,
                after.licenses,
                self.max_licenses,
            ),
            (
                Quota::ApiKeys,
                before.api_keys,
                after.api_keys,
                self.max_api_keys,
            ),
            (Quota::Seats, before.seats, after.seats, self.max_seats),
        ];
        for (quota, was, will, limit) in checks {
            if will > was && will > limit {
                return Err(Error::QuotaExceeded { quota, limit });
            }
        }
        Ok(())
    }
}

impl Default for TenantQuotas {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What a tenant holds, in the figures its quotas limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TenantUsage {
    /// Licenses (revoked ones included).
    pub licenses: u64,
    /// API keys that are not revoked.
    pub api_keys: u64,
    /// `seats_total` plus `overdraft` summed over the licenses that are not revoked.
    pub seats: u64,
}

impl TenantUsage {
    /// What a license counts against the seat quota: its seat limit, or nothing once revoked
    /// (a revoked license can never grant a seat again).
    ///
    /// ```
    /// # use license_core::*;
    /// # let now = chrono::Utc::now();
    /// # let mut license = License {
    /// #     id: LicenseId::new(), tenant_id: TenantId::new(),
    /// #     key: LicenseKey::parse("ACME-0000-0001").unwrap(), product: "CAD".into(),
    /// #     seats: SeatCount::new(10).unwrap(), overdraft: 5, status: LicenseStatus::Active,
    /// #     expires_at: None, lease: LeasePolicy::default(), entitlements: vec![],
    /// #     require_session_secret: false, rules: SeatRules::default(), policy: SeatPolicy::default(),
    /// #     created_at: now, updated_at: now };
    /// assert_eq!(TenantUsage::seats_of(&license), 15);
    /// license.status = LicenseStatus::Revoked;
    /// assert_eq!(TenantUsage::seats_of(&license), 0);
    /// ```
    pub fn seats_of(license: &License) -> u64 {
        if license.status == LicenseStatus::Revoked {
            0
        } else {
            u64::from(license.seats.get()) + u64::from(license.overdraft)
        }
    }

    /// The usage once `new` is created.
    pub fn with_license_created(&self, new: &License) -> Self {
        Self {
            licenses: self.licenses.saturating_add(1),
            seats: self.seats.saturating_add(Self::seats_of(new)),
            ..*self
        }
    }

    /// The usage once `old` is replaced by `new` (same license, changed terms or status).
    pub fn with_license_changed(&self, old: &License, new: &License) -> Self {
        Self {
            seats: self
                .seats
                .saturating_sub(Self::seats_of(old))
                .saturating_add(Self::seats_of(new)),
            ..*self
        }
    }

    /// The usage once one more API key is created.
    pub fn with_api_key_created(&self) -> Self {
        Self {
            api_keys: self.api_keys.saturating_add(1),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: TenantQuotas = TenantQuotas {
        max_licenses: 3,
        max_api_keys: 2,
        max_seats: 50,
    };

    fn usage(licenses: u64, api_keys: u64, seats: u64) -> TenantUsage {
        TenantUsage {
            licenses,
            api_keys,
            seats,
        }
    }

    fn refused(before: TenantUsage, after: TenantUsage) -> Option<(Quota, u64)> {
        match Q.check(&before, &after) {
            Ok(()) => None,
            Err(Error::QuotaExceeded { quota, limit }) => Some((quota, limit)),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn reaching_a_limit_is_allowed_passing_it_is_not() {
        assert_eq!(refused(usage(2, 0, 0), usage(3, 0, 0)), None);
        assert_eq!(
            refused(usage(3, 0, 0), usage(4, 0, 0)),
            Some((Quota::Licenses, 3))
        );
        assert_eq!(
            refused(usage(0, 2, 0), usage(0, 3, 0)),
            Some((Quota::ApiKeys, 2))
        );
        assert_eq!(refused(usage(0, 0, 40), usage(0, 0, 50)), None);
        assert_eq!(
            refused(usage(0, 0, 40), usage(0, 0, 51)),
            Some((Quota::Seats, 50))
        );
    }

    #[test]
    fn a_tenant_over_a_lowered_limit_may_still_shrink_but_not_grow() {
        assert_eq!(refused(usage(9, 9, 90), usage(9, 9, 80)), None);
        assert_eq!(refused(usage(9, 9, 90), usage(9, 9, 90)), None);
        assert_eq!(
            refused(usage(9, 9, 90), usage(9, 9, 91)),
            Some((Quota::Seats, 50))
        );
    }

    #[test]
    fn unlimited_never_refuses() {
        let max = usage(u64::MAX, u64::MAX, u64::MAX);
        assert!(TenantQuotas::UNLIMITED.check(&usage(0, 0, 0), &max).is_ok());
    }
}
