//! The composition root: picks the store, the seat ledger and the signer once, by URL scheme
//! (`StoreKind`, `LedgerKind`, `SignerKind`, each decided by one function; the schemes an
//! adapter crate accepts are its own `SCHEMES`, not a copy here). This is the only place that
//! names adapter crates; the rest of the server sees the ports. Key material is in `keys`,
//! the data directory in `data_dir`.

use std::path::PathBuf;
use std::sync::Arc;

use license_core::memory::{MemoryLedger, MemoryStore};
use license_core::{
    Clock, KeyWrapper, LocalKeyWrapper, SeatLedger, Signer, SigningAlgorithm, Store,
};
use license_seats_redis::RedisLedger;
use license_signer_kms::{KmsConfig, KmsKeyWrapper, KmsSigner, KmsWrapConfig};
use license_store_pg::SqlStore;
use tracing::warn;

use crate::config::{Config, Secret, layers::env_var, url_scheme};
use crate::data_dir::{DATABASE_FILE, ensure_data_dir, ensure_private_database};
use crate::keys;

/// The three adapters the use cases run on.
#[derive(Clone, Debug)]
pub struct Adapters {
    /// Durable records.
    pub store: Arc<dyn Store>,
    /// Live seats.
    pub ledger: Arc<dyn SeatLedger>,
    /// The root: certifies tenant signing keys.
    pub signer: Arc<dyn Signer>,
    /// Encrypts tenant signing keys at rest.
    pub wrapper: Arc<dyn KeyWrapper>,
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
        expected: String,
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

/// Builds the adapters named by `config`. `clock` is the one the rest of the app reads too
/// (the in-process ledger expires seats by it).
pub async fn build_adapters(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Adapters, ComposeError> {
    let (signer, wrapper) = build_signer(config).await?;
    Ok(Adapters {
        store: build_store(config).await?,
        ledger: build_ledger(config, clock).await?,
        signer,
        wrapper,
    })
}

/// Runs the store's migrations (`license-server migrate`). Returns what was done.
pub async fn migrate(config: &Config) -> Result<String, ComposeError> {
    let url = store_url(config)?;
    match StoreKind::of(&url)? {
        StoreKind::Memory => Ok("memory:// keeps no schema: nothing to migrate".into()),
        StoreKind::Sql => {
            connect_sql(&url).await?;
            Ok("the store's schema is up to date".into())
        }
    }
}

/// The in-process adapters' scheme (`memory://`), for the store and the ledger.
const MEMORY: &str = "memory";
/// The Cloud KMS signer's scheme (`gcpkms://<key version name>`), also in
/// `signer.retired_keys`.
const KMS: &str = "gcpkms";

/// The store `store.url` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// `memory://`: in process, lost when the server stops.
    Memory,
    /// One of [`SqlStore::SCHEMES`]: SQLite or PostgreSQL.
    Sql,
}

impl StoreKind {
    /// The store `url` names; an unknown scheme is an error naming `store.url`.
    pub fn of(url: &str) -> Result<Self, ComposeError> {
        match url_scheme(url) {
            Some(MEMORY) => Ok(Self::Memory),
            Some(scheme) if SqlStore::SCHEMES.contains(&scheme) => Ok(Self::Sql),
            other => Err(unsupported(
                "store.url",
                other,
                expected(&[&[MEMORY], &SqlStore::SCHEMES]),
            )),
        }
    }
}

/// The seat ledger `ledger.url` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerKind {
    /// `memory://`: in process, one replica only.
    Memory,
    /// One of [`RedisLedger::SCHEMES`]: a Redis node or cluster.
    Redis,
}

impl LedgerKind {
    /// The ledger `url` names; an unknown scheme is an error naming `ledger.url`.
    pub fn of(url: &Secret) -> Result<Self, ComposeError> {
        match url.scheme() {
            Some(MEMORY) => Ok(Self::Memory),
            Some(scheme) if RedisLedger::SCHEMES.contains(&scheme) => Ok(Self::Redis),
            other => Err(unsupported(
                "ledger.url",
                other,
                expected(&[&[MEMORY], &RedisLedger::SCHEMES]),
            )),
        }
    }
}

/// The signer `signer.url` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignerKind<'a> {
    /// `local` (or `local://`): a key in the data directory.
    Local,
    /// `gcpkms://<key version name>`: a Cloud KMS key version.
    Kms {
        /// The key version's resource name.
        key_version: &'a str,
    },
}

