//! The composition root: picks the store, the seat ledger and the signer once, by URL scheme.
//! This is the only place that names adapter crates; the rest of the server sees the ports.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::{
    Clock, Jwks, LocalSigner, PublicJwk, SeatLedger, Signer, SigningAlgorithm, Store, SystemClock,
};
use license_seats_redis::RedisLedger;
use license_signer_kms::{KmsConfig, KmsSigner};
use license_store_pg::SqlStore;
use tracing::{info, warn};

use crate::config::{Config, Secret, layers::env_var};

/// The three adapters the use cases run on.
#[derive(Clone, Debug)]
pub struct Adapters {
    /// Durable records.
    pub store: Arc<dyn Store>,
    /// Live seats.
    pub ledger: Arc<dyn SeatLedger>,
    /// Lease-token signatures.
    pub signer: Arc<dyn Signer>,
    /// Public keys of signers retired by a rotation, still published (`signer.retired_keys`).
    pub retired_keys: Vec<PublicJwk>,
}

/// Why the adapters could not be built. Each names the setting to change.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// The URL's scheme is not one this server knows.
    #[error(
        "`{setting}` (environment variable {env}): unsupported value {shown}; expected {expected}"
    )]
    Unsupported {
        /// The TOML key.
        setting: &'static str,
        /// Its environment variable.
        env: String,
        /// The scheme (never the whole URL: it may carry credentials).
        shown: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// The data directory or a file in it could not be used.
    #[error("{what} {}: {source}", path.display())]
    DataDir {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An adapter refused to start.
    #[error("`{setting}`: {source}")]
    Adapter {
        /// The TOML key of the adapter's setting.
        setting: &'static str,
        /// The cause.
        source: license_core::Error,
    },
    /// An entry of `signer.retired_keys` could not be read.
    #[error(
        "`signer.retired_keys` (environment variable LICENSE_SIGNER__RETIRED_KEYS): {entry}: {reason}"
    )]
    RetiredKey {
        /// The entry (a path or a KMS key version name: neither is secret).
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The signing key's file in the data directory, per algorithm.
pub fn signing_key_path(data_dir: &Path, algorithm: SigningAlgorithm) -> PathBuf {
    data_dir.join(format!(
        "signing-key-{}.pk8",
        algorithm.as_str().to_ascii_lowercase()
    ))
}

/// Builds the adapters named by `config`, reading time from the system clock.
pub async fn build_adapters(config: &Config) -> Result<Adapters, ComposeError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Ok(Adapters {
        store: build_store(config).await?,
        ledger: build_ledger(config, clock).await?,
        signer: build_signer(config).await?,
        retired_keys: load_retired_keys(config).await?,
    })
}

/// Runs the store's migrations (`license-server migrate`). Returns what was done.
pub async fn migrate(config: &Config) -> Result<String, ComposeError> {
    let url = store_url(config)?;
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("memory") => Ok("memory:// keeps no schema: nothing to migrate".into()),
        Some("sqlite" | "postgres" | "postgresql") => {
            connect_sql(&url).await?;
            Ok("the store's schema is up to date".into())
        }
        other => Err(unsupported("store.url", other, STORE_SCHEMES)),
    }
}

const STORE_SCHEMES: &str = "memory://, sqlite://<file> or postgres://…";

/// The configured store URL; empty means the embedded SQLite file in the data directory.
fn store_url(config: &Config) -> Result<String, ComposeError> {
    if !config.store.url.is_empty() {
        return Ok(config.store.url.expose().to_owned());
    }
    ensure_data_dir(&config.data_dir)?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        config.data_dir.join("license.db").display()
    ))
}

/// Connects the SQL store and brings its schema up to date (idempotent; under an advisory
/// lock on PostgreSQL, so replicas starting together do not race).
async fn connect_sql(url: &str) -> Result<SqlStore, ComposeError> {
    let adapter = |source| ComposeError::Adapter {
        setting: "store.url",
        source,
    };
    let store = SqlStore::connect(url).await.map_err(adapter)?;
    store.migrate().await.map_err(adapter)?;
    Ok(store)
}
const LEDGER_SCHEMES: &str =
    "memory://, redis://, rediss://, redis+cluster:// or rediss+cluster://";
const SIGNER_SCHEMES: &str = "local or gcpkms://<key version name>";

async fn build_store(config: &Config) -> Result<Arc<dyn Store>, ComposeError> {
    let url = store_url(config)?;
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("memory") => {
            warn!(
                "store.url is memory://: licenses, sessions and keys are lost when the server stops"
            );
            Ok(Arc::new(MemoryStore::default()))
        }
        Some("sqlite" | "postgres" | "postgresql") => Ok(Arc::new(connect_sql(&url).await?)),
        other => Err(unsupported("store.url", other, STORE_SCHEMES)),
    }
}

