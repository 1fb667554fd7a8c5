//! What the keys for borrowed and lingering seats and for hold-offs must keep: absent unless
//! used, expiring after what they hold (and keeping the marker that long), and the ended
//! entries pruned by acquire.

use std::time::Duration;

use license_core::{AcquireOutcome, Hold, SeatLedger, SeatRequest, UserRef};

use super::{Fixture, redis_key, request};

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// The keys of seats of another kind and of hold-offs.
const KIND_PARTS: [&str; 3] = ["borrowed", "lingering", "holds"];

fn borrow(machine: &str, period: Duration) -> SeatRequest {
    SeatRequest {
        borrow: Some(100),
        ..request(machine, 100, period)
    }
}

fn someone() -> UserRef {
    UserRef("email:someone@example.com".into())
}

fn hold(duration: Duration, reason: &str) -> Hold {
    Hold {
        user: Some(someone()),
        duration,
        reason: reason.into(),
    }
}

async fn exists(fx: &Fixture, key: &license_core::LedgerKey, part: &str) -> bool {
    let n: u32 = fx
        .probe
        .query(redis::cmd("EXISTS").arg(redis_key(key, part)))
        .await;
    n == 1
}

async fn pttl(fx: &Fixture, key: &license_core::LedgerKey, part: &str) -> u128 {
    let ms: i64 = fx
        .probe
        .query(redis::cmd("PTTL").arg(redis_key(key, part)))
        .await;
    u128::try_from(ms).unwrap_or_else(|_| panic!("{part} has no expiry: {ms}"))
}

async fn granted(fx: &Fixture, key: &license_core::LedgerKey, req: &SeatRequest) {
    let outcome = fx.ledger.acquire(key, req).await.unwrap();
    assert!(
        matches!(outcome, AcquireOutcome::Granted { .. }),
        "{req:?}: {outcome:?}"
    );
}

/// An ordinary seat makes none of the keys of borrowed and lingering seats and hold-offs: it
/// costs what it cost before them.
pub async fn ordinary_seats_make_no_kind_or_hold_keys(fx: &Fixture) {
    let key = fx.license().await;
    let req = request("laptop-1", 5, MINUTE);
    granted(fx, &key, &req).await;
    fx.ledger.renew(&key, req.seat(), MINUTE).await.unwrap();
    fx.ledger.release(&key, req.seat()).await.unwrap();
    granted(fx, &key, &request("laptop-2", 5, MINUTE)).await;
    for part in KIND_PARTS {
        assert!(!exists(fx, &key, part).await, "{part} exists");
    }
}

/// A hold-off or a borrow longer than every seat keeps the marker (and its own key) for its
/// length plus the grace, a linger's key gets an expiry too, and a short seat granted later
/// never cuts a longer expiry back.
pub async fn long_hold_offs_and_borrows_keep_the_keys(fx: &Fixture) {
    let grace = license_seats_redis::KEY_GRACE;
    let at_least = |d: Duration| (d + grace).as_millis() - 2_000;
    let key = fx.license().await;
    let short = request("laptop-1", 100, MINUTE);
    granted(fx, &key, &short).await;
    let reason = "audit: close the app, then wait";
    fx.ledger
        .evict(&key, short.seat(), &hold(DAY, reason))
        .await
        .unwrap();
    for part in ["init", "holds"] {
        let left = pttl(fx, &key, part).await;
        assert!(left > at_least(DAY), "{part}: {left} ms");
    }
    match fx
        .ledger
        .acquire(&key, &request("laptop-1", 100, MINUTE))
        .await
        .unwrap()
    {
        AcquireOutcome::Evicted { reason: r, .. } => assert_eq!(r, reason, "a ':' in a reason"),
        other => panic!("not held off: {other:?}"),
    }

    granted(fx, &key, &borrow("laptop-2", 2 * DAY)).await;
    for part in ["init", "seats", "holders", "borrowed"] {
        let left = pttl(fx, &key, part).await;
        assert!(left > at_least(2 * DAY), "{part}: {left} ms");
    }
    let lingerer = request("laptop-3", 100, MINUTE);
    granted(fx, &key, &lingerer).await;
    assert!(
        fx.ledger
            .linger(&key, lingerer.seat(), MINUTE)
            .await
            .unwrap()
    );
    let lingering = pttl(fx, &key, "lingering").await;
    assert!(
        lingering > at_least(MINUTE) && lingering < at_least(2 * DAY),
        "lingering: {lingering} ms"
    );
    for part in ["init", "seats", "holders", "borrowed"] {
        let left = pttl(fx, &key, part).await;
        assert!(left > at_least(2 * DAY), "{part} cut back: {left} ms");
    }
}

/// Borrows and lingers that ended leave their keys at the next acquire, as expired seats do;
/// a hold-off that ended leaves when an acquire meets it.
pub async fn ended_borrows_lingers_and_hold_offs_are_pruned(fx: &Fixture) {
    let key = fx.license().await;
    let brief = Duration::from_millis(400);
    granted(fx, &key, &borrow("borrower", brief)).await;
    let lingerer = request("lingerer", 100, MINUTE);
    granted(fx, &key, &lingerer).await;
    assert!(
        fx.ledger
            .linger(&key, lingerer.seat(), brief)
            .await
            .unwrap()
    );
    let evicted = SeatRequest {
        user: Some(someone()),
        ..request("evicted", 100, MINUTE)
    };
    fx.ledger
        .evict(&key, evicted.seat(), &hold(brief, "brief"))
        .await
        .unwrap();
    for part in KIND_PARTS {
        assert!(exists(fx, &key, part).await, "{part} missing");
    }
    tokio::time::sleep(brief + Duration::from_millis(300)).await;
    // The evicted machine and person ask again: both their ended hold-offs go.
    granted(fx, &key, &evicted).await;
    for part in KIND_PARTS {
        assert!(
            !exists(fx, &key, part).await,
            "{part} left after its entries ended"
        );
    }
    assert_eq!(fx.probe.zcard(&key).await, 1, "only the new seat");
}

/// A machine digest as the scripts store it (`compact::machine`): the first 12 bytes of the
/// SHA-256 of the hardware id.
fn digest(machine: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, machine.as_bytes()).as_ref()[..12]
        .to_vec()
}

/// A kind entry left over from an older seat of the machine (a script of an older release
/// freed that seat without knowing the kind keys) does not make the machine's new seat
/// lingering or borrowed: a seat is of a kind only when its entry there has the seat's score.
pub async fn a_leftover_kind_entry_does_not_change_a_new_seat(fx: &Fixture) {
    let key = fx.license().await;
    let req = request("laptop-1", 5, MINUTE);
    granted(fx, &key, &req).await;
    let far = "99999999999999";
    for part in ["lingering", "borrowed"] {
        let _: u32 = fx
            .probe
            .query(
                redis::cmd("ZADD")
                    .arg(redis_key(&key, part))
                    .arg(far)
                    .arg(digest("laptop-1")),
            )
            .await;
    }
    let renewed = fx.ledger.renew(&key, req.seat(), 2 * MINUTE).await.unwrap();
    match renewed {
        license_core::RenewOutcome::Renewed { expires_at } => assert!(
            expires_at < chrono::Utc::now() + chrono::TimeDelta::minutes(3),
            "renewed as a seat held, not as a borrow: {expires_at}"
        ),
        other => panic!("a held seat taken for a lingering one: {other:?}"),
    }
    fx.ledger.release(&key, req.seat()).await.unwrap();
    assert_eq!(
        fx.probe.zcard(&key).await,
        0,
        "released, not left to linger"
    );
}
