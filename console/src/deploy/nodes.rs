//! How the deploy code reaches the nodes: one command to one node, its result back. The hub is
//! the real one; unit tests plug in agents' in-memory engines.

use std::time::Duration;

use futures_util::future::BoxFuture;
use outpost_agent::protocol::{Command, CommandResult};
use serde::de::DeserializeOwned;

use crate::cluster::hub::{CommandOutcome, Hub, HubError, ProgressFn};

/// Sends commands to nodes.
pub trait NodeCommands: Send + Sync {
    fn command(
        &self,
        node: &str,
        command: Command,
        timeout: Duration,
        on_progress: Option<ProgressFn>,
    ) -> BoxFuture<'_, Result<CommandOutcome, HubError>>;

    /// Whether the node's agent is connected and beating.
    fn online(&self, node: &str) -> bool;
}

impl NodeCommands for Hub {
    fn command(
        &self,
        node: &str,
        command: Command,
        timeout: Duration,
        on_progress: Option<ProgressFn>,
    ) -> BoxFuture<'_, Result<CommandOutcome, HubError>> {
        let node = node.to_owned();
        Box::pin(async move {
            self.command_with_progress(&node, command, timeout, on_progress)
                .await
        })
    }

    fn online(&self, node: &str) -> bool {
        self.status(node).online
    }
}

/// Runs `command` on `node` and decodes its `Ok` output as `T`; every other ending is an error
/// message that names the node.
pub async fn call<T: DeserializeOwned>(
    nodes: &dyn NodeCommands,
    node: &str,
    command: Command,
    timeout: Duration,
    on_progress: Option<ProgressFn>,
) -> Result<T, String> {
    let outcome = nodes
        .command(node, command, timeout, on_progress)
        .await
        .map_err(|e| match e {
            HubError::Offline(_) => format!("node {node} is offline (its agent is not connected)"),
            other => other.to_string(),
        })?;
    match outcome.result {
        CommandResult::Ok { output } => serde_json::from_value(output)
            .map_err(|e| format!("node {node} answered in an unexpected form: {e}")),
        CommandResult::Error { message } => Err(message),
        CommandResult::Unsupported => Err(format!(
            "the agent on node {node} does not support this command: upgrade it"
        )),
    }
}

/// A container as an agent reports it (`InspectContainer`, `ListContainers`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ContainerInfo {
    pub name: String,
    #[serde(default)]
    pub image: String,
    pub state: String,
    #[serde(default)]
    pub health: Option<String>,
    #[serde(default)]
    pub restart_count: u64,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub started_at: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct ContainerList {
    pub containers: Vec<ContainerInfo>,
}

/// Test twin: each node an agent's in-memory engine, commands run through the agent's own
/// `execute`.
#[cfg(test)]
pub mod fake {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::{Arc, Mutex};

    use outpost_agent::engine::{execute, fake::FakeEngine};
    use outpost_agent::engine::{ContainerEngine, ContainerState, Health, RunState};

    use super::*;

    /// What a container's healthcheck comes to once it runs with its health `starting`.
    #[derive(Debug, Clone, Copy)]
    pub enum Fate {
        Healthy,
        Unhealthy,
        Exit(i64),
        /// Left as it is.
        Starting,
    }

    /// Plays the containers' healthchecks (see [`FakeNodes::heal`]) until dropped, or for
    /// 30 s at most.
    pub struct Healer(tokio::task::JoinHandle<()>);

    impl Drop for Healer {
        fn drop(&mut self) {
            self.0.abort();
        }
    }

    #[derive(Default)]
    pub struct FakeNodes {
        pub engines: BTreeMap<String, Arc<FakeEngine>>,
        pub offline: Mutex<BTreeSet<String>>,
        /// Every command sent, as `node: kind target`.
        pub sent: Mutex<Vec<String>>,
    }

    impl FakeNodes {
        pub fn new(nodes: &[&str]) -> FakeNodes {
            FakeNodes {
                engines: nodes
                    .iter()
                    .map(|n| (n.to_string(), Arc::new(FakeEngine::new())))
                    .collect(),
                ..FakeNodes::default()
            }
        }

