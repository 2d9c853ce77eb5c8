//! The admin's config values, by app and item name. Values of secret items are stored
//! here too (the data dir is root-only); they never leave through the API or a log.

use std::collections::BTreeMap;

use rusqlite::params;

use super::{Store, StoreError};

impl Store {
    pub fn config_values(&self, app_id: &str) -> Result<BTreeMap<String, String>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT name, value FROM config_values WHERE app_id = ?1")?;
        let rows = stmt.query_map([app_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Applies changes in one transaction: `Some` sets a value, `None` clears it.
    pub fn update_config_values(
        &self,
        app_id: &str,
        changes: &BTreeMap<String, Option<String>>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for (name, value) in changes {
            match value {
                Some(value) => tx.execute(
                    "INSERT INTO config_values (app_id, name, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(app_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    params![app_id, name, value, now],
                )?,
                None => tx.execute(
                    "DELETE FROM config_values WHERE app_id = ?1 AND name = ?2",
                    params![app_id, name],
                )?,
            };
        }
        tx.commit()?;
        Ok(())
    }
}
