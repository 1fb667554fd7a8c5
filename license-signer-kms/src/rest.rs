//! The JSON of the Cloud KMS v1 REST methods this crate calls, and their URLs:
//! `cryptoKeyVersions.asymmetricSign` and `cryptoKeyVersions.getPublicKey` (signing),
//! `cryptoKeys.encrypt` and `cryptoKeys.decrypt` (wrapping). The types that carry plaintext
//! have no `Debug`, so it cannot reach a log by accident.

use serde::{Deserialize, Serialize};

use crate::crc::Crc32c;

/// The REST method being called, as error messages and logs name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `cryptoKeyVersions.getPublicKey`.
    GetPublicKey,
    /// `cryptoKeyVersions.asymmetricSign`.
    AsymmetricSign,
    /// `cryptoKeys.encrypt`.
    Encrypt,
    /// `cryptoKeys.decrypt`.
    Decrypt,
}

impl Operation {
    /// The method's name in the REST reference.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Operation::GetPublicKey => "getPublicKey",
            Operation::AsymmetricSign => "asymmetricSign",
            Operation::Encrypt => "encrypt",
            Operation::Decrypt => "decrypt",
        }
    }
}

/// `POST {endpoint}/v1/{name}:{method}` for `asymmetricSign`, `encrypt` and `decrypt`.
pub(crate) fn post_url(endpoint: &str, name: &str, op: Operation) -> String {
    format!("{}/v1/{name}:{}", endpoint.trim_end_matches('/'), op.name())
}

/// `GET {endpoint}/v1/{name}/publicKey`.
pub(crate) fn public_key_url(endpoint: &str, name: &str) -> String {
    format!("{}/v1/{name}/publicKey", endpoint.trim_end_matches('/'))
}

/// `AsymmetricSignRequest`: a pre-computed digest and its CRC32C, which KMS checks.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AsymmetricSignRequest {
    pub(crate) digest: Digest,
    /// `Int64Value`, written as a decimal string like every int64 in proto3 JSON.
    pub(crate) digest_crc32c: String,
}

/// `Digest`, SHA-256 only: every algorithm this crate supports hashes with it.
#[derive(Debug, Serialize)]
pub(crate) struct Digest {
    /// Standard base64 (proto3 `bytes`).
    pub(crate) sha256: String,
}

/// `AsymmetricSignResponse`, the fields this crate checks or uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AsymmetricSignResponse {
    /// Standard base64; DER for ECDSA.
    #[serde(default)]
    pub(crate) signature: String,
    #[serde(default)]
    pub(crate) signature_crc32c: Option<Crc32c>,
    /// True only if KMS received `digestCrc32c` and the digest matched it.
    #[serde(default)]
    pub(crate) verified_digest_crc32c: bool,
    /// The key version that signed.
    #[serde(default)]
    pub(crate) name: String,
}

/// `PublicKey` (PEM format, the default), the fields this crate checks or uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PublicKeyResponse {
    #[serde(default)]
    pub(crate) pem: String,
    /// `CryptoKeyVersionAlgorithm`, e.g. `RSA_SIGN_PKCS1_4096_SHA256`.
    #[serde(default)]
    pub(crate) algorithm: String,
    #[serde(default)]
    pub(crate) pem_crc32c: Option<Crc32c>,
    /// The key version this key belongs to.
    #[serde(default)]
    pub(crate) name: String,
}

/// `EncryptRequest`: proto3 `bytes` as standard base64, `Int64Value`s as decimal strings.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EncryptRequest {
    pub(crate) plaintext: String,
    pub(crate) additional_authenticated_data: String,
    pub(crate) plaintext_crc32c: String,
    pub(crate) additional_authenticated_data_crc32c: String,
}

/// `EncryptResponse`, the fields this crate checks or uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EncryptResponse {
    /// The key version that encrypted: `{crypto key}/cryptoKeyVersions/N`.
    #[serde(default)]
    pub(crate) name: String,
    /// Standard base64.
    #[serde(default)]
    pub(crate) ciphertext: String,
    #[serde(default)]
    pub(crate) ciphertext_crc32c: Option<Crc32c>,
    /// True only if KMS received `plaintextCrc32c` and the plaintext matched it.
    #[serde(default)]
    pub(crate) verified_plaintext_crc32c: bool,
    /// True only if KMS received `additionalAuthenticatedDataCrc32c` and the AAD matched it.
    #[serde(default)]
    pub(crate) verified_additional_authenticated_data_crc32c: bool,
}

/// `DecryptRequest`: like [`EncryptRequest`], with the ciphertext.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DecryptRequest {
    pub(crate) ciphertext: String,
    pub(crate) additional_authenticated_data: String,
    pub(crate) ciphertext_crc32c: String,
    pub(crate) additional_authenticated_data_crc32c: String,
}

/// `DecryptResponse`, the fields this crate checks or uses.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DecryptResponse {
    /// Standard base64.
    #[serde(default)]
    pub(crate) plaintext: String,
    #[serde(default)]
    pub(crate) plaintext_crc32c: Option<Crc32c>,
}

/// The error body of every Google API: `{"error": {"code", "message", "status"}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: ErrorStatus,
}

