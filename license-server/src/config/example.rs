//! `license-server config example`: every setting with its default value, a one-line
//! explanation and its environment variable. The output is valid TOML that loads back to the
//! defaults (a test checks it), so it is a safe starting point for a config file.

use std::fmt::Write as _;

use toml::Value;

use super::layers::{default_table, env_var, flatten};

/// Every setting in the order the example prints them, with its explanation. A test keeps
/// this list and `Config` in step.
pub const SETTINGS: &[(&str, &str)] = &[
    (
        "data_dir",
        "Directory for the signing key, the operator credential and the embedded database (created on first start).",
    ),
    (
        "issuer",
        "The `iss` claim of lease tokens; clients verifying offline pin it.",
    ),
    (
        "server.listen",
        "Address and port to listen on (use 0.0.0.0:8080 in a container).",
    ),
    (
        "server.public_url",
        "Base URL clients use to reach the server, shown at start-up (empty: derived from server.listen).",
    ),
    (
        "server.body_limit_bytes",
        "Largest request body accepted, in bytes; larger requests get 413 payload_too_large.",
    ),
    (
        "server.shutdown_grace_seconds",
        "Seconds in-flight requests get to finish after SIGTERM or Ctrl-C.",
    ),
    (
        "server.header_read_timeout_seconds",
        "Seconds a request's head (request line and headers) may take to arrive, from a new connection's accept or a kept-alive connection's first byte; then the connection is closed.",
    ),
    (
        "server.body_read_timeout_seconds",
        "Seconds a request body may take to arrive in full once its head has; then 408 request_timeout and the connection is closed.",
    ),
    (
        "server.keep_alive_idle_seconds",
        "Seconds a kept-alive connection may wait for its next request, and a client may take to read a response, before it is closed; keep it above the idle timeout of a proxy pooling connections to the server (ingress-nginx: 60 s).",
    ),
    (
        "server.max_connections",
        "Most connections open at once; past it new connections wait in the listen queue until one closes.",
    ),
    (
        "store.url",
        "Durable store: empty = the SQLite file license.db in data_dir; sqlite://<file>?mode=rwc, postgres://user:password@host/db, or memory:// (nothing kept).",
    ),
    (
        "ledger.url",
        "Seat ledger: memory:// (single replica; rebuilt from the store), redis://, rediss://, redis+cluster:// or rediss+cluster:// (TLS).",
    ),
    (
        "signer.url",
        "Root key that certifies every tenant's lease-signing key: local (a key generated into data_dir) or gcpkms://<Cloud KMS key version name>.",
    ),
    (
        "signer.algorithm",
        "Signing algorithm: EdDSA, ES256, RS256 or PS256 (with gcpkms:// it must match the key; EdDSA then means RS256).",
    ),
    (
        "signer.retired_keys",
        "Root keys retired by a rotation, still published in /.well-known/jwks.json until the certificates they signed expire: comma-separated gcpkms://<key version name> or paths to a JWK or JWK-set JSON file (empty: none).",
    ),
    (
        "signer.wrap_key",
        "Cloud KMS symmetric key (gcpkms://projects/…/cryptoKeys/…) that encrypts tenant signing keys at rest; required with a gcpkms:// signer (local: a key derived from the local root).",
    ),
    (
        "signer.tenant_key_algorithm",
        "Algorithm of the per-tenant keys that sign leases: EdDSA or ES256.",
    ),
    (
        "signer.tenant_key_rotation_hours",
        "Hours a tenant key signs before its successor (made and published half a rotation ahead) takes over.",
    ),
    (
        "signer.tenant_key_refresh_seconds",
        "Seconds between two looks for tenant keys other replicas made or revoked.",
    ),
    (
        "auth.operator_token",
        "The operator's bearer token, at least 32 characters (empty: generated into <data_dir>/operator-token on first start).",
    ),
    (
        "auth.cache_seconds",
        "Seconds a verified API key or ID token is trusted without the store or a signature check: a key revoked on another replica keeps working here at most this long (0: check every request; at most 300).",
    ),
    (
        "auth.cache_capacity",
        "Most credentials cached in process, for each kind (API-key records, unknown keys, ID tokens).",
    ),
    (
        "auth.miss_lookups_per_second",
        "Store lookups a second that API keys not in the cache may cause, per tenant this replica knows and once more for all others; beyond it the check answers 503 with Retry-After.",
    ),
    (
        "auth.oidc.jwks_url",
        "JWKS URL of the identity provider whose ID tokens the client routes accept: https://, or http:// on loopback only (empty: OIDC off).",
    ),
    (
        "auth.oidc.issuer",
        "Required `iss` of ID tokens (Google Identity Platform: https://securetoken.google.com/<project>).",
    ),
    (
        "auth.oidc.audience",
        "Required `aud` of ID tokens (Google Identity Platform: the project id); a token for several audiences must name it in `azp`.",
    ),
    (
        "auth.oidc.tenant_claim",
        "The ID-token claim that holds the tenant id.",
    ),
    (
        "auth.oidc.refresh_min_seconds",
        "Least seconds between two key downloads triggered by an unknown key id.",
    ),
    (
        "auth.oidc.admin_claim",
        "ID-token claim that makes its user an administrator of the tenant in the tenant claim when it holds (a string, or an array of strings) one of auth.oidc.admin_values (empty: ID tokens never grant admin rights; never the operator's).",
    ),
    (
        "auth.oidc.admin_values",
        "Values of auth.oidc.admin_claim that grant admin rights, comma-separated.",
    ),
    (
        "auth.oidc.console_client_id",
        "The web console's client id at the provider: a public client signing in by authorization code with PKCE, no secret (empty: no single sign-on in the console).",
    ),
    (
        "auth.oidc.authorization_endpoint",
        "The provider's authorization endpoint the console sends the browser to: https://, or http:// on loopback only.",
    ),
    (
        "auth.oidc.token_endpoint",
        "The provider's token endpoint where the console exchanges the code for an ID token (its origin is added to the console's connect-src): https://, or http:// on loopback only.",
    ),
    (
        "auth.oidc.scopes",
        "Scopes the console asks for, space-separated; must include openid.",
    ),
    (
        "reaper.enabled",
        "Whether this replica marks expired sessions in the store (safe on every replica).",
    ),
    (
        "reaper.interval_seconds",
        "Seconds between two reaper passes.",
    ),
    (
        "reaper.batch",
        "Sessions marked expired, or deleted, per store call (one transaction).",
    ),
    (
        "reaper.session_retention_days",
        "Days an ended session is kept before the reaper deletes it (0: kept for ever); daily usage figures are kept apart and never deleted.",
    ),
    (
        "quotas.max_licenses_per_tenant",
        "Most licenses one tenant may have, revoked ones included; beyond it creating one answers 403 quota_exceeded (quota: licenses).",
    ),
    (
        "quotas.max_api_keys_per_tenant",
        "Most API keys one tenant may have that are not revoked (revoking one frees its place); beyond it 403 quota_exceeded (quota: api_keys).",
    ),
    (
        "quotas.max_seats_per_tenant",
        "Most live seats one tenant's licenses may allow together: seats_total plus overdraft over its licenses not revoked; a license created or changed past it answers 403 quota_exceeded (quota: seats).",
    ),
    (
        "hot_path.policy_cache_seconds",
        "Seconds a replica answers from a cached license (changes through another replica apply within this; 0: no cache).",
    ),
    (
        "hot_path.session_directory_capacity",
        "Most sessions a replica remembers so heartbeats need no store read (about 400 bytes each).",
    ),
    (
        "hot_path.flush_interval_millis",
        "Milliseconds between two writes of buffered renewals to the store (one transaction).",
    ),
    (
        "hot_path.max_write_lag_seconds",
        "Seconds a renewal may wait unwritten before heartbeats answer 503 (the store is down).",
    ),
    (
        "limits.enabled",
        "Whether requests are rate-limited at all (false: no budget is checked or counted; ADR 0021).",
    ),
    (
        "limits.client_address_header",
        "Header a trusted reverse proxy sets to the client's address (X-Forwarded-For); empty: the TCP peer address. Set it only when every request passes that proxy, or clients can pick their own address.",
    ),
    (
        "limits.client_address_hops",
        "Which entry of client_address_header is the client, counted from the right: 1 = the right-most (nginx); 2 behind Google Cloud's external Application Load Balancer (it appends `<client>, <load balancer>`).",
    ),
    (
        "limits.requests_per_second_per_address",
        "Requests a second from one client address (IPv6: per /64), burst one second's worth; beyond it 429 rate_limited with Retry-After (0: unlimited).",
    ),
    (
        "limits.requests_per_second_per_credential",
        "Requests a second by one credential (API key, OIDC subject, operator), burst one second's worth (0: unlimited).",
    ),
    (
        "limits.failures_per_minute_per_address",
        "Failures a minute from one client address (401 anywhere; 404 of acquire, validate and the public tenant key sets), burst a minute's worth; beyond it the address gets 429 until the budget refills, except on heartbeat and release (0: unlimited).",
    ),
    (
        "limits.failures_per_minute_per_credential",
        "Failures a minute by one authenticated credential (404 of acquire and validate), burst a minute's worth; beyond it the credential gets 429 until the budget refills, except on heartbeat and release (0: unlimited).",
    ),
    (
        "limits.tracked_clients",
        "Most client addresses, and separately most credentials, whose budgets are kept (about 420 bytes each; the least used are forgotten first).",
    ),
    (
        "limits.ready_cache_millis",
        "Milliseconds a successful /api/v1/ready answer is shared by every caller (concurrent calls always share one probe; 0: probe on every call).",
    ),
    (
        "metrics.seat_gauge_seconds",
        "Seconds between two readings of the per-license seat gauges (license_seats_in_use, _limit, _sold): one license read and one ledger count per license this replica served in the last 15 minutes (0: no seat gauges).",
    ),
    (
        "metrics.seat_gauge_max_licenses",
        "Most licenses a replica keeps seat gauges for, three series each (the bound on their cardinality; the least used are forgotten first).",
    ),
    (
        "events.replica",
        "This replica's name in the seat-event log's entries (empty: the HOSTNAME environment variable, a pod's name on Kubernetes, else license-server).",
    ),
    (
        "events.write_interval_millis",
        "Milliseconds between two appends of queued seat events to the store's event log (one append per tenant per interval).",
    ),
    (
        "events.queue_capacity",
        "Most seat events queued for the store (about 400 bytes each); beyond it they are dropped, counted in license_event_log_dropped_total, and the tenant's log gets an events_lost entry with the count.",
    ),
    (
        "events.checkpoint_interval_seconds",
        "Seconds between two checkpoints of each tenant's seat-event log signed with the tenant's key and put on record in the log as a checkpoint entry (not again while the log is idle; 0: none, they are still signed on request).",
    ),
    (
        "events.retention_days",
        "UTC days of each tenant's seat-event log kept in full, today included (0: for ever; else 2 to 36500). Older days are kept as each license's daily figures (reports by day and statements read the same) and their entries are deleted up to a checkpoint entry, after each checkpoint pass; needs events.checkpoint_interval_seconds.",
    ),
    (
        "webhooks.enabled",
        "Whether this replica delivers webhooks (endpoints are managed through the API either way).",
    ),
    (
        "webhooks.poll_interval_millis",
        "Milliseconds between two looks for endpoints with events to deliver.",
    ),
    (
        "webhooks.lease_seconds",
        "Seconds a replica's claim on an endpoint lasts; an endpoint whose replica died is taken over after it (longer than webhooks.timeout_seconds).",
    ),
    (
        "webhooks.timeout_seconds",
        "Seconds one delivery may take, connecting included, before it counts as failed.",
    ),
    (
        "webhooks.backoff_base_millis",
        "Milliseconds to wait after an endpoint's first failed delivery; doubled after each further failure (plus or minus 20 %).",
    ),
    (
        "webhooks.backoff_max_seconds",
        "The longest wait between two attempts, in seconds.",
    ),
    (
        "webhooks.disable_after_hours",
        "Hours an endpoint may fail without a success before it is disabled (a webhook_disabled event says so).",
    ),
    (
        "webhooks.delivery_log_days",
        "Days each endpoint's delivery log is kept (0: for ever; at most 3650); older attempts are deleted hourly by the replicas that deliver.",
    ),
    (
        "webhooks.allow_http",
        "Accept http:// endpoint URLs (development only).",
    ),
    (
        "webhooks.allow_private_addresses",
        "Deliver to loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10) and CGNAT addresses (development only).",
    ),
    (
        "log.format",
        "Log format: auto (json when stderr, where logs go, is not a terminal: a file, a pipe, a container; pretty on a terminal), json (one object per line, Cloud Logging's severity) or pretty (colours only on a terminal).",
    ),
    (
        "log.filter",
        "Which events to log, in tracing filter syntax (info, or license_server=debug,info).",
    ),
];

