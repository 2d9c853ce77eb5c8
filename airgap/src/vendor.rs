//! The vendor directory: what `license issue --root`, `license revoke`, `channel publish`
//! and `channel advise` write and what `serve` reads. Plain files, so a vendor can back it up, look into it, or serve it with
//! anything else:
//!
//! ```text
//! VENDORDIR/
//!   licenses/<license_id>.json            the latest signed license with that id (mode 0600:
//!                                         it holds registry credentials); issuing a license
//!                                         again with the same id replaces it, `license
//!                                         revoke` signs it again marked revoked
//!   channels/<app>/<channel>/index.json   the signed channel index of one app's channel,
//!                                         with its advisories (`channel advise`)
//!   releases/<app>/<sequence>.json        every published release, byte for byte as signed
//!   .lock                                 held while a command writes
//! ```
//!
//! Every name in a path is a [safe name](is_safe_name), so no document can point outside
//! its folder. Every write is atomic (a temporary file in the same folder, fsync, rename),
//! so a reader sees the old file or the new one, never half of one. The files are read
//! with the size limit of their document type.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::channel::{Advisory, ChannelIndex, IndexEntry};
use crate::document::{open, parse_payload, Document, SCHEMA};
use crate::envelope::{Envelope, VerifyError};
use crate::keys::SigningKey;
use crate::license::{License, Revocation};
use crate::release::Release;

/// Why the vendor directory could not be read or written, or refused a change.
#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    #[error("{what} {value:?} cannot name a file in the vendor dir: it must be 1-128 letters, digits, '-', '_' or '.', not starting with '.'")]
    UnsafeName { what: &'static str, value: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another process is writing to the vendor dir {0} (it holds .lock there); try again when it is done")]
    Locked(PathBuf),
    /// A document did not verify; `what` names it ("the release file x.json").
    #[error("{what}: {source}")]
    Verify { what: String, source: VerifyError },
    /// The change would break a rule of the channel (rollback, a sequence reused).
    #[error("{0}")]
    Refused(String),
}

/// Whether `value` may name a file or folder in the vendor dir: a plain identifier (as
/// documents check them) that does not start with '.', so never `.` or `..`.
pub fn is_safe_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && !value.starts_with('.')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `sha256:<hex>` of `bytes`: how an index names a release file.
pub fn file_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// What a publication did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub app_id: String,
    pub channel: String,
    pub sequence: u64,
    pub version: String,
    pub digest: String,
    /// The new index's version.
    pub index_version: u64,
    pub expires_at: OffsetDateTime,
    /// Whether the release was already listed (a re-publication that refreshes the index).
    pub already_listed: bool,
    pub release_path: PathBuf,
    pub index_path: PathBuf,
}

/// What publishing an advisory did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub index_version: u64,
    pub expires_at: OffsetDateTime,
    /// Whether an advisory with the same id was replaced.
    pub replaced: bool,
    pub index_path: PathBuf,
}

/// A vendor directory. Creating the value touches nothing; writers create folders as
/// they need them.
#[derive(Debug, Clone)]
pub struct VendorDir {
    root: PathBuf,
}

