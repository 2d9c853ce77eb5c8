//! The deploy state machine: one deploy (or start/stop) at a time, each deployment recorded with
//! its steps and events, failures rolled back to the release and config that ran before, and a
//! deployment the console was in when it stopped resumed when it starts again.
//!
//! States of a deployment: `running` → `succeeded`, or `failed` (nothing needed undoing, or
//! there was nothing to go back to), or `rolling_back` while a `rollback` deployment restores
//! the previous release, then `rolled_back` (restored) or `failed` (the rollback failed too). A deployment found `running` at start-up is run again from its first step
//! (every step is idempotent); one that cannot be resumed ends `interrupted`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use outpost_agent::protocol::{Command, Facts};
use outpost_airgap::app::App;
use serde::Serialize;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::execute::{self, Execution, Journal, Limits, LiveProgress};
use super::nodes::{call, ContainerInfo, ContainerList, NodeCommands};
use super::plan::{
    self, Plan, PlanError, PlanInput, PlanNode, LABEL_APP, LABEL_REPLICA, LABEL_SERVICE,
};
use super::registries::{Registries, RegistriesError};
use crate::audit::{self, Action, Actor, Source};
use crate::clock::unix_now;
use crate::license::{LicenseError, Licenses};
use crate::preflight::{self, NodeInput, PreflightInput, Report};
use crate::releases::{LoadedRelease, ReleaseError, Releases};
use crate::store::{DeploymentRecord, NewDeployment, NodeRecord, Store, StoreError};