impl<'a> SignerKind<'a> {
    /// The signer `url` names; anything else is an error naming `signer.url`.
    pub fn of(url: &'a str) -> Result<Self, ComposeError> {
        if url == "local" || url == "local://" {
            return Ok(Self::Local);
        }
        match kms_key_version(url) {
            Some(key_version) => Ok(Self::Kms { key_version }),
            None => Err(unsupported(
                "signer.url",
                url_scheme(url),
                format!("local or {KMS}://<key version name>"),
            )),
        }
    }
}

/// The key version a `gcpkms://<key version name>` URL names: the signer's, or an entry of
/// `signer.retired_keys` (`None` there means a file).
pub(crate) fn kms_key_version(url: &str) -> Option<&str> {
    match url_scheme(url) {
        Some(KMS) => url.get(KMS.len() + "://".len()..),
        _ => None,
    }
}

/// The configured store URL; empty means the embedded SQLite file in the data directory,
/// which is made owner-only (created so, or put back so) before it is opened.
fn store_url(config: &Config) -> Result<String, ComposeError> {
    if !config.store.url.is_empty() {
        return Ok(config.store.url.expose().to_owned());
    }
    ensure_data_dir(&config.data_dir)?;
    let db = embedded_database(config);
    ensure_private_database(&db)?;
    Ok(format!("sqlite://{}?mode=rwc", db.display()))
}

