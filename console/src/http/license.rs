//! `POST /license/inspect`, `POST /license`, `GET /license`: loading the vendor's license.

use std::sync::Arc;

use warp::{Filter, Rejection};

use super::filters::{json_body, source, BodyLimit};
use super::{admin, api, blocking, json, AdminHandler, AppState};
use crate::audit::Source;
use crate::auth::AdminSession;
use crate::clock::unix_now;

/// A license envelope is at most 64 KiB; JSON escaping can double it.
const LICENSE_BODY_LIMIT: BodyLimit = BodyLimit {
    bytes: 128 * 1024,
    label: "128 KiB",
};

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (AdminHandler,), Error = Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let inspect = warp::path!("license" / "inspect")
        .and(warp::post())
        .and(with_state.clone())
        .and(json_body::<api::LicenseInspectRequest>(LICENSE_BODY_LIMIT))
        .map(|state: Arc<AppState>, body: api::LicenseInspectRequest| {
            admin(move |_: AdminSession| async move {
                let inspection =
                    blocking(move || Ok(state.licenses.inspect(&body.license)?)).await?;
                json(&api::LicenseInspection::from(inspection))
            })
        });
    let load = warp::path!("license")
        .and(warp::post())
        .and(with_state.clone())
        .and(source())
        .and(json_body::<api::LicenseLoadRequest>(LICENSE_BODY_LIMIT))
        .map(
            |state: Arc<AppState>, source: Source, body: api::LicenseLoadRequest| {
                admin(move |session: AdminSession| async move {
                    let loaded = blocking(move || {
                        Ok(state.licenses.load(
                            &body.license,
                            body.trust_key.as_deref(),
                            &session.actor(),
                            &source,
                            unix_now(),
                        )?)
                    })
                    .await?;
                    json(&api::License::from(loaded))
                })
            },
        );
    let current = warp::path!("license")
        .and(warp::get())
        .and(with_state.clone())
        .map(|state: Arc<AppState>| {
            admin(move |_: AdminSession| async move {
                let current = blocking(move || Ok(state.licenses.current()?)).await?;
                json(&api::CurrentLicense {
                    license: current.map(api::License::from),
                })
            })
        });
    let rotate = warp::path!("license" / "key-rotation")
        .and(warp::post())
        .and(with_state.clone())
        .and(source())
        .and(json_body::<api::KeyRotationRequest>(LICENSE_BODY_LIMIT))
        .map(
            |state: Arc<AppState>, source: Source, body: api::KeyRotationRequest| {
                admin(move |session: AdminSession| async move {
                    let (old_keyid, new_keyid) = blocking(move || {
                        Ok(state.licenses.rotate_key(
                            &body.rotation,
                            &session.actor(),
                            &source,
                            unix_now(),
                        )?)
                    })
                    .await?;
                    json(&api::KeyRotated {
                        old_keyid,
                        new_keyid,
                    })
                })
            },
        );
    inspect
        .or(load)
        .unify()
        .or(rotate)
        .unify()
        .or(current)
        .unify()
}
