//! `outpost-airgap serve`: the reference api host. It serves a [vendor dir](crate::vendor)
//! over HTTPS (or plain HTTP for local development) to online consoles:
//!
//! - `GET /v1/license` → the latest signed license file of the caller's license;
//! - `GET /v1/channels/{channel}/index` → the signed index of that channel of the license's app;
//! - `GET /v1/releases/{app}/{sequence}` → a signed release file;
//! - `GET /v1/keys/{keyid}/rotation` → the signed key rotation from that vendor key (the
//!   key id: 64 lowercase hex digits), for any known license, expired or revoked too: a
//!   console that pinned the old key takes the new one over from it.
//!
//! The caller's credential is its license id: `Authorization: Bearer <license_id>`. Missing
//! or unknown: 401. A license for another app or channel: 403; so is an expired or revoked
//! license, except for `/v1/license` itself, which is how a console picks up a renewal or
//! learns of the revocation. Nothing
//! there: 404. Every error is JSON `{"error": {"code", "message"}}`.
//!
//! Files are served as they are stored: the console verifies every document against its
//! pinned key, so this host needs no key and is trusted for nothing but availability.
//! It reads the license's claims (app, channel, expiry) only to decide what to serve.
//!
//! Each request is logged on one line with the reporting headers the console sends
//! (`X-Outpost-Instance`, `X-Outpost-Console-Version`, `X-Outpost-App-Sequence`,
//! `X-Outpost-Node-Count`) and a short hash of the credential, never the credential.
//! This module is the only one in the crate that knows warp.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;
use warp::filters::BoxedFilter;
use warp::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::document::{parse_payload, Document};
use crate::envelope::Envelope;
use crate::keys::is_keyid;
use crate::license::License;
use crate::release::Release;
use crate::vendor::{is_safe_name, VendorDir, VendorError};

/// Connections served at once; past this, new ones are closed at accept.
pub const MAX_CONNECTIONS: usize = 256;
/// A client that has not finished the TLS handshake by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A client that has not sent its request headers by then is dropped (HTTP/1).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for open requests to finish.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head accepted (HTTP/1 buffer, HTTP/2 header list).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The reporting headers consoles send; each is logged, cut to this many characters.
pub const REPORTING_HEADERS: [&str; 4] = [
    "x-outpost-instance",
    "x-outpost-console-version",
    "x-outpost-app-sequence",
    "x-outpost-node-count",
];
const MAX_LOGGED_VALUE: usize = 64;

/// What to serve, where, and how.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub root: PathBuf,
    pub listen: SocketAddr,
    /// The certificate chain and private key (PEM); `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why the api host could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the vendor dir {path} cannot be used: {source}")]
    Root {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the vendor dir {0} is not a folder")]
    RootNotFolder(PathBuf),
    #[error("TLS: {path}: {reason}")]
    Tls { path: PathBuf, reason: String },
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
}

/// A bound api host, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    address: SocketAddr,
    filter: BoxedFilter<(Response,)>,
}

impl Server {
    /// Checks the vendor dir and the TLS files, then binds. Nothing is served yet.
    pub async fn bind(config: &ServeConfig) -> Result<Server, ServeError> {
        let metadata = std::fs::metadata(&config.root).map_err(|source| ServeError::Root {
            path: config.root.clone(),
            source,
        })?;
        if !metadata.is_dir() {
            return Err(ServeError::RootNotFolder(config.root.clone()));
        }
        let tls = match &config.tls {
            Some(files) => Some(TlsAcceptor::from(server_config(files)?)),
            None => None,
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    address: config.listen,
                    source,
                })?;
        let address = listener.local_addr().map_err(|source| ServeError::Bind {
            address: config.listen,
            source,
        })?;
        Ok(Server {
            listener,
            tls,
            address,
            filter: routes(Arc::new(VendorDir::new(&config.root))),
        })
    }

    /// The address really bound (the port is chosen when listening on port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `https://ADDR`, or `http://ADDR` without TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    /// Serves until `shutdown` resolves, then drains open connections (bounded).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Server {
            listener,
            tls,
            filter,
            ..
        } = self;
        let service = warp::service(filter);
        let graceful = GracefulShutdown::new();
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        tokio::pin!(shutdown);

        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tracing::warn!(%peer, "connection limit reached; closing new connection");
                continue;
            };
            let tls = tls.clone();
            let service = service.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let _slot = slot;
                match tls {
                    None => serve_connection(tcp, peer, service, watcher).await,
                    Some(acceptor) => {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => {
                                serve_connection(stream, peer, service, watcher).await
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed")
                            }
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        }
                    }
                }
            });
        }

        drop(listener);
        tokio::select! {
            () = graceful.shutdown() => tracing::debug!("all connections drained"),
            () = tokio::time::sleep(DRAIN_TIMEOUT) => {
                tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; closing them");
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
    }
}

