//! Rate limits (ADR 0021): request and failure budgets per client address and per credential,
//! as a middleware around the routes, so guessing license keys or credentials costs time and
//! a flood from one client cannot take a replica.
//!
//! - **Per client address** (the TCP peer, or the entry a trusted proxy appended; IPv6 by
//!   /64): `limits.requests_per_second_per_address`, checked before the endpoint.
//! - **Per credential** (API key, OIDC subject, operator), once the credential check has
//!   identified it: `limits.requests_per_second_per_credential`.
//! - **Failures**, counted from the response: 401 on any route, 404 on acquire, validate and
//!   the public tenant key sets (where a guess names a license key, a session or a tenant). A client (address or credential) out of failures is blocked:
//!   every request it makes gets 429 before reaching the endpoint until its budget has room
//!   again (`limits.failures_per_minute_per_*`); the failure that spends the last of the
//!   budget blocks at once, so no more than the budget's failures are ever answered (one
//!   that raced past the block is answered 429 too).
//! - **Not failures:** every other status. A 403 or 410 `evicted` in particular is the
//!   answer an evicted client gets until its hold-off ends; counting it would block the
//!   client (and its whole address) for longer than the administrator asked.
//! - **Never blocked for failures, and their 404s are none:** heartbeat, release and return,
//!   which act on a seat already granted (a client behind a blocked NAT keeps its seat; a mass loss of
//!   sessions does not block the re-acquires; session ids are random, nothing to guess), and
//!   readiness. **Never limited:** liveness, the root JWKS, `/metrics`
//!   and the API documents, which answer from memory.
//!
//! A refusal is `429 rate_limited` with `Retry-After` (seconds, rounded up) and touches no
//! store, ledger or signer. Budgets are per replica, kept in bounded memory
//! (`limits.tracked_clients`).

use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use license_core::{ApiKeyId, Clock, TenantId};
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::debug;

use crate::api::error::ApiError;
use crate::auth::{AdminPrincipal, ClientPrincipal};
use crate::config::LimitsConfig;
use crate::metrics::RateLimitCounter;
use crate::state::AppState;

/// GCRA budgets per client in bounded memory.
mod budget;
/// The client address: the peer, or a trusted proxy's header entry.
pub mod client_address;
/// The readiness answer, shared among callers.
pub mod ready;

use budget::{Budgets, InjectedClock, Refusal};
pub use client_address::{AddressSource, ClientAddress};

/// Who a credential check identified, as budgets count it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Credential {
    /// A tenant API key.
    ApiKey(ApiKeyId),
    /// An end user of a tenant, by OIDC subject.
    User(TenantId, String),
    /// The operator.
    Operator,
}

impl From<&ClientPrincipal> for Credential {
    fn from(principal: &ClientPrincipal) -> Self {
        match &principal.actor {
            license_core::Actor::ApiKey(id) => Self::ApiKey(*id),
            license_core::Actor::User(subject) => Self::User(principal.tenant, subject.clone()),
            license_core::Actor::Operator | license_core::Actor::System => Self::Operator,
        }
    }
}

impl From<&AdminPrincipal> for Credential {
    fn from(principal: &AdminPrincipal) -> Self {
        match principal {
            AdminPrincipal::Operator { .. } => Self::Operator,
            AdminPrincipal::Tenant { key, .. } => Self::ApiKey(*key),
            AdminPrincipal::User { tenant, subject } => Self::User(*tenant, subject.clone()),
        }
    }
}

/// The budget a refusal spent, as the metric labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// Requests from one client address.
    AddressRequests,
    /// Failures from one client address.
    AddressFailures,
    /// Requests by one credential.
    CredentialRequests,
    /// Failures by one credential.
    CredentialFailures,
}

impl Budget {
    /// The metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Budget::AddressRequests => "address_requests",
            Budget::AddressFailures => "address_failures",
            Budget::CredentialRequests => "credential_requests",
            Budget::CredentialFailures => "credential_failures",
        }
    }
}

/// What the limits do to a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RoutePolicy {
    /// Whether any budget applies.
    limited: bool,
    /// Whether a client blocked for failures is refused here.
    blockable: bool,
    /// Whether a 404 here is a failure (401 always is).
    not_found_fails: bool,
}

impl RoutePolicy {
    /// Whether an answer with `status` spends a failure budget: 401 always, 404 where a guess
    /// names a record. Nothing else — not the 403 and 410 `evicted` of a hold-off.
    fn is_failure(self, status: StatusCode) -> bool {
        status == StatusCode::UNAUTHORIZED
            || (status == StatusCode::NOT_FOUND && self.not_found_fails)
    }
}

