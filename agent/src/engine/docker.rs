//! [`BollardEngine`]: the [`ContainerEngine`] over the local Docker engine's API. This
//! file is the only place in Outpost that uses bollard.
//!
//! Containers are addressed by name. Docker also resolves a name argument as an id
//! prefix, so every call first resolves the name with an inspect and checks the name
//! really matches, then acts on the id; and the agent stops, removes or replaces only
//! containers that carry `outpost.app` (ones it created).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, EndpointSettings,
    HealthConfig, HealthStatusEnum, HostConfig, Mount, MountType, NetworkConnectRequest,
    NetworkCreateRequest, NetworkingConfig, PortBinding as DockerPortBinding, RestartPolicy,
    RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, ListNetworksOptions,
    LogsOptions, RemoveContainerOptions, StopContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;

use super::lines::split_lines;
use super::registry_ca::{write_registry_ca, DEFAULT_CERTS_DIR};
use super::spec::{parse_restart, spec_hash, validate_name, validate_spec};
use super::{
    ContainerEngine, ContainerState, EngineError, EngineInfo, Health, LogStream, Operation,
    RunAction, RunOutcome, RunState, StdStream, LABEL_APP, LABEL_SPEC_HASH,
};
use crate::protocol::{ContainerSpec, Progress, RegistryAuth};

/// How long `run` gives a container it replaces to stop before killing it.
const REPLACE_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The Docker engine, reached through `DOCKER_HOST` or the default unix socket.
#[derive(Debug, Clone)]
pub struct BollardEngine {
    docker: Docker,
    certs_dir: PathBuf,
}

impl BollardEngine {
    /// Connects to `DOCKER_HOST` (default `unix:///var/run/docker.sock`) and agrees on an
    /// API version with the engine, so an older engine (Debian's 20.10 speaks 1.41)
    /// is spoken to in its own version.
    pub async fn connect() -> Result<Self, EngineError> {
        let host = std::env::var("DOCKER_HOST")
            .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string());
        let connect_error = |e: BollardError| EngineError::Connect {
            host: host.clone(),
            reason: reason(&e),
        };
        let docker = Docker::connect_with_defaults().map_err(connect_error)?;
        let docker = docker.negotiate_version().await.map_err(connect_error)?;
        Ok(BollardEngine {
            docker,
            certs_dir: PathBuf::from(DEFAULT_CERTS_DIR),
        })
    }

    /// Uses `dir` instead of `/etc/docker/certs.d` for registry CAs (tests).
    pub fn with_certs_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.certs_dir = dir.into();
        self
    }

    async fn network_id(&self, name: &str) -> Result<Option<String>, EngineError> {
        // The name filter matches substrings; keep the exact match.
        let options = ListNetworksOptions {
            filters: Some(HashMap::from([(
                "name".to_string(),
                vec![name.to_string()],
            )])),
        };
        let networks = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(|e| docker_error(Operation::InspectNetwork, name, &e))?;
        Ok(networks
            .into_iter()
            .find(|n| n.name.as_deref() == Some(name))
            .and_then(|n| n.id))
    }

    /// The container named exactly `name`, if there is one.
    async fn find(&self, name: &str) -> Result<Option<ContainerInspectResponse>, EngineError> {
        match self.docker.inspect_container(name, None).await {
            Ok(found) if found.name.as_deref().map(|n| n.trim_start_matches('/')) == Some(name) => {
                Ok(Some(found))
            }
            Ok(_) => Ok(None),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(docker_error(Operation::InspectContainer, name, &e)),
        }
    }

    /// The id of the container named `name`, refusing one Outpost did not create.
    async fn find_managed(&self, name: &str) -> Result<Option<String>, EngineError> {
        let Some(found) = self.find(name).await? else {
            return Ok(None);
        };
        let id = found.id.clone().unwrap_or_default();
        if !labels_of(&found).contains_key(LABEL_APP) {
            return Err(EngineError::NotManaged {
                name: name.to_string(),
                id,
            });
        }
        Ok(Some(id))
    }

    async fn stop_id(&self, name: &str, id: &str, timeout: Duration) -> Result<(), EngineError> {
        let secs = i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX);
        let options = StopContainerOptions {
            t: Some(secs),
            signal: None,
        };
        // The request must outlive the stop timeout, or the client gives up first.
        let docker = self
            .docker
            .clone()
            .with_timeout(self.docker.timeout() + timeout);
        match docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if status(&e) == Some(404) => Err(EngineError::ContainerNotFound {
                name: name.to_string(),
            }),
            Err(e) => Err(docker_error(Operation::StopContainer, name, &e)),
        }
    }

    async fn remove_id(&self, name: &str, id: &str) -> Result<bool, EngineError> {
        let options = RemoveContainerOptions {
            force: true,
            ..RemoveContainerOptions::default()
        };
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(docker_error(Operation::RemoveContainer, name, &e)),
        }
    }

    async fn start(&self, name: &str, id: &str) -> Result<(), EngineError> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| docker_error(Operation::StartContainer, name, &e))
    }

    /// Creates, connects and starts a new container; removes it again if any step fails.
    async fn create_and_start(
        &self,
        spec: &ContainerSpec,
        hash: &str,
    ) -> Result<String, EngineError> {
        let options = CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..CreateContainerOptions::default()
        };
        let created = self
            .docker
            .create_container(Some(options), create_body(spec, hash))
            .await
            .map_err(|e| docker_error(Operation::CreateContainer, &spec.name, &e))?;
        let id = created.id;
        let started = async {
            for network in spec.networks.iter().skip(1) {
                let request = NetworkConnectRequest {
                    container: id.clone(),
                    endpoint_config: Some(endpoint(spec)),
                };
                self.docker
                    .connect_network(network, request)
                    .await
                    .map_err(|e| docker_error(Operation::ConnectNetwork, network, &e))?;
            }
            self.start(&spec.name, &id).await
        };
        if let Err(e) = started.await {
            if let Err(cleanup) = self.remove_id(&spec.name, &id).await {
                tracing::warn!(container = %spec.name, error = %cleanup, "removing a container that failed to start");
            }
            return Err(e);
        }
        Ok(id)
    }
}

