//! The server's typed configuration: every setting with its safe default and a one-line
//! explanation. Layering (defaults → TOML file → `LICENSE_…` environment → flags) lives in
//! `layers`, the errors naming a bad setting in `problem`, and the commented example printed by
//! `license-server config example` in `example`.

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use license_core::{CredentialCacheConfig, SigningAlgorithm, TenantQuotas};
use serde::{Deserialize, Serialize};

use crate::transport::ConnectionLimits;

/// The commented defaults printed by `license-server config example`.
pub mod example;
/// Defaults → file → environment → flags, merged by figment, which remembers each value's layer.
pub mod layers;
/// `[limits]`: request and failure budgets, the client address, the readiness cache.
pub mod limits;
/// A bad setting, named by TOML key and environment variable, and the error listing them.
pub mod problem;
/// `[webhooks]`: delivering seat events to tenants' endpoints (ADR 0032).
pub mod webhooks;

pub use layers::{ConfigError, Loaded, Origin, Sources};
pub use limits::LimitsConfig;
pub use webhooks::WebhooksConfig;

/// The store used when nothing is configured: empty means the embedded SQLite file
/// `license.db` in `data_dir`.
pub const DEFAULT_STORE_URL: &str = "";
/// The seat ledger used when nothing is configured: in-process, rebuilt from the store.
pub const DEFAULT_LEDGER_URL: &str = "memory://";
/// The signer used when nothing is configured: a key generated into the data directory.
pub const DEFAULT_SIGNER_URL: &str = "local";
/// Where the server listens when nothing is configured: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The environment variable prefix of every setting.
pub const ENV_PREFIX: &str = "LICENSE_";
/// The environment variable naming the TOML file (like `--config`).
pub const CONFIG_FILE_ENV: &str = "LICENSE_CONFIG";

/// A secret, or a URL that may carry credentials. `Debug` and `Display` print `***`; read it
/// with [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no value is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The URL scheme (`postgres`, `redis`, …), safe to log; `None` without `://`.
    pub fn scheme(&self) -> Option<&str> {
        url_scheme(&self.0)
    }
}

/// The scheme of `url` (what precedes `://`), safe to log; `None` without `://`. The one
/// place the server reads a scheme: adapters are picked by it (`compose`).
pub fn url_scheme(url: &str) -> Option<&str> {
    url.split_once("://").map(|(scheme, _)| scheme)
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Everything `license-server` can be told. Each field's TOML key is its path (`server.listen`);
/// its environment variable is `LICENSE_` + the path in capitals with `__` between levels
/// (`LICENSE_SERVER__LISTEN`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory for the signing key, the operator credential and the embedded database.
    pub data_dir: PathBuf,
    /// The `iss` claim of lease tokens; clients verifying offline pin it.
    pub issuer: String,
    /// HTTP listener.
    pub server: ServerConfig,
    /// The durable store.
    pub store: StoreConfig,
    /// The seat ledger.
    pub ledger: LedgerConfig,
    /// The lease-token signer.
    pub signer: SignerConfig,
    /// Credentials accepted by the API.
    pub auth: AuthConfig,
    /// The background task that marks expired sessions and deletes old ended ones.
    pub reaper: ReaperConfig,
    /// What one tenant may hold (ADR 0022).
    pub quotas: QuotasConfig,
    /// The hot path's caches and write-behind (ADR 0017).
    pub hot_path: HotPathSettings,
    /// Rate limits per client address and credential (ADR 0021).
    pub limits: LimitsConfig,
    /// What `/metrics` exports beyond the counters: the per-license seat gauges.
    pub metrics: MetricsConfig,
    /// The seat-event log in the store (ADR 0030).
    pub events: EventsConfig,
    /// Webhook delivery (ADR 0032).
    pub webhooks: WebhooksConfig,
    /// Logging.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            issuer: "license-server".into(),
            server: ServerConfig::default(),
            store: StoreConfig::default(),
            ledger: LedgerConfig::default(),
            signer: SignerConfig::default(),
            auth: AuthConfig::default(),
            reaper: ReaperConfig::default(),
            quotas: QuotasConfig::default(),
            hot_path: HotPathSettings::default(),
            limits: LimitsConfig::default(),
            metrics: MetricsConfig::default(),
            events: EventsConfig::default(),
            webhooks: WebhooksConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// HTTP listener settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on (`0.0.0.0:8080` in a container).
    pub listen: SocketAddr,
    /// Base URL clients use to reach the server, for the start-up message (empty: from `listen`).
    pub public_url: String,
    /// Largest request body accepted, in bytes; larger requests get 413.
    pub body_limit_bytes: u64,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_grace_seconds: u64,
    /// Seconds a request head (request line and headers) may take to arrive, from a new
    /// connection's accept or from a kept-alive connection's first byte; then it is closed.
    pub header_read_timeout_seconds: u64,
    /// Seconds a request body may take to arrive in full once its head has; then 408.
    pub body_read_timeout_seconds: u64,
    /// Seconds a kept-alive connection may wait for its next request, and a client may take
    /// to read a response; then it is closed. Keep it above the idle timeout of a proxy that
    /// pools connections to the server.
    pub keep_alive_idle_seconds: u64,
    /// Most connections open at once; past it the server accepts no more until one closes.
    pub max_connections: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: String::new(),
            body_limit_bytes: 64 * 1024,
            shutdown_grace_seconds: 30,
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 30,
            keep_alive_idle_seconds: 75,
            max_connections: 10_000,
        }
    }
}

