//! The `SeatLedger` contract for the seat queue (ADR 0029): tickets in priority-then-arrival
//! order, each judged by its own tally; nobody granted a seat that a live ticket ahead could
//! take; tickets dropped when not polled in time, when their wait ends, when they leave, when
//! their asker is held off or holds a seat. A take-back of a lingering seat the policy refuses
//! waits like any refused asker.

use std::time::Duration;

use super::kinds::linger;
use super::{TTL, acquire, initialised, request, tokio_free_sleep};
use crate::seat_ledger::{AcquireOutcome, Hold, LedgerKey, SeatLedger, SeatRequest};
use crate::seat_policy::{Cap, Counter, SeatLimit, SeatTally};
use crate::seat_queue::{QueueMode, QueueRequest};

/// Runs the rules below.
pub(super) async fn queue_contract(ledger: &dyn SeatLedger) {
    tickets_are_served_in_arrival_order(ledger).await;
    priority_comes_before_arrival(ledger).await;
    free_seats_beyond_the_queue_go_to_anyone(ledger).await;
    a_ticket_that_cannot_take_a_seat_holds_up_nobody(ledger).await;
    a_ticket_not_polled_in_time_is_dropped(ledger).await;
    a_ticket_whose_wait_ended_is_dropped(ledger).await;
    leaving_ends_the_wait(ledger).await;
    a_full_queue_takes_no_more_tickets(ledger).await;
    a_held_off_or_seated_asker_leaves_the_queue(ledger).await;
    a_ticket_answers_only_its_machine(ledger).await;
    a_refused_take_back_waits(ledger).await;
}

const POLL: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(600);

fn join(priority: u32) -> QueueRequest {
    QueueRequest {
        priority,
        mode: QueueMode::Join {
            wait: WAIT,
            poll_within: POLL,
            max_length: 1_000,
        },
    }
}

fn poll() -> QueueRequest {
    QueueRequest {
        priority: 0,
        mode: QueueMode::Poll { poll_within: POLL },
    }
}

async fn ask(
    ledger: &dyn SeatLedger,
    key: &LedgerKey,
    req: &SeatRequest,
    queue: QueueRequest,
) -> AcquireOutcome {
    ledger
        .acquire_queued(key, req, &queue)
        .await
        .unwrap_or_else(|e| panic!("acquire_queued: {e}"))
}

/// The position a queued answer gives, or a panic naming `who`.
fn position(outcome: AcquireOutcome, who: &str) -> u32 {
    match outcome {
        AcquireOutcome::Queued { position, .. } => position,
        other => panic!("{who} should wait in the queue: {other:?}"),
    }
}

fn granted(outcome: &AcquireOutcome) -> bool {
    matches!(outcome, AcquireOutcome::Granted { .. })
}

/// A key with `limit` seats, all taken; the holders' requests returned.
async fn full(ledger: &dyn SeatLedger, limit: u32) -> (LedgerKey, Vec<SeatRequest>) {
    let key = initialised(ledger).await;
    let holders: Vec<SeatRequest> = (0..limit as usize)
        .map(|i| request(100 + i, limit, TTL))
        .collect();
    for holder in &holders {
        assert!(granted(&acquire(ledger, &key, holder).await));
    }
    (key, holders)
}

async fn release(ledger: &dyn SeatLedger, key: &LedgerKey, req: &SeatRequest) {
    ledger
        .release(key, req.seat())
        .await
        .unwrap_or_else(|e| panic!("release: {e}"));
}

