//! The `SeatLedger` contract for [`SeatLedger::regrant`] (ADR 0017): a seat whose grant is not
//! on record (restored by a rebuild) is granted again only as a new seat would be, re-counted
//! toward the asker's counters, and freed when refused.

use super::{TTL, acquire, count, fresh_key, request};
use crate::seat_ledger::{AcquireOutcome, LedgerKey, LiveCount, SeatLedger, SeatRequest};
use crate::seat_policy::{Cap, Counter, SeatLimit, SeatTally};
use crate::session::LiveSeat;
use crate::{SeatKind, SessionId};

/// Runs the rules below.
pub(super) async fn regrant_contract(ledger: &dyn SeatLedger) {
    within_the_limit_the_seat_is_kept_as_it_is(ledger).await;
    over_the_limit_the_seat_is_freed(ledger).await;
    the_seat_is_counted_for_the_asker(ledger).await;
    a_borrowed_seat_is_checked_without_itself(ledger).await;
    a_gone_seat_is_granted_afresh(ledger).await;
}

/// A key rebuilt with `seats`: what a rebuild after a Redis loss restores.
async fn rebuilt(ledger: &dyn SeatLedger, seats: &[LiveSeat]) -> LedgerKey {
    let key = fresh_key();
    if let Err(e) = ledger.rebuild(&key, seats, &[]).await {
        panic!("rebuild: {e}");
    }
    key
}

/// The seat `req` would take, restored as if its grant had happened (an acquire's record).
fn restored(req: &SeatRequest, kind: SeatKind) -> LiveSeat {
    LiveSeat {
        session_id: req.session_id,
        hardware_id: req.hardware_id.clone(),
        expires_at: chrono::Utc::now() + chrono::TimeDelta::seconds(60),
        kind,
        counters: req.tally.counters.clone(),
    }
}

async fn regrant(ledger: &dyn SeatLedger, key: &LedgerKey, req: &SeatRequest) -> AcquireOutcome {
    ledger
        .regrant(key, req)
        .await
        .unwrap_or_else(|e| panic!("regrant: {e}"))
}

async fn within_the_limit_the_seat_is_kept_as_it_is(ledger: &dyn SeatLedger) {
    let orphan = request(0, 2, TTL);
    let seat = restored(&orphan, SeatKind::Held);
    let key = rebuilt(
        ledger,
        &[seat.clone(), restored(&request(1, 2, TTL), SeatKind::Held)],
    )
    .await;
    match regrant(ledger, &key, &orphan).await {
        AcquireOutcome::AlreadyHeld {
            session_id,
            expires_at,
        } => {
            assert_eq!(session_id, orphan.session_id);
            assert_eq!(
                expires_at.timestamp_millis(),
                seat.expires_at.timestamp_millis(),
                "a regrant keeps the expiry"
            );
        }
        other => panic!("a regrant within the limit: {other:?}"),
    }
    assert_eq!(count(ledger, &key).await, LiveCount::Count(2));
}

async fn over_the_limit_the_seat_is_freed(ledger: &dyn SeatLedger) {
    // Three seats restored on a license of two: the unconfirmed one is not handed out.
    let orphan = request(0, 2, TTL);
    let seats: Vec<LiveSeat> = [orphan.clone(), request(1, 2, TTL), request(2, 2, TTL)]
        .iter()
        .map(|r| restored(r, SeatKind::Held))
        .collect();
    let key = rebuilt(ledger, &seats).await;
    assert_eq!(
        regrant(ledger, &key, &orphan).await,
        AcquireOutcome::NoSeats
    );
    assert_eq!(
        count(ledger, &key).await,
        LiveCount::Count(2),
        "the refused seat is freed"
    );
    // Freed for good: the machine's next acquire finds no seat of its own.
    assert_eq!(
        acquire(ledger, &key, &request(0, 2, TTL)).await,
        AcquireOutcome::NoSeats
    );
}

