//! The channel index: which releases a channel offers. Its `version` only grows and it
//! expires, so a mirror cannot roll a console back or freeze it on old metadata.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::document::{check_expiry, check_identifier, check_schema, Document};
use crate::envelope::VerifyError;

pub const PAYLOAD_TYPE: &str = "application/vnd.outpost.channel-index.v1+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelIndex {
    pub schema: u32,
    pub app_id: String,
    pub channel: String,
    /// Monotonic: every publication increments it.
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub releases: Vec<IndexEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexEntry {
    pub sequence: u64,
    pub version: String,
    /// `sha256:<hex>` of the release envelope file.
    pub digest: String,
    #[serde(default)]
    pub required: bool,
}

impl Document for ChannelIndex {
    const PAYLOAD_TYPE: &'static str = PAYLOAD_TYPE;
    const KIND: &'static str = "channel index";
    const MAX_ENVELOPE_BYTES: usize = 1024 * 1024;

    fn check(&self, now: OffsetDateTime) -> Result<(), VerifyError> {
        check_schema(Self::KIND, self.schema)?;
        check_identifier(Self::KIND, "app_id", &self.app_id)?;
        check_identifier(Self::KIND, "channel", &self.channel)?;
        let mut previous = None;
        for entry in &self.releases {
            if previous.is_some_and(|p| entry.sequence <= p) {
                return Err(VerifyError::InvalidPayload {
                    kind: Self::KIND,
                    reason: "releases must be listed in strictly increasing sequence".into(),
                });
            }
            previous = Some(entry.sequence);
        }
        check_expiry(Self::KIND, self.expires_at, now)
    }
}

/// Refuses an index older than the newest one already seen (rollback protection).
pub fn check_not_older(index: &ChannelIndex, highest_seen: Option<u64>) -> Result<(), VerifyError> {
    match highest_seen {
        Some(seen) if index.version < seen => Err(VerifyError::InvalidPayload {
            kind: ChannelIndex::KIND,
            reason: format!(
                "index version {} is older than version {seen} already seen (rollback refused)",
                index.version
            ),
        }),
        _ => Ok(()),
    }
}
