//! Configuration layering on figment: defaults → TOML file → `LICENSE_…` environment → flags,
//! each layer a figment provider merged over the one before. figment remembers which layer set
//! each value (`Figment::find_metadata`) and gives the key and the layer of any value serde
//! rejects (`Error::path`, `Error::metadata`).
//!
//! Kept by hand, because figment's own providers would change what operators see:
//! - every leaf of a layer is checked against the defaults before figment sees it, so every
//!   unknown or mistyped file key is reported at once (serde stops at the first), and an
//!   unknown `LICENSE_…` variable is a warning with a "did you mean", not an error;
//! - a variable is read as the type of its setting's default. figment's `Env` reads only the
//!   process environment (tests inject theirs), matches the prefix in any case, trims values
//!   and guesses their type (`123456` for a string setting becomes an integer serde rejects);
//! - the file is read and parsed once, by the workspace's `toml` (TOML 1.1); figment's `Toml`
//!   would parse it again with toml 0.8 (TOML 1.0), and `Toml::file` takes a missing file as empty.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::Serialized;
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::Serialize;
use toml::{Table, Value};

pub use super::problem::{ConfigError, Problem};
use super::{CONFIG_FILE_ENV, Config, ENV_PREFIX};

/// Where a setting's value came from, the last layer winning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// The TOML file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("the default"),
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// figment's names for the layers.
const DEFAULT: &str = "default";
const FILE: &str = "TOML file";
const ENV: &str = "environment variable";
const FLAG: &str = "flag";

impl Origin {
    /// The figment metadata of a layer from here.
    fn metadata(&self) -> Metadata {
        match self {
            Origin::Default => Metadata::named(DEFAULT),
            Origin::File(path) => Metadata::from(FILE, path.as_path()),
            Origin::Env(name) => Metadata::from(ENV, name.as_str()),
            Origin::Flag(flag) => Metadata::from(FLAG, flag.as_str()),
        }
    }

    /// Where a value came from, from the metadata figment kept for it.
    pub(super) fn of(metadata: &Metadata) -> Self {
        match (metadata.name.as_ref(), &metadata.source) {
            (FILE, Some(Source::File(path))) => Origin::File(path.clone()),
            (ENV, Some(Source::Custom(name))) => Origin::Env(name.clone()),
            (FLAG, Some(Source::Custom(flag))) => Origin::Flag(flag.clone()),
            _ => Origin::Default,
        }
    }
}

/// The layers to merge over the defaults.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// The TOML file, if any.
    pub file: Option<PathBuf>,
    /// Environment variables (all of them; only `LICENSE_…` ones are read).
    pub env: Vec<(String, String)>,
    /// Flags: (TOML key, flag name, value).
    pub flags: Vec<(String, String, String)>,
}

impl Sources {
    /// The process environment, and the file named by `--config` or else `LICENSE_CONFIG`.
    pub fn from_process(config_flag: Option<PathBuf>) -> Self {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let file = config_flag.or_else(|| {
            env.iter()
                .find(|(k, v)| k == CONFIG_FILE_ENV && !v.is_empty())
                .map(|(_, v)| PathBuf::from(v))
        });
        Self {
            file,
            env,
            flags: Vec::new(),
        }
    }

    /// Adds a flag's value for the setting `key`.
    pub fn flag(mut self, key: &str, flag: &str, value: impl Into<String>) -> Self {
        self.flags.push((key.into(), flag.into(), value.into()));
        self
    }
}

/// A loaded configuration, with the warnings to log once logging is set up.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Things worth a warning (unknown `LICENSE_…` variables).
    pub warnings: Vec<String>,
    /// Where each setting came from.
    pub origins: BTreeMap<String, Origin>,
}

/// The environment variable of a TOML key: `server.listen` → `LICENSE_SERVER__LISTEN`.
pub fn env_var(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_uppercase().replace('.', "__"))
}

impl Config {
    /// Merges `sources` over the defaults, in the order defaults → file → environment → flags.
    pub fn load(sources: &Sources) -> Result<Loaded, ConfigError> {
        let settings = flatten(&default_table());
        let mut figment = Figment::from(Layer(
            Origin::Default,
            Serialized::defaults(Config::default()),
        ));
        let mut problems = Vec::new();
        let mut warnings = Vec::new();

        if let Some(path) = &sources.file {
            let origin = Origin::File(path.clone());
            let table = read_file(path)?;
            for (key, value) in flatten(&table) {
                let reason = match settings.get(&key) {
                    None => "is not a setting (see `license-server config example`)".to_owned(),
                    Some(default) if default.type_str() != value.type_str() => {
                        format!("must be {}", a_type(default))
                    }
                    Some(_) => continue,
                };
                problems.push(Problem::new(key, reason).from(origin.clone()));
            }
            // With a problem, the file is never extracted; without, all of it is good.
            figment = figment.merge(Layer(origin, Serialized::defaults(Value::Table(table))));
        }

        for (name, raw) in &sources.env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if name == CONFIG_FILE_ENV || CLI_ENV_VARS.contains(&name.as_str()) {
                continue;
            }
            let key = rest.to_lowercase().replace("__", ".");
            let origin = Origin::Env(name.clone());
            match settings.get(&key) {
                None => warnings.push(unknown_env_warning(name, &settings)),
                Some(default) => match parse_as(default, raw) {
                    Ok(value) => {
                        figment = figment.merge(Layer(origin, Serialized::default(&key, value)))
                    }
                    Err(reason) => problems.push(Problem::new(key, reason).from(origin)),
                },
            }
        }

