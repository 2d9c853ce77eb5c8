//! `POST /releases` (load a signed release file) and `GET /releases`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warp::{Filter, Rejection};

use super::filters::{json_body, source, BodyLimit};
use super::{admin, blocking, json, AdminHandler, ApiError, AppState};
use crate::audit::Source;
use crate::auth::AdminSession;
use crate::clock::{rfc3339, unix_now};
use crate::releases::LoadedRelease;

/// A release envelope is at most 16 MiB; JSON escaping of its base64 adds little.
const RELEASE_BODY_LIMIT: BodyLimit = BodyLimit {
    bytes: 17 * 1024 * 1024,
    label: "17 MiB",
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadRequest {
    pub release: String,
}

#[derive(Debug, Serialize)]
pub struct ReleaseList {
    pub releases: Vec<ReleaseView>,
}

#[derive(Debug, Serialize)]
pub struct ReleaseView {
    pub sequence: u64,
    pub version: String,
    pub channel: String,
    pub notes: String,
    pub required: bool,
    pub created_at: String,
    pub digest: String,
    pub source: String,
    pub loaded_at: String,
    pub images: Vec<ImageView>,
    /// Set on `POST`: whether this call stored it (false: it was already loaded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newly_loaded: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct ImageView {
    pub reference: String,
    pub digest: String,
    pub platform: String,
}

pub fn view(loaded: LoadedRelease, newly_loaded: Option<bool>) -> ReleaseView {
    let r = loaded.release;
    ReleaseView {
        sequence: r.sequence,
        version: r.version,
        channel: r.channel,
        notes: r.notes,
        required: r.required,
        created_at: rfc3339(r.created_at.unix_timestamp()),
        digest: loaded.digest,
        source: loaded.source,
        loaded_at: rfc3339(loaded.loaded_at),
        images: r
            .images
            .into_iter()
            .map(|i| ImageView {
                reference: i.reference,
                digest: i.digest,
                platform: i.platform,
            })
            .collect(),
        newly_loaded,
    }
}

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (AdminHandler,), Error = Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let load = warp::path!("releases")
        .and(warp::post())
        .and(with_state.clone())
        .and(source())
        .and(json_body::<LoadRequest>(RELEASE_BODY_LIMIT))
        .map(|state: Arc<AppState>, source: Source, body: LoadRequest| {
            admin(move |session: AdminSession| async move {
                let (loaded, fresh) = blocking(move || {
                    state
                        .releases
                        .load(
                            &body.release,
                            "upload",
                            &session.actor(),
                            &source,
                            unix_now(),
                        )
                        .map_err(ApiError::from)
                })
                .await?;
                json(&view(loaded, Some(fresh)))
            })
        });
    let list = warp::path!("releases")
        .and(warp::get())
        .and(with_state)
        .map(|state: Arc<AppState>| {
            admin(move |_: AdminSession| async move {
                let releases =
                    blocking(move || state.releases.list().map_err(ApiError::from)).await?;
                json(&ReleaseList {
                    releases: releases.into_iter().map(|r| view(r, None)).collect(),
                })
            })
        });
    load.or(list).unify()
}
