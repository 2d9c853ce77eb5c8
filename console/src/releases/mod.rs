//! Releases the console can deploy: signed release files verified against the pinned
//! vendor key, for the licensed app and channel, with a valid app definition inside.
//! They are stored as their envelopes and re-verified whenever they are read back.

use std::sync::Arc;

use outpost_airgap::app::{App, AppErrors};
use outpost_airgap::document::{open, Document};
use outpost_airgap::release::Release;
use outpost_airgap::{Envelope, PublicKey, VerifyError};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::audit::{self, Action, Actor, Source};
use crate::license::{Keyring, LicenseError, Licenses};
use crate::store::{ReleaseRecord, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("load the vendor's license first: releases are verified against its key")]
    NoLicense,
    #[error("the release is not valid: {0}")]
    Invalid(VerifyError),
    #[error("the release is not signed by the pinned vendor key {pinned}")]
    WrongKey { pinned: String },
    #[error("the release is for app {release}, but the license is for app {license}")]
    OtherApp { license: String, release: String },
    #[error("the release is for channel {release}, but the license is for channel {license}")]
    OtherChannel { license: String, release: String },
    #[error("the release's application definition is not valid:\n{0}")]
    BadApp(AppErrors),
    #[error("a different release with sequence {sequence} is already loaded ({existing}); the vendor must publish a new sequence")]
    Conflict { sequence: u64, existing: String },
    #[error("release {0} is not loaded")]
    NotFound(u64),
    #[error(transparent)]
    License(#[from] LicenseError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ReleaseError {
    /// Whether the input was refused (as opposed to the console failing).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, ReleaseError::License(_) | ReleaseError::Store(_))
    }
}

/// A verified release as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedRelease {
    pub release: Release,
    pub digest: String,
    pub source: String,
    pub loaded_at: i64,
}

/// The release service. Blocking (SQLite): async callers use the blocking pool.
#[derive(Debug)]
pub struct Releases {
    store: Arc<Store>,
    licenses: Arc<Licenses>,
}

impl Releases {
    pub fn new(store: Arc<Store>, licenses: Arc<Licenses>) -> Releases {
        Releases { store, licenses }
    }

    /// Verifies and stores a release file. Loading the same file again is not an error.
    pub fn load(
        &self,
        text: &str,
        origin: &str,
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<(LoadedRelease, bool), ReleaseError> {
        match self.try_load(text, origin, now) {
            Ok((loaded, fresh)) => {
                if fresh {
                    audit::record(
                        &self.store,
                        actor,
                        Action::ReleaseLoaded,
                        source,
                        &format!(
                            "release {} (sequence {}) loaded from {origin}, {}",
                            loaded.release.version, loaded.release.sequence, loaded.digest
                        ),
                    )?;
                }
                Ok((loaded, fresh))
            }
            Err(error) if error.is_refusal() => {
                audit::record(
                    &self.store,
                    actor,
                    Action::ReleaseRejected,
                    source,
                    &first_line(&error.to_string()),
                )?;
                Err(error)
            }
            Err(error) => Err(error),
        }
    }

    fn try_load(
        &self,
        text: &str,
        origin: &str,
        now: i64,
    ) -> Result<(LoadedRelease, bool), ReleaseError> {
        let (key, fingerprint) = self.pinned_key()?;
        let license = self
            .licenses
            .current()?
            .ok_or(ReleaseError::NoLicense)?
            .license;
        let release = verify(text.as_bytes(), &key, &fingerprint)?;
        if release.app_id != license.app_id {
            return Err(ReleaseError::OtherApp {
                license: license.app_id,
                release: release.app_id,
            });
        }
        if release.channel != license.channel {
            return Err(ReleaseError::OtherChannel {
                license: license.channel,
                release: release.channel,
            });
        }
        App::from_files(&release.files).map_err(ReleaseError::BadApp)?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())));
        if let Some(existing) = self.store.release(&release.app_id, release.sequence)? {
            if existing.digest == digest {
                return Ok((self.open_record(existing, &self.keyring()?)?, false));
            }
            return Err(ReleaseError::Conflict {
                sequence: release.sequence,
                existing: existing.version,
            });
        }
        let record = ReleaseRecord {
            app_id: release.app_id.clone(),
            sequence: release.sequence,
            version: release.version.clone(),
            channel: release.channel.clone(),
            digest: digest.clone(),
            envelope: text.to_owned(),
            source: origin.to_owned(),
            loaded_at: now,
        };
        self.store.insert_release(&record)?;
        Ok((
            LoadedRelease {
                release,
                digest,
                source: record.source,
                loaded_at: now,
            },
            true,
        ))
    }

    /// The licensed app's releases, newest first, each re-verified.
    pub fn list(&self) -> Result<Vec<LoadedRelease>, ReleaseError> {
        let Some(license) = self.licenses.current()? else {
            return Ok(Vec::new());
        };
        let keyring = self.keyring()?;
        self.store
            .releases(&license.license.app_id)?
            .into_iter()
            .map(|record| self.open_record(record, &keyring))
            .collect()
    }

    /// One release of the licensed app, re-verified.
    pub fn get(&self, sequence: u64) -> Result<LoadedRelease, ReleaseError> {
        let license = self.licenses.current()?.ok_or(ReleaseError::NoLicense)?;
        let keyring = self.keyring()?;
        let record = self
            .store
            .release(&license.license.app_id, sequence)?
            .ok_or(ReleaseError::NotFound(sequence))?;
        self.open_record(record, &keyring)
    }

    /// A stored release, verified with the key it was accepted under (the current key, or
    /// one a key rotation replaced).
    fn open_record(
        &self,
        record: ReleaseRecord,
        keyring: &Keyring,
    ) -> Result<LoadedRelease, ReleaseError> {
        let envelope = Envelope::parse(
            record.envelope.as_bytes(),
            Release::KIND,
            Release::MAX_ENVELOPE_BYTES,
        )
        .map_err(ReleaseError::Invalid)?;
        let (fingerprint, current) = keyring.current();
        let key = keyring.signer_of(&envelope).unwrap_or(current);
        Ok(LoadedRelease {
            release: verify(record.envelope.as_bytes(), key, fingerprint)?,
            digest: record.digest,
            source: record.source,
            loaded_at: record.loaded_at,
        })
    }

    fn keyring(&self) -> Result<Keyring, ReleaseError> {
        Keyring::load(&self.store)?.ok_or(ReleaseError::NoLicense)
    }

    fn pinned_key(&self) -> Result<(PublicKey, String), ReleaseError> {
        let pinned = self.store.vendor_key()?.ok_or(ReleaseError::NoLicense)?;
        let key = PublicKey::from_base64(&pinned.public_key, "the pinned vendor key")
            .map_err(|e| ReleaseError::Invalid(VerifyError::Malformed(e.to_string())))?;
        Ok((key, pinned.keyid))
    }
}

fn verify(bytes: &[u8], key: &PublicKey, fingerprint: &str) -> Result<Release, ReleaseError> {
    // Releases do not expire: the clock only matters for documents that do.
    open::<Release>(bytes, key, OffsetDateTime::now_utc()).map_err(|e| match e {
        VerifyError::UnknownKey { .. } => ReleaseError::WrongKey {
            pinned: fingerprint.to_owned(),
        },
        other => ReleaseError::Invalid(other),
    })
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

/// The largest release file accepted (the format's own limit).
pub const MAX_RELEASE_BYTES: usize = Release::MAX_ENVELOPE_BYTES;

#[cfg(test)]
mod tests;
