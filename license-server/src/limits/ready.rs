//! The readiness answer, shared: `/api/v1/ready` is public and each probe pings the store and
//! the ledger, so callers share probes instead of each making one.
//!
//! - Calls that arrive while a probe runs wait for it and take its answer, ready or not.
//! - A *ready* answer is then shared for `limits.ready_cache_millis` (on the app clock). A
//!   failure is not: the next caller probes again, so recovery is seen at once.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use license_core::{Clock, Readiness};
use tokio::sync::Mutex;

use crate::api::error::ApiError;

/// The last probe's answer.
#[derive(Debug)]
struct Last {
    at: DateTime<Utc>,
    answer: Result<Readiness, ApiError>,
}

/// Readiness probes, shared. See the module docs.
#[derive(Debug)]
pub struct ReadyCache {
    ttl: TimeDelta,
    clock: Arc<dyn Clock>,
    last: Mutex<Option<Last>>,
    /// Probes finished; a caller that sees more after waiting for the lock shares the last.
    probes: AtomicU64,
}

impl ReadyCache {
    /// Shares a ready answer for `ttl` (zero: only among concurrent callers).
    pub fn new(ttl: std::time::Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            ttl: TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX),
            clock,
            last: Mutex::new(None),
            probes: AtomicU64::new(0),
        }
    }

    /// The readiness answer: shared as the module docs say, else from `probe`.
    pub async fn answer<F, Fut>(&self, probe: F) -> Result<Readiness, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Readiness, license_core::Error>>,
    {
        let seen = self.probes.load(Ordering::Acquire);
        let mut last = self.last.lock().await;
        if let Some(previous) = last.as_ref() {
            let waited_for_it = self.probes.load(Ordering::Acquire) > seen;
            let age = self.clock.now() - previous.at;
            let fresh = previous.answer.is_ok() && age >= TimeDelta::zero() && age < self.ttl;
            if waited_for_it || fresh {
                return previous.answer.clone();
            }
        }
        let answer = probe().await.map_err(ApiError::from);
        *last = Some(Last {
            at: self.clock.now(),
            answer: answer.clone(),
        });
        self.probes.fetch_add(1, Ordering::Release);
        answer
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use license_core::{Dependency, Error, ManualClock};

    use super::*;

    struct Probe {
        calls: AtomicUsize,
        ready: std::sync::atomic::AtomicBool,
    }

    impl Probe {
        fn new() -> Self {
            Self {
                calls: AtomicUsize::new(0),
                ready: std::sync::atomic::AtomicBool::new(true),
            }
        }

        async fn run(&self) -> Result<Readiness, Error> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            if self.ready.load(Ordering::SeqCst) {
                Ok(Readiness::Ready)
            } else {
                Err(Error::unavailable(Dependency::Store, "down"))
            }
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn a_ready_answer_is_shared_for_its_time_and_a_failure_is_not() {
        let clock = ManualClock::new(Utc::now());
        let cache = ReadyCache::new(Duration::from_secs(1), Arc::new(clock.clone()));
        let probe = Probe::new();
        for _ in 0..5 {
            assert!(cache.answer(|| probe.run()).await.is_ok());
        }
        assert_eq!(probe.calls(), 1);

        probe.ready.store(false, Ordering::SeqCst);
        assert!(cache.answer(|| probe.run()).await.is_ok(), "still shared");
        clock.advance(TimeDelta::seconds(1));
        let e = cache.answer(|| probe.run()).await.unwrap_err();
        assert_eq!(e.status.as_u16(), 503);
        assert!(cache.answer(|| probe.run()).await.is_err());
        assert_eq!(probe.calls(), 3, "failures are probed again");

        probe.ready.store(true, Ordering::SeqCst);
        assert!(
            cache.answer(|| probe.run()).await.is_ok(),
            "recovery at once"
        );
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_probe_even_without_a_cache() {
        let clock = ManualClock::new(Utc::now());
        let cache = ReadyCache::new(Duration::ZERO, Arc::new(clock));
        let probe = Probe::new();
        probe.ready.store(false, Ordering::SeqCst);
        let answers =
            futures::future::join_all((0..20).map(|_| cache.answer(|| probe.run()))).await;
        assert!(answers.iter().all(Result::is_err));
        assert_eq!(probe.calls(), 1);
        assert!(cache.answer(|| probe.run()).await.is_err());
        assert_eq!(probe.calls(), 2, "a later caller probes again");
    }
}
