//! The seat queue as the ledger sees it (ADR 0029): an acquire may ask to wait for a seat.
//! Refused, it gets a *ticket* — a place ordered by priority, then arrival — and polls; each
//! poll is an acquire again. The acquire step alone enforces the order: a seat goes to an
//! asker only when the live tickets ahead of it that could take a seat (each judged by its own
//! [`SeatTally`](crate::SeatTally)) leave one for it. Nothing is handed to a ticket that does
//! not poll: a ticket not polled in time, or whose wait ended, is dropped.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ids::SessionId;
use crate::session::HardwareId;

/// Highest priority a policy may give (`priority N GROUP`). Bounded so adapters can order
/// tickets by one number.
pub const MAX_PRIORITY: u32 = 1_000;

/// How an acquire stands toward the license's queue.
///
/// ```
/// use std::time::Duration;
/// use license_core::{QueueMode, QueueRequest};
/// // A plain acquire: waits behind nobody of higher priority, never joins.
/// assert_eq!(QueueRequest::default().mode, QueueMode::Pass);
/// let join = QueueRequest {
///     priority: 5,
///     mode: QueueMode::Join {
///         wait: Duration::from_secs(600),
///         poll_within: Duration::from_secs(15),
///         max_length: 1_000,
///     },
/// };
/// assert_eq!(join.priority, 5);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueRequest {
    /// The asker's priority ([`MAX_PRIORITY`] at most): tickets of a higher priority come
    /// first; within one, the earlier arrival. A plain acquire stands behind every ticket of its
    /// priority or more.
    pub priority: u32,
    /// Whether it joins, polls or just passes.
    pub mode: QueueMode,
}

/// What an acquire does with the queue when no seat can be its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueueMode {
    /// A plain acquire: refused as usual, or `Limited(SeatLimit::Queued)` when it is only the
    /// queue that stands in its way.
    #[default]
    Pass,
    /// Wait: a ticket for the request's session (or its place kept, when it has one), answered
    /// [`Queued`](crate::AcquireOutcome::Queued).
    Join {
        /// Longest wait, from joining (a later join does not extend it).
        wait: Duration,
        /// The ticket is dropped unless asked for again within this.
        poll_within: Duration,
        /// Most tickets in the queue; a join past it is
        /// [`QueueFull`](crate::AcquireOutcome::QueueFull).
        max_length: u32,
    },
    /// A poll of the request's session's ticket: its place kept (for `poll_within` more), or
    /// [`TicketGone`](crate::AcquireOutcome::TicketGone) when it has none any more.
    Poll {
        /// The ticket is dropped unless asked for again within this.
        poll_within: Duration,
    },
    /// A poll that takes no seat: as [`Poll`](Self::Poll), but where a poll would be granted
    /// (a new seat, or the machine's lingering one) the answer is
    /// [`Turn`](crate::AcquireOutcome::Turn) and nothing but the ticket's poll deadline is
    /// written. The use case polls so first, and records a session (ADR 0017) only when the
    /// ticket's turn has come: a poll that stays queued writes nothing to the store.
    Peek {
        /// The ticket is dropped unless asked for again within this.
        poll_within: Duration,
    },
}

impl QueueRequest {
    /// A plain acquire at `priority`.
    pub fn pass(priority: u32) -> Self {
        Self {
            priority,
            mode: QueueMode::Pass,
        }
    }
}

/// A client waiting in a license's queue, as an administrator sees it
/// ([`SeatLedger::queue`](crate::SeatLedger::queue)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiter {
    /// Its ticket (the session id its lease will have).
    pub ticket: SessionId,
    /// The seat it waits for: its machine (or, under per-user or per-process leasing, the
    /// seat key the strategy made).
    pub hardware_id: HardwareId,
    /// Its priority.
    pub priority: u32,
    /// When its wait ends.
    pub wait_until: DateTime<Utc>,
    /// When it is dropped unless it polls again.
    pub poll_by: DateTime<Utc>,
}
