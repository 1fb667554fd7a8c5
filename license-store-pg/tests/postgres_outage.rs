//! PostgreSQL going away: calls answer `unavailable` within a bounded time, with no URL or
//! SQL in the error, and the same store works again once the server is back. A cluster of its
//! own, since it is stopped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use license_core::{Dependency, Error, LicenseStore, Store};
use license_store_pg::SqlStore;
use license_testkit::ports::free_port;
use license_testkit::postgres::PostgresServer;

/// Longer than the store's 5 s connect and acquire timeouts, so a hang fails the test.
const BOUND: Duration = Duration::from_secs(20);

fn assert_unavailable<T: std::fmt::Debug>(result: license_core::Result<T>, secret: &str) {
    match result {
        Err(
            e @ Error::Unavailable {
                dependency: Dependency::Store,
                ..
            },
        ) => {
            let text = e.to_string();
            for leaked in ["postgres://", "127.0.0.1", "SELECT", secret] {
                assert!(!text.contains(leaked), "{text:?} leaks {leaked:?}");
            }
        }
        other => panic!("expected store unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn store_is_unavailable_while_postgres_is_down_and_recovers_after() {
    let mut pg = PostgresServer::start();
    let store = SqlStore::connect(&pg.url()).await.unwrap();
    store.migrate().await.unwrap();
    let tenant = common::tenant(&store).await;

    pg.stop();
    let started = Instant::now();
    let (down, ping) = tokio::time::timeout(
        BOUND,
        futures::future::join(store.get_tenant(tenant.id), store.ping()),
    )
    .await
    .expect("calls while the database is down must not hang");
    assert_unavailable(down, "app");
    assert_unavailable(ping, "app");
    assert!(started.elapsed() < BOUND);

    pg.restart();
    let deadline = Instant::now() + BOUND;
    loop {
        match store.get_tenant(tenant.id).await {
            Ok(found) => {
                assert_eq!(found, tenant);
                break;
            }
            Err(e) if Instant::now() < deadline && e.is_retryable() => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the store did not recover: {e:?}"),
        }
    }
    store.ping().await.unwrap();
}

#[tokio::test]
async fn connecting_to_a_closed_port_is_unavailable_without_the_password() {
    let port = free_port().unwrap();
    let url = format!("postgres://app:s3cret-pw@127.0.0.1:{port}/license");
    let result = tokio::time::timeout(BOUND, SqlStore::connect(&url))
        .await
        .expect("connect must give up within its timeout");
    assert_unavailable(result, "s3cret-pw");
}

#[tokio::test]
async fn a_malformed_postgres_url_names_the_setting() {
    match SqlStore::connect("postgres://app@127.0.0.1:notaport/license").await {
        Err(Error::InvalidInput { field, reason }) => {
            assert_eq!(field, "store_url");
            assert!(!reason.contains("notaport"));
        }
        other => panic!("expected invalid store_url, got {other:?}"),
    }
}