impl ContainerEngine for BollardEngine {
    async fn pull<P>(
        &self,
        reference: &str,
        auth: Option<&RegistryAuth>,
        mut progress: P,
    ) -> Result<(), EngineError>
    where
        P: FnMut(Progress) + Send,
    {
        // A bare name would make Docker pull every tag; the CLI's default is `latest`.
        let tag = (!has_tag_or_digest(reference)).then(|| "latest".to_string());
        let options = CreateImageOptions {
            from_image: Some(reference.to_string()),
            tag,
            ..CreateImageOptions::default()
        };
        let credentials = auth.map(|auth| DockerCredentials {
            username: Some(auth.username.clone()),
            password: Some(auth.password.clone()),
            ..DockerCredentials::default()
        });
        let mut updates = self.docker.create_image(Some(options), None, credentials);
        while let Some(update) = updates.next().await {
            let update = update.map_err(|e| pull_error(reference, auth, &e))?;
            let Some(status) = update.status else {
                continue;
            };
            let detail = update.progress_detail.unwrap_or_default();
            progress(Progress::Pull {
                status: match update.id {
                    Some(id) if !id.is_empty() => format!("{id}: {status}"),
                    _ => status,
                },
                current: detail.current.and_then(|n| u64::try_from(n).ok()),
                total: detail.total.and_then(|n| u64::try_from(n).ok()),
            });
        }
        Ok(())
    }

