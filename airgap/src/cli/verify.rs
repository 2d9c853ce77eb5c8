//! `outpost-airgap verify`: checks any signed document against a public key and says what
//! it holds, or precisely why it is refused (with that reason's exit code).

use std::fmt::Write as _;
use std::path::PathBuf;

use time::OffsetDateTime;

use super::license::rfc3339;
use super::{printable, read_document, CliError};
use crate::channel::{self, check_not_older, ChannelIndex};
use crate::document::{open, Document};
use crate::envelope::{Envelope, VerifyError};
use crate::keys::PublicKey;
use crate::license::{self, License};
use crate::release::{self, Release};
use crate::rotation::{self, KeyRotation};

/// The largest file `verify` reads: the largest envelope of any document type.
pub const MAX_DOCUMENT_BYTES: usize = {
    let sizes = [
        License::MAX_ENVELOPE_BYTES,
        Release::MAX_ENVELOPE_BYTES,
        ChannelIndex::MAX_ENVELOPE_BYTES,
        KeyRotation::MAX_ENVELOPE_BYTES,
    ];
    let mut max = 0;
    let mut i = 0;
    while i < sizes.len() {
        if sizes[i] > max {
            max = sizes[i];
        }
        i += 1;
    }
    max
};

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The signed file: a license, release, channel index or key rotation.
    pub file: PathBuf,
    /// The vendor public key to verify with (vendor.pub).
    #[arg(long, value_name = "FILE")]
    pub pubkey: PathBuf,
    /// For a channel index: refuse it when its version is below N, the highest version
    /// already seen (rollback protection, as consoles apply it).
    #[arg(long, value_name = "N")]
    pub min_index_version: Option<u64>,
}

/// A document that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    License(License),
    Release(Release),
    Index(ChannelIndex),
    Rotation(KeyRotation),
}

/// Verifies the file and prints what it holds.
pub fn verify(args: VerifyArgs) -> Result<(), CliError> {
    let trusted = PublicKey::read(&args.pubkey)?;
    // A file over every limit is refused by its size alone, without reading it.
    if let Ok(metadata) = std::fs::metadata(&args.file) {
        let size = usize::try_from(metadata.len()).unwrap_or(usize::MAX);
        if metadata.is_file() && size > MAX_DOCUMENT_BYTES {
            return Err(CliError::Verify(VerifyError::TooLarge {
                kind: "document",
                size,
                limit: MAX_DOCUMENT_BYTES,
            }));
        }
    }
    let bytes = read_document(&args.file, MAX_DOCUMENT_BYTES)?;
    let verified = verify_bytes(
        &bytes,
        &trusted,
        OffsetDateTime::now_utc(),
        args.min_index_version,
    )?;
    if args.min_index_version.is_some() && !matches!(verified, Verified::Index(_)) {
        return Err(CliError::Invalid(format!(
            "--min-index-version applies to channel indexes; {} is a {}",
            args.file.display(),
            verified.kind()
        )));
    }
    print!("{}", printable(&summary(&verified, &trusted)));
    Ok(())
}

/// Detects the payload type of `bytes`, verifies the document against `trusted` at
/// `now` and, for an index, against `min_index_version`.
pub fn verify_bytes(
    bytes: &[u8],
    trusted: &PublicKey,
    now: OffsetDateTime,
    min_index_version: Option<u64>,
) -> Result<Verified, VerifyError> {
    let envelope = Envelope::parse(bytes, "document", MAX_DOCUMENT_BYTES)?;
    // Each type is opened from the bytes again, so its own size limit applies.
    match envelope.payload_type.as_str() {
        license::PAYLOAD_TYPE => open(bytes, trusted, now).map(Verified::License),
        release::PAYLOAD_TYPE => open(bytes, trusted, now).map(Verified::Release),
        channel::PAYLOAD_TYPE => {
            let index = open(bytes, trusted, now)?;
            check_not_older(&index, min_index_version)?;
            Ok(Verified::Index(index))
        }
        rotation::PAYLOAD_TYPE => {
            let rotation: KeyRotation = open(bytes, trusted, now)?;
            if rotation.old_keyid != trusted.keyid() {
                return Err(VerifyError::InvalidPayload {
                    kind: KeyRotation::KIND,
                    reason: format!(
                        "it replaces key {}, not the key {} that signed it",
                        rotation.old_keyid,
                        trusted.keyid()
                    ),
                });
            }
            Ok(Verified::Rotation(rotation))
        }
        other => Err(VerifyError::UnknownPayloadType {
            found: format!("{:?}", other.chars().take(100).collect::<String>()),
        }),
    }
}

