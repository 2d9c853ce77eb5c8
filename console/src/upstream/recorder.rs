//! The recorder: the console's one HTTP client for requests that leave the install, and
//! the only way to send one. [`Recorder::send`] writes the outbound log entry (secrets
//! masked) before the request goes out — if the entry cannot be written, nothing is sent —
//! and completes it with the status or error, the bytes each way and the duration.
//!
//! The `reqwest::Client` is a private field here and nothing else in the console builds
//! one, so a request cannot be sent without being logged.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use reqwest::{Method, Url};
use serde_json::{Map, Value};

use super::mask;
use super::proxy::ProxyConfig;
use crate::clock;
use crate::store::{OutboundEntry, OutboundOutcome, Store, StoreError};

/// How long a TCP connection (and TLS handshake) to an upstream host may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest an upstream host may stay silent in the middle of an answer.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest extra CA file accepted.
const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;
const SECONDS_PER_DAY: i64 = 86_400;

/// How the recorder connects and how long it keeps its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderConfig {
    /// A PEM file of CA certificates trusted for upstream hosts, besides the system's.
    pub extra_ca: Option<PathBuf>,
    /// Log entries older than this many days are deleted.
    pub retention_days: u32,
    /// The proxy from the console's environment, used while no console setting names one.
    pub environment_proxy: Option<ProxyConfig>,
}

/// Why the recorder could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("api_host_ca {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("cannot set up the HTTPS client for the api host: {0}")]
    Client(String),
}

/// One request, exactly as it will be sent.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub method: Method,
    pub url: Url,
    /// Why it is sent, in a few words, for the log (`channel index`, `release 3`).
    pub purpose: String,
    /// Every header the request carries besides `Host` (which HTTP takes from the URL).
    pub headers: Vec<(&'static str, String)>,
    /// A JSON body, sent with `Content-Type: application/json`; logged with secrets masked.
    pub body: Option<Map<String, Value>>,
    /// The whole exchange must end within this.
    pub timeout: Duration,
    /// A longer answer is cut off and refused.
    pub max_response_bytes: usize,
}

/// The answer to a request: any status (the caller decides what it means), the headers
/// and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a request got no complete answer. The URL is the logged (masked) one.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    #[error("airgap mode is on ({0}): the console opens no connection outside the install")]
    Airgap(String),
    #[error("the outbound log could not be written, so nothing was sent: {0}")]
    Log(String),
    /// `proxy`: the proxy (password masked) the request went through, which may be what
    /// could not be reached.
    #[error("cannot reach {url}{}: {reason}", through(.proxy))]
    Connect {
        url: String,
        proxy: Option<String>,
        reason: String,
    },
    #[error("the TLS connection to {url} failed: {reason}")]
    Tls { url: String, reason: String },
    #[error("{url} did not answer within {} s", .after.as_secs())]
    Timeout { url: String, after: Duration },
    #[error("the answer from {url} is larger than {limit} bytes; it was refused")]
    TooLarge { url: String, limit: usize },
    #[error("the exchange with {url} failed: {reason}")]
    Transfer { url: String, reason: String },
    #[error("{url} is not https://; plain HTTP goes to loopback addresses only")]
    NotHttps { url: String },
}

/// The outbound client and its log.
pub struct Recorder {
    store: Arc<Store>,
    /// Rebuilt when the proxy changes; a request uses the client it started with.
    client: RwLock<Arc<Client>>,
    extra_ca: Vec<reqwest::Certificate>,
    environment_proxy: Option<ProxyConfig>,
    retention_days: u32,
}

/// A client and the proxy it sends through.
struct Client {
    http: reqwest::Client,
    proxy: Option<ProxyConfig>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("retention_days", &self.retention_days)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Builds the client: HTTPS only (plain HTTP to loopback addresses), the system's CA roots plus `extra_ca`, bounded
    /// connect and read timeouts, no redirects (each request is exactly one logged
    /// exchange), through the environment's proxy until [`Recorder::use_proxy`] sets one.
    pub fn new(store: Arc<Store>, config: &RecorderConfig) -> Result<Recorder, SetupError> {
        let extra_ca = match &config.extra_ca {
            Some(path) => read_ca_file(path)?,
            None => Vec::new(),
        };
        let client = build_client(&extra_ca, config.environment_proxy.clone())?;
        Ok(Recorder {
            store,
            client: RwLock::new(Arc::new(client)),
            extra_ca,
            environment_proxy: config.environment_proxy.clone(),
            retention_days: config.retention_days,
        })
    }

    /// Sends through `setting` from now on, or through the environment's proxy (if any)
    /// when `None`. Requests under way finish as they started.
    pub fn use_proxy(&self, setting: Option<ProxyConfig>) -> Result<(), SetupError> {
        let proxy = setting.or_else(|| self.environment_proxy.clone());
        let client = build_client(&self.extra_ca, proxy)?;
        *self.client.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(client);
        Ok(())
    }

