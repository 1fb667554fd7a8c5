//! The tenant-key maintainer: every `signer.tenant_key_refresh_seconds`, one
//! [`maintain_once`](license_core::TenantKeys::maintain_once) step — learn of keys other
//! replicas made or revoked, and make successors when due (ADR 0019). Failures are logged by
//! the step and retried at the next one; the current keys sign on meanwhile.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tracing::{debug, info};

use crate::state::AppState;

/// Runs the step every `interval` until `stop` changes.
pub async fn run(state: Arc<AppState>, interval: Duration, mut stop: watch::Receiver<bool>) {
    let keys = state.service.tenant_keys();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let outcome = keys.maintain_once().await;
                if outcome.created > 0 || outcome.reloaded > 0 {
                    info!(created = outcome.created, reloaded = outcome.reloaded, failed = outcome.failed, "tenant keys maintained");
                } else {
                    debug!(failed = outcome.failed, "tenant keys checked");
                }
            }
            _ = stop.changed() => break,
        }
    }
}