/// The API over `vendor`, without any socket.
pub fn routes(vendor: Arc<VendorDir>) -> BoxedFilter<(Response,)> {
    let with_vendor = {
        let vendor = vendor.clone();
        warp::any().map(move || vendor.clone())
    };
    let licensee = with_vendor
        .clone()
        .and(warp::header::headers_cloned())
        .and_then(|vendor: Arc<VendorDir>, headers: HeaderMap| async move {
            authenticate(vendor, &headers)
                .await
                .map_err(warp::reject::custom)
        });

    let license = warp::path!("v1" / "license")
        .and(warp::get())
        .and(licensee.clone())
        .map(|licensee: Licensee| json_file(licensee.file));
    let index = warp::path!("v1" / "channels" / Name / "index")
        .and(warp::get())
        .and(licensee.clone())
        .and(with_vendor.clone())
        .and_then(|channel: Name, licensee, vendor| async move {
            channel_index(vendor, licensee, channel.0)
                .await
                .map_err(warp::reject::custom)
        });
    let release = warp::path!("v1" / "releases" / Name / u64)
        .and(warp::get())
        .and(licensee.clone())
        .and(with_vendor.clone())
        .and_then(|app: Name, sequence, licensee, vendor| async move {
            release_file(vendor, licensee, app.0, sequence)
                .await
                .map_err(warp::reject::custom)
        });
    let rotation = warp::path!("v1" / "keys" / KeyId / "rotation")
        .and(warp::get())
        .and(licensee)
        .and(with_vendor)
        .and_then(|keyid: KeyId, _: Licensee, vendor| async move {
            key_rotation(vendor, keyid.0)
                .await
                .map_err(warp::reject::custom)
        });

    no_body()
        .and(
            license
                .or(index)
                .unify()
                .or(release)
                .unify()
                .or(rotation)
                .unify(),
        )
        .recover(recover)
        .unify()
        .map(|mut reply: Response| {
            reply
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            reply
        })
        .boxed()
}

/// What the api host answers besides success.
#[derive(Debug, thiserror::Error)]
enum ApiError {
    #[error("Send your license id as `Authorization: Bearer <license_id>`; this one is missing or unknown.")]
    Unauthorized,
    #[error("{0}")]
    NotEntitled(String),
    #[error("This license expired at {0}; ask the vendor for a renewal.")]
    LicenseExpired(String),
    #[error("The vendor revoked this license: {0}")]
    LicenseRevoked(String),
    #[error("{0}")]
    NotFound(String),
    #[error("This api host takes no request bodies.")]
    BodyNotAccepted,
    /// The cause is logged where this is built.
    #[error("The api host hit an internal error; the details are in its log.")]
    Internal,
}

impl warp::reject::Reject for ApiError {}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotEntitled(_) => (StatusCode::FORBIDDEN, "not_entitled"),
            ApiError::LicenseExpired(_) => (StatusCode::FORBIDDEN, "license_expired"),
            ApiError::LicenseRevoked(_) => (StatusCode::FORBIDDEN, "license_revoked"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BodyNotAccepted => (StatusCode::PAYLOAD_TOO_LARGE, "body_not_accepted"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    fn internal(context: &str, cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "{context}");
        ApiError::Internal
    }
}

