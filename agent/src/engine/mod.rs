//! The node's container engine: a small [`ContainerEngine`] trait over what the agent
//! protocol's [`Command`](crate::protocol::Command)s need, its Docker implementation
//! ([`BollardEngine`], the only code in Outpost that knows bollard), an in-memory twin
//! for tests ([`fake::FakeEngine`]) and [`execute`], which maps a command onto an engine.
//!
//! Containers the agent runs carry the labels `outpost.app`, `outpost.release` and
//! `outpost.service`, plus `outpost.spec-hash` (set by the engine), which is how `run`
//! knows whether an existing container already matches its spec.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use futures_util::Stream;
use serde::Serialize;

use crate::protocol::{ContainerSpec, DockerFacts, Progress, RegistryAuth};

mod docker;
mod execute;
pub mod fake;
mod lines;
mod registry_ca;
mod spec;

pub use docker::BollardEngine;
pub use execute::execute;
pub use lines::MAX_LOG_LINE_BYTES;
pub use registry_ca::{validate_registry_host, DEFAULT_CERTS_DIR, MAX_CA_PEM_BYTES};
pub use spec::{spec_hash, validate_name, validate_spec};

/// Label naming the application a container belongs to.
pub const LABEL_APP: &str = "outpost.app";
/// Label naming the release sequence a container was deployed from.
pub const LABEL_RELEASE: &str = "outpost.release";
/// Label naming the Compose service a container runs.
pub const LABEL_SERVICE: &str = "outpost.service";
/// Label the engine sets to the hash of the spec a container was created from.
pub const LABEL_SPEC_HASH: &str = "outpost.spec-hash";
/// The labels every spec must carry.
pub const REQUIRED_LABELS: [&str; 3] = [LABEL_APP, LABEL_RELEASE, LABEL_SERVICE];

/// A stream of log lines; it ends when the logs end (or, when following, when the
/// container stops). Dropping it stops reading.
pub type LogStream = Pin<Box<dyn Stream<Item = Result<LogLine, EngineError>> + Send + 'static>>;

/// What the agent needs from a container engine. Every method is one engine round
/// (or a few); none of them retries. Implementations: [`BollardEngine`] and
/// [`fake::FakeEngine`].
pub trait ContainerEngine: Send + Sync {
    /// Pulls `reference` (a reference without tag or digest means `:latest`), calling
    /// `progress` for each status update the engine reports.
    fn pull<P>(
        &self,
        reference: &str,
        auth: Option<&RegistryAuth>,
        progress: P,
    ) -> impl Future<Output = Result<(), EngineError>> + Send
    where
        P: FnMut(Progress) + Send;

    /// Creates a bridge network unless one with this name exists; returns its id.
    fn ensure_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<String, EngineError>> + Send;

    /// Creates a local volume unless one with this name exists.
    fn ensure_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// Creates and starts the container `spec` describes, idempotently: a container of
    /// that name made from the same spec is kept (and started if it is not running),
    /// one made from another spec is replaced. A spec without the required labels, or
    /// a name held by a container that Outpost did not create, is refused.
    fn run(
        &self,
        spec: &ContainerSpec,
    ) -> impl Future<Output = Result<RunOutcome, EngineError>> + Send;

