//! `GET /api/v1/health`: unauthenticated liveness with version and uptime.

use std::sync::Arc;

use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{api, json, AppState};

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("health")
        .and(warp::get())
        .map(move || state.clone())
        .and_then(|state: Arc<AppState>| async move {
            json(&api::Health {
                status: "ok",
                version: crate::VERSION,
                uptime_seconds: state.uptime_seconds(),
            })
        })
}
