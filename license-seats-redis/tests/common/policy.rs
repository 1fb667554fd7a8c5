//! What the seat-policy keys (`counts`, `tags`) must keep: the caps and reserves of a
//! `SeatTally` enforced in the acquire script, counts that fall back whenever a seat ends,
//! a rebuild that restores them, and no key at all for a license without policy.

use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use license_core::{
    AcquireOutcome, Cap, Counter, Hold, LedgerKey, LiveCount, LiveSeat, RebuildOutcome, Reserve,
    SeatKind, SeatLedger, SeatLimit, SeatRequest, SeatTally,
};

use super::{Fixture, redis_key, request};

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// The keys of seat policies.
const POLICY_PARTS: [&str; 2] = ["counts", "tags"];

/// The counter's digest as the layout stores it (`lua/common.lua`): 12 bytes of SHA-256.
fn counter_digest(counter: &Counter) -> Vec<u8> {
    digest(&SHA256, counter.0.as_bytes()).as_ref()[..12].to_vec()
}

/// A seat counting toward `counter`, capped at `max` of it (`limit` refuses it).
fn capped(machine: &str, counter: &Counter, max: u32, limit: SeatLimit) -> SeatRequest {
    SeatRequest {
        tally: SeatTally {
            counters: vec![counter.clone()],
            caps: vec![Cap {
                counter: counter.clone(),
                max,
                limit,
            }],
            reserves: vec![],
        },
        ..request(machine, 100, MINUTE)
    }
}

/// A seat on a license of `limit` seats that keeps `seats` of them for `group`.
fn under_reserve(
    machine: &str,
    limit: u32,
    group: &Counter,
    seats: u32,
    member: bool,
) -> SeatRequest {
    SeatRequest {
        tally: SeatTally {
            counters: if member { vec![group.clone()] } else { vec![] },
            caps: vec![],
            reserves: vec![Reserve {
                counter: group.clone(),
                seats,
                member,
            }],
        },
        ..request(machine, limit, MINUTE)
    }
}

async fn acquire(fx: &Fixture, key: &LedgerKey, req: &SeatRequest) -> AcquireOutcome {
    fx.ledger.acquire(key, req).await.unwrap()
}

async fn granted(fx: &Fixture, key: &LedgerKey, req: &SeatRequest) {
    let outcome = acquire(fx, key, req).await;
    assert!(
        matches!(outcome, AcquireOutcome::Granted { .. }),
        "{}: {outcome:?}",
        req.hardware_id
    );
}

async fn limited(fx: &Fixture, key: &LedgerKey, req: &SeatRequest, limit: SeatLimit) {
    assert_eq!(
        acquire(fx, key, req).await,
        AcquireOutcome::Limited(limit),
        "{}",
        req.hardware_id
    );
}

/// How many seats the ledger counts toward `counter` (0 when its field is absent).
async fn count(fx: &Fixture, key: &LedgerKey, counter: &Counter) -> u32 {
    let n: Option<u32> = fx
        .probe
        .query(
            redis::cmd("HGET")
                .arg(redis_key(key, "counts"))
                .arg(counter_digest(counter)),
        )
        .await;
    n.unwrap_or(0)
}

async fn exists(fx: &Fixture, key: &LedgerKey, part: &str) -> bool {
    let n: u32 = fx
        .probe
        .query(redis::cmd("EXISTS").arg(redis_key(key, part)))
        .await;
    n == 1
}

async fn pttl(fx: &Fixture, key: &LedgerKey, part: &str) -> i64 {
    fx.probe
        .query(redis::cmd("PTTL").arg(redis_key(key, part)))
        .await
}

