//! The scenarios the single-node and the cluster tests both run, each pinning one behaviour.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use license_core::{
    AcquireOutcome, LedgerKey, LicenseId, LiveCount, LiveSeat, RebuildOutcome, RenewOutcome,
    SeatKind, SeatLedger, SeatRef, SessionId, TenantId,
};
use license_seats_redis::RedisLedger;

use super::{Fixture, PARTS, hw, redis_key, request};

/// 500 acquires on N = 50 from 500 tokio tasks on a multi-thread runtime: exactly 50 granted.
pub async fn exactly_n_of_500_concurrent_acquires_are_granted(fx: &Fixture) {
    let key = fx.license().await;
    let tasks: Vec<_> = (0..500)
        .map(|i| {
            let ledger = fx.ledger.clone();
            tokio::spawn(async move {
                ledger
                    .acquire(
                        &key,
                        &request(&format!("m-{i}"), 50, Duration::from_secs(60)),
                    )
                    .await
            })
        })
        .collect();
    let mut granted = 0;
    let mut refused = 0;
    let mut in_use_seen = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(AcquireOutcome::Granted { in_use, .. }) => {
                granted += 1;
                in_use_seen.push(in_use);
            }
            Ok(AcquireOutcome::NoSeats) => refused += 1,
            other => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!((granted, refused), (50, 450));
    in_use_seen.sort_unstable();
    assert_eq!(
        in_use_seen,
        (1..=50).collect::<Vec<u32>>(),
        "each grant saw its own count"
    );
    assert_eq!(
        fx.ledger.live_count(&key).await.unwrap(),
        LiveCount::Count(50)
    );
    assert_eq!(fx.probe.zcard(&key).await, 50);
}

/// A client that retries (new session id, same machine) gets its session back, also when the
/// retries race each other; after a release the machine gets a fresh seat.
pub async fn a_retry_from_the_same_machine_gets_its_session_back(fx: &Fixture) {
    let key = fx.license().await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let ledger = fx.ledger.clone();
            tokio::spawn(async move {
                let req = request("laptop-1", 5, Duration::from_secs(60));
                (req.session_id, ledger.acquire(&key, &req).await.unwrap())
            })
        })
        .collect();
    let mut winner = None;
    let mut holders = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (id, AcquireOutcome::Granted { .. }) => {
                assert!(winner.replace(id).is_none(), "two seats for one machine");
            }
            (_, AcquireOutcome::AlreadyHeld { session_id, .. }) => holders.push(session_id),
            other => panic!("unexpected outcome: {other:?}"),
        }
    }
    let winner = winner.expect("one acquire is granted");
    assert_eq!(holders.len(), 19);
    assert!(
        holders.iter().all(|h| *h == winner),
        "every retry names the one session"
    );
    assert_eq!(fx.probe.zcard(&key).await, 1);

    fx.ledger
        .release(&key, SeatRef::new(winner, &hw("laptop-1")))
        .await
        .unwrap();
    assert_eq!(
        (
            fx.probe.zcard(&key).await,
            fx.probe.holder_records(&key).await
        ),
        (0, 0),
        "release cleans the machine index"
    );
    let again = request("laptop-1", 5, Duration::from_secs(60));
    assert!(matches!(
        fx.ledger.acquire(&key, &again).await.unwrap(),
        AcquireOutcome::Granted { in_use: 1, .. }
    ));
}

/// A seat past its TTL cannot be renewed (nor counted), even before anything pruned it.
pub async fn renew_after_expiry_is_expired(fx: &Fixture) {
    let key = fx.license().await;
    let req = request("laptop-1", 5, Duration::from_millis(300));
    assert!(matches!(
        fx.ledger.acquire(&key, &req).await.unwrap(),
        AcquireOutcome::Granted { .. }
    ));
    let live = fx
        .ledger
        .renew(&key, req.seat(), Duration::from_millis(300))
        .await
        .unwrap();
    assert!(matches!(live, RenewOutcome::Renewed { .. }), "{live:?}");
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        fx.probe.zcard(&key).await,
        1,
        "still stored: nothing pruned it yet"
    );
    assert_eq!(
        fx.ledger
            .renew(&key, req.seat(), Duration::from_secs(60))
            .await
            .unwrap(),
        RenewOutcome::Expired
    );
    assert_eq!(
        fx.ledger.live_count(&key).await.unwrap(),
        LiveCount::Count(0)
    );
}

