//! Running a plan on the nodes, step by step, each step recorded as it goes.
//!
//! Three phases, so that a deploy that cannot finish leaves the running release alone for as
//! long as possible:
//! 1. prepare — on every node: the network, the volumes, and every image pulled. A missing
//!    image or a refused password fails here, before any container is touched;
//! 2. run — services in dependency order, each on all its nodes, each container waited for as
//!    the plan says (running, healthy, or completed);
//! 3. clean up — containers of the app the plan no longer has (old replicas, removed services)
//!    are stopped and removed, on every node that is online.
//!
//! Every command is idempotent on the agent (a network or volume that exists is kept, a
//! container whose spec is unchanged is left running), so running a plan again from the start
//! — after a console restart, or to roll back — is safe.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use outpost_agent::protocol::{Command, ContainerSpec, Progress, RegistryAuth};

use super::nodes::{call, ContainerInfo, ContainerList, NodeCommands};
use super::plan::{Plan, Step, Wait, LABEL_APP, LABEL_SERVICE};
use crate::clock::unix_now;
use crate::store::{StepRecord, Store, StoreError};

/// Bounds on how long each kind of command may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub pull: Duration,
    pub command: Duration,
    /// The longest any one container is waited for, whatever its healthcheck says.
    pub wait: Duration,
    /// How often a container is inspected while waiting.
    pub poll: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            pull: Duration::from_secs(30 * 60),
            command: Duration::from_secs(120),
            wait: Duration::from_secs(600),
            poll: Duration::from_secs(1),
        }
    }
}

/// Where a deployment's steps are recorded: the store, plus live pull progress in memory.
#[derive(Clone)]
pub struct Journal {
    store: Arc<Store>,
    deployment: i64,
    progress: LiveProgress,
}

/// Bytes pulled so far per `(deployment, step)`: too frequent for the database.
pub type LiveProgress = Arc<Mutex<HashMap<(i64, u32), (u64, u64)>>>;

impl Journal {
    pub fn new(store: Arc<Store>, deployment: i64, progress: LiveProgress) -> Journal {
        Journal {
            store,
            deployment,
            progress,
        }
    }

    pub fn deployment(&self) -> i64 {
        self.deployment
    }

    pub fn event(&self, message: &str) -> Result<(), StoreError> {
        tracing::info!(deployment = self.deployment, "{message}");
        self.store
            .add_deployment_event(self.deployment, unix_now(), message)
    }

    fn start(&self, index: u32) -> Result<(), StoreError> {
        self.store.update_deployment_step(
            self.deployment,
            index,
            "running",
            None,
            Some(unix_now()),
            None,
        )
    }

    fn done(&self, index: u32, message: Option<&str>) -> Result<(), StoreError> {
        self.clear_progress(index);
        self.store.update_deployment_step(
            self.deployment,
            index,
            "done",
            message,
            None,
            Some(unix_now()),
        )
    }

    fn failed(&self, index: u32, message: &str) -> Result<(), StoreError> {
        self.clear_progress(index);
        self.store.update_deployment_step(
            self.deployment,
            index,
            "failed",
            Some(message),
            None,
            Some(unix_now()),
        )
    }

    fn clear_progress(&self, index: u32) {
        self.progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(self.deployment, index));
    }
}

/// Why a plan did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// Some container was created, replaced, stopped or removed before it failed: the running
    /// release was touched, so it needs restoring.
    pub changed: bool,
}

/// One step of the plan as it is recorded and run.
struct Planned {
    index: u32,
    node: String,
    work: Work,
}

/// A container to run on a node, and what to wait for.
type RunOn = (String, Box<ContainerSpec>, Wait);

enum Work {
    Command(Command),
    Run {
        spec: Box<ContainerSpec>,
        wait: Wait,
    },
}

/// What running a plan needs.
pub struct Execution<'a> {
    pub nodes: &'a dyn NodeCommands,
    pub journal: &'a Journal,
    pub plan: &'a Plan,
    /// Pull credentials by the plan's `auth_host`.
    pub credentials: &'a BTreeMap<String, RegistryAuth>,
    /// Display names by node id.
    pub node_names: &'a BTreeMap<String, String>,
    /// Every node of the cluster, for the clean-up.
    pub cluster: &'a [String],
    pub limits: Limits,
    /// Skip phase 1 (starting the installed release again: its images are there).
    pub skip_prepare: bool,
}

