//! The agent's link (join, connect, commands, renewal, refusal) against a fake console
//! written here with rcgen + tokio-rustls + tungstenite: a cluster CA, a server
//! certificate whose chain ends with the CA (and whose name does not match the address
//! dialled), `POST /v1/join`, `POST /v1/renew` and the `GET /v1/connect` WebSocket, with
//! the console's authorisation rules (one-use tokens, current certificate only, removed
//! nodes refused). Every wait is bounded; nothing sleeps for a fixed time.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use outpost_agent::link::backoff::BackoffPolicy;
use outpost_agent::link::join::Refusal;
use outpost_agent::link::{
    self, CommandRunner, ConsoleUrl, FactsSource, Identity, JoinConfig, JoinError, JoinToken,
    LinkConfig, LinkError, LinkStatus, ProgressSink, Services,
};
use outpost_agent::protocol::{
    AgentMessage, Command, CommandResult, ConsoleMessage, Facts, Progress, MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use x509_parser::prelude::{FromDer, X509Certificate};

/// How long any condition may take to come true before a test fails.
const PATIENCE: Duration = Duration::from_secs(30);
/// The fake console's clock runs this far ahead of ours.
const CONSOLE_SKEW_MS: i64 = 5_000;
/// What a removed node says when it stops.
const REFUSED: &str = "this node was removed from the console or its certificate was revoked; \
                       join it again with a new token";
const SECRET: &str = "dGhpcy1pcy10aGUtam9pbi1zZWNyZXQtb2YtdGhlLXRlc3Q";

// ---------------------------------------------------------------- the tests

#[tokio::test]
async fn joining_stores_the_identity_and_the_node_connects() {
    let console = FakeConsole::start(Behaviour::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("agent");

    let identity = link::join(&console.join_config(&data_dir)).await.unwrap();
    assert!(identity.node_id().starts_with("node-"));

    // The request: the token, the host name, a P-256 certificate request.
    let request = console.state(|s| s.join_requests[0].clone());
    assert_eq!(request["hostname"], "test-node");
    assert_eq!(request["token"], console.token());
    let csr = request["csr_pem"].as_str().unwrap();
    assert!(CertificateSigningRequestParams::from_pem(csr).is_ok());

    // The data dir: private, with the key, certificate, CA and node.json.
    use std::os::unix::fs::PermissionsExt;
    let mode = |name: &str| {
        std::fs::metadata(data_dir.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700);
    assert_eq!(mode("agent.key"), 0o600);
    let node: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data_dir.join("node.json")).unwrap())
            .unwrap();
    assert_eq!(node["node_id"], identity.node_id());
    assert_eq!(node["console"], console.url);
    assert_eq!(
        std::fs::read_to_string(data_dir.join("ca.crt")).unwrap(),
        console.ca.cert_pem
    );
    let stored = Identity::load(&data_dir).unwrap();
    assert_eq!(stored.node_id(), identity.node_id());
    assert_eq!(stored.ca_fingerprint(), console.ca.fingerprint());

    // It connects: hello with protocol, version and facts; welcome gives the skew.
    let agent = Agent::start(&data_dir, TestRunner::default());
    agent.connected(1).await;
    let hello = console.state(|s| s.hellos[0].clone());
    assert_eq!(
        hello,
        AgentMessage::Hello {
            protocol: PROTOCOL_VERSION,
            agent_version: outpost_agent::VERSION.into(),
            facts: Box::new(test_facts()),
        }
    );
    let status = agent.status.borrow().clone();
    assert_eq!(status.node_id.as_deref(), Some(identity.node_id()));
    assert_eq!(status.console, console.url);
    let skew = status.clock_skew_ms.unwrap();
    assert!(
        (CONSOLE_SKEW_MS - 1500..CONSOLE_SKEW_MS + 1500).contains(&skew),
        "{skew}"
    );
    // Heartbeats flow (the fake console asks for one a second).
    console.wait("two heartbeats", |s| s.heartbeats >= 2).await;
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn a_console_with_another_ca_is_refused_before_the_secret_is_sent() {
    let console = FakeConsole::start(Behaviour::default()).await;
    let impostor = FakeConsole::start(Behaviour::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("agent");

    // The token pins the real console's CA, but the URL leads to the impostor.
    let mut config = console.join_config(&data_dir);
    config.console = ConsoleUrl::parse(&impostor.url).unwrap();
    let error = link::join(&config).await.unwrap_err();
    match &error {
        JoinError::WrongCa {
            expected, found, ..
        } => {
            assert_eq!(*expected, console.ca.fingerprint());
            assert_eq!(*found, impostor.ca.fingerprint());
        }
        other => panic!("expected WrongCa, got {other:?}"),
    }
    assert!(error
        .to_string()
        .contains("the console's CA does not match the token"));
    assert!(!error.to_string().contains(SECRET));

    // The impostor saw a TLS hello and an alert: no application byte, no secret.
    impostor
        .wait("the impostor's connection to end", |s| s.tls_failures >= 1)
        .await;
    impostor.state(|s| {
        assert!(
            s.plaintext.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&s.plaintext)
        );
        assert!(!s.raw.is_empty());
        assert!(!contains(&s.raw, SECRET.as_bytes()));
        assert!(s.join_requests.is_empty());
    });
    assert!(!link::identity::is_joined(&data_dir));

    // The same recording on the right console does see the secret: the check is real.
    link::join(&console.join_config(&data_dir)).await.unwrap();
    console.state(|s| assert!(contains(&s.plaintext, SECRET.as_bytes())));
}

#[tokio::test]
async fn a_used_token_is_a_clear_error_and_keeps_the_identity() {
    let console = FakeConsole::start(Behaviour::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("agent");
    let first = link::join(&console.join_config(&data_dir)).await.unwrap();

    let error = link::join(&console.join_config(&data_dir))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            JoinError::Refused {
                refusal: Refusal::TokenUsed,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("already used"), "{error}");
    assert_eq!(
        Identity::load(&data_dir).unwrap().node_id(),
        first.node_id()
    );

    // An unknown token and a malformed request get their own messages.
    let mut unknown = console.join_config(&data_dir);
    unknown.token = JoinToken::parse(&format!(
        "OPT1.{}.{}",
        console.ca.fingerprint(),
        "u".repeat(43)
    ))
    .unwrap();
    let error = link::join(&unknown).await.unwrap_err();
    assert!(error.to_string().contains("does not know"), "{error}");
    let mut bad = console.join_config(&data_dir);
    bad.hostname = String::new();
    let error = link::join(&bad).await.unwrap_err();
    assert!(matches!(error, JoinError::BadRequest { .. }), "{error:?}");
}

#[tokio::test]
async fn the_agent_reconnects_after_the_console_drops_the_connection() {
    let console = FakeConsole::start(Behaviour::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("agent");
    link::join(&console.join_config(&data_dir)).await.unwrap();
    let agent = Agent::start(&data_dir, TestRunner::default());
    agent.connected(1).await;

    console.push(Outgoing::Drop);
    agent.connected(2).await;
    console
        .wait("a second hello", |s| s.hellos.len() == 2)
        .await;

    // A malformed message closes the connection; the agent comes back.
    console.push(Outgoing::Raw("{not json".into()));
    agent.connected(3).await;
    // So does an oversized one.
    console.push(Outgoing::Raw(format!(
        r#"{{"type":"cancel","command_id":"{}"}}"#,
        "x".repeat(MAX_MESSAGE_BYTES)
    )));
    agent.connected(4).await;
    // An unknown message type is ignored: the connection stays and commands still run.
    console.push(Outgoing::Raw(
        r#"{"type":"hologram","colour":"blue"}"#.into(),
    ));
    console.push(Outgoing::Message(command("after-unknown", "web")));
    console
        .wait("the command's result", |s| {
            s.results_for("after-unknown") == 1
        })
        .await;
    assert_eq!(agent.status.borrow().connections, 4);
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn a_repeated_command_id_runs_once_and_gets_its_result_again() {
    let console = FakeConsole::start(Behaviour::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("agent");
    link::join(&console.join_config(&data_dir)).await.unwrap();
    let runner = TestRunner::default();
    let agent = Agent::start(&data_dir, runner.clone());
    agent.connected(1).await;

    // The same id twice: one execution, the same result twice, with progress once.
    console.push(Outgoing::Message(command("c1", "web")));
    console
        .wait("the first result", |s| s.results_for("c1") == 1)
        .await;
    console.push(Outgoing::Message(command("c1", "web")));
    console
        .wait("the result again", |s| s.results_for("c1") == 2)
        .await;
    let results = console.state(|s| s.results_of("c1"));
    assert_eq!(results[0], results[1]);
    assert_eq!(runner.executions("web"), 1);
    console.state(|s| assert_eq!(s.progress_for("c1"), 1));

    // Repeated while it still runs: no second run, one result once it ends.
    runner.hold();
    console.push(Outgoing::Message(command("c2", "db")));
    runner.wait_started("db", 1).await;
    console.push(Outgoing::Message(command("c2", "db")));
    console.push(Outgoing::Message(command("c3", "cache")));
    // Messages are handled in order: once c3 runs, the repeated c2 has been seen.
    runner.wait_started("cache", 1).await;
    runner.release();
    console
        .wait("c2 and c3 results", |s| {
            s.results_for("c2") == 1 && s.results_for("c3") == 1
        })
        .await;
    assert_eq!(runner.executions("db"), 1);

    // Remembered across a reconnect.
    console.push(Outgoing::Drop);
    agent.connected(2).await;
    console.push(Outgoing::Message(command("c1", "web")));
    console
        .wait("the result a third time", |s| s.results_for("c1") == 3)
        .await;
    assert_eq!(runner.executions("web"), 1);
    assert_eq!(runner.executions("db"), 1);
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn a_log_follow_stops_on_cancel() {
    let console = FakeConsole::start(Behaviour::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("agent");
    link::join(&console.join_config(&data_dir)).await.unwrap();
    let agent = Agent::start(&data_dir, TestRunner::default());
    agent.connected(1).await;

    console.push(Outgoing::Message(ConsoleMessage::Command {
        command_id: "follow".into(),
        command: Command::Logs {
            name: "web".into(),
            tail: None,
            follow: true,
        },
    }));
    console
        .wait("a log line", |s| s.progress_for("follow") >= 1)
        .await;
    console.push(Outgoing::Message(ConsoleMessage::Cancel {
        command_id: "follow".into(),
    }));
    console
        .wait("the follow's result", |s| s.results_for("follow") == 1)
        .await;
    assert_eq!(
        console.state(|s| s.results_of("follow")[0].clone()),
        CommandResult::Error {
            message: "cancelled".into()
        }
    );
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn changed_facts_are_sent_again() {
    let console = FakeConsole::start(Behaviour::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("agent");
    link::join(&console.join_config(&data_dir)).await.unwrap();
    let facts = Arc::new(TestFacts::default());
    let mut config = test_link_config(&data_dir);
    config.facts_interval = Duration::from_millis(50);
    let agent = Agent::start_with(config, &data_dir, TestRunner::default(), facts.clone());
    agent.connected(1).await;

    facts.set_cpus(64);
    console
        .wait("new facts", |s| {
            s.facts.last().is_some_and(|f| f.cpus == 64)
        })
        .await;
    // Unchanged facts are not sent again.
    let sent = console.state(|s| s.facts.len());
    facts.collected.store(0, Ordering::SeqCst);
    facts.wait_collected(3).await;
    assert_eq!(console.state(|s| s.facts.len()), sent);
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn the_certificate_is_renewed_at_half_life_and_the_agent_reconnects_with_it() {
    // 24 s certificates issued 10 s ago: half-life is 2 s away.
    let console = FakeConsole::start(Behaviour {
        join_validity: (-10, 14),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("agent");
    let joined = link::join(&console.join_config(&data_dir)).await.unwrap();
    let first_serial = console.state(|s| s.nodes[joined.node_id()].serial.clone());
    let agent = Agent::start(&data_dir, TestRunner::default());
    agent.connected(1).await;

    agent
        .status_wait("a renewal and a reconnect", |s| {
            s.renewals == 1 && s.connections >= 2 && s.connected
        })
        .await;
    let (renewals, new_serial, last_peer) = console.state(|s| {
        (
            s.renew_requests,
            s.nodes[joined.node_id()].serial.clone(),
            s.connect_serials.last().cloned(),
        )
    });
    assert_eq!(renewals, 1);
    assert_ne!(new_serial, first_serial);
    assert_eq!(last_peer.as_deref(), Some(new_serial.as_str()));
    console.state(|s| assert!(s.revoked.contains(&first_serial)));
    // Stored: the key changed with the certificate, and the pair loads.
    let stored = Identity::load(&data_dir).unwrap();
    assert_ne!(stored.key_pem(), joined.key_pem());
    assert_eq!(serial_of(stored.cert_pem()), new_serial);
    assert!(stored.validity().not_after - stored.validity().not_before > 3600);
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn a_certificate_past_half_life_is_renewed_before_connecting() {
    let console = FakeConsole::start(Behaviour {
        join_validity: (-100, 60),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("agent");
    let joined = link::join(&console.join_config(&data_dir)).await.unwrap();
    let agent = Agent::start(&data_dir, TestRunner::default());
    agent.connected(1).await;
    let new_serial = console.state(|s| s.nodes[joined.node_id()].serial.clone());
    console.state(|s| {
        assert_eq!(s.renew_requests, 1);
        assert_eq!(s.connect_serials, vec![new_serial.clone()]);
    });
    assert_eq!(agent.status.borrow().renewals, 1);
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn a_removed_node_stops_with_a_clear_message() {
    let console = FakeConsole::start(Behaviour::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("agent");
    let joined = link::join(&console.join_config(&data_dir)).await.unwrap();
    let agent = Agent::start(&data_dir, TestRunner::default());
    agent.connected(1).await;

    console.remove(joined.node_id());
    let error = agent.finished().await.unwrap_err();
    assert!(matches!(error, LinkError::Refused { .. }));
    assert_eq!(error.to_string(), REFUSED);
}

#[tokio::test]
async fn a_certificate_the_console_does_not_trust_is_refused_at_the_tls_layer() {
    // Another CA of the same name (another console's: rustls answers decrypt_error) and
    // of another name (unknown_ca).
    for other_ca in ["Test cluster CA", "Another CA"] {
        let console = FakeConsole::start(Behaviour::default()).await;
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("agent");
        let joined = link::join(&console.join_config(&data_dir)).await.unwrap();
        // Same node and CA file, but a certificate from the other CA.
        let other = TestCa::named(other_ca);
        let key = KeyPair::generate().unwrap();
        let cert = other.client_cert(&key, joined.node_id(), (-60, 3600));
        let forged = joined.with_credentials(key.serialize_pem(), cert).unwrap();
        forged.save(&data_dir).unwrap();

        let agent = Agent::start(&data_dir, TestRunner::default());
        let error = agent.finished().await.unwrap_err();
        assert!(
            matches!(error, LinkError::Refused { .. }),
            "{other_ca}: {error:?}"
        );
        console.state(|s| assert!(s.hellos.is_empty()));
    }
}

#[tokio::test]
async fn the_binary_joins_prints_its_lines_and_exits_3_when_removed() {
    let console = FakeConsole::start(Behaviour::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("agent");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_outpost-agent"))
        .args([
            "join",
            "--console",
            &console.url,
            "--token",
            &console.token(),
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--hostname", "bin-node", "--log-format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut next_line = async || {
        tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .expect("a line on stdout in time")
            .unwrap()
            .expect("stdout still open")
    };
    let joined = next_line().await;
    let node_id = joined
        .strip_prefix("joined as ")
        .unwrap_or_else(|| panic!("unexpected line {joined:?}"))
        .to_owned();
    assert_eq!(next_line().await, format!("connected to {}", console.url));

    console.remove(&node_id);
    let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("the agent stops in time")
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(REFUSED), "{stderr}");
    // JSON logs, and neither the secret nor the key in them.
    assert!(!stderr.contains(SECRET));
    assert!(!stderr.contains("PRIVATE KEY"));
    for line in stderr.lines().filter(|l| l.starts_with('{')) {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
}

#[tokio::test]
async fn the_binary_explains_a_data_dir_without_identity() {
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_outpost-agent"))
        .arg("run")
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("holds no node identity; join this node first"),
        "{stderr}"
    );

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_outpost-agent"))
        .args(["join", "--console", "https://127.0.0.1:1", "--token"])
        .arg(format!("OPT1.{}.{SECRET}x", "A".repeat(64)))
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not an Outpost join token"), "{stderr}");
    assert!(!stderr.contains(SECRET));
}

// ---------------------------------------------------------------- the agent side

fn test_link_config(data_dir: &Path) -> LinkConfig {
    let mut config = LinkConfig::new(data_dir);
    config.backoff = BackoffPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        jitter: 0.2,
        reset_after: Duration::from_secs(30),
    };
    config.connect_timeout = Duration::from_secs(5);
    config.welcome_timeout = Duration::from_secs(5);
    config.renew_retry = Duration::from_secs(1);
    config
}

fn test_facts() -> Facts {
    Facts {
        hostname: "test-node".into(),
        os: "Debian GNU/Linux 13".into(),
        cpus: 4,
        ..Facts::default()
    }
}

/// `maintain` running in a task.
struct Agent {
    status: watch::Receiver<LinkStatus>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), LinkError>>,
}

impl Agent {
    fn start(data_dir: &Path, runner: TestRunner) -> Agent {
        Agent::start_with(
            test_link_config(data_dir),
            data_dir,
            runner,
            Arc::new(TestFacts::default()),
        )
    }

    fn start_with(
        config: LinkConfig,
        data_dir: &Path,
        runner: TestRunner,
        facts: Arc<TestFacts>,
    ) -> Agent {
        // Shown for failing tests only.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("outpost_agent=debug")
            .with_test_writer()
            .try_init();
        let identity = Identity::load(data_dir).unwrap();
        let (status_tx, status) = watch::channel(LinkStatus::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let services = Services {
            runner: Arc::new(runner),
            facts,
        };
        let task = tokio::spawn(link::maintain(
            config,
            identity,
            services,
            status_tx,
            async {
                let _ = stopped.await;
            },
        ));
        Agent {
            status,
            stop: Some(stop),
            task,
        }
    }

    async fn status_wait(&self, what: &str, condition: impl Fn(&LinkStatus) -> bool) {
        let mut status = self.status.clone();
        tokio::time::timeout(PATIENCE, status.wait_for(|s| condition(s)))
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}: {:?}", self.status.borrow()))
            .unwrap();
    }

    async fn connected(&self, connections: u64) {
        self.status_wait(&format!("connection #{connections}"), |s| {
            s.connected && s.connections == connections
        })
        .await;
    }

    async fn stop(mut self) -> Result<(), LinkError> {
        let _ = self.stop.take().unwrap().send(());
        self.finished().await
    }

    async fn finished(self) -> Result<(), LinkError> {
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("the link ends in time")
            .unwrap()
    }
}

/// Counts executions by container name; can hold commands until released; a log follow
/// sends a line and waits to be dropped.
#[derive(Clone)]
struct TestRunner {
    inner: Arc<RunnerInner>,
}

struct RunnerInner {
    started: Mutex<HashMap<String, u64>>,
    changed: Notify,
    /// Whether commands may finish.
    open: watch::Sender<bool>,
}

impl Default for TestRunner {
    fn default() -> Self {
        TestRunner {
            inner: Arc::new(RunnerInner {
                started: Mutex::default(),
                changed: Notify::new(),
                open: watch::channel(true).0,
            }),
        }
    }
}

impl TestRunner {
    fn executions(&self, name: &str) -> u64 {
        self.inner
            .started
            .lock()
            .unwrap()
            .get(name)
            .copied()
            .unwrap_or(0)
    }

    fn hold(&self) {
        self.inner.open.send_replace(false);
    }

    fn release(&self) {
        self.inner.open.send_replace(true);
    }

    async fn wait_started(&self, name: &str, count: u64) {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let changed = self.inner.changed.notified();
                if self.executions(name) >= count {
                    return;
                }
                changed.await;
            }
        })
        .await
        .expect("the command starts in time");
    }
}

impl CommandRunner for TestRunner {
    fn run(&self, command: Command, progress: ProgressSink) -> BoxFuture<'static, CommandResult> {
        let inner = self.inner.clone();
        Box::pin(async move {
            match command {
                Command::InspectContainer { name } => {
                    let count = {
                        let mut started = inner.started.lock().unwrap();
                        let count = started.entry(name.clone()).or_default();
                        *count += 1;
                        *count
                    };
                    inner.changed.notify_waiters();
                    let _ = inner.open.subscribe().wait_for(|open| *open).await;
                    progress.send(Progress::Pull {
                        status: format!("inspecting {name}"),
                        current: None,
                        total: None,
                    });
                    CommandResult::Ok {
                        output: serde_json::json!({"name": name, "execution": count}),
                    }
                }
                Command::Logs { follow: true, .. } => {
                    progress.send(Progress::LogLine {
                        stream: "stdout".into(),
                        line: "hello".into(),
                    });
                    std::future::pending().await
                }
                _ => CommandResult::Unsupported,
            }
        })
    }
}

#[derive(Default)]
struct TestFacts {
    cpus: Mutex<Option<u32>>,
    collected: AtomicU64,
    changed: Notify,
}

impl TestFacts {
    fn set_cpus(&self, cpus: u32) {
        *self.cpus.lock().unwrap() = Some(cpus);
    }

    async fn wait_collected(&self, count: u64) {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let changed = self.changed.notified();
                if self.collected.load(Ordering::SeqCst) >= count {
                    return;
                }
                changed.await;
            }
        })
        .await
        .expect("facts collected in time");
    }
}

impl FactsSource for TestFacts {
    fn collect(&self) -> BoxFuture<'static, Facts> {
        let mut facts = test_facts();
        if let Some(cpus) = *self.cpus.lock().unwrap() {
            facts.cpus = cpus;
        }
        self.collected.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        Box::pin(async move { facts })
    }
}

fn command(id: &str, name: &str) -> ConsoleMessage {
    ConsoleMessage::Command {
        command_id: id.into(),
        command: Command::InspectContainer { name: name.into() },
    }
}

// ---------------------------------------------------------------- the fake console

/// A CA that signs server and client certificates.
struct TestCa {
    cert_pem: String,
    cert_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    fn new() -> TestCa {
        TestCa::named("Test cluster CA")
    }

    fn named(name: &str) -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = at(-3600);
        params.not_after = at(365 * 86_400);
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.cert_der))
    }

    /// A server certificate for a name the tests never dial, and its key.
    fn server_cert(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.subject_alt_names = vec![SanType::DnsName("console.invalid".try_into().unwrap())];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = at(-3600);
        params.not_after = at(30 * 86_400);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (
            vec![
                cert.der().clone(),
                CertificateDer::from(self.cert_der.clone()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }

    fn client_cert(
        &self,
        public_key: &impl rcgen::PublicKeyData,
        node_id: &str,
        validity: (i64, i64),
    ) -> String {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, node_id);
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let mut serial = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut serial);
        serial[0] = (serial[0] & 0x3f) | 0x40;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        params.not_before = at(validity.0);
        params.not_after = at(validity.1);
        params.signed_by(public_key, &self.issuer).unwrap().pem()
    }
}

/// A time `offset` seconds from now.
fn at(offset: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::seconds(offset)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn serial_of(cert_pem: &str) -> String {
    use rustls::pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    hex::encode(cert.raw_serial())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[derive(Clone, Copy)]
struct Behaviour {
    /// Validity of certificates issued at join, in seconds from now.
    join_validity: (i64, i64),
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            join_validity: (-300, 86_400),
        }
    }
}

/// What the test asks the console to do on the current connection.
enum Outgoing {
    Message(ConsoleMessage),
    /// A text frame as is (malformed or oversized).
    Raw(String),
    /// Drop the connection without a close frame.
    Drop,
}

#[derive(Default)]
struct ConsoleState {
    /// Bytes received on TCP, and TLS plaintext, over all connections.
    raw: Vec<u8>,
    plaintext: Vec<u8>,
    tls_failures: u64,
    tokens: HashSet<String>,
    used_tokens: HashSet<String>,
    join_requests: Vec<serde_json::Value>,
    renew_requests: u64,
    nodes: HashMap<String, NodeState>,
    revoked: HashSet<String>,
    /// The serial of the client certificate of each welcomed connection.
    connect_serials: Vec<String>,
    hellos: Vec<AgentMessage>,
    heartbeats: u64,
    facts: Vec<Facts>,
    results: Vec<(String, CommandResult)>,
    progress: Vec<String>,
    current: Option<mpsc::UnboundedSender<Outgoing>>,
}

impl ConsoleState {
    fn results_for(&self, id: &str) -> usize {
        self.results.iter().filter(|(c, _)| c == id).count()
    }

    fn results_of(&self, id: &str) -> Vec<CommandResult> {
        self.results
            .iter()
            .filter(|(c, _)| c == id)
            .map(|(_, r)| r.clone())
            .collect()
    }

    fn progress_for(&self, id: &str) -> usize {
        self.progress.iter().filter(|c| *c == id).count()
    }
}

struct NodeState {
    serial: String,
    removed: bool,
}

struct FakeConsole {
    url: String,
    ca: Arc<TestCa>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    state: Mutex<ConsoleState>,
    changed: watch::Sender<u64>,
    behaviour: Behaviour,
}

impl Shared {
    fn update<T>(&self, f: impl FnOnce(&mut ConsoleState) -> T) -> T {
        let out = f(&mut self.state.lock().unwrap());
        self.changed.send_modify(|v| *v += 1);
        out
    }
}

impl Drop for FakeConsole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeConsole {
    async fn start(behaviour: Behaviour) -> FakeConsole {
        let ca = Arc::new(TestCa::new());
        let (chain, key) = ca.server_cert();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(ca.cert_der.clone()))
            .unwrap();
        let client_verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(ConsoleState {
                tokens: HashSet::from([SECRET.to_owned()]),
                ..ConsoleState::default()
            }),
            changed: watch::channel(0).0,
            behaviour,
        });
        let task = tokio::spawn({
            let shared = shared.clone();
            let ca = ca.clone();
            async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let (acceptor, shared, ca) = (acceptor.clone(), shared.clone(), ca.clone());
                    tokio::spawn(async move {
                        let recording = Recording {
                            inner: tcp,
                            shared: shared.clone(),
                        };
                        match acceptor.accept(recording).await {
                            Ok(tls) => serve(tls, shared, ca).await,
                            Err(_) => shared.update(|s| s.tls_failures += 1),
                        }
                    });
                }
            }
        });
        FakeConsole {
            url: format!("https://127.0.0.1:{}", addr.port()),
            ca,
            shared,
            task,
        }
    }

    fn token(&self) -> String {
        format!("OPT1.{}.{SECRET}", self.ca.fingerprint())
    }

    fn join_config(&self, data_dir: &Path) -> JoinConfig {
        JoinConfig {
            console: ConsoleUrl::parse(&self.url).unwrap(),
            token: JoinToken::parse(&self.token()).unwrap(),
            hostname: "test-node".into(),
            data_dir: data_dir.to_owned(),
        }
    }

    fn state<T>(&self, f: impl FnOnce(&ConsoleState) -> T) -> T {
        f(&self.shared.state.lock().unwrap())
    }

    async fn wait(&self, what: &str, condition: impl Fn(&ConsoleState) -> bool) {
        let mut changed = self.shared.changed.subscribe();
        let waited = tokio::time::timeout(PATIENCE, async {
            loop {
                if self.state(&condition) {
                    return;
                }
                changed.changed().await.unwrap();
            }
        })
        .await;
        assert!(waited.is_ok(), "timed out waiting for {what}");
    }

    /// Queues something for the current connection.
    fn push(&self, outgoing: Outgoing) {
        self.state(|s| {
            s.current
                .as_ref()
                .expect("a connection")
                .send(outgoing)
                .unwrap_or_else(|_| panic!("the connection is closed"));
        });
    }

    /// Removes a node: its certificate is revoked and its connection dropped.
    fn remove(&self, node_id: &str) {
        self.shared.update(|s| {
            let node = s.nodes.get_mut(node_id).expect("a joined node");
            node.removed = true;
            let serial = node.serial.clone();
            s.revoked.insert(serial);
            if let Some(current) = s.current.take() {
                let _ = current.send(Outgoing::Drop);
            }
        });
    }
}

/// Records every byte read from the socket.
struct Recording {
    inner: TcpStream,
    shared: Arc<Shared>,
}

impl AsyncRead for Recording {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let bytes = buf.filled()[before..].to_vec();
            self.shared.update(|s| s.raw.extend_from_slice(&bytes));
        }
        polled
    }
}

impl AsyncWrite for Recording {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

type ServerTls = tokio_rustls::server::TlsStream<Recording>;

/// A parsed request.
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    /// Bytes read past the request (a WebSocket's first frames).
    rest: Vec<u8>,
}

async fn read_request(tls: &mut ServerTls, shared: &Shared) -> Option<Request> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = tls.read(&mut chunk).await.ok()?;
        if n == 0 || buffer.len() > 64 * 1024 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        shared.update(|s| s.plaintext.extend_from_slice(&chunk[..n]));
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = tls.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        shared.update(|s| s.plaintext.extend_from_slice(&chunk[..n]));
    }
    Some(Request {
        method,
        path,
        headers,
        body: buffer[head_end..head_end + length].to_vec(),
        rest: buffer[head_end + length..].to_vec(),
    })
}

