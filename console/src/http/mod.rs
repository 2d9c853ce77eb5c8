//! The HTTPS console: the one route table, the guard that puts every non-public API route
//! behind a session, and the JSON error mapping. Only this module knows warp.

pub mod agent_channel;
pub mod api;
pub(crate) mod app;
mod app_config;
mod assets;
mod audit_log;
mod error;
mod filters;
mod health;
mod license;
pub mod network;
mod nodes;
mod releases;
mod session;
mod status;
pub mod tls;
pub mod updates;
mod upstream;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::http::HeaderValue;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

pub use error::ApiError;
pub use filters::{PeerAddr, PeerCertificate, CSRF_HEADER, SESSION_COOKIE};
pub use nodes::join_command;

use crate::auth::AdminSession;
pub use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Admin,
}

/// One row of the API's route table.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

const fn route(method: &'static str, path: &'static str, access: Access) -> Route {
    Route {
        method,
        path,
        access,
    }
}

/// Every API route. Tests walk this table; the filters below must match it row for row.
pub const ROUTES: &[Route] = &[
    route("GET", "/api/v1/health", Access::Public),
    route("GET", "/api/v1/setup", Access::Public),
    route("POST", "/api/v1/setup", Access::Public),
    route("POST", "/api/v1/login", Access::Public),
    route("GET", "/api/v1/session", Access::Admin),
    route("POST", "/api/v1/logout", Access::Admin),
    route("GET", "/api/v1/status", Access::Admin),
    route("GET", "/api/v1/tls", Access::Admin),
    route("PUT", "/api/v1/tls", Access::Admin),
    route("POST", "/api/v1/license/inspect", Access::Admin),
    route("POST", "/api/v1/license", Access::Admin),
    route("GET", "/api/v1/license", Access::Admin),
    route("POST", "/api/v1/license/key-rotation", Access::Admin),
    route("POST", "/api/v1/releases", Access::Admin),
    route("GET", "/api/v1/releases", Access::Admin),
    route("POST", "/api/v1/releases/fetch", Access::Admin),
    route("GET", "/api/v1/outbound", Access::Admin),
    route("GET", "/api/v1/updates", Access::Admin),
    route("GET", "/api/v1/network", Access::Admin),
    route("POST", "/api/v1/updates/check", Access::Admin),
    route("GET", "/api/v1/settings/outbound", Access::Admin),
    route("PUT", "/api/v1/settings/outbound", Access::Admin),
    route("GET", "/api/v1/app/config", Access::Admin),
    route("PUT", "/api/v1/app/config", Access::Admin),
    route("GET", "/api/v1/nodes", Access::Admin),
    route("POST", "/api/v1/nodes/join-token", Access::Admin),
    route("PUT", "/api/v1/nodes/node-x/labels", Access::Admin),
    route("DELETE", "/api/v1/nodes/node-x", Access::Admin),
    route("POST", "/api/v1/nodes/node-x/containers", Access::Admin),
    route(
        "GET",
        "/api/v1/nodes/node-x/containers/web/logs",
        Access::Admin,
    ),
    route("GET", "/api/v1/audit", Access::Admin),
];

/// Whether the route table marks `path` public (for any method).
fn is_public(path: &str) -> bool {
    ROUTES
        .iter()
        .any(|route| route.access == Access::Public && route.path == path)
}

/// A handler that runs once the admin guard has let the request through.
type AdminHandler = Box<
    dyn FnOnce(AdminSession) -> Pin<Box<dyn Future<Output = Result<Response, Rejection>> + Send>>
        + Send,
>;

/// Wraps an admin handler so the admin route table can hold it until the guard has run.
fn admin<F, Fut>(handler: F) -> AdminHandler
where
    F: FnOnce(AdminSession) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response, Rejection>> + Send + 'static,
{
    Box::new(move |session| Box::pin(handler(session)))
}

/// The whole console: API, then the embedded UI, with JSON errors and security headers.
pub fn routes(state: Arc<AppState>) -> BoxedFilter<(Response,)> {
    let api_v1 = warp::path("v1");

    let public = health::routes(state.clone())
        .or(session::public_routes(state.clone()))
        .unify();

    // The guard runs before any admin route is even matched: without a session, every
    // non-public path under /api/v1 answers 401, so a new route cannot forget its guard.
    let admin_routes = session::admin_routes(state.clone())
        .or(status::routes(state.clone()))
        .unify()
        .or(audit_log::routes(state.clone()))
        .unify()
        .or(license::routes(state.clone()))
        .unify()
        .or(nodes::routes(state.clone()))
        .unify()
        .or(releases::routes(state.clone()))
        .unify()
        .or(app_config::routes(state.clone()))
        .unify()
        .or(upstream::routes(state.clone()))
        .unify()
        .or(app::routes(state.clone()))
        .unify()
        .or(updates::routes(state.clone()))
        .unify()
        .or(network::routes(state.clone()))
        .unify();
    let guarded = filters::admin_session(state.clone())
        .and(admin_routes)
        .and_then(|session: AdminSession, handler: AdminHandler| handler(session));

    let api_inner = api_v1
        .and(public.or(guarded).unify())
        .recover(error::recover)
        .unify()
        .map(no_store);
    // Once a path starts with /api it is answered here, never by the UI fallback.
    let api = warp::path("api").and(api_inner);

    api.or(assets::routes())
        .unify()
        .recover(error::recover)
        .unify()
        .map(with_security_headers)
        .boxed()
}

fn no_store(mut reply: Response) -> Response {
    reply.headers_mut().insert(
        warp::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    reply
}

fn with_security_headers(mut reply: Response) -> Response {
    let headers = reply.headers_mut();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    reply
}

/// Runs blocking work (SQLite, argon2, file writes) off the async threads.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(ApiError::internal("blocking task failed", &e)))
}

/// `Ok(json)` for handlers.
pub(crate) fn json<T: serde::Serialize>(body: &T) -> Result<Response, Rejection> {
    Ok(warp::reply::json(body).into_response())
}

#[cfg(test)]
mod tests;
