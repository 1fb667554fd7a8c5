//! The Redis ledger on a real 3-master Redis Cluster: the port contract and the seat invariant
//! under concurrency and wipes, with every license's keys in one slot.

// A panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Fixture, Wipe, kinds, layout, policy, queue, queue_keys, request, scenarios};
use futures::FutureExt as _;
use license_core::testing::seat_ledger_contract;
use license_core::{AcquireOutcome, Dependency, Error, SeatLedger};
use license_seats_redis::RedisLedger;
use license_testkit::redis::RedisCluster;

async fn fixture() -> (Arc<RedisCluster>, Fixture) {
    let cluster = Arc::new(
        tokio::task::spawn_blocking(RedisCluster::start)
            .await
            .unwrap(),
    );
    let flushed = cluster.clone();
    let wipe: Wipe = Arc::new(move || {
        let cluster = flushed.clone();
        async move {
            tokio::task::spawn_blocking(move || cluster.flushall())
                .await
                .unwrap()
        }
        .boxed()
    });
    let fx = Fixture::new(&cluster.url(), wipe).await;
    (cluster, fx)
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_cluster_ledger_keeps_the_seat_ledger_contract() {
    let (_cluster, fx) = fixture().await;
    seat_ledger_contract(&fx.harness()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exactly_n_of_500_concurrent_acquires_are_granted_on_a_cluster() {
    let (_cluster, fx) = fixture().await;
    scenarios::exactly_n_of_500_concurrent_acquires_are_granted(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_from_the_same_machine_gets_its_session_back_on_a_cluster() {
    let (_cluster, fx) = fixture().await;
    scenarios::a_retry_from_the_same_machine_gets_its_session_back(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expiry_zombies_key_ttls_and_rebuild_on_a_cluster() {
    let (_cluster, fx) = fixture().await;
    scenarios::renew_after_expiry_is_expired(&fx).await;
    scenarios::a_zombie_seat_is_free_right_after_its_ttl(&fx).await;
    scenarios::keys_expire_a_grace_period_after_the_last_seat(&fx).await;
    scenarios::rebuild_skips_seats_already_past_expiry(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_compact_layout_keeps_its_rules_on_a_cluster() {
    let (_cluster, fx) = fixture().await;
    layout::a_stale_session_cannot_touch_the_machines_new_seat(&fx).await;
    layout::keys_of_the_old_layout_are_never_read(&fx).await;
    layout::a_mass_expiry_is_freed_over_several_calls(&fx).await;
    layout::rebuild_gives_a_machine_one_seat(&fx).await;
    layout::keys_made_again_after_the_last_release_expire_too(&fx).await;
    layout::a_live_seat_costs_under_240_bytes(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn borrowed_lingering_and_hold_off_keys_keep_their_rules_on_a_cluster() {
    let (_cluster, fx) = fixture().await;
    kinds::ordinary_seats_make_no_kind_or_hold_keys(&fx).await;
    kinds::long_hold_offs_and_borrows_keep_the_keys(&fx).await;
    kinds::ended_borrows_lingers_and_hold_offs_are_pruned(&fx).await;
    kinds::a_leftover_kind_entry_does_not_change_a_new_seat(&fx).await;
}

/// Caps, reserves and counts on a cluster (the rebuild wipes every node: run last).
#[tokio::test(flavor = "multi_thread")]
async fn seat_policies_keep_their_rules_on_a_cluster() {
    let (_cluster, fx) = fixture().await;
    policy::caps_refuse_at_the_max_with_their_limit(&fx).await;
    policy::a_reserve_keeps_seats_for_members(&fx).await;
    policy::counts_fall_back_when_seats_end(&fx).await;
    policy::an_empty_tally_makes_no_policy_keys(&fx).await;
    policy::policy_keys_expire_with_the_seats(&fx).await;
    policy::malformed_tally_arguments_write_nothing(&fx).await;
    policy::rebuild_restores_the_counts(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_waiters_are_granted_in_ticket_order_on_a_cluster() {
    let (_cluster, fx) = fixture().await;
    queue::concurrent_waiters_are_granted_in_ticket_order(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_queue_keys_keep_their_rules_on_a_cluster() {
    let (_cluster, fx) = fixture().await;
    queue_keys::a_license_without_waiters_makes_no_queue_keys(&fx).await;
    queue_keys::queue_keys_expire_a_grace_after_the_latest_wait(&fx).await;
    queue::arrivals_are_renumbered_before_they_overflow(&fx).await;
    queue::a_full_queue_counts_each_waiting_ticket_once(&fx).await;
    queue::the_queue_lists_the_waiting_tickets(&fx).await;
    queue_keys::malformed_queue_arguments_write_nothing(&fx).await;
    queue_keys::a_rebuilt_license_starts_with_an_empty_queue(&fx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn flushall_on_every_node_mid_run_rebuilds_and_never_exceeds_the_limit() {
    let (_cluster, fx) = fixture().await;
    scenarios::wiping_redis_mid_run_rebuilds_and_never_exceeds_the_limit(&fx).await;
}

/// Licenses hash to slots on every master; each license's keys stay together in one slot.
#[tokio::test(flavor = "multi_thread")]
async fn licenses_spread_over_every_master_with_their_keys_in_one_slot() {
    let (cluster, fx) = fixture().await;
    let mut keys = Vec::new();
    for _ in 0..30 {
        let key = fx.license().await;
        let outcome = fx
            .ledger
            .acquire(&key, &request("m", 1, Duration::from_secs(60)))
            .await;
        assert!(
            matches!(outcome, Ok(AcquireOutcome::Granted { .. })),
            "{outcome:?}"
        );
        keys.push(key);
    }
    let sizes = tokio::task::spawn_blocking(move || {
        cluster
            .nodes()
            .iter()
            .map(|n| n.command(&["DBSIZE"]).parse::<u32>().unwrap())
            .collect::<Vec<_>>()
    });
    let sizes = sizes.await.unwrap();
    assert_eq!(
        sizes.iter().sum::<u32>(),
        30 * 3,
        "three keys per license: {sizes:?}"
    );
    assert!(
        sizes.iter().all(|&n| n > 0),
        "every master holds licenses: {sizes:?}"
    );
    for key in &keys {
        let slots: Vec<i64> = futures::future::join_all(common::PARTS.map(|part| {
            let cmd = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(common::redis_key(key, part))
                .clone();
            let probe = fx.probe.clone();
            async move { probe.query::<i64>(&cmd).await }
        }))
        .await;
        assert!(slots.windows(2).all(|w| w[0] == w[1]), "{slots:?}");
    }
}

/// `rediss+cluster://`: a cluster whose certificate is not trusted is refused, naming the
/// certificate; once its CA is trusted (`SSL_CERT_FILE`), seats are taken on every master over
/// TLS, redirects included. The trusting half runs in a child process of this test binary: the
/// trust store comes from the environment, which the tests of one process share.
#[tokio::test(flavor = "multi_thread")]
async fn rediss_cluster_verifies_the_nodes_certificate() {
    let cluster = tokio::task::spawn_blocking(RedisCluster::start_tls)
        .await
        .unwrap();
    let refused = RedisLedger::connect(&cluster.tls_url()).await;
    match &refused {
        Err(Error::Unavailable {
            dependency: Dependency::Ledger,
            reason,
        }) => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}");
        }
        other => panic!("an untrusted cluster was accepted: {other:?}"),
    }
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tls_cluster_child_trusting_ssl_cert_file",
            "--ignored",
            "--nocapture",
        ])
        .env("SSL_CERT_FILE", cluster.ca_cert())
        .env("LEDGER_TLS_URL", cluster.tls_url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && stdout.contains("1 passed"),
        "the child over TLS failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
    let sizes: Vec<u32> = cluster
        .nodes()
        .iter()
        .map(|n| n.command(&["DBSIZE"]).parse().unwrap())
        .collect();
    assert!(
        sizes.iter().all(|&n| n > 0),
        "the child's licenses reached every master: {sizes:?}"
    );
}

/// The trusting half of `rediss_cluster_verifies_the_nodes_certificate`, run by it in a child
/// process.
#[tokio::test]
#[ignore = "run by rediss_cluster_verifies_the_nodes_certificate in a child process trusting its CA"]
async fn tls_cluster_child_trusting_ssl_cert_file() {
    let url = std::env::var("LEDGER_TLS_URL").expect("LEDGER_TLS_URL, set by the parent test");
    let ledger = RedisLedger::connect(&url).await.unwrap();
    // Thirty licenses: random ids spread their slots over all three masters.
    for _ in 0..30 {
        let key = Fixture::license_on(&ledger).await;
        let outcome = ledger
            .acquire(&key, &request("m", 1, Duration::from_secs(60)))
            .await;
        assert!(
            matches!(outcome, Ok(AcquireOutcome::Granted { .. })),
            "{outcome:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_restores_the_queue_in_its_order_on_a_cluster() {
    let (_cluster, fx) = fixture().await;
    queue::a_rebuild_restores_the_queue_in_its_order(&fx).await;
}
