//! The control socket (`DATA_DIR/console.sock`, mode 0600) that `outpostctl` talks to.
//! Only root — or the console's own user — can connect: the file mode keeps others out,
//! and the peer's credentials are checked again on every connection.

pub mod protocol;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::audit::{Actor, Source};
use crate::clock::{rfc3339, unix_now};
use crate::cluster::ClusterError;
use crate::license::{LicenseError, LoadedLicense};
use crate::state::AppState;
use protocol::{Request, Response, MAX_LINE_BYTES};

/// The socket's file name inside the data dir.
pub const SOCKET_NAME: &str = "console.sock";
const IO_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("another console is already serving {0}")]
    InUse(PathBuf),
    #[error("cannot set up the control socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no console is running with this data dir ({path} does not exist)")]
    NotRunning { path: PathBuf },
    #[error("permission denied on {path}: outpostctl must run as root")]
    PermissionDenied { path: PathBuf },
    #[error("the console did not answer properly: {0}")]
    Protocol(String),
}

/// Binds the socket, replacing a stale one, and makes it owner-only.
pub async fn bind(data_dir: &Path) -> Result<UnixListener, ControlError> {
    let path = data_dir.join(SOCKET_NAME);
    let io = |source| ControlError::Io {
        path: path.clone(),
        source,
    };
    if path.exists() {
        if UnixStream::connect(&path).await.is_ok() {
            return Err(ControlError::InUse(path));
        }
        std::fs::remove_file(&path).map_err(io)?;
    }
    let listener = UnixListener::bind(&path).map_err(io)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(listener)
}

/// Answers requests until the task is dropped.
pub async fn serve(listener: UnixListener, state: Arc<AppState>) {
    let own_uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let allowed = match stream.peer_cred() {
            Ok(cred) => cred.uid() == 0 || Some(cred.uid()) == own_uid,
            Err(_) => false,
        };
        if !allowed {
            tracing::warn!("control socket: refused a connection from another user");
            continue;
        }
        let state = state.clone();
        tokio::spawn(answer(stream, state));
    }
}

/// Reads one request and writes its answer. Reading and writing are bounded by
/// `IO_TIMEOUT`, the handling by the request's own [`Request::timeout`].
async fn answer(stream: UnixStream, state: Arc<AppState>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_LINE_BYTES as u64 + 1));
    let Ok(read_result) = tokio::time::timeout(IO_TIMEOUT, reader.read_line(&mut line)).await
    else {
        tracing::debug!("control connection timed out before its request");
        return;
    };
    let response = match read_result {
        Ok(_) if line.len() > MAX_LINE_BYTES => Response::Error {
            message: format!("request larger than {MAX_LINE_BYTES} bytes"),
        },
        Ok(_) => match serde_json::from_str::<Request>(&line) {
            Ok(request) => {
                let limit = request.timeout();
                tokio::time::timeout(limit, handle_async(state.clone(), request))
                    .await
                    .unwrap_or_else(|_| Response::Error {
                        message: format!(
                            "the console did not finish within {} s; see its log",
                            limit.as_secs()
                        ),
                    })
            }
            Err(e) => Response::Error {
                message: format!("not a request this console understands: {e}"),
            },
        },
        Err(e) => Response::Error {
            message: format!("cannot read the request: {e}"),
        },
    };
    let mut text = serde_json::to_string(&response).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    match tokio::time::timeout(IO_TIMEOUT, write.write_all(text.as_bytes())).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "control socket: cannot write the response"),
        Err(_) => tracing::debug!("control socket: writing the response timed out"),
    }
}