/// A path segment that is a safe vendor-dir name; anything else matches no route (404).
struct Name(String);

impl FromStr for Name {
    type Err = ();

    fn from_str(s: &str) -> Result<Name, ()> {
        if is_safe_name(s) {
            Ok(Name(s.to_owned()))
        } else {
            Err(())
        }
    }
}

/// A path segment that is a key id (64 lowercase hex digits); anything else matches no
/// route (404).
struct KeyId(String);

impl FromStr for KeyId {
    type Err = ();

    fn from_str(s: &str) -> Result<KeyId, ()> {
        if is_keyid(s) {
            Ok(KeyId(s.to_owned()))
        } else {
            Err(())
        }
    }
}

/// The caller, once its license id named a stored license.
struct Licensee {
    license: License,
    /// The license file as stored.
    file: Vec<u8>,
}

impl Licensee {
    /// Whether the license may still take releases: not revoked, not expired.
    fn check_current(&self, now: OffsetDateTime) -> Result<(), ApiError> {
        if let Some(revoked) = &self.license.revoked {
            return Err(ApiError::LicenseRevoked(revoked.reason.clone()));
        }
        if now >= self.license.expires_at {
            return Err(ApiError::LicenseExpired(
                self.license
                    .expires_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            ));
        }
        Ok(())
    }
}

/// The token of `Authorization: Bearer <token>`, if that is the header's form.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

async fn authenticate(vendor: Arc<VendorDir>, headers: &HeaderMap) -> Result<Licensee, ApiError> {
    let id = bearer(headers)
        .filter(|id| is_safe_name(id))
        .ok_or(ApiError::Unauthorized)?
        .to_owned();
    let file = {
        let id = id.clone();
        read(vendor, move |vendor| vendor.read_license(&id)).await?
    };
    let file = file.ok_or(ApiError::Unauthorized)?;
    let license = stored_payload::<License>(&file).map_err(|e| {
        ApiError::internal("a stored license file cannot be read; it is not served", &e)
    })?;
    if license.license_id != id {
        // Logged with the file's hash only: the id is a credential.
        return Err(ApiError::internal(
            "a stored license file names another license id; it is not served",
            &format!("file {}", crate::vendor::file_digest(&file)),
        ));
    }
    Ok(Licensee { license, file })
}

async fn channel_index(
    vendor: Arc<VendorDir>,
    licensee: Licensee,
    channel: String,
) -> Result<Response, ApiError> {
    let license = &licensee.license;
    if license.channel != channel {
        return Err(ApiError::NotEntitled(format!(
            "This license is for the {} channel, not {channel}.",
            license.channel
        )));
    }
    licensee.check_current(OffsetDateTime::now_utc())?;
    let app = license.app_id.clone();
    let file = read(vendor, move |vendor| vendor.read_index(&app, &channel)).await?;
    let file = file.ok_or_else(|| {
        ApiError::NotFound(format!(
            "Nothing is published on the {} channel of {} yet.",
            license.channel, license.app_id
        ))
    })?;
    Ok(json_file(file))
}

async fn release_file(
    vendor: Arc<VendorDir>,
    licensee: Licensee,
    app: String,
    sequence: u64,
) -> Result<Response, ApiError> {
    let license = &licensee.license;
    if license.app_id != app {
        return Err(ApiError::NotEntitled(format!(
            "This license is for the app {}, not {app}.",
            license.app_id
        )));
    }
    licensee.check_current(OffsetDateTime::now_utc())?;
    let file = read(vendor, move |vendor| vendor.read_release(&app, sequence)).await?;
    let not_found = || {
        ApiError::NotFound(format!(
            "{} has no release with sequence {sequence}.",
            license.app_id
        ))
    };
    let file = file.ok_or_else(not_found)?;
    let release = stored_payload::<Release>(&file)
        .map_err(|e| ApiError::internal("a stored release file cannot be read", &e))?;
    if release.channel != license.channel {
        return Err(ApiError::NotEntitled(format!(
            "Release {sequence} is on the {} channel; this license is for {}.",
            release.channel, license.channel
        )));
    }
    Ok(json_file(file))
}

