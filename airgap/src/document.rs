//! Typed signed documents: each payload type has its name, its size limit and its own
//! checks. `seal` signs one; `open` verifies and parses one against a trusted key, and
//! is the only way a document enters the console or the vendor tool.

use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;

use crate::envelope::{Envelope, VerifyError};
use crate::keys::{PublicKey, SigningKey};

/// The schema version every payload carries today.
pub const SCHEMA: u32 = 1;

/// A payload that travels signed.
pub trait Document: Serialize + DeserializeOwned {
    /// The DSSE payload type.
    const PAYLOAD_TYPE: &'static str;
    /// A word for messages ("license").
    const KIND: &'static str;
    /// The largest envelope accepted for this document, in bytes.
    const MAX_ENVELOPE_BYTES: usize;

    /// Checks beyond the signature: schema, shape, and expiry against `now`.
    fn check(&self, now: OffsetDateTime) -> Result<(), VerifyError>;
}

/// Signs a document; returns the envelope.
pub fn seal<D: Document>(document: &D, key: &SigningKey) -> Envelope {
    let payload = serde_json::to_vec(document).expect("documents always serialise");
    Envelope::sign(D::PAYLOAD_TYPE, &payload, key)
}

/// Verifies `bytes` as a `D` signed by `trusted` and valid at `now`.
pub fn open<D: Document>(
    bytes: &[u8],
    trusted: &PublicKey,
    now: OffsetDateTime,
) -> Result<D, VerifyError> {
    let envelope = Envelope::parse(bytes, D::KIND, D::MAX_ENVELOPE_BYTES)?;
    open_envelope(&envelope, trusted, now)
}

/// As [`open`], for an envelope already parsed.
pub fn open_envelope<D: Document>(
    envelope: &Envelope,
    trusted: &PublicKey,
    now: OffsetDateTime,
) -> Result<D, VerifyError> {
    let payload = envelope.verify(D::PAYLOAD_TYPE, trusted)?;
    let document = parse_payload::<D>(&payload)?;
    document.check(now)?;
    Ok(document)
}

/// Parses payload bytes as `D`, without checking a signature. For tools that show what
/// an envelope claims; never for trusting it.
pub fn parse_payload<D: Document>(payload: &[u8]) -> Result<D, VerifyError> {
    serde_json::from_slice(payload).map_err(|e| VerifyError::InvalidPayload {
        kind: D::KIND,
        reason: e.to_string(),
    })
}

/// Shared checks: the schema number.
pub(crate) fn check_schema(kind: &'static str, schema: u32) -> Result<(), VerifyError> {
    if schema == SCHEMA {
        Ok(())
    } else {
        Err(VerifyError::InvalidPayload {
            kind,
            reason: format!("schema {schema} is not supported (this build reads schema {SCHEMA})"),
        })
    }
}

/// Shared checks: not expired at `now`.
pub(crate) fn check_expiry(
    kind: &'static str,
    expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), VerifyError> {
    if now >= expires_at {
        return Err(VerifyError::Expired {
            kind,
            at: expires_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        });
    }
    Ok(())
}

/// Shared checks: an identifier (app id, channel, license id) is short and plain.
pub(crate) fn check_identifier(
    kind: &'static str,
    field: &str,
    value: &str,
) -> Result<(), VerifyError> {
    // Identifiers become path components (vendor dir, data dir): never `.` or `..`, and
    // never hidden.
    let plain = !value.is_empty()
        && !value.starts_with('.')
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain {
        Ok(())
    } else {
        Err(VerifyError::InvalidPayload {
            kind,
            reason: format!(
                "{field} {value:?} must be 1-128 letters, digits, '-', '_' or '.', not starting with '.'"
            ),
        })
    }
}