impl Execution<'_> {
    /// Records the plan's steps (all pending), then runs them.
    pub async fn run(&self) -> Result<(), Failure> {
        let steps = self.steps();
        let records: Vec<StepRecord> = steps.iter().map(|s| self.record(s)).collect();
        self.journal
            .store
            .set_deployment_steps(self.journal.deployment, &records)
            .map_err(store_failure(false))?;

        let mut changed = false;
        for step in &steps {
            self.journal
                .start(step.index)
                .map_err(store_failure(changed))?;
            let outcome = match &step.work {
                Work::Command(command) => self.command(step, command.clone()).await,
                Work::Run { spec, wait } => {
                    changed = true;
                    self.run_container(&step.node, spec, *wait).await
                }
            };
            match outcome {
                Ok(note) => self
                    .journal
                    .done(step.index, note.as_deref())
                    .map_err(store_failure(changed))?,
                Err(message) => {
                    let _ = self.journal.failed(step.index, &message);
                    return Err(Failure {
                        message: self.on_node(&step.node, &message),
                        changed,
                    });
                }
            }
        }
        self.clean_up(steps.len() as u32)
            .await
            .map_err(|message| Failure {
                message,
                changed: true,
            })
    }

    fn steps(&self) -> Vec<Planned> {
        let mut prepare = Vec::new();
        let mut runs: BTreeMap<&str, Vec<RunOn>> = BTreeMap::new();
        for (node, node_plan) in &self.plan.nodes {
            for step in &node_plan.steps {
                match step {
                    Step::EnsureNetwork { name, labels } => prepare.push((
                        node.clone(),
                        Command::EnsureNetwork {
                            name: name.clone(),
                            labels: labels.clone(),
                        },
                    )),
                    Step::EnsureVolume { name, labels } => prepare.push((
                        node.clone(),
                        Command::EnsureVolume {
                            name: name.clone(),
                            labels: labels.clone(),
                        },
                    )),
                    Step::Pull {
                        image, local: true, ..
                    } => prepare.push((
                        node.clone(),
                        Command::EnsureImage {
                            reference: image.clone(),
                        },
                    )),
                    Step::Pull {
                        image, auth_host, ..
                    } => prepare.push((
                        node.clone(),
                        Command::PullImage {
                            reference: image.clone(),
                            auth: auth_host
                                .as_ref()
                                .and_then(|host| self.credentials.get(host))
                                .cloned(),
                        },
                    )),
                    Step::Run { spec, wait } => {
                        let service = spec.labels.get(LABEL_SERVICE).cloned().unwrap_or_default();
                        let service = self
                            .plan
                            .services_in_order
                            .iter()
                            .find(|s| **s == service)
                            .map(String::as_str)
                            .unwrap_or("");
                        runs.entry(service)
                            .or_default()
                            .push((node.clone(), spec.clone(), *wait));
                    }
                }
            }
        }
        let mut steps = Vec::new();
        if !self.skip_prepare {
            for (node, command) in prepare {
                steps.push((node, Work::Command(command)));
            }
        }
        for service in &self.plan.services_in_order {
            for (node, spec, wait) in runs.remove(service.as_str()).unwrap_or_default() {
                steps.push((node, Work::Run { spec, wait }));
            }
        }
        steps
            .into_iter()
            .enumerate()
            .map(|(index, (node, work))| Planned {
                index: index as u32,
                node,
                work,
            })
            .collect()
    }

    fn record(&self, step: &Planned) -> StepRecord {
        let (action, target, service) = match &step.work {
            Work::Command(Command::EnsureNetwork { name, .. }) => ("network", name.clone(), None),
            Work::Command(Command::EnsureVolume { name, .. }) => ("volume", name.clone(), None),
            Work::Command(Command::PullImage { reference, .. }) => {
                ("pull", reference.clone(), None)
            }
            Work::Command(Command::EnsureImage { reference }) => ("image", reference.clone(), None),
            Work::Command(other) => ("command", format!("{other:?}"), None),
            Work::Run { spec, .. } => (
                "run",
                spec.name.clone(),
                spec.labels.get(LABEL_SERVICE).cloned(),
            ),
        };
        StepRecord {
            index: step.index,
            node: step.node.clone(),
            node_name: self.node_name(&step.node),
            action: action.to_string(),
            target,
            service,
            state: "pending".to_string(),
            message: None,
            started_at: None,
            finished_at: None,
        }
    }

    fn node_name(&self, node: &str) -> String {
        self.node_names
            .get(node)
            .filter(|n| !n.is_empty())
            .cloned()
            .unwrap_or_else(|| node.to_string())
    }

    fn on_node(&self, node: &str, message: &str) -> String {
        let name = self.node_name(node);
        if message.contains(node) || message.contains(&name) {
            message.to_string()
        } else {
            format!("on node {name}: {message}")
        }
    }

    async fn command(&self, step: &Planned, command: Command) -> Result<Option<String>, String> {
        let is_pull = matches!(command, Command::PullImage { .. });
        let timeout = if is_pull {
            self.limits.pull
        } else {
            self.limits.command
        };
        let on_progress = is_pull.then(|| {
            let live = self.journal.progress.clone();
            let key = (self.journal.deployment, step.index);
            let progress: crate::cluster::hub::ProgressFn = Box::new(move |p: &Progress| {
                if let Progress::Pull {
                    current: Some(current),
                    total: Some(total),
                    ..
                } = p
                {
                    live.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(key, (*current, *total));
                }
            });
            progress
        });
        let source = match &command {
            Command::PullImage { reference, .. } | Command::EnsureImage { reference } => self
                .plan
                .images
                .iter()
                .find(|image| &image.pull_as == reference)
                .map(|image| describe_source(&image.source)),
            _ => None,
        };
        call::<serde_json::Value>(self.nodes, &step.node, command, timeout, on_progress)
            .await
            .map(|_| source)
    }

    async fn run_container(
        &self,
        node: &str,
        spec: &ContainerSpec,
        wait: Wait,
    ) -> Result<Option<String>, String> {
        #[derive(serde::Deserialize)]
        struct RunOutput {
            action: String,
        }
        let ran: RunOutput = call(
            self.nodes,
            node,
            Command::RunContainer {
                spec: Box::new(spec.clone()),
            },
            self.limits.command,
            None,
        )
        .await?;
        let bound = wait_bound(spec, wait, self.limits.wait);
        let reached = wait_for(self.nodes, node, &spec.name, wait, bound, self.limits).await?;
        Ok(Some(format!("{} · {reached}", ran.action)))
    }

    /// Stops and removes the app's containers that the plan does not have.
    async fn clean_up(&self, mut index: u32) -> Result<(), String> {
        let app = &self.plan.project;
        let keep: BTreeSet<(&str, &str)> = self
            .plan
            .nodes
            .iter()
            .flat_map(|(node, plan)| {
                plan.steps.iter().filter_map(move |step| match step {
                    Step::Run { spec, .. } => Some((node.as_str(), spec.name.as_str())),
                    _ => None,
                })
            })
            .collect();
        for node in self.cluster {
            if !self.nodes.online(node) {
                self.journal
                    .event(&format!(
                        "node {} is offline: containers of {app} it may still run are left until a later deploy",
                        self.node_name(node)
                    ))
                    .map_err(|e| e.to_string())?;
                continue;
            }
            let listed: ContainerList = call(
                self.nodes,
                node,
                Command::ListContainers {
                    labels: BTreeMap::from([(LABEL_APP.to_string(), app.clone())]),
                },
                self.limits.command,
                None,
            )
            .await
            .map_err(|e| self.on_node(node, &e))?;
            for container in listed.containers {
                if keep.contains(&(node.as_str(), container.name.as_str())) {
                    continue;
                }
                let record = StepRecord {
                    index,
                    node: node.clone(),
                    node_name: self.node_name(node),
                    action: "remove".to_string(),
                    target: container.name.clone(),
                    service: container.labels.get(LABEL_SERVICE).cloned(),
                    state: "pending".to_string(),
                    message: None,
                    started_at: None,
                    finished_at: None,
                };
                self.journal
                    .store
                    .append_deployment_step(self.journal.deployment, &record)
                    .map_err(|e| e.to_string())?;
                self.journal.start(index).map_err(|e| e.to_string())?;
                let removed =
                    remove_container(self.nodes, node, &container.name, self.limits).await;
                match removed {
                    Ok(()) => self.journal.done(index, None).map_err(|e| e.to_string())?,
                    Err(message) => {
                        let _ = self.journal.failed(index, &message);
                        return Err(self.on_node(node, &message));
                    }
                }
                index += 1;
            }
        }
        Ok(())
    }
}