/// Each kind of cap refuses the seat that would pass its max, naming its limit; a seat that
/// counts toward something else is not refused; nothing is written for a refused seat.
pub async fn caps_refuse_at_the_max_with_their_limit(fx: &Fixture) {
    let key = fx.license().await;
    let caps = [
        (Counter::group("eng"), SeatLimit::GroupMax),
        (Counter::user("ann@example.com"), SeatLimit::UserMax),
        (Counter::host("build-1"), SeatLimit::HostMax),
        (Counter::machine("box-7"), SeatLimit::ProcessesPerHost),
    ];
    for (n, (counter, limit)) in caps.iter().enumerate() {
        for i in 0..2 {
            let req = capped(&format!("cap{n}-{i}"), counter, 2, *limit);
            granted(fx, &key, &req).await;
        }
        let third = capped(&format!("cap{n}-2"), counter, 2, *limit);
        limited(fx, &key, &third, *limit).await;
        assert_eq!(count(fx, &key, counter).await, 2, "{counter:?}");
    }
    assert_eq!(
        fx.ledger.live_count(&key).await.unwrap(),
        LiveCount::Count(8),
        "refused seats took nothing"
    );
    // Another group is not capped by eng's max.
    granted(
        fx,
        &key,
        &capped("ops-0", &Counter::group("ops"), 2, SeatLimit::GroupMax),
    )
    .await;
    // Every seat taken answers NoSeats first, as SeatTally::check does.
    let full = SeatRequest {
        limit: 9,
        ..capped("eng-x", &caps[0].0, 2, SeatLimit::GroupMax)
    };
    assert_eq!(acquire(fx, &key, &full).await, AcquireOutcome::NoSeats);
}

/// A reserve keeps its seats free for the group's members: others are refused with
/// `ReservedForOthers` once only the reserved seats are left, members still get them.
pub async fn a_reserve_keeps_seats_for_members(fx: &Fixture) {
    let key = fx.license().await;
    let eng = Counter::group("eng");
    // 4 seats, 2 kept for eng.
    let other = |i: u32| under_reserve(&format!("other-{i}"), 4, &eng, 2, false);
    let member = |i: u32| under_reserve(&format!("eng-{i}"), 4, &eng, 2, true);
    let first = other(0);
    granted(fx, &key, &first).await;
    granted(fx, &key, &other(1)).await;
    limited(fx, &key, &other(2), SeatLimit::ReservedForOthers).await;
    granted(fx, &key, &member(0)).await;
    granted(fx, &key, &member(1)).await;
    assert_eq!(count(fx, &key, &eng).await, 2);
    assert_eq!(acquire(fx, &key, &member(2)).await, AcquireOutcome::NoSeats);
    assert_eq!(acquire(fx, &key, &other(2)).await, AcquireOutcome::NoSeats);
    // A free seat while eng holds its 2: anyone may take it.
    fx.ledger.release(&key, first.seat()).await.unwrap();
    granted(fx, &key, &other(2)).await;
}

/// A seat's counts fall back when it ends: released, evicted, expired (pruned by the next
/// acquire) or taken over by its machine while lingering; a take-over that a limit refuses
/// leaves the lingering seat as it was.
pub async fn counts_fall_back_when_seats_end(fx: &Fixture) {
    let key = fx.license().await;
    let ann = Counter::user("ann@example.com");
    let seat = |machine: &str| capped(machine, &ann, 1, SeatLimit::UserMax);

    let a = seat("a");
    granted(fx, &key, &a).await;
    limited(fx, &key, &seat("b"), SeatLimit::UserMax).await;
    fx.ledger.release(&key, a.seat()).await.unwrap();
    assert_eq!(count(fx, &key, &ann).await, 0, "release");

    let b = seat("b");
    granted(fx, &key, &b).await;
    limited(fx, &key, &seat("c"), SeatLimit::UserMax).await;
    let no_hold = Hold {
        user: None,
        duration: Duration::ZERO,
        reason: "test".into(),
    };
    fx.ledger.evict(&key, b.seat(), &no_hold).await.unwrap();
    assert_eq!(count(fx, &key, &ann).await, 0, "evict");

    let short = SeatRequest {
        ttl: Duration::from_millis(300),
        ..seat("c")
    };
    granted(fx, &key, &short).await;
    limited(fx, &key, &seat("d"), SeatLimit::UserMax).await;
    tokio::time::sleep(Duration::from_millis(450)).await;
    let d = seat("d");
    granted(fx, &key, &d).await;
    assert_eq!(
        count(fx, &key, &ann).await,
        1,
        "expiry: c pruned, d counted"
    );

    // d lingers: it still counts; its machine takes it over without counting twice.
    assert!(fx.ledger.linger(&key, d.seat(), MINUTE).await.unwrap());
    limited(fx, &key, &seat("e"), SeatLimit::UserMax).await;
    let d_again = seat("d");
    assert!(
        matches!(
            acquire(fx, &key, &d_again).await,
            AcquireOutcome::TookBack { lingering, .. } if lingering == d.session_id
        ),
        "d takes its lingering seat back"
    );
    assert_eq!(count(fx, &key, &ann).await, 1, "take-over");
    limited(fx, &key, &seat("e"), SeatLimit::UserMax).await;

    // A take-over that a limit refuses changes nothing.
    assert!(
        fx.ledger
            .linger(&key, d_again.seat(), MINUTE)
            .await
            .unwrap()
    );
    let nowhere = Counter::group("closed");
    let refused = SeatRequest {
        tally: SeatTally {
            counters: vec![ann.clone(), nowhere.clone()],
            caps: vec![Cap {
                counter: nowhere.clone(),
                max: 0,
                limit: SeatLimit::GroupMax,
            }],
            reserves: vec![],
        },
        ..seat("d")
    };
    limited(fx, &key, &refused, SeatLimit::GroupMax).await;
    assert_eq!(count(fx, &key, &ann).await, 1);
    assert_eq!(count(fx, &key, &nowhere).await, 0);
    let last = seat("d");
    assert!(
        matches!(
            acquire(fx, &key, &last).await,
            AcquireOutcome::TookBack { lingering, .. } if lingering == d_again.session_id
        ),
        "the lingering seat stayed, for its machine"
    );

    // The last seat ends: nothing counts, and the keys are gone.
    fx.ledger.evict(&key, last.seat(), &no_hold).await.unwrap();
    for part in POLICY_PARTS {
        assert!(!exists(fx, &key, part).await, "{part} left over");
    }
}

