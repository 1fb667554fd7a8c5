//! How many store lookups API keys that are not in the cache may cause, per replica: each
//! tenant this replica knows (it has read one of its key records) has its own budget, and every
//! tenant it does not know shares one. A flood of made-up keys therefore costs the store at
//! most one budget for the strangers plus one per known tenant flooded under its own id, and
//! one tenant's garbage never spends another known tenant's budget.
//!
//! GCRA buckets (`governor`) on the use cases' injected [`Clock`], so tests move time by hand.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use moka::sync::Cache;

use crate::clock::Clock;
use crate::ids::TenantId;

/// How long a known tenant's bucket is kept without a lookup: it is then a stranger again.
const KNOWN_TENANT_IDLE: Duration = Duration::from_secs(3600);

type Bucket = RateLimiter<NotKeyed, InMemoryState, InjectedClock, NoOpMiddleware<Nanos>>;

/// The injected clock as governor's: nanoseconds since the limiter was built (never negative).
#[derive(Clone, Debug)]
struct InjectedClock {
    clock: Arc<dyn Clock>,
    origin: DateTime<Utc>,
}

impl GovernorClock for InjectedClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let elapsed = (self.clock.now() - self.origin)
            .num_nanoseconds()
            .unwrap_or(i64::MAX);
        Nanos::from(u64::try_from(elapsed).unwrap_or(0))
    }
}

/// Lookups refused: the budget is spent until the bucket refills (within a second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limited;

/// The per-tenant and the shared budgets.
pub(crate) struct MissLimiter {
    quota: Quota,
    clock: InjectedClock,
    strangers: Bucket,
    known: Cache<TenantId, Arc<Bucket>>,
}

impl std::fmt::Debug for MissLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MissLimiter")
            .field("quota", &self.quota)
            .field("known_tenants", &self.known.entry_count())
            .finish_non_exhaustive()
    }
}

impl MissLimiter {
    /// `per_second` lookups a second (and as a burst) per known tenant and for all strangers;
    /// at most `capacity` known tenants are tracked.
    pub(crate) fn new(per_second: NonZeroU32, capacity: u64, clock: Arc<dyn Clock>) -> Self {
        let quota = Quota::per_second(per_second);
        let clock = InjectedClock {
            origin: clock.now(),
            clock,
        };
        Self {
            quota,
            strangers: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
            known: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(KNOWN_TENANT_IDLE)
                .build(),
        }
    }

    /// Takes one lookup from `tenant`'s budget, or the strangers' if it is not known.
    pub(crate) fn admit(&self, tenant: TenantId) -> Result<(), Limited> {
        let bucket = self.known.get(&tenant);
        let bucket = bucket.as_deref().unwrap_or(&self.strangers);
        bucket.check().map_err(|_| Limited)
    }

    /// `tenant` has a key record: from now on its misses spend its own budget. Called only
    /// with tenants the store knows, so strangers' made-up ids never take a place here.
    pub(crate) fn know(&self, tenant: TenantId) {
        if !self.known.contains_key(&tenant) {
            let bucket = Arc::new(RateLimiter::direct_with_clock(
                self.quota,
                self.clock.clone(),
            ));
            self.known.entry(tenant).or_insert(bucket);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::clock::ManualClock;

    fn limiter(per_second: u32) -> (MissLimiter, ManualClock) {
        let clock = ManualClock::new(Utc::now());
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        (
            MissLimiter::new(per_second, 100, Arc::new(clock.clone())),
            clock,
        )
    }

    fn admitted(limiter: &MissLimiter, tenant: TenantId, tries: u32) -> u32 {
        (0..tries)
            .filter(|_| limiter.admit(tenant).is_ok())
            .count()
            .try_into()
            .unwrap_or(u32::MAX)
    }

    #[test]
    fn strangers_share_one_budget_that_refills_with_time() {
        let (limiter, clock) = limiter(3);
        let admitted_now: u32 = (0..10)
            .map(|_| admitted(&limiter, TenantId::new(), 1))
            .sum();
        assert_eq!(admitted_now, 3, "ten made-up tenants, one budget of three");
        clock.advance(TimeDelta::milliseconds(340));
        assert_eq!(
            admitted(&limiter, TenantId::new(), 5),
            1,
            "one back a third of a second later"
        );
        clock.advance(TimeDelta::seconds(5));
        assert_eq!(
            admitted(&limiter, TenantId::new(), 5),
            3,
            "never more than the burst"
        );
    }

    #[test]
    fn a_known_tenant_has_its_own_budget() {
        let (limiter, _clock) = limiter(2);
        let (acme, other) = (TenantId::new(), TenantId::new());
        limiter.know(acme);
        limiter.know(other);
        assert_eq!(admitted(&limiter, acme, 10), 2);
        assert_eq!(
            admitted(&limiter, other, 10),
            2,
            "acme's flood spent nothing of other's"
        );
        assert_eq!(
            admitted(&limiter, TenantId::new(), 10),
            2,
            "nor the strangers'"
        );
        limiter.know(acme);
        assert_eq!(
            admitted(&limiter, acme, 1),
            0,
            "knowing again does not refill"
        );
    }
}
