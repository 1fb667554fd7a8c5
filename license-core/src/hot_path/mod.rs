//! What keeps heartbeats and acquires off the database: the license policy cached per replica
//! ([`PolicyCache`]), the sessions this replica has seen ([`SessionDirectory`]), and the
//! renewals the store learns in batches ([`WriteBehind`]). Each has a documented bound (see
//! ADR 0017 and [`HotPathConfig`]).

use std::time::Duration;

use chrono::TimeDelta;

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
    /// Most sessions the directory remembers (about 400 bytes each).
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
    /// most one `ttl` more), plus the write lag, plus the longest a ledger call may take between
    /// the lag check and the renewal. The rebuild after a Redis loss restores every session
    /// within this slack (with `ttl` the longer of the license's and the session's own last
    /// one), and the reaper ends none of them. See ADR 0017.
    ///
    /// ```
    /// use std::time::Duration;
    /// use license_core::hot_path::HotPathConfig;
    /// let slack = HotPathConfig::default().proof_slack(Duration::from_secs(360));
    /// assert_eq!(slack.num_seconds(), 360 + 10 + 5);
    /// ```
    pub fn proof_slack(&self, ttl: Duration) -> TimeDelta {
        TimeDelta::from_std(ttl + self.max_write_lag + LEDGER_CALL_BOUND).unwrap_or(TimeDelta::MAX)
    }
}

/// The longest one ledger call may take (the Redis adapter's default timeout is 2 s).
const LEDGER_CALL_BOUND: Duration = Duration::from_secs(5);