/// After Redis lost its state, the rebuild restores each seat's counters and the counts, so
/// the caps still hold; the restored seats free their counts as any other.
pub async fn rebuild_restores_the_counts(fx: &Fixture) {
    let key = fx.license().await;
    let eng = Counter::group("eng");
    let seat = |machine: &str| capped(machine, &eng, 2, SeatLimit::GroupMax);
    let (a, b) = (seat("a"), seat("b"));
    let mut live = Vec::new();
    for req in [&a, &b] {
        match acquire(fx, &key, req).await {
            AcquireOutcome::Granted { expires_at, .. } => live.push(LiveSeat {
                session_id: req.session_id,
                hardware_id: req.hardware_id.clone(),
                expires_at,
                kind: SeatKind::Held,
                counters: req.tally.counters.clone(),
            }),
            other => panic!("{other:?}"),
        }
    }
    (fx.wipe)().await;
    assert_eq!(acquire(fx, &key, &seat("c")).await, AcquireOutcome::Rebuild);
    assert_eq!(
        fx.ledger.rebuild(&key, &live, &[]).await.unwrap(),
        RebuildOutcome::Rebuilt
    );
    assert_eq!(count(fx, &key, &eng).await, 2);
    limited(fx, &key, &seat("c"), SeatLimit::GroupMax).await;
    // The keys expire with the seats, as the rebuild left them.
    let seats_ttl = pttl(fx, &key, "seats").await;
    for part in POLICY_PARTS {
        let left = pttl(fx, &key, part).await;
        assert!(
            (left - seats_ttl).abs() < 1_000,
            "{part}: {left} vs {seats_ttl}"
        );
    }
    fx.ledger.release(&key, a.seat()).await.unwrap();
    assert_eq!(count(fx, &key, &eng).await, 1);
    granted(fx, &key, &seat("c")).await;
}

/// A license without policy (empty tallies) and a seat counting toward nothing (a non-member
/// under a reserve) never make the keys: granting, renewing, lingering, taking over,
/// releasing, evicting, pruning and rebuilding cost what they cost before.
pub async fn an_empty_tally_makes_no_policy_keys(fx: &Fixture) {
    let key = fx.license().await;
    let a = request("a", 10, MINUTE);
    granted(fx, &key, &a).await;
    fx.ledger.renew(&key, a.seat(), MINUTE).await.unwrap();
    assert!(fx.ledger.linger(&key, a.seat(), MINUTE).await.unwrap());
    assert!(matches!(
        acquire(fx, &key, &request("a", 10, MINUTE)).await,
        AcquireOutcome::TookBack { .. }
    ));
    let b = request("b", 10, MINUTE);
    granted(fx, &key, &b).await;
    fx.ledger.release(&key, b.seat()).await.unwrap();
    let no_hold = Hold {
        user: None,
        duration: Duration::ZERO,
        reason: "test".into(),
    };
    let c = request("c", 10, MINUTE);
    granted(fx, &key, &c).await;
    fx.ledger.evict(&key, c.seat(), &no_hold).await.unwrap();
    let short = SeatRequest {
        ttl: Duration::from_millis(100),
        ..request("short", 10, MINUTE)
    };
    granted(fx, &key, &short).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    granted(
        fx,
        &key,
        &under_reserve("outsider", 10, &Counter::group("eng"), 2, false),
    )
    .await;
    for part in POLICY_PARTS {
        assert!(!exists(fx, &key, part).await, "{part} made");
    }

    let rebuilt = LedgerKey {
        tenant_id: license_core::TenantId::new(),
        license_id: license_core::LicenseId::new(),
    };
    let seat = LiveSeat {
        session_id: a.session_id,
        hardware_id: a.hardware_id.clone(),
        expires_at: chrono::Utc::now() + chrono::TimeDelta::minutes(1),
        kind: SeatKind::Held,
        counters: vec![],
    };
    assert_eq!(
        fx.ledger.rebuild(&rebuilt, &[seat], &[]).await.unwrap(),
        RebuildOutcome::Rebuilt
    );
    for part in POLICY_PARTS {
        assert!(!exists(fx, &rebuilt, part).await, "{part} made by rebuild");
    }
}

