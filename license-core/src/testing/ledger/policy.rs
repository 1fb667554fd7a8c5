//! The `SeatLedger` contract for seat policies (ADR 0026): caps and reserves checked with the
//! grant, every end of a seat taking its counters off, concurrency, and the rebuild restoring
//! the counts. Both ledgers must agree with `SeatTally::check`.

use super::kinds::{evict, release};
use super::{TTL, acquire, fresh_key, initialised, request};
use crate::seat_ledger::{AcquireOutcome, Hold, RebuildOutcome, SeatLedger, SeatRequest};
use crate::seat_policy::{Cap, Counter, Reserve, SeatLimit, SeatTally};
use crate::session::LiveSeat;
use crate::{SeatKind, SessionId};

fn eng() -> Counter {
    Counter::group("eng")
}

/// A member of `eng` (at most `max` of them), with `reserve` seats kept for `eng`.
fn member(i: usize, limit: u32, max: u32, reserve: u32) -> SeatRequest {
    SeatRequest {
        tally: SeatTally {
            counters: vec![eng()],
            caps: vec![Cap {
                counter: eng(),
                max,
                limit: SeatLimit::GroupMax,
            }],
            reserves: vec![Reserve {
                counter: eng(),
                seats: reserve,
                member: true,
            }],
        },
        ..request(i, limit, TTL)
    }
}

/// Someone outside `eng`, with `reserve` seats kept for `eng`.
fn outsider(i: usize, limit: u32, reserve: u32) -> SeatRequest {
    SeatRequest {
        tally: SeatTally {
            counters: vec![],
            caps: vec![],
            reserves: vec![Reserve {
                counter: eng(),
                seats: reserve,
                member: false,
            }],
        },
        ..request(i, limit, TTL)
    }
}

fn granted(outcome: &AcquireOutcome) -> bool {
    matches!(outcome, AcquireOutcome::Granted { .. })
}

/// Runs the rules below.
pub(super) async fn policy_contract(ledger: &dyn SeatLedger) {
    reserves_and_caps_hold_and_ends_give_counts_back(ledger).await;
    concurrent_members_never_pass_their_cap(ledger).await;
    rebuild_restores_the_counts(ledger).await;
}

async fn reserves_and_caps_hold_and_ends_give_counts_back(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    // 4 seats, 2 reserved for eng, eng capped at 3.
    let zero = outsider(0, 4, 2);
    assert!(granted(&acquire(ledger, &key, &zero).await));
    assert!(granted(&acquire(ledger, &key, &outsider(1, 4, 2)).await));
    assert_eq!(
        acquire(ledger, &key, &outsider(2, 4, 2)).await,
        AcquireOutcome::Limited(SeatLimit::ReservedForOthers),
        "the reserve is kept from outsiders"
    );
    let first = member(3, 4, 3, 2);
    assert!(
        granted(&acquire(ledger, &key, &first).await),
        "members take the reserve"
    );
    let second = member(4, 4, 3, 2);
    assert!(granted(&acquire(ledger, &key, &second).await));
    assert_eq!(
        acquire(ledger, &key, &member(5, 4, 3, 2)).await,
        AcquireOutcome::NoSeats,
        "every seat taken says so first"
    );
    // A release gives the count back: an outsider may take the freed seat only while eng
    // still holds its reserve.
    release(ledger, &key, first.seat()).await;
    assert_eq!(
        acquire(ledger, &key, &outsider(2, 4, 2)).await,
        AcquireOutcome::Limited(SeatLimit::ReservedForOthers)
    );
    let third = member(3, 4, 2, 2);
    assert!(granted(&acquire(ledger, &key, &third).await));
    // The cap counts live members only: eng holds 2, a cap of 2 refuses the next member.
    release(ledger, &key, zero.seat()).await;
    assert_eq!(
        acquire(ledger, &key, &member(6, 4, 2, 2)).await,
        AcquireOutcome::Limited(SeatLimit::GroupMax)
    );
    // An eviction gives the count back too.
    let hold = Hold {
        user: None,
        duration: std::time::Duration::ZERO,
        reason: "policy contract".into(),
    };
    evict(ledger, &key, second.seat(), &hold).await;
    assert!(granted(&acquire(ledger, &key, &member(6, 4, 2, 2)).await));
}

async fn concurrent_members_never_pass_their_cap(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let requests: Vec<SeatRequest> = (0..12).map(|i| member(i, 50, 3, 0)).collect();
    let outcomes =
        futures::future::join_all(requests.iter().map(|r| acquire(ledger, &key, r))).await;
    let grants = outcomes.iter().filter(|o| granted(o)).count();
    assert_eq!(grants, 3, "concurrent members past the cap: {outcomes:?}");
    assert!(
        outcomes
            .iter()
            .filter(|o| !granted(o))
            .all(|o| *o == AcquireOutcome::Limited(SeatLimit::GroupMax)),
        "{outcomes:?}"
    );
}

async fn rebuild_restores_the_counts(ledger: &dyn SeatLedger) {
    let key = fresh_key();
    let expires_at = chrono::Utc::now() + chrono::TimeDelta::minutes(10);
    let seats: Vec<LiveSeat> = (0..2)
        .map(|i| LiveSeat {
            session_id: SessionId::new(),
            hardware_id: request(i, 5, TTL).hardware_id,
            expires_at,
            kind: SeatKind::Held,
            counters: vec![eng()],
        })
        .collect();
    let rebuilt = ledger.rebuild(&key, &seats, &[]).await;
    assert!(
        matches!(rebuilt, Ok(RebuildOutcome::Rebuilt)),
        "{rebuilt:?}"
    );
    assert_eq!(
        acquire(ledger, &key, &member(2, 5, 2, 0)).await,
        AcquireOutcome::Limited(SeatLimit::GroupMax),
        "the rebuilt seats count for their group"
    );
    assert!(granted(&acquire(ledger, &key, &outsider(3, 5, 0)).await));
}
