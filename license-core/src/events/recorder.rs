//! The event log's writer side (ADR 0030): a sink that queues seat events in memory, bounded,
//! and a step that appends what is queued to the store's [`EventLogStore`] in batches, one
//! append per tenant. Emitting never waits: when the queue is full the event is dropped, counted
//! for metrics, and the tenant's log gets an `events_lost` entry with the count at the next
//! write — a drop is visible in the log itself. A failed append keeps its events queued for the
//! next step, so a store outage delays the log but loses nothing the queue could hold.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{EventSink, SeatEvent, SeatEventKind};
use crate::clock::Clock;
use crate::error::{Error, Resource, Result};
use crate::event_log::{EventLogStore, NewLogEntry};
use crate::ids::TenantId;

/// Events one step appends at most (over all tenants).
pub const BATCH: usize = 1_000;

#[derive(Debug, Default)]
struct Pending {
    events: VecDeque<SeatEvent>,
    /// Events dropped per tenant since its last append.
    lost: HashMap<TenantId, u64>,
}

/// What the event log's writer has done, for metrics.
#[derive(Debug, Default)]
pub struct RecorderStats {
    /// Entries appended to the store (`events_lost` entries included).
    pub written: AtomicU64,
    /// Events dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Appends that failed (their events stayed queued).
    pub failed_appends: AtomicU64,
}

/// The event log's queue and writer. Renewals are not logged one by one (a heartbeat every few
/// seconds per seat would dwarf every other event); the session's grant and end are.
///
/// ```
/// use std::sync::Arc;
/// use license_core::events::{EventRecorder, EventSink, SeatEvent, SeatEventKind};
/// use license_core::memory::MemoryStore;
/// use license_core::event_log::EventLogStore;
/// use license_core::*;
///
/// # futures::executor::block_on(async {
/// let store = Arc::new(MemoryStore::default());
/// let admin = AdminService::new(store.clone(), Arc::new(SystemClock));
/// let tenant = admin.create_tenant("Acme", &Actor::Operator).await?;
/// let recorder = EventRecorder::new(store.clone(), Arc::new(SystemClock), "replica-1", 100);
/// recorder.emit(&SeatEvent::new(chrono::Utc::now(), tenant.id, SeatEventKind::Granted { in_use: 1 }));
/// assert_eq!(recorder.write_pending().await?, 1);
/// let log = store.read_events(tenant.id, 0, 10).await?;
/// assert!(log[0].body.contains(r#""type":"granted""#));
/// # Ok::<(), Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct EventRecorder {
    store: Arc<dyn EventLogStore>,
    clock: Arc<dyn Clock>,
    replica: String,
    capacity: usize,
    pending: Mutex<Pending>,
    /// One step at a time: a tenant's batches are appended in the order they were taken, and
    /// a step that returns has seen every earlier step's append finish.
    writing: futures::lock::Mutex<()>,
    stats: RecorderStats,
}

impl EventRecorder {
    /// A recorder writing to `store` as `replica`, queueing at most `capacity` events.
    pub fn new(
        store: Arc<dyn EventLogStore>,
        clock: Arc<dyn Clock>,
        replica: impl Into<String>,
        capacity: usize,
    ) -> Self {
        Self {
            store,
            clock,
            replica: replica.into(),
            capacity: capacity.max(1),
            pending: Mutex::new(Pending::default()),
            writing: futures::lock::Mutex::new(()),
            stats: RecorderStats::default(),
        }
    }

    /// Its counters.
    pub fn stats(&self) -> &RecorderStats {
        &self.stats
    }

    /// Events waiting to be written.
    pub fn queued(&self) -> usize {
        self.lock().events.len()
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends up to [`BATCH`] queued events (and each tenant's count of lost ones) to the
    /// store, one append per tenant, oldest first. Returns the entries written. On a store
    /// failure the events not written go back to the front of the queue and the error is
    /// returned; events of a tenant that no longer exists are discarded. Steps run one at a
    /// time (a second waits for the first).
    pub async fn write_pending(&self) -> Result<usize> {
        let _writing = self.writing.lock().await;
        let (events, lost) = {
            let mut pending = self.lock();
            let n = pending.events.len().min(BATCH);
            let events: Vec<SeatEvent> = pending.events.drain(..n).collect();
            (events, std::mem::take(&mut pending.lost))
        };
        // Per tenant, in the order each first appears (a batch may span thousands of tenants).
        let mut tenants: Vec<(TenantId, Vec<SeatEvent>)> = Vec::new();
        let mut index: std::collections::HashMap<TenantId, usize> = Default::default();
        for event in events {
            match index
                .get(&event.tenant_id)
                .and_then(|&i| tenants.get_mut(i))
            {
                Some((_, list)) => list.push(event),
                None => {
                    index.insert(event.tenant_id, tenants.len());
                    tenants.push((event.tenant_id, vec![event]));
                }
            }
        }
        for tenant in lost.keys() {
            if !index.contains_key(tenant) {
                tenants.push((*tenant, Vec::new()));
            }
        }
        let mut written = 0;
        let mut groups = tenants.into_iter();
        while let Some((tenant, events)) = groups.next() {
            let mut entries: Vec<NewLogEntry> = events.iter().map(|e| self.entry(e)).collect();
            let lost_here = lost.get(&tenant).copied().unwrap_or(0);
            if lost_here > 0 {
                let marker = SeatEvent::new(
                    self.clock.now(),
                    tenant,
                    SeatEventKind::EventsLost { count: lost_here },
                );
                entries.push(self.entry(&marker));
            }
            let count = entries.len();
            match self.store.append_events(tenant, entries).await {
                Ok(_) => {
                    written += count;
                    self.stats
                        .written
                        .fetch_add(count as u64, Ordering::Relaxed);
                }
                // The tenant is gone: its events have no log to go to.
                Err(Error::NotFound(Resource::Tenant)) => {}
                Err(e) => {
                    self.stats.failed_appends.fetch_add(1, Ordering::Relaxed);
                    self.requeue(tenant, events, lost_here, groups.collect(), &lost);
                    return Err(e);
                }
            }
        }
        Ok(written)
    }

    /// Puts back what a failed step did not write, ahead of what arrived since.
    fn requeue(
        &self,
        failed: TenantId,
        events: Vec<SeatEvent>,
        lost_here: u64,
        rest: Vec<(TenantId, Vec<SeatEvent>)>,
        lost: &HashMap<TenantId, u64>,
    ) {
        let mut pending = self.lock();
        let later = std::iter::once((failed, events)).chain(rest);
        let mut back: Vec<SeatEvent> = Vec::new();
        for (tenant, events) in later {
            back.extend(events);
            let n = if tenant == failed {
                lost_here
            } else {
                lost.get(&tenant).copied().unwrap_or(0)
            };
            if n > 0 {
                *pending.lost.entry(tenant).or_default() += n;
            }
        }
        for event in back.into_iter().rev() {
            pending.events.push_front(event);
        }
    }

    fn entry(&self, event: &SeatEvent) -> NewLogEntry {
        NewLogEntry {
            at: event.at,
            replica: self.replica.clone(),
            // Serializing an event cannot fail (no maps with non-string keys, no floats).
            body: serde_json::to_string(event).unwrap_or_default(),
        }
    }
}

impl EventSink for EventRecorder {
    fn emit(&self, event: &SeatEvent) {
        if matches!(event.kind, SeatEventKind::Renewed) {
            return;
        }
        let mut pending = self.lock();
        if pending.events.len() >= self.capacity {
            *pending.lost.entry(event.tenant_id).or_default() += 1;
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            pending.events.push_back(event.clone());
        }
    }
}
