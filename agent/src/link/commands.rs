//! Running the console's commands: the [`CommandRunner`] the caller plugs in (the agent
//! plugs in `engine::execute`; this module knows no engine), and the table that makes
//! command ids idempotent across reconnects: a command id runs once; a repeated id gets
//! the stored result again, or nothing yet while the command still runs.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot};

use crate::protocol::{AgentMessage, Command, CommandResult, Facts, Progress, MAX_MESSAGE_BYTES};

/// Runs one command. The future must own what it needs (it is spawned), report progress
/// through `progress`, and may be dropped before it ends (a cancelled log follow).
pub trait CommandRunner: Send + Sync + 'static {
    fn run(&self, command: Command, progress: ProgressSink) -> BoxFuture<'static, CommandResult>;
}

/// Collects the host's facts (sent in `hello` and again when they change).
pub trait FactsSource: Send + Sync + 'static {
    fn collect(&self) -> BoxFuture<'static, Facts>;
}

/// Where a running command sends its progress. Progress is best effort: when the
/// connection is slower than the command, updates are dropped rather than buffered
/// without bound.
#[derive(Debug, Clone)]
pub struct ProgressSink {
    command_id: String,
    outbox: mpsc::Sender<AgentMessage>,
}

impl ProgressSink {
    /// Queues one update; false if it was dropped.
    pub fn send(&self, progress: Progress) -> bool {
        self.outbox
            .try_send(AgentMessage::Progress {
                command_id: self.command_id.clone(),
                progress,
            })
            .is_ok()
    }

    /// A sink whose updates go to `outbox` (for runners' own tests).
    pub fn new(command_id: &str, outbox: mpsc::Sender<AgentMessage>) -> ProgressSink {
        ProgressSink {
            command_id: command_id.to_owned(),
            outbox,
        }
    }
}

/// How many command ids (and results) are remembered.
pub(crate) const REMEMBERED_COMMANDS: usize = 1000;
/// Bytes of stored results kept; past this the oldest results are replaced by a short
/// note (their ids are still remembered, so they still do not run again).
const REMEMBERED_RESULT_BYTES: usize = 32 * 1024 * 1024;
/// Longest command id accepted.
pub(crate) const MAX_COMMAND_ID_BYTES: usize = 256;

/// What to do with an incoming command.
#[derive(Debug)]
pub(crate) enum Admission {
    /// New: run it (with a cancel signal if it is a log follow).
    Run(Option<oneshot::Receiver<()>>),
    /// Seen and finished: send this result again.
    Repeat(CommandResult),
    /// Seen and still running: its result will come.
    Running,
}

/// What a `cancel` did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cancelled {
    Yes,
    /// Running, but not a log follow: commands that change the engine run to the end.
    NotCancellable,
    NotRunning,
}

/// Commands seen, shared by every connection of one agent.
#[derive(Debug, Default)]
pub(crate) struct CommandTable {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Finished commands and their results' sizes, oldest first in `order`.
    done: HashMap<String, (CommandResult, usize)>,
    order: VecDeque<String>,
    bytes: usize,
    /// Running commands; a log follow holds its cancel signal.
    running: HashMap<String, Option<oneshot::Sender<()>>>,
}