async fn build_ledger(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn SeatLedger>, ComposeError> {
    match scheme_of(&config.ledger.url) {
        Some("memory") => Ok(Arc::new(MemoryLedger::new(clock))),
        Some("redis" | "rediss" | "redis+cluster" | "rediss+cluster") => {
            let ledger = RedisLedger::connect(config.ledger.url.expose())
                .await
                .map_err(|source| ComposeError::Adapter {
                    setting: "ledger.url",
                    source,
                })?;
            Ok(Arc::new(ledger))
        }
        other => Err(unsupported("ledger.url", other, LEDGER_SCHEMES)),
    }
}

async fn build_signer(config: &Config) -> Result<Arc<dyn Signer>, ComposeError> {
    let url = config.signer.url.as_str();
    if url == "local" || url == "local://" {
        let signer = load_or_generate_key(&config.data_dir, config.signer.algorithm)?;
        return Ok(Arc::new(signer));
    }
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("gcpkms") => {
            let key_version = url.trim_start_matches("gcpkms://");
            let signer = KmsSigner::connect(kms_config(config, key_version))
                .await
                .map_err(|source| ComposeError::Adapter {
                    setting: "signer.url",
                    source,
                })?;
            Ok(Arc::new(signer))
        }
        other => Err(unsupported("signer.url", other, SIGNER_SCHEMES)),
    }
}

fn kms_config(config: &Config, key_version: &str) -> KmsConfig {
    let algorithm = match config.signer.algorithm {
        // KMS offers no Ed25519: the default means the RSA-4096 PKCS#1 key we provision.
        SigningAlgorithm::EdDSA => SigningAlgorithm::RS256,
        other => other,
    };
    KmsConfig {
        algorithm,
        ..KmsConfig::new(key_version)
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
        let found = if let Some(key_version) = entry.strip_prefix("gcpkms://") {
            let signer = KmsSigner::connect(kms_config(config, key_version))
                .await
                .map_err(|e| {
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

fn scheme_of(url: &Secret) -> Option<&str> {
    url.scheme()
}

fn unsupported(
    setting: &'static str,
    scheme: Option<&str>,
    expected: &'static str,
) -> ComposeError {
    ComposeError::Unsupported {
        setting,
        env: env_var(setting),
        shown: match scheme {
            Some(scheme) => format!("with scheme {scheme}://"),
            None => "without a scheme".into(),
        },
        expected,
    }
}

/// Creates the data directory (owner-only on Unix) if it is missing.
pub fn ensure_data_dir(dir: &Path) -> Result<(), ComposeError> {
    let io = |source| ComposeError::DataDir {
        what: "cannot create the data directory",
        path: dir.to_owned(),
        source,
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io)
}

/// Writes `bytes` to a new file readable by its owner only. Fails if the file exists, so two
/// replicas starting together never overwrite each other's key.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The local signing key: loaded from the data directory, or generated there on first start.
fn load_or_generate_key(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_key_is_generated_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let first = build_adapters(&config).await.unwrap();
        let again = build_adapters(&config).await.unwrap();
        assert_eq!(first.signer.key_id(), again.signer.key_id());
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

    #[tokio::test]
    async fn unsupported_urls_name_the_setting_but_not_the_credentials() {
        let mut config = Config::default();
        config.store.url = Secret::new("mysql://root:hunter2@db/x");
        let e = build_adapters(&config).await.unwrap_err().to_string();
        assert!(
            e.contains("`store.url`") && e.contains("LICENSE_STORE__URL"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        config.ledger.url = Secret::new("memcached://:hunter2@cache:11211");
        let e = build_adapters(&config).await.unwrap_err().to_string();
        assert!(e.contains("`ledger.url`") && !e.contains("hunter2"), "{e}");

        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        config.signer.url = "vault://x".into();
        let e = build_adapters(&config).await.unwrap_err().to_string();
        assert!(e.contains("`signer.url`"), "{e}");
    }

    #[tokio::test]
    async fn every_redis_scheme_reaches_the_redis_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let port = license_testkit::ports::free_port().unwrap();
        for scheme in ["redis", "rediss", "redis+cluster", "rediss+cluster"] {
            let mut config = Config {
                data_dir: dir.path().join("data"),
                ..Config::default()
            };
            config.ledger.url = Secret::new(format!("{scheme}://:hunter2@127.0.0.1:{port}"));
            // Nothing listens there: the adapter was picked and could not connect.
            match build_adapters(&config).await {
                Err(ComposeError::Adapter {
                    setting: "ledger.url",
                    source: license_core::Error::Unavailable { .. },
                }) => {}
                other => panic!("{scheme}: {other:?}"),
            }
        }
    }
}
