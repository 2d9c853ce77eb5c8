//! Deployments (the version history), their steps and events, and whether the admin wants the
//! app running. A deployment's `config_json` holds the admin's config values as deployed —
//! secrets included, because a rollback must redeploy them — and never leaves the console.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// A deployment as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct DeploymentRecord {
    pub id: i64,
    pub app_id: String,
    pub kind: String,
    pub sequence: u64,
    pub version: String,
    pub previous_sequence: Option<u64>,
    pub config_hash: String,
    /// The admin's values as deployed (JSON object). Secret: never shown or logged.
    pub config_json: String,
    pub actor: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub state: String,
    pub message: Option<String>,
    pub preflight_overridden: bool,
    pub rollback_of: Option<i64>,
}

impl std::fmt::Debug for DeploymentRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploymentRecord")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("sequence", &self.sequence)
            .field("state", &self.state)
            .field("config_hash", &self.config_hash)
            .finish_non_exhaustive()
    }
}

/// What a new deployment starts with; it starts `running`.
pub struct NewDeployment<'a> {
    pub app_id: &'a str,
    pub kind: &'a str,
    pub sequence: u64,
    pub version: &'a str,
    pub previous_sequence: Option<u64>,
    pub config_hash: &'a str,
    pub config_json: &'a str,
    pub actor: &'a str,
    pub started_at: i64,
    pub preflight_overridden: bool,
    pub rollback_of: Option<i64>,
}

/// One step of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub index: u32,
    pub node: String,
    pub node_name: String,
    pub action: String,
    pub target: String,
    pub service: Option<String>,
    pub state: String,
    pub message: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub at: i64,
    pub message: String,
}

const COLUMNS: &str = "id, app_id, kind, sequence, version, previous_sequence, config_hash, \
     config_json, actor, started_at, finished_at, state, message, preflight_overridden, rollback_of";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DeploymentRecord> {
    Ok(DeploymentRecord {
        id: row.get(0)?,
        app_id: row.get(1)?,
        kind: row.get(2)?,
        sequence: row.get::<_, i64>(3)? as u64,
        version: row.get(4)?,
        previous_sequence: row.get::<_, Option<i64>>(5)?.map(|s| s as u64),
        config_hash: row.get(6)?,
        config_json: row.get(7)?,
        actor: row.get(8)?,
        started_at: row.get(9)?,
        finished_at: row.get(10)?,
        state: row.get(11)?,
        message: row.get(12)?,
        preflight_overridden: row.get(13)?,
        rollback_of: row.get(14)?,
    })
}

const STEP_COLUMNS: &str =
    "idx, node, node_name, action, target, service, state, message, started_at, finished_at";

fn step_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StepRecord> {
    Ok(StepRecord {
        index: row.get(0)?,
        node: row.get(1)?,
        node_name: row.get(2)?,
        action: row.get(3)?,
        target: row.get(4)?,
        service: row.get(5)?,
        state: row.get(6)?,
        message: row.get(7)?,
        started_at: row.get(8)?,
        finished_at: row.get(9)?,
    })
}

