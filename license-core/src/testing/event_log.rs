//! The event log in the `Store` contract: entries numbered from 1 without gaps and linked per
//! tenant, kept byte for byte, read in ranges; replicas appending at once never fork a chain.

use futures::future::join_all;

use super::store::{now, ok, tenant};
use crate::error::{Error, Resource};
use crate::event_log::{ChainHash, NewLogEntry, verify_chain};
use crate::ids::TenantId;
use crate::store::Store;

fn entry(replica: &str, n: usize) -> NewLogEntry {
    NewLogEntry {
        at: now(),
        replica: replica.into(),
        // Text a re-serialization would change (spacing, key order, escapes): kept as is.
        body: format!(r#"{{"type":"granted", "n":{n},"a":"é\u00e9"}}"#),
    }
}

pub(super) async fn event_log(store: &dyn Store) {
    let a = tenant(store, "Weyland").await;
    let b = tenant(store, "Yutani").await;
    assert_eq!(
        ok(store.read_events(a.id, 0, 10).await, "empty log"),
        [],
        "a new tenant's log is empty"
    );
    assert_eq!(ok(store.append_events(a.id, vec![]).await, "nothing"), 0);
    let batch: Vec<_> = (0..3).map(|n| entry("r1", n)).collect();
    assert_eq!(
        ok(store.append_events(a.id, batch.clone()).await, "append"),
        3
    );
    assert_eq!(
        ok(store.append_events(b.id, vec![entry("r2", 9)]).await, "b"),
        1
    );
    assert_eq!(
        ok(
            store.append_events(a.id, vec![entry("r2", 3)]).await,
            "more"
        ),
        4
    );
    let log = ok(store.read_events(a.id, 0, 100).await, "read");
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(log[0].prev_hash, ChainHash::GENESIS);
    assert_eq!(log[1].body, batch[1].body, "the body is kept byte for byte");
    assert_eq!(log[3].replica, "r2");
    assert_eq!(verify_chain(&log, None), Ok(()), "one chain per tenant");
    let range = ok(store.read_events(a.id, 1, 2).await, "range");
    assert_eq!(range.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(ok(store.read_events(a.id, 4, 10).await, "past the end"), []);
    let theirs = ok(store.read_events(b.id, 0, 10).await, "b's");
    assert_eq!(theirs.len(), 1, "b sees only its own log");
    assert_eq!(
        theirs[0].prev_hash,
        ChainHash::GENESIS,
        "b's chain starts anew"
    );
    match store
        .append_events(TenantId::new(), vec![entry("r1", 0)])
        .await
    {
        Err(Error::NotFound(Resource::Tenant)) => {}
        other => panic!("appending to no tenant: {other:?}"),
    }
    concurrent_appends_never_fork_the_chain(store).await;
}

/// Eight writers (replicas) appending batches to one tenant at once: every entry numbered
/// once, in one chain.
async fn concurrent_appends_never_fork_the_chain(store: &dyn Store) {
    let t = tenant(store, "Concurrent").await;
    let writers = (0..8).map(|w| {
        let replica = format!("r{w}");
        async move {
            for round in 0..5 {
                let batch = (0..3).map(|n| entry(&replica, round * 3 + n)).collect();
                ok(store.append_events(t.id, batch).await, "concurrent append");
            }
        }
    });
    join_all(writers).await;
    let log = ok(store.read_events(t.id, 0, 1_000).await, "read all");
    assert_eq!(log.len(), 8 * 5 * 3, "every entry kept once");
    assert_eq!(verify_chain(&log, None), Ok(()), "one unbroken chain");
}