    /// Stops a container, killing it after `timeout`. Stopping a stopped one is fine.
    fn stop(
        &self,
        name: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// Removes a container, running or not (its named volumes stay). Returns false if
    /// there was no such container.
    fn remove(&self, name: &str) -> impl Future<Output = Result<bool, EngineError>> + Send;

    /// Whether the image `reference` (by tag or `name@digest`) is in the local image
    /// store. Nothing is pulled.
    fn has_image(&self, reference: &str) -> impl Future<Output = Result<bool, EngineError>> + Send;

    /// The state of one container.
    fn inspect(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<ContainerState, EngineError>> + Send;

    /// Every container (running or not) carrying all of `labels`, sorted by name.
    fn list(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Vec<ContainerState>, EngineError>> + Send;

    /// A container's stdout and stderr as lines of at most [`MAX_LOG_LINE_BYTES`]:
    /// the last `tail` lines (all when `None`), then, when `follow`, new lines as they
    /// are written until the container stops or the stream is dropped.
    fn logs(
        &self,
        name: &str,
        tail: Option<u32>,
        follow: bool,
    ) -> impl Future<Output = Result<LogStream, EngineError>> + Send;

    /// Facts about the engine itself.
    fn info(&self) -> impl Future<Output = Result<EngineInfo, EngineError>> + Send;

    /// Makes the engine trust `ca_pem` for the registry at `host` (`name:port` or
    /// `ipv4:port`); returns the file written.
    fn trust_registry_ca(
        &self,
        host: &str,
        ca_pem: &str,
    ) -> impl Future<Output = Result<PathBuf, EngineError>> + Send;
}

/// What `run` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunOutcome {
    pub id: String,
    pub action: RunAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunAction {
    /// No container had the name; one was created and started.
    Created,
    /// A container from another spec was removed and a new one created and started.
    Replaced,
    /// The container already matched the spec and was running.
    Unchanged,
    /// The container already matched the spec and was started again.
    Started,
}

/// One container as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerState {
    pub id: String,
    pub name: String,
    /// The image as the container's spec named it.
    pub image: String,
    pub state: RunState,
    /// `None` for a container without a healthcheck.
    pub health: Option<Health>,
    pub restart_count: u64,
    /// Set once the container has exited.
    pub exit_code: Option<i64>,
    pub labels: BTreeMap<String, String>,
    /// RFC 3339; `None` if it never started.
    pub started_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    Unknown,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Created => "created",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Restarting => "restarting",
            RunState::Removing => "removing",
            RunState::Exited => "exited",
            RunState::Dead => "dead",
            RunState::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// One line of a container's output, without its line break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stream: StdStream,
    pub line: String,
    /// The line was longer than [`MAX_LOG_LINE_BYTES`]; the rest was dropped.
    pub truncated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdStream {
    Stdout,
    Stderr,
}

impl StdStream {
    pub fn as_str(self) -> &'static str {
        match self {
            StdStream::Stdout => "stdout",
            StdStream::Stderr => "stderr",
        }
    }
}

/// Facts about the engine. `root_dir` is where it keeps images and volumes (the disk
/// the agent watches); the rest is what the protocol's [`DockerFacts`] carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineInfo {
    pub version: String,
    pub api_version: String,
    pub storage_driver: String,
    pub root_dir: PathBuf,
    /// The proxy the engine pulls through (credentials masked), empty for none.
    pub https_proxy: String,
    pub no_proxy: String,
}

impl EngineInfo {
    pub fn docker_facts(&self) -> DockerFacts {
        DockerFacts {
            version: self.version.clone(),
            api_version: self.api_version.clone(),
            storage_driver: self.storage_driver.clone(),
            https_proxy: self.https_proxy.clone(),
            no_proxy: self.no_proxy.clone(),
        }
    }
}

/// `proxy` with any password in it replaced by `xxxxx` (Docker masks them too, but not
/// every version).
pub fn mask_proxy(proxy: &str) -> String {
    match (proxy.find("://"), proxy.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &proxy[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:xxxxx{}", &proxy[..scheme + 3], &proxy[at..])
        }
        _ => proxy.to_string(),
    }
}

/// Why an engine call failed. Messages name the image, container, network, volume or
/// registry host involved and carry the engine's own reason; they never contain a
/// registry password.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot connect to the Docker engine at {host}: {reason}")]
    Connect { host: String, reason: String },
    /// A name Docker would refuse, or one that could reach past its place in an API path.
    #[error("invalid {kind} name {name:?}")]
    InvalidName { kind: &'static str, name: String },
    #[error("container spec {name:?} refused: {reason}")]
    InvalidSpec { name: String, reason: String },
    /// The registry refused the credentials (or wanted some).
    #[error("pulling {reference}: {}", say(reason, "unauthorized"))]
    PullUnauthorized { reference: String, reason: String },
    #[error("pulling {reference}: {}", say(reason, "not found"))]
    ImageNotFound { reference: String, reason: String },
    #[error("image {reference} is not on this node, and airgap mode pulls nothing from outside: import it with an airgap bundle")]
    ImageAbsent { reference: String },
    #[error("pulling {reference} failed: {reason}")]
    PullFailed { reference: String, reason: String },
    #[error("no container named {name:?}")]
    ContainerNotFound { name: String },
    /// The agent changes only containers it created (they carry `outpost.app`).
    #[error("container {name:?} ({id}) was not created by Outpost; leaving it alone")]
    NotManaged { name: String, id: String },
    #[error("{operation} {target:?} failed: {reason}")]
    Docker {
        operation: Operation,
        target: String,
        reason: String,
    },
    #[error("invalid registry host {host:?}: {reason}")]
    InvalidRegistryHost { host: String, reason: String },
    #[error("invalid CA certificate for registry {host}: {reason}")]
    InvalidCa { host: String, reason: String },
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `reason`, led by `verdict` unless Docker's message already says it.
fn say(reason: &str, verdict: &str) -> String {
    if reason.to_lowercase().contains(verdict) {
        reason.to_string()
    } else {
        format!("{verdict}: {reason}")
    }
}

/// The engine operation an [`EngineError::Docker`] failed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    CreateNetwork,
    InspectNetwork,
    CreateVolume,
    CreateContainer,
    ConnectNetwork,
    StartContainer,
    StopContainer,
    RemoveContainer,
    InspectContainer,
    ListContainers,
    ReadLogs,
    Info,
    InspectImage,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Operation::CreateNetwork => "creating network",
            Operation::InspectNetwork => "inspecting network",
            Operation::CreateVolume => "creating volume",
            Operation::CreateContainer => "creating container",
            Operation::ConnectNetwork => "connecting to network",
            Operation::StartContainer => "starting container",
            Operation::StopContainer => "stopping container",
            Operation::RemoveContainer => "removing container",
            Operation::InspectContainer => "inspecting container",
            Operation::InspectImage => "inspecting image",
            Operation::ListContainers => "listing containers with labels",
            Operation::ReadLogs => "reading logs of container",
            Operation::Info => "reading engine info from",
        })
    }
}

#[cfg(test)]
mod proxy_tests {
    use super::mask_proxy;

    #[test]
    fn proxies_lose_their_password() {
        assert_eq!(
            mask_proxy("http://user:s3cret@proxy.corp:3128"),
            "http://user:xxxxx@proxy.corp:3128"
        );
        assert_eq!(mask_proxy("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(mask_proxy(""), "");
    }
}
