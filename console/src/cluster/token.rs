//! Join tokens: `OPT1.<ca-hash>.<secret>`. The CA hash lets a new agent check it reached
//! the right console before it sends anything; the secret (256 bits, stored hashed, one
//! use, expiring) lets the console admit the agent.

use std::fmt;

/// The token's version prefix.
const PREFIX: &str = "OPT1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not an Outpost join token (expected OPT1.<ca-hash>.<secret>)")]
    Malformed,
}

/// A parsed join token.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    /// Hex SHA-256 of the cluster CA certificate (DER).
    pub ca_hash: String,
    pub secret: String,
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("ca_hash", &self.ca_hash)
            .field("secret", &"********")
            .finish()
    }
}

impl fmt::Display for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}.{}.{}", self.ca_hash, self.secret)
    }
}

impl JoinToken {
    pub fn parse(text: &str) -> Result<JoinToken, TokenError> {
        let mut parts = text.trim().split('.');
        let (Some(PREFIX), Some(ca_hash), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let hash_ok = ca_hash.len() == 64
            && ca_hash
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
        let secret_ok = (32..=128).contains(&secret.len())
            && secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !hash_ok || !secret_ok {
            return Err(TokenError::Malformed);
        }
        Ok(JoinToken {
            ca_hash: ca_hash.to_owned(),
            secret: secret.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_malformed_ones_are_refused() {
        let token = JoinToken {
            ca_hash: "a".repeat(64),
            secret: crate::auth::random_token(),
        };
        assert_eq!(JoinToken::parse(&token.to_string()), Ok(token.clone()));
        assert!(!format!("{token:?}").contains(&token.secret));
        for bad in [
            "",
            "OPT1",
            "OPT2.aaaa.bbbb",
            &format!("OPT1.{}.{}", "A".repeat(64), token.secret),
            &format!("OPT1.{}.{}", "a".repeat(63), token.secret),
            &format!("OPT1.{}.short", "a".repeat(64)),
            &format!("OPT1.{}.{}.extra", "a".repeat(64), token.secret),
            &format!("OPT1.{}.{}", "a".repeat(64), "x y".repeat(20)),
        ] {
            assert_eq!(JoinToken::parse(bad), Err(TokenError::Malformed), "{bad:?}");
        }
    }
}