impl VendorDir {
    pub fn new(root: impl Into<PathBuf>) -> VendorDir {
        VendorDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn license_path(&self, license_id: &str) -> Result<PathBuf, VendorError> {
        safe("license id", license_id)?;
        Ok(self
            .root
            .join("licenses")
            .join(format!("{license_id}.json")))
    }

    pub fn index_path(&self, app_id: &str, channel: &str) -> Result<PathBuf, VendorError> {
        safe("app id", app_id)?;
        safe("channel", channel)?;
        Ok(self
            .root
            .join("channels")
            .join(app_id)
            .join(channel)
            .join("index.json"))
    }

    pub fn release_path(&self, app_id: &str, sequence: u64) -> Result<PathBuf, VendorError> {
        safe("app id", app_id)?;
        Ok(self
            .root
            .join("releases")
            .join(app_id)
            .join(format!("{sequence}.json")))
    }

    /// The license file stored for `license_id`, if any (unverified bytes).
    pub fn read_license(&self, license_id: &str) -> Result<Option<Vec<u8>>, VendorError> {
        read_limited(&self.license_path(license_id)?, License::MAX_ENVELOPE_BYTES)
    }

    /// The index file of `app_id`'s `channel`, if any (unverified bytes).
    pub fn read_index(&self, app_id: &str, channel: &str) -> Result<Option<Vec<u8>>, VendorError> {
        read_limited(
            &self.index_path(app_id, channel)?,
            ChannelIndex::MAX_ENVELOPE_BYTES,
        )
    }

    /// The release file of `app_id` with `sequence`, if any (unverified bytes).
    pub fn read_release(
        &self,
        app_id: &str,
        sequence: u64,
    ) -> Result<Option<Vec<u8>>, VendorError> {
        read_limited(
            &self.release_path(app_id, sequence)?,
            Release::MAX_ENVELOPE_BYTES,
        )
    }

    /// Stores a signed license file as the latest one for its id; returns where.
    pub fn store_license(&self, license_id: &str, bytes: &[u8]) -> Result<PathBuf, VendorError> {
        let path = self.license_path(license_id)?;
        write_atomic(&path, bytes, 0o600)?;
        Ok(path)
    }

    /// Publishes a signed release file to its channel: verifies it with `key`'s public
    /// key, stores it under `releases/`, and writes the channel's next index, signed with
    /// `key`, valid until `now + valid_for`.
    ///
    /// The previous index must verify with the same key (its expiry does not matter). A
    /// release is refused when its sequence is below the newest listed one, or when its
    /// sequence is already published (in any channel of the app) with other content.
    /// Publishing a listed release again only refreshes the index (new version, new expiry).
    pub fn publish(
        &self,
        release_file: &Path,
        release_bytes: &[u8],
        key: &SigningKey,
        now: OffsetDateTime,
        valid_for: time::Duration,
    ) -> Result<Publication, VendorError> {
        let public = key.public();
        let release: Release =
            open(release_bytes, &public, now).map_err(|source| VendorError::Verify {
                what: format!("the release file {}", release_file.display()),
                source,
            })?;
        let release_path = self.release_path(&release.app_id, release.sequence)?;
        let index_path = self.index_path(&release.app_id, &release.channel)?;
        std::fs::create_dir_all(&self.root).map_err(|source| VendorError::Write {
            path: self.root.clone(),
            source,
        })?;
        let _lock = self.lock()?;

        let previous = match read_limited(&index_path, ChannelIndex::MAX_ENVELOPE_BYTES)? {
            None => None,
            Some(bytes) => Some(
                open_previous_index(&bytes, &release.app_id, &release.channel, key, now).map_err(
                    |source| VendorError::Verify {
                        what: format!("the current index {}", index_path.display()),
                        source,
                    },
                )?,
            ),
        };
        let digest = file_digest(release_bytes);
        if let Some(existing) = read_limited(&release_path, Release::MAX_ENVELOPE_BYTES)? {
            if existing != release_bytes {
                return Err(VendorError::Refused(format!(
                    "sequence {} of app {} is already published with other content ({}, {}); \
                     a changed release needs a new sequence",
                    release.sequence,
                    release.app_id,
                    release_path.display(),
                    file_digest(&existing)
                )));
            }
        }
        let expires_at = now + valid_for;
        let (index, already_listed) = next_index(previous.as_ref(), &release, &digest, expires_at)?;
        write_atomic(&release_path, release_bytes, 0o644)?;
        write_atomic(&index_path, &crate::seal(&index, key).to_bytes(), 0o644)?;
        Ok(Publication {
            app_id: release.app_id,
            channel: release.channel,
            sequence: release.sequence,
            version: release.version,
            digest,
            index_version: index.version,
            expires_at,
            already_listed,
            release_path,
            index_path,
        })
    }

    /// Publishes `advisory` in the index of `app_id`'s `channel`: the next index carries it
    /// (replacing an advisory with the same id, e.g. to name the release that fixes it),
    /// signed with `key`, valid until `now + valid_for`. The channel must have an index.
    pub fn advise(
        &self,
        app_id: &str,
        channel: &str,
        advisory: Advisory,
        key: &SigningKey,
        now: OffsetDateTime,
        valid_for: time::Duration,
    ) -> Result<Advice, VendorError> {
        let index_path = self.index_path(app_id, channel)?;
        self.check_exists()?;
        let _lock = self.lock()?;
        let bytes = read_limited(&index_path, ChannelIndex::MAX_ENVELOPE_BYTES)?.ok_or_else(|| {
            VendorError::Refused(format!(
                "the {channel} channel of app {app_id} has no index yet ({}); publish a release first",
                index_path.display()
            ))
        })?;
        let previous =
            open_previous_index(&bytes, app_id, channel, key, now).map_err(|source| {
                VendorError::Verify {
                    what: format!("the current index {}", index_path.display()),
                    source,
                }
            })?;
        let mut index = previous.clone();
        let replaced = match index.advisories.iter_mut().find(|a| a.id == advisory.id) {
            Some(existing) => {
                *existing = advisory.clone();
                true
            }
            None => {
                index.advisories.push(advisory.clone());
                false
            }
        };
        index.version = previous.version.checked_add(1).ok_or_else(|| {
            VendorError::Refused(format!(
                "the {channel} index of app {app_id} is at the largest version"
            ))
        })?;
        index.expires_at = now + valid_for;
        index.check(now).map_err(|source| VendorError::Verify {
            what: format!("the advisory {}", advisory.id),
            source,
        })?;
        write_atomic(&index_path, &crate::seal(&index, key).to_bytes(), 0o644)?;
        Ok(Advice {
            index_version: index.version,
            expires_at: index.expires_at,
            replaced,
            index_path,
        })
    }

    /// Revokes the stored license `license_id`: signs it again with `revoked` set (and
    /// `issued_at` now, so consoles take it over the copy they hold) and stores it, where
    /// `serve` hands it to the console's next license sync.
    pub fn revoke(
        &self,
        license_id: &str,
        reason: &str,
        key: &SigningKey,
        now: OffsetDateTime,
    ) -> Result<(License, PathBuf), VendorError> {
        let path = self.license_path(license_id)?;
        self.check_exists()?;
        let _lock = self.lock()?;
        let bytes = read_limited(&path, License::MAX_ENVELOPE_BYTES)?.ok_or_else(|| {
            VendorError::Refused(format!(
                "no license {license_id} is stored in {} (license issue --root stores it)",
                self.root.display()
            ))
        })?;
        let what = || format!("the stored license {}", path.display());
        let envelope = Envelope::parse(&bytes, License::KIND, License::MAX_ENVELOPE_BYTES)
            .map_err(|source| VendorError::Verify {
                what: what(),
                source,
            })?;
        let payload = envelope
            .verify(License::PAYLOAD_TYPE, &key.public())
            .map_err(|source| VendorError::Verify {
                what: what(),
                source,
            })?;
        let mut license: License =
            parse_payload(&payload).map_err(|source| VendorError::Verify {
                what: what(),
                source,
            })?;
        if license.expires_at <= now {
            return Err(VendorError::Refused(format!(
                "license {license_id} already expired; consoles take no updates for it"
            )));
        }
        if let Some(revoked) = &license.revoked {
            return Err(VendorError::Refused(format!(
                "license {license_id} is already revoked (at {}: {})",
                revoked
                    .at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                revoked.reason
            )));
        }
        license.issued_at = now;
        license.revoked = Some(Revocation {
            at: now,
            reason: reason.to_owned(),
        });
        license.check(now).map_err(|source| VendorError::Verify {
            what: format!("the revoked license {license_id}"),
            source,
        })?;
        write_atomic(&path, &crate::seal(&license, key).to_bytes(), 0o600)?;
        Ok((license, path))
    }

    /// Refuses a vendor dir that does not exist (commands that change existing documents).
    fn check_exists(&self) -> Result<(), VendorError> {
        if self.root.is_dir() {
            Ok(())
        } else {
            Err(VendorError::Refused(format!(
                "the vendor dir {} does not exist",
                self.root.display()
            )))
        }
    }

    /// Takes `.lock` for the life of the returned file, or fails at once if another
    /// writer holds it.
    fn lock(&self) -> Result<File, VendorError> {
        let path = self.root.join(".lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| VendorError::Write {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => Err(VendorError::Locked(self.root.clone())),
            Err(std::fs::TryLockError::Error(source)) => Err(VendorError::Write { path, source }),
        }
    }
}

/// The index that lists `release` after `previous` (with `digest`, the release file's
/// digest), and whether the release was listed already. Pure: the rules of publication.
pub fn next_index(
    previous: Option<&ChannelIndex>,
    release: &Release,
    digest: &str,
    expires_at: OffsetDateTime,
) -> Result<(ChannelIndex, bool), VendorError> {
    let mut releases = previous.map(|p| p.releases.clone()).unwrap_or_default();
    let already_listed = match releases.iter().find(|e| e.sequence == release.sequence) {
        Some(entry) if entry.digest == digest => true,
        Some(entry) => {
            return Err(VendorError::Refused(format!(
                "the {} index of app {} already lists sequence {} with digest {}, not {digest}; \
                 a changed release needs a new sequence",
                release.channel, release.app_id, release.sequence, entry.digest
            )))
        }
        None => {
            if let Some(newest) = releases.iter().map(|e| e.sequence).max() {
                if release.sequence < newest {
                    return Err(VendorError::Refused(format!(
                        "sequence {} is older than sequence {newest}, the newest in the {} index \
                         of app {}; releases are published in increasing sequence",
                        release.sequence, release.channel, release.app_id
                    )));
                }
            }
            releases.push(IndexEntry {
                sequence: release.sequence,
                version: release.version.clone(),
                digest: digest.to_owned(),
                required: release.required,
            });
            false
        }
    };
    let version = match previous {
        None => 1,
        Some(p) => p.version.checked_add(1).ok_or_else(|| {
            VendorError::Refused(format!(
                "the {} index of app {} is at the largest version",
                release.channel, release.app_id
            ))
        })?,
    };
    let index = ChannelIndex {
        schema: SCHEMA,
        app_id: release.app_id.clone(),
        channel: release.channel.clone(),
        version,
        expires_at,
        releases,
        advisories: previous.map(|p| p.advisories.clone()).unwrap_or_default(),
    };
    Ok((index, already_listed))
}

/// Writes `bytes` to `path` atomically with `mode`, creating the parent folders.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), VendorError> {
    use std::os::unix::fs::OpenOptionsExt;
    let error = |source| VendorError::Write {
        path: path.to_owned(),
        source,
    };
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| error(std::io::Error::other("not a file path")))?;
    std::fs::create_dir_all(parent).map_err(error)?;
    let mut suffix = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut suffix);
    let temporary = parent.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        hex::encode(suffix)
    ));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        // The rename is durable once the folder is.
        File::open(parent)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(error)
}

