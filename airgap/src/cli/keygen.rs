//! `outpost-airgap keygen`: creates the vendor's signing key pair.

use std::io::Write;
use std::path::PathBuf;

use super::CliError;
use crate::keys::SigningKey;

/// The private key's file name in the `--out` folder.
pub const PRIVATE_KEY_FILE: &str = "vendor.key";
/// The public key's file name in the `--out` folder.
pub const PUBLIC_KEY_FILE: &str = "vendor.pub";

/// Arguments of `keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// The folder to write vendor.key (private, mode 0600) and vendor.pub into; created if
    /// missing. Existing keys are never overwritten.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Writes a new key pair and prints its fingerprint (the key id consoles pin).
pub fn keygen(args: KeygenArgs) -> Result<(), CliError> {
    let private_path = args.out.join(PRIVATE_KEY_FILE);
    let public_path = args.out.join(PUBLIC_KEY_FILE);
    for path in [&private_path, &public_path] {
        if path.symlink_metadata().is_ok() {
            return Err(CliError::Refused(format!(
                "{} already exists; keygen never overwrites a key (move it away first)",
                path.display()
            )));
        }
    }
    create_private_dir(&args.out)?;

    let key = SigningKey::generate();
    key.write_new(&private_path)?;
    let public = key.public();
    write_new_public(&public_path, &public.to_text())?;

    println!(
        "Wrote {} (private: keep it offline, never share it) and {}",
        private_path.display(),
        public_path.display()
    );
    println!("Fingerprint: {}", public.keyid());
    Ok(())
}

fn create_private_dir(dir: &std::path::Path) -> Result<(), CliError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| CliError::Io {
            context: format!("cannot create {}", dir.display()),
            source,
        })
}

fn write_new_public(path: &std::path::Path, text: &str) -> Result<(), CliError> {
    let error = |source| CliError::Io {
        context: format!("cannot write {}", path.display()),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(error)?;
    file.write_all(text.as_bytes()).map_err(error)
}
