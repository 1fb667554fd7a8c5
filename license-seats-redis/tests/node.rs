//! The Redis ledger on one real `redis-server`: the port contract, the seat invariant under
//! concurrency and wipes, and outages.

// A panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Fixture, Wipe, kinds, layout, policy, queue, queue_keys, request, scenarios};
use futures::FutureExt as _;
use license_core::testing::seat_ledger_contract;
use license_core::{AcquireOutcome, Dependency, Error, LiveCount, SeatLedger};
use license_seats_redis::{RedisLedger, RedisOptions};
use license_testkit::ports::free_port;
use license_testkit::redis::RedisServer;

async fn fixture() -> (Arc<RedisServer>, Fixture) {
    let server = Arc::new(
        tokio::task::spawn_blocking(RedisServer::start)
            .await
            .unwrap(),
    );
    let flushed = server.clone();
    let wipe: Wipe = Arc::new(move || {
        let server = flushed.clone();
        async move {
            tokio::task::spawn_blocking(move || server.flushall())
                .await
                .unwrap()
        }
        .boxed()
    });
    let fx = Fixture::new(&server.url(), wipe).await;
    (server, fx)
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_ledger_keeps_the_seat_ledger_contract() {
    let (_server, fx) = fixture().await;
    seat_ledger_contract(&fx.harness()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exactly_n_of_500_concurrent_acquires_are_granted() {
    let (_server, fx) = fixture().await;
    scenarios::exactly_n_of_500_concurrent_acquires_are_granted(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_from_the_same_machine_gets_its_session_back() {
    let (_server, fx) = fixture().await;
    scenarios::a_retry_from_the_same_machine_gets_its_session_back(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn renew_after_expiry_is_expired() {
    let (_server, fx) = fixture().await;
    scenarios::renew_after_expiry_is_expired(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zombie_seat_is_free_right_after_its_ttl() {
    let (_server, fx) = fixture().await;
    scenarios::a_zombie_seat_is_free_right_after_its_ttl(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_expire_a_grace_period_after_the_last_seat() {
    let (_server, fx) = fixture().await;
    scenarios::keys_expire_a_grace_period_after_the_last_seat(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rebuild_skips_seats_already_past_expiry() {
    let (_server, fx) = fixture().await;
    scenarios::rebuild_skips_seats_already_past_expiry(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn flushall_mid_run_rebuilds_and_never_exceeds_the_limit() {
    let (_server, fx) = fixture().await;
    scenarios::wiping_redis_mid_run_rebuilds_and_never_exceeds_the_limit(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_session_cannot_touch_the_machines_new_seat() {
    let (_server, fx) = fixture().await;
    layout::a_stale_session_cannot_touch_the_machines_new_seat(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_of_the_old_layout_are_never_read() {
    let (_server, fx) = fixture().await;
    layout::keys_of_the_old_layout_are_never_read(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mass_expiry_is_freed_over_several_calls() {
    let (_server, fx) = fixture().await;
    layout::a_mass_expiry_is_freed_over_several_calls(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rebuild_gives_a_machine_one_seat() {
    let (_server, fx) = fixture().await;
    layout::rebuild_gives_a_machine_one_seat(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_made_again_after_the_last_release_expire_too() {
    let (_server, fx) = fixture().await;
    layout::keys_made_again_after_the_last_release_expire_too(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_seat_costs_under_240_bytes() {
    let (_server, fx) = fixture().await;
    layout::a_live_seat_costs_under_240_bytes(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ordinary_seats_make_no_kind_or_hold_keys() {
    let (_server, fx) = fixture().await;
    kinds::ordinary_seats_make_no_kind_or_hold_keys(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn long_hold_offs_and_borrows_keep_the_keys() {
    let (_server, fx) = fixture().await;
    kinds::long_hold_offs_and_borrows_keep_the_keys(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ended_borrows_lingers_and_hold_offs_are_pruned() {
    let (_server, fx) = fixture().await;
    kinds::ended_borrows_lingers_and_hold_offs_are_pruned(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leftover_kind_entry_does_not_change_a_new_seat() {
    let (_server, fx) = fixture().await;
    kinds::a_leftover_kind_entry_does_not_change_a_new_seat(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn caps_refuse_at_the_max_with_their_limit() {
    let (_server, fx) = fixture().await;
    policy::caps_refuse_at_the_max_with_their_limit(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reserve_keeps_seats_for_members() {
    let (_server, fx) = fixture().await;
    policy::a_reserve_keeps_seats_for_members(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn counts_fall_back_when_seats_end() {
    let (_server, fx) = fixture().await;
    policy::counts_fall_back_when_seats_end(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rebuild_restores_the_counts() {
    let (_server, fx) = fixture().await;
    policy::rebuild_restores_the_counts(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_tally_makes_no_policy_keys() {
    let (_server, fx) = fixture().await;
    policy::an_empty_tally_makes_no_policy_keys(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_keys_expire_with_the_seats() {
    let (_server, fx) = fixture().await;
    policy::policy_keys_expire_with_the_seats(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_tally_arguments_write_nothing() {
    let (_server, fx) = fixture().await;
    policy::malformed_tally_arguments_write_nothing(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_waiters_are_granted_in_ticket_order() {
    let (_server, fx) = fixture().await;
    queue::concurrent_waiters_are_granted_in_ticket_order(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_license_without_waiters_makes_no_queue_keys() {
    let (_server, fx) = fixture().await;
    queue_keys::a_license_without_waiters_makes_no_queue_keys(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_keys_expire_a_grace_after_the_latest_wait() {
    let (_server, fx) = fixture().await;
    queue_keys::queue_keys_expire_a_grace_after_the_latest_wait(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn arrivals_are_renumbered_before_they_overflow() {
    let (_server, fx) = fixture().await;
    queue::arrivals_are_renumbered_before_they_overflow(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_queue_lists_the_waiting_tickets() {
    let (_server, fx) = fixture().await;
    queue::the_queue_lists_the_waiting_tickets(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_counts_each_waiting_ticket_once() {
    let (_server, fx) = fixture().await;
    queue::a_full_queue_counts_each_waiting_ticket_once(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_queue_arguments_write_nothing() {
    let (_server, fx) = fixture().await;
    queue_keys::malformed_queue_arguments_write_nothing(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuilt_license_starts_with_an_empty_queue() {
    let (_server, fx) = fixture().await;
    queue_keys::a_rebuilt_license_starts_with_an_empty_queue(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scripts_are_reloaded_after_script_flush() {
    let (server, fx) = fixture().await;
    let key = fx.license().await;
    let flushed = tokio::task::spawn_blocking(move || server.command(&["SCRIPT", "FLUSH"]));
    assert_eq!(flushed.await.unwrap(), "OK");
    let outcome = fx
        .ledger
        .acquire(&key, &request("m", 1, Duration::from_secs(60)))
        .await;
    assert!(
        matches!(outcome, Ok(AcquireOutcome::Granted { .. })),
        "{outcome:?}"
    );
}

fn assert_ledger_unavailable<T: std::fmt::Debug>(result: Result<T, Error>) {
    assert!(
        matches!(
            result,
            Err(Error::Unavailable {
                dependency: Dependency::Ledger,
                ..
            })
        ),
        "expected the ledger to be unavailable: {result:?}"
    );
}

/// Redis is killed (SIGKILL, no persistence) and restarted on the same port in the middle of a
/// concurrent run. During the outage every call fails with `unavailable` within the timeout;
/// after the restart the same ledger works again (rebuilding the wiped license).
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_redis_fails_fast_and_the_same_ledger_recovers() {
    let timeout = Duration::from_millis(500);
    // Scheduling slack on a busy machine on top of the timeout.
    let bound = timeout + Duration::from_millis(500);
    let mut server = tokio::task::spawn_blocking(RedisServer::start)
        .await
        .unwrap();
    let ledger = Arc::new(
        RedisLedger::connect_with(&server.url(), RedisOptions { timeout })
            .await
            .unwrap(),
    );
    let key = Fixture::license_on(ledger.as_ref()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, unavailable) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (ledger, stop, ok, unavailable) = (
                ledger.clone(),
                stop.clone(),
                ok.clone(),
                unavailable.clone(),
            );
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let req = request(&format!("w{w}-{i}"), 1_000, Duration::from_secs(60));
                    let started = Instant::now();
                    let outcome = ledger.acquire(&key, &req).await;
                    assert!(
                        started.elapsed() <= bound,
                        "a call hung for {:?}",
                        started.elapsed()
                    );
                    match outcome {
                        Ok(AcquireOutcome::Granted { .. }) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                            let released = ledger.release(&key, req.seat()).await;
                            assert!(
                                released.is_ok()
                                    || released.as_ref().is_err_and(Error::is_retryable)
                            );
                        }
                        Ok(AcquireOutcome::Rebuild) => {
                            // The restarted Redis is empty; this test's store holds nothing.
                            let rebuilt = ledger.rebuild(&key, &[], &[]).await;
                            assert!(
                                rebuilt.is_ok() || rebuilt.as_ref().is_err_and(Error::is_retryable)
                            );
                        }
                        Ok(other) => panic!("unexpected outcome: {other:?}"),
                        Err(e) => {
                            assert_ledger_unavailable::<()>(Err(e));
                            unavailable.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(300)).await;
    let before_outage = ok.load(Ordering::SeqCst);
    assert!(before_outage > 0, "the run works before the outage");
    tokio::task::block_in_place(|| server.stop());

    // Down: every kind of call fails fast, naming the ledger.
    let started = Instant::now();
    assert_ledger_unavailable(ledger.ping().await);
    assert_ledger_unavailable(ledger.live_count(&key).await);
    assert_ledger_unavailable(
        ledger
            .renew(
                &key,
                license_core::SeatRef::new(license_core::SessionId::new(), &req_hw()),
                timeout,
            )
            .await,
    );
    assert!(
        started.elapsed() <= 3 * bound,
        "calls during the outage took {:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        unavailable.load(Ordering::SeqCst) > 0,
        "the workers saw the outage"
    );

    tokio::task::block_in_place(|| server.restart());
    let back = Instant::now();
    let ok_at_restart = ok.load(Ordering::SeqCst);
    while ok.load(Ordering::SeqCst) == ok_at_restart {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "no grant within 10 s of the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    // The same ledger answers every call again.
    ledger.ping().await.unwrap();
    assert!(matches!(
        ledger.live_count(&key).await.unwrap(),
        LiveCount::Count(_)
    ));
}

/// `rediss://` verifies the server's certificate against the trust store: a server whose CA is
/// not trusted is refused, naming the certificate; once its CA is trusted (`SSL_CERT_FILE`),
/// seats are taken over TLS. The trusting half runs in a child process of this test binary:
/// the trust store comes from the environment, which the tests of one process share.
#[tokio::test(flavor = "multi_thread")]
async fn rediss_verifies_the_server_certificate() {
    let server = tokio::task::spawn_blocking(RedisServer::start_tls)
        .await
        .unwrap();
    let refused = RedisLedger::connect(&server.tls_url()).await;
    match &refused {
        Err(Error::Unavailable {
            dependency: Dependency::Ledger,
            reason,
        }) => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}");
        }
        other => panic!("an untrusted server was accepted: {other:?}"),
    }
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tls_child_trusting_ssl_cert_file",
            "--ignored",
            "--nocapture",
        ])
        .env("SSL_CERT_FILE", server.ca_cert())
        .env("LEDGER_TLS_URL", server.tls_url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && stdout.contains("1 passed"),
        "the child over TLS failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
}

/// The trusting half of `rediss_verifies_the_server_certificate`, run by it in a child process.
#[tokio::test]
#[ignore = "run by rediss_verifies_the_server_certificate in a child process trusting its CA"]
async fn tls_child_trusting_ssl_cert_file() {
    let url = std::env::var("LEDGER_TLS_URL").expect("LEDGER_TLS_URL, set by the parent test");
    let ledger = RedisLedger::connect(&url).await.unwrap();
    let key = Fixture::license_on(&ledger).await;
    let outcome = ledger
        .acquire(&key, &request("m", 1, Duration::from_secs(60)))
        .await;
    assert!(
        matches!(outcome, Ok(AcquireOutcome::Granted { .. })),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connecting_to_a_redis_that_is_down_fails_within_the_timeout() {
    let port = free_port().unwrap();
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let result = RedisLedger::connect_with(
        &format!("redis://127.0.0.1:{port}"),
        RedisOptions { timeout },
    )
    .await;
    assert_ledger_unavailable(result);
    assert!(
        started.elapsed() < timeout + Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unknown_scheme_names_the_setting_and_the_schemes() {
    for url in [
        "http://localhost:6379",
        "redis-sentinel://h:26379",
        "localhost",
    ] {
        match RedisLedger::connect(url).await {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, "ledger_url");
                for scheme in ["redis://", "rediss://", "redis+cluster://"] {
                    assert!(reason.contains(scheme), "{url}: {reason}");
                }
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    let zero = RedisLedger::connect_with(
        "redis://127.0.0.1:1",
        RedisOptions {
            timeout: Duration::ZERO,
        },
    );
    assert!(matches!(
        zero.await,
        Err(Error::InvalidInput {
            field: "ledger_timeout",
            ..
        })
    ));
}

fn req_hw() -> license_core::HardwareId {
    license_core::HardwareId::parse("outage-probe").unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_restores_the_queue_in_its_order() {
    let (_server, fx) = fixture().await;
    queue::a_rebuild_restores_the_queue_in_its_order(&fx).await;
}
