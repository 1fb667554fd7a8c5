//! Prometheus metrics (`/metrics`, text format) and the request middleware that records them.
//! Requests are labelled by operation id, never by raw URL, so ids in paths cannot blow up the
//! number of series.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use license_core::{AdminService, Error, LicenseService, ReapOutcome};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::OperationId;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::{Instrument as _, debug, error, field};

use crate::auth::oidc::OidcStats;
use crate::events::{LogQueue, MetricsSink, OutcomeLabels, TypeLabels};
use crate::state::AppState;
use license_core::events::EventRecorder;

/// The transport's connection metrics.
mod connections;
/// Seats in use, the limit and seats sold, per license.
mod seats;

pub use connections::ConnectionMetrics;
pub use seats::SeatMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BudgetLabels {
    budget: &'static str,
}

/// Requests refused with 429 `rate_limited`, by the budget that was spent (`limits`).
#[derive(Clone, Debug, Default)]
pub struct RateLimitCounter(Family<BudgetLabels, Counter>);

impl RateLimitCounter {
    /// Counts one refusal by `budget` (`address_requests`, `address_failures`,
    /// `credential_requests`, `credential_failures`).
    pub fn inc(&self, budget: &'static str) {
        self.0.get_or_create(&BudgetLabels { budget }).inc();
    }
}

/// Webhook delivery attempts by outcome (`ok`, `failed`: a status other than 2xx, `error`:
/// no answer, `refused`: a forbidden address or scheme).
#[derive(Clone, Debug, Default)]
pub struct WebhookCounter(Family<OutcomeLabels, Counter>);

impl WebhookCounter {
    /// Counts one attempt.
    pub fn inc(&self, outcome: &'static str) {
        self.0.get_or_create(&OutcomeLabels { outcome }).inc();
    }
}

