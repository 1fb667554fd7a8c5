//! [`KmsSigner`]: the `Signer` port on a Cloud KMS key version.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use gcp_auth::TokenProvider;
use license_core::{Error, PublicJwk, Result, Signer, SigningAlgorithm};

use crate::algorithm;
use crate::client::KmsClient;
use crate::config::KmsConfig;
use crate::crc;
use crate::der::es256_from_der;
use crate::errors::unavailable;
use crate::jwk::PublicKey;
use crate::rest::{AsymmetricSignRequest, Digest, Operation};

/// Signs lease tokens with a Cloud KMS key version. The private key never leaves KMS; the
/// public key is fetched once, at [`connect`](Self::connect), and served from memory.
///
/// Every signature is checked before it is returned: the digest's CRC32C was verified by KMS,
/// the reply names the configured key version, the signature matches its CRC32C, and it
/// verifies with the cached public key. A failed check is a retryable
/// [`Error::Unavailable`], never a returned signature.
pub struct KmsSigner {
    client: KmsClient,
    algorithm: SigningAlgorithm,
    key_version: String,
    public: PublicKey,
}

impl fmt::Debug for KmsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsSigner")
            .field("key_version", &self.key_version)
            .field("algorithm", &self.algorithm)
            .field("kid", &self.public.jwk.kid)
            .finish_non_exhaustive()
    }
}

impl KmsSigner {
    /// Connects with Google's default credentials, found by gcp_auth in this order: the
    /// service-account file named by `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's
    /// application-default credentials, the metadata server (GCE, GKE Workload Identity, Cloud
    /// Run), the `gcloud` CLI. See [`connect_with`](Self::connect_with) for what is checked.
    pub async fn connect(config: KmsConfig) -> Result<Self> {
        config.validate()?;
        let provider = gcp_auth::provider()
            .await
            .map_err(|e| crate::errors::auth(Operation::GetPublicKey, &e))?;
        Self::connect_with(config, provider).await
    }

    /// Connects with an explicit token source. Validates `config`, fetches the public key
    /// (checking its CRC32C and key version name) and refuses a key whose Cloud KMS algorithm
    /// is not the configured one, naming both.
    pub async fn connect_with(
        config: KmsConfig,
        token_provider: Arc<dyn TokenProvider>,
    ) -> Result<Self> {
        config.validate()?;
        let client = KmsClient::new(
            config.connection(),
            &config.key_version,
            Operation::GetPublicKey,
            token_provider,
        )?;
        let public = fetch_public_key(&client, &config.key_version, config.algorithm).await?;
        tracing::info!(
            key_version = %config.key_version,
            algorithm = %config.algorithm,
            kid = %public.jwk.kid,
            "Cloud KMS signer ready"
        );
        Ok(Self {
            client,
            algorithm: config.algorithm,
            key_version: config.key_version,
            public,
        })
    }

    /// The key version this signer uses.
    pub fn key_version(&self) -> &str {
        &self.key_version
    }

    /// Fetches the public key again and checks it is still the cached one, for diagnostics:
    /// costs one `getPublicKey` call, no signing quota. Readiness does not call it: no probe
    /// reaches KMS (ADR 0019).
    pub async fn check(&self) -> Result<()> {
        let fresh = fetch_public_key(&self.client, &self.key_version, self.algorithm).await?;
        if fresh.jwk != self.public.jwk {
            return Err(unavailable(
                Operation::GetPublicKey,
                format!(
                    "the public key of {} changed since start-up (kid {} is now {}): restart \
                     to publish the new key",
                    self.key_version, self.public.jwk.kid, fresh.jwk.kid
                ),
            ));
        }
        Ok(())
    }

    /// One `asymmetricSign` call and every check on its reply.
    async fn sign_checked(&self, message: &[u8]) -> Result<Vec<u8>> {
        let failed = |reason: &str| unavailable(Operation::AsymmetricSign, reason);
        let digest = digest(&SHA256, message);
        let request = AsymmetricSignRequest {
            digest: Digest {
                sha256: STANDARD.encode(digest.as_ref()),
            },
            digest_crc32c: crc::crc32c(digest.as_ref()).to_string(),
        };
        let reply = self.client.sign(&request).await?;
        if !reply.verified_digest_crc32c {
            return Err(failed(
                "the reply does not confirm the digest's CRC32C (verifiedDigestCrc32c is \
                 false): the request may have been corrupted on the way",
            ));
        }
        if reply.name != self.key_version {
            return Err(failed(&format!(
                "the reply names key version {:?}, not the configured one",
                reply.name
            )));
        }
        let signature = STANDARD
            .decode(&reply.signature)
            .or_else(|_| URL_SAFE.decode(&reply.signature))
            .map_err(|_| failed("the signature is not valid base64"))?;
        if !crc::matches(&signature, reply.signature_crc32c) {
            return Err(failed(
                "the signature does not match its CRC32C (signatureCrc32c): it was corrupted \
                 on the way",
            ));
        }
        let signature = match self.algorithm {
            SigningAlgorithm::ES256 => es256_from_der(&signature)
                .map_err(|e| {
                    failed(&format!(
                        "the ECDSA signature is not a P-256 DER signature: {e}"
                    ))
                })?
                .to_vec(),
            _ => signature,
        };
        self.public
            .verifier
            .verify_sig(message, &signature)
            .map_err(|_| {
                failed("the signature does not verify with the key version's public key")
            })?;
        Ok(signature)
    }
}

/// `getPublicKey`, checked: CRC32C of the PEM, the key version's name, the algorithm.
async fn fetch_public_key(
    client: &KmsClient,
    key_version: &str,
    algorithm: SigningAlgorithm,
) -> Result<PublicKey> {
    let failed = |reason: String| unavailable(Operation::GetPublicKey, reason);
    let reply = client.public_key().await?;
    if !crc::matches(reply.pem.as_bytes(), reply.pem_crc32c) {
        return Err(failed(
            "the public key does not match its CRC32C (pemCrc32c): it was corrupted on the way"
                .to_owned(),
        ));
    }
    if reply.name != key_version {
        return Err(failed(format!(
            "the reply names key version {:?}, not the configured {key_version}",
            reply.name
        )));
    }
    if !algorithm::kms_algorithms(algorithm).contains(&reply.algorithm.as_str()) {
        return Err(Error::invalid(
            "algorithm",
            algorithm::mismatch(algorithm, &reply.algorithm),
        ));
    }
    PublicKey::from_pem(&reply.pem, algorithm).map_err(failed)
}

#[async_trait]
impl Signer for KmsSigner {
    fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    fn key_id(&self) -> &str {
        &self.public.jwk.kid
    }

    fn public_jwk(&self) -> PublicJwk {
        self.public.jwk.clone()
    }

    #[tracing::instrument(name = "kms_sign", skip_all, fields(kid = %self.public.jwk.kid))]
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.sign_checked(message).await
    }
}