/// Node commands; everything else runs on the blocking pool (SQLite, hashing).
async fn handle_async(state: Arc<AppState>, request: Request) -> Response {
    let blocking = |state: Arc<AppState>, request: Request| async move {
        tokio::task::spawn_blocking(move || handle(&state, request))
            .await
            .unwrap_or_else(|e| Response::Error {
                message: format!("the console failed to handle the request: {e}"),
            })
    };
    match request {
        Request::RemoveNode { node } => {
            let hub = state.hub.clone();
            let removed = node.clone();
            let response = blocking(state, Request::RemoveNode { node }).await;
            if matches!(response, Response::Done { .. }) {
                hub.disconnect(&removed);
            }
            response
        }
        Request::FetchReleases => fetch_releases(&state).await,
        Request::UpdatesCheck => {
            match crate::http::updates::check_now(&state, &Actor::LocalRoot, &Source::Local).await {
                Ok(answer) => Response::View {
                    kind: "update_check".into(),
                    view: to_json(&answer),
                },
                Err(e) => Response::Error {
                    message: e.to_string(),
                },
            }
        }
        Request::Network => match crate::http::network::report(&state).await {
            Ok(report) => Response::View {
                kind: "network".into(),
                view: to_json(&report),
            },
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        },
        request @ (Request::AppStatus
        | Request::AppStart
        | Request::AppStop
        | Request::AppRestart
        | Request::AppLogs { .. }
        | Request::Preflight { .. }
        | Request::Deploy { .. }
        | Request::Rollback { .. }) => app(&state, request).await,
        other => blocking(state, other).await,
    }
}

