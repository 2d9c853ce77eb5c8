//! The hub: the agents connected right now. It routes commands to a node and their
//! results back, tracks heartbeats (a node is online while it beats), and records facts.
//! It speaks `agent::protocol` messages; the HTTP layer owns the sockets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use outpost_agent::protocol::{
    AgentMessage, Command, CommandResult, ConsoleMessage, Progress, HEARTBEAT_SECS,
    MISSED_HEARTBEATS, PROTOCOL_VERSION,
};
use tokio::sync::{mpsc, oneshot};

use crate::store::Store;

/// Messages queued per connection before the slowest agent is cut off.
const OUTBOX_DEPTH: usize = 256;
/// Lines of output kept per running command.
const MAX_LINES: usize = 10_000;
/// Facts and last-seen times are written back at most this often per node.
const SEEN_WRITE_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HubError {
    #[error("node {0} is not connected")]
    Offline(String),
    #[error("node {node} did not answer command {command_id} within {timeout:?}")]
    Timeout {
        node: String,
        command_id: String,
        timeout: Duration,
    },
    #[error("node {0} disconnected before answering")]
    Disconnected(String),
}

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome {
    pub result: CommandResult,
    /// `(stream, line)` progress lines (logs), in order.
    pub lines: Vec<(String, String)>,
}

/// A node's live state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveStatus {
    pub online: bool,
    /// Agent clock minus console clock, from the last heartbeat.
    pub clock_skew_ms: Option<i64>,
}

/// Called with each progress update of a running command (pull progress, log lines).
pub type ProgressFn = Box<dyn Fn(&Progress) + Send + Sync>;

struct Pending {
    done: oneshot::Sender<CommandOutcome>,
    lines: Vec<(String, String)>,
    on_progress: Option<ProgressFn>,
}

struct Connected {
    conn_id: u64,
    outbox: mpsc::Sender<ConsoleMessage>,
    last_heartbeat: Instant,
    last_written: Option<Instant>,
    clock_skew_ms: Option<i64>,
    pending: HashMap<String, Pending>,
}

/// Cancels a command whose caller stopped waiting for it.
struct CancelOnDrop<'a> {
    hub: &'a Hub,
    node_id: &'a str,
    command_id: &'a str,
    outbox: &'a mpsc::Sender<ConsoleMessage>,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(c) = self.hub.lock().get_mut(self.node_id) {
            c.pending.remove(self.command_id);
        }
        // Best effort: a full outbox means the agent is far behind anyway.
        let _ = self.outbox.try_send(ConsoleMessage::Cancel {
            command_id: self.command_id.to_owned(),
        });
    }
}

/// The connected agents.
pub struct Hub {
    store: Arc<Store>,
    agents: Mutex<HashMap<String, Connected>>,
    next_conn: AtomicU64,
    next_command: AtomicU64,
    /// Random per console start: agents remember command ids across reconnects, so ids must
    /// not repeat after a console restart.
    boot_id: String,
    heartbeat: Duration,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("connected", &self.lock().len())
            .finish()
    }
}

/// Unregisters a connection when its handler ends (unless a newer one replaced it).
pub struct Registration {
    hub: Arc<Hub>,
    pub node_id: String,
    pub conn_id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut agents = self.hub.lock();
        if agents
            .get(&self.node_id)
            .is_some_and(|c| c.conn_id == self.conn_id)
        {
            agents.remove(&self.node_id);
            tracing::info!(node = %self.node_id, "agent disconnected");
        }
    }
}

impl Hub {
    pub fn new(store: Arc<Store>) -> Hub {
        Hub::with_heartbeat(store, Duration::from_secs(HEARTBEAT_SECS.into()))
    }

    pub fn with_heartbeat(store: Arc<Store>, heartbeat: Duration) -> Hub {
        Hub {
            store,
            agents: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            next_command: AtomicU64::new(1),
            boot_id: format!("{:016x}", rand::random::<u64>()),
            heartbeat,
        }
    }

    /// After this long without a heartbeat a node is offline and its connection closed.
    pub fn offline_after(&self) -> Duration {
        self.heartbeat * MISSED_HEARTBEATS
    }

    /// Registers a new connection for `node_id`, replacing an older one (whose outbox is
    /// dropped, ending its writer). Returns the guard and the messages to send.
    pub fn register(
        self: &Arc<Self>,
        node_id: &str,
    ) -> (Registration, mpsc::Receiver<ConsoleMessage>) {
        let (outbox, messages) = mpsc::channel(OUTBOX_DEPTH);
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let previous = self.lock().insert(
            node_id.to_owned(),
            Connected {
                conn_id,
                outbox,
                last_heartbeat: Instant::now(),
                last_written: None,
                clock_skew_ms: None,
                pending: HashMap::new(),
            },
        );
        if previous.is_some() {
            tracing::info!(
                node = node_id,
                "agent reconnected; the older connection is closed"
            );
        }
        (
            Registration {
                hub: self.clone(),
                node_id: node_id.to_owned(),
                conn_id,
            },
            messages,
        )
    }

