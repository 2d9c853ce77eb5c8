//! The connected node (docs/CLUSTER.md, "Connected"): mutual TLS to the console, the
//! `GET /v1/connect` WebSocket, `hello` → `welcome`, heartbeats, commands with their
//! progress and results, facts when they change, certificate renewal at half-life, and
//! reconnecting with backoff for as long as the console accepts this node.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::{Fuse, FutureExt};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::backoff::{Backoff, BackoffPolicy};
use super::commands::{self, Admission, Cancelled, CommandRunner, CommandTable, FactsSource};
use super::http::{error_details, printable};
use super::identity::Identity;
use super::renew::{renew, RenewError};
use super::tls::{self, refused_by_alert, DialError};
use crate::protocol::{
    self, AgentMessage, CommandResult, ConsoleMessage, Facts, MAX_MESSAGE_BYTES, MISSED_HEARTBEATS,
    PROTOCOL_VERSION,
};

/// The WebSocket path on the console.
pub const CONNECT_PATH: &str = "/v1/connect";

/// How the link behaves; [`LinkConfig::new`] gives the contract's defaults.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Where a renewed key and certificate are stored.
    pub data_dir: PathBuf,
    pub backoff: BackoffPolicy,
    /// How often facts are collected again (and sent if they changed).
    pub facts_interval: Duration,
    /// TCP + TLS + WebSocket upgrade.
    pub connect_timeout: Duration,
    /// From `hello` to `welcome`.
    pub welcome_timeout: Duration,
    /// After a failed renewal, the next try; also the least time between two renewals.
    pub renew_retry: Duration,
}

impl LinkConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> LinkConfig {
        LinkConfig {
            data_dir: data_dir.into(),
            backoff: BackoffPolicy::default(),
            facts_interval: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(20),
            welcome_timeout: Duration::from_secs(30),
            renew_retry: Duration::from_secs(60),
        }
    }
}

/// What the link needs from the rest of the agent.
#[derive(Clone)]
pub struct Services {
    pub runner: Arc<dyn CommandRunner>,
    pub facts: Arc<dyn FactsSource>,
}

/// What the link is doing, for whoever watches (the CLI prints `connected to …` lines).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStatus {
    /// A session is open and welcomed.
    pub connected: bool,
    /// Sessions welcomed so far.
    pub connections: u64,
    /// The console's URL.
    pub console: String,
    /// As the console's `welcome` named it.
    pub node_id: Option<String>,
    pub heartbeat: Option<Duration>,
    /// Console time minus local time.
    pub clock_skew_ms: Option<i64>,
    /// Certificates renewed so far.
    pub renewals: u64,
    /// Why the last connection ended or failed.
    pub last_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The console refused this node's certificate: the node was removed or its
    /// certificate revoked (or it expired). Retrying cannot help.
    #[error(
        "this node was removed from the console or its certificate was revoked; join it again \
         with a new token"
    )]
    Refused { node_id: String, reason: String },
}

