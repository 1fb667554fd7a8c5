//! API-key records kept in process, so a request with a key this replica has seen costs no
//! store round trip.
//!
//! - **Keyed by the key's tenant and lookup prefix; the secret is compared every time.** An
//!   entry is a record the store returned (its hash, scopes and revocation), and every request
//!   compares the presented key's SHA-256 with the record's in constant time. So the cache can
//!   never make a wrong secret pass, and a wrong secret for a known prefix is refused without
//!   the store (a key's hash never changes).
//! - **Bounded staleness.** A record is trusted for `ttl` after it was read, measured on the
//!   injected clock; after that the next request with the right secret reads it again. That is
//!   how long a key revoked on *another* replica keeps working here. The replica that revokes
//!   marks its entry revoked at once.
//! - **Bounded size.** At most `capacity` records, which only the store can supply (made-up
//!   keys find none), and at most `capacity` keys known to be missing, each remembered for
//!   `ttl`, so a client retrying a wrong key does not reach the store every time.
//! - **Bounded misses.** A key in neither map costs a store lookup only if the
//!   [`MissLimiter`] admits it; otherwise the check answers `unavailable` (retry shortly).
//! - **One lookup per key at a time.** Concurrent requests that miss with the same key (a
//!   burst on a cold replica, or a busy key whose record just went stale) wait for one
//!   lookup ([`KeyCache::turn`]) instead of each reading the store and spending the budget.
//!   If that lookup fails (the store is down), the requests already waiting get its error
//!   instead of trying one after another.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::lock::Mutex as AsyncMutex;
use moka::sync::Cache;

use super::miss_limiter::MissLimiter;
use crate::api_key::{ApiKey, ApiKeySecret};
use crate::clock::Clock;
use crate::error::{Dependency, Error, Result};
use crate::ids::{ApiKeyId, TenantId};

/// A record unused this long is dropped (its next use is a miss again).
const RECORD_IDLE: Duration = Duration::from_secs(3600);
/// Least time between two `last_used_at` writes for one key (per replica).
const TOUCH_EVERY: TimeDelta = TimeDelta::minutes(1);

/// How the API-key cache is bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CredentialCacheConfig {
    /// How long a key record read from the store is trusted: a key revoked on another replica
    /// keeps working here for at most this long. Zero reads the store on every request.
    pub ttl: Duration,
    /// Most key records kept, and separately most keys remembered as missing.
    pub capacity: u64,
    /// Store lookups a second that keys not in the cache may cause: for each tenant this
    /// replica knows, and once more for all the tenants it does not know together.
    pub miss_lookups_per_second: NonZeroU32,
}

impl CredentialCacheConfig {
    /// Five seconds, 10 000 keys, 20 lookups a second.
    pub const DEFAULT: Self = Self {
        ttl: Duration::from_secs(5),
        capacity: 10_000,
        miss_lookups_per_second: match NonZeroU32::new(20) {
            Some(n) => n,
            None => NonZeroU32::MIN,
        },
    };
}

impl Default for CredentialCacheConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What the API-key cache has done since start, and what it holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CredentialCacheStats {
    /// Checks answered from the cache (accepted or refused) without the store.
    pub hits: u64,
    /// Checks that read the store (keys not cached, and records past their time-to-live).
    pub lookups: u64,
    /// Checks refused because misses were over the limit.
    pub limited: u64,
    /// Key records held.
    pub records: u64,
    /// Keys held as missing.
    pub missing: u64,
}

/// A key record as the store returned it, and when.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The record (revoked here at once when this replica revokes it).
    pub(crate) key: ApiKey,
    read_at: DateTime<Utc>,
    touched: Mutex<Option<DateTime<Utc>>>,
}

impl Entry {
    fn new(key: ApiKey, read_at: DateTime<Utc>) -> Self {
        Self {
            touched: Mutex::new(key.last_used_at),
            key,
            read_at,
        }
    }

    /// Whether to record a use at `now`: at most once a minute, claimed by one caller.
    pub(crate) fn claim_touch(&self, now: DateTime<Utc>) -> bool {
        let mut touched = self.touched.lock().unwrap_or_else(PoisonError::into_inner);
        if touched.is_none_or(|t| now - t > TOUCH_EVERY) {
            *touched = Some(now);
            return true;
        }
        false
    }
}

/// What the cache says about a presented key.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// A fresh record of this very key.
    Known(Arc<Entry>),
    /// Refused without the store: another secret with a known prefix, a revoked key, or a
    /// key the store recently did not have.
    Refused,
    /// The right secret, but its record is older than the time-to-live: read it again (not
    /// limited: only a holder of the secret gets here).
    Stale,
    /// Not cached: a lookup, if the limiter admits it.
    Unknown,
}

type Slot = (TenantId, String);

fn slot(tenant: TenantId, prefix: &str) -> Slot {
    (tenant, prefix.to_owned())
}

/// The lock of one key's lookup, holding the error of a failed lookup for those waiting.
pub(crate) type InFlight = Arc<AsyncMutex<Option<Error>>>;

/// The right to look one key up: held by one request at a time per key. The slot leaves the
/// map when the last request waiting for it is done, so the map holds only keys in flight.
pub(crate) struct Turn<'a> {
    in_flight: &'a Mutex<HashMap<Slot, InFlight>>,
    slot: Slot,
    pub(crate) lock: InFlight,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Clones are made under this lock: two left means the map's and ours.
        if Arc::strong_count(&self.lock) == 2 {
            in_flight.remove(&self.slot);
        }
    }
}