    /// The proxy requests go through now (before `NO_PROXY`), if any.
    pub fn proxy(&self) -> Option<ProxyConfig> {
        self.current().proxy.clone()
    }

    /// The proxy from the console's environment, if any.
    pub fn environment_proxy(&self) -> Option<&ProxyConfig> {
        self.environment_proxy.as_ref()
    }

    fn current(&self) -> Arc<Client> {
        self.client
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Deletes log entries past retention (at start; every send does it too).
    pub fn prune(&self, now: i64) -> Result<usize, StoreError> {
        self.store.prune_outbound(self.cutoff(now))
    }

    /// Logs `request`, sends it, and completes the log entry with the outcome.
    pub async fn send(&self, request: Outbound) -> Result<Answer, SendError> {
        let Outbound {
            method,
            url,
            purpose,
            mut headers,
            body,
            timeout,
            max_response_bytes,
        } = request;
        let body = body.map(|fields| {
            let bytes = serde_json::to_vec(&Value::Object(fields.clone()))
                .expect("a JSON map always serialises");
            (fields, bytes)
        });
        // What the log shows is what goes out: the headers set here, and the length
        // HTTP adds to a body.
        let mut logged = headers.clone();
        if let Some((_, bytes)) = &body {
            headers.push(("Content-Type", "application/json".to_owned()));
            logged.push(("Content-Type", "application/json".to_owned()));
            logged.push(("Content-Length", bytes.len().to_string()));
        }
        let shown_url = mask::url(&url);
        // Plain HTTP only where Docker itself allows it: loopback registries.
        let loopback = url
            .host_str()
            .and_then(|h| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
            .is_some_and(|ip| ip.is_loopback());
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(SendError::NotHttps { url: shown_url });
        }
        let client = self.current();
        let via_proxy = client
            .proxy
            .as_ref()
            .and_then(|proxy| proxy.for_url(&url).map(|_| proxy.shown()));
        let at = clock::unix_now();
        let entry = OutboundEntry {
            at,
            method: method.to_string(),
            url: shown_url.clone(),
            purpose,
            request_headers: mask::headers(logged.iter().map(|(n, v)| (*n, v.as_str())))
                .to_string(),
            request_fields: mask::fields(body.as_ref().map(|(f, _)| f).unwrap_or(&Map::new()))
                .to_string(),
            bytes_sent: request_size(&method, &url, &logged, body.as_ref().map(|(_, b)| b)),
            via_proxy: via_proxy.clone(),
        };
        let store = self.store.clone();
        let cutoff = self.cutoff(at);
        // Airgap mode is read from the store at every send, so it holds the moment it is
        // set (or a license implies it), with nothing to keep in step.
        let id = tokio::task::spawn_blocking(move || {
            if let Some(why) =
                super::airgap_mode(&store).map_err(|e| SendError::Log(e.to_string()))?
            {
                return Err(SendError::Airgap(why));
            }
            store
                .begin_outbound(&entry, cutoff)
                .map_err(|e| SendError::Log(e.to_string()))
        })
        .await
        .map_err(|e| SendError::Log(e.to_string()))??;

        let started = Instant::now();
        let mut builder = client.http.request(method, url).timeout(timeout);
        for (name, value) in &headers {
            builder = builder.header(*name, value);
        }
        if let Some((_, bytes)) = body {
            builder = builder.body(bytes);
        }
        let exchange = exchange(
            builder,
            &shown_url,
            via_proxy.as_deref(),
            timeout,
            max_response_bytes,
        )
        .await;

        let outcome = OutboundOutcome {
            status: exchange.status,
            error: exchange.result.as_ref().err().map(ToString::to_string),
            bytes_received: exchange.received,
            duration_ms: started.elapsed().as_millis() as u64,
        };
        let store = self.store.clone();
        let finished = tokio::task::spawn_blocking(move || store.finish_outbound(id, &outcome))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        if let Err(e) = finished {
            tracing::warn!(id, error = %e, "cannot complete an outbound log entry");
        }
        let body = exchange.result?;
        Ok(Answer {
            status: exchange.status.unwrap_or_default(),
            headers: exchange.headers,
            body,
        })
    }

    fn cutoff(&self, now: i64) -> i64 {
        now - i64::from(self.retention_days) * SECONDS_PER_DAY
    }
}

/// The HTTPS client of [`Recorder::new`], through `proxy` (and its `NO_PROXY`) if any.
fn build_client(
    extra_ca: &[reqwest::Certificate],
    proxy: Option<ProxyConfig>,
) -> Result<Client, SetupError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_webpki_certs(false)
        .tls_built_in_native_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        // Only the proxy decided here: never one reqwest finds by itself.
        .no_proxy();
    for certificate in extra_ca {
        builder = builder.add_root_certificate(certificate.clone());
    }
    if let Some(config) = &proxy {
        let config = config.clone();
        builder = builder.proxy(reqwest::Proxy::custom(move |url| {
            config.for_url(url).cloned()
        }));
    }
    let http = builder
        .build()
        .map_err(|e| SetupError::Client(error_chain(&e)))?;
    Ok(Client { http, proxy })
}

