//! The `SeatLedger` contract for borrowed and lingering seats (ADR 0025): the borrow cap,
//! renewals that never shorten a borrow, linger and its takeover by the same machine; and the
//! runner of these rules and those of `holds`, with the helpers both use.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::holds;
use super::{TTL, acquire, count, hw, initialised, request, tokio_free_sleep};
use crate::ids::SessionId;
use crate::seat_ledger::{
    AcquireOutcome, Hold, LiveCount, RenewOutcome, SeatLedger, SeatRef, SeatRequest, UserRef,
};

/// How long the lingers and hold-offs that must end within the contract last.
pub(super) const SHORT: Duration = Duration::from_secs(1);
/// Waited for them to end: the ledger's clock may round up to the next millisecond.
pub(super) const PAST_SHORT: Duration = Duration::from_millis(1_250);

/// Runs the rules below; the two that wait for a linger and a hold-off to end wait together.
pub(super) async fn kinds_and_holds_contract(ledger: &dyn SeatLedger) {
    borrowed_seats_are_capped_and_count_against_the_limit(ledger).await;
    renew_never_shortens_a_borrowed_seat(ledger).await;
    linger_needs_a_live_seat_of_the_session(ledger).await;
    futures::join!(
        a_lingering_seat_is_its_machines_until_it_ends(ledger),
        holds::eviction_holds_the_machine_and_person_off_until_the_hold_ends(ledger),
    );
    holds::evict_without_state_initialises_nothing(ledger).await;
    holds::rebuild_restores_kinds_and_hold_offs(ledger).await;
}

pub(super) fn borrow(i: usize, limit: u32, max_borrowed: u32, period: Duration) -> SeatRequest {
    SeatRequest {
        borrow: Some(max_borrowed),
        ..request(i, limit, period)
    }
}

pub(super) fn user(i: usize) -> UserRef {
    UserRef(format!("email:user-{i}@example.com"))
}

pub(super) fn as_user(req: SeatRequest, i: usize) -> SeatRequest {
    SeatRequest {
        user: Some(user(i)),
        ..req
    }
}

pub(super) fn granted(outcome: &AcquireOutcome) -> bool {
    matches!(outcome, AcquireOutcome::Granted { .. })
}

pub(super) async fn renew(
    ledger: &dyn SeatLedger,
    key: &crate::LedgerKey,
    seat: SeatRef<'_>,
    ttl: Duration,
) -> RenewOutcome {
    ledger
        .renew(key, seat, ttl)
        .await
        .unwrap_or_else(|e| panic!("renew: {e}"))
}

pub(super) async fn linger(
    ledger: &dyn SeatLedger,
    key: &crate::LedgerKey,
    seat: SeatRef<'_>,
    linger: Duration,
) -> bool {
    ledger
        .linger(key, seat, linger)
        .await
        .unwrap_or_else(|e| panic!("linger: {e}"))
}

pub(super) async fn release(ledger: &dyn SeatLedger, key: &crate::LedgerKey, seat: SeatRef<'_>) {
    ledger
        .release(key, seat)
        .await
        .unwrap_or_else(|e| panic!("release: {e}"));
}

pub(super) async fn evict(
    ledger: &dyn SeatLedger,
    key: &crate::LedgerKey,
    seat: SeatRef<'_>,
    hold: &Hold,
) {
    ledger
        .evict(key, seat, hold)
        .await
        .unwrap_or_else(|e| panic!("evict: {e}"));
}

/// Milliseconds are what every backend keeps.
pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

async fn borrowed_seats_are_capped_and_count_against_the_limit(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let hour = Duration::from_secs(3_600);
    let first = borrow(0, 3, 2, hour);
    assert!(
        granted(&acquire(ledger, &key, &first).await),
        "first borrow"
    );
    assert!(
        granted(&acquire(ledger, &key, &borrow(1, 3, 2, hour)).await),
        "second borrow of 2"
    );
    let third = borrow(2, 3, 2, hour);
    assert_eq!(
        acquire(ledger, &key, &third).await,
        AcquireOutcome::NoBorrowSeats,
        "a third borrow while 2 are out"
    );
    assert_eq!(
        count(ledger, &key).await,
        LiveCount::Count(2),
        "nothing changed"
    );
    let refused = renew(ledger, &key, third.seat(), TTL).await;
    assert_eq!(
        refused,
        RenewOutcome::Expired,
        "the refused borrow holds no seat"
    );
    // The same machine may still take an ordinary seat: the cap is on borrows only.
    assert!(granted(&acquire(ledger, &key, &request(2, 3, TTL)).await));
    // Borrowed seats count against the limit: 2 borrowed + 1 held = 3 of 3.
    assert_eq!(
        acquire(ledger, &key, &request(3, 3, TTL)).await,
        AcquireOutcome::NoSeats
    );
    assert_eq!(
        acquire(ledger, &key, &borrow(3, 3, 5, hour)).await,
        AcquireOutcome::NoSeats,
        "a borrow under its cap still needs a free seat"
    );
    // Returning a borrowed seat frees it and its place under the cap.
    release(ledger, &key, first.seat()).await;
    assert_eq!(count(ledger, &key).await, LiveCount::Count(2));
    assert!(
        granted(&acquire(ledger, &key, &borrow(4, 3, 2, hour)).await),
        "a borrow after a return"
    );
}