/// The API-key records and missing keys, and the miss limiter.
pub(crate) struct KeyCache {
    ttl: TimeDelta,
    records: Cache<Slot, Arc<Entry>>,
    missing: Cache<Slot, DateTime<Utc>>,
    in_flight: Mutex<HashMap<Slot, InFlight>>,
    /// Counts revocations; a lookup that saw another count does not cache what it read.
    revocations: Mutex<u64>,
    limiter: MissLimiter,
    hits: AtomicU64,
    lookups: AtomicU64,
    limited: AtomicU64,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("ttl", &self.ttl)
            .field("records", &self.records.entry_count())
            .field("missing", &self.missing.entry_count())
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    pub(crate) fn new(config: CredentialCacheConfig, clock: Arc<dyn Clock>) -> Self {
        let ttl = TimeDelta::from_std(config.ttl).unwrap_or(TimeDelta::MAX);
        Self {
            ttl,
            records: Cache::builder()
                .max_capacity(config.capacity)
                .time_to_idle(RECORD_IDLE)
                .build(),
            // Held (in real time) a little longer than trusted (on the injected clock).
            missing: Cache::builder()
                .max_capacity(config.capacity)
                .time_to_live(config.ttl + Duration::from_secs(1))
                .build(),
            in_flight: Mutex::new(HashMap::new()),
            revocations: Mutex::new(0),
            limiter: MissLimiter::new(config.miss_lookups_per_second, config.capacity, clock),
            hits: AtomicU64::new(0),
            lookups: AtomicU64::new(0),
            limited: AtomicU64::new(0),
        }
    }

    /// Whether something read at `read_at` is still trusted at `now`. A clock that went back
    /// trusts nothing.
    fn fresh(&self, read_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let age = now - read_at;
        age >= TimeDelta::zero() && age < self.ttl
    }

    pub(crate) fn check(&self, secret: &ApiKeySecret, now: DateTime<Utc>) -> Verdict {
        let slot = slot(secret.tenant_id(), secret.prefix());
        let verdict = match self.records.get(&slot) {
            Some(entry) if !entry.key.matches(secret) || entry.key.revoked_at.is_some() => {
                Verdict::Refused
            }
            Some(entry) if self.fresh(entry.read_at, now) => Verdict::Known(entry),
            Some(_) => Verdict::Stale,
            None => match self.missing.get(&slot) {
                Some(at) if self.fresh(at, now) => Verdict::Refused,
                _ => Verdict::Unknown,
            },
        };
        if matches!(verdict, Verdict::Known(_) | Verdict::Refused) {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        verdict
    }

    /// The turn to look `secret`'s key up; lock it, then check the cache again.
    pub(crate) fn turn(&self, secret: &ApiKeySecret) -> Turn<'_> {
        let slot = slot(secret.tenant_id(), secret.prefix());
        let lock = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(slot.clone())
            .or_default()
            .clone();
        Turn {
            in_flight: &self.in_flight,
            slot,
            lock,
        }
    }

    /// Takes one lookup from the tenant's budget (or the strangers'), or refuses.
    pub(crate) fn admit(&self, tenant: TenantId) -> Result<()> {
        self.limiter.admit(tenant).map_err(|_| {
            self.limited.fetch_add(1, Ordering::Relaxed);
            Error::unavailable(
                Dependency::Store,
                "too many lookups of API keys not in the cache; retry in a second",
            )
        })
    }

    /// A store lookup starts: returns the revocation count to hand to [`found`](Self::found).
    pub(crate) fn lookup_starts(&self) -> u64 {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        *self
            .revocations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The store returned `key` (read at `read_at`): cache it unless a revocation happened on
    /// this replica since the lookup started (the record may predate it).
    pub(crate) fn found(&self, key: ApiKey, read_at: DateTime<Utc>, seen: u64) -> Arc<Entry> {
        self.limiter.know(key.tenant_id);
        let slot = slot(key.tenant_id, &key.prefix);
        let entry = Arc::new(Entry::new(key, read_at));
        let revocations = self
            .revocations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *revocations == seen {
            self.missing.invalidate(&slot);
            self.records.insert(slot, entry.clone());
        }
        entry
    }

    /// The store has no key with this secret's prefix.
    pub(crate) fn not_found(&self, secret: &ApiKeySecret, read_at: DateTime<Utc>) {
        if self.ttl > TimeDelta::zero() {
            self.missing
                .insert(slot(secret.tenant_id(), secret.prefix()), read_at);
        }
    }

    /// A key was created on this replica: it is known (and good) from its first use.
    pub(crate) fn created(&self, key: &ApiKey, at: DateTime<Utc>) {
        self.limiter.know(key.tenant_id);
        let slot = slot(key.tenant_id, &key.prefix);
        self.missing.invalidate(&slot);
        self.records
            .insert(slot, Arc::new(Entry::new(key.clone(), at)));
    }

    /// A key was revoked on this replica: its entry is refused from now on.
    pub(crate) fn revoked(&self, tenant: TenantId, id: ApiKeyId, at: DateTime<Utc>) {
        let mut revocations = self
            .revocations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *revocations += 1;
        let of_the_key: Vec<_> = self
            .records
            .iter()
            .filter(|(_, entry)| entry.key.tenant_id == tenant && entry.key.id == id)
            .collect();
        for (slot, entry) in of_the_key {
            let mut key = entry.key.clone();
            key.revoked_at.get_or_insert(at);
            self.records
                .insert((*slot).clone(), Arc::new(Entry::new(key, entry.read_at)));
        }
    }

    pub(crate) fn stats(&self) -> CredentialCacheStats {
        self.records.run_pending_tasks();
        self.missing.run_pending_tasks();
        CredentialCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            lookups: self.lookups.load(Ordering::Relaxed),
            limited: self.limited.load(Ordering::Relaxed),
            records: self.records.entry_count(),
            missing: self.missing.entry_count(),
        }
    }
}
