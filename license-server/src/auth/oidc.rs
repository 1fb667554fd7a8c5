//! End-user ID tokens (OpenID Connect), e.g. from Google Identity Platform: RS256 JWTs whose
//! keys are published as a JWKS. Keys are cached; a token naming an unknown `kid` triggers a
//! download, at most once per `refresh_min_seconds`, so key rotation is picked up without a
//! restart and a flood of forged `kid`s cannot hammer the identity provider.
//!
//! Accepted tokens are cached too, by the SHA-256 of the whole token, until the earlier of
//! their `exp` and `auth.cache_seconds` after they were verified (at most `auth.cache_capacity`
//! of them): a client repeating its bearer token skips the signature check. Only tokens that
//! passed every check are cached, so made-up tokens take no room. Checking a token needs no
//! store lookup at all: the tenant is the claim's, and the use case then finds the license
//! within that tenant.
//!
//! Where `auth.oidc.admin_claim` is set, the identity also says whether the token's admin claim
//! holds one of `auth.oidc.admin_values`: such a user administers its tenant (`super`'s
//! `AdminPrincipal::User`), never more.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use license_core::TenantId;
use moka::sync::Cache;
use serde_json::{Map, Value};

use crate::config::OidcConfig;

/// Tolerated clock skew for `exp` and `nbf`, seconds.
const LEEWAY_SECONDS: u64 = 30;

/// Who an accepted ID token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcIdentity {
    /// The tenant, from the configured claim.
    pub tenant: TenantId,
    /// The user (`sub`).
    pub subject: String,
    /// Whether the token's admin claim makes the user an administrator of `tenant`
    /// (`auth.oidc.admin_claim`; always false when that is not set).
    pub admin: bool,
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The token is not valid (expired, wrong audience or issuer, bad signature, …). The
    /// reason is for logs; clients get a plain 401.
    #[error("ID token rejected: {0}")]
    Rejected(String),
    /// The identity provider's keys could not be fetched.
    #[error("identity provider keys unavailable: {0}")]
    Unavailable(String),
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    last_fetch: Option<Instant>,
}

/// What the ID-token cache has done since start.
#[derive(Debug, Default)]
pub struct OidcStats {
    /// Tokens accepted from the cache, without a signature check.
    pub hits: AtomicU64,
    /// Tokens whose signature and claims were checked (accepted or not).
    pub verifications: AtomicU64,
}

/// A token that passed every check, and until when it may be taken from the cache.
#[derive(Clone, Debug)]
struct Verified {
    identity: OidcIdentity,
    /// Unix milliseconds: the earlier of the token's `exp` and verification + time-to-live.
    until_ms: i64,
}

/// Accepted ID tokens by SHA-256, each until the earlier of its `exp` and the time-to-live.
struct VerifiedTokens {
    ttl_ms: i64,
    /// `None` when the time-to-live is zero: nothing is cached.
    tokens: Option<Cache<[u8; 32], Verified>>,
}

impl VerifiedTokens {
    fn new(ttl: Duration, capacity: u64) -> Self {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let tokens = (ttl_ms > 0).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build()
        });
        Self { ttl_ms, tokens }
    }

    fn digest(token: &str) -> [u8; 32] {
        super::sha256(token.as_bytes())
    }

    /// The identity of `token` if it was accepted and is still within its bound at `now_ms`.
    fn get(&self, token: &str, now_ms: i64) -> Option<OidcIdentity> {
        let tokens = self.tokens.as_ref()?;
        let key = Self::digest(token);
        let verified = tokens.get(&key)?;
        if now_ms < verified.until_ms {
            return Some(verified.identity);
        }
        tokens.invalidate(&key);
        None
    }

    /// Remembers an accepted `token` that expires at `exp` (Unix seconds), verified at `now_ms`.
    fn insert(&self, token: &str, identity: OidcIdentity, exp: i64, now_ms: i64) {
        let Some(tokens) = &self.tokens else {
            return;
        };
        let until_ms = exp
            .saturating_mul(1000)
            .min(now_ms.saturating_add(self.ttl_ms));
        if until_ms > now_ms {
            tokens.insert(Self::digest(token), Verified { identity, until_ms });
        }
    }
}

