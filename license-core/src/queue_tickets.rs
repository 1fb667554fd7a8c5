//! The store's record of the seat queue's tickets (ADR 0029, "Record and rebuild"): a ticket
//! is recorded when a waiting acquire joins the queue and deleted when its wait ends, so that a
//! ledger that lost its state (Redis flushed, failed over) gets its queue back, in order, from
//! the store. Tickets hold no seat: the record is about order among waiters, never about the
//! seat count, so it is written *after* the ledger's join (a ticket lost in between only sends
//! its client to the back of the queue).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::seat_policy::SeatTally;
use crate::session::HardwareId;

/// A waiting client's ticket as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueTicket {
    /// The license's tenant.
    pub tenant_id: TenantId,
    /// The license whose queue it waits in.
    pub license_id: LicenseId,
    /// The ticket (the session id its lease will have).
    pub ticket: SessionId,
    /// The seat it waits for: its machine, or the seat key the leasing strategy made.
    pub seat: HardwareId,
    /// Its priority ([`MAX_PRIORITY`](crate::MAX_PRIORITY) at most).
    pub priority: u32,
    /// Its arrival number in the license's queue (the ledger's counter at the join): within
    /// a priority, the lower one is ahead.
    pub arrival: u64,
    /// When it joined.
    pub joined_at: DateTime<Utc>,
    /// When its wait ends: it is not restored after that, and the reaper deletes it.
    pub wait_until: DateTime<Utc>,
    /// What its seat would count toward and must respect: how the ledger judges whether it
    /// could take a seat.
    pub tally: SeatTally,
}

/// The queue's tickets in the store.
#[async_trait]
pub trait QueueTicketStore: Send + Sync {
    /// Records a ticket; recording one already recorded replaces it (a retried join).
    /// `NotFound(License)` unless its license is the tenant's.
    async fn record_ticket(&self, ticket: &QueueTicket) -> Result<()>;

    /// Deletes a ticket whose wait ended (granted, left, gone); `false` when it was not
    /// recorded (deleting twice is not an error).
    async fn delete_ticket(&self, tenant: TenantId, ticket: SessionId) -> Result<bool>;

    /// The license's tickets whose wait ends after `now`, in queue order: priority highest
    /// first, then arrival, then (should two share one) joining time and ticket id.
    async fn live_tickets(
        &self,
        tenant: TenantId,
        license: LicenseId,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueueTicket>>;

    /// Deletes at most `limit` of the tenant's tickets whose wait ended at or before `before`
    /// and returns how many this call deleted. Safe to run concurrently; callers loop.
    async fn delete_expired_tickets(
        &self,
        tenant: TenantId,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64>;
}
