//! The audit log table: append-only, read newest first in pages.

use rusqlite::params;

use super::{Store, StoreError};

/// One stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub source: String,
    pub detail: String,
}

impl Store {
    /// Appends an entry and returns its id.
    pub fn append_audit(
        &self,
        at: i64,
        actor: &str,
        action: &str,
        source: &str,
        detail: &str,
    ) -> Result<i64, StoreError> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO audit_log (at, actor, action, source, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![at, actor, action, source, detail],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Up to `limit` entries older than `before` (or the newest ones), newest first.
    pub fn audit_page(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, actor, action, source, detail FROM audit_log
             WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![before.unwrap_or(i64::MAX), limit], |row| {
            Ok(AuditRecord {
                id: row.get(0)?,
                at: row.get(1)?,
                actor: row.get(2)?,
                action: row.get(3)?,
                source: row.get(4)?,
                detail: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_go_newest_first_and_continue_below_the_cursor() {
        let store = Store::open_in_memory().unwrap();
        for i in 0..5 {
            store
                .append_audit(i, "admin", &format!("a{i}"), "local", "")
                .unwrap();
        }
        let first = store.audit_page(None, 2).unwrap();
        let actions: Vec<_> = first.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["a4", "a3"]);
        let next = store.audit_page(Some(first[1].id), 10).unwrap();
        let actions: Vec<_> = next.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["a2", "a1", "a0"]);
    }
}
