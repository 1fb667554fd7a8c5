//! The operator's bootstrap credential: `auth.operator_token` from the configuration, or a
//! token generated on first start into `<data_dir>/operator-token` (mode 0600).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::compose::ComposeError;
use crate::config::{AuthConfig, Config, Secret};
use crate::data_dir::{ensure_data_dir, ensure_private_file, write_private_file};

/// The file name of a generated operator token, inside the data directory.
pub const OPERATOR_TOKEN_FILE: &str = "operator-token";

/// Where the operator credential came from (for the start-up message; never the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperatorSource {
    /// `auth.operator_token`.
    Config,
    /// A file in the data directory (generated now or on an earlier start).
    File(PathBuf),
}

/// The operator credential.
#[derive(Clone, Debug)]
pub struct OperatorCredential {
    /// The token.
    pub token: Secret,
    /// Where it came from.
    pub source: OperatorSource,
}

/// The configured token, else the one in the data directory, else a new one written there.
pub fn resolve(config: &Config) -> Result<OperatorCredential, ComposeError> {
    if !config.auth.operator_token.is_empty() {
        return Ok(OperatorCredential {
            token: config.auth.operator_token.clone(),
            source: OperatorSource::Config,
        });
    }
    ensure_data_dir(&config.data_dir)?;
    let path = config.data_dir.join(OPERATOR_TOKEN_FILE);
    let token = read_or_create(&path)?;
    Ok(OperatorCredential {
        token,
        source: OperatorSource::File(path),
    })
}

fn read_or_create(path: &Path) -> Result<Secret, ComposeError> {
    let io = |what, source| ComposeError::DataDir {
        what,
        path: path.to_owned(),
        source,
    };
    ensure_private_file(path);
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().chars().count() >= AuthConfig::MIN_OPERATOR_TOKEN_LEN => {
            Ok(Secret::new(text.trim()))
        }
        Ok(text) if text.trim().is_empty() => Err(io(
            "the operator token file is empty; delete it to generate a new one:",
            std::io::Error::other("empty file"),
        )),
        Ok(_) => Err(io(
            "the operator token file holds fewer than 32 characters; delete it to generate a new one:",
            std::io::Error::other("token too short"),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = generate().map_err(|e| io("cannot generate the operator token", e))?;
            match write_private_file(path, format!("{token}\n").as_bytes()) {
                Ok(()) => Ok(Secret::new(token)),
                // Another replica wrote it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_or_create(path),
                Err(e) => Err(io("cannot write the operator token", e)),
            }
        }
        Err(e) => Err(io("cannot read the operator token", e)),
    }
}

fn generate() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| std::io::Error::other("the system random generator failed"))?;
    Ok(format!("op_{}", URL_SAFE_NO_PAD.encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_read_back_private() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let first = resolve(&config).unwrap();
        let again = resolve(&config).unwrap();
        assert_eq!(first.token, again.token);
        assert!(first.token.expose().starts_with("op_"));
        let OperatorSource::File(path) = &first.source else {
            panic!("expected a file")
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_token_file_shorter_than_the_minimum_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        ensure_data_dir(&config.data_dir).unwrap();
        let path = config.data_dir.join(OPERATOR_TOKEN_FILE);
        std::fs::write(&path, "op_short\n").unwrap();
        let e = resolve(&config).unwrap_err().to_string();
        assert!(e.contains("fewer than 32 characters"), "{e}");
        assert!(!e.contains("op_short"), "never the token: {e}");
    }

    #[test]
    fn a_configured_token_wins_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        config.auth.operator_token = Secret::new("op_configured-and-at-least-32-chars");
        let credential = resolve(&config).unwrap();
        assert_eq!(credential.source, OperatorSource::Config);
        assert!(!config.data_dir.exists());
    }
}
