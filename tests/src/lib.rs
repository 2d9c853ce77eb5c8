//! Helpers for end-to-end tests: start the real binaries, wait on conditions with bounds,
//! look at the certificate a server really presents, and clean up on drop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The directory holding the workspace's built binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> → target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps")
        .to_owned()
}

/// The path of a workspace binary, which must have been built (`make build`).
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is not built; run `cargo build --workspace --bins` (make build) first",
        path.display()
    );
    path
}

/// Polls `check` until it yields a value or `limit` passes; the error names `what`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// A running `outpost-console serve`, killed on drop.
pub struct Console {
    child: Option<Child>,
    pub data_dir: PathBuf,
    pub url: String,
    pub address: SocketAddr,
    /// The agent channel's URL (`https://127.0.0.1:PORT`).
    pub cluster_url: String,
    pub setup_link: Option<String>,
    pub stdout_lines: Vec<String>,
    stderr_path: PathBuf,
}

impl Console {
    /// Starts a console on a free loopback port with `data_dir`, and waits (bounded) for
    /// the URL it prints.
    pub fn start(data_dir: &Path) -> Result<Console> {
        Self::start_with(data_dir, &[])
    }

    /// Starts a console with extra flags; a `--cluster-listen` among them replaces the
    /// default free loopback port.
    pub fn start_with(data_dir: &Path, extra_args: &[&str]) -> Result<Console> {
        Console::start_with_env(data_dir, extra_args, &[])
    }

    /// The setup token from the printed link.
    pub fn setup_token(&self) -> Option<String> {
        self.setup_link
            .as_deref()
            .and_then(|link| link.split("token=").nth(1))
            .map(str::to_owned)
    }

    /// A URL on this console, by path.
    /// Runs `outpostctl --data-dir DATA_DIR ARGS`: whether it succeeded, stdout, stderr.
    pub fn ctl(&self, args: &[&str]) -> Result<(bool, String, String)> {
        let output = Command::new(binary("outpostctl"))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .output()?;
        Ok((
            output.status.success(),
            String::from_utf8(output.stdout)?,
            String::from_utf8(output.stderr)?,
        ))
    }

    pub fn at(&self, path: &str) -> String {
        format!("https://{}{path}", self.address)
    }

