//! Queue tickets in the store contract (ADR 0029): recorded, listed in queue order for a
//! rebuild, deleted when their wait ends, and reaped once it has.

use chrono::{DateTime, TimeDelta, Utc};

use super::session_pages::new_license;
use super::store::{assert_not_found, now, ok, tenant};
use crate::error::Resource;
use crate::ids::SessionId;
use crate::license::License;
use crate::queue_tickets::QueueTicket;
use crate::seat_policy::{Cap, Counter, Reserve, SeatLimit, SeatTally};
use crate::session::HardwareId;
use crate::store::Store;

fn ticket(
    l: &License,
    hw: &str,
    priority: u32,
    arrival: u64,
    wait_until: DateTime<Utc>,
) -> QueueTicket {
    QueueTicket {
        tenant_id: l.tenant_id,
        license_id: l.id,
        ticket: SessionId::new(),
        seat: ok(HardwareId::parse(hw), "hw"),
        priority,
        arrival,
        joined_at: now(),
        wait_until,
        tally: SeatTally::default(),
    }
}

fn ids(tickets: &[QueueTicket]) -> Vec<SessionId> {
    tickets.iter().map(|t| t.ticket).collect()
}

/// Runs every queue-ticket check.
pub(super) async fn queue_tickets(store: &dyn Store) {
    let t = tenant(store, "queue tickets").await;
    let l = new_license(store, t.id, "QUEUE-TICKETS").await;
    let other = new_license(store, t.id, "QUEUE-TICKETS-2").await;
    let at = now();
    let later = at + TimeDelta::minutes(10);

    // Every field survives, the tally included.
    let eng = Counter::group("eng");
    let mut first = ticket(&l, "pc-1", 0, 1, later);
    first.tally = SeatTally {
        counters: vec![eng.clone(), Counter::user("ada@acme.com")],
        caps: vec![Cap {
            counter: eng.clone(),
            max: 2,
            limit: SeatLimit::GroupMax,
        }],
        reserves: vec![Reserve {
            counter: eng,
            seats: 1,
            member: true,
        }],
    };
    ok(store.record_ticket(&first).await, "record_ticket");
    let listed = ok(store.live_tickets(t.id, l.id, at).await, "live_tickets");
    assert_eq!(
        listed,
        vec![first.clone()],
        "a recorded ticket reads back as recorded"
    );

    // Queue order: priority highest first, then arrival; ended waits and other licenses left out.
    let second = ticket(&l, "pc-2", 0, 2, later);
    let urgent = ticket(&l, "pc-3", 5, 7, later);
    let over = ticket(&l, "pc-4", 9, 0, at);
    let elsewhere = ticket(&other, "pc-5", 0, 1, later);
    for t in [&second, &urgent, &over, &elsewhere] {
        ok(store.record_ticket(t).await, "record_ticket");
    }
    let listed = ok(store.live_tickets(t.id, l.id, at).await, "live_tickets");
    assert_eq!(
        ids(&listed),
        vec![urgent.ticket, first.ticket, second.ticket],
        "live tickets come by priority, then arrival, and only those still waiting"
    );

    // Recording again replaces (a retried join).
    let moved = QueueTicket {
        arrival: 3,
        ..first.clone()
    };
    ok(store.record_ticket(&moved).await, "record_ticket again");
    let listed = ok(store.live_tickets(t.id, l.id, at).await, "live_tickets");
    assert_eq!(
        ids(&listed),
        vec![urgent.ticket, second.ticket, first.ticket],
        "recording a ticket again replaces it"
    );

    // Another tenant neither records on this license nor sees or deletes its tickets.
    let stranger = tenant(store, "queue stranger").await;
    let foreign = QueueTicket {
        tenant_id: stranger.id,
        ..ticket(&l, "pc-9", 0, 1, later)
    };
    assert_not_found(
        store.record_ticket(&foreign).await,
        Resource::License,
        "record_ticket on another tenant's license",
    );
    assert!(
        ok(
            store.live_tickets(stranger.id, l.id, at).await,
            "live_tickets"
        )
        .is_empty(),
        "another tenant sees no tickets"
    );
    assert!(
        !ok(
            store.delete_ticket(stranger.id, second.ticket).await,
            "delete_ticket"
        ),
        "another tenant cannot delete a ticket"
    );

    // Deleting: once true, then false.
    assert!(ok(
        store.delete_ticket(t.id, second.ticket).await,
        "delete_ticket"
    ));
    assert!(
        !ok(
            store.delete_ticket(t.id, second.ticket).await,
            "delete_ticket again"
        ),
        "deleting a ticket twice is not an error, and says it was gone"
    );

    // Reaping: only tickets whose wait ended, at most `limit` a call.
    let gone = ticket(&l, "pc-6", 0, 9, at - TimeDelta::seconds(1));
    ok(store.record_ticket(&gone).await, "record_ticket");
    let reaped = ok(
        store.delete_expired_tickets(t.id, at, 1).await,
        "delete_expired_tickets",
    );
    assert_eq!(reaped, 1, "at most `limit` tickets a call");
    let reaped = ok(
        store.delete_expired_tickets(t.id, at, 100).await,
        "delete_expired_tickets",
    );
    assert_eq!(reaped, 1, "the other ended wait goes next");
    assert_eq!(
        ok(
            store.delete_expired_tickets(t.id, at, 100).await,
            "delete_expired_tickets"
        ),
        0,
        "live tickets are never reaped"
    );
    let listed = ok(store.live_tickets(t.id, l.id, at).await, "live_tickets");
    assert_eq!(ids(&listed), vec![urgent.ticket, first.ticket]);
    let elsewhere_listed = ok(store.live_tickets(t.id, other.id, at).await, "live_tickets");
    assert_eq!(ids(&elsewhere_listed), vec![elsewhere.ticket]);
}
