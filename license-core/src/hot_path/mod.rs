//! What keeps heartbeats and acquires off the database: the license policy cached per replica
//! ([`PolicyCache`]), the sessions this replica has seen ([`SessionDirectory`]), and the
//! renewals the store learns in batches ([`WriteBehind`]). Each has a documented bound (see
//! ADR 0017 and [`HotPathConfig`]).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::license::{LeasePolicy, License};

mod directory;
mod policy;
mod write_behind;

pub use directory::SessionDirectory;
pub use policy::PolicyCache;
pub use write_behind::WriteBehind;

/// The bounds of the hot-path caches.
///
/// ```
/// use license_core::hot_path::HotPathConfig;
/// let config = HotPathConfig::default();
/// assert_eq!(config.policy_ttl.as_secs(), 5);
/// assert_eq!(config.max_write_lag.as_secs(), 10);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HotPathConfig {
    /// How long a replica may answer from a cached license: a suspend, revoke, seat or TTL
    /// change made on another replica applies there within this time (at once on the replica
    /// that made it).
    pub policy_ttl: Duration,
    /// Most sessions the directory remembers (about 300 bytes each).
    pub directory_capacity: u64,
    /// The longest a renewal may wait in this replica's write-behind buffer: while older ones
    /// are unflushed, heartbeats answer 503 instead of renewing, so the store is never further
    /// behind the ledger than this (the rebuild after a Redis loss relies on it).
    pub max_write_lag: Duration,
}

impl Default for HotPathConfig {
    fn default() -> Self {
        Self {
            policy_ttl: Duration::from_secs(5),
            directory_capacity: 1_000_000,
            max_write_lag: Duration::from_secs(10),
        }
    }
}

impl HotPathConfig {
    /// How long after a session's stored expiry the store still cannot prove it dead: a
    /// renewal lost with a crashed replica's buffer (granted before the stored expiry, so at
    /// most one TTL more), plus the write lag, plus the longest a ledger call may take between
    /// the lag check and the renewal. The rebuild after a Redis loss restores every session
    /// within this slack, and the reaper ends none of them. See ADR 0017.
    ///
    /// The TTL is the license's, unless the license changed recently enough for a renewal
    /// under an older (longer) TTL to be live still: then the longest TTL there is.
    ///
    /// ```
    /// use license_core::hot_path::HotPathConfig;
    /// use license_core::*;
    /// let config = HotPathConfig::default();
    /// let now = chrono::Utc::now();
    /// let mut license = License {
    ///     id: LicenseId::new(), tenant_id: TenantId::new(), key: LicenseKey::generate()?,
    ///     product: "CAD".into(), seats: SeatCount::new(1)?, overdraft: 0,
    ///     status: LicenseStatus::Active, expires_at: None, lease: LeasePolicy::default(),
    ///     entitlements: vec![], created_at: now, updated_at: now,
    /// };
    /// // Just changed: a renewal under any TTL may still be live.
    /// assert_eq!(config.proof_slack(&license, now).num_seconds(), 86_400 + 15);
    /// license.updated_at = now - chrono::TimeDelta::days(2);
    /// assert_eq!(config.proof_slack(&license, now).num_seconds(), 360 + 15);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn proof_slack(&self, license: &License, now: DateTime<Utc>) -> TimeDelta {
        let bound = |d: Duration| TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
        let margin = bound(self.max_write_lag + LEDGER_CALL_BOUND);
        let longest = TimeDelta::seconds(i64::from(LeasePolicy::MAX_TTL_SECONDS));
        let settled = license.updated_at + longest + bound(self.policy_ttl) + margin;
        let ttl = if now < settled {
            longest
        } else {
            license.lease.ttl()
        };
        ttl + margin
    }
}

/// The longest one ledger call may take (the Redis adapter's default timeout is 2 s).
const LEDGER_CALL_BOUND: Duration = Duration::from_secs(5);
