//! `[limits]`: the request and failure budgets per client address and per credential, where
//! the client address comes from, and how long a readiness answer is shared (ADR 0021).

use poem::http::HeaderName;
use serde::{Deserialize, Serialize};

use super::problem::Problem;

/// Rate limits and cheap refusals (ADR 0021). Every budget is per replica; 0 turns one off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Whether requests are limited at all (false: no budget is checked or counted).
    pub enabled: bool,
    /// Header a trusted reverse proxy sets to the client's address (`X-Forwarded-For`);
    /// empty: the TCP peer address. Set it only behind a proxy that every request passes.
    pub client_address_header: String,
    /// Which entry of `client_address_header` is the client, counted from the right: 1 is
    /// the right-most (what nginx appends); 2 behind Google Cloud's external Application Load
    /// Balancer, which appends `<client>, <load balancer>`.
    pub client_address_hops: u32,
    /// Requests a second from one client address (an IPv6 address counts by its /64), with a
    /// burst of one second's worth. 0: unlimited.
    pub requests_per_second_per_address: u32,
    /// Requests a second by one credential (API key, OIDC subject, operator), with a burst of
    /// one second's worth. 0: unlimited.
    pub requests_per_second_per_credential: u32,
    /// Failures a minute from one client address, with a burst of a minute's worth: 401s on
    /// any route, 404s of acquire, validate and the public tenant key sets. Beyond it the
    /// address gets 429 (but for heartbeat and release) until the budget refills. 0: unlimited.
    pub failures_per_minute_per_address: u32,
    /// Failures a minute by one authenticated credential (404s of acquire and validate), with
    /// a burst of a minute's worth. 0: unlimited.
    pub failures_per_minute_per_credential: u32,
    /// Most client addresses, and separately most credentials, whose budgets are tracked
    /// (about 420 bytes each); the least used are forgotten first.
    pub tracked_clients: u64,
    /// Milliseconds a successful readiness answer is shared by every caller; concurrent
    /// callers always share one probe. 0: every call probes the store and the ledger.
    pub ready_cache_millis: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            client_address_header: String::new(),
            client_address_hops: 1,
            requests_per_second_per_address: 2_000,
            requests_per_second_per_credential: 2_000,
            failures_per_minute_per_address: 60,
            failures_per_minute_per_credential: 600,
            tracked_clients: 50_000,
            ready_cache_millis: 1_000,
        }
    }
}

impl LimitsConfig {
    /// Most of any budget, a second or a minute.
    pub const MAX_BUDGET: u32 = 1_000_000;

    /// The trusted header's name, if one is set (validated: a valid header name).
    pub fn client_address_header(&self) -> Option<HeaderName> {
        let name = self.client_address_header.trim();
        if name.is_empty() {
            return None;
        }
        HeaderName::try_from(name).ok()
    }

    /// What is wrong with these settings, each naming its key.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, key: &'static str, reason: &str| {
            if !ok {
                problems.push(Problem::new(key, reason));
            }
        };
        let header = self.client_address_header.trim();
        check(
            header.is_empty() || HeaderName::try_from(header).is_ok(),
            "limits.client_address_header",
            "must be an HTTP header name (X-Forwarded-For) or empty",
        );
        check(
            (1..=10).contains(&self.client_address_hops),
            "limits.client_address_hops",
            "must be between 1 and 10",
        );
        for (value, key) in [
            (
                self.requests_per_second_per_address,
                "limits.requests_per_second_per_address",
            ),
            (
                self.requests_per_second_per_credential,
                "limits.requests_per_second_per_credential",
            ),
            (
                self.failures_per_minute_per_address,
                "limits.failures_per_minute_per_address",
            ),
            (
                self.failures_per_minute_per_credential,
                "limits.failures_per_minute_per_credential",
            ),
        ] {
            check(
                value <= Self::MAX_BUDGET,
                key,
                "must be at most 1000000 (0: unlimited)",
            );
        }
        check(
            (1_000..=10_000_000).contains(&self.tracked_clients),
            "limits.tracked_clients",
            "must be between 1000 and 10000000",
        );
        check(
            self.ready_cache_millis <= 10_000,
            "limits.ready_cache_millis",
            "must be at most 10000 (0: no cache)",
        );
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named_by_key() {
        assert!(LimitsConfig::default().problems().is_empty());
        assert_eq!(LimitsConfig::default().client_address_header(), None);
        let bad = LimitsConfig {
            client_address_header: "X Forwarded For".into(),
            client_address_hops: 0,
            failures_per_minute_per_address: 2_000_000,
            tracked_clients: 10,
            ready_cache_millis: 60_000,
            ..LimitsConfig::default()
        };
        let keys: Vec<_> = bad.problems().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "limits.client_address_header",
                "limits.client_address_hops",
                "limits.failures_per_minute_per_address",
                "limits.tracked_clients",
                "limits.ready_cache_millis",
            ]
        );
        let proxied = LimitsConfig {
            client_address_header: " X-Forwarded-For ".into(),
            ..LimitsConfig::default()
        };
        assert!(proxied.problems().is_empty());
        assert_eq!(
            proxied.client_address_header().map(|h| h.to_string()),
            Some("x-forwarded-for".to_owned())
        );
    }
}