impl RoutePolicy {
    fn of(path: &str) -> Self {
        let path = path.trim_end_matches('/');
        let policy = |limited, blockable, not_found_fails| Self {
            limited,
            blockable,
            not_found_fails,
        };
        match path {
            // From memory: nothing to protect, and probes and verifiers are never refused.
            "/api/v1/health" | "/.well-known/jwks.json" | "/metrics" | "/openapi.json" => {
                policy(false, false, false)
            }
            // Static pages from the binary; the console's API calls are limited as any other.
            _ if path == "/docs" || path.starts_with("/docs/") => policy(false, false, false),
            _ if path == "/console" || path.starts_with("/console/") => policy(false, false, false),
            // A seat already granted, and the readiness probe: never blocked.
            "/api/v1/licenses/heartbeat"
            | "/api/v1/licenses/release"
            | "/api/v1/licenses/return"
            | "/api/v1/ready" => policy(true, false, false),
            // Reachable by outsiders, naming a record: license keys, sessions, tenants.
            _ if path.starts_with("/api/v1/licenses/") || path.starts_with("/api/v1/tenants/") => {
                policy(true, true, true)
            }
            _ => policy(true, true, false),
        }
    }
}

/// What the middleware leaves on a request for the credential check, and reads back after
/// the endpoint: whether the route can be blocked, and the credential the check identified.
#[derive(Clone, Debug)]
struct RequestLimits {
    blockable: bool,
    credential: Arc<OnceLock<Credential>>,
}

/// The budgets of every client address and credential on this replica.
#[derive(Debug)]
pub struct Limits {
    enabled: bool,
    source: AddressSource,
    addresses: Budgets<ClientAddress>,
    credentials: Budgets<Credential>,
    refused: RateLimitCounter,
}

impl Limits {
    /// The budgets `config` describes, on `clock`, counting refusals in `refused`.
    pub fn new(config: &LimitsConfig, clock: Arc<dyn Clock>, refused: RateLimitCounter) -> Self {
        let clock = InjectedClock::new(clock);
        let capacity = config.tracked_clients;
        Self {
            enabled: config.enabled,
            source: AddressSource::new(config.client_address_header(), config.client_address_hops),
            addresses: Budgets::new(
                NonZeroU32::new(config.requests_per_second_per_address),
                NonZeroU32::new(config.failures_per_minute_per_address),
                capacity,
                clock.clone(),
            ),
            credentials: Budgets::new(
                NonZeroU32::new(config.requests_per_second_per_credential),
                NonZeroU32::new(config.failures_per_minute_per_credential),
                capacity,
                clock,
            ),
            refused,
        }
    }

    /// The credential check identified `credential`: refused (429) while it is blocked for
    /// failures or out of requests; else remembered, so its failures are counted. Nothing to
    /// do on a request the middleware did not see (limits off, or a route never limited).
    pub fn admit_credential(&self, req: &Request, credential: Credential) -> poem::Result<()> {
        let Some(limits) = req.extensions().get::<RequestLimits>() else {
            return Ok(());
        };
        let refusal = self.credentials.admit(&credential, limits.blockable);
        let _ = limits.credential.set(credential);
        refusal.map_err(|refusal| {
            let (budget, wait) = match refusal {
                Refusal::Requests(wait) => (Budget::CredentialRequests, wait),
                Refusal::Failures(wait) => (Budget::CredentialFailures, wait),
            };
            poem::Error::from_response(self.refuse(budget, wait))
        })
    }

    /// A 429 for `budget`, counted.
    fn refuse(&self, budget: Budget, wait: Duration) -> Response {
        self.refused.inc(budget.as_str());
        // `Retry-After: seconds` comes with it.
        ApiError::rate_limited(retry_after_seconds(wait)).into_response()
    }
}

/// Whole seconds to wait, rounded up, at least one.
fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    let rounded = if wait.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    rounded.max(1)
}

