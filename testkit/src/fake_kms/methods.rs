//! The four methods as Cloud KMS answers them, with the faults that change their replies.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::keys::WrapKey;
use super::serve::{Reply, google_error, invalid, json_reply};
use super::{Fault, KEY_NAME, OTHER_WRAP_KEY, State, WRAP_KEY};

/// Cloud KMS's limit on `plaintext` and on `additionalAuthenticatedData` (software keys).
const MAX_DATA: usize = 64 * 1024;

/// An `Int64Value` CRC32C as proto3 JSON writes it: a decimal string.
fn crc_text(bytes: &[u8]) -> String {
    crc32c::crc32c(bytes).to_string()
}

/// A CRC32C that is not the one of `bytes`.
fn wrong_crc(bytes: &[u8]) -> String {
    (u64::from(crc32c::crc32c(bytes)) + 1).to_string()
}

/// Flips the lowest bit of the first byte (of nothing, if empty).
fn flip_bit(bytes: &mut [u8]) {
    if let Some(first) = bytes.first_mut() {
        *first ^= 1;
    }
}

/// A `bytes` field (standard base64), empty if absent; `None` if it is not base64.
fn bytes_field(request: &Value, field: &str) -> Option<Vec<u8>> {
    match &request[field] {
        Value::Null => Some(Vec::new()),
        Value::String(text) => STANDARD.decode(text).ok(),
        _ => None,
    }
}

/// Checks an optional request CRC32C (`crc_field`) against `data`, as KMS does: `Ok(true)` if
/// it was sent and matches, `Ok(false)` if it was not sent, Cloud KMS's error message if it
/// does not match.
fn check_crc(
    request: &Value,
    crc_field: &str,
    data_field: &str,
    data: &[u8],
) -> Result<bool, String> {
    let sent = match &request[crc_field] {
        Value::Null => return Ok(false),
        Value::String(text) => text.parse::<u64>().ok(),
        Value::Number(number) => number.as_u64(),
        _ => None,
    };
    if sent == Some(u64::from(crc32c::crc32c(data))) {
        Ok(true)
    } else {
        Err(format!(
            "The checksum in field {crc_field} did not match the data in field {data_field}."
        ))
    }
}

pub(super) fn public_key(state: &State, fault: Option<&Fault>) -> Reply {
    let pem = state.key.pem();
    let mut reply = json!({
        "pem": pem,
        "algorithm": state.announced_algorithm,
        "pemCrc32c": crc_text(pem.as_bytes()),
        "name": KEY_NAME,
        "protectionLevel": "HSM",
    });
    match fault {
        Some(Fault::CorruptPemCrc) => reply["pemCrc32c"] = json!(wrong_crc(pem.as_bytes())),
        Some(Fault::WrongName) => {
            reply["name"] = json!(KEY_NAME.replace("cryptoKeyVersions/1", "cryptoKeyVersions/2"));
        }
        _ => {}
    }
    json_reply(200, &reply)
}

pub(super) fn sign(state: &State, body: &[u8], fault: Option<&Fault>) -> Reply {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return invalid("Invalid JSON payload received.");
    };
    let Some(mut digest) = request["digest"]["sha256"]
        .as_str()
        .and_then(|d| STANDARD.decode(d).ok())
        .filter(|d| d.len() == 32)
    else {
        return invalid("digest.sha256 must be 32 bytes.");
    };
    if let Some(Fault::CorruptRequest) = fault {
        flip_bit(&mut digest);
    }
    let verified = match check_crc(&request, "digestCrc32c", "digest", &digest) {
        Ok(verified) => verified,
        Err(message) => return invalid(&message),
    };
    let signed = match fault {
        Some(Fault::SignWithOtherKey) => state.key.other().sign_digest(&digest),
        _ => state.key.sign_digest(&digest),
    };
    let signature = match signed {
        Ok(signature) => signature,
        Err(e) => return google_error(500, "INTERNAL", &format!("fake KMS cannot sign: {e}")),
    };
    let mut reply = json!({
        "signature": STANDARD.encode(&signature),
        "signatureCrc32c": crc_text(&signature),
        "verifiedDigestCrc32c": verified,
        "name": KEY_NAME,
        "verifiedDataCrc32c": false,
        "protectionLevel": "HSM",
    });
    match fault {
        Some(Fault::CorruptSignatureCrc) => reply["signatureCrc32c"] = json!(wrong_crc(&signature)),
        Some(Fault::WrongName) => {
            reply["name"] = json!(KEY_NAME.replace("cryptoKeyVersions/1", "cryptoKeyVersions/2"));
        }
        Some(Fault::DigestNotVerified) => reply["verifiedDigestCrc32c"] = json!(false),
        _ => {}
    }
    json_reply(200, &reply)
}

