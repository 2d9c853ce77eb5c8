//! Join tokens, nodes and revoked node certificates.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// A node as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    pub id: String,
    pub hostname: String,
    pub labels: BTreeMap<String, String>,
    /// The last facts the agent reported, as JSON.
    pub facts: Option<String>,
    pub cert_serial: String,
    pub cert_not_after: i64,
    pub joined_at: i64,
    pub last_seen_at: Option<i64>,
}

/// Why a token could not be redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Unknown,
    Used,
    Expired,
}

fn labels_json(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).unwrap_or_else(|_| "{}".into())
}

fn labels_from(text: String) -> BTreeMap<String, String> {
    serde_json::from_str(&text).unwrap_or_default()
}

fn node_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<NodeRecord> {
    Ok(NodeRecord {
        id: row.get(0)?,
        hostname: row.get(1)?,
        labels: labels_from(row.get(2)?),
        facts: row.get(3)?,
        cert_serial: row.get(4)?,
        cert_not_after: row.get(5)?,
        joined_at: row.get(6)?,
        last_seen_at: row.get(7)?,
    })
}

const NODE_COLUMNS: &str =
    "id, hostname, labels, facts, cert_serial, cert_not_after, joined_at, last_seen_at";

impl Store {
    pub fn insert_join_token(
        &self,
        secret_hash: &str,
        labels: &BTreeMap<String, String>,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO join_tokens (secret_hash, labels, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![secret_hash, labels_json(labels), now, expires_at],
        )?;
        Ok(())
    }

    /// Redeems a join token and creates the node, in one transaction: a token admits one
    /// node, once.
    pub fn join_node(
        &self,
        secret_hash: &str,
        node: &NodeRecord,
        now: i64,
    ) -> Result<Result<BTreeMap<String, String>, TokenRefusal>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let token: Option<(String, i64, Option<i64>)> = tx
            .query_row(
                "SELECT labels, expires_at, used_at FROM join_tokens WHERE secret_hash = ?1",
                [secret_hash],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        let labels = match token {
            None => return Ok(Err(TokenRefusal::Unknown)),
            Some((_, _, Some(_))) => return Ok(Err(TokenRefusal::Used)),
            Some((_, expires_at, None)) if expires_at <= now => {
                return Ok(Err(TokenRefusal::Expired))
            }
            Some((labels, _, None)) => labels_from(labels),
        };
        let mut all_labels = labels.clone();
        all_labels.extend(node.labels.clone());
        tx.execute(
            "UPDATE join_tokens SET used_at = ?2, used_by = ?3 WHERE secret_hash = ?1",
            params![secret_hash, now, node.id],
        )?;
        tx.execute(
            &format!("INSERT INTO nodes ({NODE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                node.id,
                node.hostname,
                labels_json(&all_labels),
                node.facts,
                node.cert_serial,
                node.cert_not_after,
                node.joined_at,
                node.last_seen_at
            ],
        )?;
        tx.commit()?;
        Ok(Ok(all_labels))
    }

    pub fn node(&self, id: &str) -> Result<Option<NodeRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id = ?1"),
                [id],
                node_from_row,
            )
            .optional()?)
    }

    pub fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {NODE_COLUMNS} FROM nodes ORDER BY joined_at, id"
        ))?;
        let rows = stmt.query_map([], node_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn set_node_labels(
        &self,
        id: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<bool, StoreError> {
        let changed = self.lock().execute(
            "UPDATE nodes SET labels = ?2 WHERE id = ?1",
            params![id, labels_json(labels)],
        )?;
        Ok(changed == 1)
    }

    pub fn record_node_seen(
        &self,
        id: &str,
        facts: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        match facts {
            Some(facts) => conn.execute(
                "UPDATE nodes SET last_seen_at = ?2, facts = ?3 WHERE id = ?1",
                params![id, now, facts],
            )?,
            None => conn.execute(
                "UPDATE nodes SET last_seen_at = ?2 WHERE id = ?1",
                params![id, now],
            )?,
        };
        Ok(())
    }

    /// Replaces a node's certificate after renewal; the old serial is revoked.
    pub fn renew_node_cert(
        &self,
        id: &str,
        old_serial: &str,
        new_serial: &str,
        not_after: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE nodes SET cert_serial = ?2, cert_not_after = ?3 WHERE id = ?1",
            params![id, new_serial, not_after],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO revoked_certs (serial, node_id, revoked_at) VALUES (?1, ?2, ?3)",
            params![old_serial, id, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Removes a node and revokes its certificate. Returns whether it existed.
    pub fn remove_node(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let serial: Option<String> = tx
            .query_row("SELECT cert_serial FROM nodes WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()?;
        let Some(serial) = serial else {
            return Ok(false);
        };
        tx.execute(
            "INSERT OR IGNORE INTO revoked_certs (serial, node_id, revoked_at) VALUES (?1, ?2, ?3)",
            params![serial, id, now],
        )?;
        tx.execute("DELETE FROM nodes WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(true)
    }

    pub fn is_revoked(&self, serial: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = self
            .lock()
            .query_row(
                "SELECT 1 FROM revoked_certs WHERE serial = ?1",
                [serial],
                |row| row.get(0),
            )
            .optional()?;
        Ok(found.is_some())
    }
}
