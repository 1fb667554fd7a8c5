//! The store on SQLite (the embedded default): the same contract and behaviours as on
//! PostgreSQL, on a file and in memory, plus migrations and persistence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use chrono::TimeDelta;
use futures::future::join;
use license_core::testing::store_contract;
use license_core::{LicenseStore, SessionStore};
use license_store_pg::SqlStore;

/// A migrated store on a new file in a temporary directory (kept alive by the caller).
async fn on_file() -> (tempfile::TempDir, SqlStore, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("license.db").display()
    );
    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    (dir, store, url)
}

#[tokio::test]
async fn sqlite_file_store_keeps_the_store_contract() {
    let (_dir, store, _) = on_file().await;
    store_contract(Arc::new(store)).await;
}

#[tokio::test]
async fn sqlite_memory_store_keeps_the_store_contract() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    store_contract(Arc::new(store)).await;
}

#[tokio::test]
async fn sqlite_store_keeps_the_shared_behaviours() {
    let (_dir, store, _) = on_file().await;
    common::all(&store).await;
}

#[tokio::test]
async fn migrations_are_idempotent_and_serialised_on_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("license.db").display()
    );
    let one = SqlStore::connect(&url).await.unwrap();
    let two = SqlStore::connect(&url).await.unwrap();
    let (x, y) = join(one.migrate(), two.migrate()).await;
    x.unwrap();
    y.unwrap();
    one.migrate().await.unwrap();
    common::tenant_with_license(&two).await;
}

/// Appends through separate pools on one file queue on its write lock (`BEGIN IMMEDIATE`):
/// none fails with "database is locked", none forks the chain.
#[tokio::test]
async fn event_log_writers_on_separate_pools_make_one_chain() {
    let (_dir, one, url) = on_file().await;
    let two = SqlStore::connect(&url).await.unwrap();
    let single = common::event_log::writers_on_separate_pools_make_one_chain(&[&one]).await;
    let pooled = common::event_log::writers_on_separate_pools_make_one_chain(&[&one, &two]).await;
    let memory = SqlStore::connect("sqlite::memory:").await.unwrap();
    memory.migrate().await.unwrap();
    let in_memory = common::event_log::writers_on_separate_pools_make_one_chain(&[&memory]).await;
    eprintln!(
        "sqlite: 8 writers x 5 batches x 3 entries: file, one pool {single:?}, two pools \
         {pooled:?}; memory {in_memory:?}"
    );
}

#[tokio::test]
async fn data_survives_reopening_the_file() {
    let (_dir, store, url) = on_file().await;
    let (a, l) = common::tenant_with_license(&store).await;
    drop(store);
    let reopened = SqlStore::connect(&url).await.unwrap();
    reopened.migrate().await.unwrap();
    assert_eq!(reopened.get_tenant(a.id).await.unwrap(), a);
    assert_eq!(reopened.get_license(a.id, l.id).await.unwrap(), l);
}

#[tokio::test]
async fn reapers_on_separate_pools_mark_each_session_once() {
    let (_dir, one, url) = on_file().await;
    let two = SqlStore::connect(&url).await.unwrap();
    let (a, l) = common::tenant_with_license(&one).await;
    let past = common::now() - TimeDelta::seconds(10);
    for i in 0..30 {
        one.insert_session(&common::session(&l, &format!("hw-{i}"), past), 1)
            .await
            .unwrap();
    }
    let at = common::now();
    let mut total = 0;
    loop {
        let (x, y) = join(
            one.expire_due(a.id, l.id, at, 4),
            two.expire_due(a.id, l.id, at, 4),
        )
        .await;
        let (x, y) = (x.unwrap().len(), y.unwrap().len());
        assert!(x <= 4 && y <= 4);
        total += x + y;
        if x + y == 0 {
            break;
        }
    }
    assert_eq!(total, 30);
}

#[tokio::test]
async fn debug_output_names_the_backend_only() {
    let (dir, store, _) = on_file().await;
    let shown = format!("{store:?}");
    assert!(shown.contains("Sqlite"), "{shown}");
    let path = dir.path().display().to_string();
    assert!(!shown.contains(&path), "{shown} shows the URL");
}
