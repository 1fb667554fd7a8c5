//! The floating-license HTTP server: the client contract (acquire, heartbeat, release), the
//! admin API, `/.well-known/jwks.json`, the OpenAPI document and docs page, and `/metrics`, on
//! poem-openapi. It is also the composition root: [`build_adapters`] picks the store, the seat
//! ledger and the signer by URL scheme, and [`App`] wires them into the use cases of
//! `license-core`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use license_server::{Config, serve};
//!
//! // The embedded default: ./data, 127.0.0.1:8080, in-process adapters, a local key.
//! let config = Config::default();
//! serve(config, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(()) }
//! ```
//!
//! Tests bind port 0 with their own adapters and clock:
//!
//! ```
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use license_core::{memory::*, *};
//! use license_server::{Adapters, App, Config};
//!
//! let dir = tempfile::tempdir()?;
//! let mut config = Config::default();
//! config.data_dir = dir.path().into();
//! config.server.listen = "127.0.0.1:0".parse()?;
//! let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
//! let adapters = Adapters {
//!     store: Arc::new(MemoryStore::default()),
//!     ledger: Arc::new(MemoryLedger::new(clock.clone())),
//!     signer: Arc::new(LocalSigner::generate(SigningAlgorithm::EdDSA)?),
//!     wrapper: Arc::new(LocalKeyWrapper::ephemeral()?),
//! };
//! let app = App::new(config, adapters, clock).bind().await?;
//! let addr = app.local_addr();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(app.run(async { let _ = stopped.await; }));
//! // … call http://{addr}/api/v1/health/ …
//! # let _ = addr;
//! let _ = stop.send(());
//! server.await??;
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
//! ```

/// The HTTP API: one module per resource, and the error mapping.
pub mod api;
/// Credentials: API keys, the operator token, OIDC ID tokens.
pub mod auth;
/// The composition root: adapters picked by URL scheme.
pub mod compose;
/// Typed configuration and its layering.
pub mod config;
/// The web console: the committed single-page app under `/console`, embedded (ADR 0033).
pub mod console;
/// The data directory: created owner-only, files written once.
pub mod data_dir;
/// The seat-event log's writer task (ADR 0030).
pub mod event_writer;
/// Event sinks: seat events as metrics, and as an event log behind a bounded queue.
pub mod events;
/// The write-behind flusher.
pub mod flusher;
/// The tenant-key maintainer: rotation and other replicas' key changes, on a timer.
pub mod key_maintainer;
/// Key material: the local signing key and the retired keys still published.
pub mod keys;
/// Rate limits per client address and credential; the shared readiness answer.
pub mod limits;
/// Prometheus metrics and the request middleware.
pub mod metrics;
/// The background reaper.
pub mod reaper;
/// The per-license seat gauges, read on a timer.
pub mod seat_gauges;
/// Routes, middleware, listening and graceful shutdown.
pub mod server;
/// The state shared by every handler.
pub mod state;
/// Logging set-up (JSON for Cloud Logging, or pretty).
pub mod telemetry;
/// Connections under the app: limits, slow-client timeouts, the request body, shutdown.
pub mod transport;

pub use compose::{Adapters, build_adapters};
pub use config::Config;
pub use server::{App, BoundApp, ServeError, routes, serve};
pub use state::AppState;
/// The webhook dispatcher task: claims due endpoints, delivers, backs off (ADR 0032).
pub mod webhook_dispatcher;
