use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::clock::Clock;
use crate::error::{Dependency, Error, Result};
use crate::ids::SessionId;
use crate::seat_ledger::{
    AcquireOutcome, Hold, HoldOff, LedgerKey, LiveCount, RebuildOutcome, RenewOutcome, SeatLedger,
    SeatRef, SeatRequest,
};
use crate::session::{HardwareId, LiveSeat};

#[derive(Debug)]
struct Seat {
    hardware_id: HardwareId,
    expires_at: DateTime<Utc>,
}

/// The seats of one license, indexed three ways so every step is O(log n) at a million seats:
/// by session, by machine (idempotent acquire) and by expiry (pruning). Its presence in the
/// map is the *initialised* marker.
#[derive(Debug, Default)]
struct Seats {
    by_session: HashMap<SessionId, Seat>,
    by_machine: HashMap<HardwareId, SessionId>,
    by_expiry: BTreeSet<(DateTime<Utc>, SessionId)>,
}

impl Seats {
    fn insert(
        &mut self,
        session_id: SessionId,
        hardware_id: HardwareId,
        expires_at: DateTime<Utc>,
    ) {
        self.remove(session_id);
        self.by_machine.insert(hardware_id.clone(), session_id);
        self.by_expiry.insert((expires_at, session_id));
        self.by_session.insert(
            session_id,
            Seat {
                hardware_id,
                expires_at,
            },
        );
    }

    fn remove(&mut self, session_id: SessionId) {
        if let Some(seat) = self.by_session.remove(&session_id) {
            self.by_expiry.remove(&(seat.expires_at, session_id));
            if self.by_machine.get(&seat.hardware_id) == Some(&session_id) {
                self.by_machine.remove(&seat.hardware_id);
            }
        }
    }

    /// Drops every seat that expired at or before `now`.
    fn prune(&mut self, now: DateTime<Utc>) {
        while let Some(&(expires_at, session_id)) = self.by_expiry.first() {
            if expires_at > now {
                break;
            }
            self.remove(session_id);
        }
    }

    fn renew(&mut self, session_id: SessionId, expires_at: DateTime<Utc>) -> bool {
        let Some(seat) = self.by_session.get_mut(&session_id) else {
            return false;
        };
        self.by_expiry.remove(&(seat.expires_at, session_id));
        seat.expires_at = expires_at;
        self.by_expiry.insert((expires_at, session_id));
        true
    }

    fn len(&self) -> u32 {
        u32::try_from(self.by_session.len()).unwrap_or(u32::MAX)
    }
}

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

fn expiry(now: DateTime<Utc>, ttl: Duration) -> Result<DateTime<Utc>> {
    TimeDelta::from_std(ttl)
        .ok()
        .and_then(|ttl| now.checked_add_signed(ttl))
        .ok_or_else(|| Error::invalid("ttl_seconds", "too large"))
}

#[async_trait]
impl SeatLedger for MemoryLedger {
    async fn acquire(&self, key: &LedgerKey, request: &SeatRequest) -> Result<AcquireOutcome> {
        self.check_available()?;
        let now = self.clock.now();
        let expires_at = expiry(now, request.ttl)?;
        let mut licenses = self.lock();
        let Some(seats) = licenses.get_mut(key) else {
            return Ok(AcquireOutcome::Rebuild);
        };
        seats.prune(now);
        let holder = if seats.by_session.contains_key(&request.session_id) {
            Some(request.session_id)
        } else {
            seats.by_machine.get(&request.hardware_id).copied()
        };
        if let Some(id) = holder
            && let Some(seat) = seats.by_session.get(&id)
        {
            return Ok(AcquireOutcome::AlreadyHeld {
                session_id: id,
                expires_at: seat.expires_at,
            });
        }
        let in_use = seats.len();
        if in_use >= request.limit {
            return Ok(AcquireOutcome::NoSeats);
        }
        seats.insert(request.session_id, request.hardware_id.clone(), expires_at);
        Ok(AcquireOutcome::Granted {
            expires_at,
            in_use: in_use + 1,
        })
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
        if seats.renew(seat.session_id, expires_at) {
            Ok(RenewOutcome::Renewed { expires_at })
        } else {
            Ok(RenewOutcome::Expired)
        }
    }

    async fn release(&self, key: &LedgerKey, seat: SeatRef<'_>) -> Result<()> {
        self.check_available()?;
        if let Some(seats) = self.lock().get_mut(key) {
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

    async fn evict(&self, key: &LedgerKey, seat: SeatRef<'_>, _hold: &Hold) -> Result<()> {
        // TODO(#19 ledger): hold-offs.
        self.release(key, seat).await
    }

    async fn linger(
        &self,
        _key: &LedgerKey,
        _seat: SeatRef<'_>,
        _linger: Duration,
    ) -> Result<bool> {
        // TODO(#19 ledger): linger.
        Ok(false)
    }

    async fn rebuild(
        &self,
        key: &LedgerKey,
        seats: &[LiveSeat],
        _holds: &[HoldOff],
    ) -> Result<RebuildOutcome> {
        self.check_available()?;
        let now = self.clock.now();
        let mut licenses = self.lock();
        if licenses.contains_key(key) {
            return Ok(RebuildOutcome::AlreadyInitialised);
        }
        let mut restored = Seats::default();
        for seat in seats.iter().filter(|s| s.expires_at > now) {
            restored.insert(seat.session_id, seat.hardware_id.clone(), seat.expires_at);
        }
        licenses.insert(*key, restored);
        Ok(RebuildOutcome::Rebuilt)
    }

    async fn ping(&self) -> Result<()> {
        self.check_available()
    }
}
