//! The console's state store: one SQLite file (WAL) behind a mutex, with numbered migrations.
//!
//! Only this module runs SQL. Each table family has its own file; callers see typed methods,
//! never a connection.

mod admins;
mod audit;
mod config;
mod deployments;
mod license;
mod migrations;
mod nodes;
mod outbound;
mod registries;
mod releases;
mod updates;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

pub use admins::{AdminRecord, Redeemed, SessionRecord};
pub use audit::AuditRecord;
pub use deployments::{DeploymentRecord, EventRecord, NewDeployment, StepRecord};
pub use license::{LicenseRecord, VendorKeyRecord};
pub use migrations::SCHEMA_VERSION;
pub use nodes::{NodeRecord, TokenRefusal};
pub use outbound::{OutboundEntry, OutboundOutcome, OutboundRecord, StoredIndex};
pub use registries::{CredentialRecord, RuleRecord};
pub use releases::ReleaseRecord;
pub use updates::CheckRecord;

/// Errors from the store. The path or version a reader needs travels with each one.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database at {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("migration {version} failed: {source}")]
    Migration {
        version: u32,
        source: rusqlite::Error,
    },
    #[error(
        "the database has schema version {found}, newer than this console knows ({known}); \
         refusing to downgrade: run the newer console or restore a backup"
    )]
    Downgrade { found: u32, known: u32 },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The store. Cheap operations run under the mutex; callers on async threads keep
/// their work short (one statement or one transaction).
pub struct Store {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database file, switches it to WAL and applies migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        Self::init(conn, Some(path.to_owned()))
    }

    /// An in-memory twin for unit tests: same schema, same code paths, no file.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory()?;
        Self::init(conn, None)
    }

    fn init(mut conn: Connection, path: Option<PathBuf>) -> Result<Store, StoreError> {
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::apply(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        migrations::current_version(&self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every write is one
        // statement or one transaction), so a poisoned lock is safe to keep using.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
