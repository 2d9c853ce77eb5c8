//! The channel index: which releases a channel offers, and the vendor's security
//! advisories about them. Its `version` only grows and it expires, so a mirror cannot roll
//! a console back or freeze it on old metadata.

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
    /// Security advisories (`outpost-airgap channel advise`), each about some sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advisories: Vec<Advisory>,
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

/// A security advisory: which releases it affects and which one fixes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advisory {
    /// The vendor's id for it (`OSA-2026-0001`): an identifier, unique in the index.
    pub id: String,
    pub severity: Severity,
    /// One line for banners and lists.
    pub title: String,
    /// What it is and what to do, as the vendor wrote it.
    #[serde(default)]
    pub text: String,
    /// The release sequences it affects (increasing, at least one).
    pub affected: Vec<u64>,
    /// The first release that fixes it, if there is one yet.
    #[serde(default)]
    pub fixed_in: Option<u64>,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
}

impl Advisory {
    /// Whether the release with `sequence` is affected.
    pub fn affects(&self, sequence: u64) -> bool {
        self.affected.binary_search(&sequence).is_ok()
    }

    fn check(&self) -> Result<(), String> {
        check_identifier(ChannelIndex::KIND, "advisory id", &self.id).map_err(|e| e.to_string())?;
        let id = &self.id;
        if self.title.trim().is_empty() || self.title.len() > MAX_ADVISORY_TITLE {
            return Err(format!(
                "advisory {id}: the title must be 1-{MAX_ADVISORY_TITLE} bytes"
            ));
        }
        if self.title.chars().any(char::is_control) {
            return Err(format!("advisory {id}: the title must be one line"));
        }
        if self.text.len() > MAX_ADVISORY_TEXT {
            return Err(format!(
                "advisory {id}: the text must be at most {MAX_ADVISORY_TEXT} bytes"
            ));
        }
        if self.affected.is_empty() || self.affected.len() > MAX_AFFECTED {
            return Err(format!(
                "advisory {id}: it must affect 1-{MAX_AFFECTED} releases"
            ));
        }
        if self.affected.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!(
                "advisory {id}: affected sequences must be strictly increasing"
            ));
        }
        if let Some(fixed) = self.fixed_in {
            if self.affects(fixed) {
                return Err(format!(
                    "advisory {id}: sequence {fixed} cannot both be affected and fix it"
                ));
            }
        }
        Ok(())
    }
}

/// How serious an advisory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(text: &str) -> Result<Severity, String> {
        match text {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(format!(
                "{text:?} is not a severity: low, medium, high or critical"
            )),
        }
    }
}

/// The most advisories an index carries.
pub const MAX_ADVISORIES: usize = 256;
/// The most release sequences one advisory lists.
pub const MAX_AFFECTED: usize = 1000;
const MAX_ADVISORY_TITLE: usize = 200;
const MAX_ADVISORY_TEXT: usize = 8 * 1024;

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
        let invalid = |reason: String| VerifyError::InvalidPayload {
            kind: Self::KIND,
            reason,
        };
        if self.advisories.len() > MAX_ADVISORIES {
            return Err(invalid(format!("more than {MAX_ADVISORIES} advisories")));
        }
        let mut ids = std::collections::BTreeSet::new();
        for advisory in &self.advisories {
            advisory.check().map_err(invalid)?;
            if !ids.insert(advisory.id.as_str()) {
                return Err(invalid(format!("advisory {} is listed twice", advisory.id)));
            }
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
