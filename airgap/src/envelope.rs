//! DSSE envelopes signed with ed25519: `{"payloadType", "payload": base64, "signatures":
//! [{"keyid", "sig"}]}`, the signature taken over the DSSE pre-authentication encoding
//! (PAE) of type and payload, so a signature for one payload type never verifies another.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::keys::{PublicKey, SigningKey};

/// At most this many signatures are looked at; more is malformed.
pub const MAX_SIGNATURES: usize = 8;

/// Why a signed document was refused. Each variant has its own CLI exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the {kind} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        kind: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("malformed envelope: {0}")]
    Malformed(String),
    #[error("malformed base64 in the envelope's {field}")]
    MalformedBase64 { field: &'static str },
    #[error("wrong payload type: expected {expected}, found {found}")]
    WrongPayloadType { expected: String, found: String },
    #[error("unknown payload type {found}: not an Outpost document")]
    UnknownPayloadType { found: String },
    #[error("signed by an unknown key (key ids {}), not by the trusted key {trusted}", .found.join(", "))]
    UnknownKey { trusted: String, found: Vec<String> },
    #[error("bad signature: the signature by key {keyid} does not match the content (tampered or corrupted)")]
    BadSignature { keyid: String },
    #[error("duplicate signature by key {keyid}")]
    DuplicateSignature { keyid: String },
    #[error("the {kind} expired at {at}")]
    Expired { kind: &'static str, at: String },
    #[error("invalid {kind}: {reason}")]
    InvalidPayload { kind: &'static str, reason: String },
}

impl VerifyError {
    /// The distinct exit code `outpost-airgap verify` uses for this reason.
    pub fn exit_code(&self) -> u8 {
        match self {
            VerifyError::TooLarge { .. } => 10,
            VerifyError::Malformed(_) => 11,
            VerifyError::MalformedBase64 { .. } => 12,
            VerifyError::WrongPayloadType { .. } => 13,
            VerifyError::UnknownPayloadType { .. } => 14,
            VerifyError::UnknownKey { .. } => 15,
            VerifyError::BadSignature { .. } => 16,
            VerifyError::DuplicateSignature { .. } => 17,
            VerifyError::Expired { .. } => 18,
            VerifyError::InvalidPayload { .. } => 19,
        }
    }
}

/// A DSSE envelope as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Standard base64 of the payload bytes.
    pub payload: String,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub keyid: String,
    /// Standard base64 of the 64-byte ed25519 signature.
    pub sig: String,
}

/// DSSE's pre-authentication encoding: `DSSEv1 <len(type)> <type> <len(body)> <body>`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {payload_type} {} ",
            payload_type.len(),
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Signs `payload` as `payload_type` with `key`.
    pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Envelope {
        let sig = key.sign(&pae(payload_type, payload));
        Envelope {
            payload_type: payload_type.to_owned(),
            payload: STANDARD.encode(payload),
            signatures: vec![Signature {
                keyid: key.public().keyid(),
                sig: STANDARD.encode(sig),
            }],
        }
    }

    /// Parses envelope bytes of at most `limit` bytes. Checks shape only, not signatures.
    pub fn parse(bytes: &[u8], kind: &'static str, limit: usize) -> Result<Envelope, VerifyError> {
        if bytes.len() > limit {
            return Err(VerifyError::TooLarge {
                kind,
                size: bytes.len(),
                limit,
            });
        }
        let envelope: Envelope =
            serde_json::from_slice(bytes).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if envelope.signatures.is_empty() {
            return Err(VerifyError::Malformed("no signatures".into()));
        }
        if envelope.signatures.len() > MAX_SIGNATURES {
            return Err(VerifyError::Malformed(format!(
                "{} signatures, more than {MAX_SIGNATURES}",
                envelope.signatures.len()
            )));
        }
        for (i, signature) in envelope.signatures.iter().enumerate() {
            if envelope.signatures[..i]
                .iter()
                .any(|earlier| earlier.keyid == signature.keyid)
            {
                return Err(VerifyError::DuplicateSignature {
                    keyid: signature.keyid.clone(),
                });
            }
        }
        Ok(envelope)
    }

    /// The payload bytes, undecoded trust-wise: only for showing what a document claims
    /// before its key is known (first license load). Never act on it unverified.
    pub fn payload_unverified(&self) -> Result<Vec<u8>, VerifyError> {
        STANDARD
            .decode(&self.payload)
            .map_err(|_| VerifyError::MalformedBase64 { field: "payload" })
    }

    /// Verifies the envelope is `expected_type`, signed by `trusted`; returns the payload.
    pub fn verify(&self, expected_type: &str, trusted: &PublicKey) -> Result<Vec<u8>, VerifyError> {
        if self.payload_type != expected_type {
            return Err(VerifyError::WrongPayloadType {
                expected: expected_type.to_owned(),
                found: self.payload_type.clone(),
            });
        }
        let payload = self.payload_unverified()?;
        let keyid = trusted.keyid();
        let Some(signature) = self.signatures.iter().find(|s| s.keyid == keyid) else {
            return Err(VerifyError::UnknownKey {
                trusted: keyid,
                found: self.signatures.iter().map(|s| s.keyid.clone()).collect(),
            });
        };
        let sig = STANDARD
            .decode(&signature.sig)
            .map_err(|_| VerifyError::MalformedBase64 { field: "signature" })?;
        if !trusted.verifies(&pae(&self.payload_type, &payload), &sig) {
            return Err(VerifyError::BadSignature { keyid });
        }
        Ok(payload)
    }

    /// The envelope as pretty JSON with a final newline (the file form).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("an envelope always serialises");
        bytes.push(b'\n');
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "application/vnd.outpost.test+json";

    #[test]
    fn pae_matches_the_dsse_specification() {
        assert_eq!(pae("a", b"xyz"), b"DSSEv1 1 a 3 xyz".to_vec());
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn a_signed_envelope_verifies_and_round_trips() {
        let key = SigningKey::generate();
        let envelope = Envelope::sign(TYPE, b"{\"a\":1}", &key);
        let parsed = Envelope::parse(&envelope.to_bytes(), "test", 1024).unwrap();
        assert_eq!(parsed.verify(TYPE, &key.public()).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn verification_names_each_failure() {
        let key = SigningKey::generate();
        let other = SigningKey::generate();
        let envelope = Envelope::sign(TYPE, b"payload", &key);

        assert!(matches!(
            envelope.verify("application/other", &key.public()),
            Err(VerifyError::WrongPayloadType { .. })
        ));
        assert!(matches!(
            envelope.verify(TYPE, &other.public()),
            Err(VerifyError::UnknownKey { .. })
        ));
        let mut tampered = envelope.clone();
        tampered.payload = STANDARD.encode(b"payloaf");
        assert!(matches!(
            tampered.verify(TYPE, &key.public()),
            Err(VerifyError::BadSignature { .. })
        ));
        let mut retyped = envelope.clone();
        retyped.payload_type = "application/vnd.outpost.other+json".into();
        assert!(matches!(
            retyped.verify("application/vnd.outpost.other+json", &key.public()),
            Err(VerifyError::BadSignature { .. })
        ));
        let mut bad_base64 = envelope.clone();
        bad_base64.payload = "not base64!".into();
        assert!(matches!(
            bad_base64.verify(TYPE, &key.public()),
            Err(VerifyError::MalformedBase64 { field: "payload" })
        ));
        let mut doubled = envelope.clone();
        doubled.signatures.push(doubled.signatures[0].clone());
        assert!(matches!(
            Envelope::parse(&doubled.to_bytes(), "test", 4096),
            Err(VerifyError::DuplicateSignature { .. })
        ));
        assert!(matches!(
            Envelope::parse(&envelope.to_bytes(), "test", 10),
            Err(VerifyError::TooLarge { .. })
        ));
        assert!(matches!(
            Envelope::parse(b"{\"payloadType\":1}", "test", 4096),
            Err(VerifyError::Malformed(_))
        ));
    }
}