/// The key rotation from `keyid`, as stored. Any known license may read it: it is public,
/// and a console whose license expired or was revoked still needs the vendor's key.
async fn key_rotation(vendor: Arc<VendorDir>, keyid: String) -> Result<Response, ApiError> {
    let file = {
        let keyid = keyid.clone();
        read(vendor, move |vendor| vendor.read_rotation(&keyid)).await?
    };
    let file = file
        .ok_or_else(|| ApiError::NotFound(format!("No key rotation from {keyid} is published.")))?;
    Ok(json_file(file))
}

/// Runs a vendor-dir read on the blocking pool.
async fn read<F>(vendor: Arc<VendorDir>, read: F) -> Result<Option<Vec<u8>>, ApiError>
where
    F: FnOnce(&VendorDir) -> Result<Option<Vec<u8>>, VendorError> + Send + 'static,
{
    match tokio::task::spawn_blocking(move || read(&vendor)).await {
        Ok(Ok(file)) => Ok(file),
        Ok(Err(e)) => Err(ApiError::internal("cannot read the vendor dir", &e)),
        Err(e) => Err(ApiError::internal("a vendor-dir read failed", &e)),
    }
}

/// The claims of a stored document. Not verified: the vendor dir is this host's own
/// storage, and consoles verify what they receive.
fn stored_payload<D: Document>(file: &[u8]) -> Result<D, crate::envelope::VerifyError> {
    let envelope = Envelope::parse(file, D::KIND, D::MAX_ENVELOPE_BYTES)?;
    if envelope.payload_type != D::PAYLOAD_TYPE {
        return Err(crate::envelope::VerifyError::WrongPayloadType {
            expected: D::PAYLOAD_TYPE.into(),
            found: envelope.payload_type,
        });
    }
    parse_payload(&envelope.payload_unverified()?)
}

fn json_file(file: Vec<u8>) -> Response {
    let mut response = Response::new(file.into());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Refuses requests that carry a body: nothing here takes one.
fn no_body() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::headers_cloned()
        .and_then(|headers: HeaderMap| async move {
            let has_body = headers.contains_key(warp::http::header::TRANSFER_ENCODING)
                || headers
                    .get(CONTENT_LENGTH)
                    .is_some_and(|length| length.as_bytes() != b"0");
            if has_body {
                Err(warp::reject::custom(ApiError::BodyNotAccepted))
            } else {
                Ok(())
            }
        })
        .untuple_one()
}

async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let (status, code, message) = if let Some(error) = rejection.find::<ApiError>() {
        let (status, code) = error.status_and_code();
        (status, code, error.to_string())
    } else if rejection.is_not_found() {
        (
            StatusCode::NOT_FOUND,
            "not_found",
            "There is no such path on this api host.".to_owned(),
        )
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Only GET is served here.".to_owned(),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            "bad_request",
            "The request is not one this api host understands.".to_owned(),
        )
    };
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    Ok(warp::reply::with_status(warp::reply::json(&body), status).into_response())
}

