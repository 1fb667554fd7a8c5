//! A [`Signer`] holding its private key in memory, on aws-lc-rs: the embedded default, tests and
//! air-gapped installs. Keys are kept and exchanged as PKCS#8 DER.

use std::fmt;

use async_trait::async_trait;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RSA_PSS_SHA256, RsaKeyPair,
};

use crate::error::{Dependency, Error, Result};
use crate::signer::{PublicJwk, Signer, SigningAlgorithm};

enum KeyMaterial {
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
}

/// A signing key in memory.
///
/// ```
/// use license_core::{LocalSigner, Signer, SigningAlgorithm};
/// let signer = LocalSigner::generate(SigningAlgorithm::ES256).unwrap();
/// let again = LocalSigner::from_pkcs8(SigningAlgorithm::ES256, &signer.to_pkcs8()).unwrap();
/// assert_eq!(signer.key_id(), again.key_id());
/// ```
pub struct LocalSigner {
    algorithm: SigningAlgorithm,
    key: KeyMaterial,
    pkcs8: Vec<u8>,
    jwk: PublicJwk,
    rng: SystemRandom,
}

impl fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSigner")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.jwk.kid)
            .finish_non_exhaustive()
    }
}

fn key_error(what: &str) -> Error {
    Error::invalid("signing_key", what.to_owned())
}

impl LocalSigner {
    /// RSA modulus size for generated RS256/PS256 keys.
    pub const RSA_BITS: usize = 3072;

    /// A fresh key for `algorithm` (Ed25519, RSA-3072 or P-256).
    pub fn generate(algorithm: SigningAlgorithm) -> Result<Self> {
        let failed = |_| Error::Internal("key generation failed".into());
        let pkcs8 = match algorithm {
            SigningAlgorithm::EdDSA => Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            SigningAlgorithm::RS256 | SigningAlgorithm::PS256 => {
                let key = RsaKeyPair::generate(KeySize::Rsa3072).map_err(failed)?;
                let der: aws_lc_rs::encoding::Pkcs8V1Der<'_> = key.as_der().map_err(failed)?;
                der.as_ref().to_vec()
            }
            SigningAlgorithm::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
        };
        Self::from_pkcs8(algorithm, &pkcs8)
    }

    /// Loads a PKCS#8 DER private key for `algorithm`.
    pub fn from_pkcs8(algorithm: SigningAlgorithm, pkcs8: &[u8]) -> Result<Self> {
        let (key, jwk) = match algorithm {
            SigningAlgorithm::EdDSA => {
                let key = Ed25519KeyPair::from_pkcs8(pkcs8)
                    .map_err(|_| key_error("not an Ed25519 PKCS#8 key"))?;
                let x =
                    key.public_key().as_ref().try_into().map_err(|_| {
                        Error::Internal("an Ed25519 public key is not 32 bytes".into())
                    })?;
                let jwk = PublicJwk::ed25519(x);
                (KeyMaterial::Ed25519(key), jwk)
            }
            SigningAlgorithm::RS256 | SigningAlgorithm::PS256 => {
                let key = RsaKeyPair::from_pkcs8(pkcs8)
                    .map_err(|_| key_error("not an RSA PKCS#8 key"))?;
                if key.public_modulus_len() < 256 {
                    return Err(key_error("RSA keys must have at least 2048 bits"));
                }
                let public = key.public_key();
                let jwk = PublicJwk::rsa(
                    algorithm,
                    public.modulus().big_endian_without_leading_zero(),
                    public.exponent().big_endian_without_leading_zero(),
                );
                (KeyMaterial::Rsa(key), jwk)
            }
            SigningAlgorithm::ES256 => {
                let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|_| key_error("not a P-256 PKCS#8 key"))?;
                // Uncompressed point: 0x04 ‖ x ‖ y.
                let point = key.public_key().as_ref();
                let Some((&[x, y], [])) = point.get(1..).map(<[u8]>::as_chunks) else {
                    return Err(Error::Internal(
                        "a P-256 public key is not an uncompressed point".into(),
                    ));
                };
                let jwk = PublicJwk::ec_p256(&x, &y);
                (KeyMaterial::P256(key), jwk)
            }
        };
        Ok(Self {
            algorithm,
            key,
            pkcs8: pkcs8.to_vec(),
            jwk,
            rng: SystemRandom::new(),
        })
    }

    /// The private key as PKCS#8 DER, to persist it. Handle as a secret.
    pub fn to_pkcs8(&self) -> Vec<u8> {
        self.pkcs8.clone()
    }

    fn sign_now(&self, message: &[u8]) -> Result<Vec<u8>> {
        let failed = |_| Error::unavailable(Dependency::Signer, "local signing failed");
        match &self.key {
            KeyMaterial::Ed25519(key) => Ok(key.sign(message).as_ref().to_vec()),
            KeyMaterial::P256(key) => Ok(key
                .sign(&self.rng, message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
            KeyMaterial::Rsa(key) => {
                let padding = if self.algorithm == SigningAlgorithm::PS256 {
                    &RSA_PSS_SHA256
                } else {
                    &RSA_PKCS1_SHA256
                };
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(padding, &self.rng, message, &mut signature)
                    .map_err(failed)?;
                Ok(signature)
            }
        }
    }
}

#[async_trait]
impl Signer for LocalSigner {
    fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    fn key_id(&self) -> &str {
        &self.jwk.kid
    }

    fn public_jwk(&self) -> PublicJwk {
        self.jwk.clone()
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.sign_now(message)
    }
}
