//! The vendor directory: what `license issue --root`, `license revoke`, `channel publish`,
//! `channel advise` and `key rotate --root` write and what `serve` reads. Plain files, so
//! a vendor can back it up, look into it, or serve it with anything else:
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
//!   keys/rotations/<old_keyid>.json       the signed key rotation from that key (`key
//!                                         rotate --root`), served to consoles; never
//!                                         replaced by another
//!   keys/<keyid>.pub                      the public key of a key rotated away from, so an
//!                                         index it signed still verifies (the start of a
//!                                         rotation chain)
//!   .lock                                 held while a command writes
//! ```
//!
//! Every name in a path is a [safe name](is_safe_name) or a [key id](is_keyid), so no
//! document can point outside its folder. Every write is atomic (a temporary file in the
//! same folder, fsync, rename), so a reader sees the old file or the new one, never half
//! of one. The files are read with the size limit of their document type.
//!
//! After a key rotation the vendor signs with the new key; `channel publish` and `channel
//! advise` still take a current index signed by an older key when the vendor dir holds a
//! chain of rotations from that key to the signing key (at most [`MAX_ROTATION_CHAIN`]),
//! each verified with the key it replaces, starting from the stored public key of the
//! index's key. A rotation proves the old key's consent, not the new key's, so this chain
//! is only as trustworthy as the vendor dir itself: keep it the vendor's own storage.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::channel::{Advisory, ChannelIndex, IndexEntry};
use crate::document::{open, parse_payload, Document, SCHEMA};
use crate::envelope::{Envelope, VerifyError};
use crate::keys::{is_keyid, PublicKey, SigningKey};
use crate::license::{License, Revocation};
use crate::release::Release;
use crate::rotation::KeyRotation;

/// The most key rotations followed from the key of a current index to the signing key.
pub const MAX_ROTATION_CHAIN: usize = 8;
/// The largest public key file read (one line of about 72 bytes).
const MAX_PUBLIC_KEY_FILE_BYTES: usize = 1024;