/// A client that crashed holds its seat for its TTL and not measurably longer.
pub async fn a_zombie_seat_is_free_right_after_its_ttl(fx: &Fixture) {
    let key = fx.license().await;
    let ttl = Duration::from_millis(800);
    let start = Instant::now();
    let zombie = request("crashed", 1, ttl);
    assert!(matches!(
        fx.ledger.acquire(&key, &zombie).await.unwrap(),
        AcquireOutcome::Granted { .. }
    ));
    let freed_after = loop {
        let outcome = fx
            .ledger
            .acquire(&key, &request("next", 1, Duration::from_secs(60)))
            .await;
        match outcome.unwrap() {
            AcquireOutcome::Granted { in_use, .. } => {
                assert_eq!(in_use, 1, "the zombie no longer counts");
                break start.elapsed();
            }
            AcquireOutcome::NoSeats => {}
            other => panic!("unexpected outcome: {other:?}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the zombie's seat was never freed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Redis's clock and ours tick together on one machine: 10 ms of slack for rounding.
    assert!(
        freed_after >= ttl - Duration::from_millis(10),
        "freed early: {freed_after:?}"
    );
    assert!(
        freed_after <= ttl + Duration::from_millis(400),
        "freed late: {freed_after:?}"
    );
    assert_eq!(
        fx.probe.holder_records(&key).await,
        1,
        "pruning cleans the zombie's machine index: only the next seat's record is left"
    );
}

/// Every key of a license expires a grace period after its latest seat, so an abandoned
/// license frees its memory; a release keeps the marker (no needless rebuild).
pub async fn keys_expire_a_grace_period_after_the_last_seat(fx: &Fixture) {
    let key = fx.license().await;
    let ttl = Duration::from_secs(60);
    let req = request("laptop-1", 5, ttl);
    assert!(matches!(
        fx.ledger.acquire(&key, &req).await.unwrap(),
        AcquireOutcome::Granted { .. }
    ));
    let grace = license_seats_redis::KEY_GRACE;
    for part in PARTS {
        let pttl: i64 = fx
            .probe
            .query(redis::cmd("PTTL").arg(redis_key(&key, part)))
            .await;
        let pttl = u128::try_from(pttl).unwrap_or_else(|_| panic!("{part} has no expiry: {pttl}"));
        assert!(
            pttl > (ttl + grace).as_millis() - 2_000,
            "{part}: {pttl} ms"
        );
        assert!(pttl <= (ttl + grace).as_millis(), "{part}: {pttl} ms");
    }
    fx.ledger.release(&key, req.seat()).await.unwrap();
    assert_eq!(
        fx.ledger.live_count(&key).await.unwrap(),
        LiveCount::Count(0)
    );
}

/// Redis is wiped (several times) in the middle of a concurrent run. The test plays the store:
/// it records every grant before using it and forgets a session before releasing it, and feeds
/// its live seats to `rebuild` whenever the ledger answers `Rebuild`. The ledger never counts
/// more than N: checked on every grant and by sampling `ZCARD`.
pub async fn wiping_redis_mid_run_rebuilds_and_never_exceeds_the_limit(fx: &Fixture) {
    const N: u32 = 10;
    const WORKERS: usize = 16;
    let key = fx.license().await;
    let store: Arc<Mutex<HashMap<SessionId, LiveSeat>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let grants = Arc::new(AtomicUsize::new(0));
    let grants_after_last_wipe = Arc::new(AtomicUsize::new(0));
    let rebuilds = Arc::new(AtomicUsize::new(0));
    let wipes_done = Arc::new(AtomicU32::new(0));
    let max_sampled = Arc::new(AtomicU32::new(0));

    let sampler = {
        let (probe, stop, max_sampled) = (fx.probe.clone(), stop.clone(), max_sampled.clone());
        tokio::spawn(async move {
            let mut samples = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let zcard = probe.zcard(&key).await;
                assert!(zcard <= N, "ZCARD {zcard} > {N}");
                max_sampled.fetch_max(zcard, Ordering::SeqCst);
                samples += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            samples
        })
    };

    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let ledger = fx.ledger.clone();
            let (store, stop) = (store.clone(), stop.clone());
            let (grants, after_wipe, rebuilds, wipes_done) = (
                grants.clone(),
                grants_after_last_wipe.clone(),
                rebuilds.clone(),
                wipes_done.clone(),
            );
            tokio::spawn(async move {
                let mut i = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let req = request(&format!("w{w}-m{}", i % 3), N, Duration::from_secs(60));
                    match ledger.acquire(&key, &req).await.unwrap() {
                        AcquireOutcome::Granted { in_use, expires_at } => {
                            assert!(in_use <= N, "granted with {in_use} > {N} in use");
                            let wipes_before = wipes_done.load(Ordering::SeqCst);
                            let seat = LiveSeat {
                                session_id: req.session_id,
                                hardware_id: req.hardware_id.clone(),
                                expires_at,
                                kind: SeatKind::Held,
                                counters: vec![],
                            };
                            store.lock().unwrap().insert(req.session_id, seat);
                            if !confirm(ledger.as_ref(), &key, &store, &rebuilds, req.seat()).await
                            {
                                // Granted just before a wipe and missed by the rebuild: the
                                // service withdraws such a grant the same way.
                                store.lock().unwrap().remove(&req.session_id);
                                continue;
                            }
                            grants.fetch_add(1, Ordering::SeqCst);
                            if wipes_before == 3 {
                                after_wipe.fetch_add(1, Ordering::SeqCst);
                            }
                            tokio::time::sleep(Duration::from_millis(1 + (i % 4) as u64)).await;
                            // The service's order: the store forgets first, then the ledger.
                            store.lock().unwrap().remove(&req.session_id);
                            ledger.release(&key, req.seat()).await.unwrap();
                        }
                        AcquireOutcome::AlreadyHeld { session_id, .. } => {
                            // A rebuild brought back a seat this machine released meanwhile.
                            store.lock().unwrap().remove(&session_id);
                            ledger
                                .release(&key, SeatRef::new(session_id, &req.hardware_id))
                                .await
                                .unwrap();
                        }
                        AcquireOutcome::NoSeats => tokio::task::yield_now().await,
                        other @ (AcquireOutcome::NoBorrowSeats
                        | AcquireOutcome::Evicted { .. }
                        | AcquireOutcome::TookBack { .. }
                        | AcquireOutcome::Limited(_)
                        | AcquireOutcome::Queued { .. }
                        | AcquireOutcome::Turn
                        | AcquireOutcome::QueueFull
                        | AcquireOutcome::TicketGone) => {
                            panic!("no borrow, eviction nor queue here: {other:?}")
                        }
                        AcquireOutcome::Rebuild => {
                            rebuild_from(ledger.as_ref(), &key, &store, &rebuilds).await;
                        }
                    }
                }
            })
        })
        .collect();

    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        (fx.wipe)().await;
        wipes_done.fetch_add(1, Ordering::SeqCst);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    let samples = sampler.await.unwrap();

    assert!(
        grants.load(Ordering::SeqCst) > 100,
        "the run did work: {grants:?}"
    );
    assert!(
        rebuilds.load(Ordering::SeqCst) >= 3,
        "every wipe was rebuilt: {rebuilds:?}"
    );
    assert!(
        grants_after_last_wipe.load(Ordering::SeqCst) > 0,
        "grants resumed after the wipes"
    );
    assert!(samples > 50, "ZCARD sampled often enough: {samples}");
    assert!(
        max_sampled.load(Ordering::SeqCst) >= N / 2,
        "the run filled the seats: {max_sampled:?}"
    );
    match fx.ledger.live_count(&key).await.unwrap() {
        LiveCount::Count(n) => assert!(n <= N, "{n} live after the run"),
        LiveCount::Rebuild => panic!("the last rebuild did not stick"),
    }
}

