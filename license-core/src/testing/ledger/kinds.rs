//! The `SeatLedger` contract for borrowed and lingering seats and eviction hold-offs (ADR 0025):
//! the borrow cap, renewals that never shorten a borrow, linger and its takeover by the same
//! machine, hold-offs by machine and by person, and a rebuild that restores all of them.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::{TTL, acquire, count, fresh_key, hw, initialised, request, tokio_free_sleep};
use crate::ids::SessionId;
use crate::seat_ledger::{
    AcquireOutcome, Hold, HoldOff, LiveCount, RebuildOutcome, RenewOutcome, SeatKind, SeatLedger,
    SeatRef, SeatRequest, UserRef,
};
use crate::session::LiveSeat;

/// How long the lingers and hold-offs that must end within the contract last.
const SHORT: Duration = Duration::from_secs(1);
/// Waited for them to end: the ledger's clock may round up to the next millisecond.
const PAST_SHORT: Duration = Duration::from_millis(1_250);

/// Runs the rules below; the two that wait for a linger and a hold-off to end wait together.
pub(super) async fn kinds_and_holds_contract(ledger: &dyn SeatLedger) {
    borrowed_seats_are_capped_and_count_against_the_limit(ledger).await;
    renew_never_shortens_a_borrowed_seat(ledger).await;
    linger_needs_a_live_seat_of_the_session(ledger).await;
    futures::join!(
        a_lingering_seat_is_its_machines_until_it_ends(ledger),
        eviction_holds_the_machine_and_person_off_until_the_hold_ends(ledger),
    );
    evict_without_state_initialises_nothing(ledger).await;
    rebuild_restores_kinds_and_hold_offs(ledger).await;
}

fn borrow(i: usize, limit: u32, max_borrowed: u32, period: Duration) -> SeatRequest {
    SeatRequest {
        borrow: Some(max_borrowed),
        ..request(i, limit, period)
    }
}

fn user(i: usize) -> UserRef {
    UserRef(format!("email:user-{i}@example.com"))
}

fn as_user(req: SeatRequest, i: usize) -> SeatRequest {
    SeatRequest {
        user: Some(user(i)),
        ..req
    }
}

fn granted(outcome: &AcquireOutcome) -> bool {
    matches!(outcome, AcquireOutcome::Granted { .. })
}

