//! Reusable filters: the client's address, bounded JSON bodies, and the admin session
//! guard (which is also the CSRF check).

use std::net::SocketAddr;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use warp::http::Method;
use warp::{Filter, Rejection};

use super::{blocking, ApiError, AppState};
use crate::audit::Source;
use crate::auth::AdminSession;
use crate::clock;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "outpost_session";
/// The header that must carry the session's CSRF token on every mutating request.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A body size limit, with the words the 413 answer uses for it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    pub bytes: u64,
    pub label: &'static str,
}

/// The limit for JSON bodies unless a route says otherwise.
pub const DEFAULT_BODY_LIMIT: BodyLimit = BodyLimit {
    bytes: 1024 * 1024,
    label: "1 MiB",
};

/// The TCP peer of a connection, put into each request's extensions by the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The DER client certificate of a mutual-TLS connection, verified by the TLS layer
/// against the cluster CA (put into extensions by the accept loop).
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Arc<Vec<u8>>);

/// Where the request came from, for the audit log and the login rate limit.
pub fn source() -> impl Filter<Extract = (Source,), Error = std::convert::Infallible> + Clone {
    warp::ext::optional::<PeerAddr>()
        .and(warp::addr::remote())
        .map(|peer: Option<PeerAddr>, remote: Option<SocketAddr>| {
            match peer.map(|p| p.0).or(remote) {
                Some(addr) => Source::Address(addr.ip()),
                None => Source::Unknown,
            }
        })
}

/// A JSON body of at most `limit` bytes.
pub fn json_body<T: DeserializeOwned + Send>(
    limit: BodyLimit,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::body::content_length_limit(limit.bytes)
        .or_else(move |rejection: Rejection| async move {
            if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
                Err(warp::reject::custom(ApiError::PayloadTooLarge {
                    limit: limit.label,
                }))
            } else {
                Err(rejection)
            }
        })
        .and(warp::body::json())
}

/// Yields the signed-in admin, or rejects with 401 (no live session) or 403 (a mutating
/// request without the session's CSRF token). Every API path that the route table does not
/// mark public sits behind it — including paths that do not exist.
pub fn admin_session(
    state: Arc<AppState>,
) -> impl Filter<Extract = (AdminSession,), Error = Rejection> + Clone {
    warp::path::full()
        .and_then(|path: warp::path::FullPath| async move {
            // Public paths are answered by their own routes; stepping aside with a plain
            // not-found keeps this guard's 401 from masking their answers.
            if super::is_public(path.as_str()) {
                Err(warp::reject::not_found())
            } else {
                Ok(())
            }
        })
        .untuple_one()
        .map(move || state.clone())
        .and(warp::cookie::optional::<String>(SESSION_COOKIE))
        .and(warp::method())
        .and(warp::header::optional::<String>(CSRF_HEADER))
        .and_then(
            |state: Arc<AppState>,
             cookie: Option<String>,
             method: Method,
             csrf: Option<String>| async move {
                let Some(cookie) = cookie else {
                    return Err(warp::reject::custom(ApiError::Unauthorized));
                };
                let session = blocking(move || {
                    state
                        .auth
                        .authenticate(&cookie, clock::unix_now())
                        .map_err(ApiError::from)
                })
                .await
                .map_err(warp::reject::custom)?;
                let safe = method == Method::GET || method == Method::HEAD;
                let csrf_ok = csrf.is_some_and(|token| {
                    crate::auth::constant_time_eq(token.as_bytes(), session.csrf_token.as_bytes())
                });
                if !safe && !csrf_ok {
                    return Err(warp::reject::custom(ApiError::Csrf));
                }
                Ok(session)
            },
        )
}
