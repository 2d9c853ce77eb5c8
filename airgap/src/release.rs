//! A release: one version of the vendor's app, with its application files inline and
//! every image pinned to a manifest digest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::document::{check_identifier, check_schema, Document};
use crate::envelope::VerifyError;

pub const PAYLOAD_TYPE: &str = "application/vnd.outpost.release.v1+json";

/// Most application files a release may carry, and the largest one.
pub const MAX_FILES: usize = 64;
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub schema: u32,
    pub app_id: String,
    pub channel: String,
    /// Monotonic per app: a higher sequence is a newer release.
    pub sequence: u64,
    /// The version label people read ("1.1.0").
    pub version: String,
    #[serde(default)]
    pub notes: String,
    /// A required release cannot be skipped by an update.
    #[serde(default)]
    pub required: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The application files (`compose.yaml`, `outpost.yaml`, ...), by relative path.
    pub files: BTreeMap<String, String>,
    pub images: Vec<ImagePin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagePin {
    /// The normalised reference as the compose file names it (`docker.io/library/nginx:1.25`).
    pub reference: String,
    /// The manifest digest it is pinned to (`sha256:<64 hex>`).
    pub digest: String,
    /// `os/arch`, e.g. `linux/amd64`.
    pub platform: String,
}

impl Document for Release {
    const PAYLOAD_TYPE: &'static str = PAYLOAD_TYPE;
    const KIND: &'static str = "release";
    const MAX_ENVELOPE_BYTES: usize = 16 * 1024 * 1024;

    fn check(&self, _now: OffsetDateTime) -> Result<(), VerifyError> {
        let invalid = |reason: String| VerifyError::InvalidPayload {
            kind: Self::KIND,
            reason,
        };
        check_schema(Self::KIND, self.schema)?;
        check_identifier(Self::KIND, "app_id", &self.app_id)?;
        check_identifier(Self::KIND, "channel", &self.channel)?;
        if self.version.is_empty() || self.version.len() > 64 {
            return Err(invalid("version must be 1-64 characters".into()));
        }
        if self.files.len() > MAX_FILES {
            return Err(invalid(format!("more than {MAX_FILES} application files")));
        }
        for (path, content) in &self.files {
            check_file_path(path)
                .map_err(|why| invalid(format!("application file {path:?}: {why}")))?;
            if content.len() > MAX_FILE_BYTES {
                return Err(invalid(format!(
                    "application file {path:?} is larger than {MAX_FILE_BYTES} bytes"
                )));
            }
        }
        for required in ["compose.yaml", "outpost.yaml"] {
            if !self.files.contains_key(required) {
                return Err(invalid(format!("the release has no {required}")));
            }
        }
        for image in &self.images {
            let hex = image.digest.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64
                || !hex
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            {
                return Err(invalid(format!(
                    "image {} has digest {:?}, not sha256:<64 lower-case hex>",
                    image.reference, image.digest
                )));
            }
        }
        Ok(())
    }
}

/// A relative path of plain components: no `..`, no absolute path, no empty or hidden
/// tricks, only portable characters.
pub fn check_file_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() || path.len() > 255 {
        return Err("the path must be 1-255 characters");
    }
    if path.starts_with('/') {
        return Err("absolute paths are not allowed");
    }
    for component in path.split('/') {
        match component {
            "" => return Err("empty path components are not allowed"),
            "." | ".." => return Err("'.' and '..' are not allowed"),
            _ if !component
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) =>
            {
                return Err("only letters, digits, '.', '-' and '_' are allowed")
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths() {
        for good in ["compose.yaml", "config/nginx.conf", "a-b_c.d"] {
            assert_eq!(check_file_path(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a//b",
            "./a",
            "a/",
            "a b",
            "a\\b",
            "é",
        ] {
            assert!(check_file_path(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
