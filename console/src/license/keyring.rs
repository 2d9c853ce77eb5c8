//! The vendor keys a console trusts: the current one — pinned with the first license, or
//! taken over from it by a verified key rotation — for every new document, and the
//! earlier ones only to read back what was accepted under them.

use outpost_airgap::{Envelope, PublicKey, VerifyError};

use super::LicenseError;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct Keyring {
    /// Key id and key, the current one first.
    keys: Vec<(String, PublicKey)>,
}

impl Keyring {
    /// The pinned keys, or `None` before the first license.
    pub fn load(store: &Store) -> Result<Option<Keyring>, LicenseError> {
        let mut keys = Vec::new();
        for record in store.vendor_keys()? {
            let key = PublicKey::from_base64(&record.public_key, "a pinned vendor key")
                .map_err(|e| LicenseError::StoredInvalid(VerifyError::Malformed(e.to_string())))?;
            keys.push((record.keyid, key));
        }
        Ok((!keys.is_empty()).then_some(Keyring { keys }))
    }

    /// The key new documents must be signed with, and its id.
    pub fn current(&self) -> (&str, &PublicKey) {
        let (keyid, key) = &self.keys[0];
        (keyid, key)
    }

    /// The trusted key (current or earlier) with id `keyid`.
    pub fn key(&self, keyid: &str) -> Option<&PublicKey> {
        self.keys
            .iter()
            .find(|(id, _)| id == keyid)
            .map(|(_, key)| key)
    }

    /// The trusted key one of `envelope`'s signatures names (for documents stored earlier).
    pub fn signer_of(&self, envelope: &Envelope) -> Option<&PublicKey> {
        envelope
            .signatures
            .iter()
            .find_map(|signature| self.key(&signature.keyid))
    }

    pub fn contains(&self, keyid: &str) -> bool {
        self.key(keyid).is_some()
    }
}