/// Where a pull came from, for its step: the plan names each image's source.
fn describe_source(source: &super::plan::ImageSource) -> String {
    use super::plan::ImageSource;
    match source {
        ImageSource::Upstream { registry } => format!("pulled from {registry}"),
        ImageSource::Mirror { registry, of } => {
            format!("pulled from {registry} (the rewrite rule for {of})")
        }
        ImageSource::Internal { registry } => {
            format!("pulled from the console's registry {registry}")
        }
        ImageSource::Node { .. } => {
            "already on the node (airgap mode pulls nothing from outside)".to_string()
        }
    }
}

fn store_failure(changed: bool) -> impl Fn(StoreError) -> Failure {
    move |e| Failure {
        message: format!("recording the deployment failed: {e}"),
        changed,
    }
}

/// Stops (gracefully) and removes one container.
pub async fn remove_container(
    nodes: &dyn NodeCommands,
    node: &str,
    name: &str,
    limits: Limits,
) -> Result<(), String> {
    call::<serde_json::Value>(
        nodes,
        node,
        Command::StopContainer {
            name: name.to_string(),
            timeout_secs: 10,
        },
        limits.command,
        None,
    )
    .await?;
    call::<serde_json::Value>(
        nodes,
        node,
        Command::RemoveContainer {
            name: name.to_string(),
        },
        limits.command,
        None,
    )
    .await
    .map(|_| ())
}

