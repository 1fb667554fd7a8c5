//! The key version's public key: its PEM (`SubjectPublicKeyInfo`) read with aws-lc-rs into a JWK
//! for the JWKS, plus a parsed key to check every signature before it is returned.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use license_core::{PublicJwk, SigningAlgorithm};

/// `SubjectPublicKeyInfo` DER of a P-256 key, up to the uncompressed point: SEQUENCE,
/// AlgorithmIdentifier { id-ecPublicKey, prime256v1 }, BIT STRING header (RFC 5480).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The public half of the KMS key, in the two forms the signer needs.
#[derive(Debug)]
pub(crate) struct PublicKey {
    /// For the JWKS; `kid` is the RFC 7638 thumbprint.
    pub(crate) jwk: PublicJwk,
    /// Verifies signatures in JWS form (raw `r‖s` for ES256).
    pub(crate) verifier: ParsedPublicKey,
}

impl PublicKey {
    /// Reads a PEM public key for `algorithm`. The error says what is wrong, never the key.
    pub(crate) fn from_pem(pem: &str, algorithm: SigningAlgorithm) -> Result<Self, String> {
        let spki = pem_to_der(pem)?;
        let b64 = |bytes: &[u8]| Some(URL_SAFE_NO_PAD.encode(bytes));
        let (mut jwk, verifier) = match algorithm {
            SigningAlgorithm::RS256 | SigningAlgorithm::PS256 => {
                let key = aws_lc_rs::rsa::PublicKey::from_der(&spki)
                    .map_err(|e| format!("the public key is not an RSA key ({e})"))?;
                if key.modulus_len() < 256 {
                    return Err("the RSA key is shorter than 2048 bits".to_owned());
                }
                let params = if algorithm == SigningAlgorithm::PS256 {
                    &RSA_PSS_2048_8192_SHA256
                } else {
                    &RSA_PKCS1_2048_8192_SHA256
                };
                let verifier = ParsedPublicKey::new(params, &spki)
                    .map_err(|e| format!("the RSA public key is unusable ({e})"))?;
                let jwk = PublicJwk {
                    n: b64(key.modulus().big_endian_without_leading_zero()),
                    e: b64(key.exponent().big_endian_without_leading_zero()),
                    ..template("RSA", algorithm, None)
                };
                (jwk, verifier)
            }
            SigningAlgorithm::ES256 => {
                // Parsing checks the curve is P-256 and the point is on it.
                let verifier = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &spki)
                    .map_err(|e| format!("the public key is not a P-256 key ({e})"))?;
                let canonical = verifier
                    .as_der()
                    .map_err(|_| "the P-256 public key cannot be re-encoded".to_owned())?;
                let point = canonical
                    .as_ref()
                    .strip_prefix(P256_SPKI_PREFIX.as_slice())
                    .filter(|point| point.len() == 65 && point[0] == 0x04)
                    .ok_or_else(|| {
                        "the P-256 public key is not an uncompressed point".to_owned()
                    })?;
                let jwk = PublicJwk {
                    x: b64(&point[1..33]),
                    y: b64(&point[33..65]),
                    ..template("EC", algorithm, Some("P-256"))
                };
                (jwk, verifier)
            }
            SigningAlgorithm::EdDSA => {
                return Err("Cloud KMS signing supports RS256, PS256 and ES256".to_owned());
            }
        };
        jwk.kid = jwk.thumbprint();
        Ok(Self { jwk, verifier })
    }
}

fn template(kty: &str, alg: SigningAlgorithm, crv: Option<&str>) -> PublicJwk {
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

/// The DER inside one `PUBLIC KEY` PEM block (RFC 7468): base64 between the boundary lines.
fn pem_to_der(pem: &str) -> Result<Vec<u8>, String> {
    const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
    const END: &str = "-----END PUBLIC KEY-----";
    let body = pem
        .trim()
        .strip_prefix(BEGIN)
        .and_then(|rest| rest.strip_suffix(END))
        .ok_or_else(|| "the public key is not one PEM \"PUBLIC KEY\" block".to_owned())?;
    let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(base64)
        .map_err(|_| "the public key PEM is not valid base64".to_owned())
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    };

    use super::*;

    fn pem(der: &[u8]) -> String {
        let b64 = STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn rsa_pem_becomes_an_rsa_jwk_that_verifies() {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let spki = key.public_key().as_der().unwrap();
        let public = PublicKey::from_pem(&pem(spki.as_ref()), SigningAlgorithm::RS256).unwrap();

        let n = key
            .public_key()
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec();
        assert_eq!(public.jwk.kty, "RSA");
        assert_eq!(
            public.jwk.n.as_deref(),
            Some(URL_SAFE_NO_PAD.encode(n).as_str())
        );
        assert_eq!(public.jwk.e.as_deref(), Some("AQAB"));
        assert_eq!(public.jwk.kid, public.jwk.thumbprint());
        assert_eq!(public.jwk.use_, "sig");

        let mut signature = vec![0; key.public_modulus_len()];
        let rng = SystemRandom::new();
        key.sign(&RSA_PKCS1_SHA256, &rng, b"hello", &mut signature)
            .unwrap();
        public.verifier.verify_sig(b"hello", &signature).unwrap();
        assert!(public.verifier.verify_sig(b"hellO", &signature).is_err());
    }

    #[test]
    fn p256_pem_becomes_an_ec_jwk_with_the_point_coordinates() {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let spki = key.public_key().as_der().unwrap();
        let public = PublicKey::from_pem(&pem(spki.as_ref()), SigningAlgorithm::ES256).unwrap();

        let point = key.public_key().as_ref();
        assert_eq!(public.jwk.kty, "EC");
        assert_eq!(public.jwk.crv.as_deref(), Some("P-256"));
        assert_eq!(public.jwk.x, Some(URL_SAFE_NO_PAD.encode(&point[1..33])));
        assert_eq!(public.jwk.y, Some(URL_SAFE_NO_PAD.encode(&point[33..])));
        assert_eq!(public.jwk.kid, public.jwk.thumbprint());

        let rng = SystemRandom::new();
        let signature = key.sign(&rng, b"hello").unwrap();
        public
            .verifier
            .verify_sig(b"hello", signature.as_ref())
            .unwrap();
    }

    #[test]
    fn a_key_of_the_wrong_type_is_refused() {
        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let ec_pem = pem(ec.public_key().as_der().unwrap().as_ref());
        let err = PublicKey::from_pem(&ec_pem, SigningAlgorithm::RS256).unwrap_err();
        assert!(err.contains("not an RSA key"), "{err}");

        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let rsa_pem = pem(rsa.public_key().as_der().unwrap().as_ref());
        let err = PublicKey::from_pem(&rsa_pem, SigningAlgorithm::ES256).unwrap_err();
        assert!(err.contains("not a P-256 key"), "{err}");
    }

    #[test]
    fn broken_pem_is_refused() {
        for (input, expected) in [
            ("", "not one PEM"),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                "not one PEM",
            ),
            ("-----BEGIN PUBLIC KEY-----\nAAAA", "not one PEM"),
            (
                "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----",
                "not valid base64",
            ),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
                "not a P-256 key",
            ),
        ] {
            let err = PublicKey::from_pem(input, SigningAlgorithm::ES256).unwrap_err();
            assert!(err.contains(expected), "{input:?}: {err}");
        }
    }
}