type LatencyFamily = Family<OperationLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    acquires: Family<OutcomeLabels, Counter>,
    heartbeats: Family<OutcomeLabels, Counter>,
    events: Family<TypeLabels, Counter>,
    reaper_passes: Family<OutcomeLabels, Counter>,
    reaped: Counter,
    rate_limited: RateLimitCounter,
    webhooks: WebhookCounter,
    connections: ConnectionMetrics,
    seats: SeatMetrics,
    deleted: Counter,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric; [`watch`](Self::watch) adds the service's counters.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let acquires = Family::<OutcomeLabels, Counter>::default();
        let heartbeats = Family::<OutcomeLabels, Counter>::default();
        let events = Family::<TypeLabels, Counter>::default();
        let reaper_passes = Family::<OutcomeLabels, Counter>::default();
        let reaped = Counter::default();
        let rate_limited = RateLimitCounter::default();
        let deleted = Counter::default();
        let webhooks = WebhookCounter::default();
        registry.register(
            "license_http_requests",
            "HTTP requests by operation id and status",
            requests.clone(),
        );
        registry.register(
            "license_http_request_duration_seconds",
            "HTTP request latency by operation id",
            latency.clone(),
        );
        registry.register(
            "license_acquires",
            "Acquire calls by outcome (granted, idempotent, no_seats, group_max, user_max, host_max, processes_per_host, reserved_for_others, excluded, evicted, error)",
            acquires.clone(),
        );
        registry.register(
            "license_heartbeats",
            "Heartbeat calls by outcome (renewed, expired, evicted, error)",
            heartbeats.clone(),
        );
        registry.register(
            "license_seat_events",
            "Seat events by type (granted, held, denied, renewed, released, expired, revoked, evicted, borrowed, returned, overdraft, rebuilt, reaped, admin_change)",
            events.clone(),
        );
        registry.register(
            "license_reaper_passes",
            "Reaper passes by outcome (ok, error)",
            reaper_passes.clone(),
        );
        registry.register(
            "license_reaped_sessions",
            "Sessions the reaper marked expired",
            reaped.clone(),
        );
        registry.register(
            "license_rate_limited",
            "Requests refused with 429 rate_limited, by the budget spent (address_requests, address_failures, credential_requests, credential_failures)",
            rate_limited.0.clone(),
        );
        registry.register(
            "license_deleted_sessions",
            "Ended sessions the reaper deleted after reaper.session_retention_days",
            deleted.clone(),
        );
        registry.register(
            "license_webhook_deliveries",
            "Webhook delivery attempts by outcome (ok, failed: a status other than 2xx, error: no answer, refused: a forbidden address)",
            webhooks.0.clone(),
        );
        let connections = ConnectionMetrics::register(&mut registry);
        let seats = SeatMetrics::register(&mut registry);
        Self {
            registry,
            requests,
            latency,
            acquires,
            heartbeats,
            events,
            reaper_passes,
            reaped,
            rate_limited,
            webhooks,
            connections,
            seats,
            deleted,
        }
    }

    /// The counter of rate-limited requests, for the limits.
    pub fn rate_limits(&self) -> RateLimitCounter {
        self.rate_limited.clone()
    }

    /// The webhook delivery counter, for the dispatcher.
    pub fn webhooks(&self) -> WebhookCounter {
        self.webhooks.clone()
    }

    /// The connection metrics, for the transport.
    pub fn connections(&self) -> ConnectionMetrics {
        self.connections.clone()
    }

    /// The per-license seat gauges, for the seat-gauge task.
    pub fn seats(&self) -> SeatMetrics {
        self.seats.clone()
    }

    /// The event sink that feeds the outcome counters.
    pub fn sink(&self) -> MetricsSink {
        MetricsSink {
            acquires: self.acquires.clone(),
            heartbeats: self.heartbeats.clone(),
            events: self.events.clone(),
        }
    }

    /// Reads the service's counters and the event log's drops at each scrape.
    pub fn watch(
        &mut self,
        service: Arc<LicenseService>,
        log: LogQueue,
        recorder: Arc<EventRecorder>,
    ) {
        self.registry.register_collector(Box::new(ServiceCounters {
            service,
            log,
            recorder,
        }));
    }

    /// Reads the credential caches' counters at each scrape: the API-key cache's, and the
    /// ID-token cache's when OIDC is on.
    pub fn watch_auth(&mut self, admin: Arc<AdminService>, oidc: Option<Arc<OidcStats>>) {
        self.registry
            .register_collector(Box::new(AuthCounters { admin, oidc }));
    }

    /// Counts an acquire that failed without an event: everything but refusals (no seat,
    /// a policy's limit, `excluded`) and `evicted` (which are `denied` events) is `error`.
    pub fn acquire_failed(&self, error: &Error) {
        match error {
            Error::NoSeatsAvailable { .. } | Error::Excluded(_) | Error::HeldOff { .. } => {}
            // The poll of a wait that is over: not a failure of the server.
            Error::TicketGone => self.outcome(&self.acquires, "queue_ticket_gone"),
            _ => self.outcome(&self.acquires, "error"),
        }
    }

    /// Counts an acquire answered 202: the client waits in the license's queue.
    pub fn acquire_waiting(&self) {
        self.outcome(&self.acquires, "waiting");
    }

    /// Counts a heartbeat that failed: `expired` (the seat is gone: 410), `evicted` (410) or
    /// `error`.
    pub fn heartbeat_failed(&self, error: &Error) {
        let outcome = match error {
            Error::SessionExpired => "expired",
            Error::SessionEvicted { .. } => "evicted",
            _ => "error",
        };
        self.outcome(&self.heartbeats, outcome);
    }

    fn outcome(&self, family: &Family<OutcomeLabels, Counter>, outcome: &'static str) {
        family.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Counts one reaper pass.
    pub fn reap(&self, result: &Result<ReapOutcome, license_core::Error>) {
        let outcome = match result {
            Ok(done) => {
                self.reaped.inc_by(done.expired);
                self.deleted.inc_by(done.deleted);
                "ok"
            }
            Err(_) => "error",
        };
        self.reaper_passes
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    fn request(&self, operation: &'static str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { operation, status })
            .inc();
        self.latency
            .get_or_create(&OperationLabels { operation })
            .observe(seconds);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            error!(error = %e, "metrics encoding failed");
        }
        out
    }
}

/// The service's own counters and the event log's drops, read at each scrape.
#[derive(Debug)]
struct ServiceCounters {
    service: Arc<LicenseService>,
    log: LogQueue,
    recorder: Arc<EventRecorder>,
}

