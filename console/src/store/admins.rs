//! Admins, one-time setup tokens and login sessions. Tokens and session ids are stored
//! only as hashes, so a copy of the database does not hand out a login.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// An admin account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRecord {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
}

/// A login session as stored (the id itself is only known to the browser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub admin_id: i64,
    pub username: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// What happened when a setup token was redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redeemed {
    /// The token was valid; the password is set and every older session is gone.
    Done,
    /// Unknown, already used or expired: nothing changed.
    Refused,
}

impl Store {
    /// The admin account, if setup has been completed.
    pub fn admin(&self, username: &str) -> Result<Option<AdminRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT id, username, password_hash FROM admins WHERE username = ?1",
                [username],
                |row| {
                    Ok(AdminRecord {
                        id: row.get(0)?,
                        username: row.get(1)?,
                        password_hash: row.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Whether any admin account exists.
    pub fn admin_exists(&self) -> Result<bool, StoreError> {
        let count: i64 = self
            .lock()
            .query_row("SELECT COUNT(*) FROM admins", [], |row| row.get(0))?;
        Ok(count > 0)
    }

    /// Stores a new setup token (by hash) and voids every earlier one, so only the
    /// newest printed link works.
    pub fn replace_setup_token(
        &self,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE setup_tokens SET used_at = ?1 WHERE used_at IS NULL",
            [now],
        )?;
        tx.execute(
            "INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES (?1, ?2, ?3)",
            params![token_hash, now, expires_at],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Whether the token is open: known, unused and unexpired.
    pub fn setup_token_is_open(&self, token_hash: &str, now: i64) -> Result<bool, StoreError> {
        let open: Option<i64> = self
            .lock()
            .query_row(
                "SELECT 1 FROM setup_tokens
                 WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                params![token_hash, now],
                |row| row.get(0),
            )
            .optional()?;
        Ok(open.is_some())
    }

    /// Redeems a setup token: in one transaction, marks it used and sets the admin's
    /// password (creating the account on first setup), ending every existing session.
    pub fn redeem_setup_token(
        &self,
        token_hash: &str,
        username: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<Redeemed, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let claimed = tx.execute(
            "UPDATE setup_tokens SET used_at = ?2
             WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![token_hash, now],
        )?;
        if claimed != 1 {
            return Ok(Redeemed::Refused);
        }
        tx.execute(
            "INSERT INTO admins (username, password_hash, created_at, password_changed_at)
             VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT(username) DO UPDATE
                SET password_hash = excluded.password_hash,
                    password_changed_at = excluded.password_changed_at",
            params![username, password_hash, now],
        )?;
        tx.execute("DELETE FROM sessions", [])?;
        tx.commit()?;
        Ok(Redeemed::Done)
    }

    /// Creates a session for an admin.
    pub fn insert_session(
        &self,
        id_hash: &str,
        admin_id: i64,
        csrf_token: &str,
        source: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        // Expired sessions are swept whenever a new one starts, so the table stays small.
        conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
        conn.execute(
            "INSERT INTO sessions
                (id_hash, admin_id, csrf_token, source, created_at, last_seen_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            params![id_hash, admin_id, csrf_token, source, now, expires_at],
        )?;
        Ok(())
    }

    /// Looks a session up by the hash of its id.
    pub fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT s.admin_id, a.username, s.csrf_token, s.created_at, s.last_seen_at,
                        s.expires_at
                 FROM sessions s JOIN admins a ON a.id = s.admin_id
                 WHERE s.id_hash = ?1",
                [id_hash],
                |row| {
                    Ok(SessionRecord {
                        admin_id: row.get(0)?,
                        username: row.get(1)?,
                        csrf_token: row.get(2)?,
                        created_at: row.get(3)?,
                        last_seen_at: row.get(4)?,
                        expires_at: row.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records activity on a session (for the idle timeout).
    pub fn touch_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE sessions SET last_seen_at = ?2 WHERE id_hash = ?1",
            params![id_hash, now],
        )?;
        Ok(())
    }

    /// Ends one session.
    pub fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.lock()
            .execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setup_token_is_redeemed_once() {
        let store = Store::open_in_memory().unwrap();
        store.replace_setup_token("h1", 100, 200).unwrap();
        assert!(store.setup_token_is_open("h1", 150).unwrap());
        assert_eq!(
            store
                .redeem_setup_token("h1", "admin", "hash", 150)
                .unwrap(),
            Redeemed::Done
        );
        assert!(!store.setup_token_is_open("h1", 151).unwrap());
        assert_eq!(
            store
                .redeem_setup_token("h1", "admin", "other", 151)
                .unwrap(),
            Redeemed::Refused
        );
        assert_eq!(store.admin("admin").unwrap().unwrap().password_hash, "hash");
    }

    #[test]
    fn an_expired_or_replaced_setup_token_is_refused() {
        let store = Store::open_in_memory().unwrap();
        store.replace_setup_token("old", 100, 200).unwrap();
        assert_eq!(
            store.redeem_setup_token("old", "admin", "x", 200).unwrap(),
            Redeemed::Refused,
            "expired at 200"
        );
        store.replace_setup_token("old2", 100, 1000).unwrap();
        store.replace_setup_token("new", 101, 1000).unwrap();
        assert_eq!(
            store.redeem_setup_token("old2", "admin", "x", 150).unwrap(),
            Redeemed::Refused,
            "voided by the newer token"
        );
        assert!(!store.admin_exists().unwrap());
        assert_eq!(
            store.redeem_setup_token("new", "admin", "x", 150).unwrap(),
            Redeemed::Done
        );
    }

    #[test]
    fn a_password_reset_ends_every_session() {
        let store = Store::open_in_memory().unwrap();
        store.replace_setup_token("t1", 0, 1000).unwrap();
        store.redeem_setup_token("t1", "admin", "h1", 1).unwrap();
        let admin = store.admin("admin").unwrap().unwrap();
        store
            .insert_session("s1", admin.id, "csrf", "127.0.0.1", 2, 500)
            .unwrap();
        assert!(store.session("s1").unwrap().is_some());
        store.replace_setup_token("t2", 3, 1000).unwrap();
        store.redeem_setup_token("t2", "admin", "h2", 4).unwrap();
        assert!(store.session("s1").unwrap().is_none());
        assert_eq!(store.admin("admin").unwrap().unwrap().password_hash, "h2");
    }
}
