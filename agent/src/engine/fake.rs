//! [`FakeEngine`]: an in-memory [`ContainerEngine`] for unit tests of code that drives
//! the engine. It keeps images, networks, volumes and containers in maps, follows the
//! same rules as the Docker engine where they matter to callers (spec validation, the
//! spec-hash idempotency of `run`, only-managed-containers, unauthorized and missing
//! pulls), records every call, and lets a test move containers between states, write
//! log lines and make the next call of a kind fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;

use super::registry_ca::{validate_ca_pem, validate_registry_host, DEFAULT_CERTS_DIR};
use super::spec::{spec_hash, validate_name, validate_spec};
use super::{
    ContainerEngine, ContainerState, EngineError, EngineInfo, Health, LogLine, LogStream,
    Operation, RunAction, RunOutcome, RunState, StdStream, LABEL_APP, LABEL_SPEC_HASH,
};
use crate::protocol::{ContainerSpec, Progress, RegistryAuth};

/// One call made to a [`FakeEngine`]. Credentials are recorded by user name only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Pull {
        reference: String,
        username: Option<String>,
    },
    EnsureNetwork {
        name: String,
    },
    EnsureVolume {
        name: String,
    },
    Run {
        name: String,
    },
    Stop {
        name: String,
        timeout: Duration,
    },
    Remove {
        name: String,
    },
    Inspect {
        name: String,
    },
    List {
        labels: BTreeMap<String, String>,
    },
    Logs {
        name: String,
        tail: Option<u32>,
        follow: bool,
    },
    Info,
    TrustRegistryCa {
        host: String,
    },
}

/// The in-memory engine. Cheap to create; share it by reference.
#[derive(Debug)]
pub struct FakeEngine {
    inner: Mutex<Inner>,
    /// Counts container starts, so a test's stand-in for a healthcheck can wait for one.
    starts: tokio::sync::watch::Sender<u64>,
}

#[derive(Debug)]
struct Inner {
    /// Pullable images, with the credentials a pull needs.
    registry: BTreeMap<String, Option<RegistryAuth>>,
    images: BTreeSet<String>,
    networks: BTreeMap<String, (String, BTreeMap<String, String>)>,
    volumes: BTreeMap<String, BTreeMap<String, String>>,
    containers: BTreeMap<String, FakeContainer>,
    trusted_cas: BTreeMap<String, String>,
    calls: Vec<Call>,
    fail_next: Vec<(Operation, String)>,
    info: EngineInfo,
    next_id: u64,
}

#[derive(Debug)]
struct FakeContainer {
    id: String,
    spec: ContainerSpec,
    labels: BTreeMap<String, String>,
    state: RunState,
    health: Option<Health>,
    restart_count: u64,
    exit_code: Option<i64>,
    started_at: Option<String>,
    logs: Vec<LogLine>,
    followers: Vec<mpsc::UnboundedSender<LogLine>>,
}

impl Default for FakeEngine {
    fn default() -> Self {
        FakeEngine::new()
    }
}

