//! The `SeatLedger` port: the atomic counter of live seats per license.
//!
//! Every call is one atomic step in the backend. The ledger — not the store — decides whether a
//! seat is free, and it keeps its own time (Redis uses `TIME`), so every expiry it returns is the
//! one that counts.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::ids::{LicenseId, SessionId, TenantId};
use crate::queue_tickets::QueueTicket;
use crate::seat_policy::{SeatLimit, SeatTally};
use crate::seat_queue::{QueueRequest, Waiter};
use crate::session::{HardwareId, LiveSeat};

/// Which license's seats a call is about. Tenant-scoped like everything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LedgerKey {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The license.
    pub license_id: LicenseId,
}

/// A request for one seat.
#[derive(Clone, Debug)]
pub struct SeatRequest {
    /// The session that will hold the seat if granted.
    pub session_id: SessionId,
    /// The machine asking: a live seat of the same machine is returned instead of a second one.
    pub hardware_id: HardwareId,
    /// The person asking, as hold-offs name them ([`UserRef`]); `None` when unknown. A machine
    /// or a person held off after an eviction gets [`AcquireOutcome::Evicted`].
    pub user: Option<UserRef>,
    /// Most live seats allowed (seats plus overdraft).
    pub limit: u32,
    /// How long the seat lives without renewal (for a borrow: the borrow period).
    pub ttl: Duration,
    /// `Some(max)`: a borrow, granted only while fewer than `max` borrowed seats are live
    /// (else [`AcquireOutcome::NoBorrowSeats`]). A borrowed seat needs no renewal.
    pub borrow: Option<u32>,
    /// What the seat counts toward and the policy limits its grant must respect, checked with
    /// [`SeatTally::check`] in the same atomic step (else [`AcquireOutcome::Limited`]).
    /// Empty for a license without policy.
    pub tally: SeatTally,
}

/// A person as the ledger's hold-offs name them: `email:<address>` or `sub:<OIDC subject>`
/// (built by the use cases; adapters store a digest of it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserRef(pub String);

/// What kind of seat a live seat is: renewed by heartbeats, borrowed for a period, or
/// lingering after its release for the machine that released it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SeatKind {
    /// An ordinary seat, renewed by heartbeats.
    #[default]
    Held,
    /// Borrowed until its expiry; counts against the license's borrow cap.
    Borrowed,
    /// Released, but kept for its machine until its expiry: an acquire of that machine takes
    /// it over at once; everyone else sees it taken.
    Lingering,
}

/// An eviction's hold-off as the admin asks for it: the evicted machine (and person) may not
/// acquire for `duration`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    /// The person held off too, when the session named one.
    pub user: Option<UserRef>,
    /// How long, from the ledger's now.
    pub duration: Duration,
    /// Why, as the administrator said it (returned to the held-off client).
    pub reason: String,
}

/// A hold-off in force, as the store restores it into a rebuilt ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldOff {
    /// The evicted machine.
    pub hardware_id: HardwareId,
    /// The evicted person, when known.
    pub user: Option<UserRef>,
    /// When it ends.
    pub until: DateTime<Utc>,
    /// Why.
    pub reason: String,
}

/// A seat held by a session: what renew and release name. The machine is part of it so a
/// backend can keep one compact entry per seat (its machine index) instead of a second map
/// from session to machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeatRef<'a> {
    /// The session holding the seat.
    pub session_id: SessionId,
    /// The machine it was granted to.
    pub hardware_id: &'a HardwareId,
}

impl<'a> SeatRef<'a> {
    /// The seat `session_id` holds for `hardware_id`.
    pub fn new(session_id: SessionId, hardware_id: &'a HardwareId) -> Self {
        Self {
            session_id,
            hardware_id,
        }
    }
}

impl SeatRequest {
    /// The seat this request asks for, as renew and release name it.
    pub fn seat(&self) -> SeatRef<'_> {
        SeatRef::new(self.session_id, &self.hardware_id)
    }
}

