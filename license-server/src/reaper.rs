//! The background reaper: a trivial interval loop around one step, `reap_step`, which
//! tests call directly with a manual clock. Safe on every replica: marking a session expired
//! is idempotent, and each old session is deleted once. (Seats need no reaping; the ledger
//! frees them at TTL by itself.)

use std::sync::Arc;
use std::time::Duration;

use license_core::ReapOutcome;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tracing::{Span, debug, field, info, warn};

use crate::config::ReaperConfig;
use crate::state::AppState;

/// One pass: marks every session past its expiry as expired, deletes sessions that ended
/// longer ago than `reaper.session_retention_days`, counts both in the metrics.
#[tracing::instrument(name = "reap", skip_all, fields(outcome = field::Empty))]
pub async fn reap_step(state: &AppState, batch: u32) -> Result<ReapOutcome, license_core::Error> {
    let result = state.service.reap_once(batch).await;
    state.metrics.reap(&result);
    let span = Span::current();
    match &result {
        Ok(done) => {
            span.record("outcome", "ok");
            if done.expired > 0 || done.deleted > 0 {
                info!(
                    expired = done.expired,
                    deleted = done.deleted,
                    tenants = done.tenants,
                    "expired sessions marked, old ended sessions deleted"
                );
            } else {
                debug!(tenants = done.tenants, "nothing to reap");
            }
        }
        Err(e) => {
            span.record("outcome", "error");
            warn!(error = %e, "reaper pass failed; the next pass retries");
        }
    }
    result
}

/// Runs `reap_step` every `interval_seconds` until `stop` changes.
pub async fn run(state: Arc<AppState>, config: ReaperConfig, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(config.interval_seconds.max(1)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                // Failures are logged and counted by the step; the next tick retries.
                let _ = reap_step(&state, config.batch).await;
            }
            _ = stop.changed() => break,
        }
    }
}