/// The embedded SQLite file: `license.db` in the data directory.
fn embedded_database(config: &Config) -> PathBuf {
    config.data_dir.join(DATABASE_FILE)
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

async fn build_store(config: &Config) -> Result<Arc<dyn Store>, ComposeError> {
    let url = store_url(config)?;
    match StoreKind::of(&url)? {
        StoreKind::Memory => {
            warn!(
                "store.url is memory://: licenses, sessions and keys are lost when the server stops"
            );
            Ok(Arc::new(MemoryStore::default()))
        }
        StoreKind::Sql => {
            let store = connect_sql(&url).await?;
            if config.store.url.is_empty() {
                // The log files opening made: owner-only like the database (a no-op unless
                // one was left behind, open, by an earlier run).
                ensure_private_database(&embedded_database(config))?;
            }
            Ok(Arc::new(store))
        }
    }
}

async fn build_ledger(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn SeatLedger>, ComposeError> {
    match LedgerKind::of(&config.ledger.url)? {
        LedgerKind::Memory => Ok(Arc::new(MemoryLedger::new(clock))),
        LedgerKind::Redis => {
            let ledger = RedisLedger::connect(config.ledger.url.expose())
                .await
                .map_err(|source| ComposeError::Adapter {
                    setting: "ledger.url",
                    source,
                })?;
            Ok(Arc::new(ledger))
        }
    }
}

/// The root signer and the wrapper of tenant keys: the local key of the data directory and a
/// wrapping key derived from it, or a Cloud KMS key version and a Cloud KMS symmetric key.
async fn build_signer(
    config: &Config,
) -> Result<(Arc<dyn Signer>, Arc<dyn KeyWrapper>), ComposeError> {
    let adapter = |setting: &'static str| move |source| ComposeError::Adapter { setting, source };
    match SignerKind::of(&config.signer.url)? {
        SignerKind::Local => {
            let signer = keys::load_or_generate_key(&config.data_dir, config.signer.algorithm)?;
            let wrapper = LocalKeyWrapper::for_root(&signer).map_err(adapter("signer.url"))?;
            Ok((Arc::new(signer), Arc::new(wrapper)))
        }
        SignerKind::Kms { key_version } => {
            let signer = kms_signer(config, key_version)
                .await
                .map_err(adapter("signer.url"))?;
            let wrapper = kms_wrapper(config)
                .await
                .map_err(adapter("signer.wrap_key"))?;
            Ok((Arc::new(signer), Arc::new(wrapper)))
        }
    }
}

/// The Cloud KMS wrapper of tenant keys named by `signer.wrap_key`.
async fn kms_wrapper(config: &Config) -> license_core::Result<KmsKeyWrapper> {
    let crypto_key = config
        .signer
        .wrap_key
        .strip_prefix("gcpkms://")
        .unwrap_or(&config.signer.wrap_key);
    KmsKeyWrapper::connect(KmsWrapConfig::new(crypto_key)).await
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

/// "a://, b:// or c://" for the schemes of every list.
fn expected(lists: &[&[&str]]) -> String {
    let all: Vec<String> = lists
        .iter()
        .flat_map(|list| list.iter())
        .map(|scheme| format!("{scheme}://"))
        .collect();
    match all.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn unsupported(setting: &'static str, scheme: Option<&str>, expected: String) -> ComposeError {
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
    use license_core::SystemClock;

    use super::*;

    fn clock() -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }

    #[test]
    fn each_url_names_one_kind_and_other_schemes_are_refused_by_setting() {
        assert_eq!(StoreKind::of("memory://").unwrap(), StoreKind::Memory);
        for scheme in SqlStore::SCHEMES {
            let url = format!("{scheme}://u:hunter2@db/x");
            assert_eq!(StoreKind::of(&url).unwrap(), StoreKind::Sql, "{url}");
        }
        let e = StoreKind::of("sqlite::memory:").unwrap_err().to_string();
        assert!(
            e.contains("`store.url`") && e.contains("without a scheme"),
            "{e}"
        );
        assert!(
            e.contains("memory://, postgres://, postgresql:// or sqlite://"),
            "{e}"
        );

        assert_eq!(
            LedgerKind::of(&Secret::new("memory://")).unwrap(),
            LedgerKind::Memory
        );
        let e = LedgerKind::of(&Secret::new("REDIS://h"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`ledger.url`") && e.contains("rediss+cluster://"),
            "{e}"
        );

        for local in ["local", "local://"] {
            assert_eq!(SignerKind::of(local).unwrap(), SignerKind::Local);
        }
        let version = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";
        assert_eq!(
            SignerKind::of(&format!("gcpkms://{version}")).unwrap(),
            SignerKind::Kms {
                key_version: version
            }
        );
        assert!(SignerKind::of("local://x").is_err());
        assert_eq!(kms_key_version("/etc/license/retired.json"), None);
    }

    #[tokio::test]
    async fn unsupported_urls_name_the_setting_but_not_the_credentials() {
        let mut config = Config::default();
        config.store.url = Secret::new("mysql://root:hunter2@db/x");
        let e = build_adapters(&config, clock())
            .await
            .unwrap_err()
            .to_string();
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
        let e = build_adapters(&config, clock())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("`ledger.url`") && !e.contains("hunter2"), "{e}");

        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        config.signer.url = "vault://x".into();
        let e = build_adapters(&config, clock())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("`signer.url`"), "{e}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_embedded_database_and_its_directory_are_owner_only_after_start() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let set = |p: &std::path::Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        let root = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: root.path().join("data"),
            ..Config::default()
        };
        // First start: everything created owner-only, the log files included.
        let first = build_adapters(&config, clock()).await.unwrap();
        let db = config.data_dir.join(DATABASE_FILE);
        let wal = config.data_dir.join("license.db-wal");
        assert!(wal.exists(), "the store runs in WAL mode");
        assert_eq!(mode(&config.data_dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&wal), 0o600);
        drop(first);

        // Loosened by hand (or by an older server): put back on the next start.
        set(&config.data_dir, 0o755);
        set(&db, 0o644);
        build_adapters(&config, clock()).await.unwrap();
        assert_eq!(mode(&config.data_dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        for companion in ["license.db-wal", "license.db-shm"] {
            let path = config.data_dir.join(companion);
            if path.exists() {
                assert_eq!(mode(&path), 0o600, "{companion}");
            }
        }
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
            match build_adapters(&config, clock()).await {
                Err(ComposeError::Adapter {
                    setting: "ledger.url",
                    source: license_core::Error::Unavailable { .. },
                }) => {}
                other => panic!("{scheme}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn every_sql_scheme_reaches_the_sql_store() {
        let dir = tempfile::tempdir().unwrap();
        for scheme in SqlStore::SCHEMES {
            let mut config = Config {
                data_dir: dir.path().join("data"),
                ..Config::default()
            };
            if scheme == "sqlite" {
                let file = dir.path().join("store.db");
                config.store.url = Secret::new(format!("sqlite://{}?mode=rwc", file.display()));
                build_adapters(&config, clock()).await.unwrap();
                continue;
            }
            // A port that is no number: the adapter took the scheme and refused the rest,
            // at once (a closed port would wait for the connect timeout).
            config.store.url = Secret::new(format!("{scheme}://u:hunter2@127.0.0.1:nope/x"));
            match build_adapters(&config, clock()).await {
                Err(ComposeError::Adapter {
                    setting: "store.url",
                    source: source @ license_core::Error::InvalidInput { .. },
                }) => {
                    let reason = source.to_string();
                    assert!(!reason.contains("must start with"), "{scheme}: {reason}");
                    assert!(!reason.contains("hunter2"), "{scheme}: {reason}");
                }
                other => panic!("{scheme}: {other:?}"),
            }
        }
    }
}
