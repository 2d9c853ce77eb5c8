//! One small HTTP/1.1 request over a TLS stream the caller has already verified: the join
//! and renewal POSTs. Answers are bounded in size.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// The largest answer body read (certificates and a few fields).
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// How long one request may take, answer included.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer: status and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("the request failed: {0}")]
    Hyper(#[from] hyper::Error),
    #[error("the answer could not be read: {0}")]
    Body(String),
    #[error("no answer within {} s", REQUEST_TIMEOUT.as_secs())]
    Timeout,
}

impl HttpError {
    /// The I/O error underneath, if any (to recognise a TLS alert).
    pub(crate) fn io_error(&self) -> Option<&std::io::Error> {
        let HttpError::Hyper(error) = self else {
            return None;
        };
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(error) = source {
            if let Some(io) = error.downcast_ref::<std::io::Error>() {
                return Some(io);
            }
            source = error.source();
        }
        None
    }
}

/// `POST path` with a JSON body; `authority` is the `Host` header.
pub(crate) async fn post_json<S>(
    stream: S,
    authority: &str,
    path: &str,
    body: Vec<u8>,
) -> Result<Answer, HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::time::timeout(REQUEST_TIMEOUT, async {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let connection = tokio::spawn(connection);
        let request = hyper::Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::ACCEPT, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("outpost-agent/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| HttpError::Body(e.to_string()))?;
        let response = sender.send_request(request).await;
        let result = match response {
            Ok(response) => {
                let status = response.status().as_u16();
                Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                    .collect()
                    .await
                    .map(|collected| Answer {
                        status,
                        body: collected.to_bytes(),
                    })
                    .map_err(|e| HttpError::Body(e.to_string()))
            }
            Err(error) => Err(HttpError::Hyper(error)),
        };
        connection.abort();
        result
    })
    .await
    .map_err(|_| HttpError::Timeout)?
}

/// The console's error body, `{"error": {"code", "message"}}`, as (code, message); a body of
/// another shape gives its first printable characters as the message.
pub(crate) fn error_details(body: &[u8]) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct Envelope {
        error: Details,
    }
    #[derive(serde::Deserialize)]
    struct Details {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Envelope>(body) {
        Ok(Envelope { error }) => (printable(&error.code), printable(&error.message)),
        Err(_) => (String::new(), printable(&String::from_utf8_lossy(body))),
    }
}

/// At most 300 characters, with control characters replaced, so a hostile answer cannot
/// forge log lines.
pub(crate) fn printable(text: &str) -> String {
    text.trim()
        .chars()
        .take(300)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_details(br#"{"error":{"code":"token_used","message":"already used"}}"#),
            ("token_used".into(), "already used".into())
        );
        assert_eq!(
            error_details(b"plain\ntext"),
            (String::new(), "plain text".into())
        );
        assert_eq!(error_details(&[b'x'; 1000]).1.len(), 300);
    }
}
