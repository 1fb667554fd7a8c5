//! The [`KeyWrapper`] port: how tenant private keys are protected at rest, and
//! [`LocalKeyWrapper`], AES-256-GCM under a key derived from the local root.

use std::fmt;

use async_trait::async_trait;

use crate::error::Result;

/// Encrypts tenant private keys before they reach the store and decrypts them when a replica
/// loads them. Implementations: [`LocalKeyWrapper`] (embedded default, air-gapped installs)
/// and `license-signer-kms`'s Cloud KMS wrapper (`encrypt`/`decrypt` on a symmetric key).
///
/// `context` is authenticated but not stored in the output: a ciphertext unwraps only with
/// the context it was wrapped with (the tenant and key id), so a row copied to another tenant
/// does not decrypt.
#[async_trait]
pub trait KeyWrapper: Send + Sync + fmt::Debug {
    /// Names the wrapping key. Stored with each wrapped key, so a replica knows whether it can
    /// unwrap it (a key wrapped under another root is replaced, never tried).
    fn id(&self) -> &str;

    /// Encrypts `plaintext`, bound to `context`.
    async fn wrap(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>>;

    /// Decrypts what [`wrap`](Self::wrap) returned for the same `context`. A ciphertext that
    /// does not authenticate is [`Error::Internal`](crate::Error::Internal); a wrapping
    /// service that does not answer is [`Error::Unavailable`](crate::Error::Unavailable).
    async fn unwrap(&self, ciphertext: &[u8], context: &[u8]) -> Result<Vec<u8>>;
}

/// AES-256-GCM with a key derived (HKDF-SHA256) from a secret: the local root's private key
/// on the embedded default, so the data directory holds one secret, not two. Output is
/// `nonce (12 bytes) ‖ ciphertext ‖ tag`, with a random nonce per call.
///
/// ```
/// # futures::executor::block_on(async {
/// use license_core::{KeyWrapper, LocalKeyWrapper, LocalSigner, SigningAlgorithm};
///
/// let root = LocalSigner::generate(SigningAlgorithm::EdDSA)?;
/// let wrapper = LocalKeyWrapper::for_root(&root)?;
/// let sealed = wrapper.wrap(b"tenant private key", b"tenant 1").await?;
/// assert_eq!(wrapper.unwrap(&sealed, b"tenant 1").await?, b"tenant private key");
/// assert!(wrapper.unwrap(&sealed, b"tenant 2").await.is_err());
/// // The same root derives the same wrapping key after a restart.
/// let again = LocalKeyWrapper::for_root(&LocalSigner::from_pkcs8(SigningAlgorithm::EdDSA, &root.to_pkcs8())?)?;
/// assert_eq!(again.unwrap(&sealed, b"tenant 1").await?, b"tenant private key");
/// # Ok::<(), license_core::Error>(()) }).unwrap();
/// ```
pub struct LocalKeyWrapper {
    id: String,
    key: aws_lc_rs::aead::LessSafeKey,
    rng: aws_lc_rs::rand::SystemRandom,
}

impl fmt::Debug for LocalKeyWrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKeyWrapper")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Domain separation for the derived key: a change of scheme changes the key.
const HKDF_INFO: &[u8] = b"license-server tenant-key wrap v1";
const NONCE_LEN: usize = 12;

impl LocalKeyWrapper {
    /// The wrapper derived from a local root key; its id names the root's `kid`.
    pub fn for_root(root: &crate::LocalSigner) -> Result<Self> {
        use crate::Signer as _;
        Self::from_secret(format!("local:{}", root.key_id()), &root.to_pkcs8())
    }

    /// A wrapper whose key lives only in this process: for tests and an in-memory store,
    /// whose wrapped keys die with it anyway.
    pub fn ephemeral() -> Result<Self> {
        let secret: [u8; 32] = crate::random::bytes()?;
        let id = format!("ephemeral:{}", hex(&secret[..8]));
        Self::from_secret(id, &secret)
    }

    /// A wrapper named `id` with a key derived from `secret` (high-entropy key material).
    pub fn from_secret(id: impl Into<String>, secret: &[u8]) -> Result<Self> {
        use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
        use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
        let prk = Salt::new(HKDF_SHA256, &[]).extract(secret);
        let key = prk
            .expand(&[HKDF_INFO], &AES_256_GCM)
            .map(UnboundKey::from)
            .map(LessSafeKey::new)
            .map_err(|_| crate::Error::Internal("deriving the key-wrapping key failed".into()))?;
        Ok(Self {
            id: id.into(),
            key,
            rng: aws_lc_rs::rand::SystemRandom::new(),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl KeyWrapper for LocalKeyWrapper {
    fn id(&self) -> &str {
        &self.id
    }

    async fn wrap(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        use aws_lc_rs::aead::{Aad, Nonce};
        use aws_lc_rs::rand::SecureRandom as _;
        let failed = |_| crate::Error::Internal("local key wrapping failed".into());
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(failed)?;
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut sealed,
            )
            .map_err(failed)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    async fn unwrap(&self, ciphertext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        use aws_lc_rs::aead::{Aad, Nonce};
        let refused = || {
            crate::Error::Internal(format!(
                "a wrapped tenant key does not authenticate under {}",
                self.id
            ))
        };
        let (nonce, sealed) = ciphertext
            .split_first_chunk::<NONCE_LEN>()
            .ok_or_else(refused)?;
        let mut buffer = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(context),
                &mut buffer,
            )
            .map_err(|_| refused())?;
        Ok(plain.to_vec())
    }
}
