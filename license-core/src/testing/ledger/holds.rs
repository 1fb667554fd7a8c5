//! The `SeatLedger` contract for eviction hold-offs (ADR 0025): by machine and by person, until
//! they end, recorded even without a seat to free; and a rebuild that restores seats with their
//! kinds and the hold-offs in force.

use chrono::{TimeDelta, Utc};

use super::kinds::{PAST_SHORT, SHORT, as_user, borrow, evict, granted, linger, ms, renew, user};
use super::{TTL, acquire, count, fresh_key, hw, initialised, request, tokio_free_sleep};
use crate::ids::SessionId;
use crate::seat_ledger::{
    AcquireOutcome, Hold, HoldOff, LiveCount, RebuildOutcome, RenewOutcome, SeatKind, SeatLedger,
    SeatRef,
};
use crate::session::LiveSeat;

pub(super) async fn eviction_holds_the_machine_and_person_off_until_the_hold_ends(
    ledger: &dyn SeatLedger,
) {
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

pub(super) async fn evict_without_state_initialises_nothing(ledger: &dyn SeatLedger) {
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

pub(super) async fn rebuild_restores_kinds_and_hold_offs(ledger: &dyn SeatLedger) {
    let key = fresh_key();
    let now = Utc::now();
    let hour = now + TimeDelta::hours(1);
    let seat = |i: usize, expires_at, kind| LiveSeat {
        session_id: SessionId::new(),
        hardware_id: hw(i),
        expires_at,
        kind,
        counters: Vec::new(),
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
            AcquireOutcome::TookBack { in_use: 3, lingering: id, .. } if id == lingering.session_id
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
