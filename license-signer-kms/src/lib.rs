//! The [`Signer`](license_core::Signer) port on Google Cloud KMS: lease tokens are signed by a
//! Cloud KMS key version (RS256, PS256 or ES256) whose private key never leaves KMS. And the
//! [`KeyWrapper`](license_core::KeyWrapper) port: [`KmsKeyWrapper`] encrypts tenant private
//! keys at rest with a Cloud KMS symmetric key.
//!
//! It calls the Cloud KMS v1 REST API with reqwest (rustls): the signer calls
//! `cryptoKeyVersions.getPublicKey` once at start-up, to publish the key in the JWKS with its
//! RFC 7638 thumbprint as `kid`, and `cryptoKeyVersions.asymmetricSign` per token; the wrapper
//! calls `cryptoKeys.encrypt` and `cryptoKeys.decrypt`, with the wrapped key's context as
//! additional authenticated data. Both send and check every integrity field Google asks
//! clients to, and share one HTTP client, retry policy and error mapping. Access tokens come
//! from gcp_auth: Workload Identity / the metadata server, a service-account file
//! (`GOOGLE_APPLICATION_CREDENTIALS`), or gcloud's credentials. Failures are
//! [`license_core::Error::Unavailable`] with the signer named and a reason an operator can act
//! on (a ciphertext KMS refuses to decrypt is `Internal`); see `docs/kms.md` for setting the
//! keys up.
//!
//! ```no_run
//! use license_core::{KeyWrapper, Signer, SigningAlgorithm};
//! use license_signer_kms::{KmsConfig, KmsKeyWrapper, KmsSigner, KmsWrapConfig};
//!
//! # async fn run() -> license_core::Result<()> {
//! let config = KmsConfig {
//!     algorithm: SigningAlgorithm::RS256,
//!     ..KmsConfig::new(
//!         "projects/acme/locations/europe-west1/keyRings/license/cryptoKeys/lease/cryptoKeyVersions/1",
//!     )
//! };
//! let signer = KmsSigner::connect(config).await?;
//! println!("publishing kid {}", signer.key_id());
//! let signature = signer.sign(b"header.payload").await?;
//! assert_eq!(signature.len(), 512); // RSA-4096
//!
//! let wrapper = KmsKeyWrapper::connect(KmsWrapConfig::new(
//!     "projects/acme/locations/europe-west1/keyRings/license/cryptoKeys/tenant-keys",
//! ))
//! .await?;
//! let sealed = wrapper.wrap(b"tenant private key (PKCS#8)", b"tenant 7").await?;
//! assert_eq!(wrapper.unwrap(&sealed, b"tenant 7").await?, b"tenant private key (PKCS#8)");
//! # Ok(()) }
//! ```

/// Cloud KMS algorithm names and the JWS algorithm each one signs.
mod algorithm;
/// The HTTP client: bearer tokens, time limits, retries.
mod client;
/// `KmsConfig` and `KmsWrapConfig`: which key, endpoint, timeout, retries.
mod config;
/// CRC32C integrity fields.
mod crc;
/// ECDSA signatures from DER to JWS's fixed-width `r‖s`.
mod der;
/// Failures mapped to `license_core::Error`.
mod errors;
/// The public key: PEM to JWK, and a parsed key to check signatures.
mod jwk;
/// Key version and crypto key names, checked.
mod names;
/// Request and reply JSON of the four REST methods, and their URLs.
mod rest;
/// Retry policy: what is retried, and jittered exponential back-off.
mod retry;
/// `KmsSigner`, the `Signer` implementation.
mod signer;
/// `KmsKeyWrapper`, the `KeyWrapper` implementation.
mod wrap;

pub use config::{KmsConfig, KmsWrapConfig};
pub use signer::KmsSigner;
pub use wrap::KmsKeyWrapper;