fn unix_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Verifies ID tokens against a JWKS URL.
pub struct OidcVerifier {
    config: OidcConfig,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
    fetching: tokio::sync::Mutex<()>,
    verified: VerifiedTokens,
    stats: Arc<OidcStats>,
}

impl fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("jwks_url", &self.config.jwks_url)
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// A verifier for `config` (which must have a `jwks_url`) that keeps at most
    /// `cache_capacity` accepted tokens for at most `cache_ttl` (zero: none).
    pub fn new(
        config: OidcConfig,
        cache_ttl: Duration,
        cache_capacity: u64,
    ) -> Result<Self, OidcError> {
        // An https:// key set is never fetched over plain HTTP, not even after a redirect
        // (config validation allows http:// on loopback only, for tests).
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .https_only(config.jwks_url.starts_with("https://"))
            .build()
            .map_err(|e| OidcError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Self {
            config,
            http,
            cache: RwLock::new(KeyCache::default()),
            fetching: tokio::sync::Mutex::new(()),
            verified: VerifiedTokens::new(cache_ttl, cache_capacity),
            stats: Arc::default(),
        })
    }

    /// The cache's counters (for metrics).
    pub fn stats(&self) -> Arc<OidcStats> {
        self.stats.clone()
    }

    /// The settings it verifies with.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Whether some ID tokens may carry admin rights (`auth.oidc.admin_claim` is set).
    pub fn grants_admin(&self) -> bool {
        !self.config.admin_claim.is_empty()
    }

    /// Checks signature, issuer, audience and validity window, and reads the tenant claim; a
    /// token accepted before and still within its cache bound is taken from the cache.
    pub async fn verify(&self, token: &str) -> Result<OidcIdentity, OidcError> {
        let now_ms = unix_now_ms();
        if let Some(identity) = self.verified.get(token, now_ms) {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(identity);
        }
        self.stats.verifications.fetch_add(1, Ordering::Relaxed);
        let (identity, exp) = self.check(token).await?;
        self.verified.insert(token, identity.clone(), exp, now_ms);
        Ok(identity)
    }

    /// The full check: the identity and the token's `exp` (Unix seconds).
    async fn check(&self, token: &str) -> Result<(OidcIdentity, i64), OidcError> {
        let rejected = |what: &str| OidcError::Rejected(what.to_owned());
        let header = jsonwebtoken::decode_header(token).map_err(|e| rejected(&e.to_string()))?;
        let kid = header.kid.ok_or_else(|| rejected("no kid in the header"))?;
        let (algorithm, key) = match self.cached(&kid) {
            Some(found) => found,
            None => {
                self.refresh().await?;
                self.cached(&kid)
                    .ok_or_else(|| rejected("unknown key id"))?
            }
        };
        // The algorithm comes from the key, never from the token.
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| rejected(&e.to_string()))?;
        check_authorized_party(&data.claims, &self.config.audience).map_err(rejected)?;
        let subject = data
            .claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(|| rejected("sub is not a string"))?
            .to_owned();
        // The subject is the audit log's actor (`user:<sub>`), which people read.
        license_core::text::check_readable("sub", &subject)
            .map_err(|_| rejected("sub holds a control or invisible character"))?;
        let tenant = data
            .claims
            .get(&self.config.tenant_claim)
            .and_then(Value::as_str)
            .ok_or_else(|| rejected("no tenant claim"))?
            .parse::<TenantId>()
            .map_err(|_| rejected("the tenant claim is not a tenant id"))?;
        // Required and checked above; a fractional `exp` counts from its whole second.
        let exp = data
            .claims
            .get("exp")
            .and_then(Value::as_f64)
            .ok_or_else(|| rejected("exp is not a number"))?;
        let exp = exp.floor() as i64;
        let admin = holds_admin_value(&data.claims, &self.config);
        Ok((
            OidcIdentity {
                tenant,
                subject,
                admin,
            },
            exp,
        ))
    }

    fn cached(&self, kid: &str) -> Option<(Algorithm, DecodingKey)> {
        let cache = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.keys.get(kid).cloned()
    }

    /// Downloads the keys unless that happened less than `refresh_min_seconds` ago. Callers
    /// arriving together wait for one download.
    async fn refresh(&self) -> Result<(), OidcError> {
        let _one_at_a_time = self.fetching.lock().await;
        let min = Duration::from_secs(self.config.refresh_min_seconds);
        let (last_fetch, have_keys) = {
            let cache = self
                .cache
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (cache.last_fetch, !cache.keys.is_empty())
        };
        if last_fetch.is_some_and(|t| t.elapsed() < min) {
            return if have_keys {
                Ok(())
            } else {
                Err(OidcError::Unavailable(
                    "no keys since the last download".into(),
                ))
            };
        }
        {
            let mut cache = self
                .cache
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.last_fetch = Some(Instant::now());
        }
        let keys = self.download().await?;
        tracing::info!(keys = keys.len(), "identity provider keys refreshed");
        let mut cache = self
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.keys = keys;
        Ok(())
    }

    async fn download(&self) -> Result<HashMap<String, (Algorithm, DecodingKey)>, OidcError> {
        let unavailable = |e: reqwest::Error| OidcError::Unavailable(e.to_string());
        let body: Value = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(unavailable)?
            .error_for_status()
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        let entries = body
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| OidcError::Unavailable("the JWKS has no keys array".into()))?;
        // One key we cannot use (an unknown type, say) must not hide the others.
        let mut keys = HashMap::new();
        for entry in entries {
            let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
                continue;
            };
            let (Some(kid), Some(algorithm)) = (jwk.common.key_id.clone(), pinned_algorithm(&jwk))
            else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(&jwk) {
                keys.insert(kid, (algorithm, key));
            }
        }
        Ok(keys)
    }
}

