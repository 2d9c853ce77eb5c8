//! The agent channel's routes on :9879: `POST /v1/join` (no client certificate yet),
//! `POST /v1/renew` and `GET /v1/connect` (mutual TLS: the client certificate names the
//! node). The WebSocket session hands decoded messages to the hub.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use outpost_agent::protocol::{self, AgentMessage, ConsoleMessage};
use serde::{Deserialize, Serialize};
use warp::filters::BoxedFilter;
use warp::ws::{Message, WebSocket, Ws};
use warp::{Filter, Rejection, Reply};

use super::filters::{json_body, source, BodyLimit, PeerCertificate};
use super::{blocking, error, json, ApiError};
use crate::audit::Source;
use crate::clock::unix_now;
use crate::cluster::ca::client_identity;
use crate::cluster::hub::Hub;
use crate::cluster::token::JoinToken;
use crate::cluster::{Cluster, ClusterError};

const BODY_LIMIT: BodyLimit = BodyLimit {
    bytes: 64 * 1024,
    label: "64 KiB",
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinRequest {
    token: String,
    hostname: String,
    csr_pem: String,
}

#[derive(Debug, Serialize)]
struct JoinAnswer {
    node_id: String,
    cert_pem: String,
    ca_pem: String,
    labels: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RenewRequest {
    csr_pem: String,
}

#[derive(Debug, Serialize)]
struct RenewAnswer {
    cert_pem: String,
}

/// The whole agent channel filter.
pub fn routes(cluster: Arc<Cluster>, hub: Arc<Hub>) -> BoxedFilter<(warp::reply::Response,)> {
    let with_cluster = {
        let cluster = cluster.clone();
        warp::any().map(move || cluster.clone())
    };
    let join = warp::path!("v1" / "join")
        .and(warp::post())
        .and(with_cluster.clone())
        .and(source())
        .and(json_body::<JoinRequest>(BODY_LIMIT))
        .and_then(join);
    let renew = warp::path!("v1" / "renew")
        .and(warp::post())
        .and(with_cluster.clone())
        .and(node_identity(cluster.clone()))
        .and(json_body::<RenewRequest>(BODY_LIMIT))
        .and_then(renew);
    let connect = warp::path!("v1" / "connect")
        .and(warp::get())
        .and(node_identity(cluster))
        .and(warp::ws())
        .map(move |(node_id, _serial): (String, String), ws: Ws| {
            let hub = hub.clone();
            ws.max_message_size(protocol::MAX_MESSAGE_BYTES)
                .max_frame_size(protocol::MAX_MESSAGE_BYTES)
                .on_upgrade(move |socket| session(socket, hub, node_id))
                .into_response()
        });
    join.or(renew)
        .unify()
        .or(connect)
        .unify()
        .recover(error::recover)
        .unify()
        .boxed()
}

/// The node named by the verified client certificate, if it is still admitted.
fn node_identity(
    cluster: Arc<Cluster>,
) -> impl Filter<Extract = ((String, String),), Error = Rejection> + Clone {
    warp::ext::optional::<PeerCertificate>().and_then(
        move |certificate: Option<PeerCertificate>| {
            let cluster = cluster.clone();
            async move {
                let Some(certificate) = certificate else {
                    return Err(warp::reject::custom(ApiError::NodeCertificateRequired));
                };
                let Some((node_id, serial)) = client_identity(&certificate.0) else {
                    return Err(warp::reject::custom(ApiError::NodeRefused(
                        "the client certificate names no node".into(),
                    )));
                };
                let identity = (node_id.clone(), serial.clone());
                blocking(move || {
                    cluster.authorize(&node_id, &serial).map_err(|e| {
                        tracing::warn!(node = %node_id, "refused agent: {e}");
                        ApiError::from(e)
                    })
                })
                .await
                .map_err(warp::reject::custom)?;
                Ok(identity)
            }
        },
    )
}

async fn join(
    cluster: Arc<Cluster>,
    source: Source,
    body: JoinRequest,
) -> Result<warp::reply::Response, Rejection> {
    let token = JoinToken::parse(&body.token)
        .map_err(|e| warp::reject::custom(ApiError::BadRequest(e.to_string())))?;
    let joined = blocking(move || {
        cluster
            .join(&token, &body.csr_pem, &body.hostname, &source, unix_now())
            .map_err(ApiError::from)
    })
    .await?;
    json(&JoinAnswer {
        node_id: joined.node_id,
        cert_pem: joined.cert_pem,
        ca_pem: joined.ca_pem,
        labels: joined.labels,
    })
}

async fn renew(
    cluster: Arc<Cluster>,
    (node_id, serial): (String, String),
    body: RenewRequest,
) -> Result<warp::reply::Response, Rejection> {
    let cert_pem = blocking(move || {
        cluster
            .renew(&node_id, &serial, &body.csr_pem, unix_now())
            .map_err(ApiError::from)
    })
    .await?;
    json(&RenewAnswer { cert_pem })
}

/// One agent's WebSocket: decode, hand to the hub, send replies and commands, and close
/// on garbage, on a replacement connection, or when heartbeats stop.
async fn session(socket: WebSocket, hub: Arc<Hub>, node_id: String) {
    let (registration, mut outbox) = hub.register(&node_id);
    let (mut sink, mut stream) = socket.split();
    let mut check = tokio::time::interval(hub.offline_after() / 3);
    check.tick().await;
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let message = match incoming {
                    Some(Ok(message)) => message,
                    Some(Err(e)) => {
                        tracing::warn!(node = %node_id, error = %e, "agent connection failed");
                        break;
                    }
                    None => break,
                };
                if message.is_close() {
                    break;
                }
                if message.is_ping() || message.is_pong() {
                    continue;
                }
                let Ok(text) = message.to_str() else {
                    tracing::warn!(node = %node_id, "closing: the agent sent a binary frame");
                    break;
                };
                let decoded = match protocol::decode::<AgentMessage>(text) {
                    Ok(decoded) => decoded,
                    Err(e) => {
                        tracing::warn!(node = %node_id, "closing: {e}");
                        break;
                    }
                };
                if let Some(reply) = hub.on_message(&registration, decoded, now_ms()) {
                    if send(&mut sink, &reply).await.is_err() {
                        break;
                    }
                }
            }
            outgoing = outbox.recv() => match outgoing {
                Some(message) => {
                    if send(&mut sink, &message).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            _ = check.tick() => {
                if hub.is_stale(&registration) {
                    tracing::warn!(node = %node_id, "closing: no heartbeat for {:?}", hub.offline_after());
                    break;
                }
            }
        }
    }
    let _ = sink.close().await;
}

async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    message: &ConsoleMessage,
) -> Result<(), ()> {
    let text = serde_json::to_string(message).map_err(|_| ())?;
    sink.send(Message::text(text)).await.map_err(|_| ())
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl From<ClusterError> for ApiError {
    fn from(e: ClusterError) -> ApiError {
        let message = e.to_string();
        match e {
            ClusterError::WrongCluster { .. } => ApiError::JoinRefused {
                code: "wrong_cluster",
                message,
            },
            ClusterError::UnknownToken => ApiError::JoinRefused {
                code: "token_unknown",
                message,
            },
            ClusterError::UsedToken => ApiError::JoinRefused {
                code: "token_used",
                message,
            },
            ClusterError::ExpiredToken => ApiError::JoinRefused {
                code: "token_expired",
                message,
            },
            ClusterError::UnknownNode(id) => ApiError::NodeNotFound(id),
            ClusterError::Revoked(_) => ApiError::NodeRefused(message),
            ClusterError::InvalidInput(_) => ApiError::BadRequest(message),
            ClusterError::Ca(crate::cluster::ca::CaError::BadRequest(_)) => {
                ApiError::BadRequest(message)
            }
            ClusterError::Ca(e) => ApiError::internal("cluster CA failure", &e),
            ClusterError::Store(e) => e.into(),
        }
    }
}