type Store = Mutex<HashMap<SessionId, LiveSeat>>;

/// What the service does on `Rebuild`: feed the store's live seats to the ledger. Counts the
/// rebuilds that applied.
async fn rebuild_from(ledger: &RedisLedger, key: &LedgerKey, store: &Store, count: &AtomicUsize) {
    let live: Vec<LiveSeat> = store.lock().unwrap().values().cloned().collect();
    if ledger.rebuild(key, &live, &[]).await.unwrap() == RebuildOutcome::Rebuilt {
        count.fetch_add(1, Ordering::SeqCst);
    }
}

/// What the service does after recording a grant: check that the ledger still holds it.
async fn confirm(
    ledger: &RedisLedger,
    key: &LedgerKey,
    store: &Store,
    rebuilds: &AtomicUsize,
    seat: SeatRef<'_>,
) -> bool {
    loop {
        match ledger
            .renew(key, seat, Duration::from_secs(60))
            .await
            .unwrap()
        {
            RenewOutcome::Renewed { .. } => return true,
            RenewOutcome::Expired => return false,
            RenewOutcome::Rebuild => rebuild_from(ledger, key, store, rebuilds).await,
        }
    }
}

/// `rebuild` restores only seats still live by the Redis clock: an expired session in the
/// store's snapshot takes no memory and no seat.
pub async fn rebuild_skips_seats_already_past_expiry(fx: &Fixture) {
    let key = LedgerKey {
        tenant_id: TenantId::new(),
        license_id: LicenseId::new(),
    };
    let now = chrono::Utc::now();
    let seat = |machine: &str, expires_at| LiveSeat {
        session_id: SessionId::new(),
        hardware_id: hw(machine),
        expires_at,
        kind: SeatKind::Held,
        counters: vec![],
    };
    let live = seat("live", now + chrono::TimeDelta::seconds(60));
    let gone = seat("gone", now - chrono::TimeDelta::seconds(1));
    let outcome = fx
        .ledger
        .rebuild(&key, &[live.clone(), gone], &[])
        .await
        .unwrap();
    assert_eq!(outcome, RebuildOutcome::Rebuilt);
    assert_eq!(
        fx.probe.zcard(&key).await,
        1,
        "only the live seat is stored"
    );
    assert_eq!(fx.probe.holder_records(&key).await, 1);
    // The restored seat keeps its expiry (to the millisecond) and its machine.
    match fx
        .ledger
        .acquire(&key, &request("live", 5, Duration::from_secs(60)))
        .await
        .unwrap()
    {
        AcquireOutcome::AlreadyHeld {
            session_id,
            expires_at,
        } => {
            assert_eq!(session_id, live.session_id);
            assert_eq!(
                expires_at.timestamp_millis(),
                live.expires_at.timestamp_millis()
            );
        }
        other => panic!("restored seat not held: {other:?}"),
    }
}