impl Store {
    /// Starts a deployment. `None` when the app already has a running one (the one-deploy lock
    /// as the database keeps it).
    pub fn insert_deployment(&self, new: &NewDeployment<'_>) -> Result<Option<i64>, StoreError> {
        let conn = self.lock();
        let inserted = conn.execute(
            "INSERT INTO deployments (app_id, kind, sequence, version, previous_sequence, config_hash,
                 config_json, actor, started_at, state, preflight_overridden, rollback_of)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'running', ?10, ?11)",
            params![
                new.app_id,
                new.kind,
                new.sequence as i64,
                new.version,
                new.previous_sequence.map(|s| s as i64),
                new.config_hash,
                new.config_json,
                new.actor,
                new.started_at,
                new.preflight_overridden,
                new.rollback_of,
            ],
        );
        match inserted {
            Ok(_) => Ok(Some(conn.last_insert_rowid())),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn deployment(&self, id: i64) -> Result<Option<DeploymentRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM deployments WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?)
    }

    /// An app's deployments, newest first.
    pub fn deployments(
        &self,
        app_id: &str,
        limit: u32,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM deployments WHERE app_id = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![app_id, limit], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every deployment still marked running (after a restart: the ones the console was in).
    pub fn running_deployments(&self) -> Result<Vec<DeploymentRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM deployments WHERE state = 'running' ORDER BY id"
        ))?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest deployment of the app that succeeded: what is installed.
    pub fn installed_deployment(
        &self,
        app_id: &str,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM deployments WHERE app_id = ?1 AND state = 'succeeded'
                     ORDER BY finished_at DESC, id DESC LIMIT 1"
                ),
                [app_id],
                from_row,
            )
            .optional()?)
    }

    pub fn finish_deployment(
        &self,
        id: i64,
        state: &str,
        message: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE deployments SET state = ?2, message = ?3, finished_at = ?4 WHERE id = ?1",
            params![id, state, message, now],
        )?;
        Ok(())
    }

    /// Replaces a deployment's steps (a plan's steps, all pending).
    pub fn set_deployment_steps(&self, id: i64, steps: &[StepRecord]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM deployment_steps WHERE deployment_id = ?1",
            [id],
        )?;
        for step in steps {
            insert_step(&tx, id, step)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn append_deployment_step(&self, id: i64, step: &StepRecord) -> Result<(), StoreError> {
        insert_step(&self.lock(), id, step)
    }

    /// Moves a step to `state`. `started_at` is set when the step starts, `finished_at` when
    /// it ends; a `None` leaves the column as it is.
    pub fn update_deployment_step(
        &self,
        id: i64,
        index: u32,
        state: &str,
        message: Option<&str>,
        started_at: Option<i64>,
        finished_at: Option<i64>,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE deployment_steps SET state = ?3, message = ?4,
                 started_at = COALESCE(?5, started_at), finished_at = COALESCE(?6, finished_at)
             WHERE deployment_id = ?1 AND idx = ?2",
            params![id, index, state, message, started_at, finished_at],
        )?;
        Ok(())
    }

    pub fn deployment_steps(&self, id: i64) -> Result<Vec<StepRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {STEP_COLUMNS} FROM deployment_steps WHERE deployment_id = ?1 ORDER BY idx"
        ))?;
        let rows = stmt.query_map([id], step_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn add_deployment_event(&self, id: i64, at: i64, message: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO deployment_events (deployment_id, at, message) VALUES (?1, ?2, ?3)",
            params![id, at, message],
        )?;
        Ok(())
    }

    pub fn deployment_events(&self, id: i64) -> Result<Vec<EventRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT at, message FROM deployment_events WHERE deployment_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([id], |row| {
            Ok(EventRecord {
                at: row.get(0)?,
                message: row.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether the admin wants the app running (`running`, the default) or `stopped`.
    pub fn desired_state(&self, app_id: &str) -> Result<String, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT desired FROM app_runtime WHERE app_id = ?1",
                [app_id],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or_else(|| "running".to_string()))
    }

    pub fn set_desired_state(
        &self,
        app_id: &str,
        desired: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO app_runtime (app_id, desired, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(app_id) DO UPDATE SET desired = excluded.desired, updated_at = excluded.updated_at",
            params![app_id, desired, now],
        )?;
        Ok(())
    }

    /// Sets the admin's config values to exactly `values` (a rollback restores a deployment's).
    pub fn replace_config_values(
        &self,
        app_id: &str,
        values: &std::collections::BTreeMap<String, String>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM config_values WHERE app_id = ?1", [app_id])?;
        for (name, value) in values {
            tx.execute(
                "INSERT INTO config_values (app_id, name, value, updated_at) VALUES (?1, ?2, ?3, ?4)",
                params![app_id, name, value, now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

fn insert_step(conn: &rusqlite::Connection, id: i64, step: &StepRecord) -> Result<(), StoreError> {
    conn.execute(
        &format!(
            "INSERT INTO deployment_steps (deployment_id, {STEP_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ),
        params![
            id,
            step.index,
            step.node,
            step.node_name,
            step.action,
            step.target,
            step.service,
            step.state,
            step.message,
            step.started_at,
            step.finished_at,
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new<'a>(kind: &'a str, sequence: u64) -> NewDeployment<'a> {
        NewDeployment {
            app_id: "shop",
            kind,
            sequence,
            version: "1.0.0",
            previous_sequence: None,
            config_hash: "abc",
            config_json: "{}",
            actor: "admin",
            started_at: 10,
            preflight_overridden: false,
            rollback_of: None,
        }
    }

    #[test]
    fn one_running_deployment_per_app_and_the_installed_one_is_the_last_success() {
        let store = Store::open_in_memory().unwrap();
        let first = store.insert_deployment(&new("deploy", 1)).unwrap().unwrap();
        assert_eq!(store.insert_deployment(&new("update", 2)).unwrap(), None);
        assert_eq!(store.running_deployments().unwrap().len(), 1);
        store
            .finish_deployment(first, "succeeded", None, 11)
            .unwrap();
        let second = store.insert_deployment(&new("update", 2)).unwrap().unwrap();
        store
            .finish_deployment(second, "rolled_back", Some("unhealthy"), 12)
            .unwrap();
        let installed = store.installed_deployment("shop").unwrap().unwrap();
        assert_eq!((installed.id, installed.sequence), (first, 1));
        let history = store.deployments("shop", 10).unwrap();
        assert_eq!(
            history.iter().map(|d| d.id).collect::<Vec<_>>(),
            [second, first]
        );
        assert_eq!(history[0].message.as_deref(), Some("unhealthy"));
    }

    #[test]
    fn steps_and_events_are_kept_in_order() {
        let store = Store::open_in_memory().unwrap();
        let id = store.insert_deployment(&new("deploy", 1)).unwrap().unwrap();
        let step = |index: u32| StepRecord {
            index,
            node: "node-a".into(),
            node_name: "a".into(),
            action: "pull".into(),
            target: format!("image{index}"),
            service: None,
            state: "pending".into(),
            message: None,
            started_at: None,
            finished_at: None,
        };
        store.set_deployment_steps(id, &[step(0), step(1)]).unwrap();
        store.append_deployment_step(id, &step(2)).unwrap();
        store
            .update_deployment_step(id, 1, "running", None, Some(5), None)
            .unwrap();
        store
            .update_deployment_step(id, 1, "failed", Some("not found"), None, Some(6))
            .unwrap();
        let steps = store.deployment_steps(id).unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(
            (
                steps[1].state.as_str(),
                steps[1].started_at,
                steps[1].finished_at
            ),
            ("failed", Some(5), Some(6))
        );
        store.add_deployment_event(id, 1, "first").unwrap();
        store.add_deployment_event(id, 2, "second").unwrap();
        let events = store.deployment_events(id).unwrap();
        assert_eq!(events[1].message, "second");
        assert_eq!(store.desired_state("shop").unwrap(), "running");
        store.set_desired_state("shop", "stopped", 3).unwrap();
        assert_eq!(store.desired_state("shop").unwrap(), "stopped");
    }
}
