//! Numbered schema migrations. Each runs in its own transaction and records its number in
//! `schema_version`; a database newer than this binary is refused, never downgraded.

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;

/// Migrations in order. Never edit one that has shipped: add the next number.
const MIGRATIONS: &[(u32, &str)] = &[
    (
        1,
        r#"
    CREATE TABLE admins (
        id                  INTEGER PRIMARY KEY,
        username            TEXT NOT NULL UNIQUE,
        password_hash       TEXT NOT NULL,
        created_at          INTEGER NOT NULL,
        password_changed_at INTEGER NOT NULL
    );
    CREATE TABLE setup_tokens (
        token_hash TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    );
    CREATE TABLE sessions (
        id_hash      TEXT PRIMARY KEY,
        admin_id     INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
        csrf_token   TEXT NOT NULL,
        source       TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL
    );
    CREATE INDEX sessions_expires ON sessions(expires_at);
    CREATE TABLE audit_log (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at     INTEGER NOT NULL,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        source TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    "#,
    ),
    (
        2,
        r#"
    CREATE TABLE vendor_keys (
        keyid      TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        pinned_at  INTEGER NOT NULL
    );
    CREATE TABLE licenses (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        license_id TEXT NOT NULL,
        app_id     TEXT NOT NULL,
        keyid      TEXT NOT NULL REFERENCES vendor_keys(keyid),
        envelope   TEXT NOT NULL,
        loaded_at  INTEGER NOT NULL
    );
    "#,
    ),
    (
        3,
        r#"
    CREATE TABLE join_tokens (
        secret_hash TEXT PRIMARY KEY,
        labels      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        used_at     INTEGER,
        used_by     TEXT
    );
    CREATE TABLE nodes (
        id             TEXT PRIMARY KEY,
        hostname       TEXT NOT NULL,
        labels         TEXT NOT NULL,
        facts          TEXT,
        cert_serial    TEXT NOT NULL,
        cert_not_after INTEGER NOT NULL,
        joined_at      INTEGER NOT NULL,
        last_seen_at   INTEGER
    );
    CREATE TABLE revoked_certs (
        serial     TEXT PRIMARY KEY,
        node_id    TEXT NOT NULL,
        revoked_at INTEGER NOT NULL
    );
    "#,
    ),
    (
        4,
        r#"
    CREATE TABLE releases (
        app_id    TEXT NOT NULL,
        sequence  INTEGER NOT NULL,
        version   TEXT NOT NULL,
        channel   TEXT NOT NULL,
        digest    TEXT NOT NULL,
        envelope  TEXT NOT NULL,
        source    TEXT NOT NULL,
        loaded_at INTEGER NOT NULL,
        PRIMARY KEY (app_id, sequence)
    );
    "#,
    ),
    (
        5,
        r#"
    CREATE TABLE config_values (
        app_id     TEXT NOT NULL,
        name       TEXT NOT NULL,
        value      TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (app_id, name)
    );
    "#,
    ),
    (
        6,
        r#"
    CREATE TABLE deployments (
        id                   INTEGER PRIMARY KEY,
        app_id               TEXT NOT NULL,
        kind                 TEXT NOT NULL,
        sequence             INTEGER NOT NULL,
        version              TEXT NOT NULL,
        previous_sequence    INTEGER,
        config_hash          TEXT NOT NULL,
        config_json          TEXT NOT NULL,
        actor                TEXT NOT NULL,
        started_at           INTEGER NOT NULL,
        finished_at          INTEGER,
        state                TEXT NOT NULL,
        message              TEXT,
        preflight_overridden INTEGER NOT NULL DEFAULT 0,
        rollback_of          INTEGER REFERENCES deployments(id)
    );
    CREATE UNIQUE INDEX deployments_one_running ON deployments(app_id) WHERE state = 'running';
    CREATE TABLE deployment_steps (
        deployment_id INTEGER NOT NULL REFERENCES deployments(id),
        idx           INTEGER NOT NULL,
        node          TEXT NOT NULL,
        node_name     TEXT NOT NULL,
        action        TEXT NOT NULL,
        target        TEXT NOT NULL,
        service       TEXT,
        state         TEXT NOT NULL,
        message       TEXT,
        started_at    INTEGER,
        finished_at   INTEGER,
        PRIMARY KEY (deployment_id, idx)
    );
    CREATE TABLE deployment_events (
        id            INTEGER PRIMARY KEY,
        deployment_id INTEGER NOT NULL REFERENCES deployments(id),
        at            INTEGER NOT NULL,
        message       TEXT NOT NULL
    );
    CREATE TABLE app_runtime (
        app_id     TEXT PRIMARY KEY,
        desired    TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE registry_rules (
        position INTEGER PRIMARY KEY,
        source   TEXT NOT NULL,
        target   TEXT NOT NULL
    );
    CREATE TABLE registry_credentials (
        host       TEXT PRIMARY KEY,
        username   TEXT NOT NULL,
        password   TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    "#,
    ),
    (
        7,
        r#"
    CREATE TABLE outbound_log (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        at              INTEGER NOT NULL,
        method          TEXT NOT NULL,
        url             TEXT NOT NULL,
        purpose         TEXT NOT NULL,
        request_headers TEXT NOT NULL,
        request_fields  TEXT NOT NULL,
        status          INTEGER,
        error           TEXT,
        bytes_sent      INTEGER NOT NULL,
        bytes_received  INTEGER NOT NULL,
        duration_ms     INTEGER NOT NULL
    );
    CREATE INDEX outbound_log_at ON outbound_log(at);
    CREATE TABLE console_settings (
        name       TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE channel_index_seen (
        app_id   TEXT NOT NULL,
        channel  TEXT NOT NULL,
        version  INTEGER NOT NULL,
        seen_at  INTEGER NOT NULL,
        PRIMARY KEY (app_id, channel)
    );
    "#,
    ),
    (
        8,
        r#"
    ALTER TABLE channel_index_seen ADD COLUMN expires_at INTEGER;
    ALTER TABLE channel_index_seen ADD COLUMN payload TEXT;
    ALTER TABLE outbound_log ADD COLUMN via_proxy TEXT;
    CREATE TABLE update_checks (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at  INTEGER NOT NULL,
        finished_at INTEGER,
        trigger     TEXT NOT NULL,
        outcome     TEXT,
        problem     TEXT,
        error       TEXT,
        summary     TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE advisories_seen (
        app_id        TEXT NOT NULL,
        advisory_id   TEXT NOT NULL,
        first_seen_at INTEGER NOT NULL,
        PRIMARY KEY (app_id, advisory_id)
    );
    "#,
    ),
];

/// The schema version this binary brings the database to.
pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

pub(super) fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    INTEGER PRIMARY KEY,
             applied_at INTEGER NOT NULL
         );",
    )?;
    let found = current_version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::Downgrade {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for &(version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        let migrate = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
                (version, crate::clock::unix_now()),
            )?;
            tx.commit()
        };
        migrate(conn).map_err(|source| StoreError::Migration { version, source })?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

pub(super) fn current_version(conn: &Connection) -> Result<u32, StoreError> {
    let version: Option<u32> = conn
        .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get(0)
        })
        .optional()?
        .flatten();
    Ok(version.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn migrations_are_numbered_in_order_from_one() {
        for (index, (version, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version as usize, index + 1);
        }
    }

    #[test]
    fn fresh_database_reaches_the_latest_version_and_reopens_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.db");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_database_is_refused_not_downgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, 0)",
            [SCHEMA_VERSION + 1],
        )
        .unwrap();
        drop(conn);
        match Store::open(&path) {
            Err(StoreError::Downgrade { found, known }) => {
                assert_eq!(found, SCHEMA_VERSION + 1);
                assert_eq!(known, SCHEMA_VERSION);
            }
            other => panic!("expected a downgrade refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_file_is_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("console.db")).unwrap();
        let mode: String = store
            .lock()
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}
