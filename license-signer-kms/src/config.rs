//! Which key to use (a key version to sign with, a crypto key to wrap with), where Cloud KMS
//! is, and how patient to be with it. The last three are shared: [`Connection`].

use std::net::IpAddr;
use std::time::Duration;

use license_core::{Error, Result, SigningAlgorithm};
use reqwest::Url;

use crate::names;

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
        names::validate_key_version(&self.key_version)?;
        if self.algorithm == SigningAlgorithm::EdDSA {
            return Err(Error::invalid(
                "algorithm",
                "Cloud KMS signing supports RS256, PS256 and ES256, not EdDSA",
            ));
        }
        self.connection().validate()
    }

    /// Endpoint, timeout and retries.
    pub(crate) fn connection(&self) -> Connection<'_> {
        Connection {
            endpoint: &self.endpoint,
            timeout: self.timeout,
            max_retries: self.max_retries,
        }
    }
}

/// How to reach the Cloud KMS symmetric key (purpose `ENCRYPT_DECRYPT`) that wraps tenant
/// private keys. The endpoint, timeout and retries mean what they mean in [`KmsConfig`], with
/// the same defaults.
///
/// ```
/// use license_signer_kms::KmsWrapConfig;
/// let config = KmsWrapConfig::new("projects/p/locations/europe-west1/keyRings/lic/cryptoKeys/tenant-keys");
/// assert!(config.validate().is_ok());
/// // A key version is refused: KMS encrypts with the key's primary version.
/// let version = KmsWrapConfig::new("projects/p/locations/europe-west1/keyRings/lic/cryptoKeys/tenant-keys/cryptoKeyVersions/1");
/// assert!(version.validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsWrapConfig {
    /// The full resource name of the crypto key, without a version:
    /// `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
    pub crypto_key: String,
    /// The Cloud KMS REST endpoint; `https://`, or `http://` on loopback only (tests, emulators).
    pub endpoint: String,
    /// Time limit of one HTTP attempt, and of fetching an access token.
    pub timeout: Duration,
    /// Retries after the first attempt, on 429, 503, 504 and connection errors only.
    pub max_retries: u32,
}

impl KmsWrapConfig {
    /// The defaults of [`KmsConfig`] (the public endpoint, 5 s per attempt, 3 retries) for
    /// `crypto_key`.
    pub fn new(crypto_key: impl Into<String>) -> Self {
        Self {
            crypto_key: crypto_key.into(),
            endpoint: KmsConfig::DEFAULT_ENDPOINT.to_owned(),
            timeout: KmsConfig::DEFAULT_TIMEOUT,
            max_retries: KmsConfig::DEFAULT_MAX_RETRIES,
        }
    }

    /// Checks every field, naming the first bad one. [`KmsKeyWrapper::connect`] calls it.
    ///
    /// [`KmsKeyWrapper::connect`]: crate::KmsKeyWrapper::connect
    pub fn validate(&self) -> Result<()> {
        names::validate_crypto_key(&self.crypto_key)?;
        self.connection().validate()
    }

    /// Endpoint, timeout and retries.
    pub(crate) fn connection(&self) -> Connection<'_> {
        Connection {
            endpoint: &self.endpoint,
            timeout: self.timeout,
            max_retries: self.max_retries,
        }
    }
}

/// The settings both configurations share: where Cloud KMS is and how patient to be with it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Connection<'a> {
    pub(crate) endpoint: &'a str,
    pub(crate) timeout: Duration,
    pub(crate) max_retries: u32,
}

impl Connection<'_> {
    fn validate(&self) -> Result<()> {
        self.endpoint_url()?;
        if self.timeout.is_zero() {
            return Err(Error::invalid("timeout", "must be more than zero"));
        }
        Ok(())
    }

    /// The endpoint, parsed. Plain `http` is accepted only on loopback, so an access token
    /// never crosses a network in clear.
    fn endpoint_url(&self) -> Result<Url> {
        let bad = |reason: &str| Error::invalid("endpoint", reason.to_owned());
        let url = Url::parse(self.endpoint).map_err(|_| bad("not a URL"))?;
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
    fn the_wrap_config_has_the_same_defaults_and_checks() {
        let key =
            "projects/acme-prod/locations/europe-west1/keyRings/license/cryptoKeys/tenant-keys";
        let config = KmsWrapConfig::new(key);
        assert_eq!(config.endpoint, KmsConfig::DEFAULT_ENDPOINT);
        assert_eq!(config.timeout, KmsConfig::DEFAULT_TIMEOUT);
        assert_eq!(config.max_retries, KmsConfig::DEFAULT_MAX_RETRIES);
        config.validate().unwrap();
        assert_eq!(field(KmsWrapConfig::new(NAME).validate()), "crypto_key");
        let plain_http = KmsWrapConfig {
            endpoint: "http://10.0.0.1".into(),
            ..KmsWrapConfig::new(key)
        };
        assert_eq!(field(plain_http.validate()), "endpoint");
        let no_time = KmsWrapConfig {
            timeout: Duration::ZERO,
            ..KmsWrapConfig::new(key)
        };
        assert_eq!(field(no_time.validate()), "timeout");
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
