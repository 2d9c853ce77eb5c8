//! The agent channel's wire types, shared with the console. Messages are JSON text
//! frames of at most [`MAX_MESSAGE_BYTES`] on one long-lived WebSocket over mutual TLS.
//!
//! Compatibility rules: fields are only ever added (with defaults), never repurposed; an
//! unknown message, command or field is tolerated (`Unknown` variants, no
//! `deny_unknown_fields`); the `protocol` number in `Hello`/`Welcome` rises only for a
//! change that old peers cannot ignore.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// The largest message either side accepts; a bigger one closes the connection.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// Default heartbeat interval; a node is offline after [`MISSED_HEARTBEATS`] missed ones.
pub const HEARTBEAT_SECS: u32 = 5;
pub const MISSED_HEARTBEATS: u32 = 3;

/// Agent → console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMessage {
    /// First message after connecting.
    Hello {
        protocol: u32,
        agent_version: String,
        facts: Box<Facts>,
    },
    Heartbeat {
        seq: u64,
        sent_at_ms: i64,
    },
    /// Facts changed since the last report.
    Facts {
        facts: Box<Facts>,
    },
    /// A command finished (once per command id; a repeated id gets the first result again).
    Result {
        command_id: String,
        result: CommandResult,
    },
    /// Progress of a running command (pull progress, log lines).
    Progress {
        command_id: String,
        progress: Progress,
    },
    #[serde(other)]
    Unknown,
}

/// Console → agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConsoleMessage {
    /// Answer to `Hello`: who the agent is and how often to beat.
    Welcome {
        protocol: u32,
        node_id: String,
        heartbeat_secs: u32,
        console_time_ms: i64,
    },
    HeartbeatAck {
        seq: u64,
        console_time_ms: i64,
    },
    /// Run a command. Ids are unique; a repeated id must not run twice.
    Command {
        command_id: String,
        command: Command,
    },
    /// Stop a running command (a log follow).
    Cancel {
        command_id: String,
    },
    #[serde(other)]
    Unknown,
}

/// What the console asks a node's Docker engine to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Command {
    PullImage {
        /// A normalised reference, usually pinned by digest.
        reference: String,
        #[serde(default)]
        auth: Option<RegistryAuth>,
    },
    EnsureNetwork {
        name: String,
        #[serde(default)]
        labels: BTreeMap<String, String>,
    },
    EnsureVolume {
        name: String,
        #[serde(default)]
        labels: BTreeMap<String, String>,
    },
    RunContainer {
        spec: Box<ContainerSpec>,
    },
    StopContainer {
        name: String,
        #[serde(default = "default_stop_timeout")]
        timeout_secs: u32,
    },
    RemoveContainer {
        name: String,
    },
    InspectContainer {
        name: String,
    },
    ListContainers {
        /// Only containers carrying all these labels.
        #[serde(default)]
        labels: BTreeMap<String, String>,
    },
    Logs {
        name: String,
        #[serde(default)]
        tail: Option<u32>,
        #[serde(default)]
        follow: bool,
    },
    /// Trust a registry's CA for pulls (the internal registry on :9874).
    TrustRegistryCa {
        host: String,
        ca_pem: String,
    },
    /// Check that an image is in the node's image store, pulling nothing (airgap mode).
    EnsureImage {
        reference: String,
    },
    /// The ports held on the node now (the network report's live checks).
    ListeningPorts,
    #[serde(other)]
    Unknown,
}

fn default_stop_timeout() -> u32 {
    10
}

/// Credentials for one pull. Never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &"********")
            .finish()
    }
}

/// A container to create and start.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Must include `outpost.app`, `outpost.release` and `outpost.service`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub ports: Vec<PortBinding>,
    #[serde(default)]
    pub volumes: Vec<VolumeBinding>,
    #[serde(default)]
    pub networks: Vec<String>,
    #[serde(default)]
    pub network_aliases: Vec<String>,
    #[serde(default)]
    pub restart: Option<String>,
    #[serde(default)]
    pub healthcheck: Option<Healthcheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    #[serde(default)]
    pub host_ip: Option<String>,
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeBinding {
    pub volume: String,
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Healthcheck {
    /// Docker's form: `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`.
    pub test: Vec<String>,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub retries: u32,
    #[serde(default)]
    pub start_period_ms: u64,
}

/// How a command ended. `Ok.output` per command: `PullImage` → `{reference}`;
/// `EnsureNetwork` → `{name, id}`; `EnsureVolume` → `{name}`; `RunContainer` → `{id, name,
/// action}`; `StopContainer` → `{name}`; `RemoveContainer` → `{name, removed}`;
/// `InspectContainer` → the container's state; `ListContainers` → `{containers}`; `Logs` →
/// `{lines: <count>}` (the lines themselves arrive as `Progress::LogLine`);
/// `TrustRegistryCa` → `{host, path}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CommandResult {
    Ok {
        #[serde(default)]
        output: serde_json::Value,
    },
    Error {
        message: String,
    },
    /// The agent does not know this command (an older agent).
    Unsupported,
}