    /// Handles one message from an agent; returns the reply to send, if any.
    pub fn on_message(
        &self,
        registration: &Registration,
        message: AgentMessage,
        now_ms: i64,
    ) -> Option<ConsoleMessage> {
        let node = registration.node_id.as_str();
        match message {
            AgentMessage::Hello {
                protocol,
                agent_version,
                facts,
            } => {
                tracing::info!(node, protocol, agent_version, hostname = %facts.hostname, "agent connected");
                self.write_seen(registration, Some(&facts), true);
                Some(ConsoleMessage::Welcome {
                    protocol: PROTOCOL_VERSION,
                    node_id: node.to_owned(),
                    heartbeat_secs: self.heartbeat.as_secs().max(1) as u32,
                    console_time_ms: now_ms,
                })
            }
            AgentMessage::Heartbeat { seq, sent_at_ms } => {
                if let Some(connected) = self.lock().get_mut(node) {
                    if connected.conn_id == registration.conn_id {
                        connected.last_heartbeat = Instant::now();
                        connected.clock_skew_ms = Some(sent_at_ms - now_ms);
                    }
                }
                self.write_seen(registration, None, false);
                Some(ConsoleMessage::HeartbeatAck {
                    seq,
                    console_time_ms: now_ms,
                })
            }
            AgentMessage::Facts { facts } => {
                self.write_seen(registration, Some(&facts), true);
                None
            }
            AgentMessage::Result { command_id, result } => {
                let pending = self
                    .lock()
                    .get_mut(node)
                    .and_then(|c| c.pending.remove(&command_id));
                if let Some(pending) = pending {
                    let _ = pending.done.send(CommandOutcome {
                        result,
                        lines: pending.lines,
                    });
                }
                None
            }
            AgentMessage::Progress {
                command_id,
                progress,
            } => {
                let mut agents = self.lock();
                let pending = agents
                    .get_mut(node)
                    .and_then(|c| c.pending.get_mut(&command_id))?;
                if let Some(on_progress) = &pending.on_progress {
                    on_progress(&progress);
                }
                if let Progress::LogLine { stream, line } = progress {
                    if pending.lines.len() < MAX_LINES {
                        pending.lines.push((stream, line));
                    }
                }
                None
            }
            AgentMessage::Unknown => {
                tracing::debug!(
                    node,
                    "ignoring a message of a type this console does not know"
                );
                None
            }
        }
    }

    /// Whether this connection has gone quiet for longer than [`Hub::offline_after`].
    pub fn is_stale(&self, registration: &Registration) -> bool {
        self.lock().get(&registration.node_id).is_none_or(|c| {
            c.conn_id != registration.conn_id || c.last_heartbeat.elapsed() > self.offline_after()
        })
    }

    /// Sends a command and waits (bounded) for its result.
    pub async fn command(
        &self,
        node_id: &str,
        command: Command,
        timeout: Duration,
    ) -> Result<CommandOutcome, HubError> {
        self.command_with_progress(node_id, command, timeout, None)
            .await
    }

    /// As [`Hub::command`], calling `on_progress` with each progress update as it arrives.
    pub async fn command_with_progress(
        &self,
        node_id: &str,
        command: Command,
        timeout: Duration,
        on_progress: Option<ProgressFn>,
    ) -> Result<CommandOutcome, HubError> {
        let command_id = format!(
            "cmd-{}-{}",
            self.boot_id,
            self.next_command.fetch_add(1, Ordering::Relaxed)
        );
        let (done, outcome) = oneshot::channel();
        let outbox = {
            let mut agents = self.lock();
            let connected = agents
                .get_mut(node_id)
                .filter(|c| c.last_heartbeat.elapsed() <= self.offline_after())
                .ok_or_else(|| HubError::Offline(node_id.to_owned()))?;
            connected.pending.insert(
                command_id.clone(),
                Pending {
                    done,
                    lines: Vec::new(),
                    on_progress,
                },
            );
            connected.outbox.clone()
        };
        // Dropped before the result came (timed out, or the caller went away, as a log
        // follow does when its client disconnects): forget it and tell the agent to stop.
        let mut cancel = CancelOnDrop {
            hub: self,
            node_id,
            command_id: &command_id,
            outbox: &outbox,
            armed: true,
        };
        let message = ConsoleMessage::Command {
            command_id: command_id.clone(),
            command,
        };
        if outbox.send(message).await.is_err() {
            cancel.armed = false;
            return Err(HubError::Disconnected(node_id.to_owned()));
        }
        let result = match tokio::time::timeout(timeout, outcome).await {
            Ok(Ok(outcome)) => {
                cancel.armed = false;
                Ok(outcome)
            }
            Ok(Err(_)) => {
                cancel.armed = false;
                Err(HubError::Disconnected(node_id.to_owned()))
            }
            Err(_) => Err(HubError::Timeout {
                node: node_id.to_owned(),
                command_id: command_id.clone(),
                timeout,
            }),
        };
        drop(cancel);
        result
    }