async fn tickets_are_served_in_arrival_order(ledger: &dyn SeatLedger) {
    let (key, holders) = full(ledger, 1).await;
    let (b, c, d) = (request(1, 1, TTL), request(2, 1, TTL), request(3, 1, TTL));
    assert_eq!(position(ask(ledger, &key, &b, join(0)).await, "b"), 1);
    assert_eq!(position(ask(ledger, &key, &c, join(0)).await, "c"), 2);
    // Every seat taken: a plain acquire is refused for that, not for the queue.
    assert_eq!(acquire(ledger, &key, &d).await, AcquireOutcome::NoSeats);
    assert_eq!(position(ask(ledger, &key, &c, poll()).await, "c"), 2);
    release(ledger, &key, &holders[0]).await;
    // The seat is free, but b and c wait for it.
    assert_eq!(
        acquire(ledger, &key, &d).await,
        AcquireOutcome::Limited(SeatLimit::Queued),
        "a plain acquire behind the queue"
    );
    assert_eq!(
        position(ask(ledger, &key, &c, poll()).await, "c behind b"),
        2
    );
    assert!(granted(&ask(ledger, &key, &b, poll()).await), "b's turn");
    assert_eq!(position(ask(ledger, &key, &c, poll()).await, "c next"), 1);
    release(ledger, &key, &b).await;
    assert!(granted(&ask(ledger, &key, &c, poll()).await), "c's turn");
    // Its ticket ended with the grant: a poll now finds none.
    release(ledger, &key, &c).await;
    assert_eq!(
        ask(ledger, &key, &c, poll()).await,
        AcquireOutcome::TicketGone
    );
    assert!(
        granted(&acquire(ledger, &key, &d).await),
        "the queue is empty"
    );
}

async fn priority_comes_before_arrival(ledger: &dyn SeatLedger) {
    let (key, holders) = full(ledger, 1).await;
    let (low, high) = (request(1, 1, TTL), request(2, 1, TTL));
    assert_eq!(position(ask(ledger, &key, &low, join(0)).await, "low"), 1);
    assert_eq!(position(ask(ledger, &key, &high, join(5)).await, "high"), 1);
    assert_eq!(position(ask(ledger, &key, &low, poll()).await, "low"), 2);
    let listed = ledger
        .queue(&key, 10)
        .await
        .unwrap_or_else(|e| panic!("queue: {e}"));
    let order: Vec<_> = listed
        .iter()
        .map(|w| (w.ticket, w.hardware_id.clone(), w.priority))
        .collect();
    assert_eq!(
        order,
        [
            (high.session_id, high.hardware_id.clone(), 5),
            (low.session_id, low.hardware_id.clone(), 0)
        ],
        "the queue as an administrator sees it"
    );
    assert!(listed.iter().all(|w| w.poll_by <= w.wait_until));
    assert_eq!(ledger.queue(&key, 1).await.map(|l| l.len()).ok(), Some(1));
    release(ledger, &key, &holders[0]).await;
    assert_eq!(position(ask(ledger, &key, &low, poll()).await, "low"), 2);
    // A plain acquire of a higher priority than every ticket passes them all.
    let urgent = request(3, 1, TTL);
    assert!(granted(
        &ask(ledger, &key, &urgent, QueueRequest::pass(9)).await
    ));
    release(ledger, &key, &urgent).await;
    // One of the same priority as `high` stands behind it.
    assert_eq!(
        ask(ledger, &key, &urgent, QueueRequest::pass(5)).await,
        AcquireOutcome::Limited(SeatLimit::Queued)
    );
    assert!(granted(&ask(ledger, &key, &high, poll()).await));
}

async fn free_seats_beyond_the_queue_go_to_anyone(ledger: &dyn SeatLedger) {
    let (key, holders) = full(ledger, 2).await;
    let waiter = request(1, 2, TTL);
    assert_eq!(position(ask(ledger, &key, &waiter, join(0)).await, "w"), 1);
    for holder in &holders {
        release(ledger, &key, holder).await;
    }
    // Two free seats, one ticket: one seat is left for a plain acquire.
    assert!(granted(&acquire(ledger, &key, &request(2, 2, TTL)).await));
    assert_eq!(
        acquire(ledger, &key, &request(3, 2, TTL)).await,
        AcquireOutcome::Limited(SeatLimit::Queued)
    );
    assert!(granted(&ask(ledger, &key, &waiter, poll()).await));
    // A join with a seat free for it is a grant, no ticket.
    let key = initialised(ledger).await;
    assert!(granted(
        &ask(ledger, &key, &request(4, 1, TTL), join(0)).await
    ));
}