/// Progress of a running command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    Pull {
        status: String,
        #[serde(default)]
        current: Option<u64>,
        #[serde(default)]
        total: Option<u64>,
    },
    LogLine {
        stream: String,
        line: String,
    },
    #[serde(other)]
    Unknown,
}

/// Host facts, sent on connect and when they change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Facts {
    pub hostname: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub kernel: String,
    #[serde(default)]
    pub cpus: u32,
    #[serde(default)]
    pub memory_bytes: u64,
    #[serde(default)]
    pub disks: Vec<DiskFacts>,
    #[serde(default)]
    pub docker: Option<DockerFacts>,
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Sockets that hold a port: TCP in LISTEN, UDP bound and unconnected. Sorted, each
    /// once, at most `facts::MAX_LISTENING_PORTS`; empty from agents that predate it.
    #[serde(default)]
    pub listening_ports: Vec<ListeningPort>,
}

/// A local port some process holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ListeningPort {
    pub port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// The local address: `0.0.0.0` or `::` for every address, else one address.
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskFacts {
    /// `docker` or `data`.
    pub role: String,
    pub path: String,
    pub free_bytes: u64,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerFacts {
    pub version: String,
    pub api_version: String,
    pub storage_driver: String,
    /// The engine's own proxy for pulls (its `HTTPS_PROXY`, credentials masked), empty
    /// when it connects directly.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub https_proxy: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub no_proxy: String,
}

/// Parses a message, refusing one over the size limit.
pub fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge(text.len()));
    }
    serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    TooLarge(usize),
    Malformed(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLarge(n) => write!(
                f,
                "message of {n} bytes is over the {MAX_MESSAGE_BYTES}-byte limit"
            ),
            DecodeError::Malformed(why) => write!(f, "malformed message: {why}"),
        }
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let messages = [
            ConsoleMessage::Welcome {
                protocol: PROTOCOL_VERSION,
                node_id: "node-1".into(),
                heartbeat_secs: HEARTBEAT_SECS,
                console_time_ms: 1,
            },
            ConsoleMessage::Command {
                command_id: "c1".into(),
                command: Command::RunContainer {
                    spec: Box::new(ContainerSpec {
                        name: "web".into(),
                        image: "docker.io/library/busybox@sha256:00".into(),
                        ..ContainerSpec::default()
                    }),
                },
            },
        ];
        for message in messages {
            let text = serde_json::to_string(&message).unwrap();
            assert_eq!(decode::<ConsoleMessage>(&text).unwrap(), message);
        }
    }

    #[test]
    fn unknown_types_fields_and_commands_are_tolerated() {
        let newer = r#"{"type":"hologram","colour":"blue"}"#;
        assert_eq!(
            decode::<ConsoleMessage>(newer).unwrap(),
            ConsoleMessage::Unknown
        );
        let extra = r#"{"type":"heartbeat","seq":3,"sent_at_ms":5,"battery":"low"}"#;
        assert_eq!(
            decode::<AgentMessage>(extra).unwrap(),
            AgentMessage::Heartbeat {
                seq: 3,
                sent_at_ms: 5
            }
        );
        let command = r#"{"type":"command","command_id":"c","command":{"kind":"teleport"}}"#;
        assert_eq!(
            decode::<ConsoleMessage>(command).unwrap(),
            ConsoleMessage::Command {
                command_id: "c".into(),
                command: Command::Unknown
            }
        );
    }

    #[test]
    fn oversized_and_malformed_messages_are_errors() {
        let big = format!(
            r#"{{"type":"heartbeat","pad":"{}"}}"#,
            "x".repeat(MAX_MESSAGE_BYTES)
        );
        assert!(matches!(
            decode::<AgentMessage>(&big),
            Err(DecodeError::TooLarge(_))
        ));
        assert!(matches!(
            decode::<AgentMessage>("{"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode::<AgentMessage>(r#"{"type":"heartbeat"}"#),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn credentials_do_not_print() {
        let auth = RegistryAuth {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
