//! The event log's writer (ADR 0030): batched appends per tenant in order, renewals left out,
//! drops on record as `events_lost`, and a store outage that delays the log but loses nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use futures::executor::block_on;
use license_core::event_log::{EventLogStore, verify_chain};
use license_core::events::{EventRecorder, EventSink, SeatEvent, SeatEventKind};
use license_core::memory::MemoryStore;
use license_core::*;

fn setup(capacity: usize) -> (Arc<MemoryStore>, EventRecorder, TenantId, TenantId) {
    let store = Arc::new(MemoryStore::default());
    let admin = AdminService::new(store.clone(), Arc::new(SystemClock));
    let a = block_on(admin.create_tenant("A", &Actor::Operator)).unwrap();
    let b = block_on(admin.create_tenant("B", &Actor::Operator)).unwrap();
    let recorder = EventRecorder::new(store.clone(), Arc::new(SystemClock), "r1", capacity);
    (store, recorder, a.id, b.id)
}

fn event(tenant: TenantId, kind: SeatEventKind) -> SeatEvent {
    SeatEvent::new(chrono::Utc::now(), tenant, kind)
}

fn types(store: &MemoryStore, tenant: TenantId) -> Vec<String> {
    let log = block_on(store.read_events(tenant, 0, 1_000)).unwrap();
    assert_eq!(verify_chain(&log, None), Ok(()));
    log.iter()
        .map(|e| {
            let json: serde_json::Value = serde_json::from_str(&e.body).unwrap();
            json["type"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn events_are_appended_per_tenant_in_order_without_renewals() {
    let (store, recorder, a, b) = setup(100);
    recorder.emit(&event(a, SeatEventKind::Granted { in_use: 1 }));
    recorder.emit(&event(b, SeatEventKind::Held));
    recorder.emit(&event(a, SeatEventKind::Renewed));
    recorder.emit(&event(a, SeatEventKind::Released));
    assert_eq!(recorder.queued(), 3, "renewals are not logged");
    assert_eq!(block_on(recorder.write_pending()).unwrap(), 3);
    assert_eq!(types(&store, a), ["granted", "released"]);
    assert_eq!(types(&store, b), ["held"]);
    let entry = &block_on(store.read_events(a, 0, 1)).unwrap()[0];
    assert_eq!(entry.replica, "r1");
    assert_eq!(
        recorder
            .stats()
            .written
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    assert_eq!(
        block_on(recorder.write_pending()).unwrap(),
        0,
        "nothing left"
    );
}

#[test]
fn a_full_queue_drops_and_puts_the_count_on_record() {
    let (store, recorder, a, b) = setup(2);
    for _ in 0..2 {
        recorder.emit(&event(a, SeatEventKind::Granted { in_use: 1 }));
    }
    for kind in [
        SeatEventKind::Released,
        SeatEventKind::Expired { ended_at: None },
    ] {
        recorder.emit(&event(a, kind));
    }
    recorder.emit(&event(b, SeatEventKind::Released));
    assert_eq!(
        recorder
            .stats()
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    assert_eq!(block_on(recorder.write_pending()).unwrap(), 4);
    assert_eq!(types(&store, a), ["granted", "granted", "events_lost"]);
    // A tenant with nothing queued but a drop gets the count all the same.
    assert_eq!(types(&store, b), ["events_lost"]);
    let last = block_on(store.read_events(a, 2, 1)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&last[0].body).unwrap();
    assert_eq!(json["count"], 2);
}

#[test]
fn a_store_outage_delays_the_log_and_loses_nothing() {
    let (store, recorder, a, b) = setup(100);
    recorder.emit(&event(a, SeatEventKind::Granted { in_use: 1 }));
    recorder.emit(&event(b, SeatEventKind::Granted { in_use: 1 }));
    store.set_unavailable(true);
    match block_on(recorder.write_pending()) {
        Err(Error::Unavailable { .. }) => {}
        other => panic!("an outage is reported: {other:?}"),
    }
    recorder.emit(&event(a, SeatEventKind::Released));
    assert_eq!(recorder.queued(), 3, "kept for the next step");
    store.set_unavailable(false);
    assert_eq!(block_on(recorder.write_pending()).unwrap(), 3);
    assert_eq!(types(&store, a), ["granted", "released"], "still in order");
    assert_eq!(types(&store, b), ["granted"]);
}

#[test]
fn events_of_a_tenant_that_is_gone_are_discarded() {
    let (store, recorder, a, _) = setup(100);
    recorder.emit(&event(TenantId::new(), SeatEventKind::Held));
    recorder.emit(&event(a, SeatEventKind::Held));
    assert_eq!(block_on(recorder.write_pending()).unwrap(), 1);
    assert_eq!(types(&store, a), ["held"]);
    assert_eq!(recorder.queued(), 0);
}