    async fn ensure_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<String, EngineError> {
        validate_name("network", name)?;
        if let Some(id) = self.network_id(name).await? {
            return Ok(id);
        }
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            labels: Some(hash_map(labels)),
            ..NetworkCreateRequest::default()
        };
        match self.docker.create_network(request).await {
            Ok(created) => Ok(created.id),
            // Someone created it meanwhile.
            Err(e) if status(&e) == Some(409) => self
                .network_id(name)
                .await?
                .ok_or_else(|| docker_error(Operation::CreateNetwork, name, &e)),
            Err(e) => Err(docker_error(Operation::CreateNetwork, name, &e)),
        }
    }

    async fn ensure_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        validate_name("volume", name)?;
        // Creating a local volume that exists returns the existing one.
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            driver: Some("local".into()),
            labels: Some(hash_map(labels)),
            ..VolumeCreateRequest::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map(drop)
            .map_err(|e| docker_error(Operation::CreateVolume, name, &e))
    }

    async fn run(&self, spec: &ContainerSpec) -> Result<RunOutcome, EngineError> {
        validate_spec(spec)?;
        let hash = spec_hash(spec);
        let mut action = RunAction::Created;
        if let Some(existing) = self.find(&spec.name).await? {
            let id = existing.id.clone().unwrap_or_default();
            let labels = labels_of(&existing);
            if !labels.contains_key(LABEL_APP) {
                return Err(EngineError::NotManaged {
                    name: spec.name.clone(),
                    id,
                });
            }
            if labels.get(LABEL_SPEC_HASH) == Some(&hash) {
                match run_state(&existing) {
                    RunState::Running | RunState::Restarting | RunState::Paused => {
                        return Ok(RunOutcome {
                            id,
                            action: RunAction::Unchanged,
                        });
                    }
                    RunState::Created | RunState::Exited => {
                        self.start(&spec.name, &id).await?;
                        return Ok(RunOutcome {
                            id,
                            action: RunAction::Started,
                        });
                    }
                    // Dead, being removed or unknown: make a fresh one.
                    RunState::Removing | RunState::Dead | RunState::Unknown => {}
                }
            }
            if run_state(&existing) == RunState::Running {
                match self.stop_id(&spec.name, &id, REPLACE_STOP_TIMEOUT).await {
                    Ok(()) | Err(EngineError::ContainerNotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            self.remove_id(&spec.name, &id).await?;
            action = RunAction::Replaced;
        }
        let id = self.create_and_start(spec, &hash).await?;
        Ok(RunOutcome { id, action })
    }

    async fn stop(&self, name: &str, timeout: Duration) -> Result<(), EngineError> {
        validate_name("container", name)?;
        let id = self
            .find_managed(name)
            .await?
            .ok_or_else(|| EngineError::ContainerNotFound {
                name: name.to_string(),
            })?;
        self.stop_id(name, &id, timeout).await
    }

    async fn remove(&self, name: &str) -> Result<bool, EngineError> {
        validate_name("container", name)?;
        match self.find_managed(name).await? {
            Some(id) => self.remove_id(name, &id).await,
            None => Ok(false),
        }
    }

    async fn has_image(&self, reference: &str) -> Result<bool, EngineError> {
        match self.docker.inspect_image(reference).await {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) => Err(docker_error(Operation::InspectImage, reference, &e)),
        }
    }

    async fn inspect(&self, name: &str) -> Result<ContainerState, EngineError> {
        validate_name("container", name)?;
        self.find(name)
            .await?
            .map(|found| container_state(&found))
            .ok_or_else(|| EngineError::ContainerNotFound {
                name: name.to_string(),
            })
    }

    async fn list(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<ContainerState>, EngineError> {
        let filter: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let target = filter.join(",");
        let options = ListContainersOptions {
            all: true,
            filters: (!filter.is_empty()).then(|| HashMap::from([("label".to_string(), filter)])),
            ..ListContainersOptions::default()
        };
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| docker_error(Operation::ListContainers, &target, &e))?;
        let mut states = Vec::with_capacity(summaries.len());
        for summary in summaries {
            let Some(id) = summary.id else { continue };
            match self.docker.inspect_container(&id, None).await {
                Ok(found) => states.push(container_state(&found)),
                // Removed between the list and the inspect.
                Err(e) if status(&e) == Some(404) => {}
                Err(e) => return Err(docker_error(Operation::InspectContainer, &id, &e)),
            }
        }
        states.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(states)
    }

    async fn logs(
        &self,
        name: &str,
        tail: Option<u32>,
        follow: bool,
    ) -> Result<LogStream, EngineError> {
        validate_name("container", name)?;
        let found = self
            .find(name)
            .await?
            .ok_or_else(|| EngineError::ContainerNotFound {
                name: name.to_string(),
            })?;
        let options = LogsOptions {
            follow,
            stdout: true,
            stderr: true,
            tail: tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
            ..LogsOptions::default()
        };
        let name = name.to_string();
        let chunks = self
            .docker
            .logs(&found.id.unwrap_or_default(), Some(options))
            .filter_map(move |chunk| {
                let chunk = match chunk {
                    Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                        Some(Ok((StdStream::Stdout, message)))
                    }
                    Ok(LogOutput::StdErr { message }) => Some(Ok((StdStream::Stderr, message))),
                    Ok(LogOutput::StdIn { .. }) => None,
                    Err(e) => Some(Err(docker_error(Operation::ReadLogs, &name, &e))),
                };
                std::future::ready(chunk)
            });
        Ok(split_lines(chunks))
    }

    async fn info(&self) -> Result<EngineInfo, EngineError> {
        let info_error = |e: BollardError| docker_error(Operation::Info, "docker", &e);
        let version = self.docker.version().await.map_err(info_error)?;
        let info = self.docker.info().await.map_err(info_error)?;
        Ok(EngineInfo {
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            storage_driver: info.driver.unwrap_or_default(),
            root_dir: PathBuf::from(info.docker_root_dir.unwrap_or_default()),
            https_proxy: super::mask_proxy(&info.https_proxy.unwrap_or_default()),
            no_proxy: info.no_proxy.unwrap_or_default(),
        })
    }

    async fn trust_registry_ca(&self, host: &str, ca_pem: &str) -> Result<PathBuf, EngineError> {
        let certs_dir = self.certs_dir.clone();
        let (host, ca_pem) = (host.to_string(), ca_pem.to_string());
        let path = certs_dir.join(&host);
        tokio::task::spawn_blocking(move || write_registry_ca(&certs_dir, &host, &ca_pem))
            .await
            .unwrap_or_else(|e| {
                Err(EngineError::Io {
                    path,
                    source: std::io::Error::other(e),
                })
            })
    }
}