/// The keys expire with the seats they count: made by a license's first counted seat while
/// its seats key already had an expiry, then carried along by a renewal that outlasts it.
pub async fn policy_keys_expire_with_the_seats(fx: &Fixture) {
    let grace = license_seats_redis::KEY_GRACE;
    let key = fx.license().await;
    granted(fx, &key, &request("plain", 10, MINUTE)).await;
    let eng = Counter::group("eng");
    let counted = capped("counted", &eng, 5, SeatLimit::GroupMax);
    granted(fx, &key, &counted).await;
    let seats_ttl = pttl(fx, &key, "seats").await;
    assert!(seats_ttl > 0);
    for part in POLICY_PARTS {
        let left = pttl(fx, &key, part).await;
        assert!(left > 0, "{part} has no expiry: {left}");
        assert!(
            (left - seats_ttl).abs() < 1_000,
            "{part}: {left} vs {seats_ttl}"
        );
    }
    fx.ledger.renew(&key, counted.seat(), DAY).await.unwrap();
    let at_least = i64::try_from((DAY + grace).as_millis()).unwrap() - 2_000;
    for part in ["seats", "counts", "tags", "init"] {
        let left = pttl(fx, &key, part).await;
        assert!(left > at_least, "{part}: {left} ms");
    }
}

/// Malformed tally arguments are an error reply, before any write.
pub async fn malformed_tally_arguments_write_nothing(fx: &Fixture) {
    let key = fx.license().await;
    let script = concat!(
        include_str!("../../lua/common.lua"),
        include_str!("../../lua/tally.lua"),
        include_str!("../../lua/tickets.lua"),
        include_str!("../../lua/acquire.lua")
    );
    let parts = [
        "init",
        "seats",
        "holders",
        "borrowed",
        "lingering",
        "holds",
        "counts",
        "tags",
        "queue",
        "tickets",
        "deadlines",
    ];
    let good_cap = [&counter_digest(&Counter::group("eng"))[..], b"g0000000002"].concat();
    let bad: [(&[u8], Vec<u8>, Vec<u8>); 4] = [
        (b"short", vec![], vec![]),
        (b"", good_cap[..22].to_vec(), vec![]),
        (b"", [&good_cap[..12], b"x0000000002"].concat(), vec![]),
        (b"", vec![], [&good_cap[..12], b"20000000002"].concat()),
    ];
    for (counters, caps, reserves) in bad {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(parts.len());
        for part in parts {
            cmd.arg(redis_key(&key, part));
        }
        cmd.arg(&[7u8; 16][..])
            .arg(&[9u8; 12][..])
            .arg(10)
            .arg(60_000)
            .arg(600_000)
            .arg("")
            .arg(-1)
            .arg(counters)
            .arg(caps)
            .arg(reserves)
            // Acquire, a plain one: only the tally is wrong.
            .arg("0")
            .arg(0)
            .arg("pass")
            .arg(0)
            .arg(0)
            .arg(0)
            .arg("laptop-1");
        let reply = fx.probe.try_query::<redis::Value>(&cmd).await;
        let err = reply.expect_err("malformed arguments are refused");
        assert!(err.to_string().contains("acquire"), "{err}");
    }
    assert_eq!(fx.probe.zcard(&key).await, 0);
    for part in POLICY_PARTS {
        assert!(!exists(fx, &key, part).await, "{part} written");
    }
}
