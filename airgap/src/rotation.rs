//! Key rotation: a new vendor key is accepted only in a document signed by the pinned key.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::document::{check_schema, Document};
use crate::envelope::VerifyError;
use crate::keys::PublicKey;

pub const PAYLOAD_TYPE: &str = "application/vnd.outpost.key-rotation.v1+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    pub schema: u32,
    /// The key id of the key being replaced (the signer).
    pub old_keyid: String,
    /// Base64 of the new ed25519 public key.
    pub new_key: String,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
}

impl Document for KeyRotation {
    const PAYLOAD_TYPE: &'static str = PAYLOAD_TYPE;
    const KIND: &'static str = "key rotation";
    const MAX_ENVELOPE_BYTES: usize = 16 * 1024;

    fn check(&self, _now: OffsetDateTime) -> Result<(), VerifyError> {
        check_schema(Self::KIND, self.schema)?;
        PublicKey::from_base64(&self.new_key, "new_key").map_err(|e| {
            VerifyError::InvalidPayload {
                kind: Self::KIND,
                reason: e.to_string(),
            }
        })?;
        Ok(())
    }
}