/// How long a container may take to reach `wait`: its healthcheck's own schedule (start period,
/// then every retry at interval plus timeout) with a margin, at least a minute, at most `max`.
pub fn wait_bound(spec: &ContainerSpec, wait: Wait, max: Duration) -> Duration {
    let health = match (&spec.healthcheck, wait) {
        (Some(check), Wait::Healthy) => {
            let round = check.interval_ms + check.timeout_ms;
            Duration::from_millis(check.start_period_ms + round * (u64::from(check.retries) + 1))
        }
        _ => Duration::ZERO,
    };
    (health + Duration::from_secs(30))
        .max(Duration::from_secs(60))
        .min(max)
}

/// Waits until container `name` on `node` is as `wait` says; fails at once when it cannot get
/// there any more (unhealthy, exited, or exited with an error).
pub async fn wait_for(
    nodes: &dyn NodeCommands,
    node: &str,
    name: &str,
    wait: Wait,
    bound: Duration,
    limits: Limits,
) -> Result<&'static str, String> {
    let deadline = Instant::now() + bound;
    loop {
        let info: ContainerInfo = call(
            nodes,
            node,
            Command::InspectContainer {
                name: name.to_string(),
            },
            limits.command,
            None,
        )
        .await?;
        let last = match verdict(&info, wait) {
            Verdict::Reached(what) => return Ok(what),
            Verdict::Failed(why) => return Err(format!("container {name} {why}")),
            Verdict::Waiting(what) => what,
        };
        if Instant::now() + limits.poll > deadline {
            return Err(format!(
                "container {name} did not become {} within {} s (last: {last})",
                wait_word(wait),
                bound.as_secs()
            ));
        }
        tokio::time::sleep(limits.poll).await;
    }
}

fn wait_word(wait: Wait) -> &'static str {
    match wait {
        Wait::Started => "running",
        Wait::Healthy => "healthy",
        Wait::Completed => "completed",
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Reached(&'static str),
    Waiting(String),
    Failed(String),
}

fn verdict(info: &ContainerInfo, wait: Wait) -> Verdict {
    let exited = matches!(info.state.as_str(), "exited" | "dead");
    let code = info.exit_code.unwrap_or(0);
    match wait {
        Wait::Completed if exited && code == 0 => Verdict::Reached("completed"),
        Wait::Completed if exited => Verdict::Failed(format!("exited with code {code}")),
        Wait::Completed => Verdict::Waiting(info.state.clone()),
        _ if exited => Verdict::Failed(format!(
            "exited with code {code} (see its logs on the Logs page)"
        )),
        Wait::Started if info.state == "running" => Verdict::Reached("running"),
        Wait::Started => Verdict::Waiting(info.state.clone()),
        Wait::Healthy => match info.health.as_deref() {
            Some("healthy") => Verdict::Reached("healthy"),
            Some("unhealthy") => Verdict::Failed(
                "is unhealthy: its healthcheck failed (see its logs on the Logs page)".to_string(),
            ),
            Some(other) => Verdict::Waiting(format!("{}, health {other}", info.state)),
            None if info.state == "running" => Verdict::Reached("running (no healthcheck)"),
            None => Verdict::Waiting(info.state.clone()),
        },
    }
}

#[cfg(test)]
#[path = "execute_tests.rs"]
mod tests;
