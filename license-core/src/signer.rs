//! The `Signer` port and the public-key types it publishes (JWK, JWKS).

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A JWS algorithm the server signs lease tokens with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// Ed25519 (local keys; the embedded default).
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (KMS `RSA_SIGN_PKCS1_4096_SHA256`).
    RS256,
    /// RSASSA-PSS with SHA-256 (KMS `RSA_SIGN_PSS_*_SHA256`).
    PS256,
    /// ECDSA P-256 with SHA-256, signature as raw `r‖s` (KMS `EC_SIGN_P256_SHA256`).
    ES256,
}

impl SigningAlgorithm {
    /// The JOSE name (`alg`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::EdDSA => "EdDSA",
            SigningAlgorithm::RS256 => "RS256",
            SigningAlgorithm::PS256 => "PS256",
            SigningAlgorithm::ES256 => "ES256",
        }
    }

    /// Parses a JOSE name; anything but the four above (`none`, `HS256`, …) is refused.
    ///
    /// ```
    /// use license_core::SigningAlgorithm;
    /// assert_eq!(SigningAlgorithm::parse("ES256").unwrap(), SigningAlgorithm::ES256);
    /// assert!(SigningAlgorithm::parse("none").is_err());
    /// ```
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "EdDSA" => Ok(SigningAlgorithm::EdDSA),
            "RS256" => Ok(SigningAlgorithm::RS256),
            "PS256" => Ok(SigningAlgorithm::PS256),
            "ES256" => Ok(SigningAlgorithm::ES256),
            _ => Err(Error::invalid(
                "algorithm",
                "must be one of EdDSA, RS256, PS256, ES256",
            )),
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A public key as a JWK (RFC 7517): `RSA` (`n`, `e`), `EC` (`crv`, `x`, `y`) or `OKP`
/// (`crv`, `x`). Binary members are base64url without padding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// Key type: `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// Key id, as in the token header's `kid`.
    pub kid: String,
    /// The one algorithm this key verifies; verifiers pin it.
    pub alg: SigningAlgorithm,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Curve (`P-256`, `Ed25519`) for EC and OKP keys.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub e: Option<String>,
    /// EC x coordinate, or the OKP public key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y: Option<String>,
}

/// A JWK set, as served at `/.well-known/jwks.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<PublicJwk>,
}

impl Jwks {
    /// The key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&PublicJwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// Signs lease tokens. Implementations: [`LocalSigner`](crate::LocalSigner) (a key in memory),
/// `license-signer-kms` (Cloud KMS). Small on purpose, so a delegating signer (a KMS-rooted
/// JWKS of short-lived local keys) is one more implementation.
#[async_trait]
pub trait Signer: Send + Sync + fmt::Debug {
    /// The algorithm of every signature this signer makes.
    fn algorithm(&self) -> SigningAlgorithm;

    /// The key id put in token headers.
    fn key_id(&self) -> &str;

    /// The public key, for the JWKS.
    fn public_jwk(&self) -> PublicJwk;

    /// The JWS signature of `message` (the `header.payload` signing input), in JWS form: raw
    /// `r‖s` for ES256.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;

    /// Whether the signer can sign now, for readiness probes, without spending a signature
    /// where signatures cost quota. A key in memory is always ready: the default.
    async fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl PublicJwk {
    /// The RFC 7638 thumbprint (SHA-256 of the canonical required members, base64url): a
    /// stable key id that changes exactly when the key does.
    ///
    /// ```
    /// use license_core::{LocalSigner, Signer, SigningAlgorithm};
    /// let signer = LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap();
    /// assert_eq!(signer.public_jwk().thumbprint(), signer.key_id());
    /// ```
    pub fn thumbprint(&self) -> String {
        use base64::Engine as _;
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        // Members in lexicographic order, no whitespace, as RFC 7638 §3 requires.
        let canonical = match self.kty.as_str() {
            "RSA" => serde_json::json!({"e": s(&self.e), "kty": "RSA", "n": s(&self.n)}),
            "EC" => {
                serde_json::json!({"crv": s(&self.crv), "kty": "EC", "x": s(&self.x), "y": s(&self.y)})
            }
            _ => serde_json::json!({"crv": s(&self.crv), "kty": self.kty, "x": s(&self.x)}),
        };
        // serde_json's map is a BTreeMap here (no preserve_order feature): keys come out sorted.
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.to_string().as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
    }
}
