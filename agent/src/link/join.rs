//! Joining a console with a one-time token (docs/CLUSTER.md, "Joining"). The token pins the
//! console's CA: the agent checks the CA during the TLS handshake, before it sends a single
//! byte, so a secret given to the wrong server never leaves the node. Then it makes its
//! key and certificate request, redeems the token with `POST /v1/join`, and stores the
//! identity the console issues.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::console_url::ConsoleUrl;
use super::http::{error_details, post_json, printable, HttpError};
use super::identity::{self, pem_to_der, Identity, IdentityError};
use super::tls::{self, fingerprint, DialError, PinFailure};

/// The token's version prefix.
const PREFIX: &str = "OPT1";
/// How long TCP + TLS to the console may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A join token, `OPT1.<ca-hash>.<secret>`. Its `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    /// Hex SHA-256 of the cluster CA certificate (DER).
    ca_hash: String,
    secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an Outpost join token (expected OPT1.<64 hex digits>.<secret>)")]
pub struct TokenError;

impl JoinToken {
    pub fn parse(text: &str) -> Result<JoinToken, TokenError> {
        let mut parts = text.trim().split('.');
        let (Some(PREFIX), Some(ca_hash), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError);
        };
        let hash_ok = ca_hash.len() == 64
            && ca_hash
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        let secret_ok = (32..=128).contains(&secret.len())
            && secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !hash_ok || !secret_ok {
            return Err(TokenError);
        }
        Ok(JoinToken {
            ca_hash: ca_hash.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// The pinned CA hash (not secret).
    pub fn ca_hash(&self) -> &str {
        &self.ca_hash
    }

    /// The whole token, secret included: only for the join request itself.
    fn expose(&self) -> String {
        format!("{PREFIX}.{}.{}", self.ca_hash, self.secret)
    }
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("ca_hash", &self.ca_hash)
            .field("secret", &"********")
            .finish()
    }
}

/// What joining needs.
#[derive(Debug, Clone)]
pub struct JoinConfig {
    pub console: ConsoleUrl,
    pub token: JoinToken,
    /// The name the console shows for this node.
    pub hostname: String,
    pub data_dir: PathBuf,
}

/// The console's reasons (`403`) for refusing a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    TokenUnknown,
    TokenUsed,
    TokenExpired,
    WrongCluster,
    /// A code this agent does not know.
    Other(String),
}

impl Refusal {
    fn from_code(code: &str) -> Refusal {
        match code {
            "token_unknown" => Refusal::TokenUnknown,
            "token_used" => Refusal::TokenUsed,
            "token_expired" => Refusal::TokenExpired,
            "wrong_cluster" => Refusal::WrongCluster,
            other => Refusal::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NEW: &str = "make a new one with `outpostctl nodes join-token` on the console";
        match self {
            Refusal::TokenUnknown => write!(
                f,
                "the console does not know this join token (was it copied whole?); {NEW}"
            ),
            Refusal::TokenUsed => write!(f, "the join token was already used; {NEW}"),
            Refusal::TokenExpired => write!(f, "the join token has expired; {NEW}"),
            Refusal::WrongCluster => write!(
                f,
                "the join token was made by another console; {NEW} on the console you meant"
            ),
            Refusal::Other(code) => write!(f, "the console refused the join ({code})"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(
        "the console's CA does not match the token: the token pins {expected}, the console at \
         {console} presented {found}; the join secret was not sent"
    )]
    WrongCa {
        console: String,
        expected: String,
        found: String,
    },
    #[error(
        "the console at {console} presented the CA the token pins, but its certificate does \
         not verify against it ({reason}); the join secret was not sent"
    )]
    UntrustedConsole { console: String, reason: String },
    #[error("cannot reach the console at {console}: {reason}")]
    Unreachable { console: String, reason: String },
    #[error("{refusal}")]
    Refused { refusal: Refusal, message: String },
    #[error("the console refused the join request as malformed: {message}")]
    BadRequest { message: String },
    #[error("the console answered the join with HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the console's answer to the join is not usable: {0}")]
    BadAnswer(String),
    #[error("cannot make the node key: {0}")]
    Key(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// The body of `POST /v1/join`.
#[derive(Serialize)]
struct JoinRequest<'a> {
    token: &'a str,
    hostname: &'a str,
    csr_pem: &'a str,
}

/// The console's answer.
#[derive(Deserialize)]
struct JoinAnswer {
    node_id: String,
    cert_pem: String,
    ca_pem: String,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
}

/// Joins the console and stores the new identity in the data dir (replacing one that is
/// there only once the console has admitted the node).
pub async fn join(config: &JoinConfig) -> Result<Identity, JoinError> {
    identity::prepare_data_dir(&config.data_dir)?;
    let console = config.console.to_string();
    let (client_config, verifier) =
        tls::join_config(config.token.ca_hash()).map_err(|reason| JoinError::Unreachable {
            console: console.clone(),
            reason,
        })?;
    let dialled =
        tokio::time::timeout(CONNECT_TIMEOUT, tls::dial(&config.console, client_config)).await;
    let stream = match dialled {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            return Err(match (verifier.failure(), error) {
                (Some(PinFailure::NotPinned { found }), _) => JoinError::WrongCa {
                    console,
                    expected: config.token.ca_hash().to_owned(),
                    found,
                },
                (Some(PinFailure::Untrusted { reason }), _) => {
                    JoinError::UntrustedConsole { console, reason }
                }
                (None, DialError::Tcp(e) | DialError::Tls(e)) => JoinError::Unreachable {
                    console,
                    reason: e.to_string(),
                },
            })
        }
        Err(_) => {
            return Err(JoinError::Unreachable {
                console,
                reason: format!("no TLS connection within {} s", CONNECT_TIMEOUT.as_secs()),
            })
        }
    };

    // Only now, with the console proven to hold the pinned CA, does anything get sent.
    let (key_pem, csr_pem) = new_key_and_request(&config.hostname).map_err(JoinError::Key)?;
    let token = config.token.expose();
    let body = serde_json::to_vec(&JoinRequest {
        token: &token,
        hostname: &config.hostname,
        csr_pem: &csr_pem,
    })
    .map_err(|e| JoinError::Key(e.to_string()))?;
    let answer = post_json(stream, &config.console.authority(), "/v1/join", body)
        .await
        .map_err(|e: HttpError| JoinError::Unreachable {
            console: console.clone(),
            reason: e.to_string(),
        })?;
    match answer.status {
        200 => {}
        403 => {
            let (code, message) = error_details(&answer.body);
            return Err(JoinError::Refused {
                refusal: Refusal::from_code(&code),
                message,
            });
        }
        400 => {
            return Err(JoinError::BadRequest {
                message: error_details(&answer.body).1,
            })
        }
        status => {
            return Err(JoinError::Status {
                status,
                message: error_details(&answer.body).1,
            })
        }
    }
    let joined: JoinAnswer =
        serde_json::from_slice(&answer.body).map_err(|e| JoinError::BadAnswer(e.to_string()))?;
    let ca_der = pem_to_der(&joined.ca_pem).map_err(JoinError::BadAnswer)?;
    if fingerprint(&ca_der) != config.token.ca_hash() {
        return Err(JoinError::BadAnswer(
            "the CA in the answer is not the one the token pins".into(),
        ));
    }
    let identity = Identity::new(
        &joined.node_id,
        config.console.clone(),
        key_pem,
        joined.cert_pem,
        joined.ca_pem,
    )
    .map_err(|e| JoinError::BadAnswer(e.to_string()))?;
    if identity::is_joined(&config.data_dir) {
        tracing::warn!(
            data_dir = %config.data_dir.display(),
            "replacing the identity stored in the data dir with the new one"
        );
    }
    identity.save(&config.data_dir)?;
    tracing::info!(
        node_id = identity.node_id(),
        console = %config.console,
        labels = ?joined.labels,
        "joined"
    );
    Ok(identity)
}

/// A new ECDSA P-256 key (PEM, PKCS#8) and a certificate request for it (PEM). The
/// console takes only the public key from the request; the name is informative.
pub(crate) fn new_key_and_request(hostname: &str) -> Result<(String, String), String> {
    let key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::default();
    let mut name = rcgen::DistinguishedName::new();
    let common_name: String = printable(hostname).chars().take(64).collect();
    if !common_name.is_empty() {
        name.push(rcgen::DnType::CommonName, common_name);
    }
    params.distinguished_name = name;
    let csr = params
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .map_err(|e| e.to_string())?;
    Ok((key.serialize_pem(), csr))
}

/// This host's name, as the kernel knows it.
pub fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I";

