//! `POST /releases/fetch` (fetch the channel's releases from the vendor's api host) and
//! `GET /outbound` (the outbound log: every request the console sent out, newest first).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::filters::source;
use super::{admin, blocking, json, AdminHandler, ApiError, AppState};
use crate::audit::Source;
use crate::auth::AdminSession;
use crate::clock::{rfc3339, unix_now};
use crate::store::OutboundRecord;
use crate::upstream::FetchSummary;

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 500;

#[derive(Debug, Serialize)]
pub struct FetchAnswer {
    pub index_version: u64,
    pub fetched: Vec<u64>,
    pub present: Vec<u64>,
    pub refused: Vec<RefusedRelease>,
}

#[derive(Debug, Serialize)]
pub struct RefusedRelease {
    pub sequence: u64,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
pub struct OutboundQuery {
    pub limit: Option<u32>,
    pub before: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct OutboundPage {
    pub entries: Vec<OutboundEntry>,
    pub next_before: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct OutboundEntry {
    pub id: i64,
    pub at: String,
    pub method: String,
    pub url: String,
    pub purpose: String,
    pub request_headers: serde_json::Value,
    pub request_fields: serde_json::Value,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub duration_ms: u64,
    /// The proxy the request went through (password masked), if any.
    pub via_proxy: Option<String>,
}

pub fn fetch_view(summary: FetchSummary) -> FetchAnswer {
    FetchAnswer {
        index_version: summary.index_version,
        fetched: summary.fetched,
        present: summary.present,
        refused: summary
            .refused
            .into_iter()
            .map(|r| RefusedRelease {
                sequence: r.sequence,
                reason: r.reason,
            })
            .collect(),
    }
}

pub fn outbound_view(record: OutboundRecord) -> OutboundEntry {
    // Stored as JSON text by the recorder; shown as JSON objects.
    let object = |text: &str| serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    OutboundEntry {
        id: record.id,
        at: rfc3339(record.at),
        request_headers: object(&record.request_headers),
        request_fields: object(&record.request_fields),
        method: record.method,
        url: record.url,
        purpose: record.purpose,
        status: record.status,
        error: record.error,
        bytes_sent: record.bytes_sent,
        bytes_received: record.bytes_received,
        duration_ms: record.duration_ms,
        via_proxy: record.via_proxy,
    }
}

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (AdminHandler,), Error = Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let fetch = warp::path!("releases" / "fetch")
        .and(warp::post())
        .and(with_state.clone())
        .and(source())
        .map(|state: Arc<AppState>, source: Source| {
            admin(move |session: AdminSession| async move {
                // The installed release's sequence (empty when nothing is deployed).
                let installed = state.deployer.installed_sequence();
                let summary = state
                    .upstream
                    .fetch_releases(installed, &session.actor(), &source, unix_now())
                    .await
                    .map_err(ApiError::from)?;
                json(&fetch_view(summary))
            })
        });
    let outbound = warp::path!("outbound")
        .and(warp::get())
        .and(warp::query::<OutboundQuery>())
        .and(with_state)
        .map(|query: OutboundQuery, state: Arc<AppState>| {
            admin(move |_: AdminSession| page(state, query))
        });
    fetch.or(outbound).unify()
}

async fn page(state: Arc<AppState>, query: OutboundQuery) -> Result<Response, Rejection> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(warp::reject::custom(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        ))));
    }
    let records = blocking(move || Ok(state.store.outbound_page(query.before, limit)?)).await?;
    let next_before = (records.len() == limit as usize)
        .then(|| records.last().map(|r| r.id))
        .flatten();
    json(&OutboundPage {
        entries: records.into_iter().map(outbound_view).collect(),
        next_before,
    })
}
