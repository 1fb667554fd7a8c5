//! Which key version to sign with, where Cloud KMS is, and how patient to be with it.

use std::net::IpAddr;
use std::time::Duration;

use license_core::{Error, Result, SigningAlgorithm};
use reqwest::Url;

/// How to reach the Cloud KMS key version that signs lease tokens.
///
/// ```
/// use license_signer_kms::KmsConfig;
/// use license_core::SigningAlgorithm;
/// let config = KmsConfig {
///     algorithm: SigningAlgorithm::ES256,
///     ..KmsConfig::new("projects/p/locations/europe-west1/keyRings/lic/cryptoKeys/lease/cryptoKeyVersions/1")
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsConfig {
    /// The full resource name of the key version:
    /// `projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N`.
    pub key_version: String,
    /// The JWS algorithm; must match the key's Cloud KMS algorithm (RS256 by default, for
    /// `RSA_SIGN_PKCS1_4096_SHA256`).
    pub algorithm: SigningAlgorithm,
    /// The Cloud KMS REST endpoint; `https://`, or `http://` on loopback only (tests, emulators).
    pub endpoint: String,
    /// Time limit of one HTTP attempt, and of fetching an access token.
    pub timeout: Duration,
    /// Retries after the first attempt, on 429, 503, 504 and connection errors only.
    pub max_retries: u32,
}

impl KmsConfig {
    /// The public Cloud KMS endpoint.
    pub const DEFAULT_ENDPOINT: &'static str = "https://cloudkms.googleapis.com";
    /// Default time limit of one attempt.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default number of retries after the first attempt.
    pub const DEFAULT_MAX_RETRIES: u32 = 3;

    /// The defaults (RS256, the public endpoint, 5 s per attempt, 3 retries) for `key_version`.
    pub fn new(key_version: impl Into<String>) -> Self {
        Self {
            key_version: key_version.into(),
            algorithm: SigningAlgorithm::RS256,
            endpoint: Self::DEFAULT_ENDPOINT.to_owned(),
            timeout: Self::DEFAULT_TIMEOUT,
            max_retries: Self::DEFAULT_MAX_RETRIES,
        }
    }

    /// Checks every field, naming the first bad one. [`KmsSigner::connect`] calls it.
    ///
    /// [`KmsSigner::connect`]: crate::KmsSigner::connect
    pub fn validate(&self) -> Result<()> {
        validate_key_version(&self.key_version)?;
        if self.algorithm == SigningAlgorithm::EdDSA {
            return Err(Error::invalid(
                "algorithm",
                "Cloud KMS signing supports RS256, PS256 and ES256, not EdDSA",
            ));
        }
        self.endpoint_url()?;
        if self.timeout.is_zero() {
            return Err(Error::invalid("timeout", "must be more than zero"));
        }
        Ok(())
    }

    /// The endpoint, parsed. Plain `http` is accepted only on loopback, so an access token
    /// never crosses a network in clear.
    pub(crate) fn endpoint_url(&self) -> Result<Url> {
        let bad = |reason: &str| Error::invalid("endpoint", reason.to_owned());
        let url = Url::parse(&self.endpoint).map_err(|_| bad("not a URL"))?;
        let host = url.host_str().ok_or_else(|| bad("has no host"))?;
        let ip = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host == "localhost" || ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(bad("must use https (plain http only on loopback)")),
            _ => return Err(bad("must be an https URL")),
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(bad("must not carry a query, a fragment or credentials"));
        }
        Ok(url)
    }
}

/// The six `collection/id` pairs of a key version name. Ids are checked against what Cloud KMS
/// allows, so the name is safe to put in a URL path as it is.
fn validate_key_version(name: &str) -> Result<()> {
    const COLLECTIONS: [&str; 6] = [
        "projects",
        "locations",
        "keyRings",
        "cryptoKeys",
        "cryptoKeyVersions",
        "",
    ];
    let bad = || {
        Error::invalid(
            "key_version",
            "expected projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N \
             (ids of letters, digits, '-', '_' and '.'; N a number)",
        )
    };
    let parts: Vec<&str> = name.split('/').collect();
    if parts.len() != 10 {
        return Err(bad());
    }
    for (pair, collection) in parts.chunks(2).zip(COLLECTIONS) {
        let [label, id] = pair else {
            return Err(bad());
        };
        let id_ok = !id.is_empty()
            && id.len() <= 63
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && *id != "."
            && *id != "..";
        if *label != collection || !id_ok {
            return Err(bad());
        }
    }
    let version = parts[9];
    if !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "projects/acme-prod/locations/europe-west1/keyRings/license/cryptoKeys/lease-signing/cryptoKeyVersions/1";

    fn field(result: Result<()>) -> &'static str {
        match result {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_rs256_on_the_public_endpoint() {
        let config = KmsConfig::new(NAME);
        assert_eq!(config.algorithm, SigningAlgorithm::RS256);
        assert_eq!(config.endpoint, "https://cloudkms.googleapis.com");
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.max_retries, 3);
        config.validate().unwrap();
    }

    #[test]
    fn key_version_must_be_a_full_version_name() {
        for name in [
            "",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/one",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1/extra",
            "projects/p/regions/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
            "projects/../locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
            "projects/p/locations/l/keyRings/r?x=1/cryptoKeys/k/cryptoKeyVersions/1",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k:asymmetricSign/cryptoKeyVersions/1",
            "/projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
        ] {
            let config = KmsConfig::new(name);
            assert_eq!(field(config.validate()), "key_version", "{name:?}");
        }
    }

    #[test]
    fn eddsa_is_refused() {
        let config = KmsConfig {
            algorithm: SigningAlgorithm::EdDSA,
            ..KmsConfig::new(NAME)
        };
        assert_eq!(field(config.validate()), "algorithm");
    }

    #[test]
    fn plain_http_is_accepted_on_loopback_only() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
            "https://kms.example",
        ] {
            let config = KmsConfig {
                endpoint: ok.into(),
                ..KmsConfig::new(NAME)
            };
            config.validate().unwrap();
        }
        for bad in [
            "http://cloudkms.googleapis.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "not a url",
            "https://user:pw@kms.example",
            "https://kms.example/?key=1",
        ] {
            let config = KmsConfig {
                endpoint: bad.into(),
                ..KmsConfig::new(NAME)
            };
            assert_eq!(field(config.validate()), "endpoint", "{bad:?}");
        }
    }

    #[test]
    fn zero_timeout_is_refused() {
        let config = KmsConfig {
            timeout: Duration::ZERO,
            ..KmsConfig::new(NAME)
        };
        assert_eq!(field(config.validate()), "timeout");
    }
}