        for (key, flag, raw) in &sources.flags {
            let origin = Origin::Flag(flag.clone());
            match settings.get(key) {
                None => problems.push(Problem::new(key, "is not a setting").from(origin)),
                Some(default) => match parse_as(default, raw) {
                    Ok(value) => {
                        figment = figment.merge(Layer(origin, Serialized::default(key, value)))
                    }
                    Err(reason) => problems.push(Problem::new(key, reason).from(origin)),
                },
            }
        }

        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        let config: Config = figment.extract().map_err(|e| {
            ConfigError::Invalid(e.into_iter().map(|e| Problem::rejected(&e)).collect())
        })?;
        let origins: BTreeMap<String, Origin> = settings
            .keys()
            .map(|key| {
                let origin = figment
                    .find_metadata(key)
                    .map_or(Origin::Default, Origin::of);
                (key.clone(), origin)
            })
            .collect();
        let problems: Vec<Problem> = config
            .validate()
            .into_iter()
            .map(|mut p| {
                p.origin = origins.get(&p.key).cloned();
                p
            })
            .collect();
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        Ok(Loaded {
            config,
            warnings,
            origins,
        })
    }
}

/// One layer's values as a figment provider, labelled with where they came from, so that
/// figment's provenance names the file, the variable or the flag. No `Debug`: values may be
/// secrets.
struct Layer<T>(Origin, Serialized<T>);

impl<T: Serialize> Provider for Layer<T> {
    fn metadata(&self) -> Metadata {
        self.0.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        self.1.data()
    }
}

/// The defaults as a TOML table. Serialising plain structs of strings, numbers and booleans
/// cannot fail; an empty table would only make every key unknown, loudly.
pub(crate) fn default_table() -> Table {
    Table::try_from(Config::default()).unwrap_or_default()
}

/// Every leaf of `table` by dotted key.
pub(crate) fn flatten(table: &Table) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, table: &Table, out: &mut BTreeMap<String, Value>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Table(inner) => walk(&key, inner, out),
                leaf => {
                    out.insert(key, leaf.clone());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", table, &mut out);
    out
}

fn read_file(path: &Path) -> Result<Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    text.parse::<Table>().map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Reads an environment or flag value as the type of the setting's default. Values are not
/// echoed for strings (they may be secrets).
fn parse_as(default: &Value, raw: &str) -> Result<Value, String> {
    match default {
        Value::String(_) => Ok(Value::String(raw.to_owned())),
        Value::Integer(_) => raw
            .trim()
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| format!("must be an integer, got {raw:?}")),
        Value::Boolean(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Boolean(true)),
            "false" => Ok(Value::Boolean(false)),
            _ => Err(format!("must be true or false, got {raw:?}")),
        },
        Value::Float(_) => raw
            .trim()
            .parse::<f64>()
            .map(Value::Float)
            .map_err(|_| format!("must be a number, got {raw:?}")),
        other => Err(format!(
            "{} setting cannot be set from the environment",
            a_type(other)
        )),
    }
}

