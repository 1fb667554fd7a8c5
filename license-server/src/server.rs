//! Putting it together: the routes and middleware around the API, binding the listener,
//! the background tasks, and graceful shutdown (stop accepting, let in-flight requests finish,
//! stop the tasks, return). Connections themselves are the transport's (`transport`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use license_core::{Clock, SystemClock};
use poem::middleware::{CatchPanic, NormalizePath, TrailingSlash};
use poem::web::Data;
use poem::{Endpoint, EndpointExt, Response, Route, get, handler};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

use crate::api;
use crate::api::error::{panic_response, shape_errors};
use crate::auth::operator::{self, OperatorCredential, OperatorSource};
use crate::compose::{Adapters, ComposeError, build_adapters};
use crate::config::Config;
use crate::data_dir::ensure_data_dir;
use crate::event_writer;
use crate::flusher;
use crate::key_maintainer;
use crate::keys::load_retired_keys;
use crate::limits::rate_limit;
use crate::metrics::observe;
use crate::reaper;
use crate::seat_gauges;
use crate::state::AppState;
use crate::transport::{self, body};
use crate::webhook_dispatcher;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An adapter, the data directory or the operator credential.
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// The OIDC verifier or the webhook HTTP client.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The listener.
    #[error("cannot listen on {addr} (`server.listen`, LICENSE_SERVER__LISTEN): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The server loop.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// The app before it listens: configuration, adapters and clock.
#[derive(Debug)]
pub struct App {
    config: Config,
    adapters: Adapters,
    clock: Arc<dyn Clock>,
}

impl App {
    /// An app on `adapters`, reading time from `clock`: the use cases, the admin service (and
    /// so the credential checks) and the reaper read it. Pass the clock the adapters were
    /// built with (tests pass one `ManualClock` to both).
    pub fn new(config: Config, adapters: Adapters, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            adapters,
            clock,
        }
    }

    /// Loads the retired keys, resolves the operator credential, wires the state and binds
    /// `server.listen` (port 0 picks a free port).
    pub async fn bind(self) -> Result<BoundApp, ServeError> {
        let retired_keys = load_retired_keys(&self.config).await?;
        let operator = operator::resolve(&self.config)?;
        let state = Arc::new(AppState::new(
            &self.config,
            self.adapters,
            retired_keys,
            self.clock,
            operator.token.clone(),
        )?);
        let addr = self.config.server.listen;
        let bind_error = |source| ServeError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        Ok(BoundApp {
            config: self.config,
            state,
            listener,
            local_addr,
            operator,
        })
    }
}

/// The app listening, not yet serving.
pub struct BoundApp {
    config: Config,
    state: Arc<AppState>,
    listener: TcpListener,
    local_addr: SocketAddr,
    operator: OperatorCredential,
}