/// Whether the admin claim holds one of the admin values: the claim is a string equal to one,
/// or an array of which some string element is one. Anything else (no claim set, a number, an
/// object) grants nothing.
fn holds_admin_value(claims: &Map<String, Value>, config: &OidcConfig) -> bool {
    if config.admin_claim.is_empty() {
        return false;
    }
    let granted = |value: &Value| {
        value
            .as_str()
            .is_some_and(|v| config.admin_value_list().any(|wanted| wanted == v))
    };
    match claims.get(&config.admin_claim) {
        Some(Value::Array(values)) => values.iter().any(granted),
        Some(value) => granted(value),
        None => false,
    }
}

/// OpenID Connect Core §3.1.3.7: a token for several audiences names the party it was issued
/// to in `azp`, and that party must be us; otherwise a token minted for another client that
/// merely lists us among its audiences would be accepted. A token with one audience needs no
/// `azp` (Google Sign-In puts the app's own client id there, which differs from the backend's).
fn check_authorized_party(claims: &Map<String, Value>, audience: &str) -> Result<(), &'static str> {
    let several = claims
        .get("aud")
        .and_then(Value::as_array)
        .is_some_and(|audiences| audiences.len() > 1);
    if !several {
        return Ok(());
    }
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp == audience => Ok(()),
        Some(_) => Err("azp is not the configured audience"),
        None => Err("a token for several audiences must name azp"),
    }
}

