//! The one place Cloud KMS, HTTP and credential failures become `license_core::Error`: every
//! one is `Unavailable { dependency: Signer }` with a reason an operator can act on, except a
//! ciphertext that KMS refuses to decrypt, which is `Internal` (the `KeyWrapper` contract:
//! trying again cannot help). Reasons never carry the access token, key material or plaintext.

use std::error::Error as StdError;
use std::time::Duration;

use license_core::{Dependency, Error};

use crate::rest::{ErrorBody, ErrorStatus, Operation};
use crate::retry::is_retryable_status;

/// How one attempt failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Worth another attempt (429, 503, 504, a timeout, a connection error); the reason.
    Retry(String),
    /// Final: trying again would fail the same way.
    Final(Error),
}

/// `Unavailable { dependency: Signer }` for a failed `op`.
pub(crate) fn unavailable(op: Operation, reason: impl std::fmt::Display) -> Error {
    Error::unavailable(
        Dependency::Signer,
        format!("Cloud KMS {}: {reason}", op.name()),
    )
}

/// The IAM role that allows `op`, granted on the key.
const fn role(op: Operation) -> &'static str {
    match op {
        Operation::GetPublicKey | Operation::AsymmetricSign => "roles/cloudkms.signerVerifier",
        Operation::Encrypt | Operation::Decrypt => "roles/cloudkms.cryptoKeyEncrypterDecrypter",
    }
}

/// The configuration field that names the resource `op` is called on.
const fn setting(op: Operation) -> &'static str {
    match op {
        Operation::GetPublicKey | Operation::AsymmetricSign => "key_version",
        Operation::Encrypt | Operation::Decrypt => "crypto_key",
    }
}

/// A non-2xx reply for `op` on `key` (a key version or a crypto key). The Google error body's
/// `status` picks the explanation.
pub(crate) fn http(op: Operation, key: &str, http: u16, body: &[u8]) -> Failure {
    let status = serde_json::from_slice::<ErrorBody>(body)
        .map(|body| body.error)
        .unwrap_or_default();
    let detail = if status.status.is_empty() {
        format!("HTTP {http}")
    } else {
        format!("HTTP {http} {}: {}", status.status, clip(&status.message))
    };
    if is_retryable_status(http, &status.status) {
        return Failure::Retry(detail);
    }
    let name = status_name(http, &status);
    // KMS checks the CRC32Cs we send and answers INVALID_ARGUMENT if one does not match: the
    // request was damaged on the way. Not retried here (like every integrity failure), but
    // retryable, and never mistaken for a ciphertext that does not authenticate.
    if name == "INVALID_ARGUMENT" && status.message.to_ascii_lowercase().contains("checksum") {
        return Failure::Final(unavailable(
            op,
            format!(
                "the request was corrupted on the way: Cloud KMS refused its CRC32C ({detail})"
            ),
        ));
    }
    let reason = match name {
        "INVALID_ARGUMENT" if op == Operation::Decrypt => {
            return Failure::Final(Error::Internal(format!(
                "Cloud KMS decrypt: {key} refused the ciphertext: it was not encrypted by this \
                 key, or not with this context ({detail})"
            )));
        }
        "PERMISSION_DENIED" => format!(
            "permission denied on {key}: the server's service account needs {} on this key \
             ({detail})",
            role(op)
        ),
        "UNAUTHENTICATED" => {
            format!(
                "the access token was refused: check the server's Google credentials ({detail})"
            )
        }
        "FAILED_PRECONDITION" if matches!(op, Operation::Encrypt | Operation::Decrypt) => {
            format!(
                "{key} cannot {}: its key version is disabled, destroyed or scheduled for \
                 destruction, the key has no enabled primary version, or the Cloud KMS API is \
                 not enabled in its project ({detail})",
                op.name()
            )
        }
        "FAILED_PRECONDITION" => format!(
            "{key} cannot sign: it is disabled, destroyed or scheduled for destruction, \
             or the Cloud KMS API is not enabled in its project ({detail})"
        ),
        "NOT_FOUND" => format!("{key} does not exist: check {} ({detail})", setting(op)),
        _ => format!("refused the request ({detail})"),
    };
    Failure::Final(unavailable(op, reason))
}

