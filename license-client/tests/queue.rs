//! Waiting for a seat against a real server (ADR 0029): the 202 and its ticket, polls and
//! leaving; `wait_for_seat` seated in turn, ending its wait, and giving its place up when
//! dropped; the guard and the blocking facade starting with a wait.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use license_client::{
    AcquireRequest, Acquired, Client, Error, GuardOptions, QueuePlace, RetryPolicy, SeatGuard,
    SeatState, blocking,
};
use serde_json::json;
use support::{Server, Tenant, eventually};

fn client(tenant: &Tenant) -> Client {
    Client::builder(&tenant.url, &tenant.client_key)
        .retry(RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
        })
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// A tenant whose 1-seat license queues waiters for up to a minute.
fn queueing(server: &Server) -> Tenant {
    Tenant::create_with(server, "Acme", 1, json!({ "max_wait_seconds": 60 }))
}

fn seat(tenant: &Tenant, machine: &str) -> AcquireRequest {
    AcquireRequest::new(&tenant.license_key, machine)
}

/// Whether a plain acquire for `machine` gets the (free) seat now, rather than being refused
/// because a ticket waits for it; releases it again.
async fn free_seat_goes_to_a_plain_acquire(tenant: &Tenant, machine: &str) -> bool {
    match client(tenant).acquire(&seat(tenant, machine)).await {
        Ok(lease) => {
            client(tenant)
                .release(&lease.session_id, None)
                .await
                .unwrap();
            true
        }
        Err(Error::NoSeats { limit, .. }) => {
            assert_eq!(
                limit.as_deref(),
                Some("queued"),
                "only the queue may refuse"
            );
            false
        }
        Err(e) => panic!("{e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_gets_a_ticket_polls_it_and_leaves_the_queue() {
    let server = Server::start();
    let tenant = queueing(&server);
    let client = client(&tenant);
    let holder = client.acquire(&seat(&tenant, "holder")).await.unwrap();

    let join = AcquireRequest {
        wait_seconds: Some(30),
        ..seat(&tenant, "waiter")
    };
    let Acquired::Queued(place) = client.acquire_or_wait(&join).await.unwrap() else {
        panic!("the seat is taken: the waiter queues")
    };
    assert_eq!(place.position, 1);
    assert!(place.poll_after_seconds >= 1);
    assert!(place.poll_after_seconds < place.poll_within_seconds);
    let poll = AcquireRequest {
        queue_ticket: Some(place.queue_ticket.clone()),
        ..seat(&tenant, "waiter")
    };
    let Acquired::Queued(again) = client.acquire_or_wait(&poll).await.unwrap() else {
        panic!("still taken")
    };
    assert_eq!(
        (again.queue_ticket.as_str(), again.position),
        (place.queue_ticket.as_str(), 1)
    );

    // A freed seat goes to the ticket, not to a plain acquire: NoSeats names the queue.
    client.release(&holder.session_id, None).await.unwrap();
    let refused = client.acquire(&seat(&tenant, "other")).await.unwrap_err();
    let Error::NoSeats { limit, .. } = &refused else {
        panic!("{refused:?}")
    };
    assert_eq!(limit.as_deref(), Some("queued"));
    assert!(refused.to_string().contains("queued"), "{refused}");

    assert!(
        client
            .leave_queue(&tenant.license_key, &place.queue_ticket)
            .await
            .unwrap()
    );
    assert!(
        !client
            .leave_queue(&tenant.license_key, &place.queue_ticket)
            .await
            .unwrap()
    );
    let gone = client.acquire_or_wait(&poll).await.unwrap_err();
    assert!(matches!(gone, Error::TicketGone { .. }), "{gone:?}");
    assert_eq!(gone.code(), Some("queue_ticket_gone"));
    assert!(free_seat_goes_to_a_plain_acquire(&tenant, "other").await);

    // A waiting request sent to plain `acquire` is an error, and gives its place up at once.
    let holder = client.acquire(&seat(&tenant, "holder")).await.unwrap();
    let misused = client.acquire(&join).await.unwrap_err();
    assert!(matches!(misused, Error::BadResponse(_)), "{misused:?}");
    client.release(&holder.session_id, None).await.unwrap();
    assert!(free_seat_goes_to_a_plain_acquire(&tenant, "other").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_seat_reports_its_position_and_is_seated_when_the_seat_frees() {
    let server = Server::start();
    let tenant = queueing(&server);
    let holder = client(&tenant)
        .acquire(&seat(&tenant, "holder"))
        .await
        .unwrap();
    let places: Arc<Mutex<Vec<QueuePlace>>> = Arc::default();
    let waiting = {
        let (client, request, places) = (client(&tenant), seat(&tenant, "waiter"), places.clone());
        tokio::spawn(async move {
            client
                .wait_for_seat(&request, Duration::from_secs(30), |place| {
                    places.lock().unwrap().push(place.clone());
                })
                .await
        })
    };
    assert!(
        eventually(Duration::from_secs(5), || !places
            .lock()
            .unwrap()
            .is_empty()),
        "queued"
    );
    client(&tenant)
        .release(&holder.session_id, None)
        .await
        .unwrap();
    let started = Instant::now();
    let lease = tokio::time::timeout(Duration::from_secs(8), waiting)
        .await
        .expect("seated within a few polls")
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let places = places.lock().unwrap().clone();
    assert_eq!(
        places.iter().map(|p| p.position).collect::<Vec<_>>(),
        [1],
        "told once: its position never changed"
    );
    assert_eq!(
        lease.session_id, places[0].queue_ticket,
        "the ticket became the session"
    );
    assert_eq!(tenant.live_sessions().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_place_lost_before_the_wait_ends_is_taken_again_at_the_end() {
    let server = Server::start();
    let tenant = queueing(&server);
    let holder = client(&tenant)
        .acquire(&seat(&tenant, "holder"))
        .await
        .unwrap();
    let places: Arc<Mutex<Vec<QueuePlace>>> = Arc::default();
    let waiting = {
        let (client, request, places) = (client(&tenant), seat(&tenant, "waiter"), places.clone());
        tokio::spawn(async move {
            client
                .wait_for_seat(&request, Duration::from_secs(30), |place| {
                    places.lock().unwrap().push(place.clone());
                })
                .await
        })
    };
    assert!(eventually(Duration::from_secs(5), || places
        .lock()
        .unwrap()
        .len()
        == 1));
    // The ticket ends behind the waiter's back (as after the ledger lost its state).
    let first = places.lock().unwrap()[0].queue_ticket.clone();
    assert!(
        client(&tenant)
            .leave_queue(&tenant.license_key, &first)
            .await
            .unwrap()
    );
    assert!(
        eventually(Duration::from_secs(5), || places.lock().unwrap().len() == 2),
        "joined again"
    );
    let second = places.lock().unwrap()[1].clone();
    assert_ne!(second.queue_ticket, first);
    assert_eq!(second.position, 1);
    client(&tenant)
        .release(&holder.session_id, None)
        .await
        .unwrap();
    let lease = tokio::time::timeout(Duration::from_secs(8), waiting)
        .await
        .expect("seated")
        .unwrap()
        .unwrap();
    assert_eq!(lease.session_id, second.queue_ticket);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_ends_or_is_dropped_gives_the_place_up() {
    let server = Server::start();
    let tenant = queueing(&server);
    let client = client(&tenant);
    let holder = client.acquire(&seat(&tenant, "holder")).await.unwrap();

    // The wait ends: WaitEnded, on time, with the last position.
    let started = Instant::now();
    let ended = client
        .wait_for_seat(&seat(&tenant, "waiter"), Duration::from_secs(2), |_| {})
        .await
        .unwrap_err();
    let Error::WaitEnded { position, waited } = &ended else {
        panic!("{ended:?}")
    };
    assert_eq!(*position, 1);
    assert!(*waited >= Duration::from_secs(2), "{waited:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(
        ended.to_string().contains("no seat within the wait"),
        "{ended}"
    );

    // Dropped while waiting (here by a timeout): the place is left from a task.
    let dropped = tokio::time::timeout(
        Duration::from_millis(500),
        client.wait_for_seat(&seat(&tenant, "impatient"), Duration::from_secs(30), |_| {}),
    )
    .await;
    assert!(dropped.is_err(), "still waiting when dropped");

    // Neither ticket holds up the freed seat (a ticket not left would for 15 s).
    client.release(&holder.session_id, None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !free_seat_goes_to_a_plain_acquire(&tenant, "other").await {
        assert!(Instant::now() < deadline, "a ticket still waits");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_license_without_a_queue_refuses_a_waiter_at_once() {
    let server = Server::start();
    let tenant = Tenant::create(&server, "Acme", 1);
    let client = client(&tenant);
    let _holder = client.acquire(&seat(&tenant, "holder")).await.unwrap();
    let started = Instant::now();
    let refused = client
        .wait_for_seat(&seat(&tenant, "waiter"), Duration::from_secs(30), |_| {
            panic!("no queue to wait in")
        })
        .await
        .unwrap_err();
    let Error::NoSeats { limit, .. } = &refused else {
        panic!("{refused:?}")
    };
    assert_eq!(limit.as_deref(), Some("seats"));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_starts_with_a_wait_and_holds_the_seat_it_waited_for() {
    let server = Server::start();
    let tenant = queueing(&server);
    let holder = client(&tenant)
        .acquire(&seat(&tenant, "holder"))
        .await
        .unwrap();
    let (waiter, key) = (client(&tenant), tenant.license_key.clone());
    let (tx, mut positions) = tokio::sync::mpsc::unbounded_channel();
    let waiting = tokio::spawn(async move {
        SeatGuard::acquire_waiting(
            waiter,
            AcquireRequest::new(&key, "waiter"),
            GuardOptions::default(),
            Duration::from_secs(30),
            move |place| {
                let _ = tx.send(place.position);
            },
        )
        .await
    });
    let first = tokio::time::timeout(Duration::from_secs(5), positions.recv())
        .await
        .expect("queued");
    assert_eq!(first, Some(1));
    client(&tenant)
        .release(&holder.session_id, None)
        .await
        .unwrap();
    let guard = tokio::time::timeout(Duration::from_secs(8), waiting)
        .await
        .expect("seated")
        .unwrap()
        .unwrap();
    assert!(matches!(guard.state(), SeatState::Held { .. }));
    // It heartbeats like any guard: the lease is renewed within a couple of intervals.
    let first_expiry = guard.lease().expires_at;
    let mut states = guard.subscribe();
    tokio::time::timeout(
        Duration::from_secs(5),
        states.wait_for(
            |s| matches!(s, SeatState::Held { expires_at, .. } if *expires_at > first_expiry),
        ),
    )
    .await
    .expect("renewed")
    .unwrap();
    drop(states);
    assert_eq!(tenant.live_sessions().len(), 1);
    assert!(guard.release().await.unwrap().is_some());
    assert!(tenant.live_sessions().is_empty());
}

#[test]
fn the_blocking_facade_waits_for_a_seat() {
    let server = Server::start();
    let tenant = queueing(&server);
    let client = blocking::Client::from_async(client(&tenant)).unwrap();
    let holder = client.acquire(&seat(&tenant, "holder")).unwrap();
    // Released from another thread once the waiter is queued.
    let (queued_tx, queued_rx) = std::sync::mpsc::channel();
    let releaser = {
        let client = client.clone();
        std::thread::spawn(move || {
            queued_rx
                .recv_timeout(Duration::from_secs(5))
                .expect("queued");
            client.release(&holder.session_id, None).unwrap();
        })
    };
    let mut positions = Vec::new();
    let guard = client
        .hold_waiting(
            seat(&tenant, "waiter"),
            GuardOptions::default(),
            Duration::from_secs(30),
            |place| {
                positions.push(place.position);
                let _ = queued_tx.send(());
            },
        )
        .unwrap();
    releaser.join().unwrap();
    assert_eq!(positions, [1]);
    assert!(guard.state().is_held());
    assert!(guard.release().unwrap().is_some());
    assert!(tenant.live_sessions().is_empty());
}