/// The answer to [`SeatLedger::acquire`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcquireOutcome {
    /// A new seat for the requested session.
    Granted {
        /// When it frees itself unless renewed.
        expires_at: DateTime<Utc>,
        /// Seats in use right after the grant (for the daily peak).
        in_use: u32,
    },
    /// The machine's lingering seat went to the requesting session (its machine took it back):
    /// a new seat for the session, the count unchanged. `lingering`, the released session
    /// that held it, lingers no more.
    TookBack {
        /// When it frees itself unless renewed.
        expires_at: DateTime<Utc>,
        /// Seats in use (unchanged by the takeover).
        in_use: u32,
        /// The released session whose linger this ends.
        lingering: SessionId,
    },
    /// The machine (or the session id) already holds a live seat; nothing changed.
    AlreadyHeld {
        /// The session holding it.
        session_id: SessionId,
        /// Its current expiry.
        expires_at: DateTime<Utc>,
    },
    /// Every seat is taken.
    NoSeats,
    /// A seat is free, but a limit of the license's policy refuses it ([`SeatLimit`], never
    /// `Seats`); nothing changed.
    Limited(SeatLimit),
    /// A borrow, while the license's most borrowed seats are live; nothing changed.
    NoBorrowSeats,
    /// The machine or the person is held off after an eviction; nothing changed.
    Evicted {
        /// When the hold-off ends.
        until: DateTime<Utc>,
        /// Why, as the administrator said it.
        reason: String,
    },
    /// No seat now; the session waits in the license's queue (ADR 0029): a
    /// [`QueueMode::Join`](crate::QueueMode::Join) or a [`Poll`](crate::QueueMode::Poll) of a
    /// live ticket.
    Queued {
        /// 1 for the next in line.
        position: u32,
        /// When the wait ends (the ticket is dropped then).
        wait_until: DateTime<Utc>,
        /// The ticket's arrival number in the license's queue (within a priority, the lower
        /// is ahead): what the store records, so a rebuild restores the same order.
        arrival: u64,
    },
    /// A [`Peek`](crate::QueueMode::Peek) whose ticket would get a seat now: nothing was
    /// granted; poll again with a recorded session to take it.
    Turn,
    /// A join while the queue holds its most tickets; nothing changed.
    QueueFull,
    /// A poll of a ticket that is gone: its wait ended, it was not polled in time, or it left.
    TicketGone,
    /// The ledger lost its state for this license: rebuild it from the store, then retry.
    Rebuild,
}

/// The answer to [`SeatLedger::renew`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenewOutcome {
    /// Renewed until `expires_at`.
    Renewed {
        /// The new expiry.
        expires_at: DateTime<Utc>,
    },
    /// The session holds no seat (expired, released, or never granted).
    Expired,
    /// The ledger lost its state for this license: rebuild it from the store, then retry.
    Rebuild,
}

/// The answer to [`SeatLedger::live_count`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveCount {
    /// Seats in use now.
    Count(u32),
    /// The ledger lost its state for this license: rebuild it from the store, then retry.
    Rebuild,
}

/// The answer to [`SeatLedger::rebuild`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebuildOutcome {
    /// The seats were replaced by the given live sessions.
    Rebuilt,
    /// Another caller rebuilt first; the given sessions were ignored.
    AlreadyInitialised,
}

/// The atomic seat counter. Implementations: in-memory (`license_core::memory`), Redis
/// (`license-seats-redis`).
///
/// Contract (checked by `testing::seat_ledger_contract` for every adapter):
/// - never more than `limit` live seats per key, whatever the concurrency;
/// - a seat not renewed within its TTL is free again without any other call;
/// - `acquire` with a hardware id (or session id) that holds a live seat returns
///   [`AcquireOutcome::AlreadyHeld`] and takes no second seat — except a [lingering](SeatKind)
///   seat, which the acquire takes over ([`AcquireOutcome::TookBack`], the count unchanged);
/// - at most `borrow` borrowed seats at once; a borrowed seat is never shortened by `renew`;
/// - a grant adds one to each counter of its request's [`SeatTally`], and the seat's end
///   (release, eviction, expiry, a take-back) takes it off again; a grant is refused when
///   [`SeatTally::check`] says so, given the live counts (lingering seats count until they
///   free);
/// - after `evict` with a hold, `acquire` of that machine or person answers
///   [`AcquireOutcome::Evicted`] until the hold ends;
/// - a new seat goes to an asker only when the live tickets ahead of it (higher priority, or
///   the same and earlier arrival) that could each take a seat by their own tally — taken in
///   order, each counted as if granted — leave one for it; a ticket is dropped when its wait
///   ends or it is not polled within its `poll_within`; granted, evicted or already holding a
///   seat, an asker's ticket ends;
/// - after the backend lost its state, every call on that key answers `Rebuild` until
///   [`SeatLedger::rebuild`] has run, and `rebuild` only applies when the state is missing, so a
///   late rebuild from an older snapshot cannot drop seats granted since.
#[async_trait]
pub trait SeatLedger: Send + Sync + std::fmt::Debug {
    /// Takes a seat for `request.session_id`, or says why not: a plain acquire
    /// ([`QueueRequest::pass`] at priority 0), behind every waiting ticket.
    async fn acquire(&self, key: &LedgerKey, request: &SeatRequest) -> Result<AcquireOutcome> {
        self.acquire_queued(key, request, &QueueRequest::default())
            .await
    }