/// The canonical status, from the body or, failing that, the HTTP code.
fn status_name(http: u16, status: &ErrorStatus) -> &str {
    if !status.status.is_empty() {
        return &status.status;
    }
    match http {
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        _ => "",
    }
}

/// A request that got no reply: timeouts and connection errors are retried.
pub(crate) fn transport(op: Operation, error: &reqwest::Error, timeout: Duration) -> Failure {
    if error.is_timeout() {
        Failure::Retry(format!("no reply within {timeout:?}"))
    } else if error.is_connect() || error.is_request() || error.is_body() {
        Failure::Retry(format!("connection failed: {}", chain(error)))
    } else {
        Failure::Final(unavailable(op, chain(error)))
    }
}

/// No access token. gcp_auth's errors name what failed, not any credential.
pub(crate) fn auth(op: Operation, error: &gcp_auth::Error) -> Error {
    let reason = match error {
        gcp_auth::Error::NoAuthMethod(gcloud, metadata, user) => format!(
            "no Google credentials found (tried GOOGLE_APPLICATION_CREDENTIALS, gcloud's \
             application-default credentials, the metadata server, the gcloud CLI): \
             application-default: {}; metadata server: {}; gcloud: {}",
            chain(user.as_ref()),
            chain(metadata.as_ref()),
            chain(gcloud.as_ref())
        ),
        other => chain(other),
    };
    unavailable(op, format!("could not get an access token: {reason}"))
}

