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
    /// Take over the vendor key a rotation document (signed by the pinned key) names.
    RotateKey {
        rotation: String,
    },
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
    /// Fetch the channel's releases from the vendor's api host.
    FetchReleases,
    /// The outbound log, newest first.
    Outbound {
        limit: Option<u32>,
        before: Option<i64>,
    },
    /// Where updates stand (state, available releases, advisories, schedule, checks).
    Updates,
    /// Run an update check now.
    UpdatesCheck,
    /// The outbound settings; with a change, change them first.
    OutboundSettings {
        update_schedule: Option<String>,
        airgap_mode: Option<bool>,
        https_proxy: Option<String>,
        no_proxy: Option<String>,
    },
    /// The network requirements report, with live checks.
    Network,
    /// The app's containers on every node.
    AppStatus,
    AppStart,
    AppStop,
    AppRestart,
    /// The last lines of one replica's container.
    AppLogs {
        service: String,
        replica: u32,
        tail: u32,
    },
    /// Preflight for a release (default: the newest).
    Preflight {
        sequence: Option<u64>,
    },
    /// Start deploying a release with the current config.
    Deploy {
        sequence: u64,
        override_preflight: bool,
    },
    /// The version history, or one deployment with its steps.
    Deployments {
        id: Option<i64>,
        limit: u32,
    },
    /// Redeploy an earlier successful deployment's release and config.
    Rollback {
        deployment_id: i64,
    },
    /// The registry settings (no password).
    Registries,
    /// Replace the mirror/rewrite rules (`FROM=TO`), keeping the credentials.
    SetRegistryRules {
        rules: Vec<String>,
    },
}

impl Request {
    /// How long the console may take to answer: a fetch waits on the api host.
    pub fn timeout(&self) -> std::time::Duration {
        match self {
            Request::FetchReleases | Request::UpdatesCheck => FETCH_TIMEOUT,
            Request::Network => std::time::Duration::from_secs(5 * 60),
            // Start/stop wait for every container (each bounded by its healthcheck).
            Request::AppStart | Request::AppStop | Request::AppRestart => APP_TIMEOUT,
            Request::AppStatus | Request::AppLogs { .. } | Request::Preflight { .. } => {
                std::time::Duration::from_secs(60)
            }
            _ => std::time::Duration::from_secs(10),
        }
    }
}

/// How long `app start|stop|restart` may take.
pub const APP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20 * 60);

/// How long `release fetch` may take: the index, then each release, each bounded.
pub const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

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
    Fetched(Fetched),
    Outbound {
        entries: Vec<OutboundEntry>,
        next_before: Option<i64>,
    },
    /// An API view as JSON (app status, logs, preflight, deployments, registries): the same
    /// shapes as `/api/v1` answers (docs/API.md).
    View {
        kind: String,
        view: serde_json::Value,
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

/// What `outpostctl release fetch` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetched {
    pub index_version: u64,
    pub fetched: Vec<u64>,
    pub present: Vec<u64>,
    pub refused: Vec<RefusedRelease>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedRelease {
    pub sequence: u64,
    pub reason: String,
}

/// One outbound log entry as `outpostctl outbound` shows it (secrets already masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundEntry {
    pub id: i64,
    pub at: String,
    pub method: String,
    pub url: String,
    pub purpose: String,
    /// Header name → value, as JSON text.
    pub request_headers: String,
    /// Query and body fields, as JSON text.
    pub request_fields: String,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub duration_ms: u64,
    /// The proxy the request went through (password masked), if any.
    #[serde(default)]
    pub via_proxy: Option<String>,
}
