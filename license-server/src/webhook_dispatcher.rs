//! The webhook dispatcher (ADR 0032): every `webhooks.poll_interval_millis` it claims the
//! endpoints that are due (in the store, so each is served by one replica at a time), sends
//! each one's log entries after its cursor in order, signed the Standard Webhooks way, and
//! records what happened. A failure stops that endpoint's batch (the cursor stays: order is
//! kept) and backs it off; one failing for `webhooks.disable_after_hours` is disabled with a
//! `webhook_disabled` event. The step is
//! [`Dispatcher::dispatch_once`](crate::webhook_dispatcher::Dispatcher::dispatch_once);
//! [`run`](crate::webhook_dispatcher::run) loops it until
//! shutdown, letting the delivery in flight finish.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use license_core::webhooks::{
    BATCH, Delivery, DeliveryFailure, RetryPolicy, WebhookClaim, WebhookEndpoint, WebhookMessage,
    is_forbidden, sign,
};
use license_core::{Clock, EventSink, SeatEvent, SeatEventKind, Store, WebhookDeliveryId};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tracing::{debug, warn};

use crate::config::WebhooksConfig;
use crate::metrics::WebhookCounter;

/// Most endpoints one replica claims per step.
const CLAIM_LIMIT: u32 = 50;
/// Most bytes of a receiver's answer or an error kept in the delivery log.
const MAX_ERROR_LEN: usize = 300;

/// A name that resolved only to addresses webhooks may not reach.
#[derive(Debug, thiserror::Error)]
#[error("refused address: {0} resolves only to private, loopback or link-local addresses")]
struct RefusedAddress(String);

/// Resolves through the system, then drops every forbidden address, so a host name cannot
/// point a delivery inside the network, however it resolves at the time (DNS rebinding).
#[derive(Debug)]
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_forbidden(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(RefusedAddress(host)) as _);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// How one attempt went.
#[derive(Debug)]
enum Sent {
    /// A 2xx.
    Ok(u16),
    /// Another status.
    Status(u16, String),
    /// No answer: refused address, connection error, timeout.
    Failed { refused: bool, error: String },
}

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
    client: reqwest::Client,
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
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            // A redirect could lead anywhere, the checked address being the first hop only.
            .redirect(reqwest::redirect::Policy::none())
            // Through a proxy the target's address is never resolved here, so never checked.
            .no_proxy()
            .user_agent(concat!(
                "license-server-webhooks/",
                env!("CARGO_PKG_VERSION")
            ));
        if !config.allow_private_addresses {
            builder = builder.dns_resolver(PublicOnly);
        }
        Ok(Self {
            store,
            clock,
            events,
            client: builder.build()?,
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
            let sent = self.send(endpoint, &message, attempted_at).await;
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

    /// One POST.
    async fn send(
        &self,
        endpoint: &WebhookEndpoint,
        message: &WebhookMessage,
        at: DateTime<Utc>,
    ) -> Sent {
        let refused = |error: String| Sent::Failed {
            refused: true,
            error,
        };
        let url = match reqwest::Url::parse(endpoint.url.as_str()) {
            Ok(url) => url,
            Err(e) => return refused(format!("invalid url: {e}")),
        };
        if url.scheme() != "https" && !(url.scheme() == "http" && self.config.allow_http) {
            return refused("refused: the url is not https (webhooks.allow_http is off)".into());
        }
        // A literal IP is never resolved, so the resolver cannot check it.
        let literal: Option<IpAddr> = url
            .host_str()
            .and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse().ok());
        if !self.config.allow_private_addresses && literal.is_some_and(is_forbidden) {
            return refused(
                "refused address: private, loopback or link-local (webhooks.allow_private_addresses is off)"
                    .into(),
            );
        }
        let timestamp = at.timestamp();
        let signature = sign(&endpoint.secret, &message.id, timestamp, &message.body);
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &message.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(message.body.clone())
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => Sent::Ok(r.status().as_u16()),
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                Sent::Status(status, clip(&format!("HTTP {status}: {text}")))
            }
            Err(e) => {
                let chain = error_chain(&e);
                let refused = has_refused_address(&e);
                let kind = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "could not connect"
                } else {
                    "failed"
                };
                Sent::Failed {
                    refused,
                    error: clip(&format!("{kind}: {chain}")),
                }
            }
        }
    }
}

fn has_refused_address(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if err.is::<RefusedAddress>() {
            return true;
        }
        source = err.source();
    }
    false
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(err) = source {
        parts.push(err.to_string());
        source = err.source();
    }
    parts.join(": ")
}

fn clip(text: &str) -> String {
    if text.len() <= MAX_ERROR_LEN {
        return text.to_owned();
    }
    let mut end = MAX_ERROR_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Runs the dispatcher until `stop` changes; the step in flight finishes its current
/// delivery first.
pub async fn run(dispatcher: Arc<Dispatcher>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn the_default_resolver_refuses_internal_names() {
        for host in [
            "localhost",
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "::1",
        ] {
            let name: Name = host.parse().unwrap();
            let err = match PublicOnly.resolve(name).await {
                Err(e) => e,
                Ok(addrs) => panic!("{host}: {:?}", addrs.collect::<Vec<_>>()),
            };
            assert!(err.is::<RefusedAddress>(), "{host}: {err}");
        }
    }

    #[test]
    fn errors_are_clipped_on_a_character_boundary() {
        let long = "é".repeat(400);
        let clipped = clip(&long);
        assert!(clipped.len() <= MAX_ERROR_LEN + 3);
        assert!(clipped.ends_with('…'));
    }
}