impl ServerConfig {
    /// The connection bounds these settings describe (ADR 0020).
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read: Duration::from_secs(self.header_read_timeout_seconds),
            keep_alive_idle: Duration::from_secs(self.keep_alive_idle_seconds),
            max_connections: self.max_connections,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
        }
    }

    /// How long a request body may take to arrive.
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_seconds)
    }
}

/// Durable store settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Empty (SQLite file `license.db` in `data_dir`), `sqlite://<file>?mode=rwc`,
    /// `postgres://user:password@host/db` or `memory://`.
    pub url: Secret,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: Secret::new(DEFAULT_STORE_URL),
        }
    }
}

/// Seat ledger settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerConfig {
    /// `memory://` (one replica), `redis://`, `rediss://`, `redis+cluster://` or
    /// `rediss+cluster://`.
    pub url: Secret,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self {
            url: Secret::new(DEFAULT_LEDGER_URL),
        }
    }
}

/// Lease-token signer settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignerConfig {
    /// `local` (a key generated into `data_dir`) or `gcpkms://<KMS key version name>`.
    pub url: String,
    /// Algorithm: `EdDSA`, `ES256`, `RS256` or `PS256`. With Cloud KMS it must match the key
    /// version's; the default `EdDSA`, which KMS does not offer, then means `RS256`.
    pub algorithm: SigningAlgorithm,
    /// Keys that signed before a rotation and are still published, comma-separated: each a
    /// `gcpkms://<KMS key version name>` or the path of a JSON file holding a JWK or a JWK set
    /// (such as the JWKS saved before the rotation). Empty: none.
    pub retired_keys: String,
    /// Cloud KMS symmetric key that encrypts tenant signing keys at rest
    /// (`gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K`); required with a
    /// `gcpkms://` signer. With `local`, tenant keys are encrypted under a key derived from
    /// the local root instead.
    pub wrap_key: String,
    /// Algorithm of tenant signing keys: `EdDSA` (default) or `ES256`.
    pub tenant_key_algorithm: SigningAlgorithm,
    /// Hours a tenant key is the current one before its successor takes over (1–8760).
    pub tenant_key_rotation_hours: u32,
    /// Seconds between two looks for tenant keys other replicas made or revoked (1–300).
    pub tenant_key_refresh_seconds: u32,
}

impl SignerConfig {
    /// The tenant-key settings for the core.
    pub fn tenant_keys(&self) -> license_core::TenantKeyConfig {
        license_core::TenantKeyConfig {
            algorithm: self.tenant_key_algorithm,
            rotation: std::time::Duration::from_secs(
                u64::from(self.tenant_key_rotation_hours) * 3600,
            ),
            ..license_core::TenantKeyConfig::default()
        }
    }

    /// The entries of `retired_keys`, trimmed, empty ones skipped.
    pub fn retired_key_sources(&self) -> impl Iterator<Item = &str> {
        self.retired_keys
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

impl Default for SignerConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_SIGNER_URL.into(),
            algorithm: SigningAlgorithm::EdDSA,
            retired_keys: String::new(),
            wrap_key: String::new(),
            tenant_key_algorithm: SigningAlgorithm::EdDSA,
            tenant_key_rotation_hours: 24,
            tenant_key_refresh_seconds: 10,
        }
    }
}

