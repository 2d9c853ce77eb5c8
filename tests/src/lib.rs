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
        let stderr_path = data_dir.with_extension("stderr.log");
        let stderr = std::fs::File::create(&stderr_path)?;
        let mut command = Command::new(binary("outpost-console"));
        command.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]);
        command.arg(data_dir);
        if !extra_args.contains(&"--cluster-listen") {
            command.args(["--cluster-listen", "127.0.0.1:0"]);
        }
        let mut child = command
            .args(extra_args)
            .env_remove("OUTPOST_CONFIG")
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
        // The banner is: the URL, then the setup link or the "password is set" line.
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match receiver.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => break,
            };
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
        if console.url.is_empty() {
            bail!(
                "the console printed no URL within 30 s; stdout: {:?}; stderr: {}",
                console.stdout_lines,
                console.stderr()
            );
        }
        let port = console
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .context("port in the console URL")?;
        console.address = SocketAddr::from(([127, 0, 0, 1], port));
        Ok(console)
    }

    /// The setup token from the printed link.
    pub fn setup_token(&self) -> Option<String> {
        self.setup_link
            .as_deref()
            .and_then(|link| link.split("token=").nth(1))
            .map(str::to_owned)
    }

    /// A URL on this console, by path.
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
