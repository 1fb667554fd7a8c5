//! The write-behind flusher: renewals and usage peaks go to the store every
//! `hot_path.flush_interval_millis`, and once more when the server stops (after in-flight
//! requests), so a clean shutdown loses none. A crash loses at most one interval of
//! `last_heartbeat_at`, never a seat (ADR 0017).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tracing::{debug, warn};

use crate::state::AppState;

/// One flush; failures are logged and the renewals stay buffered for the next one.
pub async fn flush_step(state: &AppState) {
    match state.service.flush_write_behind().await {
        Ok(0) => {}
        Ok(renewals) => debug!(renewals, "renewals written to the store"),
        Err(e) => {
            warn!(error = %e, pending = state.service.pending_heartbeats(), "flushing renewals failed; the next flush retries")
        }
    }
}

/// Runs `flush_step` every `interval` until `stop` changes, then once more.
pub async fn run(state: Arc<AppState>, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => flush_step(&state).await,
            _ = stop.changed() => break,
        }
    }
    flush_step(&state).await;
}
