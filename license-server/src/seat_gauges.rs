//! Seats in use against the limit, per license, as gauges (`license_seats_in_use`,
//! `license_seats_limit`, `license_seats_sold`): every `metrics.seat_gauge_seconds`, one step,
//! [`gauge_step`](crate::seat_gauges::gauge_step), reads each license this replica served
//! recently through the core
//! ([`LicenseService::seat_usage`](license_core::LicenseService::seat_usage): the license
//! from the replica's cache, one ledger count) and sets its three series.
//!
//! *Served recently* means a seat event (granted, held, denied, renewed, released, expired…)
//! naming the license passed through this replica in the last
//! [`WINDOW`](crate::seat_gauges::WINDOW): [`ServedLicenses`](crate::seat_gauges::ServedLicenses)
//! is an event sink that remembers when, for at most `metrics.seat_gauge_max_licenses`
//! licenses. A license past the window (or deleted) loses its series, so the series are
//! bounded by three times that setting. A license whose read fails (store or ledger down, a
//! ledger that lost its state) keeps its last figures for that round and is logged at debug;
//! the task never stops for it. Every replica reads the same ledger, so queries take
//! `max by (tenant_id, license_id)` (ADR 0027).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use license_core::{Error, EventSink, LicenseId, SeatEvent, TenantId};
use moka::sync::Cache;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tracing::debug;

use crate::metrics::SeatMetrics;
use crate::state::AppState;

/// How long after its last seat event through this replica a license keeps its gauges. A
/// license with a live session heartbeats well within it (the default TTL is 6 minutes).
pub const WINDOW: TimeDelta = TimeDelta::minutes(15);

/// A license's last-seen time is rewritten at most this often, so a heartbeat usually costs
/// the sink one cache read, not a write.
const REFRESH: TimeDelta = TimeDelta::seconds(60);

type Key = (TenantId, LicenseId);

/// The licenses this replica served, with the time of their latest seat event (the use
/// case's clock). An [`EventSink`]: it never blocks.
#[derive(Debug)]
pub struct ServedLicenses {
    seen: Cache<Key, DateTime<Utc>>,
}

impl ServedLicenses {
    /// Remembers at most `capacity` licenses (the least used are forgotten first).
    pub fn new(capacity: u64) -> Self {
        Self {
            seen: Cache::builder()
                .max_capacity(capacity)
                // Only frees memory: `recent` filters by the events' own clock.
                .time_to_idle(Duration::from_secs(2 * 15 * 60))
                .build(),
        }
    }

    /// The licenses with a seat event at or after `since`.
    pub fn recent(&self, since: DateTime<Utc>) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .seen
            .iter()
            .filter(|(_, at)| *at >= since)
            .map(|(key, _)| *key)
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Forgets a license (it is gone).
    pub fn forget(&self, key: Key) {
        self.seen.invalidate(&key);
    }
}

impl EventSink for ServedLicenses {
    fn emit(&self, event: &SeatEvent) {
        let Some(license) = event.license_id else {
            return;
        };
        let key = (event.tenant_id, license);
        if self
            .seen
            .get(&key)
            .is_some_and(|seen| event.at - seen < REFRESH)
        {
            return;
        }
        self.seen.insert(key, event.at);
    }
}

/// The seat gauges: which licenses this replica served, and which ones it shows.
#[derive(Debug)]
pub struct SeatGauges {
    served: Arc<ServedLicenses>,
    metrics: SeatMetrics,
    shown: Mutex<HashSet<Key>>,
}

impl SeatGauges {
    /// Gauges set in `metrics` for at most `capacity` licenses.
    pub fn new(metrics: SeatMetrics, capacity: u64) -> Self {
        Self {
            served: Arc::new(ServedLicenses::new(capacity)),
            metrics,
            shown: Mutex::new(HashSet::new()),
        }
    }

    /// The sink that learns which licenses this replica serves.
    pub fn sink(&self) -> Arc<ServedLicenses> {
        self.served.clone()
    }
}

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GaugeOutcome {
    /// Licenses whose gauges were set.
    pub set: usize,
    /// Licenses whose read failed; their last figures stay.
    pub skipped: usize,
    /// Licenses whose series were dropped (past the window, or deleted).
    pub dropped: usize,
}

/// One reading: sets the gauges of every license served in the last [`WINDOW`] (by the
/// state's clock), drops the others'. Never fails: a license whose read fails is skipped.
pub async fn gauge_step(state: &AppState) -> GaugeOutcome {
    let gauges = &state.seat_gauges;
    let since = state.clock.now() - WINDOW;
    let mut outcome = GaugeOutcome::default();
    let mut shown = HashSet::new();
    let before = gauges
        .shown
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for (tenant, license) in gauges.served.recent(since) {
        match state.service.seat_usage(tenant, license).await {
            Ok(usage) => {
                gauges.metrics.set(tenant, license, usage);
                shown.insert((tenant, license));
                outcome.set += 1;
            }
            Err(Error::NotFound(_)) => gauges.served.forget((tenant, license)),
            Err(e) => {
                debug!(tenant_id = %tenant, license_id = %license, error = %e, "seat gauges: license skipped this round");
                if before.contains(&(tenant, license)) {
                    shown.insert((tenant, license));
                }
                outcome.skipped += 1;
            }
        }
    }
    for &(tenant, license) in before.difference(&shown) {
        gauges.metrics.remove(tenant, license);
        outcome.dropped += 1;
    }
    *gauges.shown.lock().unwrap_or_else(PoisonError::into_inner) = shown;
    debug!(
        set = outcome.set,
        skipped = outcome.skipped,
        dropped = outcome.dropped,
        "seat gauges read"
    );
    outcome
}

/// Runs [`gauge_step`] every `interval` until `stop` changes.
pub async fn run(state: Arc<AppState>, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                gauge_step(&state).await;
            }
            _ = stop.changed() => break,
        }
    }
}
