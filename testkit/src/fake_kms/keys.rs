//! The fake's key material: asymmetric signing keys ([`TestKey`]) and symmetric
//! `ENCRYPT_DECRYPT` keys with versions (`WrapKey`), all real keys made by aws-lc-rs.

use std::sync::{Arc, LazyLock};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{Digest, SHA256};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
    RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// RSA keys are slow to make: one of each size per test binary.
static RSA_4096: LazyLock<Arc<RsaKeyPair>> = LazyLock::new(|| rsa_key(KeySize::Rsa4096));
static RSA_3072: LazyLock<Arc<RsaKeyPair>> = LazyLock::new(|| rsa_key(KeySize::Rsa3072));
static RSA_2048: LazyLock<Arc<RsaKeyPair>> = LazyLock::new(|| rsa_key(KeySize::Rsa2048));

fn rsa_key(size: KeySize) -> Arc<RsaKeyPair> {
    Arc::new(
        RsaKeyPair::generate(size).unwrap_or_else(|e| panic!("generating an RSA test key: {e}")),
    )
}

/// Random bytes from the OS (a test fixture: a failure is a panic naming it).
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0_u8; N];
    aws_lc_rs::rand::fill(&mut bytes).unwrap_or_else(|e| panic!("no random bytes: {e}"));
    bytes
}

enum Material {
    Rsa(Arc<RsaKeyPair>),
    P256(EcdsaKeyPair),
}

/// An asymmetric signing key: its material and the Cloud KMS algorithm it announces.
pub struct TestKey {
    material: Material,
    pub(super) kms_algorithm: &'static str,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("kms_algorithm", &self.kms_algorithm)
            .finish_non_exhaustive()
    }
}

impl TestKey {
    /// `RSA_SIGN_PKCS1_4096_SHA256`, the default.
    pub fn rsa_pkcs1_4096() -> Self {
        Self::rsa(&RSA_4096, "RSA_SIGN_PKCS1_4096_SHA256")
    }

    /// `RSA_SIGN_PSS_<bits>_SHA256`.
    ///
    /// # Panics
    /// For a size other than 2048, 3072 or 4096.
    pub fn rsa_pss(bits: u32) -> Self {
        match bits {
            2048 => Self::rsa(&RSA_2048, "RSA_SIGN_PSS_2048_SHA256"),
            3072 => Self::rsa(&RSA_3072, "RSA_SIGN_PSS_3072_SHA256"),
            4096 => Self::rsa(&RSA_4096, "RSA_SIGN_PSS_4096_SHA256"),
            _ => panic!("no {bits}-bit test key"),
        }
    }

    /// `EC_SIGN_P256_SHA256`, a fresh key each time.
    pub fn p256() -> Self {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
            .unwrap_or_else(|e| panic!("generating a P-256 test key: {e}"));
        Self {
            material: Material::P256(key),
            kms_algorithm: "EC_SIGN_P256_SHA256",
        }
    }

    fn rsa(key: &Arc<RsaKeyPair>, kms_algorithm: &'static str) -> Self {
        Self {
            material: Material::Rsa(Arc::clone(key)),
            kms_algorithm,
        }
    }

    /// Another key of the same kind and algorithm (a different RSA size for RSA): what a
    /// signature by the wrong key looks like.
    pub(super) fn other(&self) -> Self {
        match &self.material {
            Material::Rsa(key) if key.public_modulus_len() == 512 => {
                Self::rsa(&RSA_2048, self.kms_algorithm)
            }
            Material::Rsa(_) => Self::rsa(&RSA_4096, self.kms_algorithm),
            Material::P256(_) => Self::p256(),
        }
    }

    /// The public key as Cloud KMS returns it: PEM `SubjectPublicKeyInfo`, 64-column base64.
    pub fn pem(&self) -> String {
        let der = match &self.material {
            Material::Rsa(key) => key.public_key().as_der().map(|d| d.as_ref().to_vec()),
            Material::P256(key) => key.public_key().as_der().map(|d| d.as_ref().to_vec()),
        }
        .unwrap_or_else(|e| panic!("encoding a test public key: {e}"));
        let b64 = STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// Signs a SHA-256 digest the way KMS does: PKCS#1 v1.5 or PSS, or DER ECDSA.
    pub(super) fn sign_digest(&self, digest: &[u8]) -> Result<Vec<u8>, String> {
        let digest = Digest::import_less_safe(digest, &SHA256).map_err(|e| e.to_string())?;
        match &self.material {
            Material::Rsa(key) => {
                let padding = if self.kms_algorithm.starts_with("RSA_SIGN_PSS") {
                    &RSA_PSS_SHA256
                } else {
                    &RSA_PKCS1_SHA256
                };
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign_digest(padding, &digest, &mut signature)
                    .map_err(|e| e.to_string())?;
                Ok(signature)
            }
            Material::P256(key) => key
                .sign_digest(&digest)
                .map(|s| s.as_ref().to_vec())
                .map_err(|e| e.to_string()),
        }
    }
}

/// A symmetric `ENCRYPT_DECRYPT` crypto key: AES-256-GCM key versions, the last one primary.
/// Its ciphertext is `version (4 bytes, big-endian) ‖ nonce (12) ‖ sealed data ‖ tag`, opaque
/// to clients, so a ciphertext decrypts after a rotation, as on Cloud KMS.
pub(super) struct WrapKey {
    pub(super) name: &'static str,
    versions: Vec<LessSafeKey>,
}

impl WrapKey {
    /// The key `name` with one fresh version.
    pub(super) fn generate(name: &'static str) -> Self {
        let mut key = Self {
            name,
            versions: Vec::new(),
        };
        key.rotate();
        key
    }

    /// Adds a fresh version and makes it primary.
    pub(super) fn rotate(&mut self) {
        let unbound = UnboundKey::new(&AES_256_GCM, &random::<32>())
            .unwrap_or_else(|e| panic!("making an AES-256 test key: {e}"));
        self.versions.push(LessSafeKey::new(unbound));
    }

    /// The primary version's number (from 1).
    fn primary(&self) -> u32 {
        u32::try_from(self.versions.len()).unwrap_or(u32::MAX)
    }

    /// The primary version's name, as `encrypt` returns it.
    pub(super) fn primary_name(&self) -> String {
        format!("{}/cryptoKeyVersions/{}", self.name, self.primary())
    }

    /// Encrypts with the primary version, bound to `aad`.
    pub(super) fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, String> {
        let version = self.primary();
        let key = self.versions.last().ok_or("the key has no version")?;
        let nonce = random::<NONCE_LEN>();
        let mut sealed = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut sealed,
        )
        .map_err(|e| e.to_string())?;
        Ok([&version.to_be_bytes()[..], &nonce, &sealed].concat())
    }

    /// The plaintext and whether the primary version decrypted it, if `ciphertext` is one of
    /// this key's, unaltered, and `aad` is the one it was encrypted with.
    pub(super) fn decrypt(&self, ciphertext: &[u8], aad: &[u8]) -> Option<(Vec<u8>, bool)> {
        let (version, rest) = ciphertext.split_first_chunk::<4>()?;
        let version = u32::from_be_bytes(*version);
        let key = self
            .versions
            .get(usize::try_from(version).ok()?.checked_sub(1)?)?;
        let (nonce, sealed) = rest.split_first_chunk::<NONCE_LEN>()?;
        let mut buffer = sealed.to_vec();
        let plaintext = key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                &mut buffer,
            )
            .ok()?;
        Some((plaintext.to_vec(), version == self.primary()))
    }
}
