//! [`KmsKeyWrapper`]: the `KeyWrapper` port on a Cloud KMS symmetric key (`encrypt`/`decrypt`).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use gcp_auth::TokenProvider;
use license_core::{KeyWrapper, Result};

use crate::client::KmsClient;
use crate::config::KmsWrapConfig;
use crate::crc;
use crate::errors::unavailable;
use crate::names;
use crate::rest::{DecryptRequest, EncryptRequest, Operation};

/// What [`KmsKeyWrapper::check`] encrypts and decrypts: no secret, just proof of the round trip.
const PROBE: &[u8] = b"license-signer-kms: encrypt/decrypt probe";
/// The probe's context (`additionalAuthenticatedData`).
const PROBE_CONTEXT: &[u8] = b"license-signer-kms: probe context";

/// Wraps tenant private keys with a Cloud KMS symmetric key (purpose `ENCRYPT_DECRYPT`): the
/// wrapping key never leaves KMS, and each [`wrap`](KeyWrapper::wrap) or
/// [`unwrap`](KeyWrapper::unwrap) is one `encrypt` or `decrypt` call. `context` travels as
/// `additionalAuthenticatedData`, so a ciphertext decrypts only with the context it was
/// encrypted with. The ciphertext is KMS's own: it names the key version that made it, so
/// ciphertexts made before a rotation of the key still decrypt.
///
/// Every call uses the integrity fields Google documents: the request carries the CRC32C of
/// the data and of the context; an `encrypt` reply must confirm both were verified, name a
/// version of the configured key and match `ciphertextCrc32c`; a `decrypt` reply must match
/// `plaintextCrc32c`. A failed check is a retryable [`Error::Unavailable`], never a returned
/// ciphertext or plaintext. A ciphertext KMS refuses to decrypt (another key's, another
/// context's, damaged) is [`Error::Internal`], naming the key. The service account needs
/// `roles/cloudkms.cryptoKeyEncrypterDecrypter` on the key.
///
/// ```no_run
/// use license_core::KeyWrapper;
/// use license_signer_kms::{KmsKeyWrapper, KmsWrapConfig};
///
/// # async fn run() -> license_core::Result<()> {
/// let config = KmsWrapConfig::new(
///     "projects/acme/locations/europe-west1/keyRings/license/cryptoKeys/tenant-keys",
/// );
/// let wrapper = KmsKeyWrapper::connect(config).await?; // one encrypt + decrypt round trip
/// let sealed = wrapper.wrap(b"tenant private key", b"tenant 7, key 3").await?;
/// assert_eq!(wrapper.unwrap(&sealed, b"tenant 7, key 3").await?, b"tenant private key");
/// assert!(wrapper.unwrap(&sealed, b"tenant 8, key 3").await.is_err());
/// # Ok(()) }
/// ```
///
/// [`Error::Unavailable`]: license_core::Error::Unavailable
/// [`Error::Internal`]: license_core::Error::Internal
pub struct KmsKeyWrapper {
    client: KmsClient,
    crypto_key: String,
}

impl fmt::Debug for KmsKeyWrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsKeyWrapper")
            .field("crypto_key", &self.crypto_key)
            .finish_non_exhaustive()
    }
}

impl KmsKeyWrapper {
    /// Connects with Google's default credentials, found as
    /// [`KmsSigner::connect`](crate::KmsSigner::connect) finds them. See
    /// [`connect_with`](Self::connect_with) for what is checked.
    pub async fn connect(config: KmsWrapConfig) -> Result<Self> {
        config.validate()?;
        let provider = gcp_auth::provider()
            .await
            .map_err(|e| crate::errors::auth(Operation::Encrypt, &e))?;
        Self::connect_with(config, provider).await
    }

    /// Connects with an explicit token source. Validates `config`, then proves it works with
    /// [`check`](Self::check), so a bad configuration fails at start-up rather than at the
    /// first tenant key: a key that does not exist, a missing role or a disabled key with a
    /// reason naming the key and the fix, any other refusal (a key of another purpose, say)
    /// with Cloud KMS's own message.
    pub async fn connect_with(
        config: KmsWrapConfig,
        token_provider: Arc<dyn TokenProvider>,
    ) -> Result<Self> {
        config.validate()?;
        let client = KmsClient::new(
            config.connection(),
            &config.crypto_key,
            Operation::Encrypt,
            token_provider,
        )?;
        let wrapper = Self {
            client,
            crypto_key: config.crypto_key,
        };
        wrapper.check().await?;
        tracing::info!(crypto_key = %wrapper.crypto_key, "Cloud KMS key wrapper ready");
        Ok(wrapper)
    }

