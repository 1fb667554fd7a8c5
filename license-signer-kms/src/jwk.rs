//! The key version's public key: the PEM (`SubjectPublicKeyInfo`) Cloud KMS returns, read into
//! the parts [`PublicJwk`]'s constructors take, plus a parsed key to check every signature before
//! it is returned. Libraries do the reading: rustls-pki-types the PEM, aws-lc-rs the RSA key and
//! every check, RustCrypto's `p256` (spki, sec1) the P-256 point.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
};
use license_core::{PublicJwk, SigningAlgorithm};
use p256::Sec1Point;
use p256::pkcs8::SubjectPublicKeyInfoRef;
use rustls_pki_types::SubjectPublicKeyInfoDer;
use rustls_pki_types::pem::{self, PemObject as _};

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
        let spki = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes()).map_err(pem_error)?;
        match algorithm {
            SigningAlgorithm::RS256 | SigningAlgorithm::PS256 => rsa(&spki, algorithm),
            SigningAlgorithm::ES256 => p256(&spki),
            SigningAlgorithm::EdDSA => {
                Err("Cloud KMS signing supports RS256, PS256 and ES256".to_owned())
            }
        }
    }
}

/// An RSA key of at least 2048 bits, verifying PKCS#1 v1.5 or PSS as `algorithm` says.
fn rsa(spki: &[u8], algorithm: SigningAlgorithm) -> Result<PublicKey, String> {
    let key = aws_lc_rs::rsa::PublicKey::from_der(spki)
        .map_err(|e| format!("the public key is not an RSA key ({e})"))?;
    if key.modulus_len() < 256 {
        return Err("the RSA key is shorter than 2048 bits".to_owned());
    }
    let params = if algorithm == SigningAlgorithm::PS256 {
        &RSA_PSS_2048_8192_SHA256
    } else {
        &RSA_PKCS1_2048_8192_SHA256
    };
    let verifier = ParsedPublicKey::new(params, spki)
        .map_err(|e| format!("the RSA public key is unusable ({e})"))?;
    let jwk = PublicJwk::rsa(
        algorithm,
        key.modulus().big_endian_without_leading_zero(),
        key.exponent().big_endian_without_leading_zero(),
    );
    Ok(PublicKey { jwk, verifier })
}

/// A P-256 key. aws-lc-rs checks the curve and that the point is on it, then re-encodes the key
/// with the point uncompressed; spki and sec1 read the coordinates from that encoding.
fn p256(spki: &[u8]) -> Result<PublicKey, String> {
    let verifier = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, spki)
        .map_err(|e| format!("the public key is not a P-256 key ({e})"))?;
    let canonical = verifier
        .as_der()
        .map_err(|_| "the P-256 public key cannot be re-encoded".to_owned())?;
    let point = SubjectPublicKeyInfoRef::try_from(canonical.as_ref())
        .ok()
        .and_then(|info| Sec1Point::from_bytes(info.subject_public_key.as_bytes()?).ok());
    let Some((Some(x), Some(y))) = point.as_ref().map(|p| (p.x(), p.y())) else {
        return Err("the P-256 public key is not an uncompressed point".to_owned());
    };
    let jwk = PublicJwk::ec_p256(x.into(), y.into());
    Ok(PublicKey { jwk, verifier })
}

/// What is wrong with the PEM, in words an operator can check against `gcloud kms keys
/// versions get-public-key`.
fn pem_error(error: pem::Error) -> String {
    const NOT_ONE_BLOCK: &str = "the public key is not one PEM \"PUBLIC KEY\" block";
    match error {
        pem::Error::Base64Decode(_) => "the public key PEM is not valid base64".to_owned(),
        pem::Error::MissingSectionEnd { .. } => format!("{NOT_ONE_BLOCK}: its END line is missing"),
        _ => NOT_ONE_BLOCK.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    };
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

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
    fn the_jwk_is_the_one_a_local_signer_publishes_for_the_same_key() {
        use aws_lc_rs::encoding::Pkcs8V1Der;
        use license_core::{LocalSigner, Signer as _};

        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let rsa_pkcs8: Pkcs8V1Der<'_> = rsa.as_der().unwrap();
        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let ec_pkcs8 = ec.to_pkcs8v1().unwrap();
        for (algorithm, spki, pkcs8) in [
            (
                SigningAlgorithm::PS256,
                rsa.public_key().as_der().unwrap(),
                rsa_pkcs8.as_ref(),
            ),
            (
                SigningAlgorithm::ES256,
                ec.public_key().as_der().unwrap(),
                ec_pkcs8.as_ref(),
            ),
        ] {
            let kms = PublicKey::from_pem(&pem(spki.as_ref()), algorithm).unwrap();
            let local = LocalSigner::from_pkcs8(algorithm, pkcs8).unwrap();
            assert_eq!(kms.jwk, local.public_jwk(), "{algorithm}");
        }
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
