//! The event log beyond the contract: appends from separate pools (replicas) and batches
//! larger than one `INSERT`.

use std::time::{Duration, Instant};

use futures::future::join_all;
use license_core::Store;
use license_core::event_log::{NewLogEntry, verify_chain};

fn entry(replica: &str, n: usize) -> NewLogEntry {
    NewLogEntry {
        at: super::now(),
        replica: replica.into(),
        body: format!(r#"{{"type":"granted","n":{n}}}"#),
    }
}

/// The contract's concurrent rule (8 writers × 5 batches × 3 entries on one tenant), with the
/// writers spread over `stores` (one pool each, like replicas): one unbroken chain. Returns
/// how long the appends took.
pub async fn writers_on_separate_pools_make_one_chain(stores: &[&dyn Store]) -> Duration {
    let t = super::tenant(stores[0]).await;
    let started = Instant::now();
    let writers = (0..8).map(|w| {
        let store = stores[w % stores.len()];
        let replica = format!("r{w}");
        async move {
            for round in 0..5 {
                let batch = (0..3).map(|n| entry(&replica, round * 3 + n)).collect();
                store.append_events(t.id, batch).await.unwrap();
            }
        }
    });
    join_all(writers).await;
    let took = started.elapsed();
    let log = stores[0].read_events(t.id, 0, 1_000).await.unwrap();
    assert_eq!(log.len(), 8 * 5 * 3, "every entry kept once");
    assert_eq!(verify_chain(&log, None), Ok(()), "one unbroken chain");
    took
}

/// A batch larger than one multi-row `INSERT` is numbered and linked across the chunks.
pub async fn a_large_batch_spans_several_inserts(store: &dyn Store) {
    let t = super::tenant(store).await;
    store
        .append_events(t.id, vec![entry("r1", 0)])
        .await
        .unwrap();
    let batch = (1..=1_200).map(|n| entry("r1", n)).collect();
    assert_eq!(store.append_events(t.id, batch).await.unwrap(), 1_201);
    let mut log = Vec::new();
    loop {
        let after = log
            .last()
            .map_or(0, |e: &license_core::event_log::LogEntry| e.seq);
        let page = store.read_events(t.id, after, 500).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 500);
        log.extend(page);
    }
    assert_eq!(log.len(), 1_201);
    assert_eq!(verify_chain(&log, None), Ok(()));
    assert_eq!(store.append_events(t.id, vec![]).await.unwrap(), 1_201);
}