/// Keeps the node connected until `shutdown` completes (then `Ok`) or the console refuses
/// the node's identity (`Err`). Every other failure is retried with backoff.
pub async fn maintain<S>(
    config: LinkConfig,
    identity: Identity,
    services: Services,
    status: watch::Sender<LinkStatus>,
    shutdown: S,
) -> Result<(), LinkError>
where
    S: Future<Output = ()>,
{
    let shutdown = shutdown.fuse();
    tokio::pin!(shutdown);
    let (outbox_tx, mut outbox_rx) = mpsc::channel(OUTBOX_CAPACITY);
    status.send_modify(|s| s.console = identity.console().to_string());
    let link = Link {
        config,
        services,
        status,
        commands: Arc::new(CommandTable::default()),
        outbox: outbox_tx,
    };
    let mut backoff = Backoff::new(link.config.backoff);
    let mut identity = identity;
    let mut renew_gate = Instant::now();
    loop {
        let refused = |reason: String, identity: &Identity| {
            tracing::error!(node_id = identity.node_id(), %reason, "the console refused this node");
            Err(LinkError::Refused {
                node_id: identity.node_id().to_owned(),
                reason,
            })
        };
        if Instant::now() >= renew_gate && renewal_due(&identity, link.skew_ms()) {
            // Not raced against shutdown: a renewal cut short could lose the only valid
            // certificate. It is bounded by its own timeouts.
            let outcome = renew(&identity).await;
            match link.apply_renewal(outcome, &mut renew_gate) {
                Ok(Some(renewed)) => identity = renewed,
                Ok(None) => {}
                Err(reason) => return refused(reason, &identity),
            }
        }
        let end = session(
            &link,
            &identity,
            &mut outbox_rx,
            &mut renew_gate,
            shutdown.as_mut(),
        )
        .await;
        link.status.send_modify(|s| s.connected = false);
        let follows = link.commands.cancel_follows();
        if follows > 0 {
            tracing::info!(follows, "stopped the log follows of the closed connection");
        }
        match end {
            SessionEnd::Shutdown => return Ok(()),
            SessionEnd::Refused(reason) => return refused(reason, &identity),
            SessionEnd::Renewed(renewed) => {
                identity = *renewed;
                backoff.reset();
            }
            SessionEnd::Lost { reason, lasted } => {
                backoff.connection_ended(lasted.unwrap_or_default());
                let delay = backoff.next_delay();
                let retry_in_ms = delay.as_millis() as u64;
                if lasted.is_some() {
                    tracing::warn!(%reason, retry_in_ms, "lost the connection to the console");
                } else {
                    tracing::warn!(%reason, retry_in_ms, "cannot connect to the console");
                }
                link.status
                    .send_modify(|s| s.last_error = Some(reason.clone()));
                tokio::select! {
                    _ = shutdown.as_mut() => return Ok(()),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// Messages waiting for the connection: results and progress of running commands, facts.
const OUTBOX_CAPACITY: usize = 1024;
/// How long one frame may take to be written.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long collecting facts may take.
const FACTS_TIMEOUT: Duration = Duration::from_secs(30);
/// Bounds on the heartbeat interval a console may ask for.
const HEARTBEAT_BOUNDS: (u32, u32) = (1, 300);

type Socket = WebSocketStream<TlsStream<TcpStream>>;

/// What lives as long as the link, across connections.
struct Link {
    config: LinkConfig,
    services: Services,
    status: watch::Sender<LinkStatus>,
    commands: Arc<CommandTable>,
    outbox: mpsc::Sender<AgentMessage>,
}

/// How one session ended.
enum SessionEnd {
    Shutdown,
    Refused(String),
    /// The certificate was renewed: reconnect now with the new one.
    Renewed(Box<Identity>),
    /// Anything else: reconnect after a backoff delay.
    Lost {
        reason: String,
        /// How long the connection was up after its welcome; `None` if it never was.
        lasted: Option<Duration>,
    },
}

impl Link {
    /// The last known clock skew (console minus local), 0 before the first welcome.
    fn skew_ms(&self) -> i64 {
        self.status.borrow().clock_skew_ms.unwrap_or(0)
    }

    /// Stores a renewed identity; `Err` carries the reason of a refusal.
    fn apply_renewal(
        &self,
        outcome: Result<Identity, RenewError>,
        renew_gate: &mut Instant,
    ) -> Result<Option<Identity>, String> {
        *renew_gate = Instant::now() + self.config.renew_retry;
        match outcome {
            Ok(renewed) => {
                if let Err(error) = renewed.save_credentials(&self.config.data_dir) {
                    // Keep going with the new certificate in memory: the old one is revoked.
                    tracing::error!(%error, "cannot store the renewed certificate");
                }
                tracing::info!(
                    node_id = renewed.node_id(),
                    not_after = renewed.validity().not_after,
                    "renewed the node certificate"
                );
                self.status.send_modify(|s| s.renewals += 1);
                Ok(Some(renewed))
            }
            Err(RenewError::Refused(reason)) => Err(reason),
            Err(RenewError::Failed(reason)) => {
                tracing::warn!(
                    %reason,
                    retry_in_s = self.config.renew_retry.as_secs(),
                    "cannot renew the node certificate"
                );
                Ok(None)
            }
        }
    }

    async fn collect_facts(&self) -> Facts {
        match tokio::time::timeout(FACTS_TIMEOUT, self.services.facts.collect()).await {
            Ok(facts) => facts,
            Err(_) => {
                tracing::warn!("collecting facts took too long; reporting the host name only");
                Facts {
                    hostname: super::join::system_hostname(),
                    ..Facts::default()
                }
            }
        }
    }
}

/// Whether the certificate is past half its life, in console time.
fn renewal_due(identity: &Identity, skew_ms: i64) -> bool {
    identity
        .validity()
        .renewal_due((unix_ms() + skew_ms).div_euclid(1000))
}

/// When to renew: half-life in console time, but not before `gate`.
fn renewal_deadline(identity: &Identity, skew_ms: i64, gate: Instant) -> Instant {
    let at_ms = identity.validity().renew_at().saturating_mul(1000);
    let wait_ms = at_ms.saturating_sub(unix_ms() + skew_ms).max(0);
    // Far enough for any certificate, and far from overflowing an Instant.
    let wait = Duration::from_millis(wait_ms.min(10 * 365 * 86_400_000) as u64);
    (Instant::now() + wait).max(gate)
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Aborts a helper task when the session that started it ends.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One connection, from dialling to its end.
async fn session<S>(
    link: &Link,
    identity: &Identity,
    outbox: &mut mpsc::Receiver<AgentMessage>,
    renew_gate: &mut Instant,
    mut shutdown: Pin<&mut Fuse<S>>,
) -> SessionEnd
where
    S: Future<Output = ()>,
{
    let lost = |reason: String| SessionEnd::Lost {
        reason,
        lasted: None,
    };
    let facts = tokio::select! {
        _ = shutdown.as_mut() => return SessionEnd::Shutdown,
        facts = link.collect_facts() => facts,
    };
    let opened = tokio::select! {
        _ = shutdown.as_mut() => return SessionEnd::Shutdown,
        opened = tokio::time::timeout(link.config.connect_timeout, open(identity)) => opened,
    };
    let mut ws = match opened {
        Ok(Ok(ws)) => ws,
        Ok(Err(end)) => return end,
        Err(_) => {
            return lost(format!(
                "no connection within {} s",
                link.config.connect_timeout.as_secs()
            ))
        }
    };
    let hello = AgentMessage::Hello {
        protocol: PROTOCOL_VERSION,
        agent_version: crate::VERSION.to_owned(),
        facts: Box::new(facts.clone()),
    };
    if let Err(reason) = send(&mut ws, &hello).await {
        return lost(reason);
    }

    let mut state = State {
        welcomed_at: None,
        period: Duration::from_secs(u64::from(protocol::HEARTBEAT_SECS)),
        seq: 0,
        pending_beat: None,
        last_heard: Instant::now(),
    };
    let mut heartbeat = tokio::time::interval(state.period);
    let welcome_deadline = tokio::time::sleep(link.config.welcome_timeout);
    tokio::pin!(welcome_deadline);
    let renew_timer = tokio::time::sleep(Duration::from_secs(86_400));
    tokio::pin!(renew_timer);
    let mut renewal: Option<JoinHandle<Result<Identity, RenewError>>> = None;
    let mut facts_watcher: Option<AbortOnDrop> = None;

    let end = loop {
        tokio::select! {
            _ = shutdown.as_mut() => {
                let close = ws.close(Some(CloseFrame {
                    code: CloseCode::Away,
                    reason: "the agent is stopping".into(),
                }));
                let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
                break SessionEnd::Shutdown;
            }
            frame = ws.next() => {
                state.last_heard = Instant::now();
                let message = match read_frame(frame, &state) {
                    Ok(Some(message)) => message,
                    Ok(None) => continue,
                    Err(Read::End(end)) => break end,
                    Err(Read::Malformed(reason)) => {
                        tracing::warn!(
                            %reason,
                            "closing the connection: the console sent a malformed message"
                        );
                        let close = ws.close(Some(CloseFrame {
                            code: CloseCode::Invalid,
                            reason: "malformed message".into(),
                        }));
                        let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
                        break SessionEnd::Lost { reason, lasted: state.lasted() };
                    }
                };
                let welcomed_before = state.welcomed();
                if let Err(end) = handle(link, identity, &mut ws, &mut state, message).await {
                    break end;
                }
                if state.welcomed() && !welcomed_before {
                    let first = Instant::now() + state.period;
                    heartbeat = tokio::time::interval_at(first, state.period);
                    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
                    let deadline = renewal_deadline(identity, link.skew_ms(), *renew_gate);
                    renew_timer.as_mut().reset(deadline);
                    facts_watcher = Some(watch_facts(link, facts.clone()));
                }
            }
            Some(message) = outbox.recv(), if state.welcomed() => {
                if let Err(reason) = send(&mut ws, &message).await {
                    break SessionEnd::Lost { reason, lasted: state.lasted() };
                }
            }
            _ = heartbeat.tick(), if state.welcomed() => {
                let silent = state.last_heard.elapsed();
                if silent > state.period * (MISSED_HEARTBEATS + 1) {
                    break SessionEnd::Lost {
                        reason: format!("no message from the console for {} s", silent.as_secs()),
                        lasted: state.lasted(),
                    };
                }
                state.seq += 1;
                let sent_at_ms = unix_ms();
                state.pending_beat = Some((state.seq, sent_at_ms, Instant::now()));
                let beat = AgentMessage::Heartbeat { seq: state.seq, sent_at_ms };
                if let Err(reason) = send(&mut ws, &beat).await {
                    break SessionEnd::Lost { reason, lasted: state.lasted() };
                }
            }
            _ = &mut welcome_deadline, if !state.welcomed() => {
                break lost(format!(
                    "no welcome from the console within {} s",
                    link.config.welcome_timeout.as_secs()
                ));
            }
            _ = &mut renew_timer, if state.welcomed() && renewal.is_none() => {
                tracing::info!("the node certificate is half-way through its life; renewing it");
                let current = identity.clone();
                renewal = Some(tokio::spawn(async move { renew(&current).await }));
            }
            outcome = async { renewal.as_mut().expect("guarded").await }, if renewal.is_some() => {
                renewal = None;
                let outcome = outcome.unwrap_or_else(|e| Err(RenewError::Failed(e.to_string())));
                match link.apply_renewal(outcome, renew_gate) {
                    Ok(Some(renewed)) => {
                        let close = ws.close(Some(CloseFrame {
                            code: CloseCode::Normal,
                            reason: "reconnecting with a renewed certificate".into(),
                        }));
                        let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
                        break SessionEnd::Renewed(Box::new(renewed));
                    }
                    Ok(None) => {
                        renew_timer.as_mut().reset(*renew_gate);
                    }
                    Err(reason) => break SessionEnd::Refused(reason),
                }
            }
        }
    };
    drop(facts_watcher);

    // A renewal in flight must finish: the console revokes the old certificate as soon as
    // it issues the new one, so the answer must not be lost.
    if let Some(task) = renewal {
        tracing::info!("waiting for the certificate renewal in progress");
        let outcome = task
            .await
            .unwrap_or_else(|e| Err(RenewError::Failed(e.to_string())));
        match (link.apply_renewal(outcome, renew_gate), end) {
            (_, SessionEnd::Shutdown) => return SessionEnd::Shutdown,
            (Err(reason), _) => return SessionEnd::Refused(reason),
            (Ok(Some(renewed)), SessionEnd::Lost { .. }) => {
                return SessionEnd::Renewed(Box::new(renewed))
            }
            (_, end) => return end,
        }
    }
    end
}

/// Per-connection state.
struct State {
    /// When the console's welcome came.
    welcomed_at: Option<Instant>,
    period: Duration,
    seq: u64,
    /// The last heartbeat: sequence, local send time (ms) and instant.
    pending_beat: Option<(u64, i64, Instant)>,
    last_heard: Instant,
}

impl State {
    fn welcomed(&self) -> bool {
        self.welcomed_at.is_some()
    }

    fn lasted(&self) -> Option<Duration> {
        self.welcomed_at.map(|at| at.elapsed())
    }
}

/// TCP, TLS with the node's certificate, and the WebSocket upgrade.
async fn open(identity: &Identity) -> Result<Socket, SessionEnd> {
    let lost = |reason: String| SessionEnd::Lost {
        reason,
        lasted: None,
    };
    let config = tls::identity_config(identity).map_err(lost)?;
    let stream = tls::dial(identity.console(), config)
        .await
        .map_err(|error| match error {
            DialError::Tls(e) if refused_by_alert(&e) => SessionEnd::Refused(e.to_string()),
            other => lost(other.to_string()),
        })?;
    let url = format!("wss://{}{CONNECT_PATH}", identity.console().authority());
    let mut request = url.into_client_request().map_err(|e| lost(e.to_string()))?;
    request.headers_mut().insert(
        hyper::header::USER_AGENT,
        hyper::header::HeaderValue::from_static(concat!(
            "outpost-agent/",
            env!("CARGO_PKG_VERSION")
        )),
    );
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    match tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(response)) => {
            let status = response.status().as_u16();
            let (code, message) = error_details(response.body().as_deref().unwrap_or_default());
            let reason = format!("the console answered HTTP {status} {code}: {message}");
            if matches!(status, 401 | 403) {
                Err(SessionEnd::Refused(reason))
            } else {
                Err(lost(reason))
            }
        }
        Err(WsError::Io(e)) if refused_by_alert(&e) => Err(SessionEnd::Refused(e.to_string())),
        Err(e) => Err(lost(format!("the WebSocket upgrade failed: {e}"))),
    }
}

/// Why reading stopped.
enum Read {
    End(SessionEnd),
    Malformed(String),
}

/// One frame from the console: a message, nothing of interest (control frames), or the end.
fn read_frame(
    frame: Option<Result<Message, WsError>>,
    state: &State,
) -> Result<Option<ConsoleMessage>, Read> {
    let lost = |reason: String| {
        Read::End(SessionEnd::Lost {
            reason,
            lasted: state.lasted(),
        })
    };
    match frame {
        None => Err(lost("the console closed the connection".into())),
        Some(Err(WsError::Capacity(e))) => {
            tracing::warn!(
                error = %e,
                "closing the connection: the console sent a message over the limit"
            );
            Err(lost(format!(
                "the console sent a message over the limit: {e}"
            )))
        }
        Some(Err(WsError::Io(e))) if refused_by_alert(&e) => {
            Err(Read::End(SessionEnd::Refused(e.to_string())))
        }
        Some(Err(e)) => Err(lost(e.to_string())),
        Some(Ok(Message::Text(text))) => match protocol::decode::<ConsoleMessage>(text.as_str()) {
            Ok(message) => Ok(Some(message)),
            Err(e) => Err(Read::Malformed(printable(&e.to_string()))),
        },
        Some(Ok(Message::Binary(bytes))) => Err(Read::Malformed(format!(
            "a binary frame of {} bytes",
            bytes.len()
        ))),
        Some(Ok(Message::Close(frame))) => Err(lost(match frame {
            Some(frame) => format!(
                "the console closed the connection ({}: {})",
                u16::from(frame.code),
                printable(frame.reason.as_str())
            ),
            None => "the console closed the connection".into(),
        })),
        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => Ok(None),
    }
}

/// Acts on one message from the console.
async fn handle(
    link: &Link,
    identity: &Identity,
    ws: &mut Socket,
    state: &mut State,
    message: ConsoleMessage,
) -> Result<(), SessionEnd> {
    match message {
        ConsoleMessage::Welcome {
            protocol,
            node_id,
            heartbeat_secs,
            console_time_ms,
        } => {
            let skew = console_time_ms.saturating_sub(unix_ms());
            let secs = heartbeat_secs.clamp(HEARTBEAT_BOUNDS.0, HEARTBEAT_BOUNDS.1);
            state.period = Duration::from_secs(u64::from(secs));
            if state.welcomed() {
                tracing::debug!("a second welcome on one connection; ignored");
                return Ok(());
            }
            state.welcomed_at = Some(Instant::now());
            if node_id != identity.node_id() {
                tracing::warn!(
                    welcome = %printable(&node_id),
                    certificate = identity.node_id(),
                    "the console welcomed this node under another id"
                );
            }
            if protocol != PROTOCOL_VERSION {
                tracing::info!(
                    console = protocol,
                    agent = PROTOCOL_VERSION,
                    "the console speaks another protocol version"
                );
            }
            link.status.send_modify(|s| {
                s.connected = true;
                s.connections += 1;
                s.node_id = Some(printable(&node_id));
                s.heartbeat = Some(state.period);
                s.clock_skew_ms = Some(skew);
                s.last_error = None;
            });
            tracing::info!(
                console = %identity.console(),
                node_id = identity.node_id(),
                clock_skew_ms = skew,
                heartbeat_s = secs,
                "connected"
            );
        }
        ConsoleMessage::HeartbeatAck {
            seq,
            console_time_ms,
        } => {
            if let Some((sent_seq, sent_ms, sent_at)) = state.pending_beat {
                if sent_seq == seq {
                    let rtt = sent_at.elapsed().as_millis() as i64;
                    let skew = console_time_ms.saturating_sub(sent_ms + rtt / 2);
                    link.status.send_modify(|s| s.clock_skew_ms = Some(skew));
                    state.pending_beat = None;
                }
            }
        }
        ConsoleMessage::Command {
            command_id,
            command,
        } => {
            if command_id.is_empty() || command_id.len() > commands::MAX_COMMAND_ID_BYTES {
                tracing::warn!(
                    length = command_id.len(),
                    "refusing a command whose id is empty or too long"
                );
                let refusal = AgentMessage::Result {
                    command_id,
                    result: CommandResult::Error {
                        message: format!(
                            "a command id must be 1 to {} bytes",
                            commands::MAX_COMMAND_ID_BYTES
                        ),
                    },
                };
                return send(ws, &refusal).await.map_err(|reason| SessionEnd::Lost {
                    reason,
                    lasted: state.lasted(),
                });
            }
            match link
                .commands
                .admit(&command_id, commands::is_cancellable(&command))
            {
                Admission::Run(cancel) => {
                    tracing::debug!(command_id = %printable(&command_id), "running a command");
                    tokio::spawn(commands::execute(
                        link.commands.clone(),
                        link.services.runner.clone(),
                        link.outbox.clone(),
                        command_id,
                        command,
                        cancel,
                    ));
                }
                Admission::Repeat(result) => {
                    tracing::info!(
                        command_id = %printable(&command_id),
                        "a repeated command id; sending its result again without running it"
                    );
                    let again = AgentMessage::Result { command_id, result };
                    send(ws, &again).await.map_err(|reason| SessionEnd::Lost {
                        reason,
                        lasted: state.lasted(),
                    })?;
                }
                Admission::Running => {
                    tracing::info!(
                        command_id = %printable(&command_id),
                        "a repeated command id that is still running; its result will follow"
                    );
                }
            }
        }
        ConsoleMessage::Cancel { command_id } => {
            let command_id = printable(&command_id);
            match link.commands.cancel(&command_id) {
                Cancelled::Yes => tracing::info!(%command_id, "cancelled a log follow"),
                Cancelled::NotCancellable => tracing::warn!(
                    %command_id,
                    "only log follows can be cancelled; the command runs on"
                ),
                Cancelled::NotRunning => {
                    tracing::debug!(%command_id, "cancel for a command that is not running")
                }
            }
        }
        ConsoleMessage::Unknown => {
            tracing::debug!("ignored a message of a type this agent does not know");
        }
    }
    Ok(())
}

/// Collects facts every `facts_interval` and queues them when they changed.
fn watch_facts(link: &Link, mut last: Facts) -> AbortOnDrop {
    let source = link.services.facts.clone();
    let outbox = link.outbox.clone();
    let interval = link.config.facts_interval;
    AbortOnDrop(tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Ok(facts) = tokio::time::timeout(FACTS_TIMEOUT, source.collect()).await else {
                tracing::warn!("collecting facts took too long");
                continue;
            };
            if facts != last {
                tracing::debug!("facts changed");
                let message = AgentMessage::Facts {
                    facts: Box::new(facts.clone()),
                };
                if outbox.send(message).await.is_err() {
                    return;
                }
                last = facts;
            }
        }
    }))
}

/// Sends one message; an error (or a write that takes too long) ends the connection.
async fn send(ws: &mut Socket, message: &AgentMessage) -> Result<(), String> {
    let text = serde_json::to_string(message).map_err(|e| e.to_string())?;
    if text.len() > MAX_MESSAGE_BYTES {
        // Results are fitted under the limit when they are made; this is a progress
        // update or facts, which can be dropped.
        tracing::warn!(
            bytes = text.len(),
            "dropped an outgoing message over the size limit"
        );
        return Ok(());
    }
    match tokio::time::timeout(WRITE_TIMEOUT, ws.send(Message::text(text))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("sending failed: {e}")),
        Err(_) => Err(format!(
            "the console did not take a message within {} s",
            WRITE_TIMEOUT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::identity::tests::make_identity;

    #[test]
    fn renewal_uses_console_time() {
        let now = unix_ms() / 1000;
        // Issued an hour ago for two hours and a bit: due in a few minutes, local time.
        let identity = make_identity("node-a", now - 3600, now + 3600 + 600);
        assert!(!renewal_due(&identity, 0));
        // The console's clock is ten minutes ahead: due now.
        assert!(renewal_due(&identity, 600_000));
        let gate = Instant::now();
        let wait = renewal_deadline(&identity, 0, gate) - gate;
        assert!((299..=301).contains(&wait.as_secs()), "{wait:?}");
        assert!(renewal_deadline(&identity, 600_000, gate) - gate < Duration::from_secs(1));
        let later = gate + Duration::from_secs(3000);
        assert_eq!(renewal_deadline(&identity, 0, later), later);
    }
}