/// The example configuration file.
pub fn render() -> String {
    let leaves = flatten(&default_table());
    let mut out = String::from(
        "# license-server configuration: every setting with its default.\n\
         # Load it with `license-server --config <file>` or LICENSE_CONFIG=<file>.\n\
         # Every setting can also be set by an environment variable, named above it; the\n\
         # environment wins over this file, and flags win over both.\n",
    );
    let mut section = "";
    for (key, help) in SETTINGS {
        let (table, name) = key.rsplit_once('.').unwrap_or(("", key));
        if table != section {
            section = table;
            let _ = write!(out, "\n[{table}]\n");
        }
        let value = leaves
            .get(*key)
            .map(Value::to_string)
            .unwrap_or_else(|| "\"\"".into());
        let _ = write!(
            out,
            "\n# {help}\n# Environment: {}\n{name} = {value}\n",
            env_var(key)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::config::{Config, Sources};

    #[test]
    fn every_setting_is_explained_exactly_once() {
        let documented: BTreeSet<&str> = SETTINGS.iter().map(|(k, _)| *k).collect();
        assert_eq!(documented.len(), SETTINGS.len(), "a key is listed twice");
        let leaves = flatten(&default_table());
        let actual: BTreeSet<&str> = leaves.keys().map(String::as_str).collect();
        assert_eq!(documented, actual);
    }

    #[test]
    fn the_example_loads_back_to_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("example.toml");
        std::fs::write(&path, render()).unwrap();
        let loaded = Config::load(&Sources {
            file: Some(path),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(loaded.config, Config::default());
    }
}
