//! The node API on :8800: list nodes with live status, make join tokens, edit labels,
//! remove nodes, and run a diagnostic container and read its logs on one node.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use outpost_agent::protocol::{Command, CommandResult, ContainerSpec, Facts};
use serde::{Deserialize, Serialize};
use warp::{Filter, Rejection};

use super::filters::{json_body, source, DEFAULT_BODY_LIMIT};
use super::{admin, api, blocking, json, AdminHandler, ApiError, AppState};
use crate::audit::Source;
use crate::auth::AdminSession;
use crate::clock::{rfc3339, unix_now};
use crate::store::NodeRecord;

/// How long a diagnostic command may take on a node.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// The label that marks diagnostic containers.
const DIAGNOSTIC_APP: &str = "diagnostic";

#[derive(Debug, Serialize)]
pub struct NodeList {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Serialize)]
pub struct Node {
    pub id: String,
    pub hostname: String,
    pub labels: BTreeMap<String, String>,
    pub status: &'static str,
    pub joined_at: String,
    pub last_seen_at: Option<String>,
    pub cert_expires_at: String,
    pub clock_skew_ms: Option<i64>,
    pub facts: Option<Facts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinTokenRequest {
    #[serde(default)]
    pub ttl: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct JoinTokenAnswer {
    pub token: String,
    pub command: String,
    pub expires_at: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsRequest {
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    pub name: String,
    pub image: String,
    #[serde(default)]
    pub command: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct RunAnswer {
    pub container_id: String,
}

#[derive(Debug, Deserialize)]
pub struct LogsQuery {
    pub tail: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct LogLines {
    pub lines: Vec<LogLine>,
}

#[derive(Debug, Serialize)]
pub struct LogLine {
    pub stream: String,
    pub line: String,
}

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (AdminHandler,), Error = Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let list = warp::path!("nodes")
        .and(warp::get())
        .and(with_state.clone())
        .map(|state: Arc<AppState>| admin(move |_: AdminSession| list(state)));
    let token = warp::path!("nodes" / "join-token")
        .and(warp::post())
        .and(with_state.clone())
        .and(source())
        .and(json_body::<JoinTokenRequest>(DEFAULT_BODY_LIMIT))
        .map(
            |state: Arc<AppState>, source: Source, body: JoinTokenRequest| {
                admin(move |session| join_token(state, session, source, body))
            },
        );
    let labels = warp::path!("nodes" / String / "labels")
        .and(warp::put())
        .and(with_state.clone())
        .and(source())
        .and(json_body::<LabelsRequest>(DEFAULT_BODY_LIMIT))
        .map(
            |id: String, state: Arc<AppState>, source: Source, body: LabelsRequest| {
                admin(move |session| set_labels(state, session, source, id, body))
            },
        );
    let remove = warp::path!("nodes" / String)
        .and(warp::delete())
        .and(with_state.clone())
        .and(source())
        .map(|id: String, state: Arc<AppState>, source: Source| {
            admin(move |session| remove(state, session, source, id))
        });
    let run = warp::path!("nodes" / String / "containers")
        .and(warp::post())
        .and(with_state.clone())
        .and(json_body::<RunRequest>(DEFAULT_BODY_LIMIT))
        .map(|id: String, state: Arc<AppState>, body: RunRequest| {
            admin(move |_| run_container(state, id, body))
        });
    let logs = warp::path!("nodes" / String / "containers" / String / "logs")
        .and(warp::get())
        .and(with_state)
        .and(warp::query::<LogsQuery>())
        .map(
            |id: String, name: String, state: Arc<AppState>, query: LogsQuery| {
                admin(move |_| logs(state, id, name, query))
            },
        );
    list.or(token)
        .unify()
        .or(labels)
        .unify()
        .or(remove)
        .unify()
        .or(run)
        .unify()
        .or(logs)
        .unify()
}

/// The API view of a node: the stored record plus the hub's live state.
pub fn node_view(state: &AppState, record: NodeRecord) -> Node {
    let live = state.hub.status(&record.id);
    Node {
        status: if live.online { "online" } else { "offline" },
        clock_skew_ms: live.clock_skew_ms,
        facts: record
            .facts
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok()),
        joined_at: rfc3339(record.joined_at),
        last_seen_at: record.last_seen_at.map(rfc3339),
        cert_expires_at: rfc3339(record.cert_not_after),
        id: record.id,
        hostname: record.hostname,
        labels: record.labels,
    }
}

async fn list(state: Arc<AppState>) -> Result<warp::reply::Response, Rejection> {
    let records = {
        let state = state.clone();
        blocking(move || state.cluster.nodes().map_err(ApiError::from)).await?
    };
    json(&NodeList {
        nodes: records.into_iter().map(|r| node_view(&state, r)).collect(),
    })
}

async fn join_token(
    state: Arc<AppState>,
    session: AdminSession,
    source: Source,
    body: JoinTokenRequest,
) -> Result<warp::reply::Response, Rejection> {
    let ttl = match body.ttl.as_deref() {
        Some(text) => crate::config::parse_duration(text)
            .map_err(|why| ApiError::BadRequest(format!("ttl: {why}")))?,
        None => Duration::from_secs(3600),
    };
    let cluster_url = state.cluster_url.clone();
    let now = unix_now();
    let token = blocking(move || {
        state
            .cluster
            .create_join_token(ttl, &body.labels, &session.actor(), &source, now)
            .map_err(ApiError::from)
    })
    .await?;
    json(&JoinTokenAnswer {
        command: join_command(&cluster_url, &token.to_string()),
        token: token.to_string(),
        expires_at: rfc3339(now + ttl.as_secs() as i64),
    })
}

/// The command an admin runs on a new node.
pub fn join_command(cluster_url: &str, token: &str) -> String {
    format!("outpost-agent join --console {cluster_url} --token {token}")
}

async fn set_labels(
    state: Arc<AppState>,
    session: AdminSession,
    source: Source,
    id: String,
    body: LabelsRequest,
) -> Result<warp::reply::Response, Rejection> {
    let record = {
        let state = state.clone();
        blocking(move || {
            state
                .cluster
                .set_labels(&id, &body.labels, &session.actor(), &source)
                .map_err(ApiError::from)?;
            state.store.node(&id)?.ok_or(ApiError::NodeNotFound(id))
        })
        .await?
    };
    json(&node_view(&state, record))
}

async fn remove(
    state: Arc<AppState>,
    session: AdminSession,
    source: Source,
    id: String,
) -> Result<warp::reply::Response, Rejection> {
    let hub = state.hub.clone();
    let removed = id.clone();
    blocking(move || {
        state
            .cluster
            .remove(&id, &session.actor(), &source, unix_now())
            .map_err(ApiError::from)
    })
    .await?;
    hub.disconnect(&removed);
    json(&api::OK)
}

async fn run_container(
    state: Arc<AppState>,
    node: String,
    body: RunRequest,
) -> Result<warp::reply::Response, Rejection> {
    check_name(&body.name)?;
    let spec = ContainerSpec {
        name: body.name.clone(),
        image: body.image,
        command: (!body.command.is_empty()).then_some(body.command),
        labels: BTreeMap::from([
            ("outpost.app".to_owned(), DIAGNOSTIC_APP.to_owned()),
            ("outpost.release".to_owned(), "0".to_owned()),
            ("outpost.service".to_owned(), body.name),
        ]),
        ..ContainerSpec::default()
    };
    let outcome = state
        .hub
        .command(
            &node,
            Command::RunContainer {
                spec: Box::new(spec),
            },
            COMMAND_TIMEOUT,
        )
        .await
        .map_err(|e| ApiError::NodeUnavailable(e.to_string()))?;
    match outcome.result {
        CommandResult::Ok { output } => json(&RunAnswer {
            container_id: output
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned(),
        }),
        CommandResult::Error { message } => {
            Err(warp::reject::custom(ApiError::NodeCommandFailed(message)))
        }
        CommandResult::Unsupported => Err(warp::reject::custom(ApiError::NodeCommandFailed(
            "the agent on this node does not support running containers".into(),
        ))),
    }
}

async fn logs(
    state: Arc<AppState>,
    node: String,
    name: String,
    query: LogsQuery,
) -> Result<warp::reply::Response, Rejection> {
    check_name(&name)?;
    let outcome = state
        .hub
        .command(
            &node,
            Command::Logs {
                name,
                tail: Some(query.tail.unwrap_or(200).min(10_000)),
                follow: false,
            },
            COMMAND_TIMEOUT,
        )
        .await
        .map_err(|e| ApiError::NodeUnavailable(e.to_string()))?;
    let mut lines: Vec<LogLine> = outcome
        .lines
        .into_iter()
        .map(|(stream, line)| LogLine { stream, line })
        .collect();
    match outcome.result {
        CommandResult::Ok { output } => {
            // Agents may return the lines in the result instead of as progress.
            if let Some(array) = output.get("lines").and_then(|v| v.as_array()) {
                for entry in array {
                    lines.push(LogLine {
                        stream: entry
                            .get("stream")
                            .and_then(|v| v.as_str())
                            .unwrap_or("stdout")
                            .to_owned(),
                        line: entry
                            .get("line")
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_owned(),
                    });
                }
            }
            json(&LogLines { lines })
        }
        CommandResult::Error { message } => {
            Err(warp::reject::custom(ApiError::NodeCommandFailed(message)))
        }
        CommandResult::Unsupported => Err(warp::reject::custom(ApiError::NodeCommandFailed(
            "the agent on this node does not support logs".into(),
        ))),
    }
}

fn check_name(name: &str) -> Result<(), Rejection> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(warp::reject::custom(ApiError::BadRequest(format!(
            "{name:?} is not a container name (letters, digits, '-', '_', '.')"
        ))))
    }
}
