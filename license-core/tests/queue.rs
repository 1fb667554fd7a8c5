//! Waiting for a seat through the use cases (ADR 0029), on the in-memory adapters with a
//! manual clock: tickets, positions, the turn of the first in line, priority from the policy,
//! lost tickets, a full queue, leaving. The same runs over HTTP on PostgreSQL and Redis in
//! license-server's tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::*;

struct World {
    clock: ManualClock,
    store: Arc<MemoryStore>,
    ledger: Arc<MemoryLedger>,
    service: LicenseService,
    admin: AdminService,
    tenant: Tenant,
}

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

async fn world() -> World {
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::default());
    let ledger = Arc::new(MemoryLedger::new(Arc::new(clock.clone())));
    let signer = Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap());
    let service = LicenseService::new(
        store.clone(),
        ledger.clone(),
        signer,
        Arc::new(clock.clone()),
        "test",
    );
    let admin = AdminService::new(store.clone(), Arc::new(clock.clone()));
    let tenant = admin.create_tenant("Acme", &Actor::Operator).await.unwrap();
    World {
        clock,
        store,
        ledger,
        service,
        admin,
        tenant,
    }
}

fn queueing(max_wait_seconds: u32, max_queue_length: Option<u32>) -> SeatRules {
    SeatRules {
        max_wait_seconds,
        max_queue_length,
        ..SeatRules::default()
    }
}

fn applicant(machine: &str) -> Applicant {
    let mut applicant = Applicant::machine(HardwareId::parse(machine).unwrap(), None);
    applicant.host_name = Some(HostName::parse(machine).unwrap());
    applicant
}

impl World {
    async fn license(&self, seats: u32, rules: SeatRules, policy: SeatPolicy) -> License {
        let mut new = NewLicense::new("CAD", SeatCount::new(seats).unwrap());
        new.rules = rules;
        new.policy = policy;
        self.admin
            .create_license(self.tenant.id, new, &Actor::Operator)
            .await
            .unwrap()
    }

    async fn ask(
        &self,
        license: &License,
        machine: &str,
        seconds: u32,
        ticket: Option<SessionId>,
    ) -> Result<Acquired> {
        self.service
            .acquire_waiting(
                self.tenant.id,
                &Actor::System,
                &license.key,
                &applicant(machine),
                SeatWait { seconds, ticket },
            )
            .await
    }

    /// Joins and answers the place, or panics.
    async fn join(&self, license: &License, machine: &str) -> QueuePlace {
        match self.ask(license, machine, 600, None).await.unwrap() {
            Acquired::Waiting(place) => place,
            Acquired::Lease(lease) => panic!("{machine} was seated: {:?}", lease.session.id),
        }
    }

    async fn poll(&self, license: &License, machine: &str, ticket: SessionId) -> Result<Acquired> {
        self.ask(license, machine, 0, Some(ticket)).await
    }

    async fn release(&self, session: SessionId) {
        self.service
            .release(self.tenant.id, session, &Caller::new(Actor::System))
            .await
            .unwrap();
    }
}

fn position(answer: Result<Acquired>) -> u32 {
    match answer {
        Ok(Acquired::Waiting(place)) => place.position,
        other => panic!("should wait: {other:?}"),
    }
}

fn seated(answer: Result<Acquired>) -> Lease {
    match answer {
        Ok(Acquired::Lease(lease)) => *lease,
        other => panic!("should be seated: {other:?}"),
    }
}

#[tokio::test]
async fn waiters_get_freed_seats_in_arrival_order_as_their_tickets_sessions() {
    let w = world().await;
    let license = w
        .license(1, queueing(600, None), SeatPolicy::default())
        .await;
    let first = seated(w.ask(&license, "pc-1", 600, None).await);
    let b = w.join(&license, "pc-2").await;
    let c = w.join(&license, "pc-3").await;
    assert_eq!((b.position, c.position), (1, 2));
    assert!(b.poll_after < b.poll_within);
    assert_eq!(b.wait_until, start() + TimeDelta::seconds(600));
    // Without a wait, the queue answers as a refusal naming it.
    w.release(first.session.id).await;
    match w.ask(&license, "pc-4", 0, None).await {
        Err(Error::NoSeatsAvailable { reached, .. }) => assert_eq!(reached, SeatLimit::Queued),
        other => panic!("a plain acquire behind the queue: {other:?}"),
    }
    assert_eq!(position(w.poll(&license, "pc-3", c.ticket).await), 2);
    let lease = seated(w.poll(&license, "pc-2", b.ticket).await);
    assert_eq!(lease.session.id, b.ticket, "the ticket becomes the session");
    assert!(lease.new_seat);
    assert_eq!(position(w.poll(&license, "pc-3", c.ticket).await), 1);
    w.release(lease.session.id).await;
    assert_eq!(
        seated(w.poll(&license, "pc-3", c.ticket).await).session.id,
        c.ticket
    );
}