async fn a_ticket_that_cannot_take_a_seat_holds_up_nobody(ledger: &dyn SeatLedger) {
    let eng = Counter::group("eng");
    let member = |i: usize| SeatRequest {
        tally: SeatTally {
            counters: vec![eng.clone()],
            caps: vec![Cap {
                counter: eng.clone(),
                max: 1,
                limit: SeatLimit::GroupMax,
            }],
            reserves: vec![],
        },
        ..request(i, 2, TTL)
    };
    let key = initialised(ledger).await;
    let (seated, other) = (member(1), request(2, 2, TTL));
    assert!(granted(&acquire(ledger, &key, &seated).await));
    assert!(granted(&acquire(ledger, &key, &other).await));
    let blocked = member(3);
    assert_eq!(
        position(ask(ledger, &key, &blocked, join(0)).await, "eng"),
        1
    );
    release(ledger, &key, &other).await;
    // The ticket's own cap keeps it from the free seat: it is no reason to refuse others.
    assert_eq!(
        position(ask(ledger, &key, &blocked, poll()).await, "eng at its cap"),
        1
    );
    assert!(granted(&acquire(ledger, &key, &request(4, 2, TTL)).await));
}

async fn a_ticket_not_polled_in_time_is_dropped(ledger: &dyn SeatLedger) {
    let (key, holders) = full(ledger, 1).await;
    let waiter = request(1, 1, TTL);
    let short = QueueRequest {
        priority: 0,
        mode: QueueMode::Join {
            wait: WAIT,
            poll_within: Duration::from_millis(300),
            max_length: 10,
        },
    };
    assert_eq!(position(ask(ledger, &key, &waiter, short).await, "w"), 1);
    tokio_free_sleep(Duration::from_millis(500)).await;
    release(ledger, &key, &holders[0]).await;
    // The zombie waiter holds up nobody.
    assert!(granted(&acquire(ledger, &key, &request(2, 1, TTL)).await));
    assert_eq!(
        ask(ledger, &key, &waiter, poll()).await,
        AcquireOutcome::TicketGone
    );
}

async fn a_ticket_whose_wait_ended_is_dropped(ledger: &dyn SeatLedger) {
    let (key, holders) = full(ledger, 1).await;
    let waiter = request(1, 1, TTL);
    let brief = QueueRequest {
        priority: 0,
        mode: QueueMode::Join {
            wait: Duration::from_millis(300),
            poll_within: POLL,
            max_length: 10,
        },
    };
    match ask(ledger, &key, &waiter, brief).await {
        AcquireOutcome::Queued { wait_until, .. } => {
            assert!(wait_until <= chrono::Utc::now() + chrono::TimeDelta::seconds(5));
        }
        other => panic!("should wait: {other:?}"),
    }
    tokio_free_sleep(Duration::from_millis(500)).await;
    assert_eq!(
        ask(ledger, &key, &waiter, poll()).await,
        AcquireOutcome::TicketGone
    );
    release(ledger, &key, &holders[0]).await;
    assert!(granted(&acquire(ledger, &key, &request(2, 1, TTL)).await));
}

async fn leaving_ends_the_wait(ledger: &dyn SeatLedger) {
    let (key, holders) = full(ledger, 1).await;
    let waiter = request(1, 1, TTL);
    assert_eq!(position(ask(ledger, &key, &waiter, join(0)).await, "w"), 1);
    let left = |id| async move {
        ledger
            .leave(&key, id)
            .await
            .unwrap_or_else(|e| panic!("leave: {e}"))
    };
    assert!(left(waiter.session_id).await, "it waited");
    assert!(!left(waiter.session_id).await, "it waits no more");
    assert_eq!(
        ask(ledger, &key, &waiter, poll()).await,
        AcquireOutcome::TicketGone
    );
    release(ledger, &key, &holders[0]).await;
    assert!(granted(&acquire(ledger, &key, &request(2, 1, TTL)).await));
}

async fn a_full_queue_takes_no_more_tickets(ledger: &dyn SeatLedger) {
    let (key, _) = full(ledger, 1).await;
    let two = |priority| QueueRequest {
        priority,
        mode: QueueMode::Join {
            wait: WAIT,
            poll_within: POLL,
            max_length: 2,
        },
    };
    let (a, b, c) = (request(1, 1, TTL), request(2, 1, TTL), request(3, 1, TTL));
    assert_eq!(position(ask(ledger, &key, &a, two(0)).await, "a"), 1);
    assert_eq!(position(ask(ledger, &key, &b, two(0)).await, "b"), 2);
    assert_eq!(
        ask(ledger, &key, &c, two(9)).await,
        AcquireOutcome::QueueFull
    );
    // A ticket already in keeps its place however full the queue is.
    assert_eq!(position(ask(ledger, &key, &b, two(0)).await, "b again"), 2);
}

