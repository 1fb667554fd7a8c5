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
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
        let b64 = |bytes: &[u8]| Some(URL_SAFE_NO_PAD.encode(bytes));
        let (key, mut jwk) = match algorithm {
            SigningAlgorithm::EdDSA => {
                let key = Ed25519KeyPair::from_pkcs8(pkcs8)
                    .map_err(|_| key_error("not an Ed25519 PKCS#8 key"))?;
                let jwk = jwk_template("OKP", algorithm, Some("Ed25519"));
                let x = b64(key.public_key().as_ref());
                (KeyMaterial::Ed25519(key), PublicJwk { x, ..jwk })
            }
            SigningAlgorithm::RS256 | SigningAlgorithm::PS256 => {
                let key = RsaKeyPair::from_pkcs8(pkcs8)
                    .map_err(|_| key_error("not an RSA PKCS#8 key"))?;
                if key.public_modulus_len() < 256 {
                    return Err(key_error("RSA keys must have at least 2048 bits"));
                }
                let public = key.public_key();
                let jwk = PublicJwk {
                    n: b64(public.modulus().big_endian_without_leading_zero()),
                    e: b64(public.exponent().big_endian_without_leading_zero()),
                    ..jwk_template("RSA", algorithm, None)
                };
                (KeyMaterial::Rsa(key), jwk)
            }
            SigningAlgorithm::ES256 => {
                let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|_| key_error("not a P-256 PKCS#8 key"))?;
                // Uncompressed point: 0x04 ‖ x ‖ y.
                let point = key.public_key().as_ref();
                let jwk = PublicJwk {
                    x: b64(&point[1..33]),
                    y: b64(&point[33..65]),
                    ..jwk_template("EC", algorithm, Some("P-256"))
                };
                (KeyMaterial::P256(key), jwk)
            }
        };
        jwk.kid = jwk.thumbprint();
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

fn jwk_template(kty: &str, alg: SigningAlgorithm, crv: Option<&str>) -> PublicJwk {
    PublicJwk {
        kty: kty.to_owned(),
        kid: String::new(),
        alg,
        use_: "sig".to_owned(),
        crv: crv.map(str::to_owned),
        n: None,
        e: None,
        x: None,
        y: None,
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