async fn respond(tls: &mut ServerTls, status: u16, body: serde_json::Value) {
    let body = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        _ => "Other",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tls.write_all(response.as_bytes()).await;
    let _ = tls.shutdown().await;
}

fn error(code: &str) -> serde_json::Value {
    serde_json::json!({"error": {"code": code, "message": format!("refused: {code}")}})
}

/// The client certificate's node id and serial, if the client sent one.
fn peer(tls: &ServerTls) -> Option<(String, String)> {
    let der = tls.get_ref().1.peer_certificates()?.first()?.to_vec();
    let (_, cert) = X509Certificate::from_der(&der).ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_owned();
    Some((cn, hex::encode(cert.raw_serial())))
}

/// The console's rule: the current certificate of an existing node.
fn authorise(tls: &ServerTls, shared: &Shared) -> Result<(String, String), (u16, &'static str)> {
    let Some((node_id, serial)) = peer(tls) else {
        return Err((401, "certificate_required"));
    };
    shared.update(|s| match s.nodes.get(&node_id) {
        Some(node) if !node.removed && node.serial == serial && !s.revoked.contains(&serial) => {
            Ok((node_id, serial))
        }
        _ => Err((403, "revoked")),
    })
}

async fn serve(mut tls: ServerTls, shared: Arc<Shared>, ca: Arc<TestCa>) {
    let Some(request) = read_request(&mut tls, &shared).await else {
        return;
    };
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/v1/join") => join(tls, &request, &shared, &ca).await,
        ("POST", "/v1/renew") => match authorise(&tls, &shared) {
            Ok((node_id, serial)) => {
                let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
                let csr =
                    CertificateSigningRequestParams::from_pem(body["csr_pem"].as_str().unwrap())
                        .unwrap();
                let cert = ca.client_cert(&csr.public_key, &node_id, (-300, 86_400));
                shared.update(|s| {
                    s.renew_requests += 1;
                    s.revoked.insert(serial);
                    s.nodes.get_mut(&node_id).unwrap().serial = serial_of(&cert);
                });
                respond(&mut tls, 200, serde_json::json!({"cert_pem": cert})).await;
            }
            Err((status, code)) => respond(&mut tls, status, error(code)).await,
        },
        ("GET", "/v1/connect") => match authorise(&tls, &shared) {
            Ok((node_id, serial)) => connect(tls, request, &shared, node_id, serial).await,
            Err((status, code)) => respond(&mut tls, status, error(code)).await,
        },
        _ => respond(&mut tls, 404, error("not_found")).await,
    }
}