/// The app lifecycle requests (they wait on the nodes).
async fn app(state: &AppState, request: Request) -> Response {
    let deployer = &state.deployer;
    let (actor, source) = (Actor::LocalRoot, Source::Local);
    let view =
        |kind: &str, value: Result<serde_json::Value, crate::deploy::DeployError>| match value {
            Ok(view) => Response::View {
                kind: kind.to_string(),
                view,
            },
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        };
    match request {
        Request::AppStatus => view("status", deployer.status().await.map(|s| to_json(&s))),
        Request::AppStart => view(
            "status",
            deployer.start(&actor, &source).await.map(|s| to_json(&s)),
        ),
        Request::AppStop => view(
            "status",
            deployer.stop(&actor, &source).await.map(|s| to_json(&s)),
        ),
        Request::AppRestart => view(
            "status",
            deployer.restart(&actor, &source).await.map(|s| to_json(&s)),
        ),
        Request::AppLogs {
            service,
            replica,
            tail,
        } => view(
            "logs",
            deployer
                .logs(&service, replica, tail)
                .await
                .map(|l| to_json(&l)),
        ),
        Request::Preflight { sequence } => view(
            "preflight",
            deployer
                .preflight(sequence)
                .await
                .map(|p| to_json(&crate::http::app::preflight_view(p))),
        ),
        Request::Deploy {
            sequence,
            override_preflight,
        } => view(
            "deployment",
            state
                .deployer
                .clone()
                .deploy(sequence, override_preflight, &actor, &source)
                .await
                .map(|d| to_json(&crate::http::app::deployment(d))),
        ),
        Request::Rollback { deployment_id } => view(
            "deployment",
            state
                .deployer
                .clone()
                .rollback_to(deployment_id, &actor, &source)
                .await
                .map(|d| to_json(&crate::http::app::deployment(d))),
        ),
        _ => Response::Error {
            message: "not an app request".into(),
        },
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn handle(state: &AppState, request: Request) -> Response {
    match request {
        Request::Status => match state
            .store
            .admin_exists()
            .and_then(|admin| Ok((admin, state.store.schema_version()?)))
        {
            Ok((admin_configured, schema_version)) => {
                let tls = state.certs.info();
                Response::Status(protocol::Status {
                    version: crate::VERSION.to_owned(),
                    url: state.base_url.clone(),
                    uptime_seconds: state.uptime_seconds(),
                    admin_configured,
                    schema_version,
                    tls_subject: tls.subject,
                    tls_fingerprint_sha256: tls.fingerprint_sha256,
                    tls_not_after: rfc3339(tls.not_after),
                })
            }
            Err(e) => {
                tracing::error!(error = %e, "control socket: status failed");
                Response::Error {
                    message: "the console could not read its state; see its log".into(),
                }
            }
        },
        Request::RotateKey { rotation } => {
            match state.licenses.rotate_key(
                &rotation,
                &Actor::LocalRoot,
                &Source::Local,
                unix_now(),
            ) {
                Ok((old_keyid, new_keyid)) => Response::View {
                    kind: "key_rotated".into(),
                    view: serde_json::json!({"old_keyid": old_keyid, "new_keyid": new_keyid}),
                },
                Err(e @ (LicenseError::Store(_) | LicenseError::StoredInvalid(_))) => {
                    failure("key rotation", &e)
                }
                Err(refused) => Response::Error {
                    message: refused.to_string(),
                },
            }
        }
        Request::LoadLicense { license, trust_key } => {
            match state.licenses.load(
                &license,
                trust_key.as_deref(),
                &Actor::LocalRoot,
                &Source::Local,
                unix_now(),
            ) {
                Ok(loaded) => Response::License {
                    license: Some(license_view(loaded)),
                },
                Err(LicenseError::KeyConfirmationRequired { fingerprint }) => {
                    match state.licenses.inspect(&license) {
                        Ok(claims) => Response::KeyConfirmationRequired {
                            fingerprint,
                            customer: claims.customer,
                            app_id: claims.app_id,
                        },
                        Err(e) => failure("license load", &e),
                    }
                }
                Err(e @ (LicenseError::Store(_) | LicenseError::StoredInvalid(_))) => {
                    failure("license load", &e)
                }
                Err(refused) => Response::Error {
                    message: refused.to_string(),
                },
            }
        }
        Request::ShowLicense => match state.licenses.current() {
            Ok(current) => Response::License {
                license: current.map(license_view),
            },
            Err(e) => failure("license show", &e),
        },
        Request::ListNodes => match state.cluster.nodes() {
            Ok(records) => Response::Nodes {
                nodes: records.into_iter().map(|r| node_view(state, r)).collect(),
            },
            Err(e) => failure("nodes", &e),
        },
        Request::JoinToken { ttl, labels } => {
            let ttl = match ttl.as_deref().map(crate::config::parse_duration) {
                None => std::time::Duration::from_secs(3600),
                Some(Ok(ttl)) => ttl,
                Some(Err(why)) => {
                    return Response::Error {
                        message: format!("--ttl: {why}"),
                    }
                }
            };
            let now = unix_now();
            match state.cluster.create_join_token(
                ttl,
                &labels,
                &Actor::LocalRoot,
                &Source::Local,
                now,
            ) {
                Ok(token) => Response::JoinToken {
                    command: crate::http::join_command(&state.cluster_url, &token.to_string()),
                    token: token.to_string(),
                    expires_at: rfc3339(now + ttl.as_secs() as i64),
                },
                Err(e) => cluster_failure("join token", e),
            }
        }
        Request::SetNodeLabels { node, labels } => {
            match state
                .cluster
                .set_labels(&node, &labels, &Actor::LocalRoot, &Source::Local)
            {
                Ok(()) => Response::Done {
                    message: format!("labels of {node} set"),
                },
                Err(e) => cluster_failure("labels", e),
            }
        }
        Request::RemoveNode { node } => {
            match state
                .cluster
                .remove(&node, &Actor::LocalRoot, &Source::Local, unix_now())
            {
                Ok(()) => Response::Done {
                    message: format!("{node} removed; its agent is refused from now on"),
                },
                Err(e) => cluster_failure("remove", e),
            }
        }
        Request::LoadRelease { release } => {
            match state.releases.load(
                &release,
                "file",
                &Actor::LocalRoot,
                &Source::Local,
                unix_now(),
            ) {
                Ok((loaded, fresh)) => Response::Done {
                    message: format!(
                        "release {} (sequence {}) {}",
                        loaded.release.version,
                        loaded.release.sequence,
                        if fresh {
                            "loaded"
                        } else {
                            "was already loaded"
                        }
                    ),
                },
                Err(refused) if refused.is_refusal() => Response::Error {
                    message: refused.to_string(),
                },
                Err(e) => failure("release load", &e),
            }
        }
        Request::ListReleases => match state.releases.list() {
            Ok(releases) => Response::Releases {
                releases: releases
                    .into_iter()
                    .map(|r| protocol::Release {
                        sequence: r.release.sequence,
                        version: r.release.version,
                        channel: r.release.channel,
                        required: r.release.required,
                        images: r.release.images.len(),
                        source: r.source,
                        loaded_at: rfc3339(r.loaded_at),
                        digest: r.digest,
                    })
                    .collect(),
            },
            Err(e) => failure("releases", &e),
        },
        Request::Outbound { limit, before } => {
            let limit = limit.unwrap_or(50);
            if !(1..=500).contains(&limit) {
                return Response::Error {
                    message: "--limit must be between 1 and 500".into(),
                };
            }
            match state.store.outbound_page(before, limit) {
                Ok(records) => Response::Outbound {
                    next_before: (records.len() == limit as usize)
                        .then(|| records.last().map(|r| r.id))
                        .flatten(),
                    entries: records.into_iter().map(outbound_view).collect(),
                },
                Err(e) => failure("outbound log", &e),
            }
        }
        Request::Updates => match crate::http::updates::current(state) {
            Ok(view) => Response::View {
                kind: "updates".into(),
                view: to_json(&view),
            },
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        },
        Request::OutboundSettings {
            update_schedule,
            airgap_mode,
            https_proxy,
            no_proxy,
        } => {
            let change = crate::updates::SettingsChange {
                update_schedule,
                airgap_mode,
                https_proxy,
                no_proxy,
            };
            let changed = if change == crate::updates::SettingsChange::default() {
                Ok(())
            } else {
                state
                    .updates
                    .change_settings(&change, &Actor::LocalRoot, &Source::Local, unix_now())
                    .map(drop)
                    .map_err(crate::updates::UpdatesError::from)
            };
            match changed.and_then(|()| crate::http::updates::current_settings(state)) {
                Ok(view) => Response::View {
                    kind: "outbound_settings".into(),
                    view: to_json(&view),
                },
                Err(e) => Response::Error {
                    message: e.to_string(),
                },
            }
        }
        Request::FetchReleases
        | Request::UpdatesCheck
        | Request::Network
        | Request::AppStatus
        | Request::AppStart
        | Request::AppStop
        | Request::AppRestart
        | Request::AppLogs { .. }
        | Request::Preflight { .. }
        | Request::Deploy { .. }
        | Request::Rollback { .. } => Response::Error {
            message: "this request is answered on the async side".into(),
        },
        Request::Deployments { id: Some(id), .. } => match state.deployer.view(id) {
            Ok(d) => Response::View {
                kind: "deployment".into(),
                view: to_json(&crate::http::app::deployment(d)),
            },
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        },
        Request::Deployments { id: None, limit } => {
            match state.deployer.history(limit.clamp(1, 500)) {
                Ok((deployments, active)) => Response::View {
                    kind: "deployments".into(),
                    view: serde_json::json!({
                        "deployments": deployments
                            .into_iter()
                            .map(crate::http::app::deployment)
                            .collect::<Vec<_>>(),
                        "active": active,
                    }),
                },
                Err(e) => Response::Error {
                    message: e.to_string(),
                },
            }
        }
        Request::Registries => match state.registries.view() {
            Ok(view) => Response::View {
                kind: "registries".into(),
                view: to_json(&view),
            },
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        },
        Request::SetRegistryRules { rules } => {
            let parsed: Result<Vec<crate::deploy::registries::RuleView>, String> = rules
                .iter()
                .map(|rule| {
                    rule.split_once('=')
                        .map(|(from, to)| crate::deploy::registries::RuleView {
                            from: from.to_string(),
                            to: to.to_string(),
                        })
                        .ok_or_else(|| format!("{rule:?} is not FROM=TO"))
                })
                .collect();
            let kept = state.registries.view().map(|v| {
                v.credentials
                    .into_iter()
                    .filter(|c| c.source == "admin")
                    .map(|c| crate::deploy::registries::CredentialInput {
                        host: c.host,
                        username: c.username,
                        password: None,
                    })
                    .collect::<Vec<_>>()
            });
            match (parsed, kept) {
                (Err(message), _) => Response::Error { message },
                (_, Err(e)) => Response::Error {
                    message: e.to_string(),
                },
                (Ok(rules), Ok(credentials)) => match state.registries.update(
                    &rules,
                    &credentials,
                    &Actor::LocalRoot,
                    &Source::Local,
                    unix_now(),
                ) {
                    Ok(view) => Response::View {
                        kind: "registries".into(),
                        view: to_json(&view),
                    },
                    Err(e) => Response::Error {
                        message: e.to_string(),
                    },
                },
            }
        }
        Request::ResetPassword => {
            match state
                .auth
                .issue_setup_token(&Actor::LocalRoot, &Source::Local, unix_now())
            {
                Ok(token) => Response::SetupLink {
                    url: state.setup_link(&token),
                },
                Err(e) => {
                    tracing::error!(error = %e, "control socket: reset-password failed");
                    Response::Error {
                        message: "the console could not issue a setup link; see its log".into(),
                    }
                }
            }
        }
    }
}

async fn fetch_releases(state: &AppState) -> Response {
    let installed = state.deployer.installed_sequence();
    match state
        .upstream
        .fetch_releases(installed, &Actor::LocalRoot, &Source::Local, unix_now())
        .await
    {
        Ok(summary) => Response::Fetched(protocol::Fetched {
            index_version: summary.index_version,
            fetched: summary.fetched,
            present: summary.present,
            refused: summary
                .refused
                .into_iter()
                .map(|r| protocol::RefusedRelease {
                    sequence: r.sequence,
                    reason: r.reason,
                })
                .collect(),
        }),
        Err(e) if e.is_internal() => failure("release fetch", &e),
        Err(refused) => Response::Error {
            message: refused.to_string(),
        },
    }
}

fn outbound_view(record: crate::store::OutboundRecord) -> protocol::OutboundEntry {
    protocol::OutboundEntry {
        id: record.id,
        at: rfc3339(record.at),
        method: record.method,
        url: record.url,
        purpose: record.purpose,
        request_headers: record.request_headers,
        request_fields: record.request_fields,
        status: record.status,
        error: record.error,
        bytes_sent: record.bytes_sent,
        bytes_received: record.bytes_received,
        duration_ms: record.duration_ms,
        via_proxy: record.via_proxy,
    }
}

fn failure(what: &str, cause: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %cause, "control socket: {what} failed");
    Response::Error {
        message: format!("{what} failed inside the console; see its log"),
    }
}

fn cluster_failure(what: &str, error: ClusterError) -> Response {
    match error {
        ClusterError::Store(_) | ClusterError::Ca(_) => failure(what, &error),
        refused => Response::Error {
            message: refused.to_string(),
        },
    }
}

fn node_view(state: &AppState, record: crate::store::NodeRecord) -> protocol::Node {
    let facts: Option<outpost_agent::protocol::Facts> = record
        .facts
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok());
    protocol::Node {
        status: if state.hub.status(&record.id).online {
            "online".into()
        } else {
            "offline".into()
        },
        last_seen_at: record.last_seen_at.map(rfc3339),
        os: facts.as_ref().map(|f| f.os.clone()),
        docker_version: facts
            .as_ref()
            .and_then(|f| f.docker.as_ref().map(|d| d.version.clone())),
        addresses: facts.map(|f| f.addresses).unwrap_or_default(),
        id: record.id,
        hostname: record.hostname,
        labels: record.labels,
    }
}

