//! Latency of one ledger call (acquire, renew, release) against a local `redis-server` started
//! by the testkit, and of 64 concurrent renews (heartbeats are the hot path).
//!
//! `cargo bench -p license-benches --bench ledger`. Compare with `benches/vs-redis-benchmark.sh`,
//! which runs the same scripts through `redis-benchmark` (EVALSHA): see `benches/README.md`.

// A panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use license_core::{
    AcquireOutcome, HardwareId, LedgerKey, LicenseId, RenewOutcome, SeatLedger, SeatRequest,
    SeatTally, SessionId, TenantId,
};
use license_seats_redis::RedisLedger;
use license_testkit::redis::RedisServer;

const TTL: Duration = Duration::from_secs(360);
const LIMIT: u32 = 1_000_000;

fn request(i: u64) -> SeatRequest {
    SeatRequest {
        session_id: SessionId::new(),
        hardware_id: HardwareId::parse(&format!("bench-{i}")).unwrap(),
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

fn ledger_calls(c: &mut Criterion) {
    let server = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let ledger = Arc::new(
        runtime
            .block_on(RedisLedger::connect(&server.url()))
            .unwrap(),
    );
    let key = LedgerKey {
        tenant_id: TenantId::new(),
        license_id: LicenseId::new(),
    };
    runtime.block_on(ledger.rebuild(&key, &[], &[])).unwrap();

    let mut group = c.benchmark_group("ledger");
    group.throughput(Throughput::Elements(1));

    // A fresh grant each time (the release that keeps the set small is not timed).
    group.bench_function("acquire", |b| {
        let ledger = ledger.clone();
        b.to_async(&runtime).iter_custom(|iters| {
            let ledger = ledger.clone();
            async move {
                let mut timed = Duration::ZERO;
                for i in 0..iters {
                    let req = request(i);
                    let start = Instant::now();
                    grant(&ledger, &key, black_box(&req)).await;
                    timed += start.elapsed();
                    ledger.release(&key, req.seat()).await.unwrap();
                }
                timed
            }
        });
    });

    let held = request(u64::MAX);
    runtime.block_on(grant(&ledger, &key, &held));
    group.bench_function("renew", |b| {
        b.to_async(&runtime).iter(|| async {
            let outcome = ledger.renew(&key, black_box(held.seat()), TTL).await;
            assert!(matches!(outcome, Ok(RenewOutcome::Renewed { .. })));
        });
    });

    // A real release of a held seat each time (the grant before it is not timed).
    group.bench_function("release", |b| {
        let ledger = ledger.clone();
        b.to_async(&runtime).iter_custom(|iters| {
            let ledger = ledger.clone();
            async move {
                let mut timed = Duration::ZERO;
                for i in 0..iters {
                    let req = request(i);
                    grant(&ledger, &key, &req).await;
                    let start = Instant::now();
                    ledger.release(&key, black_box(req.seat())).await.unwrap();
                    timed += start.elapsed();
                }
                timed
            }
        });
    });

    // 64 clients heartbeating at once over the ledger's one multiplexed connection.
    let sessions: Vec<SeatRequest> = (0..64)
        .map(|i| {
            let req = request(1_000_000 + i);
            runtime.block_on(grant(&ledger, &key, &req));
            req
        })
        .collect();
    group.throughput(Throughput::Elements(64));
    group.bench_function("renew_64_concurrent", |b| {
        b.to_async(&runtime).iter(|| {
            let calls = sessions.iter().map(|id| {
                let ledger = ledger.clone();
                let req = id.clone();
                tokio::spawn(async move { ledger.renew(&key, req.seat(), TTL).await })
            });
            async move {
                for call in futures::future::join_all(calls).await {
                    assert!(matches!(call, Ok(Ok(RenewOutcome::Renewed { .. }))));
                }
            }
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Short enough for a quick comparison run; raise with --measurement-time for a report.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = ledger_calls
}
criterion_main!(benches);
