use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::clock::Clock;
use crate::error::{Dependency, Error, Result};
use crate::ids::SessionId;
use crate::queue_tickets::QueueTicket;
use crate::seat_ledger::{
    AcquireOutcome, Hold, HoldOff, LedgerKey, LiveCount, RebuildOutcome, RenewOutcome, SeatKind,
    SeatLedger, SeatRef, SeatRequest,
};
use crate::seat_policy::{Counter, SeatLimit};
use crate::seat_queue::{MAX_PRIORITY, QueueMode, QueueRequest, Waiter};
use crate::session::{HardwareId, LiveSeat};

/// Hold-offs after evictions.
mod holds;
/// The queue of one license.
mod queue;
/// The seats of one license and their indexes.
mod seats;

use holds::Party;
use queue::{Place, Ticket};
use seats::Seats;

/// A [`SeatLedger`] in process memory: one mutex makes every call atomic. Its state is lost
/// with the process, exactly like an unpersisted Redis, so every license answers
/// [`AcquireOutcome::Rebuild`] once after a start and is rebuilt from the store.
///
/// ```
/// # futures::executor::block_on(async {
/// use std::sync::Arc;
/// use license_core::{memory::MemoryLedger, *};
/// let ledger = MemoryLedger::new(Arc::new(SystemClock));
/// let key = LedgerKey { tenant_id: TenantId::new(), license_id: LicenseId::new() };
/// assert_eq!(ledger.live_count(&key).await?, LiveCount::Rebuild);
/// ledger.rebuild(&key, &[], &[]).await?;
/// assert_eq!(ledger.live_count(&key).await?, LiveCount::Count(0));
/// # Ok::<(), Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct MemoryLedger {
    clock: Arc<dyn Clock>,
    licenses: Mutex<HashMap<LedgerKey, Seats>>,
    unavailable: AtomicBool,
}

impl MemoryLedger {
    /// An empty ledger reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            licenses: Mutex::new(HashMap::new()),
            unavailable: AtomicBool::new(false),
        }
    }

    /// Forgets every seat, as a Redis restart without persistence would.
    pub fn lose_state(&self) {
        self.lock().clear();
    }

    /// Makes every call fail with `unavailable` (or work again), to test failure handling.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<LedgerKey, Seats>> {
        // A panic while holding the lock cannot leave a half-applied step: every step below
        // checks before it writes.
        self.licenses.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_available(&self) -> Result<()> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(Error::unavailable(
                Dependency::Ledger,
                "in-memory ledger switched off",
            ));
        }
        Ok(())
    }
}

/// `now + duration`, or invalid input naming `field` when that is past any date.
fn after(now: DateTime<Utc>, duration: Duration, field: &'static str) -> Result<DateTime<Utc>> {
    TimeDelta::from_std(duration)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| Error::invalid(field, "too large"))
}

fn expiry(now: DateTime<Utc>, ttl: Duration) -> Result<DateTime<Utc>> {
    after(now, ttl, "ttl_seconds")
}

/// The answer to a grant the tally's check refused.
fn refused(limit: SeatLimit) -> AcquireOutcome {
    match limit {
        SeatLimit::Seats => AcquireOutcome::NoSeats,
        limit => AcquireOutcome::Limited(limit),
    }
}

/// The kind of seat a granted request takes.
fn kind_of(request: &SeatRequest) -> SeatKind {
    if request.borrow.is_some() {
        SeatKind::Borrowed
    } else {
        SeatKind::Held
    }
}