/// How long a resumed deployment waits for its nodes to reconnect after a console restart.
const RESUME_WAIT: Duration = Duration::from_secs(60);
/// Most log lines one request may ask for.
pub const MAX_TAIL: u32 = 5000;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("a deployment is in progress (deployment #{0}): wait for it to finish")]
    InProgress(i64),
    #[error("another operation on the app is in progress: try again in a moment")]
    Busy,
    #[error("preflight failed: {}. Fix these, or deploy with the preflight override (recorded in the audit log)", failing(.0))]
    PreflightFailed(Box<Report>),
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("no license is loaded: load the license first")]
    NoLicense,
    #[error("the vendor revoked the license ({0}): updates and rollbacks are blocked; the installed release keeps running")]
    LicenseRevoked(String),
    #[error("deployment #{0} does not exist")]
    NoSuchDeployment(i64),
    #[error(
        "deployment #{id} ({state}) never ran successfully, so there is nothing to roll back to"
    )]
    NotRollbackable { id: i64, state: String },
    #[error("the app is not deployed yet: deploy a release first")]
    NotDeployed,
    #[error("no container of service {service:?} replica {replica} is known: see the app's status for its services")]
    NoSuchContainer { service: String, replica: u32 },
    #[error("{0}")]
    Node(String),
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    License(#[from] LicenseError),
    #[error(transparent)]
    Registries(#[from] RegistriesError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored deployment #{0} is damaged: {1}")]
    Damaged(i64, String),
}

fn failing(report: &Report) -> String {
    report
        .results
        .iter()
        .filter(|r| r.outcome == preflight::Outcome::Fail)
        .map(|r| match &r.node {
            Some(node) => format!("{} on {node}: {}", r.check, r.message),
            None => format!("{}: {}", r.check, r.message),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The release the network report describes (see [`Deployer::network_inputs`]).
#[derive(Debug, Clone)]
pub struct ReleaseNetwork {
    pub sequence: u64,
    pub version: String,
    pub installed: bool,
    pub ports: Vec<preflight::PublishedPort>,
    /// Each service's image and where nodes get it.
    pub images: Vec<(String, super::plan::PlannedImage)>,
}

/// A deployment as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentView {
    pub id: i64,
    pub kind: String,
    pub sequence: u64,
    pub version: String,
    pub previous_sequence: Option<u64>,
    pub config_hash: String,
    pub actor: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub state: String,
    pub message: Option<String>,
    pub preflight_overridden: bool,
    pub rollback_of: Option<i64>,
    pub progress: ProgressView,
    /// Empty in lists.
    pub steps: Vec<StepView>,
    pub events: Vec<EventView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProgressView {
    pub done: u32,
    pub total: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    pub index: u32,
    pub node: String,
    pub node_name: String,
    pub action: String,
    pub target: String,
    pub service: Option<String>,
    pub state: String,
    pub message: Option<String>,
    pub progress: Option<BytesProgress>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct BytesProgress {
    pub current: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub at: i64,
    pub message: String,
}

/// A preflight run.
#[derive(Debug, Clone, Serialize)]
pub struct PreflightView {
    pub sequence: u64,
    pub version: String,
    pub report: Report,
    /// Display names by node id.
    pub node_names: BTreeMap<String, String>,
    pub ran_at: i64,
}

/// The app as it runs now.
#[derive(Debug, Clone, Serialize)]
pub struct AppStatus {
    pub app_id: String,
    /// `not_deployed`, `running`, `degraded`, `stopped` or `deploying`.
    pub state: String,
    pub installed: Option<Installed>,
    pub active_deployment: Option<i64>,
    pub services: Vec<ServiceStatus>,
    /// Nodes that could not be asked (offline), by name.
    pub unreachable: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    pub sequence: u64,
    pub version: String,
    pub deployment_id: i64,
    pub config_hash: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    /// `running`, `degraded` or `stopped`.
    pub state: String,
    pub replicas: Vec<ReplicaStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplicaStatus {
    pub replica: u32,
    pub node: String,
    pub node_name: String,
    pub container: String,
    pub state: String,
    pub health: Option<String>,
    pub restarts: u64,
    pub started_at: Option<String>,
    pub image: String,
}

/// Log lines of one container.
#[derive(Debug, Clone, Serialize)]
pub struct Logs {
    pub service: String,
    pub replica: u32,
    pub node: String,
    pub container: String,
    pub lines: Vec<LogLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub stream: String,
    pub line: String,
}

/// Where a replica's container runs.
#[derive(Debug, Clone)]
pub struct ContainerLocation {
    pub node: String,
    pub container: String,
}

/// Start, stop or restart.
#[derive(Debug, Clone, Copy)]
enum Operation {
    Start,
    Stop,
    Restart,
}

/// What kind of deployment to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Deploy,
    Update,
    Rollback,
    ManualRollback,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Deploy => "deploy",
            Kind::Update => "update",
            Kind::Rollback => "rollback",
            Kind::ManualRollback => "manual_rollback",
        }
    }
}

/// The deployer. Cheap to clone into tasks through `Arc`.
pub struct Deployer {
    store: Arc<Store>,
    licenses: Arc<Licenses>,
    releases: Arc<Releases>,
    registries: Arc<Registries>,
    nodes: Arc<dyn NodeCommands>,
    /// The one lock: held by a running deployment, and by start/stop/restart.
    lock: Arc<Mutex<()>>,
    progress: LiveProgress,
    limits: Limits,
    /// This host's name: its node shares the console's clock and ports.
    console_hostname: String,
}

impl std::fmt::Debug for Deployer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployer").finish_non_exhaustive()
    }
}

impl Deployer {
    pub fn new(
        store: Arc<Store>,
        licenses: Arc<Licenses>,
        releases: Arc<Releases>,
        registries: Arc<Registries>,
        nodes: Arc<dyn NodeCommands>,
        limits: Limits,
        console_hostname: String,
    ) -> Deployer {
        Deployer {
            store,
            licenses,
            releases,
            registries,
            nodes,
            lock: Arc::new(Mutex::new(())),
            progress: LiveProgress::default(),
            limits,
            console_hostname,
        }
    }

    fn app_id(&self) -> Result<String, DeployError> {
        Ok(self
            .licenses
            .current()?
            .ok_or(DeployError::NoLicense)?
            .license
            .app_id)
    }

    fn node_records(&self) -> Result<Vec<NodeRecord>, DeployError> {
        Ok(self.store.nodes()?)
    }

    fn node_names(&self) -> Result<BTreeMap<String, String>, DeployError> {
        Ok(self
            .node_records()?
            .into_iter()
            .map(|n| {
                let name = if n.hostname.is_empty() {
                    n.id.clone()
                } else {
                    n.hostname
                };
                (n.id, name)
            })
            .collect())
    }

    /// The plan for release `sequence` with the admin's `config`, on the nodes online now.
    fn plan(
        &self,
        sequence: u64,
        config: &BTreeMap<String, String>,
    ) -> Result<(Plan, LoadedRelease, App), DeployError> {
        let app_id = self.app_id()?;
        let loaded = self.releases.get(sequence)?;
        let app = App::from_files(&loaded.release.files)
            .map_err(|e| DeployError::Release(ReleaseError::BadApp(e)))?;
        let nodes = self
            .node_records()?
            .into_iter()
            .filter(|n| self.nodes.online(&n.id))
            .map(|n| PlanNode {
                id: n.id,
                labels: n.labels,
            })
            .collect();
        let settings = self.registries.settings()?;
        let plan = plan::build(&PlanInput {
            app_id: &app_id,
            release: &loaded.release,
            app: &app,
            config,
            nodes,
            registry: &settings,
        })?;
        Ok((plan, loaded, app))
    }

    /// Preflight for release `sequence` (default: the newest loaded) on the nodes its plan uses.
    pub async fn preflight(&self, sequence: Option<u64>) -> Result<PreflightView, DeployError> {
        let sequence = match sequence {
            Some(s) => s,
            None => self
                .releases
                .list()?
                .first()
                .map(|r| r.release.sequence)
                .ok_or(DeployError::Release(ReleaseError::NotFound(0)))?,
        };
        let app_id = self.app_id()?;
        let config = self.store.config_values(&app_id)?;
        let loaded = self.releases.get(sequence)?;
        let app = App::from_files(&loaded.release.files)
            .map_err(|e| DeployError::Release(ReleaseError::BadApp(e)))?;
        // The nodes the plan uses; when no plan can be made, every node (so the report still
        // says what each node lacks) plus the plan's own complaint.
        let planned: Result<(Plan, _, _), DeployError> = self.plan(sequence, &config);
        let records = self.node_records()?;
        let used: Vec<&NodeRecord> = match &planned {
            Ok((plan, _, _)) => records
                .iter()
                .filter(|n| plan.nodes.contains_key(&n.id))
                .collect(),
            Err(_) => records.iter().collect(),
        };
        let facts: Vec<Option<Facts>> = used
            .iter()
            .map(|n| {
                n.facts
                    .as_deref()
                    .and_then(|f| serde_json::from_str(f).ok())
            })
            .collect();
        let installed_ports = self.installed_ports(&app_id)?;
        let mut inputs = Vec::new();
        for (record, facts) in used.iter().zip(&facts) {
            let runs_app = !installed_ports.is_empty()
                && self
                    .list_app_containers(&record.id, &app_id)
                    .await
                    .is_ok_and(|c| !c.is_empty());
            let status = self.nodes.online(&record.id);
            inputs.push(NodeInput {
                id: record.id.clone(),
                hostname: record.hostname.clone(),
                online: status,
                facts: facts.as_ref(),
                clock_skew_ms: None,
                is_console_host: record.hostname == self.console_hostname,
                ports_held_by_app: if runs_app {
                    installed_ports.clone()
                } else {
                    Vec::new()
                },
            });
        }
        let values = plan_values(&app, &config);
        let mut input = PreflightInput::new(&app.outpost.preflight);
        input.published_ports = preflight::published_ports(&app, &app.profiles_for(&values));
        input.nodes = inputs;
        input.license_max_nodes = self.licenses.current()?.and_then(|l| l.license.max_nodes);
        let mut report = preflight::evaluate(&input);
        if let Err(e) = &planned {
            let mut results = vec![preflight::CheckResult {
                check: "Deploy plan".to_string(),
                node: None,
                outcome: preflight::Outcome::Fail,
                message: e.to_string(),
            }];
            results.append(&mut report.results);
            report = Report::new(results);
        }
        Ok(PreflightView {
            sequence,
            version: loaded.release.version,
            report,
            node_names: self.node_names()?,
            ran_at: unix_now(),
        })
    }

    /// A revoked license blocks every new deployment (start, stop and restart go on).
    fn check_not_revoked(&self) -> Result<(), DeployError> {
        match self.licenses.current()?.and_then(|l| l.license.revoked) {
            Some(revoked) => Err(DeployError::LicenseRevoked(revoked.reason)),
            None => Ok(()),
        }
    }

    /// What the network report needs: the installed release (else the newest loaded), the
    /// ports it publishes, and where each service's image comes from.
    pub fn network_inputs(&self) -> Result<Option<ReleaseNetwork>, DeployError> {
        let Ok(app_id) = self.app_id() else {
            return Ok(None);
        };
        let installed = self.store.installed_deployment(&app_id)?;
        let loaded = match &installed {
            Some(deployment) => self.releases.get(deployment.sequence).ok(),
            None => self.releases.list()?.into_iter().next(),
        };
        let Some(loaded) = loaded else {
            return Ok(None);
        };
        let Ok(app) = App::from_files(&loaded.release.files) else {
            return Ok(None);
        };
        let config = match &installed {
            Some(deployment) => snapshot(deployment)?,
            None => self.store.config_values(&app_id)?,
        };
        let values = plan_values(&app, &config);
        let profiles = app.profiles_for(&values);
        let settings = self.registries.settings()?;
        Ok(Some(ReleaseNetwork {
            sequence: loaded.release.sequence,
            version: loaded.release.version.clone(),
            installed: installed.is_some(),
            ports: preflight::published_ports(&app, &profiles),
            images: plan::service_images(&loaded.release, &app, &profiles, &settings),
        }))
    }

    /// The ports the installed release publishes (held by our own containers).
    fn installed_ports(&self, app_id: &str) -> Result<Vec<u16>, DeployError> {
        let Some(installed) = self.store.installed_deployment(app_id)? else {
            return Ok(Vec::new());
        };
        let Ok(loaded) = self.releases.get(installed.sequence) else {
            return Ok(Vec::new());
        };
        let Ok(app) = App::from_files(&loaded.release.files) else {
            return Ok(Vec::new());
        };
        let config = snapshot(&installed)?;
        let values = plan_values(&app, &config);
        Ok(preflight::published_ports(&app, &app.profiles_for(&values))
            .into_iter()
            .map(|p| p.port)
            .collect())
    }

    /// Starts deploying release `sequence` with the admin's current config.
    pub async fn deploy(
        self: &Arc<Self>,
        sequence: u64,
        override_preflight: bool,
        actor: &Actor,
        source: &Source,
    ) -> Result<DeploymentView, DeployError> {
        self.check_not_revoked()?;
        let guard = self.take_lock()?;
        let app_id = self.app_id()?;
        let config = self.store.config_values(&app_id)?;
        let (plan, loaded, _) = self.plan(sequence, &config)?;
        let report = self.preflight(Some(sequence)).await?.report;
        if report.blocking {
            if !override_preflight {
                return Err(DeployError::PreflightFailed(Box::new(report)));
            }
            audit::record(
                &self.store,
                actor,
                Action::PreflightOverridden,
                source,
                &format!(
                    "deploying release {} (sequence {sequence}) despite failed preflight checks: {}",
                    loaded.release.version,
                    failing(&report)
                ),
            )?;
        }
        let installed = self.store.installed_deployment(&app_id)?;
        let kind = if installed.is_some() {
            Kind::Update
        } else {
            Kind::Deploy
        };
        let id = self.begin(
            &app_id,
            kind,
            &plan,
            &loaded,
            &config,
            installed.as_ref().map(|d| d.sequence),
            actor,
            override_preflight && report.blocking,
            None,
        )?;
        audit::record(
            &self.store,
            actor,
            Action::DeployStarted,
            source,
            &format!(
                "deployment #{id}: {} release {} (sequence {sequence}), config {}",
                kind.as_str(),
                loaded.release.version,
                short(&plan.config_hash)
            ),
        )?;
        self.store
            .set_desired_state(&app_id, "running", unix_now())?;
        self.spawn(guard, id, plan, actor.clone());
        self.view(id)
    }

    /// Starts redeploying an earlier successful deployment's release and config.
    pub async fn rollback_to(
        self: &Arc<Self>,
        target: i64,
        actor: &Actor,
        source: &Source,
    ) -> Result<DeploymentView, DeployError> {
        self.check_not_revoked()?;
        let guard = self.take_lock()?;
        let app_id = self.app_id()?;
        let record = self
            .store
            .deployment(target)?
            .filter(|d| d.app_id == app_id)
            .ok_or(DeployError::NoSuchDeployment(target))?;
        if record.state != "succeeded" {
            return Err(DeployError::NotRollbackable {
                id: target,
                state: record.state,
            });
        }
        let config = snapshot(&record)?;
        let (plan, loaded, _) = self.plan(record.sequence, &config)?;
        let installed = self.store.installed_deployment(&app_id)?;
        let id = self.begin(
            &app_id,
            Kind::ManualRollback,
            &plan,
            &loaded,
            &config,
            installed.as_ref().map(|d| d.sequence),
            actor,
            false,
            None,
        )?;
        audit::record(
            &self.store,
            actor,
            Action::RollbackRequested,
            source,
            &format!(
                "deployment #{id}: roll back to release {} (sequence {}) with the config of deployment #{target}",
                loaded.release.version, record.sequence
            ),
        )?;
        self.store
            .set_desired_state(&app_id, "running", unix_now())?;
        self.spawn(guard, id, plan, actor.clone());
        self.view(id)
    }

    fn take_lock(&self) -> Result<OwnedMutexGuard<()>, DeployError> {
        self.lock.clone().try_lock_owned().map_err(|_| {
            match self
                .store
                .running_deployments()
                .ok()
                .and_then(|d| d.first().map(|d| d.id))
            {
                Some(id) => DeployError::InProgress(id),
                None => DeployError::Busy,
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn begin(
        &self,
        app_id: &str,
        kind: Kind,
        plan: &Plan,
        loaded: &LoadedRelease,
        config: &BTreeMap<String, String>,
        previous_sequence: Option<u64>,
        actor: &Actor,
        preflight_overridden: bool,
        rollback_of: Option<i64>,
    ) -> Result<i64, DeployError> {
        let config_json =
            serde_json::to_string(config).map_err(|e| DeployError::Damaged(0, e.to_string()))?;
        let id = self
            .store
            .insert_deployment(&NewDeployment {
                app_id,
                kind: kind.as_str(),
                sequence: loaded.release.sequence,
                version: &loaded.release.version,
                previous_sequence,
                config_hash: &plan.config_hash,
                config_json: &config_json,
                actor: actor.as_str(),
                started_at: unix_now(),
                preflight_overridden,
                rollback_of,
            })?
            .ok_or_else(|| {
                DeployError::InProgress(
                    self.store
                        .running_deployments()
                        .ok()
                        .and_then(|d| d.first().map(|d| d.id))
                        .unwrap_or(0),
                )
            })?;
        Ok(id)
    }

    fn spawn(self: &Arc<Self>, guard: OwnedMutexGuard<()>, id: i64, plan: Plan, actor: Actor) {
        let this = self.clone();
        tokio::spawn(async move {
            let _guard = guard;
            this.drive(id, plan, actor).await;
        });
    }

    /// Runs deployment `id` to its end, rolling back when it failed after touching containers.
    async fn drive(self: &Arc<Self>, id: i64, plan: Plan, actor: Actor) {
        if let Err(e) = self.drive_inner(id, plan, &actor).await {
            tracing::error!(deployment = id, "recording the deployment failed: {e}");
            let _ = self.store.finish_deployment(
                id,
                "failed",
                Some(&format!("the console could not record the deployment: {e}")),
                unix_now(),
            );
        }
    }

    async fn drive_inner(
        self: &Arc<Self>,
        id: i64,
        plan: Plan,
        actor: &Actor,
    ) -> Result<(), DeployError> {
        let record = self
            .store
            .deployment(id)?
            .ok_or(DeployError::NoSuchDeployment(id))?;
        let journal = self.journal(id);
        journal.event(&plan_summary(&plan))?;
        let outcome = self.execute(id, &plan, false).await;
        let failure = match outcome {
            Ok(()) => {
                journal.event("every container is as the plan says")?;
                self.finish_success(&record, actor)?;
                return Ok(());
            }
            Err(failure) => failure,
        };
        let _ = journal.event(&format!("failed: {}", failure.message));
        let previous = self.store.installed_deployment(&record.app_id)?;
        let rollback_target = previous.filter(|p| p.id != id);
        match (failure.changed, rollback_target) {
            (false, previous) => {
                let kept = match previous {
                    Some(p) => {
                        format!(" Nothing was changed: release {} keeps running.", p.version)
                    }
                    None => " Nothing was changed.".to_string(),
                };
                let message = format!("{}.{kept}", failure.message.trim_end_matches('.'));
                self.store
                    .finish_deployment(id, "failed", Some(&message), unix_now())?;
                audit::record(
                    &self.store,
                    actor,
                    Action::DeployFailed,
                    &Source::Unknown,
                    &format!("deployment #{id} failed: {message}"),
                )?;
            }
            (true, None) => {
                let message = format!(
                    "{}. There is no earlier release to roll back to; the containers are left as they are for inspection.",
                    failure.message.trim_end_matches('.')
                );
                self.store
                    .finish_deployment(id, "failed", Some(&message), unix_now())?;
                audit::record(
                    &self.store,
                    actor,
                    Action::DeployFailed,
                    &Source::Unknown,
                    &format!("deployment #{id} failed: {message}"),
                )?;
            }
            (true, Some(previous)) => {
                self.roll_back(&record, &previous, &failure.message).await?;
            }
        }
        Ok(())
    }

    fn finish_success(&self, record: &DeploymentRecord, actor: &Actor) -> Result<(), DeployError> {
        let id = record.id;
        let message = match record.kind.as_str() {
            "rollback" | "manual_rollback" => {
                // What runs is that deployment's config: the config screen shows it again.
                let config = snapshot(record)?;
                self.store
                    .replace_config_values(&record.app_id, &config, unix_now())?;
                audit::record(
                    &self.store,
                    &Actor::System,
                    Action::ConfigRestored,
                    &Source::Unknown,
                    &format!(
                        "config restored to what deployment #{id} runs (release {})",
                        record.version
                    ),
                )?;
                format!("Release {} runs again, with its config.", record.version)
            }
            _ => format!("Release {} runs.", record.version),
        };
        self.store
            .finish_deployment(id, "succeeded", Some(&message), unix_now())?;
        audit::record(
            &self.store,
            actor,
            Action::DeploySucceeded,
            &Source::Unknown,
            &format!(
                "deployment #{id} succeeded: {message} (config {})",
                short(&record.config_hash)
            ),
        )?;
        Ok(())
    }

    /// The automatic rollback of `failed` to `previous` (the last deployment that succeeded).
    async fn roll_back(
        self: &Arc<Self>,
        failed: &DeploymentRecord,
        previous: &DeploymentRecord,
        why: &str,
    ) -> Result<(), DeployError> {
        let config = snapshot(previous)?;
        let planned = self.plan(previous.sequence, &config);
        let (plan, loaded) = match planned {
            Ok((plan, loaded, _)) => (plan, loaded),
            Err(e) => {
                let message = format!(
                    "{}. Rolling back to release {} was not possible: {e}",
                    why.trim_end_matches('.'),
                    previous.version
                );
                self.store
                    .finish_deployment(failed.id, "failed", Some(&message), unix_now())?;
                audit::record(
                    &self.store,
                    &Actor::System,
                    Action::DeployFailed,
                    &Source::Unknown,
                    &format!("deployment #{} failed: {message}", failed.id),
                )?;
                return Ok(());
            }
        };
        // The failed deployment is `rolling_back` (not final) while its rollback runs; the
        // rollback takes over the one `running` slot.
        self.store.finish_deployment(
            failed.id,
            "rolling_back",
            Some(&format!(
                "{}; rolling back to release {}",
                why.trim_end_matches('.'),
                previous.version
            )),
            unix_now(),
        )?;
        let id = self.begin(
            &failed.app_id,
            Kind::Rollback,
            &plan,
            &loaded,
            &config,
            Some(failed.sequence),
            &Actor::System,
            false,
            Some(failed.id),
        )?;
        let _ = self.journal(failed.id).event(&format!(
            "rolling back automatically to release {} (deployment #{id})",
            previous.version
        ));
        let outcome = self.execute(id, &plan, false).await;
        let rollback = self
            .store
            .deployment(id)?
            .ok_or(DeployError::NoSuchDeployment(id))?;
        match outcome {
            Ok(()) => {
                self.finish_success(&rollback, &Actor::System)?;
                let message = format!(
                    "{}. Rolled back automatically to release {} (deployment #{id}), which runs again.",
                    why.trim_end_matches('.'),
                    previous.version
                );
                self.store.finish_deployment(
                    failed.id,
                    "rolled_back",
                    Some(&message),
                    unix_now(),
                )?;
                audit::record(
                    &self.store,
                    &Actor::System,
                    Action::DeployRolledBack,
                    &Source::Unknown,
                    &format!("deployment #{} rolled back: {message}", failed.id),
                )?;
            }
            Err(failure) => {
                let message = format!(
                    "rolling back to release {} failed too: {}",
                    previous.version, failure.message
                );
                self.store
                    .finish_deployment(id, "failed", Some(&message), unix_now())?;
                let whole = format!("{}. Then {message}", why.trim_end_matches('.'));
                self.store
                    .finish_deployment(failed.id, "failed", Some(&whole), unix_now())?;
                audit::record(
                    &self.store,
                    &Actor::System,
                    Action::DeployFailed,
                    &Source::Unknown,
                    &format!(
                        "deployment #{} failed and its rollback failed: {whole}",
                        failed.id
                    ),
                )?;
            }
        }
        Ok(())
    }

    fn journal(&self, id: i64) -> Journal {
        Journal::new(self.store.clone(), id, self.progress.clone())
    }

    async fn execute(
        &self,
        id: i64,
        plan: &Plan,
        skip_prepare: bool,
    ) -> Result<(), execute::Failure> {
        let names = self.node_names().unwrap_or_default();
        let cluster: Vec<String> = names.keys().cloned().collect();
        let credentials = self
            .registries
            .settings()
            .map(|s| s.credentials)
            .unwrap_or_default();
        let journal = self.journal(id);
        Execution {
            nodes: self.nodes.as_ref(),
            journal: &journal,
            plan,
            credentials: &credentials,
            node_names: &names,
            cluster: &cluster,
            limits: self.limits,
            skip_prepare,
        }
        .run()
        .await
    }

    /// Resumes the deployments the console was in when it stopped. Run once at start-up, in
    /// the background.
    pub async fn resume_interrupted(self: Arc<Self>) {
        let running = match self.store.running_deployments() {
            Ok(running) => running,
            Err(e) => {
                tracing::error!("cannot look for interrupted deployments: {e}");
                return;
            }
        };
        for record in running {
            let Ok(guard) = self.lock.clone().try_lock_owned() else {
                return;
            };
            if let Err(e) = self.resume(guard, record.clone()).await {
                tracing::error!(deployment = record.id, "resuming failed: {e}");
                let _ = self.store.finish_deployment(
                    record.id,
                    "interrupted",
                    Some(&format!(
                        "the console stopped during this deployment and it could not be resumed: {e}"
                    )),
                    unix_now(),
                );
            }
        }
    }

    async fn resume(
        self: &Arc<Self>,
        guard: OwnedMutexGuard<()>,
        record: DeploymentRecord,
    ) -> Result<(), DeployError> {
        let journal = self.journal(record.id);
        let steps = self.store.deployment_steps(record.id)?;
        let done = steps.iter().filter(|s| s.state == "done").count();
        journal.event(&format!(
            "the console stopped during this deployment ({done} of {} steps done); resuming it from the start (each step is idempotent)",
            steps.len()
        ))?;
        audit::record(
            &self.store,
            &Actor::System,
            Action::DeployResumed,
            &Source::Unknown,
            &format!(
                "deployment #{} ({} release {}) resumed after a console restart",
                record.id, record.kind, record.version
            ),
        )?;
        // Wait (bounded) for the nodes it used to reconnect.
        let wanted: BTreeSet<String> = steps.iter().map(|s| s.node.clone()).collect();
        let deadline = tokio::time::Instant::now() + RESUME_WAIT;
        while !wanted.iter().all(|n| self.nodes.online(n)) && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let config = snapshot(&record)?;
        let plan = match self.plan(record.sequence, &config) {
            Ok((plan, _, _)) => plan,
            Err(e) => {
                // No plan now (a node did not come back, ...): the failure path decides
                // between failing and rolling back, as for any failure after changes.
                let failure_message = format!("resuming after a console restart failed: {e}");
                journal.event(&failure_message)?;
                let previous = self
                    .store
                    .installed_deployment(&record.app_id)?
                    .filter(|p| p.id != record.id);
                // Only a container run or removed (or one in the middle of it) touched the
                // running release; networks, volumes and pulls did not.
                let changed = steps
                    .iter()
                    .any(|s| matches!(s.action.as_str(), "run" | "remove") && s.state != "pending");
                match previous {
                    Some(previous) if changed => {
                        self.roll_back(&record, &previous, &failure_message).await?
                    }
                    _ => self.store.finish_deployment(
                        record.id,
                        "interrupted",
                        Some(&failure_message),
                        unix_now(),
                    )?,
                }
                drop(guard);
                return Ok(());
            }
        };
        let actor = Actor::System;
        self.drive(record.id, plan, actor).await;
        if let Some(failed) = record.rollback_of {
            self.settle_rolling_back(failed, record.id)?;
        }
        drop(guard);
        Ok(())
    }

    /// Ends deployment `failed` (left `rolling_back` by a console restart) by the outcome of
    /// its rollback `rollback`.
    fn settle_rolling_back(&self, failed: i64, rollback: i64) -> Result<(), DeployError> {
        let (Some(failed), Some(rollback)) = (
            self.store.deployment(failed)?,
            self.store.deployment(rollback)?,
        ) else {
            return Ok(());
        };
        if failed.state != "rolling_back" {
            return Ok(());
        }
        let why = failed.message.clone().unwrap_or_default();
        let (state, message) = if rollback.state == "succeeded" {
            (
                "rolled_back",
                format!(
                    "{why}. Rolled back automatically to release {} (deployment #{}), which runs again.",
                    rollback.version, rollback.id
                ),
            )
        } else {
            (
                "failed",
                format!(
                    "{why}. The rollback (deployment #{}) failed too.",
                    rollback.id
                ),
            )
        };
        self.store
            .finish_deployment(failed.id, state, Some(&message), unix_now())?;
        Ok(())
    }

    /// One deployment with its steps and events.
    pub fn view(&self, id: i64) -> Result<DeploymentView, DeployError> {
        let record = self
            .store
            .deployment(id)?
            .ok_or(DeployError::NoSuchDeployment(id))?;
        let steps = self.store.deployment_steps(id)?;
        let events = self.store.deployment_events(id)?;
        let live = self
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut view = summary(record, &steps);
        view.steps = steps
            .into_iter()
            .map(|s| StepView {
                progress: live
                    .get(&(id, s.index))
                    .map(|&(current, total)| BytesProgress { current, total }),
                index: s.index,
                node: s.node,
                node_name: s.node_name,
                action: s.action,
                target: s.target,
                service: s.service,
                state: s.state,
                message: s.message,
                started_at: s.started_at,
                finished_at: s.finished_at,
            })
            .collect();
        view.events = events
            .into_iter()
            .map(|e| EventView {
                at: e.at,
                message: e.message,
            })
            .collect();
        Ok(view)
    }

    /// The version history, newest first, and the running deployment if any.
    pub fn history(&self, limit: u32) -> Result<(Vec<DeploymentView>, Option<i64>), DeployError> {
        let Some(license) = self.licenses.current()? else {
            return Ok((Vec::new(), None));
        };
        let app_id = license.license.app_id;
        let records = self.store.deployments(&app_id, limit)?;
        let active = records.iter().find(|d| d.state == "running").map(|d| d.id);
        let views = records
            .into_iter()
            .map(|record| {
                let steps = self.store.deployment_steps(record.id)?;
                Ok(summary(record, &steps))
            })
            .collect::<Result<Vec<_>, DeployError>>()?;
        Ok((views, active))
    }

    async fn list_app_containers(
        &self,
        node: &str,
        app_id: &str,
    ) -> Result<Vec<ContainerInfo>, String> {
        let listed: ContainerList = call(
            self.nodes.as_ref(),
            node,
            Command::ListContainers {
                labels: BTreeMap::from([(LABEL_APP.to_string(), app_id.to_string())]),
            },
            self.limits.command,
            None,
        )
        .await?;
        Ok(listed.containers)
    }

    /// The app's containers on every node, by service.
    pub async fn status(&self) -> Result<AppStatus, DeployError> {
        let app_id = self.app_id()?;
        let installed = self.store.installed_deployment(&app_id)?;
        let active = self.store.running_deployments()?.first().map(|d| d.id);
        let names = self.node_names()?;
        let mut services: BTreeMap<String, Vec<ReplicaStatus>> = BTreeMap::new();
        let mut unreachable = Vec::new();
        for (node, name) in &names {
            if !self.nodes.online(node) {
                unreachable.push(name.clone());
                continue;
            }
            let containers = match self.list_app_containers(node, &app_id).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(node = %node, "listing the app's containers failed: {e}");
                    unreachable.push(name.clone());
                    continue;
                }
            };
            for c in containers {
                let service = c.labels.get(LABEL_SERVICE).cloned().unwrap_or_default();
                let replica = c
                    .labels
                    .get(LABEL_REPLICA)
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(1);
                // Docker keeps the last health of a stopped container: it says nothing now.
                let health = c.health.filter(|_| c.state == "running");
                services.entry(service).or_default().push(ReplicaStatus {
                    replica,
                    node: node.clone(),
                    node_name: name.clone(),
                    container: c.name,
                    state: c.state,
                    health,
                    restarts: c.restart_count,
                    started_at: c.started_at,
                    image: c.image,
                });
            }
        }
        let services: Vec<ServiceStatus> = services
            .into_iter()
            .map(|(service, mut replicas)| {
                replicas.sort_by_key(|r| r.replica);
                let up = |r: &ReplicaStatus| {
                    r.state == "running" && r.health.as_deref() != Some("unhealthy")
                };
                let state = if replicas.iter().all(up) {
                    "running"
                } else if replicas.iter().any(|r| r.state == "running") {
                    "degraded"
                } else {
                    "stopped"
                };
                ServiceStatus {
                    service,
                    state: state.to_string(),
                    replicas,
                }
            })
            .collect();
        let state = if active.is_some() {
            "deploying"
        } else if installed.is_none() && services.is_empty() {
            "not_deployed"
        } else if !services.is_empty()
            && services.iter().all(|s| s.state == "running")
            && unreachable.is_empty()
        {
            "running"
        } else if services.iter().all(|s| s.state == "stopped")
            && self.store.desired_state(&app_id)? == "stopped"
        {
            "stopped"
        } else {
            "degraded"
        };
        Ok(AppStatus {
            app_id,
            state: state.to_string(),
            installed: installed.map(|d| Installed {
                sequence: d.sequence,
                version: d.version,
                deployment_id: d.id,
                config_hash: d.config_hash,
            }),
            active_deployment: active,
            services,
            unreachable,
        })
    }

    /// Stops every container of the app (dependents first) and records that the admin wants it
    /// stopped.
    pub async fn stop(
        self: &Arc<Self>,
        actor: &Actor,
        source: &Source,
    ) -> Result<AppStatus, DeployError> {
        self.detached(Operation::Stop, actor, source).await
    }

    /// Starts the installed release's containers again (its images are on the nodes).
    pub async fn start(
        self: &Arc<Self>,
        actor: &Actor,
        source: &Source,
    ) -> Result<AppStatus, DeployError> {
        self.detached(Operation::Start, actor, source).await
    }

    /// Stop, then start.
    pub async fn restart(
        self: &Arc<Self>,
        actor: &Actor,
        source: &Source,
    ) -> Result<AppStatus, DeployError> {
        self.detached(Operation::Restart, actor, source).await
    }

    /// Runs a start/stop/restart as its own task, so that a caller that goes away (a closed
    /// tab, a dropped connection) does not leave the app half started or half stopped.
    async fn detached(
        self: &Arc<Self>,
        operation: Operation,
        actor: &Actor,
        source: &Source,
    ) -> Result<AppStatus, DeployError> {
        let this = self.clone();
        let (actor, source) = (actor.clone(), source.clone());
        tokio::spawn(async move { this.operate(operation, &actor, &source).await })
            .await
            .map_err(|e| DeployError::Node(format!("the operation ended early: {e}")))?
    }

    /// The operation itself, under the one lock: the installed release's containers stopped
    /// (dependents first), started (dependencies first, each waited for), or both; the admin's
    /// wish recorded (a stopped app stays stopped) and audited.
    async fn operate(
        &self,
        operation: Operation,
        actor: &Actor,
        source: &Source,
    ) -> Result<AppStatus, DeployError> {
        let guard = self.take_lock()?;
        let app_id = self.app_id()?;
        let installed = self
            .store
            .installed_deployment(&app_id)?
            .ok_or(DeployError::NotDeployed)?;
        if matches!(operation, Operation::Stop | Operation::Restart) {
            self.stop_all(&app_id, &installed).await?;
        }
        if matches!(operation, Operation::Start | Operation::Restart) {
            self.start_installed(&installed).await?;
        }
        let (desired, action, done) = match operation {
            Operation::Start => ("running", Action::AppStarted, "started"),
            Operation::Stop => ("stopped", Action::AppStopped, "stopped"),
            Operation::Restart => ("running", Action::AppRestarted, "restarted"),
        };
        self.store.set_desired_state(&app_id, desired, unix_now())?;
        audit::record(
            &self.store,
            actor,
            action,
            source,
            &format!("app {app_id} {done} (release {})", installed.version),
        )?;
        drop(guard);
        self.status().await
    }

    async fn stop_all(
        &self,
        app_id: &str,
        installed: &DeploymentRecord,
    ) -> Result<(), DeployError> {
        let config = snapshot(installed)?;
        // Dependents first: the reverse of the installed plan's order, when it can be made.
        let order: Vec<String> = self
            .plan(installed.sequence, &config)
            .map(|(plan, _, _)| plan.services_in_order)
            .unwrap_or_default();
        let rank = |service: &str| {
            order
                .iter()
                .position(|s| s == service)
                .unwrap_or(usize::MAX)
        };
        let mut containers = Vec::new();
        for node in self.node_names()?.keys() {
            if !self.nodes.online(node) {
                continue;
            }
            for c in self
                .list_app_containers(node, app_id)
                .await
                .map_err(DeployError::Node)?
            {
                containers.push((node.clone(), c));
            }
        }
        containers.sort_by_key(|(_, c)| {
            std::cmp::Reverse(rank(
                c.labels
                    .get(LABEL_SERVICE)
                    .map(String::as_str)
                    .unwrap_or(""),
            ))
        });
        for (node, c) in containers {
            if c.state != "running" && c.state != "restarting" {
                continue;
            }
            call::<serde_json::Value>(
                self.nodes.as_ref(),
                &node,
                Command::StopContainer {
                    name: c.name.clone(),
                    timeout_secs: 10,
                },
                self.limits.command,
                None,
            )
            .await
            .map_err(DeployError::Node)?;
        }
        Ok(())
    }

    async fn start_installed(&self, installed: &DeploymentRecord) -> Result<(), DeployError> {
        let config = snapshot(installed)?;
        let (plan, _, _) = self.plan(installed.sequence, &config)?;
        for service in &plan.services_in_order {
            for (node, node_plan) in &plan.nodes {
                for step in &node_plan.steps {
                    let plan::Step::Run { spec, wait } = step else {
                        continue;
                    };
                    if spec.labels.get(LABEL_SERVICE) != Some(service) {
                        continue;
                    }
                    call::<serde_json::Value>(
                        self.nodes.as_ref(),
                        node,
                        Command::RunContainer { spec: spec.clone() },
                        self.limits.command,
                        None,
                    )
                    .await
                    .map_err(DeployError::Node)?;
                    let bound = execute::wait_bound(spec, *wait, self.limits.wait);
                    execute::wait_for(
                        self.nodes.as_ref(),
                        node,
                        &spec.name,
                        *wait,
                        bound,
                        self.limits,
                    )
                    .await
                    .map_err(DeployError::Node)?;
                }
            }
        }
        Ok(())
    }

    /// Where replica `replica` of `service` runs.
    pub async fn locate(
        &self,
        service: &str,
        replica: u32,
    ) -> Result<ContainerLocation, DeployError> {
        let app_id = self.app_id()?;
        let mut offline = Vec::new();
        for (node, name) in self.node_names()? {
            if !self.nodes.online(&node) {
                offline.push(name);
                continue;
            }
            let Ok(containers) = self.list_app_containers(&node, &app_id).await else {
                continue;
            };
            if let Some(c) = containers.into_iter().find(|c| {
                c.labels.get(LABEL_SERVICE).map(String::as_str) == Some(service)
                    && c.labels
                        .get(LABEL_REPLICA)
                        .and_then(|r| r.parse::<u32>().ok())
                        .unwrap_or(1)
                        == replica
            }) {
                return Ok(ContainerLocation {
                    node,
                    container: c.name,
                });
            }
        }
        if offline.is_empty() {
            Err(DeployError::NoSuchContainer {
                service: service.to_string(),
                replica,
            })
        } else {
            Err(DeployError::Node(format!(
                "no container of service {service:?} replica {replica} on the online nodes; offline: {}",
                offline.join(", ")
            )))
        }
    }

    /// The last `tail` lines of a replica's container.
    pub async fn logs(&self, service: &str, replica: u32, tail: u32) -> Result<Logs, DeployError> {
        let location = self.locate(service, replica).await?;
        let outcome = self
            .nodes
            .command(
                &location.node,
                Command::Logs {
                    name: location.container.clone(),
                    tail: Some(tail.clamp(1, MAX_TAIL)),
                    follow: false,
                },
                self.limits.command,
                None,
            )
            .await
            .map_err(|e| DeployError::Node(e.to_string()))?;
        if let outpost_agent::protocol::CommandResult::Error { message } = outcome.result {
            return Err(DeployError::Node(message));
        }
        Ok(Logs {
            service: service.to_string(),
            replica,
            node: location.node,
            container: location.container,
            lines: outcome
                .lines
                .into_iter()
                .map(|(stream, line)| LogLine { stream, line })
                .collect(),
        })
    }

    /// The sequence of the installed release, if any (what the api host is told).
    pub fn installed_sequence(&self) -> Option<u64> {
        let app_id = self.app_id().ok()?;
        self.store
            .installed_deployment(&app_id)
            .ok()
            .flatten()
            .map(|d| d.sequence)
    }

    /// The node connection, for streaming logs.
    pub fn nodes(&self) -> &Arc<dyn NodeCommands> {
        &self.nodes
    }
}

/// The admin's values a deployment ran with.
fn snapshot(record: &DeploymentRecord) -> Result<BTreeMap<String, String>, DeployError> {
    serde_json::from_str(&record.config_json)
        .map_err(|e| DeployError::Damaged(record.id, format!("its config snapshot: {e}")))
}

/// The values profiles are decided on: stored, else default.
fn plan_values(app: &App, config: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    app.outpost
        .items()
        .filter_map(|item| {
            config
                .get(&item.name)
                .filter(|v| !v.is_empty())
                .or(item.default.as_ref())
                .map(|v| (item.name.clone(), v.clone()))
        })
        .collect()
}

/// What a plan does, in one line, for the deployment's events.
fn plan_summary(plan: &Plan) -> String {
    let nodes = plan.nodes.len();
    format!(
        "plan: {} image{} on {nodes} node{}, then {} in this order",
        plan.images.len(),
        if plan.images.len() == 1 { "" } else { "s" },
        if nodes == 1 { "" } else { "s" },
        plan.services_in_order.join(", ")
    )
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

fn summary(record: DeploymentRecord, steps: &[crate::store::StepRecord]) -> DeploymentView {
    DeploymentView {
        id: record.id,
        kind: record.kind,
        sequence: record.sequence,
        version: record.version,
        previous_sequence: record.previous_sequence,
        config_hash: record.config_hash,
        actor: record.actor,
        started_at: record.started_at,
        finished_at: record.finished_at,
        state: record.state,
        message: record.message,
        preflight_overridden: record.preflight_overridden,
        rollback_of: record.rollback_of,
        progress: ProgressView {
            done: steps.iter().filter(|s| s.state == "done").count() as u32,
            total: steps.len() as u32,
        },
        steps: Vec::new(),
        events: Vec::new(),
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
