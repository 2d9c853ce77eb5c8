//! The control socket's wire types: one JSON request line, one JSON response line.

use serde::{Deserialize, Serialize};

/// Largest request or response line accepted.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Status,
    ResetPassword,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    Status(Status),
    SetupLink { url: String },
    Error { message: String },
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
