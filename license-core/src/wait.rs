//! Waiting for a seat (ADR 0029): an acquire that may wait joins the license's queue when no
//! seat is its own, and polls its ticket by asking again with it; its turn comes when the
//! tickets ahead of it that could take a seat have theirs. Tickets hold no seat: the acquire
//! step of the ledger alone keeps the order.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::warn;

use crate::acquire::Applicant;
use crate::audit::Actor;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{QueueEndReason, SeatEvent, SeatEventKind};
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::license::LicenseKey;
use crate::queue_tickets::QueueTicket;
use crate::seat_ledger::{AcquireOutcome, LedgerKey, SeatRequest};
use crate::seat_queue::Waiter;
use crate::seat_queue::{QueueMode, QueueRequest};
use crate::service::{Lease, LicenseService, ledger_key};
use crate::session::Session;

/// What acquire with a wait can return: acquire's errors, and a poll of a ticket that is gone.
pub const ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::LicenseInactive,
    ErrorKind::NoSeatsAvailable,
    ErrorKind::Excluded,
    ErrorKind::InvalidInput,
    ErrorKind::HeldOff,
    ErrorKind::Conflict,
    ErrorKind::TicketGone,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// What leaving the queue can return.
pub const LEAVE_ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// What listing a license's queue can return.
pub const QUEUE_ERRORS: &[ErrorKind] = &[
    ErrorKind::NotFound,
    ErrorKind::Unavailable,
    ErrorKind::Internal,
];

/// Most waiters one listing shows.
pub const QUEUE_LISTING_LIMIT: usize = 1_000;

/// A ticket not asked for again within this is dropped (a client that stopped waiting).
pub const POLL_WITHIN: Duration = Duration::from_secs(15);
/// How often a waiting client should ask again: a freed seat waits at most this long for
/// the ticket whose turn it is.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// How an acquire waits for a seat.
///
/// ```
/// use license_core::SeatWait;
/// let first = SeatWait { seconds: 600, ticket: None };
/// assert!(first.ticket.is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeatWait {
    /// How long the client will wait for a seat, at most the license's `max_wait_seconds`
    /// (a longer wait is cut to it; 0, or a license without a queue: no wait).
    pub seconds: u32,
    /// The ticket an earlier answer gave: this acquire polls it.
    pub ticket: Option<SessionId>,
}

/// The answer to an acquire that may wait.
#[derive(Debug)]
pub enum Acquired {
    /// A seat.
    Lease(Box<Lease>),
    /// No seat yet: the client waits in the queue.
    Waiting(QueuePlace),
}

/// A client's place in a license's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuePlace {
    /// The ticket to poll with (it becomes the lease's session id when its turn comes).
    pub ticket: SessionId,
    /// 1 for the next in line.
    pub position: u32,
    /// When the wait ends.
    pub wait_until: DateTime<Utc>,
    /// Ask again after this long ([`POLL_EVERY`]) …
    pub poll_after: Duration,
    /// … and within this long ([`POLL_WITHIN`]), or the ticket is dropped.
    pub poll_within: Duration,
}

impl LicenseService {
    /// [`acquire_as`](Self::acquire_as) that may wait for a seat: refused, the client joins
    /// the license's queue (priority from the license's policy, then arrival) and gets its
    /// place ([`Acquired::Waiting`]); it asks again with `wait.ticket` set, within
    /// [`POLL_WITHIN`], until it gets a seat ([`Acquired::Lease`], whose session id is the
    /// ticket) or the wait ends ([`Error::TicketGone`]). Under a license without a queue, or
    /// with `wait.seconds` 0, it is a plain acquire.
    ///
    /// Errors: see [`ERRORS`]; a full queue is `no_seats_available` naming `queue_full`.
    pub async fn acquire_waiting(
        &self,
        tenant: TenantId,
        holder: &Actor,
        key: &LicenseKey,
        applicant: &Applicant,
        wait: SeatWait,
    ) -> Result<Acquired> {
        let license = self
            .policy
            .by_key(self.licenses.as_ref(), tenant, key)
            .await?;
        self.take_seat(&license, holder, applicant, None, Some(wait))
            .await
    }