#[tokio::test]
async fn the_policys_priority_puts_a_group_first() {
    let w = world().await;
    let policy = SeatPolicy {
        groups: vec![SeatGroup::new("ops", vec![Member::Host("pager".into())])],
        rules: vec![PolicyRule::Priority {
            level: 10,
            group: "ops".into(),
        }],
    };
    let license = w.license(1, queueing(600, None), policy).await;
    let first = seated(w.ask(&license, "pc-1", 600, None).await);
    let early = w.join(&license, "pc-2").await;
    let urgent = w.join(&license, "pager").await;
    assert_eq!(urgent.position, 1, "priority before arrival");
    assert_eq!(position(w.poll(&license, "pc-2", early.ticket).await), 2);
    w.release(first.session.id).await;
    assert_eq!(position(w.poll(&license, "pc-2", early.ticket).await), 2);
    seated(w.poll(&license, "pager", urgent.ticket).await);
}

#[tokio::test]
async fn a_ticket_not_polled_in_time_or_past_its_wait_is_gone() {
    let w = world().await;
    let license = w
        .license(1, queueing(60, None), SeatPolicy::default())
        .await;
    seated(w.ask(&license, "pc-1", 0, None).await);
    // Asked for longer than the license allows: cut to its 60 s.
    let place = match w.ask(&license, "pc-2", 3_600, None).await.unwrap() {
        Acquired::Waiting(place) => place,
        Acquired::Lease(_) => panic!("seated"),
    };
    assert_eq!(place.wait_until, start() + TimeDelta::seconds(60));
    w.clock.advance(TimeDelta::seconds(16));
    assert!(matches!(
        w.poll(&license, "pc-2", place.ticket).await,
        Err(Error::TicketGone)
    ));
    let again = w.join(&license, "pc-2").await;
    for _ in 0..4 {
        w.clock.advance(TimeDelta::seconds(14));
        position(w.poll(&license, "pc-2", again.ticket).await);
    }
    w.clock.advance(TimeDelta::seconds(5));
    let gone = w.poll(&license, "pc-2", again.ticket).await;
    assert!(matches!(gone, Err(Error::TicketGone)), "{gone:?}");
}

#[tokio::test]
async fn a_full_queue_refuses_and_leaving_frees_a_place() {
    let w = world().await;
    let license = w
        .license(1, queueing(600, Some(1)), SeatPolicy::default())
        .await;
    seated(w.ask(&license, "pc-1", 0, None).await);
    let waiting = w.join(&license, "pc-2").await;
    match w.ask(&license, "pc-3", 600, None).await {
        Err(Error::NoSeatsAvailable { reached, .. }) => {
            assert_eq!(reached, SeatLimit::QueueFull)
        }
        other => panic!("a full queue: {other:?}"),
    }
    let left = w
        .service
        .leave_queue(w.tenant.id, &license.key, waiting.ticket)
        .await
        .unwrap();
    assert!(left);
    assert!(matches!(
        w.poll(&license, "pc-2", waiting.ticket).await,
        Err(Error::TicketGone)
    ));
    assert_eq!(w.join(&license, "pc-3").await.position, 1);
}

#[tokio::test]
async fn a_license_without_a_queue_refuses_at_once() {
    let w = world().await;
    let license = w
        .license(1, SeatRules::default(), SeatPolicy::default())
        .await;
    seated(w.ask(&license, "pc-1", 600, None).await);
    match w.ask(&license, "pc-2", 600, None).await {
        Err(Error::NoSeatsAvailable { reached, .. }) => assert_eq!(reached, SeatLimit::Seats),
        other => panic!("no queue: {other:?}"),
    }
}