/// The Docker create request for `spec`, labelled with its hash.
fn create_body(spec: &ContainerSpec, hash: &str) -> ContainerCreateBody {
    let mut labels = hash_map(&spec.labels);
    labels.insert(LABEL_SPEC_HASH.to_string(), hash.to_string());

    let mut exposed_ports = Vec::new();
    let mut port_bindings: HashMap<String, Option<Vec<DockerPortBinding>>> = HashMap::new();
    for port in &spec.ports {
        let key = format!("{}/{}", port.container_port, port.protocol);
        if !exposed_ports.contains(&key) {
            exposed_ports.push(key.clone());
        }
        port_bindings
            .entry(key)
            .or_default()
            .get_or_insert_with(Vec::new)
            .push(DockerPortBinding {
                host_ip: Some(port.host_ip.clone().unwrap_or_default()),
                // Port 0 asks Docker for any free port.
                host_port: Some(match port.host_port {
                    0 => String::new(),
                    n => n.to_string(),
                }),
            });
    }

    let mounts: Vec<Mount> = spec
        .volumes
        .iter()
        .map(|v| Mount {
            target: Some(v.target.clone()),
            source: Some(v.volume.clone()),
            typ: Some(MountType::VOLUME),
            read_only: Some(v.read_only),
            ..Mount::default()
        })
        .collect();

    let restart_policy = spec
        .restart
        .as_deref()
        .and_then(parse_restart)
        .map(|(name, count)| RestartPolicy {
            name: Some(match name {
                "always" => RestartPolicyNameEnum::ALWAYS,
                "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                _ => RestartPolicyNameEnum::NO,
            }),
            maximum_retry_count: count,
        });

    let nanos =
        |ms: u64| (ms > 0).then(|| i64::try_from(ms.saturating_mul(1_000_000)).unwrap_or(i64::MAX));
    let healthcheck = spec.healthcheck.as_ref().map(|h| HealthConfig {
        test: Some(h.test.clone()),
        interval: nanos(h.interval_ms),
        timeout: nanos(h.timeout_ms),
        retries: (h.retries > 0).then_some(i64::from(h.retries)),
        start_period: nanos(h.start_period_ms),
        start_interval: None,
    });

    // API 1.41 takes one network at create; the others are connected before start.
    let first_network = spec.networks.first();
    let networking_config = first_network.map(|network| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(network.clone(), endpoint(spec))])),
    });

    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.command.clone(),
        entrypoint: spec.entrypoint.clone(),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(labels),
        exposed_ports: (!exposed_ports.is_empty()).then_some(exposed_ports),
        healthcheck,
        host_config: Some(HostConfig {
            port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
            mounts: (!mounts.is_empty()).then_some(mounts),
            restart_policy,
            network_mode: first_network.cloned(),
            ..HostConfig::default()
        }),
        networking_config,
        ..ContainerCreateBody::default()
    }
}

fn endpoint(spec: &ContainerSpec) -> EndpointSettings {
    EndpointSettings {
        aliases: (!spec.network_aliases.is_empty()).then(|| spec.network_aliases.clone()),
        ..EndpointSettings::default()
    }
}