    /// The live state of a node (offline when not connected).
    pub fn status(&self, node_id: &str) -> LiveStatus {
        match self.lock().get(node_id) {
            Some(c) => LiveStatus {
                online: c.last_heartbeat.elapsed() <= self.offline_after(),
                clock_skew_ms: c.clock_skew_ms,
            },
            None => LiveStatus {
                online: false,
                clock_skew_ms: None,
            },
        }
    }

    /// Drops a node's connection (after it was removed).
    pub fn disconnect(&self, node_id: &str) {
        self.lock().remove(node_id);
    }

    fn write_seen(
        &self,
        registration: &Registration,
        facts: Option<&outpost_agent::protocol::Facts>,
        force: bool,
    ) {
        let due = {
            let mut agents = self.lock();
            match agents.get_mut(&registration.node_id) {
                Some(c) if c.conn_id == registration.conn_id => {
                    let due = force
                        || c.last_written
                            .is_none_or(|t| t.elapsed() >= SEEN_WRITE_INTERVAL);
                    if due {
                        c.last_written = Some(Instant::now());
                    }
                    due
                }
                _ => false,
            }
        };
        if !due {
            return;
        }
        let facts = facts.and_then(|f| serde_json::to_string(f).ok());
        if let Err(e) = self.store.record_node_seen(
            &registration.node_id,
            facts.as_deref(),
            crate::clock::unix_now(),
        ) {
            tracing::warn!(node = %registration.node_id, error = %e, "cannot record the node's facts");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Connected>> {
        self.agents.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use outpost_agent::protocol::Facts;

    fn hub() -> Arc<Hub> {
        Arc::new(Hub::with_heartbeat(
            Arc::new(Store::open_in_memory().unwrap()),
            Duration::from_millis(50),
        ))
    }

    #[tokio::test]
    async fn a_command_reaches_the_agent_and_its_result_comes_back() {
        let hub = hub();
        let (registration, mut outbox) = hub.register("node-1");
        let welcome = hub.on_message(
            &registration,
            AgentMessage::Hello {
                protocol: PROTOCOL_VERSION,
                agent_version: "0.1.0".into(),
                facts: Box::new(Facts::default()),
            },
            1_000,
        );
        assert!(matches!(welcome, Some(ConsoleMessage::Welcome { .. })));
        assert!(hub.status("node-1").online);

        let agent = {
            let hub = hub.clone();
            tokio::spawn(async move {
                let Some(ConsoleMessage::Command { command_id, .. }) = outbox.recv().await else {
                    panic!("expected a command");
                };
                for line in ["one", "two"] {
                    hub.on_message(
                        &registration,
                        AgentMessage::Progress {
                            command_id: command_id.clone(),
                            progress: Progress::LogLine {
                                stream: "stdout".into(),
                                line: line.into(),
                            },
                        },
                        0,
                    );
                }
                hub.on_message(
                    &registration,
                    AgentMessage::Result {
                        command_id,
                        result: CommandResult::Ok {
                            output: serde_json::Value::Null,
                        },
                    },
                    0,
                );
                registration
            })
        };
        let outcome = hub
            .command(
                "node-1",
                Command::Logs {
                    name: "web".into(),
                    tail: None,
                    follow: false,
                },
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(outcome.lines.len(), 2);
        assert!(matches!(outcome.result, CommandResult::Ok { .. }));
        drop(agent.await.unwrap());
        assert!(!hub.status("node-1").online, "unregistered on drop");
    }

    #[tokio::test]
    async fn offline_nodes_and_silent_agents_fail_commands_with_a_reason() {
        let hub = hub();
        assert_eq!(
            hub.command("ghost", Command::Unknown, Duration::from_millis(10))
                .await,
            Err(HubError::Offline("ghost".into()))
        );
        let (registration, _outbox) = hub.register("node-1");
        let error = hub
            .command("node-1", Command::Unknown, Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(matches!(error, HubError::Timeout { .. }));
        // No heartbeat for longer than 3 intervals: offline and stale.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !hub.is_stale(&registration) {
            assert!(Instant::now() < deadline, "never went stale");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!hub.status("node-1").online);
    }

    #[tokio::test]
    async fn a_newer_connection_replaces_the_older_one() {
        let hub = hub();
        let (old, mut old_outbox) = hub.register("node-1");
        let (new, _new_outbox) = hub.register("node-1");
        assert!(old_outbox.recv().await.is_none(), "the old writer ends");
        drop(old);
        assert!(
            hub.status("node-1").online,
            "dropping the old guard keeps the new one"
        );
        hub.on_message(
            &new,
            AgentMessage::Heartbeat {
                seq: 1,
                sent_at_ms: 1_500,
            },
            1_000,
        );
        assert_eq!(hub.status("node-1").clock_skew_ms, Some(500));
    }
}