impl Verified {
    pub fn kind(&self) -> &'static str {
        match self {
            Verified::License(_) => License::KIND,
            Verified::Release(_) => Release::KIND,
            Verified::Index(_) => ChannelIndex::KIND,
            Verified::Rotation(_) => KeyRotation::KIND,
        }
    }
}

/// The readable summary of a verified document. Never shows the registry password.
pub fn summary(verified: &Verified, trusted: &PublicKey) -> String {
    let mut out = format!(
        "Verified {}, signed by key {}\n",
        verified.kind(),
        trusted.keyid()
    );
    let mut row = |name: &str, value: &str| {
        let _ = writeln!(out, "  {name:<14}{value}");
    };
    match verified {
        Verified::License(license) => {
            row("license id", &license.license_id);
            row("customer", &license.customer);
            row("app", &license.app_id);
            row("channel", &license.channel);
            row("issued", &rfc3339(license.issued_at));
            row("expires", &rfc3339(license.expires_at));
            row(
                "airgap",
                if license.airgap {
                    "allowed"
                } else {
                    "not allowed"
                },
            );
            row(
                "max nodes",
                &license
                    .max_nodes
                    .map_or_else(|| "no limit".into(), |n| n.to_string()),
            );
            row("api host", license.api_host.as_deref().unwrap_or("none"));
            row(
                "registry user",
                &license.registry.as_ref().map_or_else(
                    || "none".into(),
                    |r| format!("{} (password set, not shown)", r.username),
                ),
            );
            if license.entitlements.is_empty() {
                row("entitlements", "none");
            }
            for (i, (name, value)) in license.entitlements.iter().enumerate() {
                row(
                    if i == 0 { "entitlements" } else { "" },
                    &format!("{name}={value}"),
                );
            }
            let vendor_key = PublicKey::from_base64(&license.vendor_key, "vendor_key")
                .map(|key| key.keyid())
                .unwrap_or_else(|_| "not a valid key".into());
            let note = if vendor_key == trusted.keyid() {
                ""
            } else {
                " (not the key that signed it)"
            };
            row("vendor key", &format!("{vendor_key}{note}"));
            if let Some(revoked) = &license.revoked {
                row(
                    "REVOKED",
                    &format!("{}: {}", rfc3339(revoked.at), revoked.reason),
                );
            }
        }
        Verified::Release(release) => {
            row("app", &release.app_id);
            row("channel", &release.channel);
            row("sequence", &release.sequence.to_string());
            row("version", &release.version);
            row("required", if release.required { "yes" } else { "no" });
            row("created", &rfc3339(release.created_at));
            if let Some(first) = release.notes.lines().next() {
                row("notes", first);
            }
            for (i, (path, content)) in release.files.iter().enumerate() {
                row(
                    if i == 0 { "files" } else { "" },
                    &format!("{path} ({} bytes)", content.len()),
                );
            }
            if release.images.is_empty() {
                row("images", "none");
            }
            for (i, image) in release.images.iter().enumerate() {
                row(
                    if i == 0 { "images" } else { "" },
                    &format!("{}@{} ({})", image.reference, image.digest, image.platform),
                );
            }
        }
        Verified::Index(index) => {
            row("app", &index.app_id);
            row("channel", &index.channel);
            row("version", &index.version.to_string());
            row("expires", &rfc3339(index.expires_at));
            if index.releases.is_empty() {
                row("releases", "none");
            }
            for (i, entry) in index.releases.iter().enumerate() {
                let required = if entry.required { " required" } else { "" };
                row(
                    if i == 0 { "releases" } else { "" },
                    &format!(
                        "{} {} {}{required}",
                        entry.sequence, entry.version, entry.digest
                    ),
                );
            }
            for (i, advisory) in index.advisories.iter().enumerate() {
                let affected: Vec<String> = advisory.affected.iter().map(u64::to_string).collect();
                let fixed = advisory
                    .fixed_in
                    .map_or_else(|| "not fixed yet".to_owned(), |s| format!("fixed in {s}"));
                row(
                    if i == 0 { "advisories" } else { "" },
                    &format!(
                        "{} {} affects {}, {fixed}: {}",
                        advisory.id,
                        advisory.severity.as_str(),
                        affected.join(","),
                        advisory.title
                    ),
                );
            }
        }
        Verified::Rotation(rotation) => {
            row("old key", &rotation.old_keyid);
            let new_key = PublicKey::from_base64(&rotation.new_key, "new_key")
                .map(|key| key.keyid())
                .unwrap_or_else(|_| "not a valid key".into());
            row("new key", &new_key);
            row("issued", &rfc3339(rotation.issued_at));
        }
    }
    out
}
