//! The `SeatLedger` contract for a peek and for the queue's rebuild (ADR 0029, "Record and
//! rebuild"): a peek takes no seat, and answers `Turn` where a poll would be granted; a rebuild
//! restores the tickets on record in their order (priority, then arrival), with their waits,
//! leaves out those whose wait ended, and numbers later arrivals after them.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::{TTL, acquire, fresh_key, initialised, request};
use crate::queue_tickets::QueueTicket;
use crate::seat_ledger::{
    AcquireOutcome, LedgerKey, LiveCount, RebuildOutcome, SeatKind, SeatLedger, SeatRequest,
};
use crate::seat_queue::{QueueMode, QueueRequest};
use crate::session::LiveSeat;

/// Runs the rules below.
pub(super) async fn queue_rebuild_contract(ledger: &dyn SeatLedger) {
    a_peek_takes_no_seat(ledger).await;
    a_rebuild_restores_the_tickets_in_their_order(ledger).await;
}

const POLL: Duration = Duration::from_secs(30);

fn mode(mode: QueueMode) -> QueueRequest {
    QueueRequest { priority: 0, mode }
}

async fn ask(
    ledger: &dyn SeatLedger,
    key: &LedgerKey,
    req: &SeatRequest,
    queue: QueueMode,
) -> AcquireOutcome {
    ledger
        .acquire_queued(key, req, &mode(queue))
        .await
        .unwrap_or_else(|e| panic!("acquire_queued: {e}"))
}

async fn live(ledger: &dyn SeatLedger, key: &LedgerKey) -> u32 {
    match ledger.live_count(key).await {
        Ok(LiveCount::Count(n)) => n,
        other => panic!("live_count: {other:?}"),
    }
}

async fn a_peek_takes_no_seat(ledger: &dyn SeatLedger) {
    let key = initialised(ledger).await;
    let holder = request(100, 1, TTL);
    assert!(matches!(
        acquire(ledger, &key, &holder).await,
        AcquireOutcome::Granted { .. }
    ));
    let waiter = request(1, 1, TTL);
    let join = QueueMode::Join {
        wait: Duration::from_secs(600),
        poll_within: POLL,
        max_length: 10,
    };
    assert!(matches!(
        ask(ledger, &key, &waiter, join).await,
        AcquireOutcome::Queued { position: 1, .. }
    ));
    let peek = QueueMode::Peek { poll_within: POLL };
    assert_eq!(
        ask(ledger, &key, &request(2, 1, TTL), peek).await,
        AcquireOutcome::TicketGone,
        "a peek without a ticket finds none"
    );
    assert!(
        matches!(
            ask(ledger, &key, &waiter, peek).await,
            AcquireOutcome::Queued { position: 1, .. }
        ),
        "a peek while every seat is taken keeps the place"
    );
    ledger
        .release(&key, holder.seat())
        .await
        .unwrap_or_else(|e| panic!("release: {e}"));
    assert_eq!(
        ask(ledger, &key, &waiter, peek).await,
        AcquireOutcome::Turn,
        "the seat is free and the ticket first"
    );
    assert_eq!(live(ledger, &key).await, 0, "a peek takes no seat");
    assert_eq!(
        acquire(ledger, &key, &request(3, 1, TTL)).await,
        AcquireOutcome::Limited(crate::seat_policy::SeatLimit::Queued),
        "the ticket still waits after its peek"
    );
    assert!(matches!(
        ask(ledger, &key, &waiter, QueueMode::Poll { poll_within: POLL }).await,
        AcquireOutcome::Granted { .. }
    ));
}

fn ticket(
    key: &LedgerKey,
    req: &SeatRequest,
    priority: u32,
    arrival: u64,
    wait_until: DateTime<Utc>,
) -> QueueTicket {
    QueueTicket {
        tenant_id: key.tenant_id,
        license_id: key.license_id,
        ticket: req.session_id,
        seat: req.hardware_id.clone(),
        priority,
        arrival,
        joined_at: wait_until - TimeDelta::minutes(10),
        wait_until,
        tally: req.tally.clone(),
    }
}

async fn a_rebuild_restores_the_tickets_in_their_order(ledger: &dyn SeatLedger) {
    let key = fresh_key();
    // Whole seconds: every ledger keeps at least milliseconds.
    let now = Utc::now();
    let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    let later = now + TimeDelta::minutes(10);
    let holder = request(100, 1, TTL);
    let (a, b, c, ended) = (
        request(1, 1, TTL),
        request(2, 1, TTL),
        request(3, 1, TTL),
        request(4, 1, TTL),
    );
    // The store's order: priority, then arrival.
    let tickets = [
        ticket(&key, &ended, 9, 1, now - TimeDelta::seconds(1)),
        ticket(&key, &b, 3, 9, later),
        ticket(&key, &a, 0, 7, later + TimeDelta::minutes(1)),
        ticket(&key, &c, 0, 8, later),
    ];
    let seat = LiveSeat {
        session_id: holder.session_id,
        hardware_id: holder.hardware_id.clone(),
        expires_at: now + TimeDelta::minutes(1),
        kind: SeatKind::Held,
        counters: vec![],
    };
    let rebuilt = ledger
        .rebuild_queued(&key, &[seat], &[], &tickets, POLL)
        .await
        .unwrap_or_else(|e| panic!("rebuild_queued: {e}"));
    assert_eq!(rebuilt, RebuildOutcome::Rebuilt);
    let waiters = ledger
        .queue(&key, 10)
        .await
        .unwrap_or_else(|e| panic!("queue: {e}"));
    let listed: Vec<_> = waiters
        .iter()
        .map(|w| (w.ticket, w.priority, w.wait_until))
        .collect();
    assert_eq!(
        listed,
        vec![
            (b.session_id, 3, later),
            (a.session_id, 0, later + TimeDelta::minutes(1)),
            (c.session_id, 0, later),
        ],
        "restored in their order with their waits, the ended one left out"
    );
    assert!(
        waiters.iter().all(|w| w.poll_by > now),
        "restored tickets are polled anew"
    );
    let join = QueueMode::Join {
        wait: Duration::from_secs(600),
        poll_within: POLL,
        max_length: 10,
    };
    assert!(
        matches!(
            ask(ledger, &key, &request(5, 1, TTL), join).await,
            AcquireOutcome::Queued { position: 4, .. }
        ),
        "a later arrival stands behind the restored tickets"
    );
    assert!(
        matches!(
            ask(ledger, &key, &ended, QueueMode::Poll { poll_within: POLL }).await,
            AcquireOutcome::TicketGone
        ),
        "a ticket whose wait ended is not restored"
    );
}