fn license_view(loaded: LoadedLicense) -> protocol::License {
    let l = loaded.license;
    protocol::License {
        license_id: l.license_id,
        customer: l.customer,
        app_id: l.app_id,
        channel: l.channel,
        expires_at: rfc3339(l.expires_at.unix_timestamp()),
        entitlements: l.entitlements,
        airgap: l.airgap,
        max_nodes: l.max_nodes,
        api_host: l.api_host,
        registry_username: l.registry.map(|r| r.username),
        vendor_key_fingerprint: loaded.fingerprint,
    }
}

/// Sends one request to the console serving `data_dir` and returns its answer.
pub async fn call(data_dir: &Path, request: &Request) -> Result<Response, ControlError> {
    let path = data_dir.join(SOCKET_NAME);
    let stream = match UnixStream::connect(&path).await {
        Ok(stream) => stream,
        Err(e) => {
            return Err(match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    ControlError::NotRunning { path }
                }
                std::io::ErrorKind::PermissionDenied => ControlError::PermissionDenied { path },
                _ => ControlError::Io { path, source: e },
            })
        }
    };
    let exchange = async {
        let (read, mut write) = stream.into_split();
        let mut text =
            serde_json::to_string(request).map_err(|e| ControlError::Protocol(e.to_string()))?;
        text.push('\n');
        write
            .write_all(text.as_bytes())
            .await
            .map_err(|e| ControlError::Protocol(e.to_string()))?;
        let mut line = String::new();
        BufReader::new(read.take(MAX_LINE_BYTES as u64 + 1))
            .read_line(&mut line)
            .await
            .map_err(|e| ControlError::Protocol(e.to_string()))?;
        serde_json::from_str::<Response>(&line).map_err(|e| ControlError::Protocol(e.to_string()))
    };
    let limit = request.timeout() + IO_TIMEOUT;
    tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| ControlError::Protocol(format!("no answer within {} s", limit.as_secs())))?
}
