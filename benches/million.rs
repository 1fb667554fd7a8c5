//! The Redis ledger at scale: fills one license to a million live seats and reports what a
//! seat costs in Redis memory and what an acquire costs at 1 k and at 1 M live seats.
//!
//! ```sh
//! cargo run --release -p license-benches --example million            # ~1 M seats
//! cargo run --release -p license-benches --example million -- --seats 200000 --samples 5000
//! ```
//!
//! It starts its own `redis-server` (testkit, loopback, no persistence) and goes through
//! [`RedisLedger`] only, so it measures whatever key layout the ledger has. Two licenses:
//! `small` holds 1 000 seats, `big` is filled to `--seats` with pipelined acquires (many calls
//! in flight on the ledger's one multiplexed connection). Memory is `used_memory` after the
//! fill minus `used_memory` before it, per seat.
//!
//! Latency is sampled in blocks of 200 single acquires (each awaited before the next), whose
//! seats are released afterwards (untimed) so the counts stay put: first on `big` while it
//! holds 1 000 seats, then after the fill alternately on `small` and on `big`, so that noise
//! from other processes falls on both alike. Each acquire is timed in the client (p50, p99)
//! and, per block, on the server (`INFO commandstats`: mean µs of EVALSHA, the script alone;
//! reported is the median over the blocks, which a burst of CPU contention does not move).

// A panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use license_core::{
    AcquireOutcome, HardwareId, LedgerKey, LicenseId, SeatLedger, SeatRequest, SeatTally,
    SessionId, TenantId,
};
use license_seats_redis::{RedisLedger, RedisOptions};
use license_testkit::redis::RedisServer;

/// Long enough that no seat expires during a run.
const TTL: Duration = Duration::from_secs(3_600);
const LIMIT: u32 = 100_000_000;
/// Seats of the `small` license.
const SMALL: u64 = 1_000;
/// Acquires timed per block, before the block's seats are released.
const BLOCK: usize = 200;
/// Acquires in flight while filling.
const IN_FLIGHT: usize = 256;

struct Args {
    seats: u64,
    samples: usize,
}

fn args() -> Args {
    let mut parsed = Args {
        seats: 1_000_000,
        samples: 20_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage(&flag));
        match flag.as_str() {
            "--seats" => parsed.seats = value.parse().unwrap_or_else(|_| usage(&flag)),
            "--samples" => parsed.samples = value.parse().unwrap_or_else(|_| usage(&flag)),
            _ => usage(&flag),
        }
    }
    parsed
}

fn usage(flag: &str) -> ! {
    eprintln!("bad argument {flag}; usage: million [--seats N] [--samples N per license]");
    std::process::exit(2)
}

fn request(machine: String) -> SeatRequest {
    SeatRequest {
        session_id: SessionId::new(),
        hardware_id: HardwareId::parse(&machine).unwrap(),
        limit: LIMIT,
        ttl: TTL,
        user: None,
        borrow: None,
        tally: SeatTally::default(),
    }
}

async fn grant(ledger: &RedisLedger, key: &LedgerKey, req: &SeatRequest) {
    let outcome = ledger.acquire(key, req).await.unwrap();
    assert!(
        matches!(outcome, AcquireOutcome::Granted { .. }),
        "{outcome:?}"
    );
}

/// Grants seats `from..to` of `key`, `IN_FLIGHT` at a time.
async fn fill(ledger: &RedisLedger, key: &LedgerKey, name: &str, from: u64, to: u64) {
    futures::stream::iter(from..to)
        .map(|i| async move { grant(ledger, key, &request(format!("{name}-{i}"))).await })
        .buffer_unordered(IN_FLIGHT)
        .collect::<()>()
        .await;
}

/// A field of an `INFO` section, e.g. `used_memory`.
fn info_field(server: &RedisServer, section: &str, field: &str) -> Option<String> {
    let info = server.command(&["INFO", section]);
    info.lines().find_map(|l| {
        l.trim()
            .strip_prefix(&format!("{field}:"))
            .map(str::to_owned)
    })
}

fn used_memory(server: &RedisServer) -> i64 {
    info_field(server, "memory", "used_memory")
        .and_then(|v| v.parse().ok())
        .expect("INFO memory names used_memory")
}

