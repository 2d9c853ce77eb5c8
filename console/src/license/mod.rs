//! Loading the vendor's license: verify it against the pinned vendor key — pinning the
//! key on the first load, once the admin has confirmed its fingerprint — and refuse a
//! wrong-key, expired, tampered or other-app license with nothing changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use outpost_airgap::document::{open_envelope, parse_payload, Document};
use outpost_airgap::license::License;
use outpost_airgap::{Envelope, PublicKey, VerifyError};
use time::OffsetDateTime;

mod keyring;

pub use keyring::Keyring;

use crate::audit::{self, Action, Actor, Source};
use crate::store::{LicenseRecord, Store, StoreError, VendorKeyRecord};

/// Why a license was not loaded. Every variant leaves the store as it was.
#[derive(Debug, thiserror::Error)]
pub enum LicenseError {
    #[error("the license is not valid: {0}")]
    Invalid(VerifyError),
    #[error("the license is signed by key {found}, not by the pinned vendor key {pinned}")]
    WrongKey { pinned: String, found: String },
    #[error("the license expired at {at}")]
    Expired { at: String },
    #[error("a license for app {loaded} is loaded; this one is for app {offered}")]
    OtherApp { loaded: String, offered: String },
    #[error(
        "this is the first license: confirm the vendor key fingerprint {fingerprint} to pin it"
    )]
    KeyConfirmationRequired { fingerprint: String },
    #[error("the confirmed fingerprint {given} is not this license's key {actual}")]
    TrustKeyMismatch { given: String, actual: String },
    #[error("the stored license can no longer be verified: {0}")]
    StoredInvalid(VerifyError),
    #[error("the key rotation is signed by key {found}, not by the pinned vendor key {pinned}")]
    RotationWrongKey { pinned: String, found: String },
    #[error("the key rotation replaces key {old}, but the pinned vendor key is {pinned}")]
    RotationNotFromPinned { pinned: String, old: String },
    #[error("the key rotation names key {0}, which this console trusted before; a rotation back to an earlier key is refused")]
    RotationToKnownKey(String),
    #[error("the key rotation is not valid: {0}")]
    RotationInvalid(VerifyError),
    #[error("the api host sent license {offered}, but license {loaded} is loaded")]
    OtherLicense { loaded: String, offered: String },
    #[error("the api host sent a license issued at {offered}, older than the one loaded (issued at {loaded}); refused as a rollback")]
    Older { loaded: String, offered: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a license sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Synced {
    /// The api host holds the license already loaded.
    Unchanged,
    /// A newer signing of the license was loaded; what changed, in words.
    Updated { changes: Vec<String> },
}

/// What a license file claims, before it is trusted (for the confirmation dialog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub fingerprint: String,
    pub key_pinned: bool,
    pub matches_pinned: bool,
    pub license_id: String,
    pub customer: String,
    pub app_id: String,
    pub channel: String,
    pub expires_at: OffsetDateTime,
}

/// A verified, loaded license.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedLicense {
    pub license: License,
    pub fingerprint: String,
    pub loaded_at: i64,
}

impl LoadedLicense {
    pub fn entitlements(&self) -> &BTreeMap<String, String> {
        &self.license.entitlements
    }
}

/// The license service. Blocking (SQLite): async callers use the blocking pool.
#[derive(Debug)]
pub struct Licenses {
    store: Arc<Store>,
}

/// What an unverified envelope says about itself.
struct Claimed {
    envelope: Envelope,
    license: License,
    key: PublicKey,
}

impl Licenses {
    pub fn new(store: Arc<Store>) -> Licenses {
        Licenses { store }
    }