        pub fn engine(&self, node: &str) -> &FakeEngine {
            &self.engines[node]
        }

        pub fn sent(&self) -> Vec<String> {
            self.sent.lock().unwrap().clone()
        }

        /// Gives each container that runs with its health `starting`, on every node, the
        /// fate `fate` chooses for it.
        pub fn heal(&self, fate: impl Fn(&ContainerState) -> Fate + Send + 'static) -> Healer {
            let engines: Vec<Arc<FakeEngine>> = self.engines.values().cloned().collect();
            Healer(tokio::spawn(async move {
                if engines.is_empty() {
                    return;
                }
                let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
                let mut starts: Vec<_> = engines.iter().map(|e| e.starts()).collect();
                loop {
                    for seen in &mut starts {
                        seen.borrow_and_update();
                    }
                    for engine in &engines {
                        // No await between listing and marking: the container is still there
                        // (the tests run on one thread).
                        for c in engine.list(&BTreeMap::new()).await.unwrap_or_default() {
                            if c.state != RunState::Running || c.health != Some(Health::Starting) {
                                continue;
                            }
                            match fate(&c) {
                                Fate::Healthy => engine.set_health(&c.name, Some(Health::Healthy)),
                                Fate::Unhealthy => {
                                    engine.set_health(&c.name, Some(Health::Unhealthy))
                                }
                                Fate::Exit(code) => engine.exit(&c.name, code),
                                Fate::Starting => {}
                            }
                        }
                    }
                    // The next container that starts, on any node (for at most 30 s).
                    let next = futures_util::future::select_all(
                        starts.iter_mut().map(|s| Box::pin(s.changed())),
                    );
                    match tokio::time::timeout_at(deadline, next).await {
                        Ok((Ok(()), _, _)) => {}
                        _ => return,
                    }
                }
            }))
        }
    }

    fn describe(command: &Command) -> String {
        match command {
            Command::PullImage { reference, .. } => format!("pull {reference}"),
            Command::EnsureNetwork { name, .. } => format!("network {name}"),
            Command::EnsureVolume { name, .. } => format!("volume {name}"),
            Command::RunContainer { spec } => format!("run {}", spec.name),
            Command::StopContainer { name, .. } => format!("stop {name}"),
            Command::RemoveContainer { name } => format!("remove {name}"),
            Command::InspectContainer { name } => format!("inspect {name}"),
            Command::ListContainers { .. } => "list".to_string(),
            Command::Logs { name, .. } => format!("logs {name}"),
            Command::TrustRegistryCa { host, .. } => format!("trust {host}"),
            Command::EnsureImage { reference } => format!("image {reference}"),
            Command::ListeningPorts => "ports".to_string(),
            Command::Unknown => "unknown".to_string(),
        }
    }

    impl NodeCommands for FakeNodes {
        fn command(
            &self,
            node: &str,
            command: Command,
            _timeout: Duration,
            on_progress: Option<ProgressFn>,
        ) -> BoxFuture<'_, Result<CommandOutcome, HubError>> {
            let node = node.to_owned();
            Box::pin(async move {
                if !self.online(&node) {
                    return Err(HubError::Offline(node));
                }
                if !matches!(command, Command::InspectContainer { .. }) {
                    self.sent
                        .lock()
                        .unwrap()
                        .push(format!("{node}: {}", describe(&command)));
                }
                let engine = self.engines[&node].clone();
                let mut lines = Vec::new();
                let result = execute(engine.as_ref(), &command, |progress| {
                    if let Some(f) = &on_progress {
                        f(&progress);
                    }
                    if let outpost_agent::protocol::Progress::LogLine { stream, line } = progress {
                        lines.push((stream, line));
                    }
                })
                .await;
                Ok(CommandOutcome { result, lines })
            })
        }

        fn online(&self, node: &str) -> bool {
            self.engines.contains_key(node) && !self.offline.lock().unwrap().contains(node)
        }
    }
}