pub(super) fn encrypt(key: &WrapKey, body: &[u8], fault: Option<&Fault>) -> Reply {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return invalid("Invalid JSON payload received.");
    };
    let (Some(mut plaintext), Some(aad)) = (
        bytes_field(&request, "plaintext"),
        bytes_field(&request, "additionalAuthenticatedData"),
    ) else {
        return invalid("plaintext and additionalAuthenticatedData must be base64.");
    };
    if plaintext.len() > MAX_DATA || aad.len() > MAX_DATA {
        return invalid(
            "The plaintext and the additional authenticated data must each be at most 65536 bytes.",
        );
    }
    if let Some(Fault::CorruptRequest) = fault {
        flip_bit(&mut plaintext);
    }
    let checks = (
        check_crc(&request, "plaintextCrc32c", "plaintext", &plaintext),
        check_crc(
            &request,
            "additionalAuthenticatedDataCrc32c",
            "additionalAuthenticatedData",
            &aad,
        ),
    );
    let (verified_plaintext, verified_aad) = match checks {
        (Ok(plaintext), Ok(aad)) => (plaintext, aad),
        (Err(message), _) | (_, Err(message)) => return invalid(&message),
    };
    let mut ciphertext = match key.encrypt(&plaintext, &aad) {
        Ok(ciphertext) => ciphertext,
        Err(e) => return google_error(500, "INTERNAL", &format!("fake KMS cannot encrypt: {e}")),
    };
    let crc = crc_text(&ciphertext);
    let mut reply = json!({
        "name": key.primary_name(),
        "ciphertextCrc32c": crc,
        "verifiedPlaintextCrc32c": verified_plaintext,
        "verifiedAdditionalAuthenticatedDataCrc32c": verified_aad,
        "protectionLevel": "SOFTWARE",
    });
    match fault {
        Some(Fault::CorruptCiphertextCrc) => {
            reply["ciphertextCrc32c"] = json!(wrong_crc(&ciphertext))
        }
        Some(Fault::CorruptCiphertext) => flip_bit(&mut ciphertext),
        Some(Fault::PlaintextCrcNotVerified) => reply["verifiedPlaintextCrc32c"] = json!(false),
        Some(Fault::AadCrcNotVerified) => {
            reply["verifiedAdditionalAuthenticatedDataCrc32c"] = json!(false);
        }
        Some(Fault::WrongName) => {
            let other = if key.name == WRAP_KEY {
                OTHER_WRAP_KEY
            } else {
                WRAP_KEY
            };
            reply["name"] = json!(format!("{other}/cryptoKeyVersions/1"));
        }
        _ => {}
    }
    reply["ciphertext"] = json!(STANDARD.encode(&ciphertext));
    json_reply(200, &reply)
}

pub(super) fn decrypt(key: &WrapKey, body: &[u8], fault: Option<&Fault>) -> Reply {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return invalid("Invalid JSON payload received.");
    };
    let (Some(mut ciphertext), Some(aad)) = (
        bytes_field(&request, "ciphertext"),
        bytes_field(&request, "additionalAuthenticatedData"),
    ) else {
        return invalid("ciphertext and additionalAuthenticatedData must be base64.");
    };
    if let Some(Fault::CorruptRequest) = fault {
        flip_bit(&mut ciphertext);
    }
    let checks = (
        check_crc(&request, "ciphertextCrc32c", "ciphertext", &ciphertext),
        check_crc(
            &request,
            "additionalAuthenticatedDataCrc32c",
            "additionalAuthenticatedData",
            &aad,
        ),
    );
    if let (Err(message), _) | (_, Err(message)) = checks {
        return invalid(&message);
    }
    let Some((mut plaintext, used_primary)) = key.decrypt(&ciphertext, &aad) else {
        return invalid("Decryption failed: verify that 'name' refers to the correct CryptoKey.");
    };
    let mut reply = json!({
        "plaintextCrc32c": crc_text(&plaintext),
        "usedPrimary": used_primary,
        "protectionLevel": "SOFTWARE",
    });
    match fault {
        Some(Fault::CorruptPlaintextCrc) => reply["plaintextCrc32c"] = json!(wrong_crc(&plaintext)),
        Some(Fault::CorruptPlaintext) => flip_bit(&mut plaintext),
        _ => {}
    }
    reply["plaintext"] = json!(STANDARD.encode(&plaintext));
    json_reply(200, &reply)
}
