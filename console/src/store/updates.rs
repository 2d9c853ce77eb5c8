//! Update checks (one row each: when, why it ran, how it ended) and the advisories an
//! install has already announced.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// One update check as stored. `outcome` is `None` while it runs (or when the console
/// stopped in the middle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    pub id: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// `schedule`, `retry` or `admin`.
    pub trigger: String,
    /// `ok` or `failed`.
    pub outcome: Option<String>,
    /// What kind of failure (`unreachable`, `metadata_stale`, ...), for the state shown.
    pub problem: Option<String>,
    /// Why it failed, in words.
    pub error: Option<String>,
    /// What it did, in words.
    pub summary: String,
}

/// Checks kept; older ones are deleted as new ones start.
const KEEP_CHECKS: i64 = 500;

impl Store {
    /// Records a check starting now; returns its id.
    pub fn begin_update_check(&self, trigger: &str, now: i64) -> Result<i64, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO update_checks (started_at, trigger) VALUES (?1, ?2)",
            params![now, trigger],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "DELETE FROM update_checks WHERE id <= ?1",
            [id - KEEP_CHECKS],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Records how check `id` ended.
    pub fn finish_update_check(
        &self,
        id: i64,
        now: i64,
        outcome: &str,
        problem: Option<&str>,
        error: Option<&str>,
        summary: &str,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE update_checks SET finished_at = ?2, outcome = ?3, problem = ?4, error = ?5,
                 summary = ?6 WHERE id = ?1",
            params![id, now, outcome, problem, error, summary],
        )?;
        Ok(())
    }

    /// The most recent finished checks, newest first.
    pub fn recent_update_checks(&self, limit: u32) -> Result<Vec<CheckRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, started_at, finished_at, trigger, outcome, problem, error, summary
             FROM update_checks WHERE outcome IS NOT NULL ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |row| {
            Ok(CheckRecord {
                id: row.get(0)?,
                started_at: row.get(1)?,
                finished_at: row.get(2)?,
                trigger: row.get(3)?,
                outcome: row.get(4)?,
                problem: row.get(5)?,
                error: row.get(6)?,
                summary: row.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the last successful check finished.
    pub fn last_successful_check(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT finished_at FROM update_checks WHERE outcome = 'ok'
                 ORDER BY id DESC LIMIT 1",
                [],
                |row| row.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Marks advisory `advisory_id` of `app_id` as announced; `true` the first time.
    pub fn note_advisory(
        &self,
        app_id: &str,
        advisory_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(self.lock().execute(
            "INSERT OR IGNORE INTO advisories_seen (app_id, advisory_id, first_seen_at)
             VALUES (?1, ?2, ?3)",
            params![app_id, advisory_id, now],
        )? == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_recorded_newest_first_and_advisories_announced_once() {
        let store = Store::open_in_memory().unwrap();
        let first = store.begin_update_check("schedule", 100).unwrap();
        store
            .finish_update_check(first, 101, "ok", None, None, "up to date")
            .unwrap();
        let second = store.begin_update_check("admin", 200).unwrap();
        // A check still running is not listed.
        assert_eq!(store.recent_update_checks(10).unwrap().len(), 1);
        store
            .finish_update_check(
                second,
                203,
                "failed",
                Some("unreachable"),
                Some("connection refused"),
                "",
            )
            .unwrap();
        let checks = store.recent_update_checks(10).unwrap();
        assert_eq!(
            checks.iter().map(|c| c.id).collect::<Vec<_>>(),
            [second, first]
        );
        assert_eq!(checks[0].problem.as_deref(), Some("unreachable"));
        assert_eq!(store.last_successful_check().unwrap(), Some(101));

        assert!(store.note_advisory("app", "OSA-1", 300).unwrap());
        assert!(!store.note_advisory("app", "OSA-1", 301).unwrap());
        assert!(store.note_advisory("other", "OSA-1", 302).unwrap());
    }
}
