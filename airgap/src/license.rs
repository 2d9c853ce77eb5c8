//! The license: who the customer is, which app and channel they may run, until when,
//! and with what entitlements. It carries the vendor's public key that signed it, so
//! the first load can show the fingerprint the admin confirms and pins.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::document::{check_expiry, check_identifier, check_schema, Document};
use crate::envelope::VerifyError;

pub const PAYLOAD_TYPE: &str = "application/vnd.outpost.license.v1+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct License {
    pub schema: u32,
    pub license_id: String,
    pub customer: String,
    pub app_id: String,
    pub channel: String,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(default)]
    pub entitlements: BTreeMap<String, String>,
    /// Whether the customer may install from airgap bundles.
    #[serde(default)]
    pub airgap: bool,
    #[serde(default)]
    pub max_nodes: Option<u32>,
    /// Where the console syncs this license and checks for updates (online installs).
    #[serde(default)]
    pub api_host: Option<String>,
    /// Pull credentials for the vendor's private registry. Secret: never shown or logged.
    #[serde(default)]
    pub registry: Option<RegistryCredentials>,
    /// Base64 of the ed25519 public key that signed this license.
    pub vendor_key: String,
    /// Set when the vendor revoked the license (`outpost-airgap license revoke`). A console
    /// that syncs a revoked license keeps the app running but takes no more updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revocation>,
}

/// When and why the vendor revoked a license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Shown to the customer's admins as the vendor wrote it.
    pub reason: String,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryCredentials {
    /// The registry these credentials are for, as image references name it
    /// (`registry.example.com`, `host:5000`). Consoles send them only there (or to where the
    /// admin's rewrite rules send that registry's pulls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("host", &self.host)
            .field("username", &self.username)
            .field("password", &"********")
            .finish()
    }
}

const MAX_ENTITLEMENTS: usize = 256;
/// The longest revocation reason, in bytes.
pub const MAX_REVOCATION_REASON: usize = 1024;

impl Document for License {
    const PAYLOAD_TYPE: &'static str = PAYLOAD_TYPE;
    const KIND: &'static str = "license";
    const MAX_ENVELOPE_BYTES: usize = 64 * 1024;

    fn check(&self, now: OffsetDateTime) -> Result<(), VerifyError> {
        let invalid = |reason: String| VerifyError::InvalidPayload {
            kind: Self::KIND,
            reason,
        };
        check_schema(Self::KIND, self.schema)?;
        check_identifier(Self::KIND, "license_id", &self.license_id)?;
        check_identifier(Self::KIND, "app_id", &self.app_id)?;
        check_identifier(Self::KIND, "channel", &self.channel)?;
        if self.customer.trim().is_empty() || self.customer.len() > 256 {
            return Err(invalid("customer must be 1-256 characters".into()));
        }
        if self.expires_at <= self.issued_at {
            return Err(invalid("expires_at must be after issued_at".into()));
        }
        if self.entitlements.len() > MAX_ENTITLEMENTS {
            return Err(invalid(format!(
                "more than {MAX_ENTITLEMENTS} entitlements"
            )));
        }
        if self.max_nodes == Some(0) {
            return Err(invalid("max_nodes must be at least 1".into()));
        }
        if let Some(host) = &self.api_host {
            if !(host.starts_with("https://") || host.starts_with("http://")) {
                return Err(invalid(format!("api_host {host:?} must be an http(s) URL")));
            }
        }
        if let Some(revoked) = &self.revoked {
            if revoked.reason.trim().is_empty() || revoked.reason.len() > MAX_REVOCATION_REASON {
                return Err(invalid(format!(
                    "the revocation reason must be 1-{MAX_REVOCATION_REASON} bytes"
                )));
            }
        }
        check_expiry(Self::KIND, self.expires_at, now)
    }
}
