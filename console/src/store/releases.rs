//! Verified releases, kept as their signed envelopes (re-verified when read back).

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// A stored release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    pub app_id: String,
    pub sequence: u64,
    pub version: String,
    pub channel: String,
    /// `sha256:<hex>` of the envelope bytes.
    pub digest: String,
    pub envelope: String,
    /// Where it came from: `file`, `api host`, `bundle`.
    pub source: String,
    pub loaded_at: i64,
}

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ReleaseRecord> {
    Ok(ReleaseRecord {
        app_id: row.get(0)?,
        sequence: row.get::<_, i64>(1)? as u64,
        version: row.get(2)?,
        channel: row.get(3)?,
        digest: row.get(4)?,
        envelope: row.get(5)?,
        source: row.get(6)?,
        loaded_at: row.get(7)?,
    })
}

const COLUMNS: &str = "app_id, sequence, version, channel, digest, envelope, source, loaded_at";

impl Store {
    pub fn release(
        &self,
        app_id: &str,
        sequence: u64,
    ) -> Result<Option<ReleaseRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM releases WHERE app_id = ?1 AND sequence = ?2"),
                params![app_id, sequence as i64],
                from_row,
            )
            .optional()?)
    }

    /// Every release of an app, newest first.
    pub fn releases(&self, app_id: &str) -> Result<Vec<ReleaseRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM releases WHERE app_id = ?1 ORDER BY sequence DESC"
        ))?;
        let rows = stmt.query_map([app_id], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn insert_release(&self, record: &ReleaseRecord) -> Result<(), StoreError> {
        self.lock().execute(
            &format!("INSERT INTO releases ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                record.app_id,
                record.sequence as i64,
                record.version,
                record.channel,
                record.digest,
                record.envelope,
                record.source,
                record.loaded_at
            ],
        )?;
        Ok(())
    }
}
