//! sea-orm entities: the current shape of each table, and conversions to and from the domain
//! types. Migrations never import these (they keep frozen copies of the shapes they need).
//!
//! Conventions: ids are UUIDs, times are UTC (`timestamptz` on PostgreSQL, RFC 3339 text on
//! SQLite, truncated to microseconds on write so both backends hold the same value and text
//! comparisons on SQLite stay ordered), counts that are `u32` in the domain are `BIGINT`, and
//! lists (entitlements, scopes) are JSON arrays.

/// API keys (hash and lookup prefix only).
pub(crate) mod api_keys;
/// The append-only audit log.
pub(crate) mod audit_events;
/// The seat-event log: one row per entry, hash-chained per tenant.
pub(crate) mod event_log;
/// Where each tenant's event log was last cut by its retention.
pub(crate) mod event_log_cuts;
/// Each tenant's last event-log entry: the row an append locks.
pub(crate) mod event_log_heads;
/// Each license's figures per day, kept beyond the log's retention.
pub(crate) mod kept_days;
/// Licenses.
pub(crate) mod licenses;
/// The seat queue's tickets: one row per waiting client.
pub(crate) mod queue_tickets;
/// Sessions, live and ended.
pub(crate) mod sessions;
/// Tenant signing keys (the private half wrapped).
pub(crate) mod tenant_signing_keys;
/// Tenants.
pub(crate) mod tenants;
/// Daily usage per license: peak seats, overdraft peak and denials.
pub(crate) mod usage_days;
/// The webhook delivery log: one row per attempt.
pub(crate) mod webhook_deliveries;
/// Webhook endpoints, with their cursor, backoff and claim.
pub(crate) mod webhook_endpoints;

use chrono::{DateTime, SubsecRound, Utc};

/// A time as stored: whole microseconds.
pub(crate) fn stored_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// A stored `BIGINT` count back to the domain's `u32`.
pub(crate) fn count(what: &'static str, n: i64) -> license_core::Result<u32> {
    u32::try_from(n).map_err(|e| crate::errors::corrupt(what, e))
}

/// A JSON array of strings, as stored for entitlements and scopes.
pub(crate) fn string_list(
    what: &'static str,
    json: serde_json::Value,
) -> license_core::Result<Vec<String>> {
    serde_json::from_value(json).map_err(|e| crate::errors::corrupt(what, e))
}

/// An actor as two columns: its kind (`operator`, `api_key`, `user`, `system`) and its id (the
/// API key's id, the user's subject; `None` for the operator and the system). The audit log's
/// actors and the sessions' holders are stored alike.
pub(crate) fn actor_columns(actor: &license_core::Actor) -> (&'static str, Option<String>) {
    use license_core::Actor;
    match actor {
        Actor::Operator => ("operator", None),
        Actor::System => ("system", None),
        Actor::User(sub) => ("user", Some(sub.clone())),
        Actor::ApiKey(key) => ("api_key", Some(key.to_string())),
    }
}

/// [`actor_columns`] read back.
pub(crate) fn actor_from_columns(
    what: &'static str,
    kind: &str,
    id: Option<String>,
) -> license_core::Result<license_core::Actor> {
    use license_core::{Actor, ApiKeyId};
    Ok(match (kind, id) {
        ("operator", None) => Actor::Operator,
        ("system", None) => Actor::System,
        ("user", Some(sub)) => Actor::User(sub),
        ("api_key", Some(id)) => Actor::ApiKey(
            id.parse::<ApiKeyId>()
                .map_err(|e| crate::errors::corrupt(what, e))?,
        ),
        (kind, _) => {
            return Err(crate::errors::corrupt(what, format!("actor kind {kind:?}")));
        }
    })
}