impl MemoryLedger {
    /// [`SeatLedger::acquire_queued`], or with `regrant` [`SeatLedger::regrant`]: one step
    /// under the lock.
    fn take(
        &self,
        key: &LedgerKey,
        request: &SeatRequest,
        regrant: bool,
        queue: &QueueRequest,
    ) -> Result<AcquireOutcome> {
        self.check_available()?;
        if queue.priority > MAX_PRIORITY {
            return Err(Error::invalid("priority", "at most 1000"));
        }
        let now = self.clock.now();
        let expires_at = expiry(now, request.ttl)?;
        let mut licenses = self.lock();
        let Some(seats) = licenses.get_mut(key) else {
            return Ok(AcquireOutcome::Rebuild);
        };
        seats.prune(now);
        seats.holds.prune(now);
        let machine = Party::Machine(request.hardware_id.clone());
        let user = request.user.as_ref().map(Party::user);
        if let Some((until, reason)) = seats
            .holds
            .in_force([&machine].into_iter().chain(&user), now)
        {
            seats.queue.remove(request.session_id);
            return Ok(AcquireOutcome::Evicted { until, reason });
        }
        let borrow_cap_reached = request.borrow.is_some_and(|max| seats.borrowed >= max);
        let holder = if seats.by_session.contains_key(&request.session_id) {
            Some(request.session_id)
        } else {
            seats.by_machine.get(&request.hardware_id).copied()
        };
        if let Some(id) = holder
            && let Some(seat) = seats.by_session.get(&id)
        {
            let own = seat.hardware_id == request.hardware_id;
            if regrant && id == request.session_id && own && seat.kind != SeatKind::Lingering {
                return Ok(regranted(seats, request, id));
            }
            if seat.kind != SeatKind::Lingering || !own {
                seats.queue.remove(request.session_id);
                return Ok(AcquireOutcome::AlreadyHeld {
                    session_id: id,
                    expires_at: seat.expires_at,
                });
            }
            // The machine takes its lingering seat back: the count does not change, but the
            // policy is checked as if that seat were free. Refused, it waits as for a new seat
            // (if it would): its turn comes when the limit lets it, or the seat stops lingering.
            if borrow_cap_reached {
                return Ok(AcquireOutcome::NoBorrowSeats);
            }
            let in_use = seats.len().saturating_sub(1);
            if let Some(limit) =
                request
                    .tally
                    .check(|c| seats.count(c, Some(id)), in_use, request.limit)
            {
                seats.queue.prune(now);
                let own_place = seats
                    .queue
                    .place_of(request.session_id, &request.hardware_id);
                return wait_in_queue(seats, request, queue, own_place, now, limit);
            }
            if let QueueMode::Peek { poll_within } = queue.mode {
                return turn(seats, request, poll_within, now);
            }
            seats.remove(id);
            seats.queue.remove(request.session_id);
            let kind = kind_of(request);
            seats.insert(
                request.session_id,
                request.hardware_id.clone(),
                expires_at,
                kind,
                &request.tally.counters,
            );
            return Ok(AcquireOutcome::TookBack {
                expires_at,
                in_use: seats.len(),
                lingering: id,
            });
        }
        if borrow_cap_reached {
            return Ok(AcquireOutcome::NoBorrowSeats);
        }
        seats.queue.prune(now);
        let own_place = seats
            .queue
            .place_of(request.session_id, &request.hardware_id);
        if matches!(queue.mode, QueueMode::Poll { .. } | QueueMode::Peek { .. })
            && own_place.is_none()
        {
            return Ok(AcquireOutcome::TicketGone);
        }
        // A plain asker stands behind every ticket of its priority or more.
        let place = own_place.unwrap_or((Reverse(queue.priority), u64::MAX));
        let in_use = seats.len();
        let refusal = match request
            .tally
            .check(|c| seats.count(c, None), in_use, request.limit)
        {
            Some(limit) => Some(limit),
            None => {
                let (claimed, claims) = claims_ahead(seats, place, request.limit);
                request
                    .tally
                    .check(
                        |c| seats.count(c, None) + claims.get(c).copied().unwrap_or(0),
                        in_use + claimed,
                        request.limit,
                    )
                    .map(|_| SeatLimit::Queued)
            }
        };
        if let Some(limit) = refusal {
            return wait_in_queue(seats, request, queue, own_place, now, limit);
        }
        if let QueueMode::Peek { poll_within } = queue.mode {
            return turn(seats, request, poll_within, now);
        }
        seats.queue.remove(request.session_id);
        let kind = kind_of(request);
        seats.insert(
            request.session_id,
            request.hardware_id.clone(),
            expires_at,
            kind,
            &request.tally.counters,
        );
        Ok(AcquireOutcome::Granted {
            expires_at,
            in_use: in_use + 1,
        })
    }
}

