//! Cloud KMS resource names: the key version that signs and the crypto key that wraps. Ids are
//! checked against what Cloud KMS allows, so a checked name is safe in a URL path as it is.

use license_core::{Error, Result};

/// The collections of a crypto key name, in order: `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
const CRYPTO_KEY: [&str; 4] = ["projects", "locations", "keyRings", "cryptoKeys"];

/// The collection of a key version under its crypto key.
const VERSIONS: &str = "cryptoKeyVersions";

/// Checks a key version name, `projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N`,
/// naming the `key_version` setting if it is not one.
pub(crate) fn validate_key_version(name: &str) -> Result<()> {
    let ok = name
        .rsplit_once(&format!("/{VERSIONS}/"))
        .is_some_and(|(key, version)| is_crypto_key(key) && is_version_id(version));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "key_version",
            "expected projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N \
             (ids of letters, digits, '-', '_' and '.'; N a number)",
        ))
    }
}

/// Checks a crypto key name, `projects/P/locations/L/keyRings/R/cryptoKeys/K`, naming the
/// `crypto_key` setting if it is not one (a key version name included: Cloud KMS encrypts with
/// the key's primary version and finds the version of a ciphertext itself).
pub(crate) fn validate_crypto_key(name: &str) -> Result<()> {
    if is_crypto_key(name) {
        return Ok(());
    }
    let reason = if name.contains(&format!("/{VERSIONS}/")) {
        "expected a crypto key, not a key version: drop /cryptoKeyVersions/N (Cloud KMS encrypts \
         with the key's primary version)"
    } else {
        "expected projects/P/locations/L/keyRings/R/cryptoKeys/K (ids of letters, digits, '-', \
         '_' and '.')"
    };
    Err(Error::invalid("crypto_key", reason))
}

/// Whether `version` names a key version of `crypto_key`: `{crypto_key}/cryptoKeyVersions/N`.
pub(crate) fn is_version_of(version: &str, crypto_key: &str) -> bool {
    version
        .strip_prefix(crypto_key)
        .and_then(|rest| rest.strip_prefix(&format!("/{VERSIONS}/")))
        .is_some_and(is_version_id)
}

fn is_crypto_key(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    parts.len() == 2 * CRYPTO_KEY.len()
        && parts.chunks(2).zip(CRYPTO_KEY).all(
            |(pair, collection)| matches!(pair, [label, id] if *label == collection && is_id(id)),
        )
}

/// An id Cloud KMS allows: 1 to 63 letters, digits, `-`, `_` and `.`; never `.` or `..`.
fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && id != "."
        && id != ".."
}

fn is_version_id(id: &str) -> bool {
    is_id(id) && id.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "projects/acme-prod/locations/europe-west1/keyRings/license/cryptoKeys/tenant-keys";

    fn field(result: Result<()>) -> &'static str {
        match result {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn key_version_must_be_a_full_version_name() {
        validate_key_version(&format!("{KEY}/cryptoKeyVersions/12")).unwrap();
        for name in [
            "",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/one",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1/extra",
            "projects/p/regions/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
            "projects/../locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
            "projects/p/locations/l/keyRings/r?x=1/cryptoKeys/k/cryptoKeyVersions/1",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k:asymmetricSign/cryptoKeyVersions/1",
            "/projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
        ] {
            assert_eq!(field(validate_key_version(name)), "key_version", "{name:?}");
        }
    }

    #[test]
    fn crypto_key_must_be_a_key_name_without_a_version() {
        validate_crypto_key(KEY).unwrap();
        for name in [
            "",
            "projects/p/locations/l/keyRings/r",
            "projects/p/locations/l/keyRings/r/cryptoKeys/",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k:encrypt",
            "projects/p/locations/l/keyRings/r/cryptoKeys/..",
            "projects/p/regions/l/keyRings/r/cryptoKeys/k",
            "/projects/p/locations/l/keyRings/r/cryptoKeys/k",
        ] {
            assert_eq!(field(validate_crypto_key(name)), "crypto_key", "{name:?}");
        }
        let version = validate_crypto_key(&format!("{KEY}/cryptoKeyVersions/1")).unwrap_err();
        assert!(
            version.to_string().contains("not a key version"),
            "{version}"
        );
    }

    #[test]
    fn a_version_belongs_only_to_its_own_key() {
        assert!(is_version_of(&format!("{KEY}/cryptoKeyVersions/1"), KEY));
        assert!(is_version_of(&format!("{KEY}/cryptoKeyVersions/307"), KEY));
        for other in [
            KEY.to_owned(),
            format!("{KEY}/cryptoKeyVersions/"),
            format!("{KEY}/cryptoKeyVersions/1/x"),
            format!("{KEY}-old/cryptoKeyVersions/1"),
            format!("{KEY}/cryptoKeyVersions/1a"),
            KEY.replace("tenant-keys", "lease") + "/cryptoKeyVersions/1",
            String::new(),
        ] {
            assert!(!is_version_of(&other, KEY), "{other:?}");
        }
    }
}
