//! Certificate renewal: at half its life the agent makes a new key and asks the console,
//! over mutual TLS with the current certificate, to certify it (`POST /v1/renew`). The
//! console revokes the old certificate once it has issued the new one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::http::{error_details, post_json};
use super::identity::Identity;
use super::join::new_key_and_request;
use super::tls::{self, refused_by_alert, DialError};

/// How long TCP + TLS may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    /// The console does not accept this node's certificate any more.
    #[error("the console refused the node's certificate: {0}")]
    Refused(String),
    /// Anything else; worth another try later.
    #[error("renewing the certificate failed: {0}")]
    Failed(String),
}

#[derive(Serialize)]
struct RenewRequest<'a> {
    csr_pem: &'a str,
}

#[derive(Deserialize)]
struct RenewAnswer {
    cert_pem: String,
}

/// Asks the console for a certificate for a new key; returns the renewed identity (not
/// yet stored).
pub async fn renew(identity: &Identity) -> Result<Identity, RenewError> {
    let config = tls::identity_config(identity).map_err(RenewError::Failed)?;
    let stream =
        match tokio::time::timeout(CONNECT_TIMEOUT, tls::dial(identity.console(), config)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(DialError::Tls(e))) if refused_by_alert(&e) => {
                return Err(RenewError::Refused(e.to_string()))
            }
            Ok(Err(e)) => return Err(RenewError::Failed(e.to_string())),
            Err(_) => return Err(RenewError::Failed("connecting timed out".into())),
        };
    let (key_pem, csr_pem) = new_key_and_request(identity.node_id()).map_err(RenewError::Failed)?;
    let body = serde_json::to_vec(&RenewRequest { csr_pem: &csr_pem })
        .map_err(|e| RenewError::Failed(e.to_string()))?;
    let answer = post_json(stream, &identity.console().authority(), "/v1/renew", body)
        .await
        .map_err(|e| match e.io_error() {
            Some(io) if refused_by_alert(io) => RenewError::Refused(io.to_string()),
            _ => RenewError::Failed(e.to_string()),
        })?;
    match answer.status {
        200 => {}
        status @ (401 | 403) => {
            let (code, message) = error_details(&answer.body);
            return Err(RenewError::Refused(format!(
                "HTTP {status} {code}: {message}"
            )));
        }
        status => {
            let (code, message) = error_details(&answer.body);
            return Err(RenewError::Failed(format!(
                "HTTP {status} {code}: {message}"
            )));
        }
    }
    let renewed: RenewAnswer = serde_json::from_slice(&answer.body)
        .map_err(|e| RenewError::Failed(format!("the console's answer is not usable: {e}")))?;
    identity
        .with_credentials(key_pem, renewed.cert_pem)
        .map_err(|e| RenewError::Failed(format!("the console's answer is not usable: {e}")))
}