async fn the_seat_is_counted_for_the_asker(ledger: &dyn SeatLedger) {
    let eng = Counter::group("eng");
    let ops = Counter::group("ops");
    let capped = |i: usize, counter: &Counter, max: u32| SeatRequest {
        tally: SeatTally {
            counters: vec![counter.clone()],
            caps: vec![Cap {
                counter: counter.clone(),
                max,
                limit: SeatLimit::GroupMax,
            }],
            reserves: vec![],
        },
        ..request(i, 5, TTL)
    };
    // Restored counting toward eng; granted again to someone counting toward ops.
    let orphan = capped(0, &eng, 1);
    let key = rebuilt(ledger, &[restored(&orphan, SeatKind::Held)]).await;
    let asker = SeatRequest {
        session_id: orphan.session_id,
        ..capped(0, &ops, 1)
    };
    assert!(matches!(
        regrant(ledger, &key, &asker).await,
        AcquireOutcome::AlreadyHeld { session_id, .. } if session_id == orphan.session_id
    ));
    // eng's one seat is free again, ops' one is taken.
    assert!(matches!(
        acquire(ledger, &key, &capped(1, &eng, 1)).await,
        AcquireOutcome::Granted { .. }
    ));
    assert_eq!(
        acquire(ledger, &key, &capped(2, &ops, 1)).await,
        AcquireOutcome::Limited(SeatLimit::GroupMax)
    );
    // A cap the seat itself would pass: refused, and freed.
    let over = capped(3, &eng, 1);
    let key = rebuilt(
        ledger,
        &[
            restored(&over, SeatKind::Held),
            restored(&capped(4, &eng, 1), SeatKind::Held),
        ],
    )
    .await;
    assert_eq!(
        regrant(ledger, &key, &over).await,
        AcquireOutcome::Limited(SeatLimit::GroupMax)
    );
    assert_eq!(count(ledger, &key).await, LiveCount::Count(1));
}

async fn a_borrowed_seat_is_checked_without_itself(ledger: &dyn SeatLedger) {
    let borrow = |i: usize, cap: u32| SeatRequest {
        borrow: Some(cap),
        ..request(i, 5, TTL)
    };
    // One borrow allowed, one restored: its own regrant passes the cap.
    let own = borrow(0, 1);
    let key = rebuilt(ledger, &[restored(&own, SeatKind::Borrowed)]).await;
    assert!(matches!(
        regrant(ledger, &key, &own).await,
        AcquireOutcome::AlreadyHeld { session_id, .. } if session_id == own.session_id
    ));
    assert_eq!(
        acquire(ledger, &key, &borrow(1, 1)).await,
        AcquireOutcome::NoBorrowSeats,
        "the regranted seat is still borrowed"
    );
    // Two restored, one allowed: refused and freed.
    let extra = borrow(2, 1);
    let key = rebuilt(
        ledger,
        &[
            restored(&extra, SeatKind::Borrowed),
            restored(&borrow(3, 1), SeatKind::Borrowed),
        ],
    )
    .await;
    assert_eq!(
        regrant(ledger, &key, &extra).await,
        AcquireOutcome::NoBorrowSeats
    );
    assert_eq!(count(ledger, &key).await, LiveCount::Count(1));
}

async fn a_gone_seat_is_granted_afresh(ledger: &dyn SeatLedger) {
    let key = rebuilt(ledger, &[]).await;
    let req = request(0, 1, TTL);
    assert!(matches!(
        regrant(ledger, &key, &req).await,
        AcquireOutcome::Granted { in_use: 1, .. }
    ));
    // Another machine's seat is not the asker's to regrant.
    let other = SeatRequest {
        session_id: SessionId::new(),
        ..request(0, 1, TTL)
    };
    assert!(matches!(
        regrant(ledger, &key, &other).await,
        AcquireOutcome::AlreadyHeld { session_id, .. } if session_id == req.session_id
    ));
}
