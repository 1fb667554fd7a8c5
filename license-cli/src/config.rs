//! Connection settings: `--server`, `--token`, `--tenant` flags, else `LICENSE_SERVER`,
//! `LICENSE_TOKEN`, `LICENSE_TENANT`, else the file `license login` writes
//! (`$XDG_CONFIG_HOME/license/config.toml`, or `~/.config/license/config.toml`), mode 0600.
//! clap merges flags over environment variables; this module adds the file underneath.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cli::ConnectionArgs;
use crate::error::{Error, Result};

/// The server's default listen address, used when nothing names a server.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// The file `license login` writes.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Base URL of the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The bearer credential.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The tenant the operator acts on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

impl fmt::Debug for FileConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileConfig")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// Where and as whom to connect, after layering.
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    /// Base URL, without a trailing slash.
    pub server: String,
    /// The bearer credential, if any.
    pub token: Option<String>,
    /// The tenant sent as `X-Tenant-Id`, if any.
    pub tenant: Option<String>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// The config file's path: `$XDG_CONFIG_HOME/license/config.toml`, else
/// `$HOME/.config/license/config.toml`.
pub fn config_path() -> Result<PathBuf> {
    path_from(
        std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

fn path_from(xdg: Option<PathBuf>, home: Option<PathBuf>) -> Result<PathBuf> {
    // The XDG spec says to ignore a relative XDG_CONFIG_HOME.
    let base = match (xdg, home) {
        (Some(xdg), _) if xdg.is_absolute() => xdg,
        (_, Some(home)) if !home.as_os_str().is_empty() => home.join(".config"),
        _ => {
            return Err(Error::Other(
                "cannot find the config directory: set XDG_CONFIG_HOME or HOME".into(),
            ));
        }
    };
    Ok(base.join("license").join("config.toml"))
}

/// Reads the config file; `None` when it does not exist.
pub fn load(path: &Path) -> Result<Option<FileConfig>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("cannot read the config file", path, e)),
    };
    warn_if_readable_by_others(path);
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| Error::Other(format!("bad config file {}: {e}", path.display())))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: {} holds a credential but others may read it; run `chmod 600` on it",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Flags and environment (already merged by clap) over the file; the file is read only when
/// something is missing.
pub fn resolve(args: &ConnectionArgs) -> Result<Connection> {
    let file = if args.server.is_some() && args.token.is_some() && args.tenant.is_some() {
        FileConfig::default()
    } else {
        load(&config_path()?)?.unwrap_or_default()
    };
    Ok(layer(args, file))
}

fn layer(args: &ConnectionArgs, file: FileConfig) -> Connection {
    let non_empty = |v: &Option<String>| v.as_ref().filter(|s| !s.trim().is_empty()).cloned();
    let server = non_empty(&args.server)
        .or(file.server)
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    Connection {
        server: server.trim().trim_end_matches('/').to_owned(),
        token: non_empty(&args.token)
            .or(file.token)
            .map(|t| t.trim().to_owned()),
        tenant: non_empty(&args.tenant)
            .or(file.tenant)
            .map(|t| t.trim().to_owned()),
    }
}

/// Writes the config file, readable by its owner only (0600, in a 0700 directory). The file is
/// replaced atomically, so a crash never leaves half a credential.
pub fn save(path: &Path, config: &FileConfig) -> Result<()> {
    let text = toml::to_string(config)
        .map_err(|e| Error::Other(format!("cannot encode the config file: {e}")))?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| Error::io("cannot create the config directory", dir, e))?;

    let tmp = dir.join(format!(".config.toml.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("cannot write the config file", path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(server: Option<&str>, token: Option<&str>, tenant: Option<&str>) -> ConnectionArgs {
        ConnectionArgs {
            server: server.map(str::to_owned),
            token: token.map(str::to_owned),
            tenant: tenant.map(str::to_owned),
        }
    }

    #[test]
    fn flags_and_env_win_over_the_file_which_wins_over_the_default() {
        let file = FileConfig {
            server: Some("http://file:1".into()),
            token: Some("file-token".into()),
            tenant: Some("file-tenant".into()),
        };
        let c = layer(&args(Some("http://flag:2/"), None, None), file.clone());
        assert_eq!(c.server, "http://flag:2");
        assert_eq!(c.token.as_deref(), Some("file-token"));
        assert_eq!(c.tenant.as_deref(), Some("file-tenant"));

        let c = layer(&args(None, Some("flag-token"), Some("t")), file);
        assert_eq!(c.server, "http://file:1");
        assert_eq!(c.token.as_deref(), Some("flag-token"));
        assert_eq!(c.tenant.as_deref(), Some("t"));

        let c = layer(&args(None, None, None), FileConfig::default());
        assert_eq!(c.server, DEFAULT_SERVER);
        assert_eq!(c.token, None);
    }

    #[test]
    fn the_path_follows_xdg_then_home() {
        let p = path_from(Some("/xdg".into()), Some("/home/u".into())).unwrap();
        assert_eq!(p, Path::new("/xdg/license/config.toml"));
        let p = path_from(Some("relative".into()), Some("/home/u".into())).unwrap();
        assert_eq!(p, Path::new("/home/u/.config/license/config.toml"));
        assert!(path_from(None, None).is_err());
    }

    #[test]
    fn saved_files_are_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("license").join("config.toml");
        let config = FileConfig {
            server: Some("http://127.0.0.1:9".into()),
            token: Some("op_secret".into()),
            tenant: None,
        };
        save(&path, &config).unwrap();
        assert_eq!(load(&path).unwrap(), Some(config));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{:?}", load(&path).unwrap()).contains("op_secret"));
    }
}
