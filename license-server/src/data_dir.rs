//! The data directory of the embedded default: the local signing key, the operator token and
//! the SQLite file live there. It is created owner-only, and files in it are written once,
//! owner-only, never overwritten.

use std::io::Write as _;
use std::path::Path;

use crate::compose::ComposeError;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_directory_is_created_with_its_parents_and_again_without_error() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("data");
        ensure_data_dir(&dir).unwrap();
        ensure_data_dir(&dir).unwrap();
        assert!(dir.is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
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
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