/// Why the vendor directory could not be read or written, or refused a change.
#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    #[error("{what} {value:?} cannot name a file in the vendor dir: it must be 1-128 letters, digits, '-', '_' or '.', not starting with '.'")]
    UnsafeName { what: &'static str, value: String },
    #[error(
        "key id {0:?} cannot name a file in the vendor dir: it must be 64 lowercase hex digits"
    )]
    UnsafeKeyId(String),
    /// A public key file of the vendor dir that cannot be used.
    #[error("the key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
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

    /// `keys/rotations/<old_keyid>.json`: where the key rotation from `old_keyid` is stored.
    pub fn rotation_path(&self, old_keyid: &str) -> Result<PathBuf, VendorError> {
        check_keyid(old_keyid)?;
        Ok(self
            .root
            .join("keys")
            .join("rotations")
            .join(format!("{old_keyid}.json")))
    }

    /// `keys/<keyid>.pub`: where the public key `keyid` is stored.
    pub fn public_key_path(&self, keyid: &str) -> Result<PathBuf, VendorError> {
        check_keyid(keyid)?;
        Ok(self.root.join("keys").join(format!("{keyid}.pub")))
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

    /// The key rotation stored for `old_keyid`, if any (unverified bytes).
    pub fn read_rotation(&self, old_keyid: &str) -> Result<Option<Vec<u8>>, VendorError> {
        read_limited(
            &self.rotation_path(old_keyid)?,
            KeyRotation::MAX_ENVELOPE_BYTES,
        )
    }

    /// The public key stored as `keyid`, if any; a file that is not that key is an error.
    pub fn read_public_key(&self, keyid: &str) -> Result<Option<PublicKey>, VendorError> {
        let path = self.public_key_path(keyid)?;
        let Some(bytes) = read_limited(&path, MAX_PUBLIC_KEY_FILE_BYTES)? else {
            return Ok(None);
        };
        let bad = |reason: String| VendorError::KeyFile {
            path: path.clone(),
            reason,
        };
        if bytes.len() > MAX_PUBLIC_KEY_FILE_BYTES {
            return Err(bad(format!("it is over {MAX_PUBLIC_KEY_FILE_BYTES} bytes")));
        }
        let text = String::from_utf8(bytes).map_err(|_| bad("it is not UTF-8 text".into()))?;
        let key = PublicKey::from_text(&text, &path.display().to_string())
            .map_err(|e| bad(e.to_string()))?;
        if key.keyid() != keyid {
            return Err(bad(format!("it holds key {}, not {keyid}", key.keyid())));
        }
        Ok(Some(key))
    }

    /// Stores `key` as `keys/<keyid>.pub` (the text form of vendor.pub); returns where.
    pub fn store_public_key(&self, key: &PublicKey) -> Result<PathBuf, VendorError> {
        let path = self.public_key_path(&key.keyid())?;
        let text = key.to_text();
        if read_limited(&path, MAX_PUBLIC_KEY_FILE_BYTES)?.as_deref() != Some(text.as_bytes()) {
            write_atomic(&path, text.as_bytes(), 0o644)?;
        }
        Ok(path)
    }

    /// Stores a signed key rotation as `keys/rotations/<old_keyid>.json`, the old key id
    /// taken from its payload; returns where. A key is rotated once: storing the same
    /// file again changes nothing, another rotation from that key is refused.
    ///
    /// The file's shape and claims are checked (a key rotation, a valid new key, other
    /// than the old one, a signature by the old key id), not its signature: the vendor dir
    /// may not hold the old public key. Consoles verify it against their pinned key, and
    /// `publish` verifies each rotation it follows.
    pub fn store_rotation(&self, bytes: &[u8]) -> Result<PathBuf, VendorError> {
        let invalid = |reason: String| VendorError::Verify {
            what: "the key rotation".into(),
            source: VerifyError::InvalidPayload {
                kind: KeyRotation::KIND,
                reason,
            },
        };
        let claims = (|| {
            let envelope =
                Envelope::parse(bytes, KeyRotation::KIND, KeyRotation::MAX_ENVELOPE_BYTES)?;
            if envelope.payload_type != KeyRotation::PAYLOAD_TYPE {
                return Err(VerifyError::WrongPayloadType {
                    expected: KeyRotation::PAYLOAD_TYPE.into(),
                    found: envelope.payload_type,
                });
            }
            let rotation: KeyRotation = parse_payload(&envelope.payload_unverified()?)?;
            rotation.check(OffsetDateTime::now_utc())?;
            Ok((envelope, rotation))
        })();
        let (envelope, rotation) = claims.map_err(|source| VendorError::Verify {
            what: "the key rotation".into(),
            source,
        })?;
        let path = self.rotation_path(&rotation.old_keyid)?;
        let new_keyid = PublicKey::from_base64(&rotation.new_key, "new_key")
            .map_err(|e| invalid(e.to_string()))?
            .keyid();
        if new_keyid == rotation.old_keyid {
            return Err(invalid(format!("it rotates key {new_keyid} to itself")));
        }
        if !envelope
            .signatures
            .iter()
            .any(|s| s.keyid == rotation.old_keyid)
        {
            return Err(invalid(format!(
                "it replaces key {}, but is not signed by that key",
                rotation.old_keyid
            )));
        }
        std::fs::create_dir_all(&self.root).map_err(|source| VendorError::Write {
            path: self.root.clone(),
            source,
        })?;
        let _lock = self.lock()?;
        match read_limited(&path, KeyRotation::MAX_ENVELOPE_BYTES)? {
            Some(existing) if existing == bytes => {}
            Some(_) => {
                return Err(VendorError::Refused(format!(
                    "the vendor dir already holds another key rotation from key {} ({}); \
                     a key is rotated once",
                    rotation.old_keyid,
                    path.display()
                )))
            }
            None => write_atomic(&path, bytes, 0o644)?,
        }
        Ok(path)
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
    /// The previous index must verify with the same key, or with an older key the vendor
    /// dir's key rotations lead from to this one (its expiry does not matter). A release
    /// is refused when its sequence is below the newest listed one, or when its
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
            Some(bytes) => Some(self.open_current_index(
                &index_path,
                &bytes,
                &release.app_id,
                &release.channel,
                key,
                now,
            )?),
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
    /// signed with `key`, valid until `now + valid_for`. The channel must have an index,
    /// signed by `key` or by an older key rotated to it (as for [`publish`](Self::publish)).
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
        let previous = self.open_current_index(&index_path, &bytes, app_id, channel, key, now)?;
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

    /// Verifies the current index at `path` with `key`'s public key or, when another key
    /// signed it, with that key if the vendor dir's rotations lead from it to `key`.
    fn open_current_index(
        &self,
        path: &Path,
        bytes: &[u8],
        app_id: &str,
        channel: &str,
        key: &SigningKey,
        now: OffsetDateTime,
    ) -> Result<ChannelIndex, VendorError> {
        let what = || format!("the current index {}", path.display());
        let signing = key.public();
        match open_previous_index(bytes, app_id, channel, &signing, now) {
            Err(VerifyError::UnknownKey { trusted, found }) => {
                let mut reasons = Vec::new();
                // At most `MAX_SIGNATURES` key ids: the envelope parser checked.
                for keyid in &found {
                    match self.rotated_to(keyid, &signing, now)? {
                        Chain::Leads(old) => {
                            return open_previous_index(bytes, app_id, channel, &old, now).map_err(
                                |source| VendorError::Verify {
                                    what: what(),
                                    source,
                                },
                            )
                        }
                        Chain::Not(reason) => reasons.push(reason),
                    }
                }
                Err(VendorError::Verify {
                    what: format!("{} ({})", what(), reasons.join("; ")),
                    source: VerifyError::UnknownKey { trusted, found },
                })
            }
            other => other.map_err(|source| VendorError::Verify {
                what: what(),
                source,
            }),
        }
    }

    /// Whether the stored rotations lead from `keyid` to `signing`, each verified with
    /// the key it replaces, the first with the stored public key of `keyid`.
    fn rotated_to(
        &self,
        keyid: &str,
        signing: &PublicKey,
        now: OffsetDateTime,
    ) -> Result<Chain, VendorError> {
        if !is_keyid(keyid) {
            return Ok(Chain::Not(format!(
                "its key id {:?} is not a key id",
                keyid.chars().take(80).collect::<String>()
            )));
        }
        let not = |reason: String| Ok(Chain::Not(reason));
        if self.read_rotation(keyid)?.is_none() {
            return not(format!(
                "the vendor dir holds no key rotation from its key {keyid} ({})",
                self.rotation_path(keyid)?.display()
            ));
        }
        let Some(old) = self.read_public_key(keyid)? else {
            return not(format!(
                "the vendor dir holds a key rotation from its key {keyid} but not that key \
                 to verify it with ({}; `key rotate --root` stores it)",
                self.public_key_path(keyid)?.display()
            ));
        };
        let mut current = old.clone();
        for _ in 0..MAX_ROTATION_CHAIN {
            let current_id = current.keyid();
            let path = self.rotation_path(&current_id)?;
            let Some(bytes) = read_limited(&path, KeyRotation::MAX_ENVELOPE_BYTES)? else {
                return not(format!(
                    "the key rotations from its key {keyid} end at key {current_id}, not at \
                     the signing key"
                ));
            };
            let what = || format!("the key rotation {}", path.display());
            let rotation: KeyRotation =
                open(&bytes, &current, now).map_err(|source| VendorError::Verify {
                    what: what(),
                    source,
                })?;
            if rotation.old_keyid != current_id {
                return Err(VendorError::Verify {
                    what: what(),
                    source: VerifyError::InvalidPayload {
                        kind: KeyRotation::KIND,
                        reason: format!(
                            "it replaces key {}, not the key {current_id} that signed it",
                            rotation.old_keyid
                        ),
                    },
                });
            }
            let next = PublicKey::from_base64(&rotation.new_key, "new_key").map_err(|e| {
                VendorError::Verify {
                    what: what(),
                    source: VerifyError::InvalidPayload {
                        kind: KeyRotation::KIND,
                        reason: e.to_string(),
                    },
                }
            })?;
            if next == *signing {
                return Ok(Chain::Leads(old));
            }
            current = next;
        }
        not(format!(
            "more than {MAX_ROTATION_CHAIN} key rotations lead from its key {keyid} without \
             reaching the signing key"
        ))
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

/// Whether key rotations lead from one key to another.
enum Chain {
    /// They do; the public key they start from.
    Leads(PublicKey),
    /// They do not, and why (for the error message).
    Not(String),
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

/// Writes `bytes` to `path`, which must not exist yet, atomically with `mode`, creating
/// the parent folders. An existing file is left alone: the error's source is
/// [`AlreadyExists`](std::io::ErrorKind::AlreadyExists), also when another writer won a race.
pub fn write_new_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), VendorError> {
    let error = |source| VendorError::Write {
        path: path.to_owned(),
        source,
    };
    if path.symlink_metadata().is_ok() {
        return Err(error(std::io::ErrorKind::AlreadyExists.into()));
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| error(std::io::Error::other("not a file path")))?;
    let mut suffix = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut suffix);
    let temporary = parent.join(format!(
        ".{}.new-{}",
        name.to_string_lossy(),
        hex::encode(suffix)
    ));
    write_atomic(&temporary, bytes, mode)?;
    // A hard link, unlike a rename, never replaces what is there.
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    linked.map_err(error)?;
    File::open(parent)
        .and_then(|folder| folder.sync_all())
        .map_err(error)
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

/// Verifies the current index with `key`. Its expiry does not matter (a lapsed index is
/// what a new publication replaces), the rest does, and it must be the index of the
/// release's app and channel.
fn open_previous_index(
    bytes: &[u8],
    app_id: &str,
    channel: &str,
    key: &PublicKey,
    now: OffsetDateTime,
) -> Result<ChannelIndex, VerifyError> {
    let envelope = Envelope::parse(bytes, ChannelIndex::KIND, ChannelIndex::MAX_ENVELOPE_BYTES)?;
    let payload = envelope.verify(ChannelIndex::PAYLOAD_TYPE, key)?;
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

fn check_keyid(value: &str) -> Result<(), VendorError> {
    if is_keyid(value) {
        Ok(())
    } else {
        Err(VendorError::UnsafeKeyId(value.to_owned()))
    }
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

    fn rotation(old: &SigningKey, new: &PublicKey) -> Vec<u8> {
        let rotation = KeyRotation {
            schema: SCHEMA,
            old_keyid: old.public().keyid(),
            new_key: new.to_base64(),
            issued_at: NOW,
        };
        crate::seal(&rotation, old).to_bytes()
    }

    /// Stores the rotation from `old` to `new` and `old`'s public key, as `key rotate
    /// --root` does.
    fn rotate(vendor: &VendorDir, old: &SigningKey, new: &SigningKey) {
        vendor.store_public_key(&old.public()).unwrap();
        vendor
            .store_rotation(&rotation(old, &new.public()))
            .unwrap();
    }

    #[test]
    fn rotations_are_stored_by_their_old_key_id_once() {
        let dir = tempfile::tempdir().unwrap();
        let vendor = VendorDir::new(dir.path().join("vendor"));
        let (old, new) = (SigningKey::generate(), SigningKey::generate());
        let old_keyid = old.public().keyid();
        assert_eq!(vendor.read_rotation(&old_keyid).unwrap(), None);

        let bytes = rotation(&old, &new.public());
        let path = vendor.store_rotation(&bytes).unwrap();
        assert_eq!(
            path,
            dir.path()
                .join(format!("vendor/keys/rotations/{old_keyid}.json"))
        );
        assert_eq!(vendor.rotation_path(&old_keyid).unwrap(), path);
        assert_eq!(vendor.read_rotation(&old_keyid).unwrap().unwrap(), bytes);
        // The same file again changes nothing; another rotation from that key is refused.
        assert_eq!(vendor.store_rotation(&bytes).unwrap(), path);
        let other = rotation(&old, &SigningKey::generate().public());
        let error = vendor.store_rotation(&other).unwrap_err();
        assert!(matches!(error, VendorError::Refused(_)), "{error}");
        assert!(error.to_string().contains("rotated once"), "{error}");
        assert_eq!(vendor.read_rotation(&old_keyid).unwrap().unwrap(), bytes);

        // Not a rotation, a rotation to itself, or one not signed by the key it replaces.
        let license_like =
            crate::envelope::Envelope::sign(crate::license::PAYLOAD_TYPE, b"{}", &old).to_bytes();
        let to_itself = rotation(&new, &new.public());
        let mut claims = KeyRotation {
            schema: SCHEMA,
            old_keyid: new.public().keyid(),
            new_key: old.public().to_base64(),
            issued_at: NOW,
        };
        let forged = crate::seal(&claims, &SigningKey::generate()).to_bytes();
        claims.new_key = "not a key".into();
        let bad_key = crate::seal(&claims, &new).to_bytes();
        for (what, bytes) in [
            ("garbage", b"{".to_vec()),
            ("license", license_like),
            ("to itself", to_itself),
            ("forged", forged),
            ("bad key", bad_key),
        ] {
            let error = vendor.store_rotation(&bytes).unwrap_err();
            assert!(
                matches!(error, VendorError::Verify { .. }),
                "{what}: {error}"
            );
        }
        assert_eq!(vendor.read_rotation(&new.public().keyid()).unwrap(), None);

        // Key ids name files only when they are 64 lowercase hex digits.
        for bad in [
            "../../etc/passwd".to_owned(),
            old_keyid.to_uppercase(),
            "ab".into(),
        ] {
            assert!(matches!(
                vendor.rotation_path(&bad),
                Err(VendorError::UnsafeKeyId(_))
            ));
            assert!(matches!(
                vendor.read_rotation(&bad),
                Err(VendorError::UnsafeKeyId(_))
            ));
        }

        // Reads are bounded: an oversized file reads as one byte over the limit.
        let big = "x".repeat(KeyRotation::MAX_ENVELOPE_BYTES * 4);
        let big_keyid = "0".repeat(64);
        write_atomic(
            &vendor.rotation_path(&big_keyid).unwrap(),
            big.as_bytes(),
            0o644,
        )
        .unwrap();
        assert_eq!(
            vendor.read_rotation(&big_keyid).unwrap().unwrap().len(),
            KeyRotation::MAX_ENVELOPE_BYTES + 1
        );
    }

    #[test]
    fn public_keys_are_stored_under_their_key_id() {
        let dir = tempfile::tempdir().unwrap();
        let vendor = VendorDir::new(dir.path());
        let key = SigningKey::generate().public();
        let path = vendor.store_public_key(&key).unwrap();
        assert_eq!(path, dir.path().join(format!("keys/{}.pub", key.keyid())));
        assert_eq!(
            vendor.read_public_key(&key.keyid()).unwrap(),
            Some(key.clone())
        );
        // A file holding another key under this key's id is an error, not that key.
        let other = SigningKey::generate().public();
        std::fs::write(&path, other.to_text()).unwrap();
        let error = vendor.read_public_key(&key.keyid()).unwrap_err();
        assert!(matches!(error, VendorError::KeyFile { .. }), "{error}");
    }

    #[test]
    fn publish_and_advise_follow_key_rotations_from_the_index_key_to_the_signing_key() {
        let dir = tempfile::tempdir().unwrap();
        let vendor = VendorDir::new(dir.path().join("vendor"));
        let days = time::Duration::days(14);
        let (old, middle, new) = (
            SigningKey::generate(),
            SigningKey::generate(),
            SigningKey::generate(),
        );
        let (path, bytes) = release_file(dir.path(), &old, &release(1));
        vendor.publish(&path, &bytes, &old, NOW, days).unwrap();

        // The new key cannot take over an index the old key signed without a rotation.
        let (path, bytes) = release_file(dir.path(), &new, &release(2));
        let error = vendor.publish(&path, &bytes, &new, NOW, days).unwrap_err();
        assert!(
            matches!(
                &error,
                VendorError::Verify {
                    source: VerifyError::UnknownKey { .. },
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("no key rotation"), "{error}");

        // A rotation without the old public key to verify it with is not followed.
        vendor
            .store_rotation(&rotation(&old, &middle.public()))
            .unwrap();
        let error = vendor.publish(&path, &bytes, &new, NOW, days).unwrap_err();
        assert!(error.to_string().contains("not that key"), "{error}");

        // old -> middle -> new: both the publication and the advisory are signed by `new`.
        vendor.store_public_key(&old.public()).unwrap();
        rotate(&vendor, &middle, &new);
        let published = vendor.publish(&path, &bytes, &new, NOW, days).unwrap();
        assert_eq!(published.index_version, 2);
        let index: ChannelIndex = open(
            &vendor.read_index("demo", "stable").unwrap().unwrap(),
            &new.public(),
            NOW,
        )
        .unwrap();
        assert_eq!(
            index
                .releases
                .iter()
                .map(|e| e.sequence)
                .collect::<Vec<_>>(),
            [1, 2]
        );

        // Advising opens the current index the same way: refused until the rotation is
        // stored, then signed by the new key.
        let (path, bytes) = release_file(dir.path(), &old, &release(1));
        let other_vendor = VendorDir::new(dir.path().join("other"));
        other_vendor
            .publish(&path, &bytes, &old, NOW, days)
            .unwrap();
        let advisory = || Advisory {
            id: "OSA-1".into(),
            severity: crate::channel::Severity::High,
            title: "t".into(),
            text: String::new(),
            affected: vec![1],
            fixed_in: None,
            published_at: NOW,
        };
        let error = other_vendor
            .advise("demo", "stable", advisory(), &new, NOW, days)
            .unwrap_err();
        assert!(matches!(error, VendorError::Verify { .. }), "{error}");
        rotate(&other_vendor, &old, &new);
        let advice = other_vendor
            .advise("demo", "stable", advisory(), &new, NOW, days)
            .unwrap();
        assert_eq!(advice.index_version, 2);
        let index: ChannelIndex = open(
            &other_vendor.read_index("demo", "stable").unwrap().unwrap(),
            &new.public(),
            NOW,
        )
        .unwrap();
        assert_eq!(index.advisories[0].id, "OSA-1");

        // An index signed by an unrelated key stays refused, rotations or not.
        let stranger = SigningKey::generate();
        let (path, bytes) = release_file(dir.path(), &stranger, &release(1));
        let third = VendorDir::new(dir.path().join("third"));
        third.publish(&path, &bytes, &stranger, NOW, days).unwrap();
        rotate(&third, &old, &new);
        let (path, bytes) = release_file(dir.path(), &new, &release(2));
        let error = third.publish(&path, &bytes, &new, NOW, days).unwrap_err();
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
        let error = third
            .advise("demo", "stable", advisory(), &new, NOW, days)
            .unwrap_err();
        assert!(matches!(error, VendorError::Verify { .. }), "{error}");
    }

    #[test]
    fn a_rotation_that_does_not_verify_with_the_key_it_replaces_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let vendor = VendorDir::new(dir.path().join("vendor"));
        let days = time::Duration::days(14);
        let (old, new) = (SigningKey::generate(), SigningKey::generate());
        let (path, bytes) = release_file(dir.path(), &old, &release(1));
        vendor.publish(&path, &bytes, &old, NOW, days).unwrap();
        vendor.store_public_key(&old.public()).unwrap();
        // Claims to come from `old`, signed by another key under `old`'s key id.
        let claims = KeyRotation {
            schema: SCHEMA,
            old_keyid: old.public().keyid(),
            new_key: new.public().to_base64(),
            issued_at: NOW,
        };
        let mut forged = crate::seal(&claims, &SigningKey::generate());
        forged.signatures[0].keyid = old.public().keyid();
        vendor.store_rotation(&forged.to_bytes()).unwrap();

        let (path, bytes) = release_file(dir.path(), &new, &release(2));
        let error = vendor.publish(&path, &bytes, &new, NOW, days).unwrap_err();
        assert!(
            matches!(
                &error,
                VendorError::Verify {
                    source: VerifyError::BadSignature { .. },
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("key rotation"), "{error}");
    }

    #[test]
    fn rotation_chains_are_followed_at_most_eight_steps() {
        let dir = tempfile::tempdir().unwrap();
        let vendor = VendorDir::new(dir.path().join("vendor"));
        let days = time::Duration::days(14);
        let keys: Vec<SigningKey> = (0..=MAX_ROTATION_CHAIN + 1)
            .map(|_| SigningKey::generate())
            .collect();
        let (path, bytes) = release_file(dir.path(), &keys[0], &release(1));
        vendor.publish(&path, &bytes, &keys[0], NOW, days).unwrap();
        for pair in keys.windows(2) {
            rotate(&vendor, &pair[0], &pair[1]);
        }
        // keys[0] -> ... -> keys[9] is nine rotations: too long.
        let last = &keys[MAX_ROTATION_CHAIN + 1];
        let (path, bytes) = release_file(dir.path(), last, &release(2));
        let error = vendor.publish(&path, &bytes, last, NOW, days).unwrap_err();
        assert!(error.to_string().contains("more than 8"), "{error}");
        // keys[0] -> ... -> keys[8] is eight: followed.
        let eighth = &keys[MAX_ROTATION_CHAIN];
        let (path, bytes) = release_file(dir.path(), eighth, &release(2));
        vendor.publish(&path, &bytes, eighth, NOW, days).unwrap();
    }

    #[test]
    fn new_files_are_written_whole_and_never_replace_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/rotation.json");
        write_new_atomic(&path, b"one", 0o644).unwrap();
        let error = write_new_atomic(&path, b"two", 0o644).unwrap_err();
        assert!(
            matches!(&error, VendorError::Write { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists),
            "{error}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["rotation.json"]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
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
