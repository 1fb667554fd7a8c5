//! The composition root: picks the store, the seat ledger and the signer once, by URL scheme.
//! This is the only place that names adapter crates; the rest of the server sees the ports.
//! Key material is in `keys`, the data directory in `data_dir`.

use std::path::PathBuf;
use std::sync::Arc;

use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::{Clock, SeatLedger, Signer, SigningAlgorithm, Store, SystemClock};
use license_seats_redis::RedisLedger;
use license_signer_kms::{KmsConfig, KmsSigner};
use license_store_pg::SqlStore;
use tracing::warn;

use crate::config::{Config, Secret, layers::env_var};
use crate::data_dir::ensure_data_dir;
use crate::keys;

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
        let signer = keys::load_or_generate_key(&config.data_dir, config.signer.algorithm)?;
        return Ok(Arc::new(signer));
    }
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("gcpkms") => {
            let key_version = url.trim_start_matches("gcpkms://");
            let signer =
                kms_signer(config, key_version)
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

/// The Cloud KMS signer of `key_version` (the live signer, or a retired one whose public key
/// is still published).
pub(crate) async fn kms_signer(
    config: &Config,
    key_version: &str,
) -> license_core::Result<KmsSigner> {
    KmsSigner::connect(kms_config(config, key_version)).await
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

#[cfg(test)]
mod tests {
    use super::*;

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