/// Credentials the API accepts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The operator's bearer token, at least 32 characters (empty: generated into
    /// `<data_dir>/operator-token`).
    pub operator_token: Secret,
    /// Seconds a verified credential is trusted without the store (API keys) or a signature
    /// check (ID tokens): a key revoked on another replica works here at most this long.
    /// 0: every request checks.
    pub cache_seconds: u64,
    /// Most credentials cached, for each kind (API-key records, missing keys, ID tokens).
    pub cache_capacity: u64,
    /// Store lookups a second that API keys not in the cache may cause, per tenant this
    /// replica knows and once more for all the others; beyond it the check answers 503.
    pub miss_lookups_per_second: u32,
    /// ID tokens (OpenID Connect): end users on the client routes; where configured, tenant
    /// administrators on the admin routes and the console's single sign-on.
    pub oidc: OidcConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        let cache = CredentialCacheConfig::DEFAULT;
        Self {
            operator_token: Secret::default(),
            cache_seconds: cache.ttl.as_secs(),
            cache_capacity: cache.capacity,
            miss_lookups_per_second: cache.miss_lookups_per_second.get(),
            oidc: OidcConfig::default(),
        }
    }
}

impl AuthConfig {
    /// Longest `cache_seconds`: the revocation window stays short.
    pub const MAX_CACHE_SECONDS: u64 = 300;
    /// Shortest `operator_token`, in characters: the token guards every tenant.
    pub const MIN_OPERATOR_TOKEN_LEN: usize = 32;

    /// How long a verified credential is trusted.
    pub fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_seconds)
    }

    /// The API-key cache these settings describe (validated settings; out-of-range values
    /// are clamped, never a panic).
    pub fn credential_cache(&self) -> CredentialCacheConfig {
        CredentialCacheConfig {
            ttl: self.cache_ttl(),
            capacity: self.cache_capacity,
            miss_lookups_per_second: NonZeroU32::new(self.miss_lookups_per_second)
                .unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// OpenID Connect settings. Off while `jwks_url` is empty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// Where the identity provider publishes its keys: an `https://` URL, `http://` only on
    /// loopback (empty: OIDC off).
    pub jwks_url: String,
    /// Required `iss` (Google Identity Platform: `https://securetoken.google.com/<project>`).
    pub issuer: String,
    /// Required `aud` (Google Identity Platform: the project id); a token for several
    /// audiences must also name it in `azp`.
    pub audience: String,
    /// The claim holding the tenant id.
    pub tenant_claim: String,
    /// Least seconds between two key downloads triggered by an unknown `kid`.
    pub refresh_min_seconds: u64,
    /// The claim that makes a user an administrator of the tenant in `tenant_claim` when it
    /// holds (as a string, or in an array of strings) one of `admin_values`. Empty: ID tokens
    /// never grant admin rights. They never grant the operator's.
    pub admin_claim: String,
    /// The values of `admin_claim` that grant admin rights, comma-separated.
    pub admin_values: String,
    /// The web console's client id at the provider (a public client: authorization code with
    /// PKCE, no secret). Empty: the console offers no single sign-on.
    pub console_client_id: String,
    /// The provider's authorization endpoint, where the console sends the browser to sign in.
    pub authorization_endpoint: String,
    /// The provider's token endpoint, where the console exchanges the code for an ID token.
    pub token_endpoint: String,
    /// The scopes the console asks for, space-separated (must include `openid`).
    pub scopes: String,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            jwks_url: String::new(),
            issuer: String::new(),
            audience: String::new(),
            tenant_claim: "tenant_id".into(),
            refresh_min_seconds: 60,
            admin_claim: String::new(),
            admin_values: String::new(),
            console_client_id: String::new(),
            authorization_endpoint: String::new(),
            token_endpoint: String::new(),
            scopes: "openid email".into(),
        }
    }
}

impl OidcConfig {
    /// Whether end-user ID tokens are accepted.
    pub fn enabled(&self) -> bool {
        !self.jwks_url.is_empty()
    }

