//! The admin's registry settings: mirror/rewrite rules in order, and pull credentials by
//! registry host. Passwords are stored here (the data dir is root-only) and never leave through
//! the API or a log.

use rusqlite::params;

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRecord {
    pub from: String,
    pub to: String,
}

#[derive(Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    pub host: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for CredentialRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialRecord")
            .field("host", &self.host)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Store {
    pub fn registry_rules(&self) -> Result<Vec<RuleRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare("SELECT source, target FROM registry_rules ORDER BY position")?;
        let rows = stmt.query_map([], |row| {
            Ok(RuleRecord {
                from: row.get(0)?,
                to: row.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn registry_credentials(&self) -> Result<Vec<CredentialRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("SELECT host, username, password FROM registry_credentials ORDER BY host")?;
        let rows = stmt.query_map([], |row| {
            Ok(CredentialRecord {
                host: row.get(0)?,
                username: row.get(1)?,
                password: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replaces both lists in one transaction.
    pub fn replace_registry_settings(
        &self,
        rules: &[RuleRecord],
        credentials: &[CredentialRecord],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM registry_rules", [])?;
        for (position, rule) in rules.iter().enumerate() {
            tx.execute(
                "INSERT INTO registry_rules (position, source, target) VALUES (?1, ?2, ?3)",
                params![position as i64, rule.from, rule.to],
            )?;
        }
        tx.execute("DELETE FROM registry_credentials", [])?;
        for credential in credentials {
            tx.execute(
                "INSERT INTO registry_credentials (host, username, password, updated_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    credential.host,
                    credential.username,
                    credential.password,
                    now
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_replaced_whole_and_rules_keep_their_order() {
        let store = Store::open_in_memory().unwrap();
        let rules = vec![
            RuleRecord {
                from: "quay.io".into(),
                to: "mirror:5000".into(),
            },
            RuleRecord {
                from: "docker.io".into(),
                to: "mirror:5001".into(),
            },
        ];
        let credentials = vec![CredentialRecord {
            host: "mirror:5000".into(),
            username: "u".into(),
            password: "p".into(),
        }];
        store
            .replace_registry_settings(&rules, &credentials, 1)
            .unwrap();
        assert_eq!(store.registry_rules().unwrap(), rules);
        assert_eq!(store.registry_credentials().unwrap(), credentials);
        assert!(!format!("{credentials:?}").contains("\"p\""));
        store
            .replace_registry_settings(&rules[1..], &[], 2)
            .unwrap();
        assert_eq!(store.registry_rules().unwrap(), rules[1..]);
        assert!(store.registry_credentials().unwrap().is_empty());
    }
}
