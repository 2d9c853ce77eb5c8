//! `GET /audit`: the audit log, newest first, in pages.

use std::sync::Arc;

use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{admin, api, blocking, json, AdminHandler, ApiError, AppState};
use crate::auth::AdminSession;

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 500;

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (AdminHandler,), Error = Rejection> + Clone {
    warp::path!("audit")
        .and(warp::get())
        .and(warp::query::<api::AuditQuery>())
        .map(move |query: api::AuditQuery| {
            let state = state.clone();
            admin(move |_: AdminSession| page(state, query))
        })
}

async fn page(state: Arc<AppState>, query: api::AuditQuery) -> Result<Response, Rejection> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(warp::reject::custom(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        ))));
    }
    let records = blocking(move || Ok(state.store.audit_page(query.before, limit)?)).await?;
    let next_before = (records.len() == limit as usize)
        .then(|| records.last().map(|r| r.id))
        .flatten();
    json(&api::AuditPage {
        entries: records.into_iter().map(api::AuditEntry::from).collect(),
        next_before,
    })
}