async fn renew_never_shortens_a_borrowed_seat(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let req = borrow(0, 5, 5, Duration::from_secs(3_600));
    let AcquireOutcome::Granted { expires_at, .. } = acquire(ledger, &key, &req).await else {
        panic!("borrow refused");
    };
    match renew(ledger, &key, req.seat(), TTL).await {
        RenewOutcome::Renewed { expires_at: kept } => assert_eq!(
            ms(kept),
            ms(expires_at),
            "a check-in with a shorter TTL keeps the borrow's end"
        ),
        other => panic!("renew of a borrowed seat: {other:?}"),
    }
    match renew(ledger, &key, req.seat(), Duration::from_secs(7_200)).await {
        RenewOutcome::Renewed { expires_at: later } => {
            assert!(later > expires_at, "a longer TTL extends a borrow")
        }
        other => panic!("renew of a borrowed seat: {other:?}"),
    }
}

async fn linger_needs_a_live_seat_of_the_session(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let machine = hw(0);
    let nobody = SeatRef::new(SessionId::new(), &machine);
    assert!(
        !linger(ledger, &key, nobody, TTL).await,
        "linger of a seat nobody holds"
    );
    let req = request(0, 5, TTL);
    assert!(granted(&acquire(ledger, &key, &req).await));
    let other = SeatRef::new(SessionId::new(), &req.hardware_id);
    assert!(
        !linger(ledger, &key, other, TTL).await,
        "linger by a session that does not hold the machine's seat"
    );
    assert!(
        matches!(
            renew(ledger, &key, req.seat(), TTL).await,
            RenewOutcome::Renewed { .. }
        ),
        "a refused linger changes nothing"
    );
    release(ledger, &key, req.seat()).await;
    assert!(
        !linger(ledger, &key, req.seat(), TTL).await,
        "linger of a released seat"
    );
    assert_eq!(count(ledger, &key).await, LiveCount::Count(0));
}

async fn a_lingering_seat_is_its_machines_until_it_ends(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let (first, second) = (request(0, 2, TTL), request(1, 2, TTL));
    assert!(granted(&acquire(ledger, &key, &first).await));
    assert!(granted(&acquire(ledger, &key, &second).await));
    // `second` lingers briefly and is left to end; `first` lingers for long and is taken back.
    assert!(linger(ledger, &key, second.seat(), SHORT).await, "linger");
    assert!(linger(ledger, &key, first.seat(), TTL).await, "linger");
    assert!(
        !linger(ledger, &key, first.seat(), TTL).await,
        "linger of a seat that lingers already"
    );
    assert_eq!(
        count(ledger, &key).await,
        LiveCount::Count(2),
        "lingering seats count"
    );
    assert_eq!(
        renew(ledger, &key, first.seat(), TTL).await,
        RenewOutcome::Expired,
        "a lingering seat is not renewed"
    );
    release(ledger, &key, first.seat()).await;
    assert_eq!(
        count(ledger, &key).await,
        LiveCount::Count(2),
        "release leaves a lingering seat"
    );
    assert_eq!(
        acquire(ledger, &key, &request(2, 2, TTL)).await,
        AcquireOutcome::NoSeats,
        "another machine sees the lingering seats taken"
    );
    // The same machine, a new session: takes its seat over, the count unchanged.
    let back = request(0, 2, TTL);
    assert!(
        matches!(
            acquire(ledger, &key, &back).await,
            AcquireOutcome::TookBack { in_use: 2, lingering, .. } if lingering == first.session_id
        ),
        "the lingering seat goes back to its machine, naming the linger it ends"
    );
    assert!(
        matches!(
            renew(ledger, &key, back.seat(), TTL).await,
            RenewOutcome::Renewed { .. }
        ),
        "the new session holds the seat"
    );
    assert_eq!(
        renew(ledger, &key, first.seat(), TTL).await,
        RenewOutcome::Expired,
        "the old session does not"
    );
    assert!(matches!(
        acquire(ledger, &key, &request(0, 2, TTL)).await,
        AcquireOutcome::AlreadyHeld { session_id, .. } if session_id == back.session_id
    ));
    tokio_free_sleep(PAST_SHORT).await;
    assert!(
        granted(&acquire(ledger, &key, &request(2, 2, TTL)).await),
        "a lingering seat frees itself when its linger ends"
    );
    release(ledger, &key, back.seat()).await;
    assert_eq!(count(ledger, &key).await, LiveCount::Count(1));
}