impl std::fmt::Debug for BoundApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundApp")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl BoundApp {
    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The shared state (tests run the reaper step on it).
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// The operator credential.
    pub fn operator(&self) -> &OperatorCredential {
        &self.operator
    }

    /// Logs where the server is, where the operator credential is and where the docs and the
    /// web console are.
    pub fn announce(&self) {
        let base = if self.config.server.public_url.is_empty() {
            format!("http://{}", self.local_addr)
        } else {
            self.config.public_url()
        };
        info!(addr = %self.local_addr, "license-server listening");
        match &self.operator.source {
            OperatorSource::Config => {
                info!("operator credential: auth.operator_token (LICENSE_AUTH__OPERATOR_TOKEN)");
            }
            OperatorSource::File(path) => {
                info!(path = %path.display(), "operator credential: send the token in this file as `Authorization: Bearer <token>`");
            }
        }
        info!(
            docs = %format!("{base}/docs"),
            spec = %format!("{base}/openapi.json"),
            console = %format!("{base}/console"),
            "API docs"
        );
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish
    /// (at most `server.shutdown_grace_seconds`), stops the reaper, the key maintainer, the
    /// webhook dispatcher and the seat gauges, flushes the last renewals to the store and writes the last seat events. Connections are bounded by the `[server]` limits (ADR 0020).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let (stop, stopped) = watch::channel(false);
        let reaper = self.config.reaper.enabled.then(|| {
            tokio::spawn(reaper::run(
                self.state.clone(),
                self.config.reaper.clone(),
                stopped,
            ))
        });
        let flush_every = Duration::from_millis(self.config.hot_path.flush_interval_millis);
        let (stop_flusher, flusher_stopped) = watch::channel(false);
        let flusher = tokio::spawn(flusher::run(
            self.state.clone(),
            flush_every,
            flusher_stopped,
        ));
        let (stop_writer, writer_stopped) = watch::channel(false);
        let writer = tokio::spawn(event_writer::run(
            self.state.recorder.clone(),
            Duration::from_millis(self.config.events.write_interval_millis),
            writer_stopped,
        ));
        let checkpoint_every = self.config.events.checkpoint_interval_seconds;
        let checkpoints = (checkpoint_every > 0).then(|| {
            tokio::spawn(event_writer::run_checkpoints(
                self.state.service.clone(),
                Duration::from_secs(checkpoint_every),
                self.config.events.retention_days,
                stop.subscribe(),
            ))
        });
        let webhooks = self.config.webhooks.enabled.then(|| {
            tokio::spawn(webhook_dispatcher::run(
                self.state.dispatcher.clone(),
                Duration::from_millis(self.config.webhooks.poll_interval_millis),
                stop.subscribe(),
            ))
        });
        let refresh = Duration::from_secs(u64::from(self.config.signer.tenant_key_refresh_seconds));
        let maintainer = tokio::spawn(key_maintainer::run(
            self.state.clone(),
            refresh,
            stop.subscribe(),
        ));
        let gauge_every = self.config.metrics.seat_gauge_seconds;
        let gauges = (gauge_every > 0).then(|| {
            tokio::spawn(seat_gauges::run(
                self.state.clone(),
                Duration::from_secs(gauge_every),
                stop.subscribe(),
            ))
        });
        let limits = self.config.server.connection_limits();
        let connections = self.state.metrics.connections();
        let stopping = self.state.stopping.clone();
        let shutdown = async move {
            shutdown.await;
            let _ = stopping.send(true);
        };
        transport::serve(
            self.listener,
            routes(self.state),
            limits,
            connections,
            shutdown,
        )
        .await;
        let _ = stop.send(true);
        if let Some(reaper) = reaper {
            let _ = reaper.await;
        }
        let _ = maintainer.await;
        if let Some(checkpoints) = checkpoints {
            let _ = checkpoints.await;
        }
        if let Some(webhooks) = webhooks {
            let _ = webhooks.await;
        }
        if let Some(gauges) = gauges {
            let _ = gauges.await;
        }
        // After the last request: its renewals are flushed too.
        let _ = stop_flusher.send(true);
        let _ = flusher.await;
        // After the last request and the last reap: their events are written too.
        let _ = stop_writer.send(true);
        let _ = writer.await;
        info!("license-server stopped");
        Ok(())
    }
}

/// Builds the adapters from `config`, binds, announces and serves until `shutdown`.
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    ensure_data_dir(&config.data_dir)?;
    transport::open_files::fit(config.server.max_connections);
    // The one clock of the process: the adapters and the app share it.
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let adapters = build_adapters(&config, clock.clone()).await?;
    let app = App::new(config, adapters, clock).bind().await?;
    app.announce();
    app.run(shutdown).await
}

/// Every route: the API (`/api/v1/…`, `/.well-known/jwks.json`), the OpenAPI document
/// (`/openapi.json`), the docs page (`/docs`), the web console (`/console`) and `/metrics`, behind the body's limit and read
/// deadline, the error shape, trailing-slash normalisation, the rate limits (which see every
/// response, and refuse before the body is read) and the request metrics.
pub fn routes(state: Arc<AppState>) -> impl Endpoint {
    let api = api::service();
    let docs = api.rapidoc();
    let body_limits = Arc::new(body::BodyLimits {
        max_bytes: state.body_limit,
        read_timeout: state.body_read_timeout,
        metrics: state.metrics.connections(),
    });
    let observed = state.clone();
    let limited = state.clone();
    Route::new()
        .at("/openapi.json", get(openapi_document))
        .nest("/docs", docs)
        .nest("/console", crate::console::routes())
        .at("/metrics", get(metrics))
        .nest("/", api)
        .around(move |ep, req| body::read_body(ep, req, body_limits.clone()))
        .with(CatchPanic::new().with_handler(panic_response))
        .around(shape_errors)
        // `/api/v1/health/` (the original contract) and `/api/v1/health` are the same route.
        .with(NormalizePath::new(TrailingSlash::Trim))
        .around(move |ep, req| rate_limit(limited.clone(), ep, req))
        .around(move |ep, req| observe(observed.clone(), ep, req))
        .data(state)
}

/// The document `license-server openapi` prints (with its public operations declared).
#[handler]
fn openapi_document() -> Response {
    // Built once: the document never changes while the process runs.
    static DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(api::spec);
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(DOCUMENT.as_str())
}

#[handler]
fn metrics(state: Data<&Arc<AppState>>) -> Response {
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
