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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseInspectRequest {
    pub license: String,
}

/// `POST /license/key-rotation`: a rotation document signed by the pinned vendor key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotationRequest {
    pub rotation: String,
}

#[derive(Debug, Serialize)]
pub struct KeyRotated {
    pub old_keyid: String,
    pub new_keyid: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseLoadRequest {
    pub license: String,
    #[serde(default)]
    pub trust_key: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LicenseInspection {
    pub fingerprint: String,
    pub key_pinned: bool,
    pub matches_pinned: bool,
    pub claims: LicenseClaims,
}

#[derive(Debug, Serialize)]
pub struct LicenseClaims {
    pub license_id: String,
    pub customer: String,
    pub app_id: String,
    pub channel: String,
    pub expires_at: String,
}

impl From<crate::license::Inspection> for LicenseInspection {
    fn from(i: crate::license::Inspection) -> LicenseInspection {
        LicenseInspection {
            fingerprint: i.fingerprint,
            key_pinned: i.key_pinned,
            matches_pinned: i.matches_pinned,
            claims: LicenseClaims {
                license_id: i.license_id,
                customer: i.customer,
                app_id: i.app_id,
                channel: i.channel,
                expires_at: rfc3339(i.expires_at.unix_timestamp()),
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CurrentLicense {
    pub license: Option<License>,
}

/// A loaded license as the API shows it: never the registry password.
#[derive(Debug, Serialize)]
pub struct License {
    pub license_id: String,
    pub customer: String,
    pub app_id: String,
    pub channel: String,
    pub issued_at: String,
    pub expires_at: String,
    pub entitlements: std::collections::BTreeMap<String, String>,
    pub airgap: bool,
    pub max_nodes: Option<u32>,
    pub api_host: Option<String>,
    pub registry_username: Option<String>,
    pub vendor_key_fingerprint: String,
    pub loaded_at: String,
}

impl From<crate::license::LoadedLicense> for License {
    fn from(loaded: crate::license::LoadedLicense) -> License {
        let l = loaded.license;
        License {
            license_id: l.license_id,
            customer: l.customer,
            app_id: l.app_id,
            channel: l.channel,
            issued_at: rfc3339(l.issued_at.unix_timestamp()),
            expires_at: rfc3339(l.expires_at.unix_timestamp()),
            entitlements: l.entitlements,
            airgap: l.airgap,
            max_nodes: l.max_nodes,
            api_host: l.api_host,
            registry_username: l.registry.map(|r| r.username),
            vendor_key_fingerprint: loaded.fingerprint,
            loaded_at: rfc3339(loaded.loaded_at),
        }
    }
}
