//! End-user ID tokens (OpenID Connect), e.g. from Google Identity Platform: RS256 JWTs whose
//! keys are published as a JWKS. Keys are cached; a token naming an unknown `kid` triggers a
//! download, at most once per `refresh_min_seconds`, so key rotation is picked up without a
//! restart and a flood of forged `kid`s cannot hammer the identity provider.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use license_core::TenantId;
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

/// Verifies ID tokens against a JWKS URL.
pub struct OidcVerifier {
    config: OidcConfig,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
    fetching: tokio::sync::Mutex<()>,
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
    /// A verifier for `config` (which must have a `jwks_url`).
    pub fn new(config: OidcConfig) -> Result<Self, OidcError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| OidcError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Self {
            config,
            http,
            cache: RwLock::new(KeyCache::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// Checks signature, issuer, audience and validity window, and reads the tenant claim.
    pub async fn verify(&self, token: &str) -> Result<OidcIdentity, OidcError> {
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
        let subject = data
            .claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(|| rejected("sub is not a string"))?
            .to_owned();
        let tenant = data
            .claims
            .get(&self.config.tenant_claim)
            .and_then(Value::as_str)
            .ok_or_else(|| rejected("no tenant claim"))?
            .parse::<TenantId>()
            .map_err(|_| rejected("the tenant claim is not a tenant id"))?;
        Ok(OidcIdentity { tenant, subject })
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
