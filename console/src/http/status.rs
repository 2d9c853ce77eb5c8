//! `GET /status` (the dashboard), `GET /tls` and `PUT /tls` (certificate upload).

use std::sync::Arc;

use warp::reply::Response;
use warp::{Filter, Rejection};

use super::filters::{json_body, source, BodyLimit};
use super::{admin, api, blocking, json, AdminHandler, ApiError, AppState};
use crate::audit::{self, Action, Source};
use crate::auth::AdminSession;
use crate::clock::{rfc3339, unix_now};

/// A chain and a key in PEM, with room for JSON escaping.
const TLS_BODY_LIMIT: BodyLimit = BodyLimit {
    bytes: 256 * 1024,
    label: "256 KiB",
};

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (AdminHandler,), Error = Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let status = warp::path!("status")
        .and(warp::get())
        .and(with_state.clone())
        .map(|state: Arc<AppState>| {
            admin(move |_: AdminSession| async move {
                json(&api::Status {
                    version: crate::VERSION,
                    uptime_seconds: state.uptime_seconds(),
                    started_at: rfc3339(state.started_at),
                    tls: state.certs.info().into(),
                })
            })
        });
    let tls = warp::path!("tls")
        .and(warp::get())
        .and(with_state.clone())
        .map(|state: Arc<AppState>| {
            admin(move |_: AdminSession| async move { json(&api::Tls::from(state.certs.info())) })
        });
    let upload = warp::path!("tls")
        .and(warp::put())
        .and(with_state)
        .and(source())
        .and(json_body::<api::TlsUpload>(TLS_BODY_LIMIT))
        .map(
            |state: Arc<AppState>, source: Source, body: api::TlsUpload| {
                admin(move |session| replace_certificate(state, session, source, body))
            },
        );
    status.or(tls).unify().or(upload).unify()
}

async fn replace_certificate(
    state: Arc<AppState>,
    session: AdminSession,
    source: Source,
    body: api::TlsUpload,
) -> Result<Response, Rejection> {
    let info = blocking(move || {
        let old = state.certs.info();
        match state
            .certs
            .replace(&body.certificate_pem, &body.private_key_pem, unix_now())
        {
            Ok(new) => {
                audit::record(
                    &state.store,
                    &session.actor(),
                    Action::TlsReplaced,
                    &source,
                    &format!(
                        "certificate {} ({}) replaced by {} ({}), valid until {}",
                        old.fingerprint_sha256,
                        old.subject,
                        new.fingerprint_sha256,
                        new.subject,
                        rfc3339(new.not_after)
                    ),
                )?;
                Ok(new)
            }
            Err(e) => {
                if e.is_invalid_input() {
                    audit::record(
                        &state.store,
                        &session.actor(),
                        Action::TlsRejected,
                        &source,
                        &format!("uploaded certificate refused: {e}"),
                    )?;
                }
                Err(ApiError::from(e))
            }
        }
    })
    .await?;
    json(&api::Tls::from(info))
}
