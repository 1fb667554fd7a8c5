//! The transport's metrics: connections open and accepted, waits at `server.max_connections`,
//! and connections the server cut, by reason.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Handles on the connection metrics; clones count into the same series.
#[derive(Clone, Debug, Default)]
pub struct ConnectionMetrics {
    open: Gauge,
    accepted: Counter,
    limit_waits: Counter,
    cut: Family<ReasonLabels, Counter>,
}

impl ConnectionMetrics {
    /// Registers the series in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "license_http_connections_open",
            "HTTP connections open now (at most server.max_connections)",
            metrics.open.clone(),
        );
        registry.register(
            "license_http_connections_accepted",
            "HTTP connections accepted",
            metrics.accepted.clone(),
        );
        registry.register(
            "license_http_connection_limit_waits",
            "Times every connection slot was taken (server.max_connections), so accepting waited for one to close",
            metrics.limit_waits.clone(),
        );
        registry.register(
            "license_http_connections_cut",
            "Connections the server closed, by reason: header (server.header_read_timeout_seconds), body (408, server.body_read_timeout_seconds), idle (server.keep_alive_idle_seconds waiting for the next request, or for the client to read a response), shed (idle while every slot was taken)",
            metrics.cut.clone(),
        );
        metrics
    }

    /// A connection was accepted.
    pub fn opened(&self) {
        self.accepted.inc();
        self.open.inc();
    }

    /// A connection closed.
    pub fn closed(&self) {
        self.open.dec();
    }

    /// Every slot was taken when the accept loop wanted one.
    pub fn limit_reached(&self) {
        self.limit_waits.inc();
    }

    /// The server closed a connection for `reason` (`header`, `body`, `idle` or `shed`).
    pub fn cut(&self, reason: &'static str) {
        self.cut.get_or_create(&ReasonLabels { reason }).inc();
    }
}