    /// The entries of `admin_values`, trimmed, empty ones skipped.
    pub fn admin_value_list(&self) -> impl Iterator<Item = &str> {
        self.admin_values
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// Whether the console offers single sign-on.
    pub fn console_sign_in(&self) -> bool {
        !self.console_client_id.is_empty()
    }

    fn problems(&self, check: &mut impl FnMut(bool, &'static str, &str)) {
        if self.enabled() {
            check(
                jwks_url_is_safe(&self.jwks_url),
                "auth.oidc.jwks_url",
                "must be an https:// URL (http:// only on loopback: 127.0.0.1, [::1], localhost)",
            );
            check(
                !self.issuer.is_empty(),
                "auth.oidc.issuer",
                "must be set when auth.oidc.jwks_url is",
            );
            check(
                !self.audience.is_empty(),
                "auth.oidc.audience",
                "must be set when auth.oidc.jwks_url is",
            );
        }
        check(
            !self.tenant_claim.is_empty(),
            "auth.oidc.tenant_claim",
            "must not be empty",
        );
        if !self.admin_claim.is_empty() {
            check(
                self.enabled(),
                "auth.oidc.admin_claim",
                "needs auth.oidc.jwks_url (the tokens must be verified)",
            );
            check(
                self.admin_value_list().next().is_some(),
                "auth.oidc.admin_values",
                "must name at least one value when auth.oidc.admin_claim is set",
            );
        }
        if self.console_sign_in() {
            check(
                self.enabled(),
                "auth.oidc.console_client_id",
                "needs auth.oidc.jwks_url (the console's ID tokens are verified like any other)",
            );
            // The browser talks to both: the same rule as the key set's URL.
            check(
                jwks_url_is_safe(&self.authorization_endpoint),
                "auth.oidc.authorization_endpoint",
                "must be an https:// URL (http:// only on loopback) when \
                 auth.oidc.console_client_id is set",
            );
            check(
                jwks_url_is_safe(&self.token_endpoint),
                "auth.oidc.token_endpoint",
                "must be an https:// URL (http:// only on loopback) when \
                 auth.oidc.console_client_id is set",
            );
            check(
                self.scopes.split_ascii_whitespace().any(|s| s == "openid"),
                "auth.oidc.scopes",
                "must include openid (the console needs an ID token)",
            );
        }
    }
}

/// Whether the key set may be fetched from `url`: over HTTPS, or over plain HTTP from this
/// machine only (a test's identity provider), where nobody on the network can swap the keys.
fn jwks_url_is_safe(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return false;
    };
    match url.scheme() {
        "https" => true,
        "http" => {
            host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

/// Reaper settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReaperConfig {
    /// Whether this replica runs the reaper (safe on every replica).
    pub enabled: bool,
    /// Seconds between two passes.
    pub interval_seconds: u64,
    /// Sessions marked expired, or deleted, per store call.
    pub batch: u32,
    /// Days an ended session is kept before the reaper deletes it (0: kept for ever). Daily
    /// usage figures are kept apart and never deleted.
    pub session_retention_days: u32,
}

impl Default for ReaperConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_seconds: 30,
            batch: 500,
            session_retention_days: 90,
        }
    }
}

impl ReaperConfig {
    /// Longest `session_retention_days`: a hundred years.
    pub const MAX_RETENTION_DAYS: u32 = 36_500;

    /// How long ended sessions are kept; `None` for ever.
    pub fn session_retention(&self) -> Option<Duration> {
        (self.session_retention_days > 0)
            .then(|| Duration::from_secs(u64::from(self.session_retention_days) * 86_400))
    }
}

/// Per-tenant quotas: every tenant is held to the same limits. A change that would pass one
/// answers 403 `quota_exceeded` naming it, and changes nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotasConfig {
    /// Most licenses a tenant may have (revoked ones included: they stay on record).
    pub max_licenses_per_tenant: u64,
    /// Most API keys a tenant may have that are not revoked (revoking one frees its place).
    pub max_api_keys_per_tenant: u64,
    /// Most live seats a tenant's licenses may allow together: `seats_total` plus `overdraft`,
    /// summed over its licenses that are not revoked.
    pub max_seats_per_tenant: u64,
}

impl Default for QuotasConfig {
    fn default() -> Self {
        let core = TenantQuotas::DEFAULT;
        Self {
            max_licenses_per_tenant: core.max_licenses,
            max_api_keys_per_tenant: core.max_api_keys,
            max_seats_per_tenant: core.max_seats,
        }
    }
}

impl QuotasConfig {
    /// The core's view of these settings.
    pub fn core(&self) -> TenantQuotas {
        TenantQuotas {
            max_licenses: self.max_licenses_per_tenant,
            max_api_keys: self.max_api_keys_per_tenant,
            max_seats: self.max_seats_per_tenant,
        }
    }
}

/// The hot path's bounds (ADR 0017).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HotPathSettings {
    /// Seconds a replica may answer from a cached license (a change made on another replica
    /// applies here within this time; at once on the replica that made it). 0: no cache.
    pub policy_cache_seconds: u64,
    /// Most sessions a replica remembers for heartbeats without a store read.
    pub session_directory_capacity: u64,
    /// Milliseconds between two flushes of renewals to the store.
    pub flush_interval_millis: u64,
    /// Seconds a renewal may wait unflushed before heartbeats answer 503.
    pub max_write_lag_seconds: u64,
}

