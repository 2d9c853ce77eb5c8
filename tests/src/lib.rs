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

    pub fn start_with(data_dir: &Path, extra_args: &[&str]) -> Result<Console> {
        let stderr_path = data_dir.with_extension("stderr.log");
        let stderr = std::fs::File::create(&stderr_path)?;
        let mut child = Command::new(binary("outpost-console"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--cluster-listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir)
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