/// An error and its sources, joined by `: ` (skipping a source its parent already quotes).
fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A server message, made safe for a log line: no control characters, at most 300 of them.
fn clip(message: &str) -> String {
    const MAX: usize = 300;
    let mut clipped: String = message
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX)
        .collect();
    if message.chars().count() > MAX {
        clipped.push('…');
    }
    clipped
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";

    fn body(code: u16, status: &str, message: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "error": {"code": code, "status": status, "message": message}
        }))
        .unwrap()
    }

    fn final_reason(failure: Failure) -> String {
        match failure {
            Failure::Final(Error::Unavailable {
                dependency: Dependency::Signer,
                reason,
            }) => reason,
            other => panic!("expected a final signer error, got {other:?}"),
        }
    }

    #[test]
    fn permission_denied_names_the_role_and_the_key() {
        let failure = http(
            Operation::AsymmetricSign,
            KEY,
            403,
            &body(
                403,
                "PERMISSION_DENIED",
                "Permission 'cloudkms.cryptoKeyVersions.useToSign' denied",
            ),
        );
        let reason = final_reason(failure);
        assert!(reason.contains("roles/cloudkms.signerVerifier"), "{reason}");
        assert!(reason.contains(KEY), "{reason}");
        assert!(reason.contains("useToSign"), "{reason}");
        assert!(reason.starts_with("Cloud KMS asymmetricSign: "), "{reason}");
    }

    const CRYPTO_KEY: &str = "projects/p/locations/l/keyRings/r/cryptoKeys/wrap";

    #[test]
    fn wrapping_names_its_own_role_and_setting() {
        let denied = body(
            403,
            "PERMISSION_DENIED",
            "cloudkms.cryptoKeyVersions.useToEncrypt",
        );
        for op in [Operation::Encrypt, Operation::Decrypt] {
            let reason = final_reason(http(op, CRYPTO_KEY, 403, &denied));
            assert!(
                reason.contains("roles/cloudkms.cryptoKeyEncrypterDecrypter on this key"),
                "{reason}"
            );
            assert!(reason.contains(CRYPTO_KEY), "{reason}");
            let reason = final_reason(http(op, CRYPTO_KEY, 404, b""));
            assert!(
                reason.contains("does not exist: check crypto_key"),
                "{reason}"
            );
            let disabled = body(400, "FAILED_PRECONDITION", "state is DISABLED");
            let reason = final_reason(http(op, CRYPTO_KEY, 400, &disabled));
            assert!(
                reason.contains(&format!("cannot {}", op.name())),
                "{reason}"
            );
        }
    }

    #[test]
    fn a_refused_decryption_is_internal_and_names_the_key() {
        let refused = body(
            400,
            "INVALID_ARGUMENT",
            "Decryption failed: verify that 'name' refers to the correct CryptoKey.",
        );
        match http(Operation::Decrypt, CRYPTO_KEY, 400, &refused) {
            Failure::Final(error @ Error::Internal(_)) => {
                assert!(!error.is_retryable());
                let text = error.to_string();
                assert!(text.contains(CRYPTO_KEY), "{text}");
                assert!(text.contains("refused the ciphertext"), "{text}");
            }
            other => panic!("expected an internal error, got {other:?}"),
        }
        // Encrypting has no ciphertext to blame: a refusal stays a signer failure.
        let reason = final_reason(http(Operation::Encrypt, CRYPTO_KEY, 400, &refused));
        assert!(reason.contains("refused the request"), "{reason}");
    }

    #[test]
    fn a_checksum_refusal_is_a_corrupted_request_not_a_bad_ciphertext() {
        let corrupted = body(
            400,
            "INVALID_ARGUMENT",
            "The checksum in field ciphertext_crc32c did not match the data in field ciphertext.",
        );
        for op in [
            Operation::Decrypt,
            Operation::Encrypt,
            Operation::AsymmetricSign,
        ] {
            let reason = final_reason(http(op, CRYPTO_KEY, 400, &corrupted));
            assert!(reason.contains("corrupted on the way"), "{reason}");
        }
    }

    #[test]
    fn failed_precondition_explains_disabled_keys() {
        let failure = http(
            Operation::AsymmetricSign,
            KEY,
            400,
            &body(
                400,
                "FAILED_PRECONDITION",
                "is not enabled, current state is: DISABLED.",
            ),
        );
        let reason = final_reason(failure);
        assert!(reason.contains("disabled, destroyed"), "{reason}");
        assert!(reason.contains("current state is: DISABLED"), "{reason}");
    }

    #[test]
    fn statuses_without_a_body_still_get_their_explanation() {
        let reason = final_reason(http(Operation::GetPublicKey, KEY, 404, b"<html>"));
        assert!(reason.contains("does not exist"), "{reason}");
        let reason = final_reason(http(Operation::GetPublicKey, KEY, 500, b""));
        assert!(reason.contains("HTTP 500"), "{reason}");
    }

    #[test]
    fn rate_limits_and_unavailability_are_retried() {
        for (code, status) in [(429, "RESOURCE_EXHAUSTED"), (503, "UNAVAILABLE"), (504, "")] {
            let failure = http(
                Operation::AsymmetricSign,
                KEY,
                code,
                &body(code, status, "x"),
            );
            assert!(matches!(failure, Failure::Retry(_)), "{code}");
        }
    }

    #[test]
    fn server_messages_are_clipped_and_stripped_of_control_characters() {
        let long = format!("line\nbreak{}", "x".repeat(1000));
        let clipped = clip(&long);
        assert!(!clipped.contains('\n'));
        assert_eq!(clipped.chars().count(), 301);
        assert_eq!(clip("short"), "short");
    }

    #[test]
    fn missing_credentials_list_every_source_tried() {
        let error = gcp_auth::Error::NoAuthMethod(
            Box::new(gcp_auth::Error::Str("gcloud not on PATH")),
            Box::new(gcp_auth::Error::Str("metadata server unreachable")),
            Box::new(gcp_auth::Error::Str(
                "no application_default_credentials.json",
            )),
        );
        let text = auth(Operation::GetPublicKey, &error).to_string();
        for part in [
            "gcloud not on PATH",
            "metadata server unreachable",
            "application_default",
        ] {
            assert!(text.contains(part), "{text}");
        }
    }
}
