//! The API's JSON types. They are wire types: domain types are converted to them here,
//! by hand, so the domain can change without changing the API by accident.

use serde::{Deserialize, Serialize};

use crate::certs::CertInfo;
use crate::clock::rfc3339;
use crate::store::AuditRecord;

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct Ok {
    pub ok: bool,
}

pub const OK: Ok = Ok { ok: true };

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_seconds: u64,
}

#[derive(Debug, Deserialize)]
pub struct SetupQuery {
    pub token: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SetupStatus {
    pub admin_configured: bool,
    pub token_valid: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    pub token: String,
    pub password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub password: String,
}

#[derive(Debug, Serialize)]
pub struct Session {
    pub username: String,
    pub csrf_token: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub version: &'static str,
    pub uptime_seconds: u64,
    pub started_at: String,
    pub tls: Tls,
}

#[derive(Debug, Serialize)]
pub struct Tls {
    pub subject: String,
    pub issuer: String,
    pub fingerprint_sha256: String,
    pub not_before: String,
    pub not_after: String,
    pub self_signed: bool,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
}

impl From<CertInfo> for Tls {
    fn from(info: CertInfo) -> Tls {
        Tls {
            subject: info.subject,
            issuer: info.issuer,
            fingerprint_sha256: info.fingerprint_sha256,
            not_before: rfc3339(info.not_before),
            not_after: rfc3339(info.not_after),
            self_signed: info.self_signed,
            dns_names: info.dns_names,
            ip_addresses: info.ip_addresses,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsUpload {
    pub certificate_pem: String,
    pub private_key_pem: String,
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    pub limit: Option<u32>,
    pub before: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_before: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub source: String,
    pub detail: String,
}

impl From<AuditRecord> for AuditEntry {
    fn from(record: AuditRecord) -> AuditEntry {
        AuditEntry {
            id: record.id,
            at: rfc3339(record.at),
            actor: record.actor,
            action: record.action,
            source: record.source,
            detail: record.detail,
        }
    }
}
