//! Key material: the local signing key (generated into the data directory on first start,
//! loaded on every later one) and the public keys of signers retired by a rotation
//! (`signer.retired_keys`), which the JWKS keeps publishing until their tokens expire.

use std::path::{Path, PathBuf};

use license_core::{Jwks, LocalSigner, PublicJwk, Signer, SigningAlgorithm};
use tracing::info;

use crate::compose::{ComposeError, kms_key_version, kms_signer};
use crate::config::Config;
use crate::data_dir::{ensure_data_dir, ensure_private_file, write_private_file};

/// The signing key's file in the data directory, per algorithm.
pub fn signing_key_path(data_dir: &Path, algorithm: SigningAlgorithm) -> PathBuf {
    data_dir.join(format!(
        "signing-key-{}.pk8",
        algorithm.as_str().to_ascii_lowercase()
    ))
}

/// The local signing key: loaded from the data directory, or generated there on first start.
pub fn load_or_generate_key(
    data_dir: &Path,
    algorithm: SigningAlgorithm,
) -> Result<LocalSigner, ComposeError> {
    ensure_data_dir(data_dir)?;
    let path = signing_key_path(data_dir, algorithm);
    let adapter = |source| ComposeError::Adapter {
        setting: "signer.url",
        source,
    };
    match std::fs::read(&path) {
        Ok(pkcs8) => {
            ensure_private_file(&path);
            let signer = LocalSigner::from_pkcs8(algorithm, &pkcs8).map_err(adapter)?;
            info!(path = %path.display(), kid = signer.key_id(), "loaded the local signing key");
            Ok(signer)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let signer = LocalSigner::generate(algorithm).map_err(adapter)?;
            match write_private_file(&path, &signer.to_pkcs8()) {
                Ok(()) => {
                    info!(path = %path.display(), kid = signer.key_id(), %algorithm, "generated a local signing key");
                    Ok(signer)
                }
                // Another process wrote it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    load_or_generate_key(data_dir, algorithm)
                }
                Err(source) => Err(ComposeError::DataDir {
                    what: "cannot write the signing key",
                    path,
                    source,
                }),
            }
        }
        Err(source) => Err(ComposeError::DataDir {
            what: "cannot read the signing key",
            path,
            source,
        }),
    }
}

/// The public keys named by `signer.retired_keys`: fetched from Cloud KMS for `gcpkms://`
/// entries, read from JSON files (a JWK or a JWK set) otherwise. Every key's `kid` must be its
/// RFC 7638 thumbprint, as this server's keys are, so a hand-edited file is caught here.
pub async fn load_retired_keys(config: &Config) -> Result<Vec<PublicJwk>, ComposeError> {
    let mut keys = Vec::new();
    for entry in config.signer.retired_key_sources() {
        let failed = |reason: String| ComposeError::RetiredKey {
            entry: entry.to_owned(),
            reason,
        };
        let found = if let Some(key_version) = kms_key_version(entry) {
            let signer = kms_signer(config, key_version).await.map_err(|e| {
                failed(format!(
                    "{e} (remove the entry once the version is disabled)"
                ))
            })?;
            vec![signer.public_jwk()]
        } else {
            let text = std::fs::read_to_string(entry).map_err(|e| failed(e.to_string()))?;
            parse_public_keys(&text).map_err(failed)?
        };
        for key in found {
            if key.kid != key.thumbprint() {
                return Err(failed(format!(
                    "key {} does not match its own thumbprint {}",
                    key.kid,
                    key.thumbprint()
                )));
            }
            info!(kid = %key.kid, alg = %key.alg, "publishing a retired signing key");
            keys.push(key);
        }
    }
    Ok(keys)
}

/// A JWK set (`{"keys": [...]}`, as `/.well-known/jwks.json` serves) or one JWK.
fn parse_public_keys(text: &str) -> Result<Vec<PublicJwk>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let keys = if value.get("keys").is_some() {
        serde_json::from_value::<Jwks>(value).map(|set| set.keys)
    } else {
        serde_json::from_value::<PublicJwk>(value).map(|key| vec![key])
    };
    let keys = keys.map_err(|e| format!("not a JWK or a JWK set: {e}"))?;
    if keys.is_empty() {
        return Err("holds no key".into());
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_key_is_generated_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let first = load_or_generate_key(&config.data_dir, config.signer.algorithm).unwrap();
        let again = load_or_generate_key(&config.data_dir, config.signer.algorithm).unwrap();
        assert_eq!(first.key_id(), again.key_id());
        let path = signing_key_path(&config.data_dir, SigningAlgorithm::EdDSA);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn retired_keys_load_from_jwk_and_jwk_set_files_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = LocalSigner::generate(SigningAlgorithm::EdDSA).unwrap();
        let b = LocalSigner::generate(SigningAlgorithm::ES256).unwrap();
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let set = write(
            "set.json",
            serde_json::to_string(&Jwks {
                keys: vec![a.public_jwk()],
            })
            .unwrap(),
        );
        let one = write("one.json", serde_json::to_string(&b.public_jwk()).unwrap());
        let mut config = Config::default();
        config.signer.retired_keys = format!(" {set} ,, {one} ");
        let keys = load_retired_keys(&config).await.unwrap();
        assert_eq!(keys, [a.public_jwk(), b.public_jwk()]);

        let mut forged = a.public_jwk();
        forged.kid = b.key_id().to_owned();
        let bad = [
            (
                write("forged.json", serde_json::to_string(&forged).unwrap()),
                "thumbprint",
            ),
            (
                write("empty.json", r#"{"keys": []}"#.into()),
                "holds no key",
            ),
            (write("text.json", "not json".into()), "not JSON"),
            (write("other.json", r#"{"kty": 1}"#.into()), "not a JWK"),
            (
                dir.path().join("missing.json").display().to_string(),
                "No such file",
            ),
        ];
        for (entry, reason) in bad {
            config.signer.retired_keys = format!("{set},{entry}");
            let e = load_retired_keys(&config).await.unwrap_err().to_string();
            assert!(
                e.contains("`signer.retired_keys`") && e.contains(&entry) && e.contains(reason),
                "{e}"
            );
        }
    }
}
