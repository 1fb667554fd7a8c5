//! Cloud KMS algorithm names (`CryptoKeyVersionAlgorithm`) and the JWS algorithm each signs.

use license_core::SigningAlgorithm;

/// The Cloud KMS algorithms whose signatures are valid for `algorithm` in JWS. RS256 and PS256
/// take any RSA size from 2048 bits; ES256 is P-256 with SHA-256 only (secp256k1 is ES256K).
pub(crate) const fn kms_algorithms(algorithm: SigningAlgorithm) -> &'static [&'static str] {
    match algorithm {
        SigningAlgorithm::RS256 => &[
            "RSA_SIGN_PKCS1_4096_SHA256",
            "RSA_SIGN_PKCS1_3072_SHA256",
            "RSA_SIGN_PKCS1_2048_SHA256",
        ],
        SigningAlgorithm::PS256 => &[
            "RSA_SIGN_PSS_4096_SHA256",
            "RSA_SIGN_PSS_3072_SHA256",
            "RSA_SIGN_PSS_2048_SHA256",
        ],
        SigningAlgorithm::ES256 => &["EC_SIGN_P256_SHA256"],
        SigningAlgorithm::EdDSA => &[],
    }
}

/// The JWS algorithm a Cloud KMS key signs for, if it is one this crate supports.
pub(crate) fn jws_algorithm(kms: &str) -> Option<SigningAlgorithm> {
    [
        SigningAlgorithm::RS256,
        SigningAlgorithm::PS256,
        SigningAlgorithm::ES256,
    ]
    .into_iter()
    .find(|alg| kms_algorithms(*alg).contains(&kms))
}

/// The start-up error text when the key's algorithm is not the configured one: names both.
pub(crate) fn mismatch(configured: SigningAlgorithm, kms: &str) -> String {
    let expected = kms_algorithms(configured).join(" or ");
    let hint = match jws_algorithm(kms) {
        Some(alg) => {
            format!("set the algorithm to {alg}, or point key_version at a {expected} key")
        }
        None => format!("{kms} cannot sign JWS tokens here; use a {expected} key"),
    };
    format!(
        "the Cloud KMS key version has algorithm {kms}, but the configured algorithm is \
         {configured}, which needs {expected}: {hint}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kms_algorithm_maps_back_to_its_jws_algorithm() {
        for alg in [
            SigningAlgorithm::RS256,
            SigningAlgorithm::PS256,
            SigningAlgorithm::ES256,
        ] {
            for kms in kms_algorithms(alg) {
                assert_eq!(jws_algorithm(kms), Some(alg), "{kms}");
            }
        }
        assert_eq!(jws_algorithm("RSA_SIGN_PKCS1_4096_SHA512"), None);
        assert_eq!(jws_algorithm("EC_SIGN_SECP256K1_SHA256"), None);
        assert_eq!(jws_algorithm("EC_SIGN_P384_SHA384"), None);
        assert_eq!(jws_algorithm("RSA_SIGN_RAW_PKCS1_4096"), None);
    }

    #[test]
    fn the_mismatch_message_names_both_algorithms() {
        let text = mismatch(SigningAlgorithm::RS256, "EC_SIGN_P256_SHA256");
        assert!(text.contains("EC_SIGN_P256_SHA256"), "{text}");
        assert!(text.contains("RS256"), "{text}");
        assert!(text.contains("RSA_SIGN_PKCS1_4096_SHA256"), "{text}");
        assert!(text.contains("set the algorithm to ES256"), "{text}");

        let text = mismatch(SigningAlgorithm::ES256, "HMAC_SHA256");
        assert!(
            text.contains("HMAC_SHA256") && text.contains("ES256"),
            "{text}"
        );
    }
}
