//! Scenarios pinning what the compact layout (a seat per machine digest, packed holders) must
//! keep: the session check on renew and release, bounded pruning, the version in the key
//! names, one seat per machine on rebuild, key expiry, and what a seat costs in memory.

use std::time::Duration;

use futures::future::join_all;
use license_core::{
    AcquireOutcome, LedgerKey, LicenseId, LiveCount, LiveSeat, RebuildOutcome, RenewOutcome,
    SeatKind, SeatLedger, SeatRef, SessionId, TenantId,
};

use super::{Fixture, PARTS, hw, redis_key, request};

const MINUTE: Duration = Duration::from_secs(60);

/// A session that no longer holds its machine's seat can neither renew nor release the seat a
/// later session of the machine holds.
pub async fn a_stale_session_cannot_touch_the_machines_new_seat(fx: &Fixture) {
    let key = fx.license().await;
    let old = request("laptop-1", 5, MINUTE);
    assert!(matches!(
        fx.ledger.acquire(&key, &old).await.unwrap(),
        AcquireOutcome::Granted { .. }
    ));
    fx.ledger.release(&key, old.seat()).await.unwrap();
    let new = request("laptop-1", 5, MINUTE);
    assert!(matches!(
        fx.ledger.acquire(&key, &new).await.unwrap(),
        AcquireOutcome::Granted { in_use: 1, .. }
    ));

    assert_eq!(
        fx.ledger.renew(&key, old.seat(), MINUTE).await.unwrap(),
        RenewOutcome::Expired
    );
    fx.ledger.release(&key, old.seat()).await.unwrap();
    assert!(matches!(
        fx.ledger.acquire(&key, &request("laptop-1", 5, MINUTE)).await.unwrap(),
        AcquireOutcome::AlreadyHeld { session_id, .. } if session_id == new.session_id
    ));
    assert!(matches!(
        fx.ledger.renew(&key, new.seat(), MINUTE).await.unwrap(),
        RenewOutcome::Renewed { .. }
    ));
}

/// Keys of the layout before `v2` (`lic:{t:l}:init`, `:seats`, `:hw`, `:owners`) are never
/// read: a license that has only those answers `Rebuild`, and its old seats do not count.
pub async fn keys_of_the_old_layout_are_never_read(fx: &Fixture) {
    let key = LedgerKey {
        tenant_id: TenantId::new(),
        license_id: LicenseId::new(),
    };
    let old = |part: &str| format!("lic:{{{}:{}}}:{part}", key.tenant_id, key.license_id);
    let session = SessionId::new().to_string();
    let far = "99999999999999";
    let writes = [
        redis::cmd("SET").arg(old("init")).arg("1").clone(),
        redis::cmd("ZADD")
            .arg(old("seats"))
            .arg(far)
            .arg(&session)
            .clone(),
        redis::cmd("HSET")
            .arg(old("hw"))
            .arg("laptop-1")
            .arg(&session)
            .clone(),
        redis::cmd("HSET")
            .arg(old("owners"))
            .arg(&session)
            .arg("laptop-1")
            .clone(),
    ];
    for write in &writes {
        let _: redis::Value = fx.probe.query(write).await;
    }

    assert_eq!(
        fx.ledger
            .acquire(&key, &request("laptop-1", 1, MINUTE))
            .await
            .unwrap(),
        AcquireOutcome::Rebuild
    );
    assert_eq!(
        fx.ledger.rebuild(&key, &[], &[]).await.unwrap(),
        RebuildOutcome::Rebuilt
    );
    assert!(matches!(
        fx.ledger
            .acquire(&key, &request("laptop-1", 1, MINUTE))
            .await
            .unwrap(),
        AcquireOutcome::Granted { in_use: 1, .. }
    ));
    let old_seats: u32 = fx.probe.query(redis::cmd("ZCARD").arg(old("seats"))).await;
    assert_eq!(old_seats, 1, "the old keys are left to expire, untouched");
}

/// Many seats expiring together are never counted once expired, and are freed a hundred per
/// acquire, so one call never has to free them all.
pub async fn a_mass_expiry_is_freed_over_several_calls(fx: &Fixture) {
    let key = fx.license().await;
    let short = Duration::from_millis(500);
    let zombies: Vec<_> = (0..250)
        .map(|i| request(&format!("zombie-{i}"), 1_000, short))
        .collect();
    for outcome in join_all(zombies.iter().map(|r| fx.ledger.acquire(&key, r))).await {
        assert!(matches!(outcome, Ok(AcquireOutcome::Granted { .. })));
    }
    tokio::time::sleep(short + Duration::from_millis(300)).await;
    assert_eq!(
        fx.ledger.live_count(&key).await.unwrap(),
        LiveCount::Count(0)
    );

    // One seat allowed: the 250 expired seats do not count, though only 100 are freed.
    assert!(matches!(
        fx.ledger
            .acquire(&key, &request("next-0", 1, MINUTE))
            .await
            .unwrap(),
        AcquireOutcome::Granted { in_use: 1, .. }
    ));
    assert_eq!(fx.probe.zcard(&key).await, 151);
    assert_eq!(fx.probe.holder_records(&key).await, 151);
    for i in 1..3 {
        let outcome = fx
            .ledger
            .acquire(&key, &request(&format!("next-{i}"), 10, MINUTE))
            .await
            .unwrap();
        assert!(matches!(outcome, AcquireOutcome::Granted { in_use, .. } if in_use == i + 1));
    }
    assert_eq!(fx.probe.zcard(&key).await, 3, "every zombie freed");
    assert_eq!(fx.probe.holder_records(&key).await, 3);
}