/// The seats the tickets before `place` would take, each in turn when its own tally lets it
/// (a ticket whose machine holds a seat needs none): how many, and per counter.
fn claims_ahead(seats: &Seats, place: Place, limit: u32) -> (u32, HashMap<Counter, u32>) {
    let mut claimed = 0;
    let mut claims: HashMap<Counter, u32> = HashMap::new();
    for ticket in seats.queue.ahead(place) {
        if seats.by_machine.contains_key(&ticket.hardware_id) {
            continue;
        }
        let count = |c: &Counter| seats.count(c, None) + claims.get(c).copied().unwrap_or(0);
        if ticket
            .tally
            .check(count, seats.len() + claimed, limit)
            .is_none()
        {
            claimed += 1;
            for counter in &ticket.tally.counters {
                *claims.entry(counter.clone()).or_default() += 1;
            }
        }
    }
    (claimed, claims)
}

/// A refused asker: refused (a plain acquire), or its ticket made, kept or gone.
fn wait_in_queue(
    seats: &mut Seats,
    request: &SeatRequest,
    queue: &QueueRequest,
    own_place: Option<Place>,
    now: DateTime<Utc>,
    limit: SeatLimit,
) -> Result<AcquireOutcome> {
    let (poll_within, join) = match queue.mode {
        QueueMode::Pass => return Ok(refused(limit)),
        QueueMode::Join {
            wait,
            poll_within,
            max_length,
        } => (poll_within, Some((wait, max_length))),
        QueueMode::Poll { poll_within } | QueueMode::Peek { poll_within } => (poll_within, None),
    };
    let poll_by = after(now, poll_within, "poll_within")?;
    let place = match (own_place, join) {
        (Some(place), _) => place,
        (None, Some((wait, max_length))) => {
            if seats.queue.len() >= max_length as usize {
                return Ok(AcquireOutcome::QueueFull);
            }
            let ticket = Ticket {
                session_id: request.session_id,
                hardware_id: request.hardware_id.clone(),
                poll_by,
                wait_until: after(now, wait, "wait_seconds")?,
                tally: request.tally.clone(),
            };
            seats.queue.join(queue.priority, ticket)
        }
        (None, None) => return Ok(AcquireOutcome::TicketGone),
    };
    let position = u32::try_from(seats.queue.ahead(place).count())
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    let Some(ticket) = seats.queue.get_mut(request.session_id) else {
        return Ok(AcquireOutcome::TicketGone);
    };
    ticket.poll_by = poll_by;
    ticket.tally = request.tally.clone();
    Ok(AcquireOutcome::Queued {
        position,
        wait_until: ticket.wait_until,
        arrival: place.1,
    })
}

/// A peek whose ticket would get a seat: its place kept for `poll_within` more, nothing else
/// written.
fn turn(
    seats: &mut Seats,
    request: &SeatRequest,
    poll_within: Duration,
    now: DateTime<Utc>,
) -> Result<AcquireOutcome> {
    let poll_by = after(now, poll_within, "poll_within")?;
    if let Some(ticket) = seats.queue.get_mut(request.session_id) {
        ticket.poll_by = poll_by;
        ticket.tally = request.tally.clone();
    }
    Ok(AcquireOutcome::Turn)
}