fn container_state(found: &ContainerInspectResponse) -> ContainerState {
    let state = found.state.as_ref();
    let run_state = run_state(found);
    let health = state
        .and_then(|s| s.health.as_ref())
        .and_then(|h| h.status)
        .and_then(|status| match status {
            HealthStatusEnum::STARTING => Some(Health::Starting),
            HealthStatusEnum::HEALTHY => Some(Health::Healthy),
            HealthStatusEnum::UNHEALTHY => Some(Health::Unhealthy),
            HealthStatusEnum::NONE | HealthStatusEnum::EMPTY => None,
        });
    ContainerState {
        id: found.id.clone().unwrap_or_default(),
        name: found
            .name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: found
            .config
            .as_ref()
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        state: run_state,
        health,
        restart_count: found
            .restart_count
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0),
        exit_code: matches!(run_state, RunState::Exited | RunState::Dead)
            .then(|| state.and_then(|s| s.exit_code))
            .flatten(),
        labels: labels_of(found),
        started_at: state
            .and_then(|s| s.started_at.clone())
            // Docker's zero time means it never started.
            .filter(|t| !t.is_empty() && !t.starts_with("0001-01-01")),
    }
}

fn run_state(found: &ContainerInspectResponse) -> RunState {
    match found.state.as_ref().and_then(|s| s.status) {
        Some(ContainerStateStatusEnum::CREATED) => RunState::Created,
        Some(ContainerStateStatusEnum::RUNNING) => RunState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => RunState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => RunState::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => RunState::Removing,
        Some(ContainerStateStatusEnum::EXITED) => RunState::Exited,
        Some(ContainerStateStatusEnum::DEAD) => RunState::Dead,
        Some(ContainerStateStatusEnum::STOPPING | ContainerStateStatusEnum::EMPTY) | None => {
            RunState::Unknown
        }
    }
}

