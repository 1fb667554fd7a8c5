//! How often and how patiently a request is repeated: exponential backoff with full jitter,
//! never shorter than the server's `Retry-After` (one longer than `max_backoff` ends the
//! retries: the error carries it, and the caller decides when to ask again). Every client route is idempotent (acquire
//! per machine, heartbeat, release), so repeating one after a timeout is safe.

use std::time::Duration;

/// The retry policy of a [`Client`](crate::Client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests sent at most, the first included (at least 1).
    pub max_attempts: u32,
    /// The backoff ceiling before the first retry; doubled after each.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts. A server's `Retry-After` beyond it stops the
    /// retries (the client never asks sooner than the server said).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, 200 ms doubling up to 5 s: at most 1.4 s of waiting (0.7 s on average)
    /// before a call reports [`Error::ServerUnavailable`](crate::Error::ServerUnavailable).
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before the next attempt once `attempts` (≥ 1) have failed, or `None` to stop:
    /// the attempts are used up, or the server asked for a longer pause than `max_backoff`
    /// (it is obeyed: no earlier retry; the caller gets its `Retry-After`).
    pub fn next(&self, attempts: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let longer = retry_after.is_some_and(|after| after > self.max_backoff);
        if attempts >= self.max_attempts || longer {
            return None;
        }
        Some(self.backoff(attempts.saturating_sub(1), retry_after))
    }

    /// The wait before retry number `retry` (0 for the first retry): a uniformly random
    /// duration up to `initial × 2^retry` (capped at `max_backoff`) — "full jitter", so many
    /// clients cut off together do not come back together — but never less than the server's
    /// `Retry-After` (itself capped at `max_backoff`).
    pub fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(20)))
            .min(self.max_backoff);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        let jittered = Duration::from_millis(fastrand::u64(0..=ceiling_ms));
        match retry_after {
            Some(after) => jittered.max(after.min(self.max_backoff)),
            None => jittered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_respects_retry_after() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        for _ in 0..200 {
            assert!(policy.backoff(0, None) <= Duration::from_millis(100));
            assert!(policy.backoff(2, None) <= Duration::from_millis(400));
            assert!(policy.backoff(30, None) <= Duration::from_secs(1));
            let after = policy.backoff(0, Some(Duration::from_millis(700)));
            assert!(after >= Duration::from_millis(700) && after <= Duration::from_secs(1));
            // A huge Retry-After is capped: the caller stays responsive.
            assert_eq!(
                policy.backoff(0, Some(Duration::from_secs(3600))),
                Duration::from_secs(1)
            );
        }
    }

    #[test]
    fn retries_stop_when_used_up_or_when_the_server_asks_for_a_longer_pause() {
        let policy = RetryPolicy::default();
        assert!(policy.next(1, None).is_some());
        assert!(policy.next(3, None).is_some());
        assert_eq!(policy.next(4, None), None, "4 attempts at most");
        assert_eq!(RetryPolicy::none().next(1, None), None);
        // A Retry-After the client would wait for is waited for, at least.
        let wait = policy.next(1, Some(Duration::from_secs(2)));
        assert!(
            wait.is_some_and(|w| w >= Duration::from_secs(2)),
            "{wait:?}"
        );
        // A longer one is not cut short: no retry at all.
        assert_eq!(policy.next(1, Some(Duration::from_secs(60))), None);
    }
}