/// The regrant of `id`'s seat (its grant not on record): checked as a new grant of the
/// request's kind with that seat free; kept and re-counted toward the request's counters, or
/// freed.
fn regranted(seats: &mut Seats, request: &SeatRequest, id: SessionId) -> AcquireOutcome {
    let Some(seat) = seats.by_session.get(&id) else {
        return AcquireOutcome::NoSeats;
    };
    let (expires_at, kind) = (seat.expires_at, seat.kind);
    let own_borrow = u32::from(kind == SeatKind::Borrowed);
    let refusal = if request
        .borrow
        .is_some_and(|max| seats.borrowed.saturating_sub(own_borrow) >= max)
    {
        Some(AcquireOutcome::NoBorrowSeats)
    } else {
        request
            .tally
            .check(
                |c| seats.count(c, Some(id)),
                seats.len().saturating_sub(1),
                request.limit,
            )
            .map(refused)
    };
    seats.remove(id);
    if let Some(refusal) = refusal {
        return refusal;
    }
    seats.insert(
        id,
        request.hardware_id.clone(),
        expires_at,
        kind,
        &request.tally.counters,
    );
    AcquireOutcome::AlreadyHeld {
        session_id: id,
        expires_at,
    }
}

#[async_trait]
impl SeatLedger for MemoryLedger {
    async fn acquire_queued(
        &self,
        key: &LedgerKey,
        request: &SeatRequest,
        queue: &QueueRequest,
    ) -> Result<AcquireOutcome> {
        self.take(key, request, false, queue)
    }

    async fn regrant(&self, key: &LedgerKey, request: &SeatRequest) -> Result<AcquireOutcome> {
        self.take(key, request, true, &QueueRequest::default())
    }

    async fn queue(&self, key: &LedgerKey, limit: usize) -> Result<Vec<Waiter>> {
        self.check_available()?;
        let now = self.clock.now();
        let mut licenses = self.lock();
        let Some(seats) = licenses.get_mut(key) else {
            return Ok(Vec::new());
        };
        seats.queue.prune(now);
        Ok(seats
            .queue
            .in_order()
            .take(limit)
            .map(|(priority, t)| Waiter {
                ticket: t.session_id,
                hardware_id: t.hardware_id.clone(),
                priority,
                wait_until: t.wait_until,
                poll_by: t.poll_by,
            })
            .collect())
    }

    async fn leave(&self, key: &LedgerKey, ticket: SessionId) -> Result<bool> {
        self.check_available()?;
        Ok(self
            .lock()
            .get_mut(key)
            .is_some_and(|seats| seats.queue.remove(ticket)))
    }

    async fn renew(
        &self,
        key: &LedgerKey,
        seat: SeatRef<'_>,
        ttl: Duration,
    ) -> Result<RenewOutcome> {
        self.check_available()?;
        let now = self.clock.now();
        let expires_at = expiry(now, ttl)?;
        let mut licenses = self.lock();
        let Some(seats) = licenses.get_mut(key) else {
            return Ok(RenewOutcome::Rebuild);
        };
        seats.prune(now);
        let (kind, expires_at) = match seats.by_session.get(&seat.session_id) {
            None => return Ok(RenewOutcome::Expired),
            // Released: it waits for its machine, no heartbeat keeps it.
            Some(held) if held.kind == SeatKind::Lingering => return Ok(RenewOutcome::Expired),
            // Borrowed for a period: a check-in never shortens it.
            Some(held) if held.kind == SeatKind::Borrowed => {
                (held.kind, held.expires_at.max(expires_at))
            }
            Some(held) => (held.kind, expires_at),
        };
        seats.update(seat.session_id, expires_at, kind);
        Ok(RenewOutcome::Renewed { expires_at })
    }

    async fn release(&self, key: &LedgerKey, seat: SeatRef<'_>) -> Result<()> {
        self.check_available()?;
        if let Some(seats) = self.lock().get_mut(key)
            && seats
                .by_session
                .get(&seat.session_id)
                .is_some_and(|held| held.kind != SeatKind::Lingering)
        {
            seats.remove(seat.session_id);
        }
        Ok(())
    }