    /// What the console wrote to stderr so far (its log).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Kills the console with SIGKILL (no drain, no clean-up), as a crash or power cut would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the console with SIGTERM and waits (bounded) for it to exit.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait()? {
                if !status.success() {
                    bail!(
                        "the console exited with {status}; stderr: {}",
                        self.stderr()
                    );
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the console did not stop within 15 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for a console that must keep its
/// agent channel port across a restart).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A signed-in admin session on a console.
pub struct Admin {
    pub http: reqwest::Client,
    pub csrf: String,
    base: String,
}

impl Admin {
    /// The sequences of the loaded releases, newest first.
    pub async fn loaded_sequences(&self) -> Result<Vec<u64>> {
        let (status, body) = self.get("/api/v1/releases").await?;
        if status != 200 {
            bail!("releases: {status} {body}");
        }
        Ok(body["releases"]
            .as_array()
            .context("releases")?
            .iter()
            .filter_map(|r| r["sequence"].as_u64())
            .collect())
    }

    /// Sets the admin password with the console's setup link (first start) and signs in.
    pub async fn set_up(console: &Console, password: &str) -> Result<Admin> {
        let http = client();
        let token = console
            .setup_token()
            .context("the console printed no setup link")?;
        let answer = http
            .post(console.at("/api/v1/setup"))
            .json(&serde_json::json!({"token": token, "password": password}))
            .send()
            .await?;
        if !answer.status().is_success() {
            bail!("setup failed: {}", answer.text().await?);
        }
        Admin::log_in(console, password).await
    }

    pub async fn log_in(console: &Console, password: &str) -> Result<Admin> {
        let http = client();
        let answer = http
            .post(console.at("/api/v1/login"))
            .json(&serde_json::json!({"password": password}))
            .send()
            .await?;
        if !answer.status().is_success() {
            bail!("login failed: {}", answer.text().await?);
        }
        let body: serde_json::Value = answer.json().await?;
        Ok(Admin {
            http,
            csrf: body["csrf_token"].as_str().unwrap_or_default().to_owned(),
            base: format!("https://{}", console.address),
        })
    }

    pub async fn get(&self, path: &str) -> Result<(u16, serde_json::Value)> {
        let answer = self.http.get(format!("{}{path}", self.base)).send().await?;
        let status = answer.status().as_u16();
        Ok((
            status,
            answer.json().await.unwrap_or(serde_json::Value::Null),
        ))
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> Result<(u16, serde_json::Value)> {
        let answer = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await?;
        let status = answer.status().as_u16();
        Ok((
            status,
            answer.json().await.unwrap_or(serde_json::Value::Null),
        ))
    }

    /// A fresh join token, with optional labels.
    pub async fn join_token(&self, ttl: &str, labels: serde_json::Value) -> Result<String> {
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                "/api/v1/nodes/join-token",
                serde_json::json!({"ttl": ttl, "labels": labels}),
            )
            .await?;
        if status != 200 {
            bail!("join token: {status} {body}");
        }
        Ok(body["token"].as_str().unwrap_or_default().to_owned())
    }

    /// The node with `id` as the API shows it.
    pub async fn node(&self, id: &str) -> Result<Option<serde_json::Value>> {
        let (_, body) = self.get("/api/v1/nodes").await?;
        Ok(body["nodes"]
            .as_array()
            .and_then(|nodes| nodes.iter().find(|n| n["id"] == id).cloned()))
    }

    /// Waits (bounded) until node `id` has `status` ("online"/"offline").
    pub async fn wait_for_status(
        &self,
        id: &str,
        status: &str,
        limit: Duration,
    ) -> Result<serde_json::Value> {
        eventually(&format!("node {id} {status}"), limit, || async {
            self.node(id)
                .await
                .ok()
                .flatten()
                .filter(|n| n["status"] == status)
        })
        .await
    }
}

/// A running `outpost-agent`, killed on drop.
pub struct Agent {
    child: Option<Child>,
    pub data_dir: PathBuf,
    lines: Arc<std::sync::Mutex<Vec<String>>>,
    stderr_path: PathBuf,
}

impl Agent {
    /// `outpost-agent join --console URL --token TOKEN --data-dir DIR` (then it runs).
    pub fn join(console_url: &str, token: &str, data_dir: &Path) -> Result<Agent> {
        Agent::spawn(
            Command::new(binary("outpost-agent"))
                .args([
                    "join",
                    "--console",
                    console_url,
                    "--token",
                    token,
                    "--data-dir",
                ])
                .arg(data_dir),
            data_dir,
        )
    }

    /// `outpost-agent run --data-dir DIR`: reuses the identity from an earlier join.
    pub fn run(data_dir: &Path) -> Result<Agent> {
        Agent::spawn(
            Command::new(binary("outpost-agent"))
                .args(["run", "--data-dir"])
                .arg(data_dir),
            data_dir,
        )
    }

    /// Spawns an agent command (for running it inside a network namespace, say).
    pub fn spawn(command: &mut Command, data_dir: &Path) -> Result<Agent> {
        let stderr_path = data_dir.with_extension(format!("agent-{}.log", std::process::id()));
        let stderr = std::fs::File::create(&stderr_path)?;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("spawning outpost-agent")?;
        let stdout = child.stdout.take().expect("piped");
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                sink.lock().expect("lines").push(line);
            }
        });
        Ok(Agent {
            child: Some(child),
            data_dir: data_dir.to_owned(),
            lines,
            stderr_path,
        })
    }

    /// Waits (bounded) for the agent to print `joined as <id>` or, for `run`, read the id
    /// from its data dir once it says it is connected.
    pub async fn node_id(&self, limit: Duration) -> Result<String> {
        let found = eventually("the agent's node id", limit, || async {
            let lines = self.lines.lock().expect("lines").clone();
            lines
                .iter()
                .find_map(|l| l.split("joined as ").nth(1))
                .map(|id| id.split_whitespace().next().unwrap_or_default().to_owned())
                .or_else(|| {
                    let text = std::fs::read_to_string(self.data_dir.join("node.json")).ok()?;
                    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
                    json["node_id"].as_str().map(str::to_owned)
                })
        })
        .await;
        found.with_context(|| format!("agent output: {:?}; log: {}", self.lines(), self.stderr()))
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    pub fn stdout_contains(&self, text: &str) -> bool {
        self.lines().iter().any(|l| l.contains(text))
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Waits (bounded) for the agent to exit; returns its exit code.
    pub async fn exit_code(&mut self, limit: Duration) -> Result<Option<i32>> {
        let child = self.child.as_mut().context("already stopped")?;
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status.code());
            }
            if Instant::now() >= deadline {
                bail!(
                    "the agent did not exit within {limit:?}; log: {}",
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTPS client for a console with a self-signed certificate, keeping cookies.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .cookie_store(true)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// The SHA-256 fingerprint (`AB:CD:...`) of the certificate `address` presents on a new
/// TLS connection.
pub async fn presented_fingerprint(address: SocketAddr) -> Result<String> {
    use rustls::pki_types::ServerName;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address).await?;
    let tls = connector
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let (_, session) = tls.get_ref();
    let leaf = session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .context("the server presented no certificate")?;
    Ok(fingerprint(leaf.as_ref()))
}

/// `AB:CD:...` SHA-256 of DER bytes.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Accepts any server certificate: these tests read the certificate, they do not trust it.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A tiny image built from Debian's busybox-static with `docker import`, removed on drop.
/// Fails loudly when Docker does not answer: these tests never skip.
pub struct BusyboxImage {
    pub reference: String,
}

impl BusyboxImage {
    pub fn build(tag: &str) -> Result<BusyboxImage> {
        let docker_ok = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !docker_ok {
            bail!("Docker does not answer (`docker info` failed): run scripts/dev-setup.sh first");
        }
        let busybox = Path::new("/bin/busybox");
        if !busybox.is_file() {
            bail!("/bin/busybox is missing: install busybox-static (scripts/dev-setup.sh)");
        }
        let root = tempfile::tempdir()?;
        let bin = root.path().join("bin");
        std::fs::create_dir_all(&bin)?;
        std::fs::copy(busybox, bin.join("busybox"))?;
        for applet in ["sh", "echo", "sleep", "cat", "wget", "httpd", "ls"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet))?;
        }
        std::fs::create_dir_all(root.path().join("tmp"))?;
        let tar = Command::new("tar")
            .arg("-C")
            .arg(root.path())
            .args(["-cf", "-", "."])
            .stdout(Stdio::piped())
            .spawn()?;
        let imported = Command::new("docker")
            .args(["import", "-", tag])
            .stdin(tar.stdout.context("tar output")?)
            .output()?;
        if !imported.status.success() {
            bail!(
                "docker import failed: {}",
                String::from_utf8_lossy(&imported.stderr)
            );
        }
        Ok(BusyboxImage {
            reference: tag.to_owned(),
        })
    }
}

