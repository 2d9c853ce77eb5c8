//! The pinned vendor key and the loaded licenses (newest is current). The license is
//! stored as its signed envelope, so it is re-verified whenever it is read back.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// A pinned vendor key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorKeyRecord {
    pub keyid: String,
    /// Base64 of the ed25519 public key.
    pub public_key: String,
    pub pinned_at: i64,
}

/// A loaded license as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseRecord {
    pub license_id: String,
    pub app_id: String,
    pub keyid: String,
    pub envelope: String,
    pub loaded_at: i64,
}

impl Store {
    /// The pinned vendor key, if one has been pinned.
    pub fn vendor_key(&self) -> Result<Option<VendorKeyRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT keyid, public_key, pinned_at FROM vendor_keys ORDER BY pinned_at DESC, rowid DESC LIMIT 1",
                [],
                |row| {
                    Ok(VendorKeyRecord {
                        keyid: row.get(0)?,
                        public_key: row.get(1)?,
                        pinned_at: row.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Every key ever pinned, the current one first: documents accepted under an earlier
    /// key are still read back with it after a key rotation.
    pub fn vendor_keys(&self) -> Result<Vec<VendorKeyRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT keyid, public_key, pinned_at FROM vendor_keys ORDER BY pinned_at DESC, rowid DESC",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(VendorKeyRecord {
                keyid: row.get(0)?,
                public_key: row.get(1)?,
                pinned_at: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Pins `key` as the vendor's current key (a verified key rotation); the earlier keys
    /// stay, for the documents accepted under them.
    pub fn pin_rotated_key(&self, key: &VendorKeyRecord) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO vendor_keys (keyid, public_key, pinned_at) VALUES (?1, ?2, ?3)",
            params![key.keyid, key.public_key, key.pinned_at],
        )?;
        Ok(())
    }

    /// The current (most recently loaded) license.
    pub fn current_license(&self) -> Result<Option<LicenseRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT license_id, app_id, keyid, envelope, loaded_at FROM licenses
                 ORDER BY id DESC LIMIT 1",
                [],
                |row| {
                    Ok(LicenseRecord {
                        license_id: row.get(0)?,
                        app_id: row.get(1)?,
                        keyid: row.get(2)?,
                        envelope: row.get(3)?,
                        loaded_at: row.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Stores a verified license, pinning `pin` first when given — one transaction, so a
    /// key is never pinned without the license that was confirmed with it.
    pub fn save_license(
        &self,
        pin: Option<&VendorKeyRecord>,
        license: &LicenseRecord,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if let Some(key) = pin {
            tx.execute(
                "INSERT INTO vendor_keys (keyid, public_key, pinned_at) VALUES (?1, ?2, ?3)",
                params![key.keyid, key.public_key, key.pinned_at],
            )?;
        }
        tx.execute(
            "INSERT INTO licenses (license_id, app_id, keyid, envelope, loaded_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                license.license_id,
                license.app_id,
                license.keyid,
                license.envelope,
                license.loaded_at
            ],
        )?;
        tx.commit()?;
        Ok(())
    }
}