/// `google.rpc.Status` as REST renders it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorStatus {
    /// The canonical code's name: `PERMISSION_DENIED`, `FAILED_PRECONDITION`, `NOT_FOUND`, …
    #[serde(default)]
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/3";

    #[test]
    fn urls_follow_the_v1_rest_paths() {
        assert_eq!(
            post_url(
                "https://cloudkms.googleapis.com/",
                NAME,
                Operation::AsymmetricSign
            ),
            format!("https://cloudkms.googleapis.com/v1/{NAME}:asymmetricSign")
        );
        let key = NAME.trim_end_matches("/cryptoKeyVersions/3");
        assert_eq!(
            post_url("https://kms.example", key, Operation::Encrypt),
            format!("https://kms.example/v1/{key}:encrypt")
        );
        assert_eq!(
            post_url("https://kms.example", key, Operation::Decrypt),
            format!("https://kms.example/v1/{key}:decrypt")
        );
        assert_eq!(
            public_key_url("http://127.0.0.1:9", NAME),
            format!("http://127.0.0.1:9/v1/{NAME}/publicKey")
        );
    }

    #[test]
    fn the_sign_request_uses_the_rest_field_names() {
        let request = AsymmetricSignRequest {
            digest: Digest {
                sha256: "AAAA".into(),
            },
            digest_crc32c: "42".into(),
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            serde_json::json!({"digest": {"sha256": "AAAA"}, "digestCrc32c": "42"})
        );
    }

    #[test]
    fn the_wrap_requests_use_the_rest_field_names() {
        let encrypt = EncryptRequest {
            plaintext: "cA==".into(),
            additional_authenticated_data: "YQ==".into(),
            plaintext_crc32c: "1".into(),
            additional_authenticated_data_crc32c: "2".into(),
        };
        assert_eq!(
            serde_json::to_value(&encrypt).unwrap(),
            serde_json::json!({"plaintext": "cA==", "additionalAuthenticatedData": "YQ==",
                "plaintextCrc32c": "1", "additionalAuthenticatedDataCrc32c": "2"})
        );
        let decrypt = DecryptRequest {
            ciphertext: "Yw==".into(),
            additional_authenticated_data: "YQ==".into(),
            ciphertext_crc32c: "3".into(),
            additional_authenticated_data_crc32c: "2".into(),
        };
        assert_eq!(
            serde_json::to_value(&decrypt).unwrap(),
            serde_json::json!({"ciphertext": "Yw==", "additionalAuthenticatedData": "YQ==",
                "ciphertextCrc32c": "3", "additionalAuthenticatedDataCrc32c": "2"})
        );
    }

    #[test]
    fn the_wrap_replies_read_their_rest_field_names() {
        let encrypt: EncryptResponse = serde_json::from_str(
            r#"{"name": "k/cryptoKeyVersions/1", "ciphertext": "Yw==", "ciphertextCrc32c": "5",
                "verifiedPlaintextCrc32c": true, "verifiedAdditionalAuthenticatedDataCrc32c": true,
                "protectionLevel": "SOFTWARE"}"#,
        )
        .unwrap();
        assert_eq!(encrypt.name, "k/cryptoKeyVersions/1");
        assert_eq!(encrypt.ciphertext, "Yw==");
        assert_eq!(encrypt.ciphertext_crc32c, Some(Crc32c(5)));
        assert!(encrypt.verified_plaintext_crc32c);
        assert!(encrypt.verified_additional_authenticated_data_crc32c);
        let unverified: EncryptResponse = serde_json::from_str("{}").unwrap();
        assert!(!unverified.verified_plaintext_crc32c);
        assert!(!unverified.verified_additional_authenticated_data_crc32c);

        let decrypt: DecryptResponse = serde_json::from_str(
            r#"{"plaintext": "cA==", "plaintextCrc32c": "6", "usedPrimary": true}"#,
        )
        .unwrap();
        assert_eq!(decrypt.plaintext, "cA==");
        assert_eq!(decrypt.plaintext_crc32c, Some(Crc32c(6)));
    }

    #[test]
    fn replies_read_their_rest_field_names() {
        let sign: AsymmetricSignResponse = serde_json::from_str(
            r#"{"signature": "c2ln", "signatureCrc32c": "7", "verifiedDigestCrc32c": true,
                "name": "n", "protectionLevel": "HSM"}"#,
        )
        .unwrap();
        assert_eq!(sign.signature, "c2ln");
        assert_eq!(sign.signature_crc32c, Some(Crc32c(7)));
        assert!(sign.verified_digest_crc32c);
        assert_eq!(sign.name, "n");

        let key: PublicKeyResponse = serde_json::from_str(
            r#"{"pem": "P", "algorithm": "EC_SIGN_P256_SHA256", "pemCrc32c": "9", "name": "n",
                "protectionLevel": "SOFTWARE"}"#,
        )
        .unwrap();
        assert_eq!(key.algorithm, "EC_SIGN_P256_SHA256");
        assert_eq!(key.pem_crc32c, Some(Crc32c(9)));

        let empty: AsymmetricSignResponse = serde_json::from_str("{}").unwrap();
        assert!(!empty.verified_digest_crc32c);
        assert_eq!(empty.signature_crc32c, None);

        let error: ErrorBody = serde_json::from_str(
            r#"{"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}}"#,
        )
        .unwrap();
        assert_eq!(error.error.status, "PERMISSION_DENIED");
        assert_eq!(error.error.message, "denied");
    }
}