impl FakeEngine {
    /// An engine with no images, networks, volumes or containers, reporting Docker
    /// 20.10 on overlay2 under `/var/lib/docker`.
    pub fn new() -> Self {
        FakeEngine {
            inner: Mutex::new(Inner {
                registry: BTreeMap::new(),
                images: BTreeSet::new(),
                networks: BTreeMap::new(),
                volumes: BTreeMap::new(),
                containers: BTreeMap::new(),
                trusted_cas: BTreeMap::new(),
                calls: Vec::new(),
                fail_next: Vec::new(),
                info: EngineInfo {
                    version: "20.10.24".into(),
                    api_version: "1.41".into(),
                    storage_driver: "overlay2".into(),
                    root_dir: PathBuf::from("/var/lib/docker"),
                    https_proxy: String::new(),
                    no_proxy: String::new(),
                },
                next_id: 1,
            }),
            starts: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Makes `reference` pullable without credentials.
    pub fn add_image(&self, reference: &str) {
        self.lock().registry.insert(reference.to_string(), None);
    }

    /// Makes `reference` pullable only with these credentials.
    pub fn add_private_image(&self, reference: &str, auth: RegistryAuth) {
        self.lock()
            .registry
            .insert(reference.to_string(), Some(auth));
    }

    /// Changes each time a container starts (created and started, or started again).
    pub fn starts(&self) -> tokio::sync::watch::Receiver<u64> {
        self.starts.subscribe()
    }

    /// Puts `reference` in the local image store, as a pull or an import would.
    pub fn add_local_image(&self, reference: &str) {
        self.lock().images.insert(reference.to_string());
    }

    /// A running container that Outpost did not create (no `outpost.app` label), as an
    /// admin's own workload on the same host would be.
    pub fn add_unmanaged_container(&self, name: &str, image: &str) -> String {
        let mut inner = self.lock();
        let id = inner.new_id();
        inner.containers.insert(
            name.to_string(),
            FakeContainer {
                id: id.clone(),
                spec: ContainerSpec {
                    name: name.to_string(),
                    image: image.to_string(),
                    ..ContainerSpec::default()
                },
                labels: BTreeMap::new(),
                state: RunState::Running,
                health: None,
                restart_count: 0,
                exit_code: None,
                started_at: Some("2026-01-01T00:00:00Z".into()),
                logs: Vec::new(),
                followers: Vec::new(),
            },
        );
        id
    }

    pub fn has_image(&self, reference: &str) -> bool {
        self.lock().images.contains(reference)
    }

    pub fn has_network(&self, name: &str) -> bool {
        self.lock().networks.contains_key(name)
    }

    pub fn has_volume(&self, name: &str) -> bool {
        self.lock().volumes.contains_key(name)
    }

    /// The CA PEM trusted for a registry host.
    pub fn trusted_ca(&self, host: &str) -> Option<String> {
        self.lock().trusted_cas.get(host).cloned()
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The next call that performs `operation` fails with `reason`. Pulls use
    /// [`FakeEngine::add_private_image`] and missing images to fail instead.
    pub fn fail_next(&self, operation: Operation, reason: &str) {
        self.lock().fail_next.push((operation, reason.to_string()));
    }

    /// Puts a container into `state` (as a crash, a restart loop or a pause would);
    /// followers of its logs are let go when it stops running.
    pub fn set_state(&self, name: &str, state: RunState) {
        let mut inner = self.lock();
        let container = inner.container_mut(name);
        container.state = state;
        if state != RunState::Running {
            container.followers.clear();
        }
    }

    /// The container exits with `code`.
    pub fn exit(&self, name: &str, code: i64) {
        self.set_state(name, RunState::Exited);
        self.lock().container_mut(name).exit_code = Some(code);
    }

    pub fn set_health(&self, name: &str, health: Option<Health>) {
        self.lock().container_mut(name).health = health;
    }

    pub fn set_restart_count(&self, name: &str, count: u64) {
        self.lock().container_mut(name).restart_count = count;
    }

    /// The container writes a line to stdout or stderr.
    pub fn write_log(&self, name: &str, stream: StdStream, line: &str) {
        let mut inner = self.lock();
        let container = inner.container_mut(name);
        let line = LogLine {
            stream,
            line: line.to_string(),
            truncated: false,
        };
        container
            .followers
            .retain(|follower| follower.send(line.clone()).is_ok());
        container.logs.push(line);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn record(&mut self, call: Call) {
        self.calls.push(call);
    }

    fn check_failure(&mut self, operation: Operation, target: &str) -> Result<(), EngineError> {
        match self.fail_next.iter().position(|(op, _)| *op == operation) {
            Some(at) => {
                let (_, reason) = self.fail_next.remove(at);
                Err(EngineError::Docker {
                    operation,
                    target: target.to_string(),
                    reason,
                })
            }
            None => Ok(()),
        }
    }

    fn container_mut(&mut self, name: &str) -> &mut FakeContainer {
        self.containers
            .get_mut(name)
            .unwrap_or_else(|| panic!("FakeEngine has no container {name:?}"))
    }

    fn managed(&self, name: &str) -> Result<Option<&FakeContainer>, EngineError> {
        match self.containers.get(name) {
            Some(c) if !c.labels.contains_key(LABEL_APP) => Err(EngineError::NotManaged {
                name: name.to_string(),
                id: c.id.clone(),
            }),
            found => Ok(found),
        }
    }

    fn new_id(&mut self) -> String {
        let id = format!("{:064x}", self.next_id);
        self.next_id += 1;
        id
    }

    fn start(&mut self, name: &str) {
        let container = self.container_mut(name);
        container.state = RunState::Running;
        container.exit_code = None;
        container.started_at = Some("2026-01-01T00:00:00Z".into());
        if container.spec.healthcheck.is_some() {
            container.health = Some(Health::Starting);
        }
    }
}

impl FakeContainer {
    fn state(&self, name: &str) -> ContainerState {
        ContainerState {
            id: self.id.clone(),
            name: name.to_string(),
            image: self.spec.image.clone(),
            state: self.state,
            health: self.health,
            restart_count: self.restart_count,
            exit_code: self.exit_code,
            labels: self.labels.clone(),
            started_at: self.started_at.clone(),
        }
    }
}

impl ContainerEngine for FakeEngine {
    async fn pull<P>(
        &self,
        reference: &str,
        auth: Option<&RegistryAuth>,
        mut progress: P,
    ) -> Result<(), EngineError>
    where
        P: FnMut(Progress) + Send,
    {
        let mut inner = self.lock();
        inner.record(Call::Pull {
            reference: reference.to_string(),
            username: auth.map(|a| a.username.clone()),
        });
        let reference_owned = reference.to_string();
        match inner.registry.get(reference) {
            None => {
                return Err(EngineError::ImageNotFound {
                    reference: reference_owned,
                    reason: format!("manifest for {reference} not found: manifest unknown"),
                })
            }
            Some(Some(needed)) if auth != Some(needed) => {
                return Err(EngineError::PullUnauthorized {
                    reference: reference_owned,
                    reason: "unauthorized: authentication required".into(),
                })
            }
            Some(_) => {}
        }
        for (status, current) in [
            ("Pulling fs layer", 0),
            ("Downloading", 512),
            ("Pull complete", 1024),
        ] {
            progress(Progress::Pull {
                status: format!("0123456789ab: {status}"),
                current: Some(current),
                total: Some(1024),
            });
        }
        inner.images.insert(reference_owned);
        Ok(())
    }

    async fn ensure_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<String, EngineError> {
        let mut inner = self.lock();
        inner.record(Call::EnsureNetwork {
            name: name.to_string(),
        });
        validate_name("network", name)?;
        inner.check_failure(Operation::CreateNetwork, name)?;
        if let Some((id, _)) = inner.networks.get(name) {
            return Ok(id.clone());
        }
        let id = inner.new_id();
        inner
            .networks
            .insert(name.to_string(), (id.clone(), labels.clone()));
        Ok(id)
    }

    async fn ensure_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        let mut inner = self.lock();
        inner.record(Call::EnsureVolume {
            name: name.to_string(),
        });
        validate_name("volume", name)?;
        inner.check_failure(Operation::CreateVolume, name)?;
        inner
            .volumes
            .entry(name.to_string())
            .or_insert_with(|| labels.clone());
        Ok(())
    }

    async fn run(&self, spec: &ContainerSpec) -> Result<RunOutcome, EngineError> {
        let mut inner = self.lock();
        inner.record(Call::Run {
            name: spec.name.clone(),
        });
        validate_spec(spec)?;
        let hash = spec_hash(spec);
        let mut action = RunAction::Created;
        if let Some(existing) = inner.managed(&spec.name)? {
            if existing.labels.get(LABEL_SPEC_HASH) == Some(&hash) {
                let id = existing.id.clone();
                match existing.state {
                    RunState::Running | RunState::Restarting | RunState::Paused => {
                        return Ok(RunOutcome {
                            id,
                            action: RunAction::Unchanged,
                        })
                    }
                    RunState::Created | RunState::Exited => {
                        inner.check_failure(Operation::StartContainer, &spec.name)?;
                        inner.start(&spec.name);
                        self.starts.send_modify(|n| *n += 1);
                        return Ok(RunOutcome {
                            id,
                            action: RunAction::Started,
                        });
                    }
                    RunState::Removing | RunState::Dead | RunState::Unknown => {}
                }
            }
            inner.containers.remove(&spec.name);
            action = RunAction::Replaced;
        }
        inner.check_failure(Operation::CreateContainer, &spec.name)?;
        if !inner.images.contains(&spec.image) {
            return Err(EngineError::Docker {
                operation: Operation::CreateContainer,
                target: spec.name.clone(),
                reason: format!("No such image: {}", spec.image),
            });
        }
        if let Some(missing) = spec
            .networks
            .iter()
            .find(|n| !inner.networks.contains_key(*n))
        {
            return Err(EngineError::Docker {
                operation: Operation::CreateContainer,
                target: spec.name.clone(),
                reason: format!("network {missing} not found"),
            });
        }
        for volume in &spec.volumes {
            inner.volumes.entry(volume.volume.clone()).or_default();
        }
        let id = inner.new_id();
        let mut labels = spec.labels.clone();
        labels.insert(LABEL_SPEC_HASH.to_string(), hash);
        inner.containers.insert(
            spec.name.clone(),
            FakeContainer {
                id: id.clone(),
                spec: spec.clone(),
                labels,
                state: RunState::Created,
                health: None,
                restart_count: 0,
                exit_code: None,
                started_at: None,
                logs: Vec::new(),
                followers: Vec::new(),
            },
        );
        if let Err(e) = inner.check_failure(Operation::StartContainer, &spec.name) {
            inner.containers.remove(&spec.name);
            return Err(e);
        }
        inner.start(&spec.name);
        self.starts.send_modify(|n| *n += 1);
        Ok(RunOutcome { id, action })
    }

    async fn stop(&self, name: &str, timeout: Duration) -> Result<(), EngineError> {
        let mut inner = self.lock();
        inner.record(Call::Stop {
            name: name.to_string(),
            timeout,
        });
        validate_name("container", name)?;
        if inner.managed(name)?.is_none() {
            return Err(EngineError::ContainerNotFound {
                name: name.to_string(),
            });
        }
        inner.check_failure(Operation::StopContainer, name)?;
        let container = inner.container_mut(name);
        if matches!(
            container.state,
            RunState::Running | RunState::Restarting | RunState::Paused
        ) {
            container.state = RunState::Exited;
            container.exit_code = Some(0);
            container.followers.clear();
        }
        Ok(())
    }

    async fn remove(&self, name: &str) -> Result<bool, EngineError> {
        let mut inner = self.lock();
        inner.record(Call::Remove {
            name: name.to_string(),
        });
        validate_name("container", name)?;
        if inner.managed(name)?.is_none() {
            return Ok(false);
        }
        inner.check_failure(Operation::RemoveContainer, name)?;
        inner.containers.remove(name);
        Ok(true)
    }

    async fn has_image(&self, reference: &str) -> Result<bool, EngineError> {
        let mut inner = self.lock();
        inner.check_failure(Operation::InspectImage, reference)?;
        Ok(inner.images.contains(reference))
    }

    async fn inspect(&self, name: &str) -> Result<ContainerState, EngineError> {
        let mut inner = self.lock();
        inner.record(Call::Inspect {
            name: name.to_string(),
        });
        validate_name("container", name)?;
        inner.check_failure(Operation::InspectContainer, name)?;
        inner
            .containers
            .get(name)
            .map(|c| c.state(name))
            .ok_or_else(|| EngineError::ContainerNotFound {
                name: name.to_string(),
            })
    }

    async fn list(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<ContainerState>, EngineError> {
        let mut inner = self.lock();
        inner.record(Call::List {
            labels: labels.clone(),
        });
        inner.check_failure(Operation::ListContainers, "")?;
        Ok(inner
            .containers
            .iter()
            .filter(|(_, c)| labels.iter().all(|(k, v)| c.labels.get(k) == Some(v)))
            .map(|(name, c)| c.state(name))
            .collect())
    }

    async fn logs(
        &self,
        name: &str,
        tail: Option<u32>,
        follow: bool,
    ) -> Result<LogStream, EngineError> {
        let mut inner = self.lock();
        inner.record(Call::Logs {
            name: name.to_string(),
            tail,
            follow,
        });
        validate_name("container", name)?;
        inner.check_failure(Operation::ReadLogs, name)?;
        let container =
            inner
                .containers
                .get_mut(name)
                .ok_or_else(|| EngineError::ContainerNotFound {
                    name: name.to_string(),
                })?;
        let skip = tail.map_or(0, |n| container.logs.len().saturating_sub(n as usize));
        let past: Vec<Result<LogLine, EngineError>> =
            container.logs[skip..].iter().cloned().map(Ok).collect();
        let past = futures_util::stream::iter(past);
        if !follow || container.state != RunState::Running {
            return Ok(Box::pin(past));
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        container.followers.push(sender);
        let future = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|line| (Ok(line), receiver))
        });
        Ok(Box::pin(futures_util::StreamExt::chain(past, future)))
    }

    async fn info(&self) -> Result<EngineInfo, EngineError> {
        let mut inner = self.lock();
        inner.record(Call::Info);
        inner.check_failure(Operation::Info, "docker")?;
        Ok(inner.info.clone())
    }

    async fn trust_registry_ca(&self, host: &str, ca_pem: &str) -> Result<PathBuf, EngineError> {
        let mut inner = self.lock();
        inner.record(Call::TrustRegistryCa {
            host: host.to_string(),
        });
        validate_registry_host(host)?;
        validate_ca_pem(host, ca_pem)?;
        inner
            .trusted_cas
            .insert(host.to_string(), ca_pem.to_string());
        Ok(Path::new(DEFAULT_CERTS_DIR).join(host).join("ca.crt"))
    }
}
