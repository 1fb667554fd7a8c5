//! The data directory of the embedded default: the local signing key, the operator token and
//! the SQLite file live there. The directory is owner-only (0700) and so is every file the
//! server keeps in it (0600): created so, and put back so on every start if someone loosened
//! them (a directory made by hand with 0755, a database copied in with 0644), with a warning
//! naming what changed. Files are written once, never overwritten.

use std::io::Write as _;
use std::path::Path;

use crate::compose::ComposeError;

/// The embedded database's file name, inside the data directory.
pub const DATABASE_FILE: &str = "license.db";

/// The files SQLite keeps beside a database: its write-ahead log, the log's shared-memory
/// index, and the rollback journal.
const SQLITE_COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Mode of the data directory: the owner only.
#[cfg(unix)]
const PRIVATE_DIR: u32 = 0o700;
/// Mode of every file in it: the owner only, no execution.
#[cfg(unix)]
const PRIVATE_FILE: u32 = 0o600;

/// Creates the data directory (owner-only) if it is missing, and makes it owner-only if it is
/// not. A mode the server cannot change (a volume owned by another user) is logged, not fatal.
pub fn ensure_data_dir(dir: &Path) -> Result<(), ComposeError> {
    let io = |source| ComposeError::DataDir {
        what: "cannot create the data directory",
        path: dir.to_owned(),
        source,
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR);
    builder.create(dir).map_err(io)?;
    #[cfg(unix)]
    restrict(dir, PRIVATE_DIR, "the data directory");
    Ok(())
}

/// Makes a file the server keeps in the data directory (a key, the operator token) owner-only
/// if it exists and is not.
pub fn ensure_private_file(path: &Path) {
    #[cfg(unix)]
    if path.exists() {
        restrict(path, PRIVATE_FILE, "a private file of the data directory");
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Makes the embedded SQLite database owner-only before it is opened: creates an empty
/// `db` (a valid empty database) owner-only if it is missing — SQLite gives the log files it
/// makes later the database file's mode — and makes `db` and the log files beside it
/// owner-only if they are not. Called again after opening, it changes nothing unless
/// something did.
pub fn ensure_private_database(db: &Path) -> Result<(), ComposeError> {
    match write_private_file(db, b"") {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(ComposeError::DataDir {
                what: "cannot create the database file",
                path: db.to_owned(),
                source,
            });
        }
    }
    ensure_private_file(db);
    for suffix in SQLITE_COMPANIONS {
        let mut companion = db.as_os_str().to_owned();
        companion.push(suffix);
        ensure_private_file(Path::new(&companion));
    }
    Ok(())
}

/// Sets `path`'s permission bits to `mode` unless they already are, with a warning naming
/// the path and both modes; a failure to change them is a warning too.
#[cfg(unix)]
fn restrict(path: &Path, mode: u32, what: &str) {
    use std::os::unix::fs::PermissionsExt;

    let Ok(metadata) = std::fs::metadata(path) else {
        return;
    };
    let before = metadata.permissions().mode() & 0o7777;
    if before & 0o777 == mode {
        return;
    }
    let shown = |m: u32| format!("{m:04o}");
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        Ok(()) => tracing::warn!(
            path = %path.display(),
            from = shown(before),
            to = shown(mode),
            "{what} was open to other users: made owner-only"
        ),
        Err(e) => tracing::warn!(
            path = %path.display(),
            mode = shown(before),
            error = %e,
            "{what} is open to other users and its mode cannot be changed"
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn the_data_directory_is_created_with_its_parents_and_again_without_error() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("data");
        ensure_data_dir(&dir).unwrap();
        ensure_data_dir(&dir).unwrap();
        assert!(dir.is_dir());
        #[cfg(unix)]
        assert_eq!(mode(&dir), 0o700);
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_open_data_directory_and_database_are_made_owner_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        set_mode(&dir, 0o755);
        let db = dir.join(DATABASE_FILE);
        std::fs::write(&db, b"").unwrap();
        set_mode(&db, 0o644);
        let wal = dir.join("license.db-wal");
        std::fs::write(&wal, b"").unwrap();
        set_mode(&wal, 0o664);

        let warnings = logged(|| {
            ensure_data_dir(&dir).unwrap();
            ensure_private_database(&db).unwrap();
        });

        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&wal), 0o600);
        assert!(
            !dir.join("license.db-shm").exists(),
            "absent companions are not made"
        );
        let changed: Vec<(String, String, String)> = warnings
            .iter()
            .map(|w| {
                let field = |k: &str| w[k].as_str().unwrap_or_default().to_owned();
                (field("path"), field("from"), field("to"))
            })
            .collect();
        let shown = |p: &Path| p.display().to_string();
        assert_eq!(
            changed,
            [
                (shown(&dir), "0755".into(), "0700".into()),
                (shown(&db), "0644".into(), "0600".into()),
                (shown(&wal), "0664".into(), "0600".into()),
            ],
            "one warning per change, naming it: {warnings:?}"
        );
        assert!(warnings.iter().all(|w| w["severity"] == "WARNING"));

        let again = logged(|| {
            ensure_data_dir(&dir).unwrap();
            ensure_private_database(&db).unwrap();
        });
        assert!(
            again.is_empty(),
            "nothing to change, nothing said: {again:?}"
        );
    }

    /// The JSON log lines `f` writes.
    #[cfg(unix)]
    fn logged(f: impl FnOnce()) -> Vec<serde_json::Value> {
        use std::sync::{Arc, Mutex};

        use tracing_subscriber::layer::SubscriberExt as _;

        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::registry().with(crate::telemetry::layer(
            crate::config::LogFormat::Json,
            move || sink.clone(),
        ));
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn a_missing_database_is_created_empty_and_owner_only() {
        let root = tempfile::tempdir().unwrap();
        let db = root.path().join(DATABASE_FILE);
        ensure_private_database(&db).unwrap();
        assert_eq!(std::fs::metadata(&db).unwrap().len(), 0);
        assert_eq!(mode(&db), 0o600);
        // Again: an existing database is kept as it is.
        std::fs::write(&db, b"data").unwrap();
        ensure_private_database(&db).unwrap();
        assert_eq!(std::fs::read(&db).unwrap(), b"data");
    }

    #[test]
    fn a_private_file_is_owner_only_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_private_file(&path, b"first").unwrap();
        let again = write_private_file(&path, b"second").unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
    }
}
