//! Per-client budgets: one GCRA rate limiter (`governor`) for requests and one for failures,
//! whose per-client state lives in a bounded `moka` cache, on the app's injected clock.
//!
//! A failure budget cannot be consulted before a request's outcome is known, so it is spent
//! after the fact: the failure that spends the last of it *blocks* the client until the budget
//! has room again (governor's `NotUntil`), and while blocked every request of the client that
//! can be blocked is refused before it reaches the endpoint. A refused request spends nothing,
//! so the budget refills and a persistent client gets exactly the budget's rate of failures.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::clock::Clock as GovernorClock;
use governor::middleware::{NoOpMiddleware, StateInformationMiddleware};
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{Quota, RateLimiter};
use license_core::Clock;
use moka::sync::Cache;

/// A client's state unused this long is forgotten. Every budget refills completely within a
/// minute (the slowest is a minute's worth of failures a minute) and a block lasts at most one
/// failure's worth, so forgetting after two loses nothing.
const IDLE: Duration = Duration::from_secs(120);

/// The injected clock as governor's: nanoseconds since the budgets were built.
#[derive(Clone, Debug)]
pub(super) struct InjectedClock {
    clock: Arc<dyn Clock>,
    origin: DateTime<Utc>,
}

impl InjectedClock {
    pub(super) fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            origin: clock.now(),
            clock,
        }
    }
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

/// One client's budgets, and until when it is blocked for failures (0: it is not).
#[derive(Debug, Default)]
struct ClientState {
    requests: InMemoryState,
    failures: InMemoryState,
    blocked_until: AtomicU64,
}

/// What identifies a client (an address, a credential).
pub(super) trait ClientKey: Hash + Eq + Clone + Send + Sync + 'static {}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> ClientKey for K {}

/// One of the two budgets of every client in the cache, as governor's state store.
struct Store<K> {
    clients: Cache<K, Arc<ClientState>>,
    budget: fn(&ClientState) -> &InMemoryState,
}

impl<K: ClientKey> StateStore for Store<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let client = self.clients.get_with_by_ref(key, Arc::default);
        (self.budget)(&client).measure_and_replace(&NotKeyed::NonKey, f)
    }
}

type Limiter<K, MW = NoOpMiddleware<Nanos>> = RateLimiter<K, Store<K>, InjectedClock, MW>;

/// A limiter of one budget of the clients in `clients`.
fn limiter<K: ClientKey>(
    clients: &Cache<K, Arc<ClientState>>,
    clock: &InjectedClock,
    quota: Quota,
    budget: fn(&ClientState) -> &InMemoryState,
) -> Limiter<K> {
    let store = Store {
        clients: clients.clone(),
        budget,
    };
    RateLimiter::new(quota, store, clock.clone())
}

/// Why a request was refused, and how long the client should wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Its request budget is spent.
    Requests(Duration),
    /// It is blocked for failures.
    Failures(Duration),
}

/// The request and failure budgets of one kind of client (addresses, or credentials).
pub(super) struct Budgets<K: ClientKey> {
    clients: Cache<K, Arc<ClientState>>,
    requests: Option<Limiter<K>>,
    /// Says how much is left after each failure, so the last one blocks at once.
    failures: Option<Limiter<K, StateInformationMiddleware>>,
    clock: InjectedClock,
}

impl<K: ClientKey> std::fmt::Debug for Budgets<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budgets")
            .field("clients", &self.clients.entry_count())
            .field("requests", &self.requests.is_some())
            .field("failures", &self.failures.is_some())
            .finish_non_exhaustive()
    }
}

impl<K: ClientKey> Budgets<K> {
    /// `requests` a second and `failures` a minute per client (`None`: unlimited), for at
    /// most `capacity` clients.
    pub(super) fn new(
        requests: Option<NonZeroU32>,
        failures: Option<NonZeroU32>,
        capacity: u64,
        clock: InjectedClock,
    ) -> Self {
        let clients = Cache::builder()
            .max_capacity(capacity)
            .time_to_idle(IDLE)
            .build();
        Self {
            requests: requests
                .map(|n| limiter(&clients, &clock, Quota::per_second(n), |c| &c.requests)),
            failures: failures.map(|n| {
                limiter(&clients, &clock, Quota::per_minute(n), |c| &c.failures)
                    .with_middleware::<StateInformationMiddleware>()
            }),
            clients,
            clock,
        }
    }

