//! The seat-event log's writer (ADR 0030): every `events.write_interval_millis` the queued
//! events go to the store, one append per tenant; while the store is down the events stay
//! queued (up to `events.queue_capacity`, then dropped and counted) and the writer backs off.
//! When the server stops, after the last request, what is queued is written once more.

use std::sync::Arc;
use std::time::Duration;

use license_core::events::{BATCH, EventRecorder};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tracing::{debug, info, warn};

/// The longest pause after failed appends.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Writes until the queue is short of a full batch; `Err` after a failed append.
async fn write_step(recorder: &EventRecorder) -> Result<usize, license_core::Error> {
    let mut total = 0;
    loop {
        let written = recorder.write_pending().await?;
        total += written;
        if recorder.queued() < BATCH || written == 0 {
            return Ok(total);
        }
    }
}

/// Runs the writer until `stop` changes, then writes what is left (a few tries).
pub async fn run(recorder: Arc<EventRecorder>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut backoff = Duration::ZERO;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        if !backoff.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => break,
            }
        }
        match write_step(&recorder).await {
            Ok(0) => backoff = Duration::ZERO,
            Ok(written) => {
                debug!(written, "seat events written to the event log");
                backoff = Duration::ZERO;
            }
            Err(e) => {
                backoff = (backoff * 2).clamp(every, MAX_BACKOFF);
                warn!(error = %e, queued = recorder.queued(), "writing the event log failed; the events stay queued");
            }
        }
    }
    for _ in 0..3 {
        match write_step(&recorder).await {
            Ok(_) if recorder.queued() == 0 => return,
            Ok(_) => {}
            Err(e) => {
                warn!(error = %e, queued = recorder.queued(), "the event log's last write failed");
                tokio::time::sleep(every).await;
            }
        }
    }
}

/// Signs a checkpoint of every tenant's log every `every`, on record in the log itself
/// (`LicenseService::checkpoint_event_logs`), then trims each log to its last
/// `retention_days` (0: never; `LicenseService::trim_event_logs`), until `stop` changes. A
/// failed pass is logged and the next one starts over.
pub async fn run_checkpoints(
    service: Arc<license_core::LicenseService>,
    every: Duration,
    retention_days: u32,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick is immediate: a restarted replica does not sign at once.
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match service.checkpoint_event_logs().await {
            Ok(signed) => debug!(signed, "seat-event log checkpoints signed"),
            Err(e) => {
                warn!(error = %e, "signing the seat-event log's checkpoints failed; the next pass tries again")
            }
        }
        if retention_days == 0 {
            continue;
        }
        match service.trim_event_logs(retention_days).await {
            Ok(done) if done.entries > 0 || done.days > 0 => {
                info!(
                    entries = done.entries,
                    days = done.days,
                    "seat-event log trimmed to its retention"
                )
            }
            Ok(_) => {}
            Err(e) => {
                warn!(error = %e, "trimming the seat-event log failed; the next pass tries again")
            }
        }
    }
}