/// `(calls, usec)` of EVALSHA so far.
fn evalsha_stats(server: &RedisServer) -> (u64, u64) {
    let Some(line) = info_field(server, "commandstats", "cmdstat_evalsha") else {
        return (0, 0);
    };
    let value = |name: &str| {
        line.split(',')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (value("calls"), value("usec"))
}

/// What one license's samples came to.
#[derive(Default)]
struct Samples {
    client_us: Vec<f64>,
    /// Per block: the mean µs of its EVALSHAs on the server.
    server_us: Vec<f64>,
}

impl Samples {
    fn percentile(&mut self, p: f64) -> f64 {
        self.client_us.sort_by(f64::total_cmp);
        let last = self.client_us.len().saturating_sub(1);
        let at = ((last as f64) * p).round() as usize;
        self.client_us.get(at).copied().unwrap_or(f64::NAN)
    }

    /// The median of the blocks' server means: a block in which Redis lost the CPU to another
    /// process for a while does not move it.
    fn server_median(&mut self) -> f64 {
        self.server_us.sort_by(f64::total_cmp);
        self.server_us
            .get(self.server_us.len() / 2)
            .copied()
            .unwrap_or(f64::NAN)
    }
}

/// One block: `BLOCK` acquires on `key` timed one by one, then their seats released.
async fn block(
    ledger: &RedisLedger,
    server: &RedisServer,
    key: &LedgerKey,
    name: &str,
    samples: &mut Samples,
) {
    let requests: Vec<SeatRequest> = (0..BLOCK)
        .map(|i| request(format!("{name}-probe-{}-{i}", samples.client_us.len())))
        .collect();
    let (calls, usec) = evalsha_stats(server);
    for req in &requests {
        let start = Instant::now();
        grant(ledger, key, req).await;
        samples.client_us.push(start.elapsed().as_secs_f64() * 1e6);
    }
    let (calls_after, usec_after) = evalsha_stats(server);
    let block_calls = (calls_after - calls).max(1) as f64;
    samples
        .server_us
        .push((usec_after - usec) as f64 / block_calls);
    futures::future::join_all(requests.iter().map(|r| ledger.release(key, r.seat()))).await;
}

fn main() {
    let args = args();
    let started = Instant::now();
    let server = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = RedisOptions {
        timeout: Duration::from_secs(30),
    };
    let ledger = runtime
        .block_on(RedisLedger::connect_with(&server.url(), options))
        .unwrap();
    let tenant_id = TenantId::new();
    let small = LedgerKey {
        tenant_id,
        license_id: LicenseId::new(),
    };
    let big = LedgerKey {
        tenant_id,
        license_id: LicenseId::new(),
    };

    runtime.block_on(async {
        ledger.rebuild(&small, &[], &[]).await.unwrap();
        ledger.rebuild(&big, &[], &[]).await.unwrap();
        // Load the scripts before the baseline, so their cache is not counted as seats.
        let warm = request("warm-up".to_owned());
        grant(&ledger, &small, &warm).await;
        ledger.release(&small, warm.seat()).await.unwrap();
    });
    let before = used_memory(&server);

    // The same license at 1 k seats, before the fill: the figure before-and-after compares.
    let first = Instant::now();
    runtime.block_on(fill(&ledger, &big, "big", 0, SMALL));
    let first = first.elapsed();
    let mut before_fill = Samples::default();
    runtime.block_on(async {
        while before_fill.client_us.len() < args.samples / 2 {
            block(&ledger, &server, &big, "early", &mut before_fill).await;
        }
    });

    let fill_started = Instant::now();
    runtime.block_on(fill(&ledger, &small, "small", 0, SMALL));
    let mut done = SMALL;
    while done < args.seats {
        let next = (done + 100_000).min(args.seats);
        runtime.block_on(fill(&ledger, &big, "big", done, next));
        done = next;
        eprintln!(
            "filled {done} seats in {:.1} s",
            (first + fill_started.elapsed()).as_secs_f64()
        );
    }
    let fill_secs = (first + fill_started.elapsed()).as_secs_f64();
    // Let Redis shrink the client buffers the pipelined fill grew.
    std::thread::sleep(Duration::from_secs(3));
    let after = used_memory(&server);
    let seats = args.seats + SMALL;
    let per_seat = (after - before) as f64 / seats as f64;

    let (mut at_small, mut at_big) = (Samples::default(), Samples::default());
    let sampling_started = Instant::now();
    runtime.block_on(async {
        while at_big.client_us.len() < args.samples {
            block(&ledger, &server, &small, "small", &mut at_small).await;
            block(&ledger, &server, &big, "big", &mut at_big).await;
        }
    });
    let sampling_secs = sampling_started.elapsed().as_secs_f64();

    let count = |key: &LedgerKey| runtime.block_on(ledger.live_count(key)).unwrap();
    println!(
        "live seats: small {:?}, big {:?}",
        count(&small),
        count(&big)
    );
    println!(
        "memory: used_memory {before} -> {after} bytes: {per_seat:.1} bytes per live seat ({seats} seats)"
    );
    println!("acquire latency                        p50 µs   p99 µs       server µs");
    let row = |label: &str, s: &mut Samples| {
        let (p50, p99, server) = (s.percentile(0.50), s.percentile(0.99), s.server_median());
        println!("  {label:<34} {p50:>8.1} {p99:>8.1} {server:>15.1}");
        (p50, p99, server)
    };
    let early = row("1 k seats, before the fill", &mut before_fill);
    let small_row = row("1 k seats, other license", &mut at_small);
    let big_row = row(&format!("{} seats", args.seats), &mut at_big);
    let ratio = |label: &str, a: (f64, f64, f64), b: (f64, f64, f64)| {
        println!(
            "  {label:<34} {:>8.2} {:>8.2} {:>15.2}",
            a.0 / b.0,
            a.1 / b.1,
            a.2 / b.2
        );
    };
    ratio("ratio, alternating with 1 k", big_row, small_row);
    ratio("ratio, same license before/after", big_row, early);
    println!(
        "samples: {} per row ({} before the fill); time: fill {fill_secs:.0} s, \
         sampling {sampling_secs:.0} s, total {:.0} s",
        at_big.client_us.len(),
        before_fill.client_us.len(),
        started.elapsed().as_secs_f64()
    );
}
