//! Where events go: the [`EventSink`] port, a fan-out to several sinks, a bounded queue in
//! front of a slow consumer, and an in-memory recorder for tests and embedding.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

use super::SeatEvent;

/// A subscriber to seat events. `emit` must return at once: a sink that does slow work hands
/// the event to its own bounded queue ([`EventQueue`]) and drops it, counted, when full.
pub trait EventSink: Send + Sync + fmt::Debug {
    /// Takes one event. Never blocks, never fails.
    fn emit(&self, event: &SeatEvent);
}

/// Sends each event to every sink, in order.
#[derive(Clone, Debug, Default)]
pub struct EventSinks {
    sinks: Vec<Arc<dyn EventSink>>,
}

impl EventSinks {
    /// No sinks: events go nowhere.
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds a sink.
    pub fn with(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.sinks.push(sink);
        self
    }
}

impl EventSink for EventSinks {
    fn emit(&self, event: &SeatEvent) {
        for sink in &self.sinks {
            sink.emit(event);
        }
    }
}

/// A bounded queue in front of a slow consumer: `emit` never waits; when the queue is full the
/// event is dropped and counted. The consumer drains the [`EventReceiver`] on its own thread.
#[derive(Debug)]
pub struct EventQueue {
    sender: SyncSender<SeatEvent>,
    dropped: AtomicU64,
}

/// The consumer's end of an [`EventQueue`].
#[derive(Debug)]
pub struct EventReceiver(Receiver<SeatEvent>);

impl EventQueue {
    /// A queue holding at most `capacity` events (at least 1).
    pub fn bounded(capacity: usize) -> (Self, EventReceiver) {
        let (sender, receiver) = sync_channel(capacity.max(1));
        let queue = Self {
            sender,
            dropped: AtomicU64::new(0),
        };
        (queue, EventReceiver(receiver))
    }

    /// Events dropped because the queue was full or its consumer gone.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl EventSink for EventQueue {
    fn emit(&self, event: &SeatEvent) {
        match self.sender.try_send(event.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl EventReceiver {
    /// The next event, waiting for it; `None` once every queue end is gone.
    pub fn recv(&self) -> Option<SeatEvent> {
        self.0.recv().ok()
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<SeatEvent> {
        self.0.try_recv().ok()
    }
}

/// A sink that keeps up to `capacity` events in memory, for tests and embedding.
#[derive(Debug)]
pub struct MemoryEvents {
    events: Mutex<Vec<SeatEvent>>,
    capacity: usize,
    dropped: AtomicU64,
}

impl MemoryEvents {
    /// Keeps at most `capacity` events; later ones are dropped and counted.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            events: Mutex::new(Vec::new()),
            capacity,
            dropped: AtomicU64::new(0),
        }
    }

    /// The events kept so far, oldest first.
    pub fn events(&self) -> Vec<SeatEvent> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The `type` of each event kept, oldest first.
    pub fn names(&self) -> Vec<&'static str> {
        self.events().iter().map(|e| e.kind.name()).collect()
    }

    /// Events dropped for lack of room.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Default for MemoryEvents {
    fn default() -> Self {
        Self::with_capacity(10_000)
    }
}

impl EventSink for MemoryEvents {
    fn emit(&self, event: &SeatEvent) {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        if events.len() < self.capacity {
            events.push(event.clone());
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::events::SeatEventKind;
    use crate::ids::TenantId;

    fn event(kind: SeatEventKind) -> SeatEvent {
        SeatEvent::new(Utc::now(), TenantId::new(), kind)
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let (queue, receiver) = EventQueue::bounded(2);
        for _ in 0..5 {
            queue.emit(&event(SeatEventKind::Renewed));
        }
        assert_eq!(queue.dropped(), 3);
        assert!(receiver.try_recv().is_some());
        assert!(receiver.try_recv().is_some());
        assert!(receiver.try_recv().is_none());
        drop(receiver);
        queue.emit(&event(SeatEventKind::Renewed));
        assert_eq!(queue.dropped(), 4, "a gone consumer counts as a drop");
    }
}