impl Default for HotPathSettings {
    fn default() -> Self {
        let core = license_core::hot_path::HotPathConfig::default();
        Self {
            policy_cache_seconds: core.policy_ttl.as_secs(),
            session_directory_capacity: core.directory_capacity,
            flush_interval_millis: 1_000,
            max_write_lag_seconds: core.max_write_lag.as_secs(),
        }
    }
}

impl HotPathSettings {
    /// The core's view of these settings.
    pub fn core(&self) -> license_core::hot_path::HotPathConfig {
        license_core::hot_path::HotPathConfig {
            policy_ttl: std::time::Duration::from_secs(self.policy_cache_seconds),
            directory_capacity: self.session_directory_capacity,
            max_write_lag: std::time::Duration::from_secs(self.max_write_lag_seconds),
        }
    }
}

/// The per-license seat gauges (`license_seats_in_use`, `…_limit`, `…_sold`; ADR 0027).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Seconds between two readings of the seat gauges (one license read and one ledger count
    /// per license this replica served in the last 15 minutes). 0: no seat gauges.
    pub seat_gauge_seconds: u64,
    /// Most licenses a replica keeps seat gauges for (three series each): the bound on their
    /// cardinality.
    pub seat_gauge_max_licenses: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            seat_gauge_seconds: 30,
            seat_gauge_max_licenses: 10_000,
        }
    }
}

/// The seat-event log (ADR 0030): every seat event but renewals, appended to the store in
/// batches, hash-chained per tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// This replica's name in the entries it writes; empty: the `HOSTNAME` environment
    /// variable (a pod's name on Kubernetes), else `license-server`.
    pub replica: String,
    /// Milliseconds between two appends of the queued events.
    pub write_interval_millis: u64,
    /// Most events queued for the store; beyond it they are dropped, counted, and an
    /// `events_lost` entry says how many.
    pub queue_capacity: u64,
    /// Seconds between two signed checkpoints of each tenant's log, put on record in the log
    /// itself (0: none; checkpoints are still signed on request).
    pub checkpoint_interval_seconds: u64,
    /// UTC days of each tenant's log kept in full (today counts as one; 0: for ever). Older
    /// days are kept as daily figures and their entries deleted up to a checkpoint entry,
    /// after each checkpoint pass (ADR 0034).
    pub retention_days: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            replica: String::new(),
            write_interval_millis: 250,
            queue_capacity: 100_000,
            checkpoint_interval_seconds: 3_600,
            retention_days: 0,
        }
    }
}

impl EventsConfig {
    /// The replica name written in each entry.
    pub fn replica_name(&self) -> String {
        if !self.replica.trim().is_empty() {
            return self.replica.trim().to_owned();
        }
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| "license-server".into())
    }
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// `json` when the log's stream (stderr) is not a terminal (a file, a pipe, a container
    /// runtime), `pretty` when it is.
    Auto,
    /// One JSON object per line with Cloud Logging's `severity` (production).
    Json,
    /// Human-readable lines (development); coloured only on a terminal.
    Pretty,
}

impl LogFormat {
    /// The format to write in: `auto` becomes `json`, or `pretty` when `terminal` (the log's
    /// stream is a terminal); `json` and `pretty` stay as they are.
    pub fn resolve(self, terminal: bool) -> LogFormat {
        match self {
            LogFormat::Auto if terminal => LogFormat::Pretty,
            LogFormat::Auto => LogFormat::Json,
            other => other,
        }
    }
}

/// Logging settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `auto` (json unless stderr is a terminal), `json` (production, Cloud Logging) or
    /// `pretty` (development).
    pub format: LogFormat,
    /// Which events to log, in `tracing` filter syntax (`info`, `license_server=debug,info`).
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            filter: "info".into(),
        }
    }
}

impl Config {
    /// The base URL printed at start-up: `server.public_url`, else from `server.listen`.
    pub fn public_url(&self) -> String {
        if self.server.public_url.is_empty() {
            format!("http://{}", self.server.listen)
        } else {
            self.server.public_url.trim_end_matches('/').to_owned()
        }
    }

