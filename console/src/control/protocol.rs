//! The control socket's wire types: one JSON request line, one JSON response line.

use serde::{Deserialize, Serialize};

/// Largest request or response line accepted.
pub const MAX_LINE_BYTES: usize = 24 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Status,
    ResetPassword,
    LoadLicense {
        license: String,
        trust_key: Option<String>,
    },
    ShowLicense,
    ListNodes,
    JoinToken {
        ttl: Option<String>,
        labels: std::collections::BTreeMap<String, String>,
    },
    SetNodeLabels {
        node: String,
        labels: std::collections::BTreeMap<String, String>,
    },
    RemoveNode {
        node: String,
    },
    LoadRelease {
        release: String,
    },
    ListReleases,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    Status(Status),
    SetupLink {
        url: String,
    },
    /// The first license: the admin must confirm this fingerprint (`--trust-key`).
    KeyConfirmationRequired {
        fingerprint: String,
        customer: String,
        app_id: String,
    },
    License {
        license: Option<License>,
    },
    Nodes {
        nodes: Vec<Node>,
    },
    JoinToken {
        token: String,
        command: String,
        expires_at: String,
    },
    Done {
        message: String,
    },
    Releases {
        releases: Vec<Release>,
    },
    Error {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub url: String,
    pub uptime_seconds: u64,
    pub admin_configured: bool,
    pub schema_version: u32,
    pub tls_subject: String,
    pub tls_fingerprint_sha256: String,
    pub tls_not_after: String,
}

/// A loaded license as `outpostctl` shows it (never the registry password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct License {
    pub license_id: String,
    pub customer: String,
    pub app_id: String,
    pub channel: String,
    pub expires_at: String,
    pub entitlements: std::collections::BTreeMap<String, String>,
    pub airgap: bool,
    pub max_nodes: Option<u32>,
    pub api_host: Option<String>,
    pub registry_username: Option<String>,
    pub vendor_key_fingerprint: String,
}

/// A node as `outpostctl nodes` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub hostname: String,
    pub status: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub last_seen_at: Option<String>,
    pub os: Option<String>,
    pub docker_version: Option<String>,
    pub addresses: Vec<String>,
}

/// A release as `outpostctl releases` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub sequence: u64,
    pub version: String,
    pub channel: String,
    pub required: bool,
    pub images: usize,
    pub source: String,
    pub loaded_at: String,
    pub digest: String,
}