    /// Encrypts and decrypts a small probe (no secret), at start-up (readiness never reaches
    /// KMS): costs one
    /// `encrypt` and one `decrypt` call. The role the wrapper needs allows both; reading the
    /// key's metadata would need another one.
    pub async fn check(&self) -> Result<()> {
        let sealed = self.encrypt_checked(PROBE, PROBE_CONTEXT).await?;
        let opened = self.decrypt_checked(&sealed, PROBE_CONTEXT).await?;
        if opened != PROBE {
            return Err(unavailable(
                Operation::Decrypt,
                format!(
                    "{} decrypted the probe to something else than was encrypted",
                    self.crypto_key
                ),
            ));
        }
        Ok(())
    }

    /// One `encrypt` call and every check on its reply.
    async fn encrypt_checked(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        let failed = |reason: &str| unavailable(Operation::Encrypt, reason);
        let request = EncryptRequest {
            plaintext: STANDARD.encode(plaintext),
            additional_authenticated_data: STANDARD.encode(context),
            plaintext_crc32c: crc::crc32c(plaintext).to_string(),
            additional_authenticated_data_crc32c: crc::crc32c(context).to_string(),
        };
        let reply = self.client.encrypt(&request).await?;
        if !reply.verified_plaintext_crc32c {
            return Err(failed(
                "the reply does not confirm the plaintext's CRC32C (verifiedPlaintextCrc32c is \
                 false): the request may have been corrupted on the way",
            ));
        }
        if !reply.verified_additional_authenticated_data_crc32c {
            return Err(failed(
                "the reply does not confirm the context's CRC32C \
                 (verifiedAdditionalAuthenticatedDataCrc32c is false): the request may have \
                 been corrupted on the way",
            ));
        }
        if !names::is_version_of(&reply.name, &self.crypto_key) {
            return Err(failed(&format!(
                "the reply names key version {:?}, which is not a version of the configured {}",
                reply.name, self.crypto_key
            )));
        }
        let ciphertext = decode(&reply.ciphertext)
            .ok_or_else(|| failed("the ciphertext is not valid base64"))?;
        if !crc::matches(&ciphertext, reply.ciphertext_crc32c) {
            return Err(failed(
                "the ciphertext does not match its CRC32C (ciphertextCrc32c): it was corrupted \
                 on the way",
            ));
        }
        Ok(ciphertext)
    }

    /// One `decrypt` call and every check on its reply.
    async fn decrypt_checked(&self, ciphertext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        let failed = |reason: &str| unavailable(Operation::Decrypt, reason);
        let request = DecryptRequest {
            ciphertext: STANDARD.encode(ciphertext),
            additional_authenticated_data: STANDARD.encode(context),
            ciphertext_crc32c: crc::crc32c(ciphertext).to_string(),
            additional_authenticated_data_crc32c: crc::crc32c(context).to_string(),
        };
        let reply = self.client.decrypt(&request).await?;
        let plaintext =
            decode(&reply.plaintext).ok_or_else(|| failed("the plaintext is not valid base64"))?;
        if !crc::matches(&plaintext, reply.plaintext_crc32c) {
            return Err(failed(
                "the plaintext does not match its CRC32C (plaintextCrc32c): it was corrupted \
                 on the way",
            ));
        }
        Ok(plaintext)
    }
}

/// proto3 `bytes`: standard base64 (URL-safe accepted too, as proto3 JSON parsers do).
fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .ok()
}

#[async_trait]
impl KeyWrapper for KmsKeyWrapper {
    /// The crypto key's name: `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
    fn id(&self) -> &str {
        &self.crypto_key
    }

    #[tracing::instrument(name = "kms_wrap", skip_all, fields(crypto_key = %self.crypto_key))]
    async fn wrap(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        self.encrypt_checked(plaintext, context).await
    }

    #[tracing::instrument(name = "kms_unwrap", skip_all, fields(crypto_key = %self.crypto_key))]
    async fn unwrap(&self, ciphertext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        self.decrypt_checked(ciphertext, context).await
    }
}