/// A machine gets one seat from a rebuild: of two live sessions the store names for it, the
/// one expiring last.
pub async fn rebuild_gives_a_machine_one_seat(fx: &Fixture) {
    let key = LedgerKey {
        tenant_id: TenantId::new(),
        license_id: LicenseId::new(),
    };
    let now = chrono::Utc::now();
    let seat = |machine: &str, secs| LiveSeat {
        session_id: SessionId::new(),
        hardware_id: hw(machine),
        expires_at: now + chrono::TimeDelta::seconds(secs),
        kind: SeatKind::Held,
        counters: vec![],
    };
    let (earlier, later, other) = (seat("twice", 30), seat("twice", 60), seat("once", 30));
    let outcome = fx
        .ledger
        .rebuild(&key, &[later.clone(), earlier.clone(), other], &[])
        .await
        .unwrap();
    assert_eq!(outcome, RebuildOutcome::Rebuilt);
    assert_eq!(
        fx.ledger.live_count(&key).await.unwrap(),
        LiveCount::Count(2)
    );
    match fx
        .ledger
        .acquire(&key, &request("twice", 5, MINUTE))
        .await
        .unwrap()
    {
        AcquireOutcome::AlreadyHeld {
            session_id,
            expires_at,
        } => {
            assert_eq!(session_id, later.session_id);
            assert_eq!(
                expires_at.timestamp_millis(),
                later.expires_at.timestamp_millis()
            );
        }
        other => panic!("the later session does not hold the seat: {other:?}"),
    }
    let seat = SeatRef::new(earlier.session_id, &earlier.hardware_id);
    assert_eq!(
        fx.ledger.renew(&key, seat, MINUTE).await.unwrap(),
        RenewOutcome::Expired
    );
}

/// Releasing the last seat deletes the (empty) seats and holders keys; the next grant makes
/// them again, and they get an expiry like the rest.
pub async fn keys_made_again_after_the_last_release_expire_too(fx: &Fixture) {
    let key = fx.license().await;
    let first = request("laptop-1", 5, MINUTE);
    assert!(matches!(
        fx.ledger.acquire(&key, &first).await.unwrap(),
        AcquireOutcome::Granted { .. }
    ));
    fx.ledger.release(&key, first.seat()).await.unwrap();
    assert_eq!(fx.probe.zcard(&key).await, 0);
    let second = request("laptop-2", 5, MINUTE);
    assert!(matches!(
        fx.ledger.acquire(&key, &second).await.unwrap(),
        AcquireOutcome::Granted { .. }
    ));
    for part in PARTS {
        let pttl: i64 = fx
            .probe
            .query(redis::cmd("PTTL").arg(redis_key(&key, part)))
            .await;
        let least = (MINUTE + license_seats_redis::KEY_GRACE).as_millis() - 2_000;
        assert!(
            u128::try_from(pttl).is_ok_and(|ms| ms > least),
            "{part}: {pttl}"
        );
    }
}

/// Bytes of Redis a live seat costs at `SEATS` seats on one license (`MEMORY USAGE` of the
/// license's keys): the layout before `v2` took about 350; this one about 190 here (and 145 at
/// a million seats, where about 15 records share each bucket of the holders hash).
pub async fn a_live_seat_costs_under_240_bytes(fx: &Fixture) {
    const SEATS: usize = 5_000;
    let key = fx.license().await;
    let requests: Vec<_> = (0..SEATS)
        .map(|i| request(&format!("machine-{i}"), 100_000, MINUTE))
        .collect();
    for chunk in requests.chunks(500) {
        for outcome in join_all(chunk.iter().map(|r| fx.ledger.acquire(&key, r))).await {
            assert!(matches!(outcome, Ok(AcquireOutcome::Granted { .. })));
        }
    }
    let mut bytes = 0;
    for part in PARTS {
        let usage: Option<usize> = fx
            .probe
            .query(
                redis::cmd("MEMORY")
                    .arg("USAGE")
                    .arg(redis_key(&key, part))
                    .arg("SAMPLES")
                    .arg(0),
            )
            .await;
        bytes += usage.unwrap_or_else(|| panic!("{part} is missing"));
    }
    let per_seat = bytes / SEATS;
    println!("{per_seat} bytes per live seat at {SEATS} seats");
    assert!(per_seat < 240, "{per_seat} bytes per live seat");
}