/// Reads at most `limit + 1` bytes of `path` (enough for the parser to see it is too
/// large); `None` when there is no such file.
pub fn read_limited(path: &Path, limit: usize) -> Result<Option<Vec<u8>>, VendorError> {
    let error = |source| VendorError::Read {
        path: path.to_owned(),
        source,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(error(e)),
    };
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(error)?;
    Ok(Some(bytes))
}

/// Verifies the current index with the signing key's public key. Its expiry does not
/// matter (a lapsed index is what a new publication replaces), the rest does, and it must
/// be the index of the release's app and channel.
fn open_previous_index(
    bytes: &[u8],
    app_id: &str,
    channel: &str,
    key: &SigningKey,
    now: OffsetDateTime,
) -> Result<ChannelIndex, VerifyError> {
    let envelope = Envelope::parse(bytes, ChannelIndex::KIND, ChannelIndex::MAX_ENVELOPE_BYTES)?;
    let payload = envelope.verify(ChannelIndex::PAYLOAD_TYPE, &key.public())?;
    let index: ChannelIndex = parse_payload(&payload)?;
    match index.check(now) {
        Ok(()) | Err(VerifyError::Expired { .. }) => {}
        Err(e) => return Err(e),
    }
    if index.app_id != app_id || index.channel != channel {
        return Err(VerifyError::InvalidPayload {
            kind: ChannelIndex::KIND,
            reason: format!(
                "it is the index of app {} channel {}, not of app {app_id} channel {channel}",
                index.app_id, index.channel
            ),
        });
    }
    Ok(index)
}