    async fn live_count(&self, key: &LedgerKey) -> Result<LiveCount> {
        self.check_available()?;
        let now = self.clock.now();
        let mut licenses = self.lock();
        Ok(match licenses.get_mut(key) {
            Some(seats) => {
                seats.prune(now);
                LiveCount::Count(seats.len())
            }
            None => LiveCount::Rebuild,
        })
    }

    async fn evict(&self, key: &LedgerKey, seat: SeatRef<'_>, hold: &Hold) -> Result<()> {
        self.check_available()?;
        let now = self.clock.now();
        let until = after(now, hold.duration, "hold_off_seconds")?;
        let mut licenses = self.lock();
        // A lost state keeps nothing to free; the rebuild restores the hold from the store.
        let Some(seats) = licenses.get_mut(key) else {
            return Ok(());
        };
        seats.remove(seat.session_id);
        if until > now {
            let machine = Party::Machine(seat.hardware_id.clone());
            seats.holds.hold(machine, until, &hold.reason);
            if let Some(user) = &hold.user {
                seats.holds.hold(Party::user(user), until, &hold.reason);
            }
        }
        Ok(())
    }

    async fn linger(&self, key: &LedgerKey, seat: SeatRef<'_>, linger: Duration) -> Result<bool> {
        self.check_available()?;
        if linger.is_zero() {
            return Err(Error::invalid("linger_seconds", "must be more than zero"));
        }
        let now = self.clock.now();
        let until = after(now, linger, "linger_seconds")?;
        let mut licenses = self.lock();
        let Some(seats) = licenses.get_mut(key) else {
            return Ok(false);
        };
        seats.prune(now);
        let lingers = seats
            .by_session
            .get(&seat.session_id)
            .is_some_and(|held| held.kind != SeatKind::Lingering);
        Ok(lingers && seats.update(seat.session_id, until, SeatKind::Lingering))
    }

    async fn rebuild_queued(
        &self,
        key: &LedgerKey,
        seats: &[LiveSeat],
        holds: &[HoldOff],
        tickets: &[QueueTicket],
        poll_within: Duration,
    ) -> Result<RebuildOutcome> {
        self.check_available()?;
        let now = self.clock.now();
        let mut licenses = self.lock();
        if licenses.contains_key(key) {
            return Ok(RebuildOutcome::AlreadyInitialised);
        }
        // A machine gets one seat: of several the store names, the one expiring last.
        let mut last: HashMap<&HardwareId, &LiveSeat> = HashMap::new();
        for seat in seats.iter().filter(|s| s.expires_at > now) {
            let kept = last.entry(&seat.hardware_id).or_insert(seat);
            if seat.expires_at > kept.expires_at {
                *kept = seat;
            }
        }
        let mut restored = Seats::default();
        for seat in last.into_values() {
            restored.insert(
                seat.session_id,
                seat.hardware_id.clone(),
                seat.expires_at,
                seat.kind,
                &seat.counters,
            );
        }
        for hold in holds.iter().filter(|h| h.until > now) {
            let machine = Party::Machine(hold.hardware_id.clone());
            restored.holds.hold(machine, hold.until, &hold.reason);
            if let Some(user) = &hold.user {
                restored
                    .holds
                    .hold(Party::user(user), hold.until, &hold.reason);
            }
        }
        // The queue, in the store's order, each ticket at its own arrival.
        let poll_by = after(now, poll_within, "poll_within")?;
        for t in tickets.iter().filter(|t| t.wait_until > now) {
            let ticket = Ticket {
                session_id: t.ticket,
                hardware_id: t.seat.clone(),
                poll_by,
                wait_until: t.wait_until,
                tally: t.tally.clone(),
            };
            restored
                .queue
                .restore(t.priority.min(MAX_PRIORITY), t.arrival, ticket);
        }
        licenses.insert(*key, restored);
        Ok(RebuildOutcome::Rebuilt)
    }

    async fn ping(&self) -> Result<()> {
        self.check_available()
    }
}

#[cfg(test)]
mod tests;
