//! What every request handler shares: the use cases, the authenticator, the metrics, the rate
//! limits and the clock. Built once from the adapters; handlers reach it as request data.

use std::sync::Arc;

use license_core::event_log::EventLogStore;
use license_core::events::{EventRecorder, EventSinks};
use license_core::{AdminService, Clock, EventSink, LicenseService, PublicJwk};

use crate::auth::Authenticator;
use crate::auth::oidc::{OidcError, OidcVerifier};
use crate::compose::Adapters;
use crate::config::{Config, Secret};
use crate::events;
use crate::limits::Limits;
use crate::limits::ready::ReadyCache;
use crate::metrics::Metrics;
use crate::seat_gauges::SeatGauges;
use crate::webhook_dispatcher::Dispatcher;
use license_core::webhooks::WebhookService;

/// Why the state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The OIDC verifier.
    #[error(transparent)]
    Oidc(#[from] OidcError),
    /// The webhook dispatcher's HTTP client (its TLS set-up).
    #[error("cannot set up the webhook HTTP client: {0}")]
    WebhookClient(reqwest::Error),
}

/// The shared state of the app.
#[derive(Debug)]
pub struct AppState {
    /// Seats: acquire, heartbeat, release, reap, validate.
    pub service: Arc<LicenseService>,
    /// Tenants, licenses, API keys, usage, audit.
    pub admin: Arc<AdminService>,
    /// Credential checks.
    pub auth: Authenticator,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// The seat-event log's queue and writer (ADR 0030).
    pub recorder: Arc<EventRecorder>,
    /// Webhook endpoints: create, list, change, deliveries, redelivery (ADR 0032).
    pub webhooks: Arc<WebhookService>,
    /// The webhook dispatcher (run by the server when `webhooks.enabled`).
    pub dispatcher: Arc<Dispatcher>,
    /// The per-license seat gauges and the licenses this replica served.
    pub seat_gauges: SeatGauges,
    /// The clock the use cases read (a manual one in tests).
    pub clock: Arc<dyn Clock>,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Request and failure budgets per client address and credential.
    pub limits: Limits,
    /// The readiness answer, shared among callers.
    pub ready: ReadyCache,
    /// How long a request body may take to arrive once its head has.
    pub body_read_timeout: std::time::Duration,
    /// Set when the server begins to stop: live event streams end, so they do not hold the
    /// shutdown for its whole grace period.
    pub stopping: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    /// Wires the use cases over `adapters`; `retired_keys` are published beside the signer's.
    pub fn new(
        config: &Config,
        adapters: Adapters,
        retired_keys: Vec<PublicJwk>,
        clock: Arc<dyn Clock>,
        operator_token: Secret,
    ) -> Result<Self, StateError> {
        let mut metrics = Metrics::new();
        let (mut sinks, log_queue) = events::sinks(metrics.sink());
        let store: Arc<dyn EventLogStore> = adapters.store.clone();
        let recorder = Arc::new(EventRecorder::new(
            store,
            clock.clone(),
            config.events.replica_name(),
            usize::try_from(config.events.queue_capacity).unwrap_or(usize::MAX),
        ));
        sinks = sinks.with(recorder.clone());
        let seat_gauges = SeatGauges::new(metrics.seats(), config.metrics.seat_gauge_max_licenses);
        if config.metrics.seat_gauge_seconds > 0 {
            sinks = sinks.with(seat_gauges.sink());
        }
        let sinks = Arc::new(sinks);
        let service = Arc::new(
            LicenseService::new(
                adapters.store.clone(),
                adapters.ledger,
                adapters.signer,
                clock.clone(),
                config.issuer.clone(),
            )
            .with_retired_keys(retired_keys)
            .with_tenant_keys(adapters.wrapper, config.signer.tenant_keys())
            .with_hot_path(config.hot_path.core())
            .with_session_retention(config.reaper.session_retention())
            .with_events(sinks.clone()),
        );
        metrics.watch(service.clone(), log_queue, recorder.clone());
        // Admin changes made through this replica reach its license cache at once.
        let admin_sinks: Arc<dyn EventSink> = Arc::new(
            EventSinks::none()
                .with(sinks.clone())
                .with(service.policy_cache()),
        );
        let admin = Arc::new(
            AdminService::new(adapters.store.clone(), clock.clone())
                .with_events(admin_sinks.clone())
                .with_credential_cache(config.auth.credential_cache())
                .with_quotas(config.quotas.core()),
        );
        let oidc = if config.auth.oidc.enabled() {
            Some(OidcVerifier::new(
                config.auth.oidc.clone(),
                config.auth.cache_ttl(),
                config.auth.cache_capacity,
            )?)
        } else {
            None
        };
        let webhooks = Arc::new(
            WebhookService::new(
                adapters.store.clone(),
                clock.clone(),
                config.webhooks.url_policy(),
            )
            .with_events(admin_sinks.clone()),
        );
        let dispatcher = Arc::new(
            Dispatcher::new(
                adapters.store.clone(),
                clock.clone(),
                sinks.clone(),
                &config.webhooks,
                config.events.replica_name(),
                metrics.webhooks(),
            )
            .map_err(StateError::WebhookClient)?,
        );
        let auth = Authenticator::new(admin.clone(), adapters.store, operator_token, oidc);
        metrics.watch_auth(admin.clone(), auth.oidc_stats());
        let limits = Limits::new(&config.limits, clock.clone(), metrics.rate_limits());
        let ready = ReadyCache::new(
            std::time::Duration::from_millis(config.limits.ready_cache_millis),
            clock.clone(),
        );
        Ok(Self {
            service,
            admin,
            auth,
            metrics,
            recorder,
            webhooks,
            dispatcher,
            seat_gauges,
            clock,
            body_limit: usize::try_from(config.server.body_limit_bytes).unwrap_or(usize::MAX),
            limits,
            ready,
            body_read_timeout: config.server.body_read_timeout(),
            stopping: tokio::sync::watch::Sender::new(false),
        })
    }
}
