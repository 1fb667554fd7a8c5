//! `license keys generate`: a local signing key for the embedded or an air-gapped server, in the
//! format the server loads (`license-server/src/keys.rs`): PKCS#8 DER, file mode 0600, read
//! from `<data_dir>/signing-key-<algorithm>.pk8` with `signer.algorithm` set to match.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use license_core::{LocalSigner, PublicJwk, Signer as _, SigningAlgorithm};
use serde::Serialize;

use crate::cli::{AlgorithmArg, KeysCommand, KeysGenerateArgs, OutputFormat};
use crate::error::{Error, Result};
use crate::output::{Fields, emit};

#[derive(Debug, Serialize)]
struct Generated {
    path: PathBuf,
    algorithm: SigningAlgorithm,
    kid: String,
    /// The file name the server looks for in its data directory.
    server_file_name: String,
    public_jwk: PublicJwk,
}

/// Runs a `keys` subcommand.
pub fn run(command: KeysCommand, format: OutputFormat) -> Result<u8> {
    match command {
        KeysCommand::Generate(args) => generate(args, format),
    }
}

fn algorithm(arg: AlgorithmArg) -> SigningAlgorithm {
    match arg {
        AlgorithmArg::EdDSA => SigningAlgorithm::EdDSA,
        AlgorithmArg::RS256 => SigningAlgorithm::RS256,
        AlgorithmArg::PS256 => SigningAlgorithm::PS256,
        AlgorithmArg::ES256 => SigningAlgorithm::ES256,
    }
}

/// The file name the server reads for `algorithm` (see `keys::signing_key_path` in license-server).
pub fn server_file_name(algorithm: SigningAlgorithm) -> String {
    format!(
        "signing-key-{}.pk8",
        algorithm.as_str().to_ascii_lowercase()
    )
}

fn generate(args: KeysGenerateArgs, format: OutputFormat) -> Result<u8> {
    let algorithm = algorithm(args.algorithm);
    if !args.force && args.out.exists() {
        return Err(Error::Other(format!(
            "{} already exists; pass --force to overwrite it",
            args.out.display()
        )));
    }
    let signer = LocalSigner::generate(algorithm)
        .map_err(|e| Error::Other(format!("cannot generate the key: {e}")))?;
    write_private(&args.out, &signer.to_pkcs8(), args.force)?;
    let generated = Generated {
        path: args.out,
        algorithm,
        kid: signer.key_id().to_owned(),
        server_file_name: server_file_name(algorithm),
        public_jwk: signer.public_jwk(),
    };
    emit(format, &generated, |g| {
        let mut fields = Fields::new();
        fields
            .add(
                "wrote",
                format!("{} (PKCS#8 DER, mode 0600)", g.path.display()),
            )
            .add("algorithm", g.algorithm.as_str())
            .add("kid", &g.kid);
        let jwk = serde_json::to_string_pretty(&g.public_jwk).unwrap_or_default();
        format!(
            "{}\nThe server loads it as <data_dir>/{} with signer.algorithm = \"{}\".\n\
             Public JWK:\n{jwk}\n",
            fields.render(),
            g.server_file_name,
            g.algorithm
        )
    })?;
    Ok(0)
}

/// Writes `bytes` readable by the owner only. Without `force` the file must not exist (checked
/// atomically); with it, the key goes to a temporary file renamed over the old one.
fn write_private(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    let open = |target: &Path, create_new: bool| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        if create_new {
            options.create_new(true);
        } else {
            options.create(true).truncate(true);
        }
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(target)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    if !force {
        return open(path, true).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::Other(format!(
                "{} already exists; pass --force to overwrite it",
                path.display()
            )),
            _ => Error::io("cannot write the key to", path, e),
        });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "key".into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = open(&tmp, false).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("cannot write the key to", path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_name_matches_the_servers() {
        assert_eq!(
            server_file_name(SigningAlgorithm::EdDSA),
            "signing-key-eddsa.pk8"
        );
        assert_eq!(
            server_file_name(SigningAlgorithm::ES256),
            "signing-key-es256.pk8"
        );
    }

    #[test]
    fn force_replaces_the_key_and_keeps_it_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pk8");
        write_private(&path, b"one", false).unwrap();
        assert!(write_private(&path, b"two", false).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_private(&path, b"two", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