/// Serves one connection (plain or TLS) with per-request logging.
async fn serve_connection<I, S>(io: I, peer: SocketAddr, service: S, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<hyper::Request<Incoming>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let per_request = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut service = service.clone();
        let line = RequestLine::new(peer, &request);
        async move {
            let response = service.call(request).await.unwrap_or_else(|e| match e {});
            line.log(response.status());
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(32)
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let connection = builder.serve_connection(TokioIo::new(io), per_request);
    if let Err(e) = watcher.watch(connection.into_owned()).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// What the log line of one request says, taken before the request is handed on.
struct RequestLine {
    started: Instant,
    peer: SocketAddr,
    method: String,
    path: String,
    credential: String,
    reporting: [String; 4],
}

impl RequestLine {
    fn new<B>(peer: SocketAddr, request: &hyper::Request<B>) -> RequestLine {
        let headers = request.headers();
        RequestLine {
            started: Instant::now(),
            peer,
            method: request.method().to_string(),
            path: loggable(request.uri().path()),
            credential: credential_hash(headers),
            reporting: REPORTING_HEADERS.map(|name| {
                headers
                    .get(name)
                    .map(|value| loggable(&String::from_utf8_lossy(value.as_bytes())))
                    .unwrap_or_else(|| "-".into())
            }),
        }
    }

    fn log(&self, status: StatusCode) {
        let [instance, console_version, app_sequence, node_count] = &self.reporting;
        tracing::info!(
            peer = %self.peer,
            method = %self.method,
            path = %self.path,
            status = status.as_u16(),
            ms = self.started.elapsed().as_millis() as u64,
            license = %self.credential,
            instance = %instance,
            console_version = %console_version,
            app_sequence = %app_sequence,
            node_count = %node_count,
            "request"
        );
    }
}

/// A short hash of the credential (the first 12 hex digits of SHA-256 of the bearer
/// token), so log lines of one license can be told apart without the log holding it;
/// `-` without an Authorization header.
fn credential_hash(headers: &HeaderMap) -> String {
    match headers.get(AUTHORIZATION) {
        None => "-".into(),
        Some(value) => {
            let token = bearer(headers)
                .map(str::as_bytes)
                .unwrap_or(value.as_bytes());
            hex::encode(&Sha256::digest(token)[..6])
        }
    }
}

/// Printable ASCII only, cut to a bounded length, so a header cannot forge log lines.
fn loggable(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(MAX_LOGGED_VALUE)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if value.chars().count() > MAX_LOGGED_VALUE {
        out.push('…');
    }
    out
}

fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let tls_error = |path: &Path, reason: String| ServeError::Tls {
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            tls_error(
                &files.cert,
                format!("cannot read the certificate chain: {e}"),
            )
        })?;
    if chain.is_empty() {
        return Err(tls_error(&files.cert, "holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| tls_error(&files.key, format!("cannot read the private key: {e}")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("the ring provider supports the default protocol versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| {
        tls_error(
            &files.key,
            format!(
                "does not fit the certificate in {}: {e}",
                files.cert.display()
            ),
        )
    })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                warp::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn bearer_tokens() {
        let cases = [
            ("Bearer abc", Some("abc")),
            ("bearer  abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearer", None),
            ("Bearer ", None),
        ];
        for (value, expected) in cases {
            let map = headers(&[("authorization", value)]);
            assert_eq!(bearer(&map), expected, "{value:?}");
        }
        assert_eq!(bearer(&headers(&[])), None);
    }

    #[test]
    fn the_log_holds_a_short_hash_of_the_credential_never_the_credential() {
        let hash = credential_hash(&headers(&[("authorization", "Bearer secret-id")]));
        assert_eq!(hash.len(), 12);
        assert_eq!(hash, hex::encode(&Sha256::digest(b"secret-id")[..6]));
        assert!(!hash.contains("secret"));
        assert_eq!(credential_hash(&headers(&[])), "-");
    }

    #[test]
    fn logged_values_are_printable_and_bounded() {
        assert_eq!(loggable("1.2.3"), "1.2.3");
        assert_eq!(loggable("a\u{1b}[31mb\tc"), "a?[31mb?c");
        let long = loggable(&"x".repeat(500));
        assert_eq!(long.chars().count(), MAX_LOGGED_VALUE + 1);
    }

    #[test]
    fn key_id_segments_are_64_lowercase_hex_digits() {
        assert!(KeyId::from_str(&"ab".repeat(32)).is_ok());
        for bad in ["AB".repeat(32), "ab".repeat(31), "..".into(), String::new()] {
            assert!(KeyId::from_str(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn path_names_are_safe() {
        assert!(Name::from_str("stable").is_ok());
        for bad in ["..", ".", "%2e%2e", "a b", ""] {
            assert!(Name::from_str(bad).is_err(), "{bad:?}");
        }
    }
}