    #[test]
    fn tokens_parse_and_hide_their_secret() {
        let hash = "0123456789abcdef".repeat(4);
        let token = JoinToken::parse(&format!(" OPT1.{hash}.{SECRET}\n")).unwrap();
        assert_eq!(token.ca_hash(), hash);
        assert_eq!(token.expose(), format!("OPT1.{hash}.{SECRET}"));
        assert!(!format!("{token:?}").contains(SECRET));
        assert!(!format!(
            "{config:?}",
            config = JoinConfig {
                console: ConsoleUrl::parse("https://c:1").unwrap(),
                token: token.clone(),
                hostname: "h".into(),
                data_dir: "/d".into(),
            }
        )
        .contains(SECRET));
    }

    #[test]
    fn malformed_tokens_are_refused_without_echoing_them() {
        let hash = "a".repeat(64);
        for bad in [
            String::new(),
            "OPT1".into(),
            format!("OPT2.{hash}.{SECRET}"),
            format!("OPT1.{}.{SECRET}", "A".repeat(64)),
            format!("OPT1.{}.{SECRET}", "g".repeat(64)),
            format!("OPT1.{}.{SECRET}", "a".repeat(63)),
            format!("OPT1.{hash}.short"),
            format!("OPT1.{hash}.{}", "x".repeat(129)),
            format!("OPT1.{hash}.{SECRET}.extra"),
            format!("OPT1.{hash}.{}", "x y".repeat(20)),
            format!("OPT1.{hash}.{}+/", &SECRET[..40]),
        ] {
            let error = JoinToken::parse(&bad).unwrap_err();
            assert!(!error.to_string().contains(SECRET));
        }
        assert!(JoinToken::parse(&format!("OPT1.{hash}.{}", "x".repeat(32))).is_ok());
        assert!(JoinToken::parse(&format!("OPT1.{hash}.{}", "x".repeat(128))).is_ok());
    }

    #[test]
    fn refusal_codes_read_as_advice() {
        for (code, words) in [
            ("token_used", "already used"),
            ("token_expired", "expired"),
            ("token_unknown", "does not know"),
            ("wrong_cluster", "another console"),
            ("brand_new", "brand_new"),
        ] {
            let text = Refusal::from_code(code).to_string();
            assert!(text.contains(words), "{code}: {text}");
        }
    }

    #[test]
    fn the_request_carries_a_p256_key() {
        let (key_pem, csr_pem) = new_key_and_request("web-1\n").unwrap();
        let key = rcgen::KeyPair::from_pem(&key_pem).unwrap();
        assert_eq!(key.algorithm(), &rcgen::PKCS_ECDSA_P256_SHA256);
        use rcgen::PublicKeyData;
        let request = rcgen::CertificateSigningRequestParams::from_pem(&csr_pem).unwrap();
        assert_eq!(request.public_key.der_bytes(), key.public_key_raw());
    }
}