/// What came back: the status if an answer started, the bytes received, and the body or
/// why there is none.
struct Exchange {
    status: Option<u16>,
    headers: Vec<(String, String)>,
    received: u64,
    result: Result<Vec<u8>, SendError>,
}

async fn exchange(
    builder: reqwest::RequestBuilder,
    url: &str,
    proxy: Option<&str>,
    timeout: Duration,
    limit: usize,
) -> Exchange {
    let mut response = match builder.send().await {
        Ok(response) => response,
        Err(e) => {
            return Exchange {
                status: None,
                headers: Vec::new(),
                received: 0,
                result: Err(classify(url, proxy, timeout, &e)),
            }
        }
    };
    let status = response.status();
    let mut received = head_size(&response) as u64;
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let too_large = || SendError::TooLarge {
        url: url.to_owned(),
        limit,
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Exchange {
            status: Some(status.as_u16()),
            headers,
            received,
            result: Err(too_large()),
        };
    }
    let mut body = Vec::new();
    let result = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                received += chunk.len() as u64;
                if body.len() + chunk.len() > limit {
                    break Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break Ok(body),
            Err(e) => break Err(classify(url, proxy, timeout, &e)),
        }
    };
    Exchange {
        status: Some(status.as_u16()),
        headers,
        received,
        result,
    }
}

fn classify(
    url: &str,
    proxy: Option<&str>,
    timeout: Duration,
    error: &reqwest::Error,
) -> SendError {
    let url = url.to_owned();
    if error.is_timeout() {
        return SendError::Timeout {
            url,
            after: timeout,
        };
    }
    if let Some(reason) = tls_cause(error) {
        return SendError::Tls { url, reason };
    }
    let reason = root_cause(error);
    if error.is_connect() {
        SendError::Connect {
            url,
            proxy: proxy.map(str::to_owned),
            reason,
        }
    } else {
        SendError::Transfer { url, reason }
    }
}

/// ` through the proxy URL` when a request went through one, else nothing.
fn through(proxy: &Option<String>) -> String {
    proxy
        .as_ref()
        .map(|p| format!(" through the proxy {p}"))
        .unwrap_or_default()
}

/// The rustls error somewhere in the chain, if the failure was TLS.
fn tls_cause(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // An io::Error's `source` skips the error it wraps (often another io::Error
        // around the TLS error), so look inside it.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if let Some(found) = tls_cause(inner) {
                return Some(found);
            }
        }
        current = e.source();
    }
    None
}

/// The innermost cause's message (e.g. `Connection refused (os error 111)`).
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut current = error.source();
    while let Some(e) = current {
        parts.push(e.to_string());
        current = e.source();
    }
    parts.join(": ")
}

/// The request's size as HTTP/1.1 puts it on the wire (request line, `Host`, the headers,
/// the blank line and the body), without TLS framing.
fn request_size(
    method: &Method,
    url: &Url,
    headers: &[(&'static str, String)],
    body: Option<&Vec<u8>>,
) -> u64 {
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut size =
        format!("{method} {target} HTTP/1.1\r\n").len() + format!("host: {host}\r\n").len();
    for (name, value) in headers {
        size += name.len() + 2 + value.len() + 2;
    }
    size += 2 + body.map_or(0, Vec::len);
    size as u64
}

/// The answer's status line and headers, as HTTP/1.1 puts them on the wire.
fn head_size(response: &reqwest::Response) -> usize {
    let status = response.status();
    let mut size = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    )
    .len();
    for (name, value) in response.headers() {
        size += name.as_str().len() + 2 + value.len() + 2;
    }
    size + 2
}

/// The certificates of a PEM CA file (bounded; at least one).
fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, SetupError> {
    use std::io::Read;
    let bad = |reason: String| SetupError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot open it: {e}")))?;
    let mut pem = Vec::new();
    file.take(MAX_CA_FILE_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(|e| bad(format!("cannot read it: {e}")))?;
    if pem.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(bad(format!(
            "larger than {MAX_CA_FILE_BYTES} bytes: not a CA file"
        )));
    }
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| bad(format!("not PEM certificates: {}", error_chain(&e))))?;
    if certificates.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(certificates)
}
