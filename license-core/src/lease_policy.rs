//! Lease policy: how long a lease lives without a heartbeat, and how often to heartbeat.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How long a lease lives without a heartbeat, and how often clients should heartbeat.
///
/// ```
/// use license_core::LeasePolicy;
/// let p = LeasePolicy::default();
/// assert_eq!((p.ttl_seconds(), p.heartbeat_interval_seconds()), (360, 120));
/// assert!(LeasePolicy::new(60, 60).is_err(), "interval must be shorter than the TTL");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeasePolicy {
    ttl_seconds: u32,
    heartbeat_interval_seconds: u32,
}

impl LeasePolicy {
    /// Longest TTL accepted: one day.
    pub const MAX_TTL_SECONDS: u32 = 86_400;

    /// Validates a policy: `1 <= interval < ttl <= 1 day`.
    pub fn new(ttl_seconds: u32, heartbeat_interval_seconds: u32) -> Result<Self> {
        if ttl_seconds == 0 || ttl_seconds > Self::MAX_TTL_SECONDS {
            return Err(Error::invalid(
                "ttl_seconds",
                format!("must be between 1 and {}", Self::MAX_TTL_SECONDS),
            ));
        }
        if heartbeat_interval_seconds == 0 || heartbeat_interval_seconds >= ttl_seconds {
            return Err(Error::invalid(
                "heartbeat_interval_seconds",
                "must be at least 1 and shorter than ttl_seconds",
            ));
        }
        Ok(Self {
            ttl_seconds,
            heartbeat_interval_seconds,
        })
    }

    /// Seconds a seat is held after the last heartbeat.
    pub const fn ttl_seconds(&self) -> u32 {
        self.ttl_seconds
    }

    /// Seconds clients should wait between heartbeats.
    pub const fn heartbeat_interval_seconds(&self) -> u32 {
        self.heartbeat_interval_seconds
    }

    /// The TTL as a duration.
    pub fn ttl(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(i64::from(self.ttl_seconds))
    }
}

impl Default for LeasePolicy {
    /// Six minutes without a heartbeat, heartbeats every two: a client survives two lost beats.
    fn default() -> Self {
        Self {
            ttl_seconds: 360,
            heartbeat_interval_seconds: 120,
        }
    }
}
