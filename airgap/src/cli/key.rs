//! `outpost-airgap key rotate`: hands the vendor's signing over to a new key, in a key
//! rotation document signed by the old one (the key consoles have pinned).

use std::path::PathBuf;

use super::license::rfc3339;
use super::{now, CliError};
use crate::document::{open, SCHEMA};
use crate::keys::SigningKey;
use crate::rotation::KeyRotation;
use crate::vendor::{write_new_atomic, VendorDir, VendorError};

/// Arguments of `key rotate`.
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// The current private key (vendor.key), the one consoles have pinned: it signs the
    /// rotation.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The new private key (`keygen --out DIR` writes one): its public key is what the
    /// rotation hands over to.
    #[arg(long, value_name = "FILE")]
    pub new_key: PathBuf,
    /// Also store the rotation in this vendor dir (keys/rotations/<old_keyid>.json, with
    /// the old public key as keys/<old_keyid>.pub), where `serve` hands it to consoles and
    /// `channel publish` and `channel advise` follow it from an index the old key signed.
    #[arg(long, value_name = "VENDORDIR")]
    pub root: Option<PathBuf>,
    /// Where to write the signed rotation file (never overwritten).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Signs the rotation from `--key` to `--new-key`, writes it to `--out` and stores it in
/// the vendor dir with `--root`.
pub fn rotate(args: RotateArgs) -> Result<(), CliError> {
    let old = SigningKey::read(&args.key)?;
    let new = SigningKey::read(&args.new_key)?;
    let (old_public, new_public) = (old.public(), new.public());
    let (old_keyid, new_keyid) = (old_public.keyid(), new_public.keyid());
    if old_keyid == new_keyid {
        return Err(CliError::Invalid(format!(
            "--key and --new-key are the same key ({old_keyid}); make a new key with \
             `outpost-airgap keygen --out DIR`"
        )));
    }
    let exists = || {
        CliError::Refused(format!(
            "{} already exists; key rotate never overwrites a file (choose another --out)",
            args.out.display()
        ))
    };
    if args.out.symlink_metadata().is_ok() {
        return Err(exists());
    }
    let vendor = args.root.as_ref().map(VendorDir::new);
    if let Some(vendor) = &vendor {
        if vendor.read_rotation(&old_keyid)?.is_some() {
            return Err(CliError::Refused(format!(
                "the vendor dir already holds a key rotation from key {old_keyid} ({}); a key \
                 is rotated once",
                vendor.rotation_path(&old_keyid)?.display()
            )));
        }
    }

    let now = now();
    let rotation = KeyRotation {
        schema: SCHEMA,
        old_keyid: old_keyid.clone(),
        new_key: new_public.to_base64(),
        issued_at: now,
    };
    let bytes = crate::seal(&rotation, &old).to_bytes();
    // As a console will open it: with the old key.
    open::<KeyRotation>(&bytes, &old_public, now)
        .map_err(|e| CliError::Invalid(format!("the key rotation would not be valid: {e}")))?;
    write_new_atomic(&args.out, &bytes, 0o644).map_err(|e| match e {
        VendorError::Write { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists => {
            exists()
        }
        other => other.into(),
    })?;

    println!("Key rotation from {old_keyid} to {new_keyid}");
    println!("Wrote {} (issued {})", args.out.display(), rfc3339(now));
    if let Some(vendor) = &vendor {
        let key_path = vendor.store_public_key(&old_public)?;
        let stored = vendor.store_rotation(&bytes)?;
        println!("Stored {} and {}", stored.display(), key_path.display());
    }
    println!(
        "From now on sign licenses, releases and channel indexes with the new key {} \
         ({new_keyid}); consoles that pinned {old_keyid} take it over from this rotation \
         (`serve` hands it out; airgapped consoles load the file).",
        args.new_key.display()
    );
    Ok(())
}
