//! Configuration layering by hand on `toml` + serde: the defaults are serialised to a TOML
//! table, the file, the `LICENSE_…` environment and the flags are merged over it leaf by leaf
//! (each checked against the default's type), and the result is deserialised into [`Config`].
//! Knowing every leaf lets us name the TOML key *and* the environment variable in each error,
//! remember where each value came from, and warn about unknown `LICENSE_…` variables.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

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

/// One bad setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The TOML key (`server.listen`).
    pub key: String,
    /// What is wrong.
    pub reason: String,
    /// Where the bad value came from, when known.
    pub origin: Option<Origin>,
}

impl Problem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
            origin: None,
        }
    }

    fn from(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// The environment variable of the key (`LICENSE_SERVER__LISTEN`).
    pub fn env_var(&self) -> String {
        env_var(&self.key)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` (environment variable {}): {}",
            self.key,
            self.env_var(),
            self.reason
        )?;
        if let Some(origin) = &self.origin {
            write!(f, " [set by {origin}]")?;
        }
        Ok(())
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("the config file {} is not valid TOML: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// One or more settings are wrong.
    #[error("invalid configuration:{}", bullet_list(.0))]
    Invalid(Vec<Problem>),
}

fn bullet_list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  - {p}")).collect()
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
        let defaults = default_table();
        let leaves = flatten(&defaults);
        let mut merged = defaults;
        let mut origins: BTreeMap<String, Origin> = leaves
            .keys()
            .map(|k| (k.clone(), Origin::Default))
            .collect();
        let mut problems = Vec::new();
        let mut warnings = Vec::new();

        if let Some(path) = &sources.file {
            let origin = Origin::File(path.clone());
            for (key, value) in flatten(&read_file(path)?) {
                match leaves.get(&key) {
                    None => problems.push(
                        Problem::new(
                            key,
                            "is not a setting (see `license-server config example`)",
                        )
                        .from(origin.clone()),
                    ),
                    Some(default) if default.type_str() != value.type_str() => problems.push(
                        Problem::new(key, format!("must be {}", a_type(default)))
                            .from(origin.clone()),
                    ),
                    Some(_) => {
                        set(&mut merged, &key, value);
                        origins.insert(key, origin.clone());
                    }
                }
            }
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
            match leaves.get(&key) {
                None => warnings.push(unknown_env_warning(name, &leaves)),
                Some(default) => match parse_as(default, raw) {
                    Ok(value) => {
                        set(&mut merged, &key, value);
                        origins.insert(key, origin);
                    }
                    Err(reason) => problems.push(Problem::new(key, reason).from(origin)),
                },
            }
        }

        for (key, flag, raw) in &sources.flags {
            let origin = Origin::Flag(flag.clone());
            match leaves.get(key) {
                None => problems.push(Problem::new(key, "is not a setting").from(origin)),
                Some(default) => match parse_as(default, raw) {
                    Ok(value) => {
                        set(&mut merged, key, value);
                        origins.insert(key.clone(), origin);
                    }
                    Err(reason) => problems.push(Problem::new(key, reason).from(origin)),
                },
            }
        }

        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        let config: Config = Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| {
                let (key, reason) = split_toml_error(&e);
                let origin = origins.get(&key).cloned();
                ConfigError::Invalid(vec![Problem {
                    key,
                    reason,
                    origin,
                }])
            })?;
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

fn set(table: &mut Table, key: &str, value: Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut current = table;
    for part in parts {
        let entry = current
            .entry(part.to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        let Value::Table(inner) = entry else { return };
        current = inner;
    }
    current.insert(last.to_owned(), value);
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

/// toml's deserialisation errors end with "in `key`"; split that off.
fn split_toml_error(e: &toml::de::Error) -> (String, String) {
    let text = e.to_string();
    let key = text
        .rsplit_once("in `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(key, _)| key.to_owned());
    (
        key.unwrap_or_else(|| "(unknown key)".into()),
        e.message().trim().to_owned(),
    )
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
    fn secret_values_are_not_echoed() {
        let found = problems(Config::load(&env(&[
            ("LICENSE_STORE__URL", "postgres://app:hunter2@db/x"),
            ("LICENSE_REAPER__BATCH", "0"),
        ])));
        assert!(!format!("{found:?}").contains("hunter2"));
    }
}
