//! Setup, login, logout and the current session.

use std::sync::Arc;
use std::time::Instant;

use warp::http::header::SET_COOKIE;
use warp::http::HeaderValue;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::filters::{json_body, source, DEFAULT_BODY_LIMIT, SESSION_COOKIE};
use super::{admin, api, blocking, json, AdminHandler, ApiError, AppState};
use crate::audit::Source;
use crate::auth::AdminSession;
use crate::clock::{rfc3339, unix_now};

/// `GET|POST /setup`, `POST /login`.
pub fn public_routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let setup_status = warp::path!("setup")
        .and(warp::get())
        .and(with_state.clone())
        .and(warp::query::<api::SetupQuery>())
        .and_then(setup_status);
    let setup = warp::path!("setup")
        .and(warp::post())
        .and(with_state.clone())
        .and(source())
        .and(json_body::<api::SetupRequest>(DEFAULT_BODY_LIMIT))
        .and_then(complete_setup);
    let login = warp::path!("login")
        .and(warp::post())
        .and(with_state)
        .and(source())
        .and(json_body::<api::LoginRequest>(DEFAULT_BODY_LIMIT))
        .and_then(login);
    setup_status.or(setup).unify().or(login).unify()
}

/// `GET /session`, `POST /logout`.
pub fn admin_routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (AdminHandler,), Error = Rejection> + Clone {
    let current = warp::path!("session")
        .and(warp::get())
        .map(|| admin(|session: AdminSession| async move { json(&session_body(&session)) }));
    let logout =
        warp::path!("logout")
            .and(warp::post())
            .and(source())
            .map(move |source: Source| {
                let state = state.clone();
                admin(move |session| logout(state, session, source))
            });
    current.or(logout).unify()
}

async fn setup_status(state: Arc<AppState>, query: api::SetupQuery) -> Result<Response, Rejection> {
    let status = blocking(move || {
        Ok(state
            .auth
            .setup_status(query.token.as_deref(), unix_now())?)
    })
    .await?;
    json(&api::SetupStatus {
        admin_configured: status.admin_configured,
        token_valid: status.token_valid,
    })
}

async fn complete_setup(
    state: Arc<AppState>,
    source: Source,
    body: api::SetupRequest,
) -> Result<Response, Rejection> {
    blocking(move || {
        Ok(state
            .auth
            .complete_setup(&body.token, &body.password, &source, unix_now())?)
    })
    .await?;
    json(&api::OK)
}

async fn login(
    state: Arc<AppState>,
    source: Source,
    body: api::LoginRequest,
) -> Result<Response, Rejection> {
    let max_age = state.auth.policy().max_age.as_secs();
    let new = blocking(move || {
        Ok(state
            .auth
            .login(&body.password, &source, unix_now(), Instant::now())?)
    })
    .await?;
    let mut response = json(&session_body(&new.session))?;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict",
        new.cookie_token
    );
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| ApiError::internal("cookie", &e))?,
    );
    Ok(response)
}

async fn logout(
    state: Arc<AppState>,
    session: AdminSession,
    source: Source,
) -> Result<Response, Rejection> {
    blocking(move || Ok(state.auth.logout(&session, &source)?)).await?;
    let mut response = warp::reply::json(&api::OK).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static(
            "outpost_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
        ),
    );
    Ok(response)
}

fn session_body(session: &AdminSession) -> api::Session {
    api::Session {
        username: session.username.clone(),
        csrf_token: session.csrf_token.clone(),
        expires_at: rfc3339(session.expires_at),
    }
}
