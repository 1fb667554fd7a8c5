//! `[webhooks]`: the dispatcher that delivers seat events to tenants' endpoints (ADR 0032).

use std::time::Duration;

use license_core::webhooks::{RetryPolicy, UrlPolicy};
use serde::{Deserialize, Serialize};

use super::problem::Problem;

/// Webhook delivery. Every replica runs a dispatcher; endpoints are claimed in the store, so
/// each is served by one replica at a time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Whether this replica delivers webhooks (the API to manage endpoints is always there).
    pub enabled: bool,
    /// Milliseconds between two looks for due endpoints.
    pub poll_interval_millis: u64,
    /// Seconds a replica's claim on an endpoint lasts; an endpoint whose replica died is taken
    /// over after it. Longer than a batch of deliveries takes.
    pub lease_seconds: u64,
    /// Seconds one delivery may take (connecting included) before it counts as failed.
    pub timeout_seconds: u64,
    /// Milliseconds to wait after an endpoint's first failure; doubled after each further one.
    pub backoff_base_millis: u64,
    /// The longest wait between two attempts, in seconds.
    pub backoff_max_seconds: u64,
    /// Hours an endpoint may fail without a success before it is disabled.
    pub disable_after_hours: u64,
    /// Days each endpoint's delivery log is kept (0: for ever).
    pub delivery_log_days: u32,
    /// Accept `http://` endpoint URLs (development only).
    pub allow_http: bool,
    /// Deliver to loopback, private, link-local and CGNAT addresses (development only).
    pub allow_private_addresses: bool,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval_millis: 1_000,
            lease_seconds: 30,
            timeout_seconds: 10,
            backoff_base_millis: 5_000,
            backoff_max_seconds: 3_600,
            disable_after_hours: 72,
            delivery_log_days: 30,
            allow_http: false,
            allow_private_addresses: false,
        }
    }
}

impl WebhooksConfig {
    /// What endpoint URLs may name.
    pub fn url_policy(&self) -> UrlPolicy {
        UrlPolicy {
            allow_http: self.allow_http,
            allow_private_addresses: self.allow_private_addresses,
        }
    }

    /// Backoff and disabling.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(self.backoff_base_millis),
            max: Duration::from_secs(self.backoff_max_seconds),
            disable_after: Duration::from_secs(self.disable_after_hours.saturating_mul(3_600)),
        }
    }

    /// Each bad setting.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, key: &'static str, reason: &str| {
            if !ok {
                problems.push(Problem::new(key, reason));
            }
        };
        check(
            (10..=60_000).contains(&self.poll_interval_millis),
            "webhooks.poll_interval_millis",
            "must be between 10 and 60000",
        );
        check(
            (1..=3_600).contains(&self.lease_seconds) && self.lease_seconds > self.timeout_seconds,
            "webhooks.lease_seconds",
            "must be between 1 and 3600, and longer than webhooks.timeout_seconds",
        );
        check(
            (1..=300).contains(&self.timeout_seconds),
            "webhooks.timeout_seconds",
            "must be between 1 and 300",
        );
        check(
            (10..=3_600_000).contains(&self.backoff_base_millis),
            "webhooks.backoff_base_millis",
            "must be between 10 and 3600000",
        );
        check(
            (1..=86_400).contains(&self.backoff_max_seconds),
            "webhooks.backoff_max_seconds",
            "must be between 1 and 86400",
        );
        check(
            (1..=8_760).contains(&self.disable_after_hours),
            "webhooks.disable_after_hours",
            "must be between 1 and 8760",
        );
        check(
            self.delivery_log_days <= 3_650,
            "webhooks.delivery_log_days",
            "must be between 0 (for ever) and 3650",
        );
        problems
    }
}
