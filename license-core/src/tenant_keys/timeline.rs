//! When tenant keys are made, sign, retire and expire ([`TenantKeyConfig`]).
//!
//! ```text
//!  made (published)     activates          retires (successor activates)     expires
//!  |---- lead ----------|----------- rotation ----------|------------ overlap -----------|
//! ```
//! A successor is made about `lead` (half a rotation; an eighth less for some replicas and
//! tenants, to spread the calls to the root) before it activates, so every replica and every
//! client's cached key set knows it long before its first lease. A certificate outlives its
//! key's retirement by `overlap` (a rotation plus the longest lease): every lease the key
//! signed stays verifiable, and if the root cannot be reached to certify a successor, the key
//! goes on signing leases of any length for another rotation.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::license::LeasePolicy;
use crate::seat_rules::SeatRules;
use crate::signer::SigningAlgorithm;

/// How tenant keys are made and rotated.
///
/// ```
/// use license_core::tenant_keys::TenantKeyConfig;
/// let config = TenantKeyConfig::default();
/// assert_eq!(config.rotation.as_secs(), 86_400);
/// // A certificate outlives its key's retirement by a rotation plus the longest lease (a
/// // 14-day borrow).
/// assert_eq!(config.overlap().as_secs(), 15 * 86_400);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TenantKeyConfig {
    /// The algorithm of tenant keys (EdDSA: fast, small; ES256 for clients without Ed25519).
    pub algorithm: SigningAlgorithm,
    /// How long a key is the current one.
    pub rotation: Duration,
    /// How many tenants' keys a replica keeps in memory.
    pub capacity: u64,
}

impl Default for TenantKeyConfig {
    fn default() -> Self {
        Self {
            algorithm: SigningAlgorithm::EdDSA,
            rotation: Duration::from_secs(86_400),
            capacity: 100_000,
        }
    }
}

/// The longest lease any key may have to cover: a borrow's (14 days) is longer than any TTL,
/// so a borrowed lease verifies offline to its end (ADR 0025).
pub(crate) const LONGEST_LEASE: Duration = Duration::from_secs(max(
    LeasePolicy::MAX_TTL_SECONDS as u64,
    SeatRules::MAX_BORROW_SECONDS as u64,
));

const fn max(a: u64, b: u64) -> u64 {
    if a > b { a } else { b }
}

/// How far a replica's clock may be behind the clock of the replica that made a key. A key
/// signs from this long before its activation: a key made to sign at once (a tenant's first,
/// an administrator's rotation) activates at its maker's `now`, and a replica that read its
/// clock a moment earlier, or whose clock runs a little behind, must sign with it rather than
/// find no active key and make another one (then two keys sign for the tenant, and replicas
/// that hold only one of them refuse the other's leases until their next maintenance step).
pub(crate) const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Readiness reports a degraded signer when a key's certificate expires within this: the
/// longest lease plus an hour, so a license with the longest leases (or borrows) is warned of
/// before its leases start to fail.
pub const DEGRADED_WITHIN: Duration = Duration::from_secs(LONGEST_LEASE.as_secs() + 3600);

impl TenantKeyConfig {
    /// How long a certificate outlives its key's retirement.
    pub fn overlap(&self) -> Duration {
        self.rotation + LONGEST_LEASE
    }

    /// How long before it activates a successor is made and published.
    pub fn lead(&self) -> Duration {
        self.rotation / 2
    }

    /// The times of a key made at `now` that activates at `activates_at`:
    /// `(retires_at, expires_at)`.
    pub(crate) fn schedule(&self, activates_at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let retires_at = activates_at + delta(self.rotation);
        (retires_at, retires_at + delta(self.overlap()))
    }
}

/// A `TimeDelta` of `d`, saturating (configs are validated far below the limit).
pub(crate) fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}