async fn a_held_off_or_seated_asker_leaves_the_queue(ledger: &dyn SeatLedger) {
    let (key, holders) = full(ledger, 1).await;
    let (evicted, seated) = (request(1, 1, TTL), request(2, 1, TTL));
    assert_eq!(position(ask(ledger, &key, &evicted, join(0)).await, "e"), 1);
    assert_eq!(position(ask(ledger, &key, &seated, join(0)).await, "s"), 2);
    let hold = Hold {
        user: None,
        duration: Duration::from_secs(60),
        reason: "policy".into(),
    };
    ledger
        .evict(&key, evicted.seat(), &hold)
        .await
        .unwrap_or_else(|e| panic!("evict: {e}"));
    assert!(matches!(
        ask(ledger, &key, &evicted, poll()).await,
        AcquireOutcome::Evicted { .. }
    ));
    // Its machine's own seat (another process of it holds one): the ticket ends with it.
    let holder = &holders[0];
    let same_machine = SeatRequest {
        hardware_id: holder.hardware_id.clone(),
        ..seated.clone()
    };
    assert!(matches!(
        ask(ledger, &key, &same_machine, poll()).await,
        AcquireOutcome::AlreadyHeld { .. }
    ));
    release(ledger, &key, holder).await;
    // Neither ticket is left to stand in the way.
    assert!(granted(&acquire(ledger, &key, &request(3, 1, TTL)).await));
}

async fn a_ticket_answers_only_its_machine(ledger: &dyn SeatLedger) {
    let (key, holders) = full(ledger, 1).await;
    let waiter = request(1, 1, TTL);
    assert_eq!(position(ask(ledger, &key, &waiter, join(0)).await, "w"), 1);
    release(ledger, &key, &holders[0]).await;
    // Another machine presenting the ticket gets nothing from it.
    let thief = SeatRequest {
        session_id: waiter.session_id,
        ..request(2, 1, TTL)
    };
    assert_eq!(
        ask(ledger, &key, &thief, poll()).await,
        AcquireOutcome::TicketGone
    );
    assert!(granted(&ask(ledger, &key, &waiter, poll()).await));
}

async fn a_refused_take_back_waits(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let mine = request(1, 2, TTL);
    assert!(granted(&acquire(ledger, &key, &mine).await));
    assert!(linger(ledger, &key, mine.seat(), TTL).await);
    // Back on a host the policy allows no seat: the take-back is refused, or waits.
    let capped = SeatRequest {
        session_id: crate::SessionId::new(),
        tally: SeatTally {
            counters: vec![],
            caps: vec![Cap {
                counter: Counter::host("hb"),
                max: 0,
                limit: SeatLimit::HostMax,
            }],
            reserves: vec![],
        },
        ..mine.clone()
    };
    assert_eq!(
        acquire(ledger, &key, &capped).await,
        AcquireOutcome::Limited(SeatLimit::HostMax),
        "a plain take-back is refused"
    );
    assert_eq!(
        ask(ledger, &key, &capped, poll()).await,
        AcquireOutcome::TicketGone,
        "no ticket to poll"
    );
    assert_eq!(
        position(ask(ledger, &key, &capped, join(0)).await, "take-back"),
        1
    );
    assert_eq!(
        position(ask(ledger, &key, &capped, poll()).await, "again"),
        1
    );
    // The limit lets it: its lingering seat is taken back, and its ticket ends.
    let allowed = SeatRequest {
        tally: SeatTally::default(),
        ..capped.clone()
    };
    assert!(matches!(
        ask(ledger, &key, &allowed, poll()).await,
        AcquireOutcome::TookBack { .. }
    ));
    let listed = ledger
        .queue(&key, 10)
        .await
        .unwrap_or_else(|e| panic!("queue: {e}"));
    assert!(
        listed.is_empty(),
        "the ticket ended with the seat: {listed:?}"
    );
}