impl Drop for BusyboxImage {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &self.reference])
            .output();
    }
}

/// Removes a container by name on drop.
pub struct ContainerGuard(pub String);

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

impl Console {
    /// Starts a console with extra flags, and `env` added to its environment (`HTTPS_PROXY`,
    /// `NO_PROXY`, ...); a `--cluster-listen` among the flags replaces the default free
    /// loopback port. `HTTPS_PROXY`/`NO_PROXY` of the test process itself are not passed
    /// on, so only what `env` names applies.
    pub fn start_with_env(
        data_dir: &Path,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Console> {
        let stderr_path = data_dir.with_extension("stderr.log");
        let stderr = std::fs::File::create(&stderr_path)?;
        let mut command = Command::new(binary("outpost-console"));
        command.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]);
        command.arg(data_dir);
        if !extra_args.contains(&"--cluster-listen") {
            command.args(["--cluster-listen", "127.0.0.1:0"]);
        }
        for name in ["HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"] {
            command.env_remove(name);
        }
        let mut child = command
            .args(extra_args)
            .env_remove("OUTPOST_CONFIG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("spawning outpost-console")?;
        let stdout = child.stdout.take().expect("piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut console = Console {
            child: Some(child),
            data_dir: data_dir.to_owned(),
            url: String::new(),
            cluster_url: String::new(),
            address: "127.0.0.1:0".parse().expect("literal"),
            setup_link: None,
            stdout_lines: Vec::new(),
            stderr_path,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Ok(line) =
            receiver.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            console.stdout_lines.push(line.clone());
            if let Some(url) = line.strip_prefix("Console URL: ") {
                console.url = url.trim().to_owned();
            } else if let Some(url) = line.strip_prefix("Agent channel: ") {
                console.cluster_url = url.trim().to_owned();
            } else if let Some(link) = line.strip_prefix("Setup link: ") {
                console.setup_link = Some(link.trim().to_owned());
                break;
            } else if line.starts_with("The admin password is set") {
                break;
            }
        }
        let port = console
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .with_context(|| {
                format!(
                    "the console printed no URL within 30 s; stdout: {:?}; stderr: {}",
                    console.stdout_lines,
                    console.stderr()
                )
            })?;
        console.address = SocketAddr::from(([127, 0, 0, 1], port));
        Ok(console)
    }
}