    /// Reads what the file claims and how it relates to the pinned key. Stores nothing.
    pub fn inspect(&self, text: &str) -> Result<Inspection, LicenseError> {
        let claimed = claim(text)?;
        let pinned = self.store.vendor_key()?;
        let fingerprint = claimed.key.keyid();
        Ok(Inspection {
            key_pinned: pinned.is_some(),
            matches_pinned: pinned.is_some_and(|p| p.keyid == fingerprint),
            fingerprint,
            license_id: claimed.license.license_id,
            customer: claimed.license.customer,
            app_id: claimed.license.app_id,
            channel: claimed.license.channel,
            expires_at: claimed.license.expires_at,
        })
    }

    /// Verifies and stores a license; audits the outcome either way.
    pub fn load(
        &self,
        text: &str,
        trust_key: Option<&str>,
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<LoadedLicense, LicenseError> {
        match self.try_load(text, trust_key, actor, source, now) {
            Ok(loaded) => Ok(loaded),
            Err(error @ LicenseError::Store(_)) => Err(error),
            Err(LicenseError::KeyConfirmationRequired { fingerprint }) => {
                Err(LicenseError::KeyConfirmationRequired { fingerprint })
            }
            Err(error) => {
                audit::record(
                    &self.store,
                    actor,
                    Action::LicenseRejected,
                    source,
                    &error.to_string(),
                )?;
                Err(error)
            }
        }
    }

    fn try_load(
        &self,
        text: &str,
        trust_key: Option<&str>,
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<LoadedLicense, LicenseError> {
        let claimed = claim(text)?;
        let fingerprint = claimed.key.keyid();
        let pinned = self.store.vendor_key()?;
        let (key, pin) = match &pinned {
            Some(pinned) => {
                if pinned.keyid != fingerprint {
                    return Err(LicenseError::WrongKey {
                        pinned: pinned.keyid.clone(),
                        found: fingerprint,
                    });
                }
                let key = PublicKey::from_base64(&pinned.public_key, "the pinned vendor key")
                    .map_err(|e| LicenseError::Invalid(VerifyError::Malformed(e.to_string())))?;
                (key, None)
            }
            None => match trust_key {
                None => return Err(LicenseError::KeyConfirmationRequired { fingerprint }),
                Some(given) if normalise_fingerprint(given) != fingerprint => {
                    return Err(LicenseError::TrustKeyMismatch {
                        given: given.to_owned(),
                        actual: fingerprint,
                    })
                }
                Some(_) => {
                    let pin = VendorKeyRecord {
                        keyid: fingerprint.clone(),
                        public_key: claimed.key.to_base64(),
                        pinned_at: now,
                    };
                    (claimed.key.clone(), Some(pin))
                }
            },
        };
        let license = verify(&claimed.envelope, &key, &fingerprint, now)?;
        if let Some(current) = self.store.current_license()? {
            if current.app_id != license.app_id {
                return Err(LicenseError::OtherApp {
                    loaded: current.app_id,
                    offered: license.app_id,
                });
            }
        }
        self.store.save_license(
            pin.as_ref(),
            &LicenseRecord {
                license_id: license.license_id.clone(),
                app_id: license.app_id.clone(),
                keyid: fingerprint.clone(),
                envelope: text.to_owned(),
                loaded_at: now,
            },
        )?;
        if pin.is_some() {
            audit::record(
                &self.store,
                actor,
                Action::LicenseKeyPinned,
                source,
                &format!(
                    "vendor key {fingerprint} pinned after the admin confirmed its fingerprint"
                ),
            )?;
        }
        audit::record(
            &self.store,
            actor,
            Action::LicenseLoaded,
            source,
            &format!(
                "license {} for {} (app {}, channel {}) loaded, expires {}",
                license.license_id,
                license.customer,
                license.app_id,
                license.channel,
                crate::clock::rfc3339(license.expires_at.unix_timestamp())
            ),
        )?;
        Ok(LoadedLicense {
            license,
            fingerprint,
            loaded_at: now,
        })
    }

    /// Takes the license the api host holds for this install: it must verify against the
    /// pinned key, be the loaded license's id and app, and not be older than the loaded one
    /// (rollback). An expired license is taken too (it is the vendor's word on this
    /// license; the console then shows it expired). Audited when it changes something or
    /// is refused.
    pub fn sync(&self, text: &str, now: i64) -> Result<Synced, LicenseError> {
        let result = self.try_sync(text, now);
        if let Err(error) = &result {
            if !matches!(error, LicenseError::Store(_)) {
                audit::record(
                    &self.store,
                    &Actor::System,
                    Action::LicenseSyncRefused,
                    &Source::Local,
                    &error.to_string(),
                )?;
            }
        }
        result
    }

    fn try_sync(&self, text: &str, now: i64) -> Result<Synced, LicenseError> {
        let current = self.current()?.ok_or_else(|| {
            LicenseError::StoredInvalid(VerifyError::Malformed("no license is loaded".into()))
        })?;
        let record = self.store.current_license()?.ok_or_else(|| {
            LicenseError::StoredInvalid(VerifyError::Malformed("no license is loaded".into()))
        })?;
        if record.envelope == text {
            return Ok(Synced::Unchanged);
        }
        let claimed = claim(text)?;
        let fingerprint = claimed.key.keyid();
        // New documents come from the current key (after a rotation, not the one the loaded
        // license was accepted under).
        let keyring = Keyring::load(&self.store)?.ok_or_else(|| {
            LicenseError::StoredInvalid(VerifyError::Malformed("no vendor key is pinned".into()))
        })?;
        let (pinned, _) = keyring.current();
        if fingerprint != pinned {
            return Err(LicenseError::WrongKey {
                pinned: pinned.to_owned(),
                found: fingerprint,
            });
        }
        let license = match verify(&claimed.envelope, &claimed.key, &fingerprint, now) {
            Ok(license) => license,
            // Expired, but signed and well-formed: the vendor's current word on it.
            Err(LicenseError::Expired { .. }) => claimed.license,
            Err(error) => return Err(error),
        };
        let old = &current.license;
        if license.license_id != old.license_id {
            return Err(LicenseError::OtherLicense {
                loaded: old.license_id.clone(),
                offered: license.license_id,
            });
        }
        if license.app_id != old.app_id {
            return Err(LicenseError::OtherApp {
                loaded: old.app_id.clone(),
                offered: license.app_id,
            });
        }
        if license.issued_at < old.issued_at {
            return Err(LicenseError::Older {
                loaded: crate::clock::rfc3339(old.issued_at.unix_timestamp()),
                offered: crate::clock::rfc3339(license.issued_at.unix_timestamp()),
            });
        }
        let changes = changes(old, &license);
        self.store.save_license(
            None,
            &LicenseRecord {
                license_id: license.license_id.clone(),
                app_id: license.app_id.clone(),
                keyid: fingerprint,
                envelope: text.to_owned(),
                loaded_at: now,
            },
        )?;
        let (action, detail) = match (&old.revoked, &license.revoked) {
            (None, Some(revoked)) => (
                Action::LicenseRevoked,
                format!(
                    "the vendor revoked license {}: {}; the app keeps running, updates are blocked",
                    license.license_id, revoked.reason
                ),
            ),
            _ => (
                Action::LicenseSynced,
                format!(
                    "license {} synced from the api host: {}",
                    license.license_id,
                    changes.join("; ")
                ),
            ),
        };
        audit::record(&self.store, &Actor::System, action, &Source::Local, &detail)?;
        Ok(Synced::Updated { changes })
    }

    /// Takes over the vendor key a rotation document names: the document must be signed by
    /// the pinned key and replace it, and the new key must be one this console never
    /// trusted. From then on new documents must be signed with the new key; those accepted
    /// earlier are still read back with theirs. Audited either way. Returns (old, new) ids.
    pub fn rotate_key(
        &self,
        text: &str,
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<(String, String), LicenseError> {
        let result = self.try_rotate_key(text, now);
        let (action, detail) = match &result {
            Ok((old, new)) => (
                Action::LicenseKeyRotated,
                format!("vendor key rotated from {old} to {new} (a rotation document signed by {old}); new documents must be signed by {new}"),
            ),
            Err(LicenseError::Store(_)) => return result,
            Err(error) => (Action::LicenseKeyRotationRefused, error.to_string()),
        };
        audit::record(&self.store, actor, action, source, &detail)?;
        result
    }

    fn try_rotate_key(&self, text: &str, now: i64) -> Result<(String, String), LicenseError> {
        use outpost_airgap::rotation::KeyRotation;
        let keyring = Keyring::load(&self.store)?.ok_or_else(|| {
            LicenseError::RotationInvalid(VerifyError::Malformed(
                "no vendor key is pinned yet: load the license first".into(),
            ))
        })?;
        let (pinned, key) = keyring.current();
        let envelope = Envelope::parse(
            text.as_bytes(),
            KeyRotation::KIND,
            KeyRotation::MAX_ENVELOPE_BYTES,
        )
        .map_err(LicenseError::RotationInvalid)?;
        let at = OffsetDateTime::from_unix_timestamp(now).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let rotation = open_envelope::<KeyRotation>(&envelope, key, at).map_err(|e| match e {
            VerifyError::UnknownKey { found, .. } => LicenseError::RotationWrongKey {
                pinned: pinned.to_owned(),
                found: found.join(", "),
            },
            other => LicenseError::RotationInvalid(other),
        })?;
        if rotation.old_keyid != pinned {
            return Err(LicenseError::RotationNotFromPinned {
                pinned: pinned.to_owned(),
                old: rotation.old_keyid,
            });
        }
        let new_key = PublicKey::from_base64(&rotation.new_key, "new_key")
            .map_err(|e| LicenseError::RotationInvalid(VerifyError::Malformed(e.to_string())))?;
        let new_keyid = new_key.keyid();
        if keyring.contains(&new_keyid) {
            return Err(LicenseError::RotationToKnownKey(new_keyid));
        }
        self.store.pin_rotated_key(&VendorKeyRecord {
            keyid: new_keyid.clone(),
            public_key: new_key.to_base64(),
            pinned_at: now,
        })?;
        Ok((pinned.to_owned(), new_keyid))
    }

    /// The current license, re-verified against the pinned key. Expiry is not checked
    /// here: an expired license is still shown (with its date) for the admin to replace.
    pub fn current(&self) -> Result<Option<LoadedLicense>, LicenseError> {
        let Some(record) = self.store.current_license()? else {
            return Ok(None);
        };
        let Some(keyring) = Keyring::load(&self.store)? else {
            return Err(LicenseError::StoredInvalid(VerifyError::Malformed(
                "a license is stored but no vendor key is pinned".into(),
            )));
        };
        // The key it was accepted under: the current one, or one a rotation replaced.
        let key = keyring.key(&record.keyid).ok_or_else(|| {
            LicenseError::StoredInvalid(VerifyError::Malformed(format!(
                "the stored license was accepted under key {}, which is not pinned",
                record.keyid
            )))
        })?;
        let envelope = Envelope::parse(
            record.envelope.as_bytes(),
            License::KIND,
            License::MAX_ENVELOPE_BYTES,
        )
        .map_err(LicenseError::StoredInvalid)?;
        let payload = envelope
            .verify(License::PAYLOAD_TYPE, key)
            .map_err(LicenseError::StoredInvalid)?;
        let license = parse_payload::<License>(&payload).map_err(LicenseError::StoredInvalid)?;
        Ok(Some(LoadedLicense {
            license,
            fingerprint: record.keyid,
            loaded_at: record.loaded_at,
        }))
    }
}

/// What differs between two signings of a license, in words (never a credential).
fn changes(old: &License, new: &License) -> Vec<String> {
    let date = |t: OffsetDateTime| crate::clock::rfc3339(t.unix_timestamp());
    let nodes = |n: Option<u32>| n.map_or_else(|| "no limit".to_owned(), |n| n.to_string());
    let mut changes = Vec::new();
    if old.expires_at != new.expires_at {
        changes.push(format!(
            "expiry {} -> {}",
            date(old.expires_at),
            date(new.expires_at)
        ));
    }
    if old.max_nodes != new.max_nodes {
        changes.push(format!(
            "max nodes {} -> {}",
            nodes(old.max_nodes),
            nodes(new.max_nodes)
        ));
    }
    for (name, value) in &new.entitlements {
        match old.entitlements.get(name) {
            None => changes.push(format!("entitlement {name} added ({value})")),
            Some(before) if before != value => {
                changes.push(format!("entitlement {name} {before} -> {value}"))
            }
            Some(_) => {}
        }
    }
    for name in old.entitlements.keys() {
        if !new.entitlements.contains_key(name) {
            changes.push(format!("entitlement {name} removed"));
        }
    }
    if old.customer != new.customer {
        changes.push(format!("customer {} -> {}", old.customer, new.customer));
    }
    if old.channel != new.channel {
        changes.push(format!("channel {} -> {}", old.channel, new.channel));
    }
    if old.airgap != new.airgap {
        changes.push(format!("airgap installs allowed: {}", new.airgap));
    }
    if old.api_host != new.api_host {
        changes.push(format!(
            "api host {} -> {}",
            old.api_host.as_deref().unwrap_or("none"),
            new.api_host.as_deref().unwrap_or("none")
        ));
    }
    if old.registry != new.registry {
        changes.push("registry credentials changed".into());
    }
    match (&old.revoked, &new.revoked) {
        (None, Some(revoked)) => changes.push(format!("revoked: {}", revoked.reason)),
        (Some(_), None) => changes.push("revocation lifted".into()),
        _ => {}
    }
    if changes.is_empty() {
        changes.push(format!(
            "re-signed at {}, no change of terms",
            date(new.issued_at)
        ));
    }
    changes
}

/// Parses the envelope and the claimed key, without trusting either.
fn claim(text: &str) -> Result<Claimed, LicenseError> {
    let envelope = Envelope::parse(text.as_bytes(), License::KIND, License::MAX_ENVELOPE_BYTES)
        .map_err(LicenseError::Invalid)?;
    if envelope.payload_type != License::PAYLOAD_TYPE {
        return Err(LicenseError::Invalid(VerifyError::WrongPayloadType {
            expected: License::PAYLOAD_TYPE.to_owned(),
            found: envelope.payload_type,
        }));
    }
    let payload = envelope
        .payload_unverified()
        .map_err(LicenseError::Invalid)?;
    let license = parse_payload::<License>(&payload).map_err(LicenseError::Invalid)?;
    let key = PublicKey::from_base64(&license.vendor_key, "vendor_key").map_err(|e| {
        LicenseError::Invalid(VerifyError::InvalidPayload {
            kind: License::KIND,
            reason: e.to_string(),
        })
    })?;
    Ok(Claimed {
        envelope,
        license,
        key,
    })
}

fn verify(
    envelope: &Envelope,
    key: &PublicKey,
    fingerprint: &str,
    now: i64,
) -> Result<License, LicenseError> {
    let now = OffsetDateTime::from_unix_timestamp(now).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    open_envelope::<License>(envelope, key, now).map_err(|e| match e {
        VerifyError::Expired { at, .. } => LicenseError::Expired { at },
        VerifyError::UnknownKey { found, .. } => LicenseError::WrongKey {
            pinned: fingerprint.to_owned(),
            found: found.join(", "),
        },
        other => LicenseError::Invalid(other),
    })
}

/// Accepts a fingerprint as hex with any case, colons or spaces.
fn normalise_fingerprint(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_hexdigit())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests;
