//! The outbound log (every request the console sends out, written before it is sent and
//! completed with its outcome), and the little state the api host client keeps: console
//! settings such as the instance id, and the highest channel index version seen.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// A request about to be sent, as the log shows it: secrets are already masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundEntry {
    pub at: i64,
    pub method: String,
    pub url: String,
    /// Why it is sent, in a few words (`channel index`, `release 3`).
    pub purpose: String,
    /// A JSON object of header name → value.
    pub request_headers: String,
    /// A JSON object of the query and body fields.
    pub request_fields: String,
    pub bytes_sent: u64,
    /// The proxy the request went through (credentials masked), if any.
    pub via_proxy: Option<String>,
}

/// An accepted channel index as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIndex {
    pub version: u64,
    pub expires_at: i64,
    /// The verified payload, as JSON.
    pub payload: String,
    pub accepted_at: i64,
}

/// How a logged request ended: an answer's status, or the error that stopped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundOutcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub bytes_received: u64,
    pub duration_ms: u64,
}

/// One stored entry. `status` and `error` are both `None` while the request runs, or when
/// the console stopped before it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRecord {
    pub id: i64,
    pub at: i64,
    pub method: String,
    pub url: String,
    pub purpose: String,
    pub request_headers: String,
    pub request_fields: String,
    pub via_proxy: Option<String>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub duration_ms: u64,
}

