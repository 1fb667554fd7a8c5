//! What a run saw: per connection, the latency of every answered request and the errors by
//! kind; merged into one summary with exact (nearest-rank) percentiles.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

/// What one connection saw in the measured window.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Latency of each request that counted as a success, in microseconds.
    latencies_us: Vec<u32>,
    /// Failed requests by kind (`status 500`, `timeout`, `transport`, `bad_response`).
    errors: BTreeMap<String, u64>,
    /// The first failure's details, to show when something went wrong.
    first_error: Option<String>,
}

impl Recorder {
    /// A success that took since `started`.
    pub fn ok(&mut self, started: Instant) {
        let micros = started.elapsed().as_micros();
        self.latencies_us
            .push(u32::try_from(micros).unwrap_or(u32::MAX));
    }

    /// A failure of `kind`, with details for the first one.
    pub fn error(&mut self, kind: &str, detail: impl FnOnce() -> String) {
        *self.errors.entry(kind.to_owned()).or_insert(0) += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{kind}: {}", detail()));
        }
    }
}

/// The merged result of one scenario run.
#[derive(Debug)]
pub struct Summary {
    /// Successful requests.
    pub ok: u64,
    /// Failed requests, by kind.
    pub errors: BTreeMap<String, u64>,
    /// Sorted latencies of the successful requests, in microseconds.
    sorted_us: Vec<u32>,
    /// From the start of the measured window until the last connection finished.
    pub elapsed: Duration,
    /// Connections opened again after a failure, over all connections.
    pub reconnects: u64,
    /// The first failure any connection saw.
    pub first_error: Option<String>,
}

impl Summary {
    /// Merges what each connection recorded.
    pub fn merge(recorders: Vec<Recorder>, elapsed: Duration, reconnects: u64) -> Self {
        let mut sorted_us = Vec::new();
        let mut errors = BTreeMap::new();
        let mut first_error = None;
        for recorder in recorders {
            sorted_us.extend_from_slice(&recorder.latencies_us);
            for (kind, n) in recorder.errors {
                *errors.entry(kind).or_insert(0) += n;
            }
            first_error = first_error.or(recorder.first_error);
        }
        sorted_us.sort_unstable();
        Self {
            ok: sorted_us.len() as u64,
            errors,
            sorted_us,
            elapsed,
            reconnects,
            first_error,
        }
    }

    /// All failed requests.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Successful requests per second.
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The nearest-rank percentile `p` (0–100] of the successful requests' latency, in ms.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.sorted_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.sorted_us.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.sorted_us.len()) - 1;
        f64::from(self.sorted_us[index]) / 1000.0
    }

    /// The summary as the one JSON line `license-load` prints.
    pub fn to_json(&self, scenario: &str, connections: usize, extra: Value) -> Value {
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        json!({
            "scenario": scenario,
            "connections": connections,
            "seconds": round(self.elapsed.as_secs_f64()),
            "requests": self.ok + self.error_count(),
            "ok": self.ok,
            "errors": self.error_count(),
            "error_kinds": self.errors,
            "requests_per_second": round(self.per_second()),
            "p50_ms": round(self.percentile_ms(50.0)),
            "p90_ms": round(self.percentile_ms(90.0)),
            "p99_ms": round(self.percentile_ms(99.0)),
            "max_ms": round(self.percentile_ms(100.0)),
            "reconnects": self.reconnects,
            "first_error": self.first_error,
            "setup": extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder(latencies_us: &[u32], errors: &[(&str, u64)]) -> Recorder {
        Recorder {
            latencies_us: latencies_us.to_vec(),
            errors: errors.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect(),
            first_error: None,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank_over_all_connections() {
        let a = recorder(&(1..=50).map(|i| i * 1000).collect::<Vec<_>>(), &[]);
        let b = recorder(&(51..=100).map(|i| i * 1000).collect::<Vec<_>>(), &[]);
        let summary = Summary::merge(vec![b, a], Duration::from_secs(2), 0);
        assert_eq!(summary.ok, 100);
        assert_eq!(summary.percentile_ms(50.0), 50.0);
        assert_eq!(summary.percentile_ms(99.0), 99.0);
        assert_eq!(summary.percentile_ms(100.0), 100.0);
        assert_eq!(summary.per_second(), 50.0);
    }

    #[test]
    fn errors_are_summed_by_kind_and_not_in_the_latencies() {
        let a = recorder(&[1000], &[("status 500", 2), ("timeout", 1)]);
        let b = recorder(&[], &[("status 500", 3)]);
        let summary = Summary::merge(vec![a, b], Duration::from_secs(1), 0);
        assert_eq!(summary.ok, 1);
        assert_eq!(summary.error_count(), 6);
        assert_eq!(summary.errors["status 500"], 5);
    }

    #[test]
    fn an_empty_run_has_zero_percentiles() {
        let summary = Summary::merge(vec![], Duration::ZERO, 0);
        assert_eq!(summary.percentile_ms(99.0), 0.0);
        assert_eq!(summary.per_second(), 0.0);
    }
}
