//! The bench's result: exact latency percentiles per operation, throughput, 402s and errors,
//! as a table for people or JSON for scripts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::cli::BenchArgs;
use crate::output::Table;

/// The three operations.
pub(super) const OPERATIONS: [&str; 3] = ["acquire", "heartbeat", "release"];
pub(super) const ACQUIRE: usize = 0;
pub(super) const HEARTBEAT: usize = 1;
pub(super) const RELEASE: usize = 2;

/// What one client saw.
#[derive(Debug, Default)]
pub(super) struct ClientRun {
    /// Latencies of successful requests, in microseconds, per operation.
    pub(super) latencies: [Vec<u64>; 3],
    /// Failed requests: (operation, code).
    pub(super) errors: Vec<(usize, String)>,
    /// Acquire answered 402.
    pub(super) no_seats: bool,
    /// Acquire, every heartbeat and release succeeded.
    pub(super) completed: bool,
}

/// Latency figures of one operation, in milliseconds.
#[derive(Debug, Serialize)]
struct OperationStats {
    ok: u64,
    errors: u64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// The result, as printed with `--json`.
#[derive(Debug, Serialize)]
pub(super) struct Report {
    server: String,
    clients: u32,
    concurrency: u32,
    heartbeats: u32,
    clients_planned: u32,
    clients_finished: u64,
    clients_completed: u64,
    elapsed_seconds: f64,
    requests: u64,
    requests_ok: u64,
    throughput_per_second: f64,
    /// Acquisitions refused with 402 `no_seats_available`.
    no_seats: u64,
    /// Failed requests other than 402s.
    errors: u64,
    /// Failed requests by `operation:code`.
    error_codes: BTreeMap<String, u64>,
    operations: BTreeMap<&'static str, OperationStats>,
    /// The hard time cap stopped clients that were still running.
    hard_stopped: bool,
}

/// Nearest-rank percentile of sorted values, in milliseconds.
fn percentile_ms(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted[index] as f64 / 1000.0
}

impl Report {
    /// When not one request succeeded and some failed (not for lack of seats): what failed
    /// most, to report as the command's error.
    pub(super) fn total_failure(&self) -> Option<String> {
        if self.requests_ok > 0 || self.errors == 0 {
            return None;
        }
        let (code, count) = self.error_codes.iter().max_by_key(|(_, n)| **n)?;
        Some(format!(
            "every request failed (most often {code}, {count} times)"
        ))
    }
}

pub(super) fn summarise(
    runs: &[ClientRun],
    args: &BenchArgs,
    planned: u32,
    server: &str,
    elapsed: Duration,
    hard_stopped: bool,
) -> Report {
    let mut latencies: [Vec<u64>; 3] = Default::default();
    let mut error_counts = [0u64; 3];
    let mut error_codes = BTreeMap::new();
    for run in runs {
        for (all, mine) in latencies.iter_mut().zip(&run.latencies) {
            all.extend_from_slice(mine);
        }
        for (op, code) in &run.errors {
            error_counts[*op] += 1;
            *error_codes
                .entry(format!("{}:{code}", OPERATIONS[*op]))
                .or_insert(0) += 1;
        }
    }
    let no_seats = runs.iter().filter(|r| r.no_seats).count() as u64;
    let mut operations = BTreeMap::new();
    for (i, name) in OPERATIONS.iter().enumerate() {
        let sorted = &mut latencies[i];
        sorted.sort_unstable();
        operations.insert(
            *name,
            OperationStats {
                ok: sorted.len() as u64,
                errors: error_counts[i] + if i == ACQUIRE { no_seats } else { 0 },
                p50_ms: percentile_ms(sorted, 50.0),
                p95_ms: percentile_ms(sorted, 95.0),
                p99_ms: percentile_ms(sorted, 99.0),
                max_ms: sorted.last().map_or(0.0, |m| *m as f64 / 1000.0),
            },
        );
    }
    let requests_ok: u64 = latencies.iter().map(|l| l.len() as u64).sum();
    let errors: u64 = error_counts.iter().sum();
    let seconds = elapsed.as_secs_f64().max(1e-9);
    Report {
        server: server.trim_end_matches('/').to_owned(),
        clients: args.clients,
        concurrency: args.concurrency,
        heartbeats: args.heartbeats,
        clients_planned: planned,
        clients_finished: runs.len() as u64,
        clients_completed: runs.iter().filter(|r| r.completed).count() as u64,
        elapsed_seconds: elapsed.as_secs_f64(),
        requests: requests_ok + errors + no_seats,
        requests_ok,
        throughput_per_second: requests_ok as f64 / seconds,
        no_seats,
        errors,
        error_codes,
        operations,
        hard_stopped,
    }
}

pub(super) fn render(r: &Report) -> String {
    let mut text = format!(
        "{} clients × (acquire, {} heartbeats, release), concurrency {}, against {}\n\
         {:.3} s: {} requests ({} ok), {:.1} requests/s; {} of {} clients completed\n\
         no seats (402): {}   errors: {}\n",
        r.clients_planned,
        r.heartbeats,
        r.concurrency,
        r.server,
        r.elapsed_seconds,
        r.requests,
        r.requests_ok,
        r.throughput_per_second,
        r.clients_completed,
        r.clients_planned,
        r.no_seats,
        r.errors,
    );
    if r.hard_stopped {
        text.push_str("stopped by the time cap with clients still running\n");
    }
    text.push('\n');
    let mut table = Table::new([
        "OPERATION",
        "OK",
        "ERRORS",
        "P50 MS",
        "P95 MS",
        "P99 MS",
        "MAX MS",
    ]);
    for (name, s) in &r.operations {
        table.row([
            (*name).to_owned(),
            s.ok.to_string(),
            s.errors.to_string(),
            format!("{:.2}", s.p50_ms),
            format!("{:.2}", s.p95_ms),
            format!("{:.2}", s.p99_ms),
            format!("{:.2}", s.max_ms),
        ]);
    }
    text.push_str(&table.render());
    if !r.error_codes.is_empty() {
        text.push('\n');
        let mut errors = Table::new(["ERROR", "COUNT"]);
        for (code, n) in &r.error_codes {
            errors.row([code.clone(), n.to_string()]);
        }
        text.push_str(&errors.render());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&values, 50.0), 50.0);
        assert_eq!(percentile_ms(&values, 99.0), 99.0);
        assert_eq!(percentile_ms(&[7000], 95.0), 7.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }
}