/// The middleware: the address's budgets before the endpoint, the failures after it. See the
/// module docs.
pub async fn rate_limit<E: Endpoint>(
    state: Arc<AppState>,
    next: Arc<E>,
    mut req: Request,
) -> poem::Result<Response> {
    let limits = &state.limits;
    let policy = RoutePolicy::of(req.uri().path());
    if !limits.enabled || !policy.limited {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    let address = limits.source.client(&req);
    if let Err(refusal) = limits.addresses.admit(&address, policy.blockable) {
        let (budget, wait) = match refusal {
            Refusal::Requests(wait) => (Budget::AddressRequests, wait),
            Refusal::Failures(wait) => (Budget::AddressFailures, wait),
        };
        debug!(%address, budget = budget.as_str(), "rate limited");
        return Ok(limits.refuse(budget, wait));
    }
    let request_limits = RequestLimits {
        blockable: policy.blockable,
        credential: Arc::new(OnceLock::new()),
    };
    let credential = request_limits.credential.clone();
    req.extensions_mut().insert(request_limits);

    let response = match next.call(req).await {
        Ok(response) => response.into_response(),
        Err(e) => e.into_response(),
    };
    let status = response.status();
    if !policy.is_failure(status) {
        return Ok(response);
    }
    // Both budgets are spent; on a route that can be blocked, a failure that found one empty
    // (it raced past the block) is answered 429, so no client ever sees more failures answered
    // than its budget. A route that is never blocked keeps its answer.
    let mut refusal = None;
    if let Err(wait) = limits.addresses.fail(&address) {
        debug!(%address, "a failure over the address's budget");
        refusal = Some((Budget::AddressFailures, wait));
    }
    // A 401 has no identified credential; the guard keeps it that way.
    let identified = credential
        .get()
        .filter(|_| status != StatusCode::UNAUTHORIZED);
    if let Some(credential) = identified
        && let Err(wait) = limits.credentials.fail(credential)
    {
        debug!("a failure over the credential's budget");
        refusal = refusal.or(Some((Budget::CredentialFailures, wait)));
    }
    Ok(match refusal {
        Some((budget, wait)) if policy.blockable => limits.refuse(budget, wait),
        _ => response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1_001)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(60)), 60);
    }

    #[test]
    fn routes_are_limited_blocked_and_failed_as_documented() {
        let acquire = RoutePolicy::of("/api/v1/licenses/acquire");
        assert!(acquire.limited && acquire.blockable && acquire.not_found_fails);
        for never_blocked in [
            "/api/v1/licenses/heartbeat",
            "/api/v1/licenses/release/",
            "/api/v1/licenses/return",
            "/api/v1/ready/",
        ] {
            let policy = RoutePolicy::of(never_blocked);
            assert!(policy.limited && !policy.blockable && !policy.not_found_fails);
        }
        let borrow = RoutePolicy::of("/api/v1/licenses/borrow");
        assert!(borrow.limited && borrow.blockable && borrow.not_found_fails);
        let validate = RoutePolicy::of("/api/v1/licenses/validate");
        assert!(validate.blockable && validate.not_found_fails);
        let tenant_keys = RoutePolicy::of("/api/v1/tenants/0190/jwks.json");
        assert!(tenant_keys.blockable && tenant_keys.not_found_fails);
        let admin = RoutePolicy::of("/api/v1/admin/licenses/x");
        assert!(admin.limited && admin.blockable && !admin.not_found_fails);
        for free in [
            "/api/v1/health/",
            "/.well-known/jwks.json",
            "/metrics",
            "/openapi.json",
            "/docs",
            "/docs/index.js",
            "/console",
            "/console/app.js",
        ] {
            assert!(!RoutePolicy::of(free).limited, "{free}");
        }
        assert!(RoutePolicy::of("/docsx").limited);
        assert!(RoutePolicy::of("/consolex").limited);
    }

    #[test]
    fn an_eviction_is_no_failure_so_it_blocks_no_one_beyond_its_hold_off() {
        for path in [
            "/api/v1/licenses/acquire",
            "/api/v1/licenses/borrow",
            "/api/v1/licenses/heartbeat",
        ] {
            let policy = RoutePolicy::of(path);
            // 403 and 410 `evicted` (and 402, 409, 410 `session_expired`) spend nothing.
            for status in [
                StatusCode::FORBIDDEN,
                StatusCode::GONE,
                StatusCode::PAYMENT_REQUIRED,
                StatusCode::CONFLICT,
            ] {
                assert!(!policy.is_failure(status), "{path} {status}");
            }
            assert!(policy.is_failure(StatusCode::UNAUTHORIZED), "{path}");
        }
        assert!(RoutePolicy::of("/api/v1/licenses/acquire").is_failure(StatusCode::NOT_FOUND));
        assert!(!RoutePolicy::of("/api/v1/licenses/return").is_failure(StatusCode::NOT_FOUND));
    }
}