    /// Ends a client's wait in the queue of the license with `key`; `false` when the ticket
    /// was not waiting (any more). Tickets are random and handed only to their client, so
    /// holding one is the right to end it.
    ///
    /// Errors: see [`LEAVE_ERRORS`].
    pub async fn leave_queue(
        &self,
        tenant: TenantId,
        key: &LicenseKey,
        ticket: SessionId,
    ) -> Result<bool> {
        let license = self
            .policy
            .by_key(self.licenses.as_ref(), tenant, key)
            .await?;
        // A ledger that lost its state has no queue left to leave; the store's record goes
        // either way, or a rebuild would bring the ticket back.
        let left = self.ledger.leave(&ledger_key(&license), ticket).await?;
        self.end_ticket(tenant, ticket).await;
        if left {
            let kind = SeatEventKind::QueueEnded {
                reason: QueueEndReason::Left,
            };
            let event = SeatEvent::new(self.clock.now(), tenant, kind)
                .license(license.id)
                .session(ticket);
            self.emit(event);
        }
        Ok(left)
    }
}

impl LicenseService {
    /// Who waits in the license's queue now, first in line first (at most
    /// [`QUEUE_LISTING_LIMIT`]).
    ///
    /// Errors: see [`QUEUE_ERRORS`].
    pub async fn queue(&self, tenant: TenantId, license_id: LicenseId) -> Result<Vec<Waiter>> {
        let license = self.licenses.get_license(tenant, license_id).await?;
        self.ledger
            .queue(&ledger_key(&license), QUEUE_LISTING_LIMIT)
            .await
    }
}

impl LicenseService {
    /// Records a ticket the ledger just made. If the store cannot take it, the ticket leaves
    /// the ledger's queue again and the acquire fails as on any store failure; should the
    /// leave fail too, the ticket lapses at its poll deadline (its client got no ticket to
    /// poll with).
    pub(crate) async fn record_ticket(&self, key: &LedgerKey, ticket: &QueueTicket) -> Result<()> {
        if let Err(e) = self.tickets.record_ticket(ticket).await {
            if let Err(left) = self.ledger.leave(key, ticket.ticket).await {
                warn!(error = %left, ticket = %ticket.ticket, "could not withdraw an unrecorded ticket; it lapses unpolled");
            }
            return Err(e);
        }
        Ok(())
    }

    /// Deletes the record of a ticket whose wait ended. A record left behind (the store
    /// failed) only comes back after a rebuild, unpolled, until its poll deadline or its wait's
    /// end (the reaper deletes it then).
    pub(crate) async fn end_ticket(&self, tenant: TenantId, ticket: SessionId) {
        if let Err(e) = self.tickets.delete_ticket(tenant, ticket).await {
            warn!(error = %e, %ticket, "could not delete an ended ticket's record");
        }
    }

    /// A poll's first step: whether the ticket's turn has come, taking no seat
    /// ([`QueueMode::Peek`]). `Some` answer when it still waits (its place) or its ticket is
    /// gone (the record deleted, the wait's end told); `None` when the poll goes on to take
    /// the seat (its turn, or an answer the poll gives alike: held, held off). `session` is the
    /// one the grant would make, for the event.
    pub(crate) async fn peek(
        &self,
        key: &LedgerKey,
        request: &SeatRequest,
        queue: &QueueRequest,
        session: Session,
    ) -> Result<Option<Result<Acquired>>> {
        let QueueMode::Poll { poll_within } = queue.mode else {
            return Ok(None);
        };
        let peek = QueueRequest {
            mode: QueueMode::Peek { poll_within },
            ..*queue
        };
        let outcome = self
            .with_rebuild(key, || self.ledger.acquire_queued(key, request, &peek))
            .await?;
        Ok(match outcome {
            AcquireOutcome::Queued {
                position,
                wait_until,
                ..
            } => Some(Ok(Acquired::Waiting(QueuePlace {
                ticket: request.session_id,
                position,
                wait_until,
                poll_after: POLL_EVERY,
                poll_within: POLL_WITHIN,
            }))),
            AcquireOutcome::TicketGone => {
                self.end_ticket(session.tenant_id, session.id).await;
                let kind = SeatEventKind::QueueEnded {
                    reason: QueueEndReason::Gone,
                };
                self.emit(self.session_event(&session, kind));
                Some(Err(Error::TicketGone))
            }
            _ => None,
        })
    }
}

impl Acquired {
    /// The lease of an acquire that could not wait.
    pub(crate) fn into_lease(self) -> Result<Lease> {
        match self {
            Acquired::Lease(lease) => Ok(*lease),
            Acquired::Waiting(_) => Err(Error::Internal(
                "an acquire that may not wait was queued".into(),
            )),
        }
    }
}