/// Waits (bounded, polling) until something accepts TCP connections on 127.0.0.1:`port`;
/// `alive` says whether the process that should listen still runs.
fn wait_for_listener(
    what: &str,
    port: u16,
    limit: Duration,
    mut alive: impl FnMut() -> bool,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if !alive() {
            bail!("{what} exited before it listened on 127.0.0.1:{port}");
        }
        if Instant::now() >= deadline {
            bail!("{what} did not listen on 127.0.0.1:{port} within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Debian's tinyproxy as a real HTTP CONNECT proxy on a free loopback port: its own config,
/// log and pid file in a temp dir, in the foreground (`-d`), killed on drop. Never the
/// system's tinyproxy service.
pub struct Tinyproxy {
    child: Option<Child>,
    pub port: u16,
    config: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// Starts a proxy that lets only 127.0.0.1 in and allows CONNECT to `connect_ports`
    /// (tinyproxy allows only 443 and 563 by default), with HTTP basic auth when
    /// `basic_auth` is given.
    pub fn start(connect_ports: &[u16], basic_auth: Option<(&str, &str)>) -> Result<Tinyproxy> {
        let program = Path::new("/usr/bin/tinyproxy");
        if !program.is_file() {
            bail!("/usr/bin/tinyproxy is missing: install tinyproxy (scripts/dev-setup.sh)");
        }
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("tinyproxy.conf");
        let log = dir.path().join("tinyproxy.log");
        let mut proxy = Tinyproxy {
            child: None,
            port: 0,
            config,
            log,
            _dir: dir,
        };
        // A free port can be taken between the probe and tinyproxy's bind: try a few.
        let mut last = None;
        for _ in 0..3 {
            proxy.port = free_port();
            let mut text = format!(
                "Port {}\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\nMaxClients 50\n\
                 LogFile \"{}\"\nLogLevel Info\nPidFile \"{}\"\n",
                proxy.port,
                proxy.log.display(),
                proxy.log.with_extension("pid").display()
            );
            for port in connect_ports {
                text.push_str(&format!("ConnectPort {port}\n"));
            }
            if let Some((user, password)) = basic_auth {
                text.push_str(&format!("BasicAuth {user} {password}\n"));
            }
            std::fs::write(&proxy.config, text)?;
            match proxy.spawn() {
                Ok(()) => return Ok(proxy),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("tried at least once"))
    }

    fn spawn(&mut self) -> Result<()> {
        let child = Command::new("/usr/bin/tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning tinyproxy")?;
        self.child = Some(child);
        let child = self.child.as_mut().expect("just set");
        let ready = wait_for_listener("tinyproxy", self.port, Duration::from_secs(10), || {
            matches!(child.try_wait(), Ok(None))
        });
        if let Err(e) = ready {
            self.stop();
            bail!("{e}; its log: {}", self.log());
        }
        Ok(())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The proxy's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many CONNECT requests to 127.0.0.1:`port` the log shows.
    pub fn connects_to(&self, port: u16) -> usize {
        let request = format!("CONNECT 127.0.0.1:{port} ");
        self.log().lines().filter(|l| l.contains(&request)).count()
    }

    /// Stops the proxy (as an outage would); the log stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the proxy again on the same port with the same config.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.spawn()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A TCP forwarder on a free loopback port that counts every connection it accepts and
/// every byte it carries (both ways) to `target`: put in front of an outside endpoint, it
/// proves whether anything connected. Stops accepting on drop.
pub struct CountingForwarder {
    pub port: u16,
    connections: Arc<std::sync::atomic::AtomicUsize>,
    bytes: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl CountingForwarder {
    pub fn start(target: SocketAddr) -> Result<CountingForwarder> {
        use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let connections = Arc::new(AtomicUsize::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, carried, stopped) = (connections.clone(), bytes.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let carried = carried.clone();
                std::thread::spawn(move || {
                    let Ok(upstream) = std::net::TcpStream::connect(target) else {
                        return;
                    };
                    let (Ok(client_read), Ok(upstream_read)) =
                        (client.try_clone(), upstream.try_clone())
                    else {
                        return;
                    };
                    let back = carried.clone();
                    std::thread::spawn(move || pump(upstream_read, client, &back));
                    pump(client_read, upstream, &carried);
                });
            }
        });
        Ok(CountingForwarder {
            port,
            connections,
            bytes,
            stop,
        })
    }

    /// Connections accepted since the start or the last reset.
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Bytes carried (both ways, on any connection) since the start or the last reset.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.connections
            .store(0, std::sync::atomic::Ordering::SeqCst);
        self.bytes.store(0, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for CountingForwarder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Copies `from` to `to`, counting the bytes, until either side ends.
fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    counted: &std::sync::atomic::AtomicU64,
) {
    use std::io::{Read, Write};
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                counted.fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// Debian's `docker-registry` (distribution) on a free loopback port over plain HTTP, with
/// its storage in a temp dir; killed on drop.
pub struct LocalRegistry {
    child: Option<Child>,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl LocalRegistry {
    pub fn start() -> Result<LocalRegistry> {
        let program = Path::new("/usr/bin/docker-registry");
        if !program.is_file() {
            bail!("/usr/bin/docker-registry is missing: install docker-registry (scripts/dev-setup.sh)");
        }
        let dir = tempfile::tempdir()?;
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: outpost-tests-{port}\n",
                dir.path().join("data").display()
            ),
        )?;
        let log = std::fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(program)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("spawning docker-registry")?;
        let mut registry = LocalRegistry {
            child: Some(child),
            port,
            _dir: dir,
        };
        let child = registry.child.as_mut().expect("just set");
        wait_for_listener("docker-registry", port, Duration::from_secs(30), || {
            matches!(child.try_wait(), Ok(None))
        })?;
        Ok(registry)
    }

    /// `127.0.0.1:PORT`, as image references name it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Fails loudly when the Docker engine does not answer: tests that need it never skip.
pub fn require_docker() -> Result<()> {
    let answers = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !answers {
        bail!("Docker does not answer (`docker info` failed): run scripts/dev-setup.sh first");
    }
    Ok(())
}

/// A CA and a server certificate it signed for 127.0.0.1, written into `dir` as
/// `api-host-ca.pem`, `api-host.crt` and `api-host.key` (for `outpost-airgap serve --tls-*`
/// and the console's `--api-host-ca`).
pub struct TestCa {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    pub fn write(dir: &Path, name: &str) -> Result<TestCa> {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate()?)?;
        let server_key = rcgen::KeyPair::generate()?;
        let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])?
            .signed_by(&server_key, &ca)?;
        let files = TestCa {
            ca: dir.join("api-host-ca.pem"),
            cert: dir.join("api-host.crt"),
            key: dir.join("api-host.key"),
        };
        std::fs::write(&files.ca, ca.pem())?;
        std::fs::write(&files.cert, server.pem())?;
        std::fs::write(&files.key, server_key.serialize_pem())?;
        Ok(files)
    }
}

/// Removes every container of `app` (labelled `outpost.app=<app>`), whatever its state.
pub fn remove_app_containers(app: &str) {
    let listed = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=outpost.app={app}")])
        .output();
    if let Ok(listed) = listed {
        let ids: Vec<String> = String::from_utf8_lossy(&listed.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .arg("rm")
                .arg("-f")
                .args(&ids)
                .output();
        }
    }
}
