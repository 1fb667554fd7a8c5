//! The webhook dispatcher (ADR 0032): every `webhooks.poll_interval_millis` it claims the
//! endpoints that are due (in the store, so each is served by one replica at a time), sends
//! each one's log entries after its cursor in order, signed the Standard Webhooks way, and
//! records what happened. A failure stops that endpoint's batch (the cursor stays: order is
//! kept) and backs it off; one failing for `webhooks.disable_after_hours` is disabled with a
//! `webhook_disabled` event. The step is
//! [`Dispatcher::dispatch_once`](crate::webhook_dispatcher::Dispatcher::dispatch_once);
//! [`run`](crate::webhook_dispatcher::run) loops it until
//! shutdown, letting the delivery in flight finish.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use license_core::webhooks::{
    BATCH, Delivery, DeliveryFailure, RetryPolicy, WebhookClaim, WebhookEndpoint, WebhookMessage,
};
use license_core::{Clock, EventSink, SeatEvent, SeatEventKind, Store, WebhookDeliveryId};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tracing::{debug, warn};

use crate::config::WebhooksConfig;
use crate::metrics::WebhookCounter;

/// One POST, signed, behind the SSRF guard.
mod send;

use send::{Sender, Sent};

/// Most endpoints one replica claims per step.
const CLAIM_LIMIT: u32 = 50;

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchOutcome {
    /// Endpoints claimed.
    pub endpoints: usize,
    /// Messages the receivers took.
    pub delivered: usize,
    /// Attempts that failed.
    pub failed: usize,
}

/// Delivers webhooks for one replica.
#[derive(Debug)]
pub struct Dispatcher {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventSink>,
    sender: Sender,
    config: WebhooksConfig,
    retry: RetryPolicy,
    replica: String,
    metrics: WebhookCounter,
}

