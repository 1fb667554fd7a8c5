//! The composition root: picks the store, the seat ledger and the signer once, by URL scheme.
//! This is the only place that names adapter crates; the rest of the server sees the ports.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::{Clock, LocalSigner, SeatLedger, Signer, SigningAlgorithm, Store, SystemClock};
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
const LEDGER_SCHEMES: &str = "memory://, redis://, rediss:// or redis+cluster://";
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
        Some("redis" | "rediss" | "redis+cluster") => {
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
            let algorithm = match config.signer.algorithm {
                // KMS offers no Ed25519: the default means the RSA-4096 PKCS#1 key we provision.
                SigningAlgorithm::EdDSA => SigningAlgorithm::RS256,
                other => other,
            };
            let kms = KmsConfig {
                algorithm,
                ..KmsConfig::new(key_version)
            };
            let signer = KmsSigner::connect(kms)
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
}