    /// Checks the values serde cannot: every problem is reported, each naming its TOML key
    /// and environment variable.
    pub fn validate(&self) -> Vec<layers::Problem> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, key: &'static str, reason: &str| {
            if !ok {
                problems.push(layers::Problem::new(key, reason));
            }
        };
        check(
            !self.data_dir.as_os_str().is_empty(),
            "data_dir",
            "must not be empty",
        );
        check(
            !self.issuer.trim().is_empty(),
            "issuer",
            "must not be empty",
        );
        check(
            (1024..=16 * 1024 * 1024).contains(&self.server.body_limit_bytes),
            "server.body_limit_bytes",
            "must be between 1024 and 16777216",
        );
        check(
            self.server.shutdown_grace_seconds <= 3600,
            "server.shutdown_grace_seconds",
            "must be at most 3600",
        );
        check(
            (1..=300).contains(&self.server.header_read_timeout_seconds),
            "server.header_read_timeout_seconds",
            "must be between 1 and 300",
        );
        check(
            (1..=600).contains(&self.server.body_read_timeout_seconds),
            "server.body_read_timeout_seconds",
            "must be between 1 and 600",
        );
        check(
            (1..=3600).contains(&self.server.keep_alive_idle_seconds),
            "server.keep_alive_idle_seconds",
            "must be between 1 and 3600",
        );
        check(
            (1..=1_000_000).contains(&self.server.max_connections),
            "server.max_connections",
            "must be between 1 and 1000000",
        );
        check(
            self.server.public_url.is_empty()
                || self.server.public_url.starts_with("http://")
                || self.server.public_url.starts_with("https://"),
            "server.public_url",
            "must start with http:// or https://",
        );
        check(
            !self.ledger.url.is_empty(),
            "ledger.url",
            "must not be empty",
        );
        check(
            !self.signer.url.is_empty(),
            "signer.url",
            "must not be empty",
        );
        check(
            matches!(
                self.signer.tenant_key_algorithm,
                SigningAlgorithm::EdDSA | SigningAlgorithm::ES256
            ),
            "signer.tenant_key_algorithm",
            "must be EdDSA or ES256",
        );
        check(
            (1..=8760).contains(&self.signer.tenant_key_rotation_hours),
            "signer.tenant_key_rotation_hours",
            "must be between 1 and 8760",
        );
        check(
            (1..=300).contains(&self.signer.tenant_key_refresh_seconds),
            "signer.tenant_key_refresh_seconds",
            "must be between 1 and 300",
        );
        check(
            !self.signer.url.starts_with("gcpkms://")
                || self.signer.wrap_key.starts_with("gcpkms://"),
            "signer.wrap_key",
            "must name a Cloud KMS symmetric key (gcpkms://projects/…/cryptoKeys/…) when signer.url is a gcpkms:// key",
        );
        check(
            self.reaper.interval_seconds >= 1,
            "reaper.interval_seconds",
            "must be at least 1",
        );
        check(
            (1..=10_000).contains(&self.reaper.batch),
            "reaper.batch",
            "must be between 1 and 10000",
        );
        check(
            self.reaper.session_retention_days <= ReaperConfig::MAX_RETENTION_DAYS,
            "reaper.session_retention_days",
            "must be at most 36500 (0 keeps ended sessions for ever)",
        );
        let quotas = &self.quotas;
        check(
            (1..=10_000_000).contains(&quotas.max_licenses_per_tenant),
            "quotas.max_licenses_per_tenant",
            "must be between 1 and 10000000",
        );
        check(
            (1..=100_000).contains(&quotas.max_api_keys_per_tenant),
            "quotas.max_api_keys_per_tenant",
            "must be between 1 and 100000 (a new tenant's first admin key needs one)",
        );
        check(
            (1..=1_000_000_000_000).contains(&quotas.max_seats_per_tenant),
            "quotas.max_seats_per_tenant",
            "must be between 1 and 1000000000000",
        );
        let hot = &self.hot_path;
        check(
            hot.policy_cache_seconds <= 300,
            "hot_path.policy_cache_seconds",
            "must be at most 300",
        );
        check(
            hot.session_directory_capacity >= 1,
            "hot_path.session_directory_capacity",
            "must be at least 1",
        );
        check(
            (50..=10_000).contains(&hot.flush_interval_millis),
            "hot_path.flush_interval_millis",
            "must be between 50 and 10000",
        );
        check(
            (2..=300).contains(&hot.max_write_lag_seconds)
                && hot.max_write_lag_seconds * 1_000 >= 2 * hot.flush_interval_millis,
            "hot_path.max_write_lag_seconds",
            "must be between 2 and 300, and at least twice the flush interval",
        );
        check(
            self.metrics.seat_gauge_seconds <= 3600,
            "metrics.seat_gauge_seconds",
            "must be at most 3600 (0 turns the seat gauges off)",
        );
        check(
            (1..=100_000).contains(&self.metrics.seat_gauge_max_licenses),
            "metrics.seat_gauge_max_licenses",
            "must be between 1 and 100000",
        );
        check(
            (10..=60_000).contains(&self.events.write_interval_millis),
            "events.write_interval_millis",
            "must be between 10 and 60000",
        );
        check(
            (1_000..=10_000_000).contains(&self.events.queue_capacity),
            "events.queue_capacity",
            "must be between 1000 and 10000000",
        );
        check(
            self.events.checkpoint_interval_seconds == 0
                || (60..=86_400).contains(&self.events.checkpoint_interval_seconds),
            "events.checkpoint_interval_seconds",
            "must be between 60 and 86400 (0 turns periodic checkpoints off)",
        );
        check(
            self.events.retention_days == 0 || (2..=36_500).contains(&self.events.retention_days),
            "events.retention_days",
            "must be between 2 and 36500 (0 keeps the log for ever)",
        );
        check(
            self.events.retention_days == 0 || self.events.checkpoint_interval_seconds > 0,
            "events.retention_days",
            "needs events.checkpoint_interval_seconds: the log is only cut at a checkpoint",
        );
        check(
            self.events.replica.len() <= 200,
            "events.replica",
            "must be at most 200 bytes",
        );
        check(
            tracing_subscriber::EnvFilter::try_new(&self.log.filter).is_ok(),
            "log.filter",
            "is not a valid filter (try `info` or `license_server=debug,info`)",
        );
        check(
            self.auth.cache_seconds <= AuthConfig::MAX_CACHE_SECONDS,
            "auth.cache_seconds",
            "must be at most 300 (it is how long a revoked API key keeps working on other replicas)",
        );
        check(
            (100..=10_000_000).contains(&self.auth.cache_capacity),
            "auth.cache_capacity",
            "must be between 100 and 10000000",
        );
        check(
            (1..=100_000).contains(&self.auth.miss_lookups_per_second),
            "auth.miss_lookups_per_second",
            "must be between 1 and 100000",
        );
        check(
            self.auth.operator_token.is_empty()
                || self.auth.operator_token.expose().chars().count()
                    >= AuthConfig::MIN_OPERATOR_TOKEN_LEN,
            "auth.operator_token",
            "must be at least 32 characters (e.g. `openssl rand -base64 32`), or empty to have \
             one generated into <data_dir>/operator-token",
        );
        self.auth.oidc.problems(&mut check);
        problems.extend(self.limits.problems());
        problems.extend(self.webhooks.problems());
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("postgres://app:hunter2@db/licenses");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(secret.to_string(), "***");
        assert_eq!(secret.scheme(), Some("postgres"));
        let config = Config {
            store: StoreConfig { url: secret },
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn defaults_are_valid() {
        assert!(Config::default().validate().is_empty());
        assert_eq!(Config::default().public_url(), "http://127.0.0.1:8080");
        assert_eq!(
            Config::default().server.listen.to_string(),
            DEFAULT_LISTEN,
            "the constant and the default agree"
        );
    }

    #[test]
    fn credential_cache_bounds_are_checked_by_key() {
        let mut config = Config::default();
        config.auth.cache_seconds = 301;
        config.auth.cache_capacity = 0;
        config.auth.miss_lookups_per_second = 0;
        let keys: Vec<_> = config.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "auth.cache_seconds",
                "auth.cache_capacity",
                "auth.miss_lookups_per_second"
            ]
        );
        config.auth.cache_seconds = 0;
        config.auth.cache_capacity = 100;
        config.auth.miss_lookups_per_second = 1;
        assert!(
            config.validate().is_empty(),
            "0 s (no cache) and the minimums are valid"
        );
        assert_eq!(
            Config::default().auth.credential_cache(),
            CredentialCacheConfig::DEFAULT
        );
    }

    #[test]
    fn the_key_set_is_fetched_over_https_or_from_loopback_only() {
        for ok in [
            "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com",
            "https://idp.example:8443/jwks",
            "http://127.0.0.1:4000/jwks",
            "http://127.8.9.10/jwks",
            "http://localhost:4000/jwks",
            "http://LOCALHOST/jwks",
            "http://[::1]:4000/jwks",
        ] {
            assert!(jwks_url_is_safe(ok), "{ok}");
        }
        for refused in [
            "http://idp.example/jwks",
            "http://10.0.0.1/jwks",
            "http://localhost.evil.example/jwks",
            "http://127.0.0.1.nip.io/jwks",
            "ftp://idp.example/jwks",
            "idp.example/jwks",
            "https://",
            "file:///etc/jwks.json",
        ] {
            assert!(!jwks_url_is_safe(refused), "{refused}");
        }
    }

    #[test]
    fn a_configured_operator_token_has_at_least_32_characters() {
        let mut config = Config::default();
        config.auth.operator_token = Secret::new("x".repeat(31));
        let problems = config.validate();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key, "auth.operator_token");
        assert!(
            !problems[0].reason.contains(&"x".repeat(31)),
            "never the token"
        );
        config.auth.operator_token = Secret::new("x".repeat(32));
        assert!(config.validate().is_empty());
    }

    #[test]
    fn slow_client_bounds_are_checked_by_key() {
        let mut config = Config::default();
        config.server.header_read_timeout_seconds = 0;
        config.server.body_read_timeout_seconds = 601;
        config.server.keep_alive_idle_seconds = 0;
        config.server.max_connections = 0;
        let keys: Vec<_> = config.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "server.header_read_timeout_seconds",
                "server.body_read_timeout_seconds",
                "server.keep_alive_idle_seconds",
                "server.max_connections"
            ]
        );
        config.server.header_read_timeout_seconds = 1;
        config.server.body_read_timeout_seconds = 1;
        config.server.keep_alive_idle_seconds = 1;
        config.server.max_connections = 1;
        assert!(config.validate().is_empty(), "the minimums are valid");
        let limits = Config::default().server.connection_limits();
        assert_eq!(limits.header_read, Duration::from_secs(10));
        assert_eq!(limits.keep_alive_idle, Duration::from_secs(75));
        assert_eq!(limits.max_connections, 10_000);
        assert_eq!(
            Config::default().server.body_read_timeout(),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn quotas_and_retention_are_checked_by_key() {
        let mut config = Config::default();
        assert_eq!(config.quotas.core(), TenantQuotas::DEFAULT);
        assert_eq!(
            config.reaper.session_retention(),
            Some(Duration::from_secs(90 * 86_400))
        );
        config.reaper.session_retention_days = 36_501;
        config.quotas.max_licenses_per_tenant = 0;
        config.quotas.max_api_keys_per_tenant = 0;
        config.quotas.max_seats_per_tenant = 0;
        let keys: Vec<_> = config.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "reaper.session_retention_days",
                "quotas.max_licenses_per_tenant",
                "quotas.max_api_keys_per_tenant",
                "quotas.max_seats_per_tenant",
            ]
        );
        config.reaper.session_retention_days = 0;
        assert_eq!(config.reaper.session_retention(), None, "0 keeps them");
    }

    #[test]
    fn oidc_needs_issuer_and_audience() {
        let mut config = Config::default();
        config.auth.oidc.jwks_url = "https://idp.example/jwks".into();
        let keys: Vec<_> = config.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["auth.oidc.issuer", "auth.oidc.audience"]);
    }

    #[test]
    fn the_event_log_retention_is_checked_and_needs_checkpoints() {
        let mut config = Config::default();
        for (days, valid) in [
            (0, true),
            (1, false),
            (2, true),
            (36_500, true),
            (36_501, false),
        ] {
            config.events.retention_days = days;
            let keys: Vec<_> = config.validate().into_iter().map(|p| p.key).collect();
            assert_eq!(keys.is_empty(), valid, "{days}: {keys:?}");
        }
        config.events.retention_days = 30;
        config.events.checkpoint_interval_seconds = 0;
        let keys: Vec<_> = config.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["events.retention_days"]);
    }

    #[test]
    fn oidc_admin_and_console_settings_are_checked() {
        let mut config = Config::default();
        config.auth.oidc.admin_claim = "roles".into();
        config.auth.oidc.console_client_id = "console".into();
        config.auth.oidc.authorization_endpoint = "http://idp.example/authorize".into();
        config.auth.oidc.scopes = "email".into();
        let keys: Vec<_> = config.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "auth.oidc.admin_claim",
                "auth.oidc.admin_values",
                "auth.oidc.console_client_id",
                "auth.oidc.authorization_endpoint",
                "auth.oidc.token_endpoint",
                "auth.oidc.scopes",
            ]
        );

        config.auth.oidc.jwks_url = "https://idp.example/jwks".into();
        config.auth.oidc.issuer = "https://idp.example".into();
        config.auth.oidc.audience = "console".into();
        config.auth.oidc.admin_values = " , ".into();
        config.auth.oidc.authorization_endpoint = "https://idp.example/authorize".into();
        config.auth.oidc.token_endpoint = "http://127.0.0.1:9000/token".into();
        config.auth.oidc.scopes = "openid email".into();
        let keys: Vec<_> = config.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["auth.oidc.admin_values"]);
        config.auth.oidc.admin_values = "owner".into();
        assert!(config.validate().is_empty());
    }
}
