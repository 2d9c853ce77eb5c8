//! Vendor signing keys (ed25519). A key's id is the hex SHA-256 of its 32 public bytes;
//! that id is also the fingerprint an admin confirms when pinning the key.
//!
//! Files: the private key is `OUTPOST-ED25519-PRIVATE-KEY <base64 seed>` (mode 0600), the
//! public key `OUTPOST-ED25519-PUBLIC-KEY <base64>`; one line each, so they are easy to
//! paste and hard to confuse.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

const PRIVATE_TAG: &str = "OUTPOST-ED25519-PRIVATE-KEY";
const PUBLIC_TAG: &str = "OUTPOST-ED25519-PUBLIC-KEY";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{what} is not an Outpost {kind} key (expected a line starting with {tag})")]
    Format {
        what: String,
        kind: &'static str,
        tag: &'static str,
    },
    #[error("{what}: the key bytes are not a valid ed25519 {kind} key")]
    Invalid { what: String, kind: &'static str },
}

/// A vendor's private signing key.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public().keyid())
    }
}

/// A vendor's public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.keyid())
    }
}

impl SigningKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> SigningKey {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.0.sign(message).to_bytes()
    }

    /// The one-line file text.
    pub fn to_text(&self) -> String {
        format!("{PRIVATE_TAG} {}\n", STANDARD.encode(self.0.to_bytes()))
    }

    pub fn from_text(text: &str, what: &str) -> Result<SigningKey, KeyError> {
        let bytes = tagged(text, PRIVATE_TAG, "private", what)?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Invalid {
            what: what.to_owned(),
            kind: "private",
        })?;
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    pub fn read(path: &Path) -> Result<SigningKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        SigningKey::from_text(&text, &path.display().to_string())
    }

    /// Writes the key with mode 0600, refusing to overwrite an existing file.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let error = |source| KeyError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(error)?;
        file.write_all(self.to_text().as_bytes()).map_err(error)
    }
}

impl PublicKey {
    /// Hex SHA-256 of the 32 public key bytes: the DSSE keyid and the pinning fingerprint.
    pub fn keyid(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }

    pub fn from_base64(text: &str, what: &str) -> Result<PublicKey, KeyError> {
        let invalid = || KeyError::Invalid {
            what: what.to_owned(),
            kind: "public",
        };
        let bytes = STANDARD.decode(text.trim()).map_err(|_| invalid())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| invalid())?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| invalid())
    }

    /// Whether `signature` is this key's signature of `message` (strict verification).
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        self.0.verify_strict(message, &signature).is_ok()
    }

    pub fn to_text(&self) -> String {
        format!("{PUBLIC_TAG} {}\n", self.to_base64())
    }

    pub fn from_text(text: &str, what: &str) -> Result<PublicKey, KeyError> {
        let bytes = tagged(text, PUBLIC_TAG, "public", what)?;
        PublicKey::from_base64(&STANDARD.encode(bytes), what)
    }

    pub fn read(path: &Path) -> Result<PublicKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        PublicKey::from_text(&text, &path.display().to_string())
    }
}

/// Whether `value` has the form of a key id: exactly 64 lowercase hex digits. Such a
/// value is safe as a file name and a URL path segment.
pub fn is_keyid(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn tagged(
    text: &str,
    tag: &'static str,
    kind: &'static str,
    what: &str,
) -> Result<Vec<u8>, KeyError> {
    let format = || KeyError::Format {
        what: what.to_owned(),
        kind,
        tag,
    };
    let rest = text.trim().strip_prefix(tag).ok_or_else(format)?;
    if !rest.starts_with(' ') {
        return Err(format());
    }
    STANDARD.decode(rest.trim()).map_err(|_| KeyError::Invalid {
        what: what.to_owned(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_their_text_forms() {
        let key = SigningKey::generate();
        let again = SigningKey::from_text(&key.to_text(), "test").unwrap();
        assert_eq!(again.public(), key.public());
        let public = PublicKey::from_text(&key.public().to_text(), "test").unwrap();
        assert_eq!(public, key.public());
        assert_eq!(public.keyid().len(), 64);
    }

    #[test]
    fn key_ids_are_64_lowercase_hex_digits() {
        assert!(is_keyid(&SigningKey::generate().public().keyid()));
        assert!(is_keyid(&"0a".repeat(32)));
        for bad in [
            String::new(),
            "0a".repeat(31),
            "0a".repeat(33),
            "0A".repeat(32),
            format!("{}g", "0".repeat(63)),
            format!("../{}", "0".repeat(61)),
        ] {
            assert!(!is_keyid(&bad), "{bad:?}");
        }
    }

    #[test]
    fn a_private_key_is_not_taken_for_a_public_one() {
        let key = SigningKey::generate();
        assert!(matches!(
            PublicKey::from_text(&key.to_text(), "k"),
            Err(KeyError::Format { .. })
        ));
        assert!(matches!(
            SigningKey::from_text(&key.public().to_text(), "k"),
            Err(KeyError::Format { .. })
        ));
    }

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let key = SigningKey::generate();
        let other = SigningKey::generate();
        let sig = key.sign(b"message");
        assert!(key.public().verifies(b"message", &sig));
        assert!(!key.public().verifies(b"messagf", &sig));
        assert!(!other.public().verifies(b"message", &sig));
        assert!(!key.public().verifies(b"message", &sig[..63]));
    }
}
