//! The HTTP API: one module per resource, each one `…Api` struct, joined into one
//! poem-openapi service. Handlers authenticate through a security scheme, call one use case
//! and map its result; the error mapping lives in `error` alone.

use poem_openapi::{LicenseObject, OpenApiService, ServerObject, Tags};

/// Admin: API keys.
pub mod api_keys;
/// Admin: the audit log.
pub mod audit;
/// The error contract, proved against the served document (tests only).
#[cfg(test)]
mod contract;
/// A calendar day in the OpenAPI document's own `date` format.
pub mod day;
/// Errors to statuses and codes; the shared error body.
pub mod error;
/// Admin: the seat-event log as a live stream (server-sent events).
pub mod event_stream;
/// Admin: the seat-event log.
pub mod events;
/// Liveness and readiness.
pub mod health;
/// The lease-token verification keys.
pub mod jwks;
/// Client: acquire, heartbeat, release, validate; borrow and return.
pub mod leases;
/// Admin: licenses.
pub mod licenses;
/// Admin: a license's seat policy (groups and rules); the leasing strategy's wire form.
pub mod policies;
/// Admin: who waits in a license's queue.
pub mod queue;
/// Admin: the tenant's quotas and usage of them.
pub mod quotas;
/// Admin: usage reports and signed daily statements.
pub mod reports;
/// Admin: live and borrowed sessions, and force-release (eviction).
pub mod sessions;
/// Admin: the tenant's signing key (rotation, revocation after a leak).
pub mod signing_keys;
/// Operator: tenants.
pub mod tenants;
/// A strict JSON string type for request bodies.
pub mod text;
/// Admin: usage figures.
pub mod usage;
/// Admin: webhook endpoints, their deliveries, redelivery.
pub mod webhooks;
/// A whole number in a request body whose range errors name the field.
pub mod whole;

/// The groups operations are listed under.
#[derive(Tags, Debug)]
#[oai(rename_all = "snake_case")]
pub enum ApiTags {
    /// Client applications: take, renew, release and check seats.
    Leases,
    /// Admin: licenses and their terms.
    Licenses,
    /// Admin: live sessions.
    Sessions,
    /// Admin: API keys.
    ApiKeys,
    /// Admin: usage figures and quotas.
    Usage,
    /// Admin: the audit log and the seat-event log.
    Audit,
    /// Admin: the tenant's lease-signing key.
    SigningKeys,
    /// Admin: webhook endpoints and their deliveries.
    Webhooks,
    /// Operator: tenants.
    Tenants,
    /// Liveness and readiness probes.
    Health,
    /// Public keys for offline lease verification.
    Jwks,
}

/// Every API, as one tuple.
pub type Apis = (
    leases::LeasesApi,
    licenses::LicensesApi,
    policies::PoliciesApi,
    sessions::SessionsApi,
    api_keys::ApiKeysApi,
    usage::UsageApi,
    reports::ReportsApi,
    queue::QueueApi,
    quotas::QuotasApi,
    // poem-openapi implements `OpenApi` for tuples of up to 16: the logs are one element.
    (
        audit::AuditApi,
        events::EventsApi,
        event_stream::EventStreamApi,
    ),
    webhooks::WebhooksApi,
    signing_keys::SigningKeysApi,
    tenants::TenantsApi,
    health::HealthApi,
    jwks::JwksApi,
);

const DESCRIPTION: &str = "\
A floating-license server. Client applications `acquire` a seat when they start, send a \
`heartbeat` while they run and `release` the seat when they exit (or `borrow` a seat for offline \
work and `return` it); every grant carries a lease \
token signed by the tenant's own key, which verifies offline against \
`/api/v1/tenants/{tenant_id}/jwks.json`; pin the root keys of `/.well-known/jwks.json`, which \
certify every tenant key.

**Credentials** go in `Authorization: Bearer <credential>`. Client routes take a tenant API key \
with the `client` scope or an OpenID Connect ID token; admin routes take a tenant API key with \
the `admin` scope or the operator credential. The operator names the tenant it acts on in the \
`X-Tenant-Id` header. Another tenant's ids answer 404, exactly like missing ones.

**Errors** share one body: `{\"code\": \"no_seats_available\", \"message\": \"…\"}`, with \
`field` for `invalid_input`, `dependency` for `unavailable`, `quota` for `quota_exceeded`, \
`limit_reached` for `no_seats_available` (which limit refused the seat), and `reason` and \
`until` for `evicted`.

**Evictions** stick: an administrator may force-release a session with a hold-off. Its next \
heartbeat answers 410 `evicted`, and its machine's acquires 403 `evicted` with `Retry-After` \
until the hold-off ends. A client that gets `evicted` stops, tells its user the `reason`, and \
does not acquire again before `until`.";

/// The OpenAPI service (the document, and the routes).
pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            leases::LeasesApi,
            licenses::LicensesApi,
            policies::PoliciesApi,
            sessions::SessionsApi,
            api_keys::ApiKeysApi,
            usage::UsageApi,
            reports::ReportsApi,
            queue::QueueApi,
            quotas::QuotasApi,
            (
                audit::AuditApi,
                events::EventsApi,
                event_stream::EventStreamApi,
            ),
            webhooks::WebhooksApi,
            signing_keys::SigningKeysApi,
            tenants::TenantsApi,
            health::HealthApi,
            jwks::JwksApi,
        ),
        "license-server",
        env!("CARGO_PKG_VERSION"),
    )
    .description(DESCRIPTION)
    .license(
        LicenseObject::new("Apache-2.0 OR MIT")
            .url("https://github.com/floating-license/license-server#license"),
    )
    // Relative: the document is served by the server it describes, whatever its address.
    .server(ServerObject::new("/").description("this server"))
}

/// The OpenAPI document as JSON (what `license-server openapi` prints and `/openapi.json`
/// serves).
pub fn spec() -> String {
    let raw = service().spec();
    declare_public_operations(&raw).unwrap_or(raw)
}

/// Gives every operation without a security requirement an explicit `security: []`.
/// poem-openapi leaves the key out for operations that take no credential (health, ready,
/// the key sets); a reader, a generator or a linter cannot tell "public" from "forgotten"
/// then, so the document says it. Response headers get their usual spelling
/// (`Retry-After`, where poem-openapi writes `RETRY-AFTER`). `None` only if poem-openapi's
/// own JSON did not parse.
fn declare_public_operations(raw: &str) -> Option<String> {
    let mut doc: serde_json::Value = serde_json::from_str(raw).ok()?;
    let paths = doc.get_mut("paths")?.as_object_mut()?;
    for operation in paths
        .values_mut()
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(serde_json::Value::as_object_mut)
    {
        operation
            .entry("security")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        let responses = operation
            .get_mut("responses")
            .and_then(serde_json::Value::as_object_mut)
            .into_iter()
            .flat_map(|r| r.values_mut());
        for headers in responses.filter_map(|r| r.get_mut("headers")?.as_object_mut()) {
            *headers = std::mem::take(headers)
                .into_iter()
                .map(|(name, header)| (header_case(&name), header))
                .collect();
        }
    }
    serde_json::to_string_pretty(&doc).ok()
}

/// `RETRY-AFTER` → `Retry-After`.
fn header_case(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}