    /// A request by `key`: refused while the client is blocked for failures (unless the
    /// request cannot be blocked), else it takes one from the client's request budget.
    pub(super) fn admit(&self, key: &K, blockable: bool) -> Result<(), Refusal> {
        let now = self.clock.now();
        if blockable
            && self.failures.is_some()
            && let Some(client) = self.clients.get(key)
        {
            let until = Nanos::from(client.blocked_until.load(Ordering::Acquire));
            if until > now {
                return Err(Refusal::Failures(until.saturating_sub(now).into()));
            }
        }
        match &self.requests {
            Some(requests) => requests
                .check_key(key)
                .map_err(|not_until| Refusal::Requests(not_until.wait_time_from(now))),
            None => Ok(()),
        }
    }

    /// A failure by `key`: it takes one from the client's failure budget, and the one that
    /// takes the last blocks the client until the budget has room again. A failure that
    /// found nothing left (concurrent failures raced past the block) is refused: the wait.
    pub(super) fn fail(&self, key: &K) -> Result<(), Duration> {
        let Some(failures) = &self.failures else {
            return Ok(());
        };
        match failures.check_key(key) {
            Ok(left) if left.remaining_burst_capacity() > 0 => Ok(()),
            Ok(_) => {
                // Nothing left: this check cannot fit, so it spends nothing and says until when.
                if let Err(not_until) = failures.check_key(key) {
                    self.block(key, not_until.earliest_possible());
                }
                Ok(())
            }
            Err(not_until) => {
                self.block(key, not_until.earliest_possible());
                Err(not_until.wait_time_from(self.clock.now()))
            }
        }
    }

    fn block(&self, key: &K, until: Nanos) {
        if let Some(client) = self.clients.get(key) {
            client
                .blocked_until
                .fetch_max(u64::from(until), Ordering::AcqRel);
        }
    }

    /// Clients tracked now (pending evictions applied).
    #[cfg(test)]
    pub(super) fn tracked(&self) -> u64 {
        self.clients.run_pending_tasks();
        self.clients.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use license_core::ManualClock;

    use super::*;

    fn budgets(requests: u32, failures: u32) -> (Budgets<u32>, ManualClock) {
        let clock = ManualClock::new(Utc::now());
        let budgets = Budgets::new(
            NonZeroU32::new(requests),
            NonZeroU32::new(failures),
            1_000,
            InjectedClock::new(Arc::new(clock.clone())),
        );
        (budgets, clock)
    }

    #[test]
    fn requests_beyond_a_seconds_worth_wait_for_the_budget_to_refill() {
        let (budgets, clock) = budgets(10, 0);
        for _ in 0..10 {
            budgets.admit(&1, true).unwrap();
        }
        let Err(Refusal::Requests(wait)) = budgets.admit(&1, true) else {
            panic!("the eleventh request in a second passed");
        };
        assert_eq!(wait, Duration::from_millis(100));
        budgets.admit(&2, true).unwrap();
        clock.advance(TimeDelta::milliseconds(100));
        budgets.admit(&1, true).unwrap();
        assert!(budgets.admit(&1, true).is_err());
    }

    #[test]
    fn a_client_out_of_failures_is_blocked_until_one_refills() {
        let (budgets, clock) = budgets(0, 3);
        for _ in 0..3 {
            budgets.admit(&1, true).unwrap();
            budgets.fail(&1).unwrap();
        }
        assert_eq!(
            budgets.admit(&1, true),
            Err(Refusal::Failures(Duration::from_secs(20))),
            "the third of a minute's three blocks at once; one more every 20 s"
        );
        assert_eq!(
            budgets.fail(&1),
            Err(Duration::from_secs(20)),
            "a failure racing past the block is refused"
        );
        budgets.admit(&1, false).unwrap();
        budgets.admit(&2, true).unwrap();

        clock.advance(TimeDelta::seconds(19));
        assert_eq!(
            budgets.admit(&1, true),
            Err(Refusal::Failures(Duration::from_secs(1)))
        );
        clock.advance(TimeDelta::seconds(1));
        budgets.admit(&1, true).unwrap();
        budgets.fail(&1).unwrap();
        assert_eq!(
            budgets.admit(&1, true),
            Err(Refusal::Failures(Duration::from_secs(20))),
            "one refilled, one spent, blocked again"
        );
    }

    #[test]
    fn unlimited_budgets_track_no_one() {
        let (budgets, _clock) = budgets(0, 0);
        for key in 0..100 {
            budgets.admit(&key, true).unwrap();
            budgets.fail(&key).unwrap();
        }
        assert_eq!(budgets.tracked(), 0);
    }

    #[test]
    fn at_most_capacity_clients_are_tracked() {
        let (budgets, _clock) = budgets(5, 5);
        for key in 0..5_000 {
            budgets.admit(&key, true).unwrap();
        }
        assert!(budgets.tracked() <= 1_000, "{}", budgets.tracked());
    }
}