fn labels_of(found: &ContainerInspectResponse) -> BTreeMap<String, String> {
    found
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .map(|labels| labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn hash_map(labels: &BTreeMap<String, String>) -> HashMap<String, String> {
    labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Whether the last path component of `reference` names a tag or the reference a digest.
fn has_tag_or_digest(reference: &str) -> bool {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    reference.contains('@') || last.contains(':')
}

/// Sorts a failed pull into unauthorized, not found or other, keeping Docker's message
/// (with the password scrubbed, should the registry ever echo it).
fn pull_error(reference: &str, auth: Option<&RegistryAuth>, e: &BollardError) -> EngineError {
    let mut reason = reason(e);
    if let Some(auth) = auth.filter(|a| !a.password.is_empty()) {
        reason = reason.replace(&auth.password, "********");
    }
    let lower = reason.to_lowercase();
    let reference = reference.to_string();
    if matches!(status(e), Some(401 | 403))
        || lower.contains("unauthorized")
        || lower.contains("authentication required")
        || lower.contains("no basic auth credentials")
        || lower.contains("incorrect username or password")
        || lower.contains("access denied")
    {
        EngineError::PullUnauthorized { reference, reason }
    } else if status(e) == Some(404)
        || lower.contains("manifest unknown")
        || lower.contains("not found")
        || lower.contains("does not exist")
    {
        EngineError::ImageNotFound { reference, reason }
    } else {
        EngineError::PullFailed { reference, reason }
    }
}

fn docker_error(operation: Operation, target: &str, e: &BollardError) -> EngineError {
    EngineError::Docker {
        operation,
        target: target.to_string(),
        reason: reason(e),
    }
}

/// The engine's own message where there is one.
fn reason(e: &BollardError) -> String {
    match e {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } if message.is_empty() => format!("HTTP status {status_code}"),
        BollardError::DockerResponseServerError { message, .. } => message.clone(),
        BollardError::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

fn status(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Healthcheck, PortBinding, VolumeBinding};

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: "web".into(),
            image: "registry.test:9874/shop/web:1.2".into(),
            command: Some(vec!["serve".into()]),
            env: BTreeMap::from([("MODE".into(), "fast".into())]),
            labels: BTreeMap::from([
                ("outpost.app".into(), "shop".into()),
                ("outpost.release".into(), "7".into()),
                ("outpost.service".into(), "web".into()),
            ]),
            ports: vec![
                PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: 8080,
                    container_port: 80,
                    protocol: "tcp".into(),
                },
                PortBinding {
                    host_ip: None,
                    host_port: 0,
                    container_port: 80,
                    protocol: "tcp".into(),
                },
            ],
            volumes: vec![VolumeBinding {
                volume: "shop_data".into(),
                target: "/data".into(),
                read_only: true,
            }],
            networks: vec!["shop_default".into(), "shop_back".into()],
            network_aliases: vec!["web".into()],
            restart: Some("on-failure:3".into()),
            healthcheck: Some(Healthcheck {
                test: vec!["CMD".into(), "true".into()],
                interval_ms: 500,
                timeout_ms: 0,
                retries: 2,
                start_period_ms: 0,
            }),
            ..ContainerSpec::default()
        }
    }

    #[test]
    fn the_create_request_carries_the_spec() {
        let body = create_body(&spec(), "abc");
        assert_eq!(
            body.image.as_deref(),
            Some("registry.test:9874/shop/web:1.2")
        );
        assert_eq!(body.env, Some(vec!["MODE=fast".to_string()]));
        let labels = body.labels.unwrap();
        assert_eq!(labels["outpost.spec-hash"], "abc");
        assert_eq!(labels["outpost.app"], "shop");
        assert_eq!(body.exposed_ports, Some(vec!["80/tcp".to_string()]));
        let host = body.host_config.unwrap();
        let bindings = host.port_bindings.unwrap()["80/tcp"].clone().unwrap();
        assert_eq!(bindings.len(), 2);
        assert_eq!(bindings[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(bindings[0].host_port.as_deref(), Some("8080"));
        assert_eq!(bindings[1].host_port.as_deref(), Some(""));
        let mount = &host.mounts.unwrap()[0];
        assert_eq!(mount.typ, Some(MountType::VOLUME));
        assert_eq!(mount.source.as_deref(), Some("shop_data"));
        assert_eq!(mount.read_only, Some(true));
        let restart = host.restart_policy.unwrap();
        assert_eq!(restart.name, Some(RestartPolicyNameEnum::ON_FAILURE));
        assert_eq!(restart.maximum_retry_count, Some(3));
        assert_eq!(host.network_mode.as_deref(), Some("shop_default"));
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(endpoints.len(), 1, "API 1.41 takes one network at create");
        assert_eq!(
            endpoints["shop_default"].aliases,
            Some(vec!["web".to_string()])
        );
        let health = body.healthcheck.unwrap();
        assert_eq!(health.interval, Some(500_000_000));
        assert_eq!(health.timeout, None);
        assert_eq!(health.retries, Some(2));
    }

    #[test]
    fn bare_references_get_latest() {
        for (reference, tagged) in [
            ("busybox", false),
            ("registry.test:9874/shop/web", false),
            ("registry.test:9874/shop/web:1.2", true),
            ("busybox@sha256:00", true),
            ("localhost:5000/a", false),
        ] {
            assert_eq!(has_tag_or_digest(reference), tagged, "{reference}");
        }
    }

    #[test]
    fn pull_errors_are_sorted_and_scrubbed() {
        let auth = RegistryAuth {
            username: "u".into(),
            password: "s3cret-pw".into(),
        };
        let server = |status_code, message: &str| BollardError::DockerResponseServerError {
            status_code,
            message: message.into(),
        };
        let err = pull_error(
            "r/x:1",
            Some(&auth),
            &server(
                500,
                "Head \"http://r/v2/x/manifests/1\": unauthorized: s3cret-pw",
            ),
        );
        assert!(
            matches!(err, EngineError::PullUnauthorized { .. }),
            "{err:?}"
        );
        assert!(!err.to_string().contains("s3cret-pw"));
        let err = pull_error(
            "r/x:1",
            None,
            &server(
                500,
                "Head \"http://r/v2/x/manifests/1\": no basic auth credentials",
            ),
        );
        assert!(
            matches!(err, EngineError::PullUnauthorized { .. }),
            "{err:?}"
        );
        let err = pull_error("r/x:1", None, &server(404, "manifest for r/x:1 not found"));
        assert!(matches!(err, EngineError::ImageNotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("r/x:1"));
        let err = pull_error("r/x:1", None, &server(500, "connection refused"));
        assert!(matches!(err, EngineError::PullFailed { .. }), "{err:?}");
    }
}