fn safe(what: &'static str, value: &str) -> Result<(), VendorError> {
    if is_safe_name(value) {
        Ok(())
    } else {
        Err(VendorError::UnsafeName {
            what,
            value: value.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn release(sequence: u64) -> Release {
        Release {
            schema: SCHEMA,
            app_id: "demo".into(),
            channel: "stable".into(),
            sequence,
            version: format!("1.{sequence}.0"),
            notes: String::new(),
            required: false,
            created_at: NOW,
            files: BTreeMap::from([
                ("compose.yaml".into(), "services: {}\n".into()),
                (
                    "outpost.yaml".into(),
                    format!("app: demo\nsequence: {sequence}\n"),
                ),
            ]),
            images: Vec::new(),
        }
    }

    fn release_file(dir: &Path, key: &SigningKey, release: &Release) -> (PathBuf, Vec<u8>) {
        let bytes = crate::seal(release, key).to_bytes();
        let path = dir.join(format!("release-{}.json", release.sequence));
        std::fs::write(&path, &bytes).unwrap();
        (path, bytes)
    }

    #[test]
    fn safe_names() {
        for good in ["demo", "stable", "a.b", "0123abcdef", "x_y-z"] {
            assert!(is_safe_name(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "a b",
            "é",
            &"x".repeat(129),
        ] {
            assert!(!is_safe_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn next_index_appends_refreshes_and_refuses() {
        let expires = NOW + time::Duration::days(14);
        let (first, listed) = next_index(None, &release(1), "sha256:1", expires).unwrap();
        assert_eq!((first.version, listed), (1, false));
        let (second, _) = next_index(Some(&first), &release(3), "sha256:3", expires).unwrap();
        assert_eq!(second.version, 2);
        assert_eq!(
            second
                .releases
                .iter()
                .map(|e| e.sequence)
                .collect::<Vec<_>>(),
            [1, 3]
        );
        let (refreshed, listed) =
            next_index(Some(&second), &release(3), "sha256:3", expires).unwrap();
        assert_eq!((refreshed.version, listed), (3, true));
        assert_eq!(refreshed.releases, second.releases);

        let older = next_index(Some(&second), &release(2), "sha256:2", expires).unwrap_err();
        assert!(
            older.to_string().contains("older than sequence 3"),
            "{older}"
        );
        let changed = next_index(Some(&second), &release(3), "sha256:x", expires).unwrap_err();
        assert!(
            changed.to_string().contains("already lists sequence 3"),
            "{changed}"
        );
    }

    #[test]
    fn publish_writes_the_release_and_a_verifiable_index() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate();
        let vendor = VendorDir::new(dir.path().join("vendor"));
        let (path, bytes) = release_file(dir.path(), &key, &release(1));
        let days = time::Duration::days(14);

        let first = vendor.publish(&path, &bytes, &key, NOW, days).unwrap();
        assert_eq!((first.index_version, first.already_listed), (1, false));
        assert_eq!(vendor.read_release("demo", 1).unwrap().unwrap(), bytes);
        let index_bytes = vendor.read_index("demo", "stable").unwrap().unwrap();
        let index: ChannelIndex = open(&index_bytes, &key.public(), NOW).unwrap();
        assert_eq!(index.releases[0].digest, file_digest(&bytes));

        // A month later the index has lapsed; publishing again still reads it.
        let later = NOW + time::Duration::days(30);
        let again = vendor.publish(&path, &bytes, &key, later, days).unwrap();
        assert_eq!((again.index_version, again.already_listed), (2, true));

        // Same sequence, other content: refused, nothing changed.
        let mut changed = release(1);
        changed.notes = "different".into();
        let (path, changed_bytes) = release_file(dir.path(), &key, &changed);
        let error = vendor
            .publish(&path, &changed_bytes, &key, later, days)
            .unwrap_err();
        assert!(matches!(error, VendorError::Refused(_)), "{error}");
        assert_eq!(vendor.read_release("demo", 1).unwrap().unwrap(), bytes);

        // Another key cannot publish on top of this index.
        let other = SigningKey::generate();
        let (path, other_bytes) = release_file(dir.path(), &other, &release(2));
        let error = vendor
            .publish(&path, &other_bytes, &other, later, days)
            .unwrap_err();
        assert!(
            matches!(
                error,
                VendorError::Verify {
                    source: VerifyError::UnknownKey { .. },
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file.json");
        write_atomic(&path, b"one", 0o600).unwrap();
        write_atomic(&path, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file.json"]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