impl Collector for ServiceCounters {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let stats = self.service.stats();
        let tenant_keys = self.service.tenant_keys();
        let keys = tenant_keys.stats();
        for (name, help, value) in [
            (
                "license_ledger_rebuilds",
                "Times a license's seats were rebuilt from the store",
                stats.ledger_rebuilds.load(Ordering::Relaxed),
            ),
            (
                "license_ledger_compensations",
                "Acquires withdrawn after the ledger failed (the record deleted, the seat released)",
                stats.compensations.load(Ordering::Relaxed),
            ),
            (
                "license_tenant_keys_created",
                "Tenant signing keys this replica made (each one root signature and one wrap)",
                keys.created.load(Ordering::Relaxed),
            ),
            (
                "license_tenant_keys_unwrapped",
                "Tenant signing keys this replica unwrapped (each one KMS decrypt in production)",
                keys.unwrapped.load(Ordering::Relaxed),
            ),
            (
                "license_tenant_key_rotation_failures",
                "Successor keys this replica failed to make when due (the root or the store failed)",
                keys.rotation_failures.load(Ordering::Relaxed),
            ),
            (
                "license_events_dropped",
                "Seat events the event log's queue had no room for",
                self.log.dropped(),
            ),
            (
                "license_event_log_written",
                "Entries this replica appended to the store's seat-event log (events_lost entries included)",
                self.recorder.stats().written.load(Ordering::Relaxed),
            ),
            (
                "license_event_log_dropped",
                "Seat events the store's event log queue had no room for (each tenant's log gets an events_lost entry with its count)",
                self.recorder.stats().dropped.load(Ordering::Relaxed),
            ),
            (
                "license_event_log_failed_appends",
                "Appends to the store's event log that failed (their events stayed queued)",
                self.recorder.stats().failed_appends.load(Ordering::Relaxed),
            ),
        ] {
            let counter = ConstCounter::new(value);
            let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        let queued = ConstGauge::new(i64::try_from(self.recorder.queued()).unwrap_or(i64::MAX));
        let metric = encoder.encode_descriptor(
            "license_event_log_queued",
            "Seat events waiting in this replica's queue for the store's event log",
            None,
            queued.metric_type(),
        )?;
        queued.encode(metric)?;
        let pending =
            ConstGauge::new(i64::try_from(self.service.pending_heartbeats()).unwrap_or(i64::MAX));
        let metric = encoder.encode_descriptor(
            "license_heartbeats_pending",
            "Renewals waiting in this replica's write-behind buffer (flushed every second)",
            None,
            pending.metric_type(),
        )?;
        pending.encode(metric)?;
        // What readiness reports as `degraded` (the root could not certify a tenant key that
        // is due), read from the last key maintenance: no KMS call at scrape time.
        let degraded = ConstGauge::new(i64::from(tenant_keys.health().is_some()));
        let metric = encoder.encode_descriptor(
            "license_signer_degraded",
            "1 while the signer is degraded (a tenant key is due and the root could not certify a successor; /api/v1/ready says degraded), else 0",
            None,
            degraded.metric_type(),
        )?;
        degraded.encode(metric)?;
        Ok(())
    }
}

/// The credential caches' counters, read at each scrape.
#[derive(Debug)]
struct AuthCounters {
    admin: Arc<AdminService>,
    oidc: Option<Arc<OidcStats>>,
}

impl Collector for AuthCounters {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let keys = self.admin.credential_cache_stats();
        let mut counters = vec![
            (
                "license_api_key_cache_hits",
                "API-key checks answered from the cache (accepted or refused), without the store",
                keys.hits,
            ),
            (
                "license_api_key_lookups",
                "API-key checks that read the store (key not cached, or its record past auth.cache_seconds)",
                keys.lookups,
            ),
            (
                "license_api_key_lookups_limited",
                "API-key checks refused with 503 because lookups of keys not cached were over auth.miss_lookups_per_second",
                keys.limited,
            ),
        ];
        if let Some(oidc) = &self.oidc {
            counters.push((
                "license_oidc_cache_hits",
                "ID tokens accepted from the cache, without a signature check",
                oidc.hits.load(Ordering::Relaxed),
            ));
            counters.push((
                "license_oidc_verifications",
                "ID tokens whose signature and claims were checked",
                oidc.verifications.load(Ordering::Relaxed),
            ));
        }
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        for (name, help, value) in [
            (
                "license_api_key_cache_records",
                "API-key records held in the cache",
                keys.records,
            ),
            (
                "license_api_key_cache_missing",
                "API keys held in the cache as missing from the store",
                keys.missing,
            ),
        ] {
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

/// Request middleware: a span per request (method, path, operation id, status), the request
/// counter and latency histogram, and a log line (debug; error for 5xx).
pub async fn observe<E: Endpoint>(
    state: Arc<AppState>,
    next: Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = req.uri().path(),
        operation = field::Empty,
        status = field::Empty,
    );
    let started = Instant::now();
    let response = next
        .call(req)
        .instrument(span.clone())
        .await
        .map(IntoResponse::into_response)?;
    let elapsed = started.elapsed();
    let operation = response
        .data::<OperationId>()
        .map_or("other", |operation| operation.0);
    let status = response.status().as_u16();
    span.record("operation", operation);
    span.record("status", status);
    state
        .metrics
        .request(operation, status, elapsed.as_secs_f64());
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if status >= 500 {
        error!(parent: &span, latency_ms, "request failed");
    } else {
        debug!(parent: &span, latency_ms, "request served");
    }
    Ok(response)
}
