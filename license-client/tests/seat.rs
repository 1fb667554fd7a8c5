//! The client and the seat guard against a real server: the round trip, heartbeats and the
//! release on drop, an eviction, a server down at start and gone mid-run, and offline
//! verification (another tenant's token, a clock jump).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use license_client::{
    AcquireRequest, BorrowRequest, Client, DEFAULT_ISSUER, Error, GuardOptions, RetryPolicy,
    SeatGuard, SeatState, Verifier, blocking,
};
use support::{Server, Tenant, eventually, free_port};

/// Quick retries, so a dead server is reported in well under a second.
fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    }
}

fn client(tenant: &Tenant) -> Client {
    Client::builder(&tenant.url, &tenant.client_key)
        .retry(quick())
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Waits (up to `timeout`) for a state `accept` takes.
async fn wait_for(
    guard: &SeatGuard,
    timeout: Duration,
    accept: impl Fn(&SeatState) -> bool,
) -> SeatState {
    let mut changes = guard.subscribe();
    let found = tokio::time::timeout(timeout, changes.wait_for(|s| accept(s))).await;
    match found {
        Ok(Ok(state)) => state.clone(),
        _ => panic!("no such state within {timeout:?}; now {:?}", guard.state()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_heartbeat_validate_and_release_round_trip() {
    let server = Server::start();
    let tenant = Tenant::create(&server, "Acme", 1);
    let client = client(&tenant);
    let request = AcquireRequest::new(&tenant.license_key, "pc-1");
    let lease = client.acquire(&request).await.unwrap();
    assert_eq!(lease.heartbeat_interval_seconds, 1);
    // Idempotent per machine: a retry gets the same session, not a second seat.
    assert_eq!(
        client.acquire(&request).await.unwrap().session_id,
        lease.session_id
    );
    let renewed = client.heartbeat(&lease.session_id, None).await.unwrap();
    assert!(renewed.expires_at >= lease.expires_at);
    let valid = client.validate(&renewed.token).await.unwrap();
    assert_eq!(valid.session_id, lease.session_id);
    assert_eq!(valid.entitlements, ["export"]);
    assert_eq!(tenant.live_sessions().len(), 1);
    client.release(&lease.session_id, None).await.unwrap();
    assert!(tenant.live_sessions().is_empty());
    // The seat is gone: a heartbeat says so in a type the application can act on.
    let lost = client.heartbeat(&lease.session_id, None).await.unwrap_err();
    assert!(matches!(lost, Error::SessionLost { .. }), "{lost:?}");
    // A full license answers NoSeats.
    let _other = client
        .acquire(&AcquireRequest::new(&tenant.license_key, "pc-2"))
        .await
        .unwrap();
    let full = client.acquire(&request).await.unwrap_err();
    assert!(matches!(full, Error::NoSeats { .. }), "{full:?}");
    assert_eq!(full.code(), Some("no_seats_available"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_heartbeats_verifies_and_releases_on_drop() {
    let server = Server::start();
    let tenant = Tenant::create(&server, "Acme", 1);
    // The tenant's signing key is made with its first lease: take one, so its key set exists.
    let first = client(&tenant)
        .acquire(&AcquireRequest::new(&tenant.license_key, "pc-1"))
        .await
        .unwrap();
    client(&tenant)
        .release(&first.session_id, None)
        .await
        .unwrap();
    let verifier = Verifier::from_json(
        &tenant.key_set(),
        Some(&tenant.root_key_set()),
        DEFAULT_ISSUER,
        Utc::now(),
    )
    .unwrap();
    let options = GuardOptions {
        verifier: Some(verifier.clone()),
        ..GuardOptions::default()
    };
    let guard = SeatGuard::acquire(
        client(&tenant),
        AcquireRequest::new(&tenant.license_key, "pc-1"),
        options,
    )
    .await
    .unwrap();
    let SeatState::Held {
        expires_at: first, ..
    } = guard.state()
    else {
        panic!("{:?}", guard.state())
    };
    // The heartbeat at the 1 s interval renews the lease and publishes it.
    let renewed = wait_for(
        &guard,
        Duration::from_secs(5),
        |s| matches!(s, SeatState::Held { expires_at, .. } if *expires_at > first),
    )
    .await;
    assert!(renewed.is_held());
    assert!(
        verifier
            .has_entitlement(&guard.token(), "export", Utc::now())
            .unwrap()
    );
    assert!(
        !verifier
            .has_entitlement(&guard.token(), "render", Utc::now())
            .unwrap()
    );
    assert_eq!(tenant.live_sessions().len(), 1);
    drop(guard);
    assert!(
        eventually(Duration::from_secs(5), || tenant.live_sessions().is_empty()),
        "released on drop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eviction_reaches_the_guard_as_evicted_and_it_does_not_reacquire() {
    let server = Server::start();
    let tenant = Tenant::create(&server, "Acme", 1);
    let guard = SeatGuard::acquire(
        client(&tenant),
        AcquireRequest::new(&tenant.license_key, "pc-1"),
        GuardOptions::default(),
    )
    .await
    .unwrap();
    tenant.evict(&guard.session_id(), "licence audit");
    let lost = wait_for(&guard, Duration::from_secs(5), |s| {
        matches!(s, SeatState::Lost(_))
    })
    .await;
    let SeatState::Lost(Error::Evicted { reason, until }) = lost else {
        panic!("{lost:?}")
    };
    assert_eq!(reason, "licence audit");
    assert!(until.is_some_and(|u| u > Utc::now()), "the hold-off's end");
    // Two more heartbeat intervals: no new seat was taken.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert!(
        tenant.live_sessions().is_empty(),
        "no re-acquire after an eviction"
    );
    assert!(matches!(
        guard.state(),
        SeatState::Lost(Error::Evicted { .. })
    ));
    // And the explicit release has nothing left to release.
    assert!(guard.release().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_session_is_acquired_again() {
    let server = Server::start();
    let tenant = Tenant::create(&server, "Acme", 1);
    let guard = SeatGuard::acquire(
        client(&tenant),
        AcquireRequest::new(&tenant.license_key, "pc-1"),
        GuardOptions::default(),
    )
    .await
    .unwrap();
    let first = guard.session_id();
    // The session ends behind the guard's back (not an eviction): its next heartbeat answers
    // 410 session_expired, and the guard takes the machine's seat again.
    client(&tenant).release(&first, None).await.unwrap();
    let held = wait_for(
        &guard,
        Duration::from_secs(5),
        |s| matches!(s, SeatState::Held { session_id, .. } if *session_id != first),
    )
    .await;
    let SeatState::Held { session_id, .. } = held else {
        unreachable!()
    };
    assert_eq!(guard.session_id(), session_id);
    assert_eq!(tenant.live_sessions().len(), 1);
    guard.release().await.unwrap();
    assert!(tenant.live_sessions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_at_start_is_a_typed_error_after_bounded_retries() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let client = Client::builder(&url, "lk_x")
        .retry(quick())
        .build()
        .unwrap();
    let started = Instant::now();
    let e = client
        .acquire(&AcquireRequest::new("KEY", "pc-1"))
        .await
        .unwrap_err();
    let Error::ServerUnavailable { attempts, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*attempts, 3);
    assert!(e.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let guard = SeatGuard::acquire(
        client,
        AcquireRequest::new("KEY", "pc-1"),
        GuardOptions::default(),
    )
    .await;
    assert!(matches!(guard, Err(Error::ServerUnavailable { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_gone_mid_run_keeps_the_seat_for_the_grace_period_then_loses_it() {
    let mut server = Server::start();
    let tenant = Tenant::create(&server, "Acme", 1);
    let grace = Duration::from_secs(2);
    let guard = SeatGuard::acquire(
        client(&tenant),
        AcquireRequest::new(&tenant.license_key, "pc-1"),
        GuardOptions {
            grace: Some(grace),
            ..GuardOptions::default()
        },
    )
    .await
    .unwrap();
    server.kill();
    let offline = wait_for(&guard, Duration::from_secs(5), |s| {
        !matches!(s, SeatState::Held { .. })
    })
    .await;
    let SeatState::Offline { since, until, .. } = &offline else {
        panic!("first the grace period: {offline:?}")
    };
    assert!(offline.is_held(), "the application keeps working");
    assert!(*until <= *since + chrono::TimeDelta::seconds(2));
    let lost = wait_for(&guard, Duration::from_secs(6), |s| {
        matches!(s, SeatState::Lost(_))
    })
    .await;
    assert!(
        matches!(lost, SeatState::Lost(Error::ServerUnavailable { .. })),
        "{lost:?}"
    );
    assert!(Utc::now() >= *until, "not before the grace period ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_another_tenant_fails_and_a_clock_jump_past_exp_fails() {
    let server = Server::start();
    let acme = Tenant::create(&server, "Acme", 1);
    let globex = Tenant::create(&server, "Globex", 1);
    let acme_lease = client(&acme)
        .acquire(&AcquireRequest::new(&acme.license_key, "pc-1"))
        .await
        .unwrap();
    let globex_lease = client(&globex)
        .acquire(&AcquireRequest::new(&globex.license_key, "pc-1"))
        .await
        .unwrap();
    // Key sets after the first leases: a tenant's key is made with its first lease.
    // Fetched by the client here; an application ships the root set instead.
    let root = client(&acme).root_key_set().await.unwrap().to_string();
    let acme_keys = client(&acme)
        .tenant_key_set(&acme.id)
        .await
        .unwrap()
        .to_string();
    let acme_verifier =
        Verifier::from_json(&acme_keys, Some(&root), DEFAULT_ISSUER, Utc::now()).unwrap();
    let claims = acme_verifier.verify(&acme_lease.token, Utc::now()).unwrap();
    assert_eq!(claims.sub.to_string(), acme_lease.session_id);
    // Globex's lease, though the same root certified both tenants' keys.
    let foreign = acme_verifier
        .verify(&globex_lease.token, Utc::now())
        .unwrap_err();
    assert!(matches!(foreign, Error::InvalidToken(_)), "{foreign:?}");
    // A key set served for Globex never verifies as Acme's with the root pinned either.
    let swapped = globex.key_set().replace(&globex.id, &acme.id);
    assert!(Verifier::from_json(&swapped, Some(&root), DEFAULT_ISSUER, Utc::now()).is_err());
    // The clock jumps an hour forward: past `exp`, the offline lease is over.
    let later = Utc::now() + chrono::TimeDelta::hours(1);
    let expired = acme_verifier.verify(&acme_lease.token, later).unwrap_err();
    assert!(expired.to_string().contains("expired"), "{expired}");
}

#[test]
fn the_blocking_facade_holds_and_releases_a_seat() {
    let server = Server::start();
    let tenant = Tenant::create(&server, "Acme", 1);
    let client = blocking::Client::from_async(client(&tenant)).unwrap();
    let guard = client
        .hold(
            AcquireRequest::new(&tenant.license_key, "pc-1"),
            GuardOptions::default(),
        )
        .unwrap();
    let next = guard.wait_for_change(Duration::from_secs(3));
    assert!(matches!(next, SeatState::Held { .. }), "{next:?}");
    assert_eq!(tenant.live_sessions().len(), 1);
    let lease = guard.lease().unwrap();
    let valid = client.validate(&lease.token).unwrap();
    assert_eq!(valid.session_id, lease.session_id);
    assert!(guard.release().unwrap().is_some());
    assert!(tenant.live_sessions().is_empty());
    // Borrow a seat for offline work, check in once, return it early.
    let borrowed = client
        .borrow(&BorrowRequest {
            seat: AcquireRequest::new(&tenant.license_key, "laptop-1"),
            borrow_seconds: 600,
        })
        .unwrap();
    assert!(borrowed.borrowed);
    let checked_in = client.heartbeat(&borrowed.session_id, None).unwrap();
    // A check-in keeps the borrow's end (to the store's rounding).
    let moved = (checked_in.expires_at - borrowed.expires_at)
        .num_milliseconds()
        .abs();
    assert!(moved < 1000, "a borrow keeps its end: moved {moved} ms");
    client.return_borrowed(&borrowed.session_id, None).unwrap();
    assert!(tenant.live_sessions().is_empty());
}