#[tokio::test]
async fn a_ledger_that_lost_its_state_gives_every_waiter_its_place_back() {
    let w = world().await;
    let license = w
        .license(1, queueing(600, None), SeatPolicy::default())
        .await;
    let first = seated(w.ask(&license, "pc-1", 600, None).await);
    let b = w.join(&license, "pc-2").await;
    let c = w.join(&license, "pc-3").await;
    let d = w.join(&license, "pc-4").await;
    // Past the poll window of the outage's start: a restored ticket is polled anew.
    w.clock.advance(TimeDelta::seconds(10));
    w.ledger.lose_state();
    w.clock.advance(TimeDelta::seconds(10));
    assert_eq!(position(w.poll(&license, "pc-4", d.ticket).await), 3);
    assert_eq!(position(w.poll(&license, "pc-3", c.ticket).await), 2);
    assert_eq!(position(w.poll(&license, "pc-2", b.ticket).await), 1);
    // A join after the rebuild stands behind them.
    assert_eq!(w.join(&license, "pc-5").await.position, 4);
    w.release(first.session.id).await;
    assert_eq!(position(w.poll(&license, "pc-3", c.ticket).await), 2);
    let lease = seated(w.poll(&license, "pc-2", b.ticket).await);
    assert_eq!(lease.session.id, b.ticket);
    // Granted, the ticket's record is gone: another loss does not bring it back.
    w.ledger.lose_state();
    assert_eq!(position(w.poll(&license, "pc-3", c.ticket).await), 1);
    let live = w
        .store
        .live_tickets(w.tenant.id, license.id, w.clock.now())
        .await
        .unwrap();
    let order: Vec<SessionId> = live.iter().map(|t| t.ticket).collect();
    assert_eq!(order, vec![c.ticket, d.ticket, order[2]]);
}

#[tokio::test]
async fn a_poll_that_stays_queued_writes_no_session() {
    let w = world().await;
    let license = w
        .license(1, queueing(600, None), SeatPolicy::default())
        .await;
    seated(w.ask(&license, "pc-1", 600, None).await);
    let b = w.join(&license, "pc-2").await;
    // Were a poll to record a session and delete it again, this would leave it behind (and
    // the next poll would clash with it).
    w.store.set_discards_fail(true);
    for _ in 0..3 {
        assert_eq!(position(w.poll(&license, "pc-2", b.ticket).await), 1);
    }
    let live = w
        .store
        .live_sessions(w.tenant.id, license.id, w.clock.now())
        .await
        .unwrap();
    assert_eq!(live.len(), 1, "only the seat's session: {live:?}");
}

#[tokio::test]
async fn leaving_and_a_lost_ticket_delete_the_record_and_the_reaper_deletes_ended_waits() {
    let w = world().await;
    let license = w
        .license(1, queueing(60, None), SeatPolicy::default())
        .await;
    seated(w.ask(&license, "pc-1", 600, None).await);
    let b = w.join(&license, "pc-2").await;
    let c = w.join(&license, "pc-3").await;
    // Dropped unpolled below: its record stays until its wait ends.
    w.join(&license, "pc-4").await;
    let recorded = |w: &World| {
        let now = w.clock.now();
        let store = w.store.clone();
        let id = license.id;
        let tenant = w.tenant.id;
        async move { store.live_tickets(tenant, id, now).await.unwrap().len() }
    };
    assert_eq!(recorded(&w).await, 3);
    assert!(
        w.service
            .leave_queue(w.tenant.id, &license.key, b.ticket)
            .await
            .unwrap()
    );
    assert_eq!(recorded(&w).await, 2);
    // Not polled in time: the poll finds it gone, and its record goes.
    w.clock.advance(TimeDelta::seconds(16));
    assert!(matches!(
        w.poll(&license, "pc-3", c.ticket).await,
        Err(Error::TicketGone)
    ));
    assert_eq!(recorded(&w).await, 1);
    // Past its wait, the last one's record is the reaper's.
    w.clock.advance(TimeDelta::seconds(60));
    let reaped = w.service.reap_once(100).await.unwrap();
    assert_eq!(reaped.tickets, 1, "{reaped:?}");
    assert_eq!(recorded(&w).await, 0);
}

#[tokio::test]
async fn a_join_the_store_cannot_record_is_unavailable_and_leaves_no_ticket() {
    let w = world().await;
    let license = w
        .license(1, queueing(600, None), SeatPolicy::default())
        .await;
    let first = seated(w.ask(&license, "pc-1", 600, None).await);
    w.store.set_ticket_records_fail(true);
    let refused = w.ask(&license, "pc-2", 600, None).await;
    assert!(
        matches!(refused, Err(Error::Unavailable { .. })),
        "{refused:?}"
    );
    assert!(
        w.service
            .queue(w.tenant.id, license.id)
            .await
            .unwrap()
            .is_empty(),
        "the unrecorded ticket left the ledger's queue"
    );
    // Nobody waits: the freed seat goes to a plain acquire.
    w.store.set_ticket_records_fail(false);
    w.release(first.session.id).await;
    seated(w.ask(&license, "pc-3", 0, None).await);
}