async fn join(mut tls: ServerTls, request: &Request, shared: &Shared, ca: &TestCa) {
    let body: serde_json::Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(_) => return respond(&mut tls, 400, error("bad_request")).await,
    };
    let hostname = body["hostname"].as_str().unwrap_or_default();
    let csr = body["csr_pem"]
        .as_str()
        .and_then(|pem| CertificateSigningRequestParams::from_pem(pem).ok());
    let (Some(csr), false) = (csr, hostname.is_empty()) else {
        return respond(&mut tls, 400, error("bad_request")).await;
    };
    let token = body["token"].as_str().unwrap_or_default();
    let mut parts = token.split('.');
    let (_, hash, secret) = (parts.next(), parts.next(), parts.next().unwrap_or_default());
    let refusal = shared.update(|s| {
        s.join_requests.push(body.clone());
        if hash != Some(ca.fingerprint().as_str()) {
            Some("wrong_cluster")
        } else if s.used_tokens.contains(secret) {
            Some("token_used")
        } else if !s.tokens.remove(secret) {
            Some("token_unknown")
        } else {
            s.used_tokens.insert(secret.to_owned());
            None
        }
    });
    if let Some(code) = refusal {
        return respond(&mut tls, 403, error(code)).await;
    }
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let node_id = format!("node-{:012x}", NEXT.fetch_add(1, Ordering::SeqCst));
    let cert = ca.client_cert(&csr.public_key, &node_id, shared.behaviour.join_validity);
    shared.update(|s| {
        s.nodes.insert(
            node_id.clone(),
            NodeState {
                serial: serial_of(&cert),
                removed: false,
            },
        )
    });
    respond(
        &mut tls,
        200,
        serde_json::json!({
            "node_id": node_id,
            "cert_pem": cert,
            "ca_pem": ca.cert_pem,
            "labels": {"zone": "a"},
        }),
    )
    .await;
}

