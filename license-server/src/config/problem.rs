//! What is wrong with a configuration, said so an operator can fix it: each bad setting by
//! TOML key, environment variable and the layer that set it.

use std::fmt;
use std::path::PathBuf;

use figment::error::{Actual, Kind};

use super::layers::{Origin, env_var};

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

    /// Notes where the bad value came from.
    pub(super) fn from(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// A value serde rejected, from figment's error: the key, the reason, the layer.
    pub(super) fn rejected(error: &figment::Error) -> Self {
        Self {
            key: if error.path.is_empty() {
                "(unknown key)".into()
            } else {
                error.path.join(".")
            },
            reason: reason(&error.kind),
            origin: error.metadata.as_ref().map(Origin::of),
        }
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

/// The reason serde gave, in serde's own words as toml printed them. figment's `Display` of
/// the same error doubles the back-ticks around enum variants and appends the key and the
/// layer, which [`Problem`] prints its own way.
fn reason(kind: &Kind) -> String {
    match kind {
        Kind::Message(message) => message.clone(),
        Kind::InvalidType(actual, expected) => {
            format!("invalid type: {}, expected {expected}", unexpected(actual))
        }
        Kind::InvalidValue(actual, expected) => {
            format!("invalid value: {}, expected {expected}", unexpected(actual))
        }
        Kind::UnknownVariant(variant, expected) => {
            format!("unknown variant `{variant}`, expected {}", one_of(expected))
        }
        other => other.to_string(),
    }
}

fn unexpected(actual: &Actual) -> String {
    match actual {
        Actual::Unsigned(n) => format!("integer `{n}`"),
        Actual::Signed(n) => format!("integer `{n}`"),
        Actual::Float(x) => format!("floating point `{x}`"),
        Actual::Bool(b) => format!("boolean `{b}`"),
        other => other.to_string(),
    }
}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => "there are no variants".into(),
        [name] => format!("`{name}`"),
        [first, second] => format!("`{first}` or `{second}`"),
        _ => {
            let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!("one of {}", quoted.join(", "))
        }
    }
}