    /// [`acquire`](Self::acquire) standing at `queue.priority` in the license's queue, and,
    /// refused, joining it or polling its ticket as `queue.mode` says (ADR 0029). The ticket is
    /// `request.session_id`'s; it holds no seat and counts toward nothing.
    async fn acquire_queued(
        &self,
        key: &LedgerKey,
        request: &SeatRequest,
        queue: &QueueRequest,
    ) -> Result<AcquireOutcome>;

    /// Ends `ticket`'s wait. `false` when it had none.
    async fn leave(&self, key: &LedgerKey, ticket: SessionId) -> Result<bool>;

    /// The live tickets of the license's queue, first in line first (at most `limit`). Empty
    /// when the ledger lost its state (a rebuild starts with an empty queue).
    async fn queue(&self, key: &LedgerKey, limit: usize) -> Result<Vec<Waiter>>;

    /// Grants again the seat the machine holds for `request.session_id`, a session whose
    /// grant is not on record ([`confirmed`](crate::Session::confirmed) false: perhaps an
    /// acquire that never got its seat, restored by a rebuild), as [`acquire`](Self::acquire)
    /// would grant a new seat of the same kind to `request` were that seat free: hold-offs,
    /// the borrow cap, the seats and `request.tally`, in one atomic step. Granted, the seat
    /// keeps its kind and expiry, counts toward `request.tally.counters` from now on, and the
    /// answer is [`AcquireOutcome::AlreadyHeld`]; refused, the seat is freed
    /// and the refusal returned. When the machine's seat is not that session's (gone, or
    /// another's), it answers as `acquire`.
    async fn regrant(&self, key: &LedgerKey, request: &SeatRequest) -> Result<AcquireOutcome>;

    /// Extends a live seat by `ttl` from now (a borrowed seat keeps the later of its expiry
    /// and that; a lingering one is not renewed: `Expired`).
    async fn renew(
        &self,
        key: &LedgerKey,
        seat: SeatRef<'_>,
        ttl: Duration,
    ) -> Result<RenewOutcome>;

    /// Frees a seat (a borrowed one too). Releasing a seat that is not held is not an error;
    /// a lingering seat is left to linger.
    async fn release(&self, key: &LedgerKey, seat: SeatRef<'_>) -> Result<()>;

    /// Frees a seat and, in the same step, holds its machine (and `hold.user`) off for
    /// `hold.duration`. Holds off even when the session held no seat any more.
    async fn evict(&self, key: &LedgerKey, seat: SeatRef<'_>, hold: &Hold) -> Result<()>;

    /// Keeps a released seat for its machine for `linger` from now ([`SeatKind::Lingering`]).
    /// `false` (nothing changed) when the session holds no live seat or it lingers already.
    async fn linger(&self, key: &LedgerKey, seat: SeatRef<'_>, linger: Duration) -> Result<bool>;

    /// Seats in use now.
    async fn live_count(&self, key: &LedgerKey) -> Result<LiveCount>;

    /// Restores a key's seats (with their kinds and counters) and hold-offs from the store, if
    /// (and only if) the key's state is missing; its queue starts empty.
    async fn rebuild(
        &self,
        key: &LedgerKey,
        seats: &[LiveSeat],
        holds: &[HoldOff],
    ) -> Result<RebuildOutcome> {
        self.rebuild_queued(key, seats, holds, &[], Duration::ZERO)
            .await
    }

    /// [`rebuild`](Self::rebuild) that also restores the license's queue (ADR 0029): `tickets`
    /// in the order given (the store's: priority, then arrival), each keeping its priority,
    /// arrival number and wait, with a fresh poll deadline `poll_within` from now (clients
    /// that polled in vain during the outage keep their ticket); the arrival counter goes on
    /// after the highest restored. Tickets whose wait has ended are not restored.
    async fn rebuild_queued(
        &self,
        key: &LedgerKey,
        seats: &[LiveSeat],
        holds: &[HoldOff],
        tickets: &[QueueTicket],
        poll_within: Duration,
    ) -> Result<RebuildOutcome>;

    /// Whether the backend answers (for readiness).
    async fn ping(&self) -> Result<()>;
}