impl Store {
    /// Appends `entry` before its request is sent and, in the same transaction, deletes
    /// the entries older than `delete_before` (retention). Returns the new entry's id.
    pub fn begin_outbound(
        &self,
        entry: &OutboundEntry,
        delete_before: i64,
    ) -> Result<i64, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM outbound_log WHERE at < ?1", [delete_before])?;
        tx.execute(
            "INSERT INTO outbound_log (at, method, url, purpose, request_headers, request_fields,
                 via_proxy, status, error, bytes_sent, bytes_received, duration_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, NULL, ?8, 0, 0)",
            params![
                entry.at,
                entry.method,
                entry.url,
                entry.purpose,
                entry.request_headers,
                entry.request_fields,
                entry.via_proxy,
                entry.bytes_sent as i64
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    /// Completes entry `id` with how its request ended.
    pub fn finish_outbound(&self, id: i64, outcome: &OutboundOutcome) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE outbound_log SET status = ?2, error = ?3, bytes_received = ?4, duration_ms = ?5
             WHERE id = ?1",
            params![
                id,
                outcome.status,
                outcome.error,
                outcome.bytes_received as i64,
                outcome.duration_ms as i64
            ],
        )?;
        Ok(())
    }

    /// Deletes the entries older than `delete_before`; returns how many went.
    pub fn prune_outbound(&self, delete_before: i64) -> Result<usize, StoreError> {
        Ok(self
            .lock()
            .execute("DELETE FROM outbound_log WHERE at < ?1", [delete_before])?)
    }

    /// Up to `limit` entries older than `before` (or the newest ones), newest first.
    pub fn outbound_page(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<OutboundRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, method, url, purpose, request_headers, request_fields, status, error,
                    bytes_sent, bytes_received, duration_ms, via_proxy
             FROM outbound_log WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![before.unwrap_or(i64::MAX), limit], |row| {
            Ok(OutboundRecord {
                id: row.get(0)?,
                at: row.get(1)?,
                method: row.get(2)?,
                url: row.get(3)?,
                purpose: row.get(4)?,
                request_headers: row.get(5)?,
                request_fields: row.get(6)?,
                status: row.get(7)?,
                error: row.get(8)?,
                bytes_sent: row.get::<_, i64>(9)? as u64,
                bytes_received: row.get::<_, i64>(10)? as u64,
                duration_ms: row.get::<_, i64>(11)? as u64,
                via_proxy: row.get(12)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The console setting `name`, or — the first time — `value`, stored for good. Two
    /// callers racing both get the one value that was stored.
    pub fn setting_or_insert(
        &self,
        name: &str,
        value: &str,
        now: i64,
    ) -> Result<String, StoreError> {
        let conn = self.lock();
        conn.execute(
            "INSERT OR IGNORE INTO console_settings (name, value, updated_at) VALUES (?1, ?2, ?3)",
            params![name, value, now],
        )?;
        Ok(conn.query_row(
            "SELECT value FROM console_settings WHERE name = ?1",
            [name],
            |row| row.get(0),
        )?)
    }

    /// The console setting `name`, if set.
    pub fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT value FROM console_settings WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Sets (`Some`) or clears (`None`) each named console setting, all in one transaction.
    pub fn set_settings(
        &self,
        settings: &[(&str, Option<&str>)],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for (name, value) in settings {
            match value {
                Some(value) => tx.execute(
                    "INSERT INTO console_settings (name, value, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value,
                         updated_at = excluded.updated_at",
                    params![name, value, now],
                )?,
                None => tx.execute("DELETE FROM console_settings WHERE name = ?1", [name])?,
            };
        }
        tx.commit()?;
        Ok(())
    }

    /// The highest channel index version accepted for an app's channel.
    pub fn channel_index_seen(
        &self,
        app_id: &str,
        channel: &str,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT version FROM channel_index_seen WHERE app_id = ?1 AND channel = ?2",
                params![app_id, channel],
                |row| row.get::<_, i64>(0),
            )
            .optional()?
            .map(|v| v as u64))
    }

    /// Stores an accepted channel index (its verified payload as JSON) unless a newer one
    /// is stored; the stored version only grows. Returns the highest version now stored.
    pub fn record_channel_index(
        &self,
        app_id: &str,
        channel: &str,
        index: &StoredIndex,
        now: i64,
    ) -> Result<u64, StoreError> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO channel_index_seen (app_id, channel, version, seen_at, expires_at, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (app_id, channel) DO UPDATE SET version = excluded.version,
                 seen_at = excluded.seen_at, expires_at = excluded.expires_at,
                 payload = excluded.payload
             WHERE excluded.version >= channel_index_seen.version",
            params![
                app_id,
                channel,
                index.version as i64,
                now,
                index.expires_at,
                index.payload
            ],
        )?;
        Ok(conn.query_row(
            "SELECT version FROM channel_index_seen WHERE app_id = ?1 AND channel = ?2",
            params![app_id, channel],
            |row| row.get::<_, i64>(0),
        )? as u64)
    }

    /// The last accepted channel index of an app's channel, if one was stored.
    pub fn channel_index(
        &self,
        app_id: &str,
        channel: &str,
    ) -> Result<Option<StoredIndex>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT version, expires_at, payload, seen_at FROM channel_index_seen
                 WHERE app_id = ?1 AND channel = ?2 AND payload IS NOT NULL",
                params![app_id, channel],
                |row| {
                    Ok(StoredIndex {
                        version: row.get::<_, i64>(0)? as u64,
                        expires_at: row.get(1)?,
                        payload: row.get(2)?,
                        accepted_at: row.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records that index `version` of an app's channel was accepted; the stored version
    /// only grows. Returns the highest version now stored.
    pub fn record_channel_index_seen(
        &self,
        app_id: &str,
        channel: &str,
        version: u64,
        now: i64,
    ) -> Result<u64, StoreError> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO channel_index_seen (app_id, channel, version, seen_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (app_id, channel) DO UPDATE SET version = excluded.version,
                 seen_at = excluded.seen_at
             WHERE excluded.version > channel_index_seen.version",
            params![app_id, channel, version as i64, now],
        )?;
        Ok(conn.query_row(
            "SELECT version FROM channel_index_seen WHERE app_id = ?1 AND channel = ?2",
            params![app_id, channel],
            |row| row.get::<_, i64>(0),
        )? as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: i64, purpose: &str) -> OutboundEntry {
        OutboundEntry {
            at,
            method: "GET".into(),
            url: "https://api.vendor.example/v1/license".into(),
            purpose: purpose.into(),
            request_headers: "{}".into(),
            request_fields: "{}".into(),
            bytes_sent: 10,
            via_proxy: None,
        }
    }

    #[test]
    fn an_entry_is_written_first_and_completed_after() {
        let store = Store::open_in_memory().unwrap();
        let id = store.begin_outbound(&entry(100, "license"), 0).unwrap();
        let running = &store.outbound_page(None, 10).unwrap()[0];
        assert_eq!((running.status, running.error.as_deref()), (None, None));
        store
            .finish_outbound(
                id,
                &OutboundOutcome {
                    status: Some(200),
                    error: None,
                    bytes_received: 512,
                    duration_ms: 7,
                },
            )
            .unwrap();
        let done = &store.outbound_page(None, 10).unwrap()[0];
        assert_eq!(
            (
                done.status,
                done.bytes_sent,
                done.bytes_received,
                done.duration_ms
            ),
            (Some(200), 10, 512, 7)
        );
    }

    #[test]
    fn pages_go_newest_first_and_old_entries_are_deleted_on_write() {
        let store = Store::open_in_memory().unwrap();
        for (at, purpose) in [(10, "a"), (20, "b"), (30, "c")] {
            store.begin_outbound(&entry(at, purpose), 0).unwrap();
        }
        let first = store.outbound_page(None, 2).unwrap();
        let purposes: Vec<_> = first.iter().map(|r| r.purpose.as_str()).collect();
        assert_eq!(purposes, ["c", "b"]);
        let next = store.outbound_page(Some(first[1].id), 10).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].purpose, "a");

        // A write with a cut-off of 25 keeps only what is at 25 or later.
        store.begin_outbound(&entry(40, "d"), 25).unwrap();
        let left: Vec<_> = store
            .outbound_page(None, 10)
            .unwrap()
            .into_iter()
            .map(|r| r.purpose)
            .collect();
        assert_eq!(left, ["d", "c"]);
        assert_eq!(store.prune_outbound(35).unwrap(), 1);
    }

    #[test]
    fn a_setting_is_stored_once() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(
            store.setting_or_insert("instance_id", "one", 1).unwrap(),
            "one"
        );
        assert_eq!(
            store.setting_or_insert("instance_id", "two", 2).unwrap(),
            "one"
        );
    }

    #[test]
    fn the_seen_index_version_only_grows() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.channel_index_seen("app", "stable").unwrap(), None);
        assert_eq!(
            store
                .record_channel_index_seen("app", "stable", 5, 1)
                .unwrap(),
            5
        );
        assert_eq!(
            store
                .record_channel_index_seen("app", "stable", 3, 2)
                .unwrap(),
            5
        );
        assert_eq!(
            store
                .record_channel_index_seen("app", "beta", 1, 2)
                .unwrap(),
            1
        );
        assert_eq!(store.channel_index_seen("app", "stable").unwrap(), Some(5));
    }
}