fn a_type(value: &Value) -> String {
    let name = value.type_str();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

/// Variables of the `license` CLI, which shares the prefix: set in the same shell, they are not
/// the server's business and deserve no warning.
const CLI_ENV_VARS: &[&str] = &[
    "LICENSE_SERVER",
    "LICENSE_TOKEN",
    "LICENSE_TENANT",
    "LICENSE_KEY",
    "LICENSE_SESSION_ID",
    "LICENSE_SERVER_BIN",
];

fn unknown_env_warning(name: &str, leaves: &BTreeMap<String, Value>) -> String {
    let flat = |s: &str| s.replace("__", "_");
    let suggestion = leaves
        .keys()
        .map(|k| env_var(k))
        .find(|candidate| flat(candidate) == flat(name));
    match suggestion {
        Some(s) => format!("ignoring the unknown environment variable {name}: did you mean {s}?"),
        None => format!(
            "ignoring the unknown environment variable {name} (see `license-server config example`)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Sources {
        Sources {
            env: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Sources::default()
        }
    }

    fn problems(result: Result<Loaded, ConfigError>) -> Vec<Problem> {
        match result {
            Err(ConfigError::Invalid(problems)) => problems,
            other => panic!("expected invalid settings, got {other:?}"),
        }
    }

    #[test]
    fn env_nests_with_double_underscores() {
        let loaded = Config::load(&env(&[
            ("LICENSE_AUTH__OIDC__TENANT_CLAIM", "org"),
            ("LICENSE_DATA_DIR", "/var/lib/license"),
            ("LICENSE_REAPER__ENABLED", "false"),
        ]))
        .unwrap();
        assert_eq!(loaded.config.auth.oidc.tenant_claim, "org");
        assert_eq!(loaded.config.data_dir, PathBuf::from("/var/lib/license"));
        assert!(!loaded.config.reaper.enabled);
        assert_eq!(
            loaded.origins["data_dir"],
            Origin::Env("LICENSE_DATA_DIR".into())
        );
    }

    #[test]
    fn bad_values_name_the_toml_key_and_the_env_var() {
        let found = problems(Config::load(&env(&[
            ("LICENSE_SERVER__BODY_LIMIT_BYTES", "lots"),
            ("LICENSE_REAPER__BATCH", "0"),
        ])));
        assert_eq!(found.len(), 1, "type errors stop before validation");
        let text = found[0].to_string();
        assert!(text.contains("`server.body_limit_bytes`"), "{text}");
        assert!(text.contains("LICENSE_SERVER__BODY_LIMIT_BYTES"), "{text}");

        let found = problems(Config::load(&env(&[
            ("LICENSE_REAPER__BATCH", "0"),
            ("LICENSE_LOG__FORMAT", "xml"),
        ])));
        let text = found[0].to_string();
        assert!(text.contains("`log.format`"), "{text}");
        assert!(text.contains("LICENSE_LOG__FORMAT"), "{text}");
        assert!(text.contains("unknown variant"), "{text}");

        let found = problems(Config::load(&env(&[("LICENSE_REAPER__BATCH", "0")])));
        assert_eq!(found[0].key, "reaper.batch");
        assert!(found[0].to_string().contains("LICENSE_REAPER__BATCH"));
    }

    #[test]
    fn every_bad_setting_is_reported() {
        let found = problems(Config::load(&env(&[
            ("LICENSE_REAPER__BATCH", "0"),
            ("LICENSE_REAPER__INTERVAL_SECONDS", "0"),
            ("LICENSE_ISSUER", " "),
        ])));
        let keys: Vec<_> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["issuer", "reaper.interval_seconds", "reaper.batch"]);
    }

    #[test]
    fn unknown_env_vars_are_warned_about_not_fatal() {
        let loaded = Config::load(&env(&[
            ("LICENSE_SERVER_LISTEN", "0.0.0.0:1"),
            ("LICENSE_NOPE", "1"),
            ("LICENSE_CONFIG", ""),
            ("HOME", "/root"),
        ]))
        .unwrap();
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("did you mean LICENSE_SERVER__LISTEN?"));
        assert_eq!(loaded.config, Config::default());
    }

    #[test]
    fn unknown_and_mistyped_file_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("license.toml");
        std::fs::write(
            &path,
            "[server]\nlisen = \"x\"\nbody_limit_bytes = \"big\"\n",
        )
        .unwrap();
        let found = problems(Config::load(&Sources {
            file: Some(path.clone()),
            ..Sources::default()
        }));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].key, "server.body_limit_bytes");
        assert_eq!(found[0].reason, "must be an integer");
        assert_eq!(found[1].key, "server.lisen");
        assert_eq!(found[1].origin, Some(Origin::File(path)));
    }

    #[test]
    fn env_values_are_read_as_the_type_of_their_setting() {
        let loaded = Config::load(&env(&[
            ("LICENSE_AUTH__OIDC__AUDIENCE", "123456"),
            ("LICENSE_ISSUER", "\"quoted\" "),
            ("LICENSE_REAPER__ENABLED", " FALSE "),
            ("LICENSE_SIGNER__RETIRED_KEYS", "old.json, gcpkms://k/1"),
        ]))
        .unwrap();
        assert_eq!(loaded.config.auth.oidc.audience, "123456");
        assert_eq!(loaded.config.issuer, "\"quoted\" ");
        assert!(!loaded.config.reaper.enabled);
        let retired: Vec<_> = loaded.config.signer.retired_key_sources().collect();
        assert_eq!(retired, ["old.json", "gcpkms://k/1"]);
    }

    #[test]
    fn values_serde_rejects_name_the_key_and_the_layer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("license.toml");
        std::fs::write(&path, "[reaper]\nbatch = -3\n").unwrap();
        let found = problems(Config::load(&Sources {
            file: Some(path.clone()),
            ..Sources::default()
        }));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, "reaper.batch");
        assert_eq!(found[0].reason, "invalid value: integer `-3`, expected u32");
        assert_eq!(found[0].origin, Some(Origin::File(path)));

        let found = problems(Config::load(&Sources::default().flag(
            "signer.algorithm",
            "--algorithm",
            "HS256",
        )));
        assert_eq!(
            found[0].reason,
            "unknown variant `HS256`, expected one of `EdDSA`, `RS256`, `PS256`, `ES256`"
        );
        assert_eq!(found[0].origin, Some(Origin::Flag("--algorithm".into())));
    }

    #[test]
    fn secret_values_are_not_echoed() {
        let found = problems(Config::load(&env(&[
            ("LICENSE_STORE__URL", "postgres://app:hunter2@db/x"),
            ("LICENSE_REAPER__BATCH", "0"),
        ])));
        assert!(!format!("{found:?}").contains("hunter2"));
    }
}