async fn renew(
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

async fn linger(
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

async fn release(ledger: &dyn SeatLedger, key: &crate::LedgerKey, seat: SeatRef<'_>) {
    ledger
        .release(key, seat)
        .await
        .unwrap_or_else(|e| panic!("release: {e}"));
}

async fn evict(ledger: &dyn SeatLedger, key: &crate::LedgerKey, seat: SeatRef<'_>, hold: &Hold) {
    ledger
        .evict(key, seat, hold)
        .await
        .unwrap_or_else(|e| panic!("evict: {e}"));
}

/// Milliseconds are what every backend keeps.
fn ms(t: DateTime<Utc>) -> i64 {
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
            AcquireOutcome::Granted { in_use: 2, .. }
        ),
        "the lingering seat goes back to its machine"
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

async fn eviction_holds_the_machine_and_person_off_until_the_hold_ends(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let victim = as_user(request(0, 5, TTL), 0);
    let lingering = request(1, 5, TTL);
    for req in [&victim, &lingering] {
        assert!(granted(&acquire(ledger, &key, req).await));
    }
    assert!(linger(ledger, &key, lingering.seat(), TTL).await);
    let hold = Hold {
        user: Some(user(0)),
        duration: SHORT,
        reason: "licence audit".into(),
    };
    let before = Utc::now();
    evict(ledger, &key, victim.seat(), &hold).await;
    let after = Utc::now();
    assert_eq!(
        count(ledger, &key).await,
        LiveCount::Count(1),
        "the seat is freed"
    );
    assert_eq!(
        renew(ledger, &key, victim.seat(), TTL).await,
        RenewOutcome::Expired
    );
    let until = match acquire(ledger, &key, &as_user(request(0, 5, TTL), 0)).await {
        AcquireOutcome::Evicted { until, reason } => {
            assert_eq!(reason, "licence audit", "the hold-off carries its reason");
            let slack = TimeDelta::milliseconds(5);
            assert!(
                until >= before + TimeDelta::from_std(SHORT).unwrap_or_default() - slack
                    && until <= after + TimeDelta::from_std(SHORT).unwrap_or_default() + slack,
                "the hold-off lasts its duration from the eviction: {until}"
            );
            until
        }
        other => panic!("the evicted machine acquired again: {other:?}"),
    };
    // The machine, whoever asks from it; the person, from any machine.
    for req in [request(0, 5, TTL), as_user(request(2, 5, TTL), 0)] {
        assert!(
            matches!(
                acquire(ledger, &key, &req).await,
                AcquireOutcome::Evicted { until: u, .. } if ms(u) == ms(until)
            ),
            "held off: {req:?}"
        );
    }
    assert_eq!(
        count(ledger, &key).await,
        LiveCount::Count(1),
        "nothing changed"
    );
    // Anyone else is not held off.
    assert!(granted(
        &acquire(ledger, &key, &as_user(request(3, 5, TTL), 3)).await
    ));
    // An eviction frees a lingering seat too, and holds off even without a seat to free.
    let machine_only = Hold {
        user: None,
        ..hold.clone()
    };
    evict(ledger, &key, lingering.seat(), &machine_only).await;
    let machine = hw(4);
    let absent = SeatRef::new(SessionId::new(), &machine);
    evict(ledger, &key, absent, &machine_only).await;
    assert_eq!(count(ledger, &key).await, LiveCount::Count(1));
    for i in [1, 4] {
        assert!(
            matches!(
                acquire(ledger, &key, &request(i, 5, TTL)).await,
                AcquireOutcome::Evicted { .. }
            ),
            "machine-{i} held off"
        );
    }
    // A machine-only hold-off lets the person in elsewhere.
    assert!(granted(
        &acquire(ledger, &key, &as_user(request(5, 5, TTL), 1)).await
    ));
    tokio_free_sleep(PAST_SHORT).await;
    for req in [as_user(request(0, 5, TTL), 0), request(4, 5, TTL)] {
        assert!(
            granted(&acquire(ledger, &key, &req).await),
            "the hold-off has ended: {req:?}"
        );
    }
}

async fn evict_without_state_initialises_nothing(ledger: &dyn SeatLedger) {
    let key = fresh_key();
    let hold = Hold {
        user: Some(user(0)),
        duration: TTL,
        reason: "r".into(),
    };
    evict(ledger, &key, SeatRef::new(SessionId::new(), &hw(0)), &hold).await;
    assert_eq!(
        count(ledger, &key).await,
        LiveCount::Rebuild,
        "the rebuild brings hold-offs from the store"
    );
    assert!(
        !linger(ledger, &key, SeatRef::new(SessionId::new(), &hw(0)), TTL).await,
        "linger on a key without state"
    );
}

async fn rebuild_restores_kinds_and_hold_offs(ledger: &dyn SeatLedger) {
    let key = fresh_key();
    let now = Utc::now();
    let hour = now + TimeDelta::hours(1);
    let seat = |i: usize, expires_at, kind| LiveSeat {
        session_id: SessionId::new(),
        hardware_id: hw(i),
        expires_at,
        kind,
    };
    let borrowed = seat(0, hour, SeatKind::Borrowed);
    let lingering = seat(1, hour, SeatKind::Lingering);
    let held = seat(2, now + TimeDelta::minutes(1), SeatKind::Held);
    let hold = |i: usize, until| HoldOff {
        hardware_id: hw(i),
        user: Some(user(i)),
        until,
        reason: format!("hold {i}"),
    };
    let holds = [hold(3, hour), hold(4, now - TimeDelta::seconds(1))];
    let seats = [borrowed.clone(), lingering.clone(), held];
    assert_eq!(
        ledger.rebuild(&key, &seats, &holds).await.ok(),
        Some(RebuildOutcome::Rebuilt)
    );
    assert_eq!(count(ledger, &key).await, LiveCount::Count(3));
    assert_eq!(
        acquire(ledger, &key, &borrow(5, 10, 1, TTL)).await,
        AcquireOutcome::NoBorrowSeats,
        "a restored borrow counts against the cap"
    );
    let borrowed_seat = SeatRef::new(borrowed.session_id, &borrowed.hardware_id);
    assert!(
        matches!(
            renew(ledger, &key, borrowed_seat, TTL).await,
            RenewOutcome::Renewed { expires_at } if ms(expires_at) == ms(hour)
        ),
        "a restored borrow is not shortened"
    );
    let lingering_seat = SeatRef::new(lingering.session_id, &lingering.hardware_id);
    assert_eq!(
        renew(ledger, &key, lingering_seat, TTL).await,
        RenewOutcome::Expired,
        "a restored lingering seat is not renewed"
    );
    assert!(
        matches!(
            acquire(ledger, &key, &request(1, 10, TTL)).await,
            AcquireOutcome::Granted { in_use: 3, .. }
        ),
        "its machine takes a restored lingering seat over"
    );
    for req in [request(3, 10, TTL), as_user(request(6, 10, TTL), 3)] {
        assert!(
            matches!(
                acquire(ledger, &key, &req).await,
                AcquireOutcome::Evicted { until, ref reason } if ms(until) == ms(hour) && reason == "hold 3"
            ),
            "a restored hold-off: {req:?}"
        );
    }
    assert!(
        granted(&acquire(ledger, &key, &as_user(request(4, 10, TTL), 4)).await),
        "a hold-off that ended is not restored"
    );
}
