//! The server's event sinks: seat events become Prometheus counters at once (atomic counters
//! never block), and a line each in the event log (`target: "license_events"`, JSON in
//! production) from a thread of its own behind a bounded queue, so a slow log never slows a
//! request. Events the queue had no room for are counted (`license_events_dropped_total`).

use std::sync::Arc;
use std::thread;

use license_core::events::{
    DenialReason, EventQueue, EventReceiver, EventSink, EventSinks, SeatEvent, SeatEventKind,
};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tracing::{info, warn};

/// Events the log queue holds before it drops: about a second of a busy node's events.
pub const LOG_QUEUE_CAPACITY: usize = 10_000;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabels {
    pub(crate) outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TypeLabels {
    pub(crate) r#type: &'static str,
}

/// Counts seat outcomes from events: `license_acquires_total` (granted, idempotent,
/// no_seats and the policy's limits, excluded, evicted), `license_heartbeats_total` (renewed) and `license_seat_events_total` by type.
/// Failures that are no event (a dependency down, a session already ended) are counted by
/// the handler from its result.
#[derive(Clone, Debug)]
pub struct MetricsSink {
    pub(crate) acquires: Family<OutcomeLabels, Counter>,
    pub(crate) heartbeats: Family<OutcomeLabels, Counter>,
    pub(crate) events: Family<TypeLabels, Counter>,
}

impl MetricsSink {
    fn outcome(family: &Family<OutcomeLabels, Counter>, outcome: &'static str) {
        family.get_or_create(&OutcomeLabels { outcome }).inc();
    }
}

impl EventSink for MetricsSink {
    fn emit(&self, event: &SeatEvent) {
        self.events
            .get_or_create(&TypeLabels {
                r#type: event.kind.name(),
            })
            .inc();
        match &event.kind {
            SeatEventKind::Granted { .. } => Self::outcome(&self.acquires, "granted"),
            SeatEventKind::Held => Self::outcome(&self.acquires, "idempotent"),
            SeatEventKind::Denied { reason } => {
                if let Some(outcome) = refusal_outcome(*reason) {
                    Self::outcome(&self.acquires, outcome);
                }
            }
            SeatEventKind::Renewed => Self::outcome(&self.heartbeats, "renewed"),
            _ => {}
        }
    }
}

/// The acquire outcome label of a denial the handler does not count itself: a refusal for
/// want of a seat names the limit (ADR 0026); inactive licenses and the rest are the
/// handler's `error`.
fn refusal_outcome(reason: DenialReason) -> Option<&'static str> {
    Some(match reason {
        DenialReason::NoSeats => "no_seats",
        DenialReason::Evicted => "evicted",
        DenialReason::Excluded => "excluded",
        DenialReason::GroupMax => "group_max",
        DenialReason::UserMax => "user_max",
        DenialReason::HostMax => "host_max",
        DenialReason::ProcessesPerHost => "processes_per_host",
        DenialReason::ReservedForOthers => "reserved_for_others",
        DenialReason::Queued => "queued",
        DenialReason::QueueFull => "queue_full",
        _ => return None,
    })
}

/// The event log's queue, kept to read its drop count at each scrape.
pub type LogQueue = Arc<EventQueue>;

/// Every sink of the server: the metrics, then the event log behind its bounded queue. The
/// log thread ends when the last sender (the returned sinks) is dropped.
pub fn sinks(metrics: MetricsSink) -> (EventSinks, LogQueue) {
    let (queue, receiver) = EventQueue::bounded(LOG_QUEUE_CAPACITY);
    let queue = Arc::new(queue);
    spawn_log(receiver);
    let sinks = EventSinks::none()
        .with(Arc::new(metrics))
        .with(queue.clone());
    (sinks, queue)
}

fn spawn_log(receiver: EventReceiver) {
    let spawned = thread::Builder::new()
        .name("event-log".into())
        .spawn(move || {
            while let Some(event) = receiver.recv() {
                log(&event);
            }
        });
    if let Err(e) = spawned {
        // Without the thread the queue fills and every event is counted as dropped.
        warn!(error = %e, "could not start the event log thread; events are not logged");
    }
}

/// One log line per event: the type and ids as fields, the whole event as JSON.
fn log(event: &SeatEvent) {
    let json = serde_json::to_string(event).unwrap_or_default();
    info!(
        target: "license_events",
        r#type = event.kind.name(),
        tenant_id = %event.tenant_id,
        license_id = event.license_id.map(tracing::field::display),
        session_id = event.session_id.map(tracing::field::display),
        event = %json,
        "seat event"
    );
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use license_core::TenantId;

    use super::*;

    fn sink() -> MetricsSink {
        MetricsSink {
            acquires: Family::default(),
            heartbeats: Family::default(),
            events: Family::default(),
        }
    }

    #[test]
    fn outcomes_are_counted_from_events() {
        let metrics = sink();
        let tenant = TenantId::new();
        for kind in [
            SeatEventKind::Granted { in_use: 1 },
            SeatEventKind::Held,
            SeatEventKind::Denied {
                reason: DenialReason::NoSeats,
            },
            SeatEventKind::Denied {
                reason: DenialReason::LicenseRevoked,
            },
            SeatEventKind::Renewed,
        ] {
            metrics.emit(&SeatEvent::new(Utc::now(), tenant, kind));
        }
        let count = |family: &Family<OutcomeLabels, Counter>, outcome| {
            family.get_or_create(&OutcomeLabels { outcome }).get()
        };
        assert_eq!(count(&metrics.acquires, "granted"), 1);
        assert_eq!(count(&metrics.acquires, "idempotent"), 1);
        assert_eq!(count(&metrics.acquires, "no_seats"), 1);
        assert_eq!(count(&metrics.heartbeats, "renewed"), 1);
        let denied = metrics
            .events
            .get_or_create(&TypeLabels { r#type: "denied" })
            .get();
        assert_eq!(denied, 2, "every event is counted by type");
    }

    #[test]
    fn the_log_queue_drains_on_its_own_thread() {
        let (sinks, queue) = sinks(sink());
        for _ in 0..3 {
            sinks.emit(&SeatEvent::new(
                Utc::now(),
                TenantId::new(),
                SeatEventKind::Released,
            ));
        }
        assert_eq!(queue.dropped(), 0);
    }
}
