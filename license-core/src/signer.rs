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
}

/// The one place a `PublicJwk` is built from key material, so every signer publishes the same
/// members and the same `kid`: the RFC 7638 thumbprint.
impl PublicJwk {
    /// An RSA key for `alg` (RS256 or PS256) from its modulus `n` and public exponent `e`,
    /// big-endian; leading zero bytes are dropped, as RFC 7518 §6.3.1 requires.
    ///
    /// ```
    /// use base64::Engine as _;
    /// use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    /// use license_core::{PublicJwk, SigningAlgorithm};
    ///
    /// // The example key of RFC 7638 §3.1, and the thumbprint the RFC gives for it.
    /// let n = URL_SAFE_NO_PAD.decode(
    ///     "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B\
    ///      JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F\
    ///      DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4\
    ///      vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    /// )?;
    /// let jwk = PublicJwk::rsa(SigningAlgorithm::RS256, &n, &[0x01, 0x00, 0x01]);
    /// assert_eq!(jwk.kid, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    /// assert_eq!(jwk.e.as_deref(), Some("AQAB"));
    /// # Ok::<(), base64::DecodeError>(())
    /// ```
    pub fn rsa(alg: SigningAlgorithm, n: &[u8], e: &[u8]) -> Self {
        let unsigned = |v: &[u8]| b64(&v[v.iter().take_while(|&&b| b == 0).count()..]);
        Self {
            n: unsigned(n),
            e: unsigned(e),
            ..Self::template("RSA", alg, None)
        }
        .with_thumbprint_kid()
    }

    /// A P-256 key for ES256 from its point's coordinates, big-endian and full width (RFC 7518
    /// §6.2.1).
    ///
    /// ```
    /// use license_core::{PublicJwk, SigningAlgorithm};
    /// let jwk = PublicJwk::ec_p256(&[0x11; 32], &[0x22; 32]);
    /// assert_eq!((jwk.kty.as_str(), jwk.crv.as_deref()), ("EC", Some("P-256")));
    /// assert_eq!(jwk.alg, SigningAlgorithm::ES256);
    /// assert_eq!(jwk.kid, jwk.thumbprint());
    /// ```
    pub fn ec_p256(x: &[u8; 32], y: &[u8; 32]) -> Self {
        Self {
            x: b64(x),
            y: b64(y),
            ..Self::template("EC", SigningAlgorithm::ES256, Some("P-256"))
        }
        .with_thumbprint_kid()
    }

    /// An Ed25519 key for EdDSA from its 32-byte public key (RFC 8037 §2).
    ///
    /// ```
    /// use license_core::PublicJwk;
    /// // The example key of RFC 8037 A.2, and the thumbprint A.3 gives for it.
    /// let x = [
    ///     0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
    ///     0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
    ///     0xf7, 0x07, 0x51, 0x1a,
    /// ];
    /// let jwk = PublicJwk::ed25519(&x);
    /// assert_eq!(jwk.x.as_deref(), Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"));
    /// assert_eq!(jwk.kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    /// ```
    pub fn ed25519(x: &[u8; 32]) -> Self {
        Self {
            x: b64(x),
            ..Self::template("OKP", SigningAlgorithm::EdDSA, Some("Ed25519"))
        }
        .with_thumbprint_kid()
    }

    /// The members every key has; `kid` is set last, from the others.
    fn template(kty: &str, alg: SigningAlgorithm, crv: Option<&str>) -> Self {
        Self {
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

    fn with_thumbprint_kid(self) -> Self {
        Self {
            kid: self.thumbprint(),
            ..self
        }
    }

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

/// A JWK binary member: base64url without padding (RFC 7515 §2).
fn b64(bytes: &[u8]) -> Option<String> {
    use base64::Engine as _;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}