impl Dispatcher {
    /// A dispatcher named `replica` in its claims.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        events: Arc<dyn EventSink>,
        config: &WebhooksConfig,
        replica: String,
        metrics: WebhookCounter,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            store,
            clock,
            events,
            sender: Sender::new(config)?,
            config: config.clone(),
            retry: config.retry_policy(),
            replica,
            metrics,
        })
    }

    /// One step: claims the due endpoints and serves each (concurrently, each in order).
    /// `stop` ends batches between two deliveries.
    pub async fn dispatch_once(
        self: &Arc<Self>,
        stop: &watch::Receiver<bool>,
    ) -> Result<DispatchOutcome, license_core::Error> {
        let now = self.clock.now();
        let lease = TimeDelta::seconds(i64::try_from(self.config.lease_seconds).unwrap_or(30));
        let claim = WebhookClaim {
            by: self.replica.clone(),
            now,
            until: now + lease,
        };
        let claimed = self.store.claim_due_webhooks(&claim, CLAIM_LIMIT).await?;
        let mut outcome = DispatchOutcome {
            endpoints: claimed.len(),
            ..DispatchOutcome::default()
        };
        let mut tasks = JoinSet::new();
        for endpoint in claimed {
            let this = self.clone();
            let stop = stop.clone();
            let until = claim.until;
            tasks.spawn(async move { this.serve(endpoint, until, &stop).await });
        }
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((delivered, failed)) => {
                    outcome.delivered += delivered;
                    outcome.failed += failed;
                }
                Err(e) => warn!(error = %e, "a webhook task ended abnormally"),
            }
        }
        Ok(outcome)
    }

    /// Serves one claimed endpoint; returns (delivered, failed).
    async fn serve(
        &self,
        endpoint: WebhookEndpoint,
        claim_until: DateTime<Utc>,
        stop: &watch::Receiver<bool>,
    ) -> (usize, usize) {
        let (tenant, id) = (endpoint.tenant_id, endpoint.id);
        let result = self.serve_claimed(&endpoint, claim_until, stop).await;
        if let Err(e) = self
            .store
            .release_webhook_claim(tenant, id, &self.replica)
            .await
        {
            // The claim expires by itself.
            warn!(error = %e, webhook_id = %id, "releasing a webhook claim failed");
        }
        match result {
            Ok(counts) => counts,
            Err(e) => {
                warn!(error = %e, webhook_id = %id, tenant_id = %tenant, "webhook delivery step failed");
                (0, 0)
            }
        }
    }

    async fn serve_claimed(
        &self,
        endpoint: &WebhookEndpoint,
        claim_until: DateTime<Utc>,
        stop: &watch::Receiver<bool>,
    ) -> Result<(usize, usize), license_core::Error> {
        let (tenant, id) = (endpoint.tenant_id, endpoint.id);
        let entries = self
            .store
            .read_events(tenant, endpoint.cursor, BATCH)
            .await?;
        let timeout = TimeDelta::seconds(i64::try_from(self.config.timeout_seconds).unwrap_or(10));
        // Handled but not yet recorded: entries skipped as not subscribed.
        let mut cursor = endpoint.cursor;
        let mut recorded = endpoint.cursor;
        let mut delivered = 0;
        for entry in entries {
            let message = WebhookMessage::of_entry(tenant, &entry);
            if !endpoint.event_types.includes(&message.event_type) {
                cursor = entry.seq;
                continue;
            }
            // Stop before a delivery could outlast the claim (another replica may take it
            // over then) or when the server stops.
            if *stop.borrow() || self.clock.now() + timeout >= claim_until {
                break;
            }
            let started = Instant::now();
            let attempted_at = self.clock.now();
            let sent = self.sender.send(endpoint, &message, attempted_at).await;
            let mut delivery = Delivery {
                id: WebhookDeliveryId::new(),
                endpoint_id: id,
                tenant_id: tenant,
                seq: entry.seq,
                webhook_id: message.id.clone(),
                attempted_at,
                status_code: None,
                error: None,
                ok: false,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            };
            match sent {
                Sent::Ok(status) => {
                    self.metrics.inc("ok");
                    delivery.status_code = Some(status);
                    delivery.ok = true;
                    self.store
                        .record_webhook_progress(
                            tenant,
                            id,
                            &self.replica,
                            entry.seq,
                            Some(&delivery),
                        )
                        .await?;
                    cursor = entry.seq;
                    recorded = entry.seq;
                    delivered += 1;
                }
                failed => {
                    if cursor > recorded {
                        self.store
                            .record_webhook_progress(tenant, id, &self.replica, cursor, None)
                            .await?;
                    }
                    match failed {
                        Sent::Status(status, error) => {
                            self.metrics.inc("failed");
                            delivery.status_code = Some(status);
                            delivery.error = Some(error);
                        }
                        Sent::Failed { refused, error } => {
                            self.metrics.inc(if refused { "refused" } else { "error" });
                            delivery.error = Some(error);
                        }
                        Sent::Ok(_) => {}
                    }
                    self.failed(endpoint, delivery).await?;
                    return Ok((delivered, 1));
                }
            }
        }
        if cursor > recorded {
            self.store
                .record_webhook_progress(tenant, id, &self.replica, cursor, None)
                .await?;
        }
        Ok((delivered, 0))
    }

    /// Records a failure: backoff, and disabling after too long.
    async fn failed(
        &self,
        endpoint: &WebhookEndpoint,
        delivery: Delivery,
    ) -> Result<(), license_core::Error> {
        let now = delivery.attempted_at;
        let attempts = endpoint.attempts.saturating_add(1);
        let wait =
            TimeDelta::from_std(self.retry.backoff_random(attempts)).unwrap_or(TimeDelta::hours(1));
        let failing_since = endpoint.failing_since.unwrap_or(now);
        let disabled_reason = self.retry.should_disable(failing_since, now).then(|| {
            format!(
                "deliveries failed for {} hours without a success",
                self.config.disable_after_hours
            )
        });
        debug!(webhook_id = %endpoint.id, attempts, error = ?delivery.error, "webhook delivery failed");
        let failure = DeliveryFailure {
            delivery,
            next_attempt_at: now + wait,
            disabled_reason: disabled_reason.clone(),
        };
        self.store
            .record_webhook_failure(endpoint.tenant_id, endpoint.id, &self.replica, &failure)
            .await?;
        if let Some(reason) = disabled_reason {
            warn!(webhook_id = %endpoint.id, tenant_id = %endpoint.tenant_id, "webhook endpoint disabled: {reason}");
            self.events.emit(&SeatEvent::new(
                now,
                endpoint.tenant_id,
                SeatEventKind::WebhookDisabled {
                    endpoint_id: endpoint.id,
                    reason,
                },
            ));
        }
        Ok(())
    }
}

impl Dispatcher {
    /// Deletes every endpoint's delivery records older than `webhooks.delivery_log_days`
    /// (none when 0), a thousand at a time. Returns how many.
    pub async fn prune_deliveries(&self) -> Result<u64, license_core::Error> {
        const BATCH: u32 = 1_000;
        if self.config.delivery_log_days == 0 {
            return Ok(0);
        }
        let before = self.clock.now() - TimeDelta::days(i64::from(self.config.delivery_log_days));
        let mut deleted = 0;
        for tenant in self.store.list_tenants().await? {
            for endpoint in self.store.list_webhooks(tenant.id).await? {
                loop {
                    let gone = self
                        .store
                        .prune_webhook_deliveries(tenant.id, endpoint.id, before, BATCH)
                        .await?;
                    deleted += gone;
                    if gone < u64::from(BATCH) {
                        break;
                    }
                }
            }
        }
        Ok(deleted)
    }
}

/// How often a delivering replica prunes the delivery log.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

/// Runs the dispatcher until `stop` changes; the step in flight finishes its current
/// delivery first. Every hour (and at start) it also prunes the delivery log.
pub async fn run(dispatcher: Arc<Dispatcher>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut pruned: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        if pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            pruned = Some(Instant::now());
            match dispatcher.prune_deliveries().await {
                Ok(0) => {}
                Ok(deleted) => debug!(deleted, "webhook delivery log pruned"),
                Err(e) => warn!(error = %e, "pruning the webhook delivery log failed"),
            }
        }
        match dispatcher.dispatch_once(&stop).await {
            Ok(outcome) if outcome.endpoints > 0 => debug!(?outcome, "webhooks dispatched"),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "claiming due webhooks failed"),
        }
        if *stop.borrow() {
            break;
        }
    }
}
