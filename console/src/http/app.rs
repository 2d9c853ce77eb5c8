//! The app lifecycle: preflight, deploy, the version history, rollback, status, start/stop/
//! restart, container logs, and the registry settings pulls use.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use outpost_agent::protocol::{Command, Progress};
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::filters::{json_body, source, DEFAULT_BODY_LIMIT};
use super::{admin, blocking, json, AdminHandler, ApiError, AppState};
use crate::audit::Source;
use crate::auth::AdminSession;
use crate::clock::rfc3339;
use crate::deploy::registries::{CredentialInput, RuleView};
use crate::deploy::service::{DeploymentView, PreflightView, MAX_TAIL};

/// A followed log ends after this long; the client asks again to go on.
const FOLLOW_LIMIT: Duration = Duration::from_secs(600);
/// Lines buffered for a slow follower before new ones are dropped.
const FOLLOW_BUFFER: usize = 1024;

#[derive(Debug, Deserialize)]
pub struct PreflightQuery {
    pub sequence: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    pub sequence: u64,
    #[serde(default)]
    pub override_preflight: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub deployment_id: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub struct LogsQuery {
    pub service: String,
    pub replica: Option<u32>,
    pub tail: Option<u32>,
    #[serde(default)]
    pub follow: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistriesUpdate {
    pub rules: Vec<RuleView>,
    pub credentials: Vec<CredentialInput>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Preflight {
    sequence: u64,
    version: String,
    outcome: &'static str,
    blocking: bool,
    ran_at: String,
    results: Vec<PreflightResult>,
}

#[derive(Debug, Serialize)]
struct PreflightResult {
    check: String,
    node: Option<String>,
    node_name: Option<String>,
    outcome: &'static str,
    message: String,
}

pub(crate) fn preflight_view(view: PreflightView) -> Preflight {
    Preflight {
        sequence: view.sequence,
        version: view.version,
        outcome: view.report.outcome.as_str(),
        blocking: view.report.blocking,
        ran_at: rfc3339(view.ran_at),
        results: view
            .report
            .results
            .into_iter()
            .map(|r| PreflightResult {
                node_name: r
                    .node
                    .as_ref()
                    .map(|n| view.node_names.get(n).cloned().unwrap_or_else(|| n.clone())),
                check: r.check,
                node: r.node,
                outcome: r.outcome.as_str(),
                message: r.message,
            })
            .collect(),
    }
}

/// The wire form: times as RFC 3339.
#[derive(Debug, Serialize)]
pub(crate) struct Deployment {
    id: i64,
    kind: String,
    sequence: u64,
    version: String,
    previous_sequence: Option<u64>,
    config_hash: String,
    actor: String,
    started_at: String,
    finished_at: Option<String>,
    state: String,
    message: Option<String>,
    preflight_overridden: bool,
    rollback_of: Option<i64>,
    progress: crate::deploy::service::ProgressView,
    steps: Vec<Step>,
    events: Vec<Event>,
}

#[derive(Debug, Serialize)]
struct Step {
    index: u32,
    node: String,
    node_name: String,
    action: String,
    target: String,
    service: Option<String>,
    state: String,
    message: Option<String>,
    progress: Option<crate::deploy::service::BytesProgress>,
    started_at: Option<String>,
    finished_at: Option<String>,
}

#[derive(Debug, Serialize)]
struct Event {
    at: String,
    message: String,
}

pub(crate) fn deployment(view: DeploymentView) -> Deployment {
    Deployment {
        id: view.id,
        kind: view.kind,
        sequence: view.sequence,
        version: view.version,
        previous_sequence: view.previous_sequence,
        config_hash: view.config_hash,
        actor: view.actor,
        started_at: rfc3339(view.started_at),
        finished_at: view.finished_at.map(rfc3339),
        state: view.state,
        message: view.message,
        preflight_overridden: view.preflight_overridden,
        rollback_of: view.rollback_of,
        progress: view.progress,
        steps: view
            .steps
            .into_iter()
            .map(|s| Step {
                index: s.index,
                node: s.node,
                node_name: s.node_name,
                action: s.action,
                target: s.target,
                service: s.service,
                state: s.state,
                message: s.message,
                progress: s.progress,
                started_at: s.started_at.map(rfc3339),
                finished_at: s.finished_at.map(rfc3339),
            })
            .collect(),
        events: view
            .events
            .into_iter()
            .map(|e| Event {
                at: rfc3339(e.at),
                message: e.message,
            })
            .collect(),
    }
}

fn accepted(view: DeploymentView) -> Result<warp::reply::Response, Rejection> {
    Ok(
        warp::reply::with_status(warp::reply::json(&deployment(view)), StatusCode::ACCEPTED)
            .into_response(),
    )
}

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (AdminHandler,), Error = Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());

    let preflight = warp::path!("app" / "preflight")
        .and(warp::get())
        .and(with_state.clone())
        .and(warp::query::<PreflightQuery>())
        .map(|state: Arc<AppState>, query: PreflightQuery| {
            admin(move |_: AdminSession| async move {
                let view = state
                    .deployer
                    .preflight(query.sequence)
                    .await
                    .map_err(ApiError::from)?;
                json(&preflight_view(view))
            })
        });

    let deploy = warp::path!("app" / "deploy")
        .and(warp::post())
        .and(with_state.clone())
        .and(source())
        .and(json_body::<DeployRequest>(DEFAULT_BODY_LIMIT))
        .map(
            |state: Arc<AppState>, source: Source, body: DeployRequest| {
                admin(move |session: AdminSession| async move {
                    let view = state
                        .deployer
                        .deploy(
                            body.sequence,
                            body.override_preflight,
                            &session.actor(),
                            &source,
                        )
                        .await
                        .map_err(ApiError::from)?;
                    accepted(view)
                })
            },
        );

    let history = warp::path!("app" / "deployments")
        .and(warp::get())
        .and(with_state.clone())
        .and(warp::query::<HistoryQuery>())
        .map(|state: Arc<AppState>, query: HistoryQuery| {
            admin(move |_: AdminSession| async move {
                let limit = query.limit.unwrap_or(100).clamp(1, 500);
                let (views, active) =
                    blocking(move || state.deployer.history(limit).map_err(ApiError::from)).await?;
                json(&serde_json::json!({
                    "deployments": views.into_iter().map(deployment).collect::<Vec<_>>(),
                    "active": active,
                }))
            })
        });

    let one = warp::path!("app" / "deployments" / i64)
        .and(warp::get())
        .and(with_state.clone())
        .map(|id: i64, state: Arc<AppState>| {
            admin(move |_: AdminSession| async move {
                let view =
                    blocking(move || state.deployer.view(id).map_err(ApiError::from)).await?;
                json(&deployment(view))
            })
        });

    let rollback = warp::path!("app" / "rollback")
        .and(warp::post())
        .and(with_state.clone())
        .and(source())
        .and(json_body::<RollbackRequest>(DEFAULT_BODY_LIMIT))
        .map(
            |state: Arc<AppState>, source: Source, body: RollbackRequest| {
                admin(move |session: AdminSession| async move {
                    let view = state
                        .deployer
                        .rollback_to(body.deployment_id, &session.actor(), &source)
                        .await
                        .map_err(ApiError::from)?;
                    accepted(view)
                })
            },
        );

    let status = warp::path!("app" / "status")
        .and(warp::get())
        .and(with_state.clone())
        .map(|state: Arc<AppState>| {
            admin(move |_: AdminSession| async move {
                let status = state.deployer.status().await.map_err(ApiError::from)?;
                json(&status)
            })
        });

    let operate = warp::path!("app" / String)
        .and(warp::post())
        .and(with_state.clone())
        .and(source())
        .and(json_body::<Empty>(DEFAULT_BODY_LIMIT))
        .and_then(
            |action: String, state: Arc<AppState>, source: Source, _: Empty| async move {
                if !matches!(action.as_str(), "start" | "stop" | "restart") {
                    return Err(warp::reject::not_found());
                }
                Ok::<AdminHandler, Rejection>(admin(move |session: AdminSession| async move {
                    let actor = session.actor();
                    let deployer = &state.deployer;
                    let status = match action.as_str() {
                        "start" => deployer.start(&actor, &source).await,
                        "stop" => deployer.stop(&actor, &source).await,
                        _ => deployer.restart(&actor, &source).await,
                    }
                    .map_err(ApiError::from)?;
                    json(&status)
                }))
            },
        );

    let logs = warp::path!("app" / "logs")
        .and(warp::get())
        .and(with_state.clone())
        .and(warp::query::<LogsQuery>())
        .map(|state: Arc<AppState>, query: LogsQuery| {
            admin(move |_: AdminSession| async move { logs(state, query).await })
        });

    let registries_get = warp::path!("registries")
        .and(warp::get())
        .and(with_state.clone())
        .map(|state: Arc<AppState>| {
            admin(move |_: AdminSession| async move {
                let view =
                    blocking(move || state.registries.view().map_err(ApiError::from)).await?;
                json(&view)
            })
        });

    let registries_put = warp::path!("registries")
        .and(warp::put())
        .and(with_state)
        .and(source())
        .and(json_body::<RegistriesUpdate>(DEFAULT_BODY_LIMIT))
        .map(
            |state: Arc<AppState>, source: Source, body: RegistriesUpdate| {
                admin(move |session: AdminSession| async move {
                    let view = blocking(move || {
                        state
                            .registries
                            .update(
                                &body.rules,
                                &body.credentials,
                                &session.actor(),
                                &source,
                                crate::clock::unix_now(),
                            )
                            .map_err(ApiError::from)
                    })
                    .await?;
                    json(&view)
                })
            },
        );

    preflight
        .or(deploy)
        .unify()
        .or(history)
        .unify()
        .or(one)
        .unify()
        .or(rollback)
        .unify()
        .or(status)
        .unify()
        .or(logs)
        .unify()
        .or(operate)
        .unify()
        .or(registries_get)
        .unify()
        .or(registries_put)
        .unify()
}

async fn logs(state: Arc<AppState>, query: LogsQuery) -> Result<warp::reply::Response, Rejection> {
    if query.service.is_empty() || query.service.len() > 128 {
        return Err(ApiError::BadRequest("Name a service (at most 128 bytes).".into()).into());
    }
    let tail = query.tail.unwrap_or(200);
    if !(1..=MAX_TAIL).contains(&tail) {
        return Err(ApiError::BadRequest(format!("tail must be 1 to {MAX_TAIL}.")).into());
    }
    let replica = query.replica.unwrap_or(1);
    if !query.follow {
        let logs = state
            .deployer
            .logs(&query.service, replica, tail)
            .await
            .map_err(ApiError::from)?;
        return json(&logs);
    }
    let location = state
        .deployer
        .locate(&query.service, replica)
        .await
        .map_err(ApiError::from)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(FOLLOW_BUFFER);
    let nodes = state.deployer.nodes().clone();
    let sender = tx.clone();
    tokio::spawn(async move {
        let on_progress: crate::cluster::hub::ProgressFn = Box::new(move |p: &Progress| {
            if let Progress::LogLine { stream, line } = p {
                let mut text = serde_json::json!({ "stream": stream, "line": line }).to_string();
                text.push('\n');
                let _ = sender.try_send(Bytes::from(text));
            }
        });
        let command = Command::Logs {
            name: location.container,
            tail: Some(tail),
            follow: true,
        };
        // Ends when the agent ends the follow, after the limit, or when the client goes away
        // (dropping the command cancels it on the agent).
        tokio::select! {
            _ = nodes.command(&location.node, command, FOLLOW_LIMIT, Some(on_progress)) => {}
            _ = tx.closed() => {}
        }
    });
    let body = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|chunk| chunk.map(Ok::<Bytes, std::convert::Infallible>))
    });
    let mut response = warp::reply::stream(body).into_response();
    response.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("application/x-ndjson"),
    );
    response.headers_mut().insert(
        warp::http::header::CACHE_CONTROL,
        warp::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}