/// The one algorithm a key verifies: its `alg` if it names an asymmetric one, else the usual
/// algorithm of its key type. Symmetric (`oct`) keys are never accepted.
fn pinned_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
        _ => return None,
    };
    let Some(named) = jwk.common.key_algorithm else {
        return Some(by_type);
    };
    let named = match named {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    };
    let same_family = matches!(
        (&jwk.algorithm, named),
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ) | (
            AlgorithmParameters::EllipticCurve(_),
            Algorithm::ES256 | Algorithm::ES384
        ) | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
    );
    same_family.then_some(named)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn identity() -> OidcIdentity {
        OidcIdentity {
            tenant: TenantId::new(),
            subject: "user-42".into(),
            admin: false,
        }
    }

    #[test]
    fn the_admin_claim_grants_admin_when_it_holds_an_admin_value() {
        let config = OidcConfig {
            admin_claim: "roles".into(),
            admin_values: "license-admin, owner".into(),
            ..OidcConfig::default()
        };
        let claims = |v: Value| v.as_object().unwrap().clone();
        for granted in [
            json!({ "roles": "owner" }),
            json!({ "roles": ["viewer", "license-admin"] }),
        ] {
            assert!(
                holds_admin_value(&claims(granted.clone()), &config),
                "{granted}"
            );
        }
        for refused in [
            json!({}),
            json!({ "roles": "viewer" }),
            json!({ "roles": ["viewer"] }),
            json!({ "roles": "license-admin,owner" }),
            json!({ "roles": ["LICENSE-ADMIN"] }),
            json!({ "roles": [["owner"]] }),
            json!({ "roles": { "owner": true } }),
            json!({ "roles": null }),
            json!({ "other": "owner" }),
        ] {
            assert!(
                !holds_admin_value(&claims(refused.clone()), &config),
                "{refused}"
            );
        }
        // No admin claim configured: nothing grants admin, whatever the token says.
        let off = OidcConfig::default();
        assert!(!holds_admin_value(&claims(json!({ "": "owner" })), &off));
    }

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn an_accepted_token_is_cached_until_the_ttl() {
        let tokens = VerifiedTokens::new(Duration::from_secs(5), 100);
        let who = identity();
        tokens.insert("token-a", who.clone(), NOW / 1000 + 3600, NOW);
        assert_eq!(tokens.get("token-a", NOW + 4_999), Some(who));
        assert_eq!(tokens.get("token-a", NOW + 5_000), None);
        assert_eq!(tokens.get("token-b", NOW), None, "only the very token");
    }

    #[test]
    fn an_accepted_token_is_cached_no_later_than_its_exp() {
        let tokens = VerifiedTokens::new(Duration::from_secs(60), 100);
        let who = identity();
        tokens.insert("token", who.clone(), NOW / 1000 + 2, NOW);
        assert_eq!(tokens.get("token", NOW + 1_999), Some(who));
        assert_eq!(
            tokens.get("token", NOW + 2_000),
            None,
            "expired: checked again"
        );
        // A token already past its exp (accepted within the leeway) is not cached.
        tokens.insert("late", identity(), NOW / 1000 - 10, NOW);
        assert_eq!(tokens.get("late", NOW), None);
    }

    #[test]
    fn several_audiences_need_azp_naming_ours() {
        let claims = |v: Value| v.as_object().unwrap().clone();
        let ours = "acme-project";
        for accepted in [
            json!({ "aud": ours }),
            json!({ "aud": [ours] }),
            json!({ "aud": ours, "azp": "android-client" }),
            json!({ "aud": [ours, "other"], "azp": ours }),
        ] {
            assert_eq!(
                check_authorized_party(&claims(accepted.clone()), ours),
                Ok(()),
                "{accepted}"
            );
        }
        for refused in [
            json!({ "aud": [ours, "other"] }),
            json!({ "aud": [ours, "other"], "azp": "other" }),
            json!({ "aud": [ours, "other"], "azp": 42 }),
        ] {
            assert!(
                check_authorized_party(&claims(refused.clone()), ours).is_err(),
                "{refused}"
            );
        }
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let tokens = VerifiedTokens::new(Duration::ZERO, 100);
        tokens.insert("token", identity(), NOW / 1000 + 3600, NOW);
        assert_eq!(tokens.get("token", NOW), None);
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity() {
        let tokens = VerifiedTokens::new(Duration::from_secs(60), 10);
        for i in 0..100 {
            tokens.insert(&format!("token-{i}"), identity(), NOW / 1000 + 3600, NOW);
        }
        let cache = tokens.tokens.as_ref().unwrap();
        cache.run_pending_tasks();
        assert!(cache.entry_count() <= 10, "{}", cache.entry_count());
    }
}