async fn connect(
    mut tls: ServerTls,
    request: Request,
    shared: &Shared,
    node_id: String,
    serial: String,
) {
    let key = request
        .headers
        .get("sec-websocket-key")
        .cloned()
        .unwrap_or_default();
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
    );
    if tls.write_all(response.as_bytes()).await.is_err() {
        return;
    }
    let config = WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE_BYTES));
    let mut ws =
        WebSocketStream::from_partially_read(tls, request.rest, Role::Server, Some(config)).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let send = |message: &ConsoleMessage| Message::text(serde_json::to_string(message).unwrap());
    loop {
        tokio::select! {
            frame = ws.next() => {
                let Some(Ok(Message::Text(text))) = frame else {
                    return;
                };
                let Ok(message) = serde_json::from_str::<AgentMessage>(text.as_str()) else {
                    return;
                };
                let reply = shared.update(|s| match &message {
                    AgentMessage::Hello { .. } => {
                        s.hellos.push(message.clone());
                        s.connect_serials.push(serial.clone());
                        s.current = Some(tx.clone());
                        Some(ConsoleMessage::Welcome {
                            protocol: PROTOCOL_VERSION,
                            node_id: node_id.clone(),
                            heartbeat_secs: 1,
                            console_time_ms: now_ms() + CONSOLE_SKEW_MS,
                        })
                    }
                    AgentMessage::Heartbeat { seq, .. } => {
                        s.heartbeats += 1;
                        Some(ConsoleMessage::HeartbeatAck {
                            seq: *seq,
                            console_time_ms: now_ms() + CONSOLE_SKEW_MS,
                        })
                    }
                    AgentMessage::Facts { facts } => {
                        s.facts.push((**facts).clone());
                        None
                    }
                    AgentMessage::Result { command_id, result } => {
                        s.results.push((command_id.clone(), result.clone()));
                        None
                    }
                    AgentMessage::Progress { command_id, .. } => {
                        s.progress.push(command_id.clone());
                        None
                    }
                    AgentMessage::Unknown => None,
                });
                if let Some(reply) = reply {
                    if ws.send(send(&reply)).await.is_err() {
                        return;
                    }
                }
            }
            outgoing = rx.recv() => match outgoing {
                Some(Outgoing::Message(message)) => {
                    if ws.send(send(&message)).await.is_err() {
                        return;
                    }
                }
                Some(Outgoing::Raw(text)) => {
                    if ws.send(Message::text(text)).await.is_err() {
                        return;
                    }
                }
                Some(Outgoing::Drop) | None => return,
            },
        }
    }
}