impl CommandTable {
    pub(crate) fn admit(&self, command_id: &str, cancellable: bool) -> Admission {
        let mut inner = self.lock();
        if let Some((result, _)) = inner.done.get(command_id) {
            return Admission::Repeat(result.clone());
        }
        if inner.running.contains_key(command_id) {
            return Admission::Running;
        }
        let (signal, cancel) = if cancellable {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        inner.running.insert(command_id.to_owned(), signal);
        Admission::Run(cancel)
    }

    pub(crate) fn finish(&self, command_id: &str, result: CommandResult) {
        let mut inner = self.lock();
        inner.running.remove(command_id);
        let size = serde_json::to_string(&result).map_or(0, |s| s.len());
        inner.bytes += size;
        inner.done.insert(command_id.to_owned(), (result, size));
        inner.order.push_back(command_id.to_owned());
        while inner.order.len() > REMEMBERED_COMMANDS {
            if let Some(oldest) = inner.order.pop_front() {
                if let Some((_, size)) = inner.done.remove(&oldest) {
                    inner.bytes -= size;
                }
            }
        }
        let Inner {
            done, order, bytes, ..
        } = &mut *inner;
        for id in order.iter() {
            if *bytes <= REMEMBERED_RESULT_BYTES {
                break;
            }
            if let Some((result, size)) = done.get_mut(id) {
                let note = CommandResult::Error {
                    message: format!(
                        "this command already ran; its result ({size} bytes) is no longer kept"
                    ),
                };
                let note_size = serde_json::to_string(&note).map_or(0, |s| s.len());
                if note_size < *size {
                    *bytes = *bytes - *size + note_size;
                    *result = note;
                    *size = note_size;
                }
            }
        }
    }

    pub(crate) fn cancel(&self, command_id: &str) -> Cancelled {
        let mut inner = self.lock();
        match inner.running.get_mut(command_id) {
            None => Cancelled::NotRunning,
            Some(None) => Cancelled::NotCancellable,
            Some(signal) => {
                if let Some(signal) = signal.take() {
                    let _ = signal.send(());
                }
                Cancelled::Yes
            }
        }
    }

    /// Ends every log follow: their readers went with the connection.
    pub(crate) fn cancel_follows(&self) -> usize {
        let mut inner = self.lock();
        let mut count = 0;
        for signal in inner.running.values_mut() {
            if let Some(signal) = signal.take() {
                let _ = signal.send(());
                count += 1;
            }
        }
        count
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent maps (every update is one
        // insert or remove), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether a command can be cancelled: only log follows, which never end by themselves.
pub(crate) fn is_cancellable(command: &Command) -> bool {
    matches!(command, Command::Logs { follow: true, .. })
}

/// Runs an admitted command to its result, records it and queues it for the console.
pub(crate) async fn execute(
    table: Arc<CommandTable>,
    runner: Arc<dyn CommandRunner>,
    outbox: mpsc::Sender<AgentMessage>,
    command_id: String,
    command: Command,
    cancel: Option<oneshot::Receiver<()>>,
) {
    let progress = ProgressSink::new(&command_id, outbox.clone());
    let run = AssertUnwindSafe(runner.run(command, progress)).catch_unwind();
    let outcome = match cancel {
        Some(cancel) => tokio::select! {
            outcome = run => outcome,
            _ = cancel => Ok(CommandResult::Error { message: "cancelled".into() }),
        },
        None => run.await,
    };
    let result = match outcome {
        Ok(result) => fit(&command_id, result),
        Err(_) => {
            tracing::error!(command_id, "the command runner panicked");
            CommandResult::Error {
                message: "the agent failed while running this command".into(),
            }
        }
    };
    table.finish(&command_id, result.clone());
    // The channel closes only when the agent stops.
    let _ = outbox
        .send(AgentMessage::Result { command_id, result })
        .await;
}

/// A result too large for one message is replaced by an error saying so.
fn fit(command_id: &str, result: CommandResult) -> CommandResult {
    // The message's envelope around the result: its type tag and the id, escaped at worst.
    let envelope = 64 + 6 * command_id.len();
    let size =
        serde_json::to_string(&result).map_or(usize::MAX, |s| s.len().saturating_add(envelope));
    if size <= MAX_MESSAGE_BYTES {
        result
    } else {
        CommandResult::Error {
            message: format!(
                "the result ({size} bytes) is over the {MAX_MESSAGE_BYTES}-byte message limit"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(n: u64) -> CommandResult {
        CommandResult::Ok {
            output: serde_json::json!(n),
        }
    }

    #[test]
    fn an_id_runs_once_and_then_repeats_its_result() {
        let table = CommandTable::default();
        assert!(matches!(table.admit("a", false), Admission::Run(None)));
        assert!(matches!(table.admit("a", false), Admission::Running));
        table.finish("a", ok(1));
        match table.admit("a", false) {
            Admission::Repeat(result) => assert_eq!(result, ok(1)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_oldest_ids_are_forgotten_past_the_limit() {
        let table = CommandTable::default();
        for i in 0..=REMEMBERED_COMMANDS {
            let id = format!("c{i}");
            assert!(matches!(table.admit(&id, false), Admission::Run(_)));
            table.finish(&id, ok(i as u64));
        }
        assert!(matches!(table.admit("c0", false), Admission::Run(_)));
        assert!(matches!(table.admit("c1", false), Admission::Repeat(_)));
        let last = format!("c{REMEMBERED_COMMANDS}");
        assert!(matches!(table.admit(&last, false), Admission::Repeat(_)));
    }

    #[test]
    fn large_results_give_way_to_a_note_but_their_ids_stay() {
        let table = CommandTable::default();
        let big = CommandResult::Ok {
            output: serde_json::json!("x".repeat(900 * 1024)),
        };
        for i in 0..40 {
            let id = format!("big{i}");
            table.admit(&id, false);
            table.finish(&id, big.clone());
        }
        assert!(table.lock().bytes <= REMEMBERED_RESULT_BYTES);
        match table.admit("big0", false) {
            Admission::Repeat(CommandResult::Error { message }) => {
                assert!(message.contains("no longer kept"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(table.admit("big39", false), Admission::Repeat(r) if r == big));
    }

    #[test]
    fn only_log_follows_cancel() {
        let table = CommandTable::default();
        let Admission::Run(Some(mut follow)) = table.admit("f", true) else {
            panic!("a follow gets a cancel signal");
        };
        table.admit("p", false);
        assert_eq!(table.cancel("p"), Cancelled::NotCancellable);
        assert_eq!(table.cancel("nope"), Cancelled::NotRunning);
        assert!(follow.try_recv().is_err());
        assert_eq!(table.cancel("f"), Cancelled::Yes);
        assert!(follow.try_recv().is_ok());
        let Admission::Run(Some(mut other)) = table.admit("g", true) else {
            panic!();
        };
        assert_eq!(table.cancel_follows(), 1);
        assert!(other.try_recv().is_ok());
    }

    #[test]
    fn oversized_results_become_errors() {
        let big = CommandResult::Ok {
            output: serde_json::json!("x".repeat(MAX_MESSAGE_BYTES)),
        };
        assert!(
            matches!(fit("c", big), CommandResult::Error { message } if message.contains("limit"))
        );
        assert_eq!(fit("c", ok(1)), ok(1));
    }

    struct Slow;
    impl CommandRunner for Slow {
        fn run(&self, _: Command, progress: ProgressSink) -> BoxFuture<'static, CommandResult> {
            Box::pin(async move {
                progress.send(Progress::LogLine {
                    stream: "stdout".into(),
                    line: "first".into(),
                });
                std::future::pending().await
            })
        }
    }

    #[tokio::test]
    async fn a_cancelled_follow_reports_and_is_remembered() {
        let table = Arc::new(CommandTable::default());
        let (tx, mut rx) = mpsc::channel(8);
        let Admission::Run(cancel) = table.admit("f", true) else {
            panic!();
        };
        let task = tokio::spawn(execute(
            table.clone(),
            Arc::new(Slow),
            tx,
            "f".into(),
            Command::Logs {
                name: "web".into(),
                tail: None,
                follow: true,
            },
            cancel,
        ));
        assert!(matches!(
            rx.recv().await,
            Some(AgentMessage::Progress { .. })
        ));
        assert_eq!(table.cancel("f"), Cancelled::Yes);
        task.await.unwrap();
        assert_eq!(
            rx.recv().await,
            Some(AgentMessage::Result {
                command_id: "f".into(),
                result: CommandResult::Error {
                    message: "cancelled".into()
                }
            })
        );
        assert!(matches!(table.admit("f", true), Admission::Repeat(_)));
    }
}
