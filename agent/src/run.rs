//! `outpost-agent run`: the agent's daemon. Wires the stored identity, host facts and the
//! local Docker engine into the link, prints a `connected to <console>` line on stdout for
//! each welcomed connection, and stops on SIGTERM or SIGINT.
//!
//! The engine is connected lazily: an agent whose Docker engine is down still connects,
//! reports `docker: null` in its facts, answers commands with the engine's error, and
//! picks the engine up once it answers.

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::{watch, Mutex};

use crate::engine::{self, BollardEngine, ContainerEngine, EngineError};
use crate::facts;
use crate::link::{
    self, CommandRunner, FactsSource, Identity, IdentityError, LinkConfig, LinkError, LinkStatus,
    ProgressSink, Services,
};
use crate::protocol::{Command, CommandResult, Facts};

/// What `run` needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub data_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The console refused this node; exit code 3.
    #[error(transparent)]
    Refused(#[from] LinkError),
    #[error("cannot listen for signals: {0}")]
    Signals(#[source] std::io::Error),
}

impl RunError {
    /// The process exit code: 3 when the node must be joined again, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Refused(LinkError::Refused { .. }) => 3,
            RunError::Identity(_) | RunError::Signals(_) => 1,
        }
    }
}

/// Runs the agent until a signal (`Ok`) or until the console refuses the node.
pub async fn run(config: RunConfig) -> Result<(), RunError> {
    let identity = Identity::load(&config.data_dir)?;
    let shutdown = shutdown_signal().map_err(RunError::Signals)?;
    tracing::info!(
        node_id = identity.node_id(),
        console = %identity.console(),
        data_dir = %config.data_dir.display(),
        version = crate::VERSION,
        "starting"
    );
    let engine = Arc::new(LazyEngine::default());
    let services = Services {
        runner: Arc::new(EngineRunner {
            engine: engine.clone(),
        }),
        facts: Arc::new(HostFacts {
            data_dir: config.data_dir.clone(),
            engine,
        }),
    };
    let (status, watcher) = watch::channel(LinkStatus::default());
    let printer = tokio::spawn(print_connections(watcher));
    let outcome = link::maintain(
        LinkConfig::new(&config.data_dir),
        identity,
        services,
        status,
        shutdown,
    )
    .await;
    printer.abort();
    match &outcome {
        Ok(()) => tracing::info!("stopped"),
        Err(error) => tracing::error!(%error, "stopping"),
    }
    Ok(outcome?)
}

/// Prints `connected to <console>` for each new connection (tests read these lines).
async fn print_connections(mut status: watch::Receiver<LinkStatus>) {
    let mut seen = 0;
    while status.changed().await.is_ok() {
        let (connections, console) = {
            let now = status.borrow_and_update();
            (now.connections, now.console.clone())
        };
        if connections > seen {
            seen = connections;
            println!("connected to {console}");
        }
    }
}

/// Completes on the first SIGTERM or SIGINT.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = interrupt.recv() => tracing::info!("SIGINT: stopping"),
        }
    })
}

/// The Docker engine, connected on first use and again after a failed attempt.
#[derive(Default)]
struct LazyEngine {
    engine: Mutex<Option<Arc<BollardEngine>>>,
}

impl LazyEngine {
    async fn get(&self) -> Result<Arc<BollardEngine>, EngineError> {
        let mut slot = self.engine.lock().await;
        if let Some(engine) = &*slot {
            return Ok(engine.clone());
        }
        let engine = Arc::new(BollardEngine::connect().await?);
        tracing::info!("connected to the Docker engine");
        *slot = Some(engine.clone());
        Ok(engine)
    }
}

/// Runs the console's commands on the Docker engine.
struct EngineRunner {
    engine: Arc<LazyEngine>,
}

impl CommandRunner for EngineRunner {
    fn run(&self, command: Command, progress: ProgressSink) -> BoxFuture<'static, CommandResult> {
        let engine = self.engine.clone();
        Box::pin(async move {
            match engine.get().await {
                Ok(engine) => {
                    engine::execute(&*engine, &command, move |update| {
                        progress.send(update);
                    })
                    .await
                }
                Err(error) => CommandResult::Error {
                    message: error.to_string(),
                },
            }
        })
    }
}

/// Host facts, with the engine's when it answers.
struct HostFacts {
    data_dir: PathBuf,
    engine: Arc<LazyEngine>,
}

impl FactsSource for HostFacts {
    fn collect(&self) -> BoxFuture<'static, Facts> {
        let engine = self.engine.clone();
        let data_dir = self.data_dir.clone();
        Box::pin(async move {
            let info = match engine.get().await {
                Ok(engine) => engine
                    .info()
                    .await
                    .map_err(
                        |error| tracing::warn!(%error, "cannot read the Docker engine's facts"),
                    )
                    .ok(),
                Err(error) => {
                    tracing::warn!(%error, "the Docker engine is not reachable");
                    None
                }
            };
            tokio::task::spawn_blocking(move || facts::collect(&data_dir, info.as_ref()))
                .await
                .unwrap_or_default()
        })
    }
}
