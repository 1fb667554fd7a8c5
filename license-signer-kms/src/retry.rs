//! The retry policy: which failures are worth another attempt, and how long to wait before it.

use std::time::Duration;

/// Exponential back-off with "equal jitter": before retry `n` (from 0) wait half of
/// `min(cap, base·2ⁿ)` plus a random share of the other half, so replicas that failed
/// together do not retry together, and no wait is ever near zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) base: Duration,
    pub(crate) cap: Duration,
}

impl Backoff {
    /// 100 ms, 200 ms, 400 ms, … up to 3 s, each jittered down by up to half.
    pub(crate) const DEFAULT: Backoff = Backoff {
        base: Duration::from_millis(100),
        cap: Duration::from_secs(3),
    };

    /// The wait before retry `retry` (0 for the first), given a random number.
    pub(crate) fn delay(&self, retry: u32, random: u64) -> Duration {
        let factor = 2_u32.checked_pow(retry).unwrap_or(u32::MAX);
        let step = self.base.saturating_mul(factor).min(self.cap);
        let half = step / 2;
        let span = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(random % span.saturating_add(1))
    }
}

/// A random number for the jitter, from the OS through aws-lc-rs (0 if that ever fails: the
/// wait is then just the deterministic half).
pub(crate) fn random() -> u64 {
    let mut bytes = [0_u8; 8];
    match aws_lc_rs::rand::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => 0,
    }
}

/// Whether an HTTP status from Cloud KMS is worth retrying: rate limited (429 /
/// `RESOURCE_EXHAUSTED`), briefly unavailable (503 / `UNAVAILABLE`) or out of time (504 /
/// `DEADLINE_EXCEEDED`). Everything else, 500 included, would fail the same way again.
pub(crate) fn is_retryable_status(http: u16, status: &str) -> bool {
    matches!(http, 429 | 503 | 504)
        || matches!(
            status,
            "RESOURCE_EXHAUSTED" | "UNAVAILABLE" | "DEADLINE_EXCEEDED"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_exponentially_within_their_jitter_band() {
        let backoff = Backoff::DEFAULT;
        for (retry, step_ms) in [(0, 100), (1, 200), (2, 400), (3, 800), (4, 1600)] {
            let step = Duration::from_millis(step_ms);
            assert_eq!(backoff.delay(retry, 0), step / 2, "retry {retry}");
            let half_nanos = u64::try_from((step / 2).as_nanos()).unwrap();
            assert_eq!(backoff.delay(retry, half_nanos), step, "retry {retry}");
            for _ in 0..100 {
                let wait = backoff.delay(retry, random());
                assert!(wait >= step / 2 && wait <= step, "retry {retry}: {wait:?}");
            }
        }
    }

    #[test]
    fn waits_are_capped_even_after_many_retries() {
        let backoff = Backoff::DEFAULT;
        for retry in [5, 6, 31, 32, 1000, u32::MAX] {
            let wait = backoff.delay(retry, random());
            assert!(wait >= Duration::from_millis(1500) && wait <= Duration::from_secs(3));
        }
    }

    #[test]
    fn jitter_spreads_the_waits() {
        let waits: std::collections::HashSet<Duration> = (0..20)
            .map(|_| Backoff::DEFAULT.delay(3, random()))
            .collect();
        assert!(waits.len() > 1, "20 jittered waits were all equal");
    }

    #[test]
    fn only_rate_limits_unavailability_and_deadlines_are_retried() {
        assert!(is_retryable_status(429, "RESOURCE_EXHAUSTED"));
        assert!(is_retryable_status(503, "UNAVAILABLE"));
        assert!(is_retryable_status(504, "DEADLINE_EXCEEDED"));
        assert!(is_retryable_status(504, ""));
        for (http, status) in [
            (500, "INTERNAL"),
            (400, "FAILED_PRECONDITION"),
            (400, "INVALID_ARGUMENT"),
            (401, "UNAUTHENTICATED"),
            (403, "PERMISSION_DENIED"),
            (404, "NOT_FOUND"),
            (502, ""),
        ] {
            assert!(!is_retryable_status(http, status), "{http} {status}");
        }
    }
}
