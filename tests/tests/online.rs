//! Online, across real processes: update checks against a real `outpost-airgap serve` over
//! TLS (its own test CA, trusted through `--api-host-ca`), through a real HTTP CONNECT proxy
//! (Debian's tinyproxy, on loopback, with basic auth) set as a console setting or in the
//! console's environment; airgap mode proven to let no connection leave during a full cycle
//! (deploy on a real agent and Docker, status, checks, the network report, the schedule),
//! with counting forwarders in front of every outside endpoint the install knows; the network
//! requirements report and its live checks; and a revoked license, refused indexes
//! (tampered, expired, rolled back) and an api host that is down.
//!
//! Needs tinyproxy and docker-registry (scripts/dev-setup.sh); the airgap test also needs a
//! Docker engine and fails loudly without one.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use outpost_airgap::license::License;
use outpost_airgap::release::{ImagePin, Release};
use outpost_airgap::vendor::VendorDir;
use outpost_airgap::{seal, Envelope, SigningKey};
use outpost_tests::{
    binary, eventually, free_port, remove_app_containers, Admin, Agent, BusyboxImage, Console,
    CountingForwarder, LocalRegistry, TestCa, Tinyproxy,
};
use reqwest::Method;
use serde_json::{json, Value};

const PASSWORD: &str = "online test password";
const LICENSE_ID: &str = "lic-online-5b1e0d7a";
const PROXY_USER: &str = "outpost";
/// The proxy's password: it must never show in an answer, the CLI or a log.
const PROXY_PASSWORD: &str = "pr0xy-Secret-9d2f";
/// The app of the airgap test: not the sample app, whose containers other tests own.
const AIRGAP_APP: &str = "online-airgap";
const JOIN: Duration = Duration::from_secs(30);
const DEPLOY: Duration = Duration::from_secs(120);

/// The console probes :9874 by binding it, and the network test holds it (and :8080) for a
/// moment: reports are taken one at a time so tests running side by side do not see each
/// other's probes.
static NETWORK_PROBES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------------------
// The vendor and its api host.

/// The vendor's side: a key (also in a file, for the CLI), a vendor dir, and a TLS
/// certificate for 127.0.0.1 signed by a test CA.
struct Vendor {
    dir: tempfile::TempDir,
    key: SigningKey,
    key_file: PathBuf,
    root: PathBuf,
    ca: PathBuf,
    tls_cert: PathBuf,
    tls_key: PathBuf,
    app_id: String,
}

impl Vendor {
    fn new(app_id: &str) -> Result<Vendor> {
        let dir = tempfile::tempdir()?;
        let key = SigningKey::generate();
        let key_file = dir.path().join("vendor.key");
        key.write_new(&key_file)?;
        let tls = TestCa::write(dir.path(), "Outpost online test CA")?;
        Ok(Vendor {
            root: dir.path().join("vendor"),
            ca: tls.ca,
            tls_cert: tls.cert,
            tls_key: tls.key,
            key_file,
            key,
            dir,
            app_id: app_id.to_owned(),
        })
    }

    /// The vendor of the sample app with releases 1 (1.0.0) and 2 (1.1.0) on stable.
    fn sample() -> Result<Vendor> {
        let vendor = Vendor::new("sample-app")?;
        let now = time::OffsetDateTime::now_utc();
        for (sequence, version) in [(1, "1.0.0"), (2, "1.1.0")] {
            let bytes = seal(&sample_release(sequence, version)?, &vendor.key).to_bytes();
            let path = vendor.release_file(sequence);
            std::fs::write(&path, &bytes)?;
            VendorDir::new(&vendor.root).publish(
                &path,
                &bytes,
                &vendor.key,
                now,
                time::Duration::days(14),
            )?;
        }
        Ok(vendor)
    }

    fn release_file(&self, sequence: u64) -> PathBuf {
        self.dir.path().join(format!("release-{sequence}.json"))
    }

    /// Issues the customer's license naming `api_host`, stores it in the vendor dir (as
    /// `license issue --root` does: the api host serves it and `license revoke` finds it),
    /// and returns its text.
    fn license(&self, api_host: &str) -> Result<String> {
        let now = time::OffsetDateTime::now_utc();
        let license = License {
            schema: 1,
            license_id: LICENSE_ID.into(),
            customer: "Online Customer".into(),
            app_id: self.app_id.clone(),
            channel: "stable".into(),
            issued_at: now - time::Duration::days(1),
            expires_at: now + time::Duration::days(365),
            entitlements: BTreeMap::new(),
            airgap: false,
            max_nodes: Some(3),
            api_host: Some(api_host.to_owned()),
            registry: None,
            vendor_key: self.key.public().to_base64(),
            revoked: None,
        };
        let bytes = seal(&license, &self.key).to_bytes();
        VendorDir::new(&self.root).store_license(LICENSE_ID, &bytes)?;
        Ok(String::from_utf8(bytes)?)
    }

    fn index_path(&self) -> PathBuf {
        self.root
            .join(format!("channels/{}/stable/index.json", self.app_id))
    }

    /// `outpost-airgap ARGS`, which must succeed; its stdout.
    fn airgap(&self, args: &[&str]) -> Result<String> {
        let output = Command::new(binary("outpost-airgap")).args(args).output()?;
        ensure!(
            output.status.success(),
            "outpost-airgap {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `outpost-airgap channel publish` of release file `release` (valid for `expires_in`).
    fn publish(&self, release: &Path, expires_in: &str) -> Result<String> {
        self.airgap(&[
            "channel",
            "publish",
            "--root",
            path_str(&self.root)?,
            "--release",
            path_str(release)?,
            "--key",
            path_str(&self.key_file)?,
            "--expires-in",
            expires_in,
        ])
    }
}

/// Release `sequence` of the sample app at `version`, every image pinned (to digests no
/// registry has: these releases are never deployed).
fn sample_release(sequence: u64, version: &str) -> Result<Release> {
    let app = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/sample-app")
        .join(version);
    let files = ["compose.yaml", "outpost.yaml"]
        .iter()
        .map(|name| Ok(((*name).to_owned(), std::fs::read_to_string(app.join(name))?)))
        .collect::<Result<BTreeMap<_, _>>>()?;
    let images = [
        ("docker.io/outpost-samples/web", 'a'),
        ("quay.io/outpost-samples/api", 'b'),
        ("registry.outpost.test/sample/worker", 'c'),
    ]
    .into_iter()
    .map(|(name, digit)| ImagePin {
        reference: format!("{name}:{version}"),
        digest: format!("sha256:{}", digit.to_string().repeat(64)),
        platform: "linux/amd64".into(),
    })
    .collect();
    Ok(Release {
        schema: 1,
        app_id: "sample-app".into(),
        channel: "stable".into(),
        sequence,
        version: version.into(),
        notes: format!("Release {version}"),
        required: false,
        created_at: time::OffsetDateTime::now_utc(),
        files,
        images,
    })
}

/// A running `outpost-airgap serve` over TLS, killed on drop. It can be stopped (an outage)
/// and started again on the same port.
struct ApiHost {
    child: Option<Child>,
    url: String,
    port: u16,
    log: PathBuf,
    root: PathBuf,
    tls_cert: PathBuf,
    tls_key: PathBuf,
}

impl ApiHost {
    fn start(vendor: &Vendor) -> Result<ApiHost> {
        let mut host = ApiHost {
            child: None,
            url: String::new(),
            port: 0,
            log: vendor.dir.path().join("api-host.log"),
            root: vendor.root.clone(),
            tls_cert: vendor.tls_cert.clone(),
            tls_key: vendor.tls_key.clone(),
        };
        host.spawn("127.0.0.1:0")?;
        Ok(host)
    }

    fn spawn(&mut self, listen: &str) -> Result<()> {
        let mut child = Command::new(binary("outpost-airgap"))
            .args(["serve", "--listen", listen, "--root"])
            .arg(&self.root)
            .arg("--tls-cert")
            .arg(&self.tls_cert)
            .arg("--tls-key")
            .arg(&self.tls_key)
            .env("OUTPOST_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.log)?,
            )
            .spawn()
            .context("spawning outpost-airgap serve")?;
        let stdout = child.stdout.take().expect("piped");
        self.child = Some(child);
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let prefix = format!("Serving {} on ", self.root.display());
        while let Ok(line) =
            receiver.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if let Some(url) = line.strip_prefix(&prefix) {
                self.url = url.trim().to_owned();
                self.port = self
                    .url
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .context("a port in the api host's URL")?;
                return Ok(());
            }
        }
        bail!(
            "outpost-airgap serve printed no ready line within 30 s; log: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Stops the api host (as an outage would).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the port the license names.
    fn restart(&mut self) -> Result<()> {
        self.stop();
        let listen = format!("127.0.0.1:{}", self.port);
        self.spawn(&listen)
    }
}

impl Drop for ApiHost {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------
// The console.

/// A console that trusts the test CA for its api host (with `env` in its environment),
/// signed in, with a license naming `api_host` loaded.
async fn licensed_console(
    vendor: &Vendor,
    name: &str,
    api_host: &str,
    env: &[(&str, &str)],
) -> Result<(Console, Admin)> {
    let console = Console::start_with_env(
        &vendor.dir.path().join(name),
        &["--api-host-ca", path_str(&vendor.ca)?],
        env,
    )?;
    let admin = Admin::set_up(&console, PASSWORD).await?;
    let (status, body) = admin
        .send(
            Method::POST,
            "/api/v1/license",
            json!({"license": vendor.license(api_host)?, "trust_key": vendor.key.public().keyid()}),
        )
        .await?;
    ensure!(status == 200, "license load: {status} {body}");
    Ok((console, admin))
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().context("a UTF-8 path")
}

/// `outpostctl ARGS`: whether it succeeded, its stdout and its stderr.
/// `outpostctl --json ARGS`, which must succeed; the view it answers with.
fn ctl_json(console: &Console, args: &[&str]) -> Result<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = console.ctl(&all)?;
    ensure!(ok, "outpostctl {}: {stderr}", args.join(" "));
    let answer: Value =
        serde_json::from_str(&stdout).with_context(|| format!("not JSON: {stdout}"))?;
    ensure!(answer["result"] == "view", "{answer}");
    Ok(answer["view"].clone())
}

/// "Check now" through the API; the check's record and the status after it.
async fn check(admin: &Admin) -> Result<(Value, Value)> {
    let (status, body) = admin
        .send(Method::POST, "/api/v1/updates/check", json!({}))
        .await?;
    ensure!(status == 200, "updates check: {status} {body}");
    Ok((body["check"].clone(), body["status"].clone()))
}

async fn updates(admin: &Admin) -> Result<Value> {
    let (status, body) = admin.get("/api/v1/updates").await?;
    ensure!(status == 200, "updates: {status} {body}");
    Ok(body)
}

async fn put_settings(admin: &Admin, change: Value) -> Result<Value> {
    let (status, body) = admin
        .send(Method::PUT, "/api/v1/settings/outbound", change)
        .await?;
    ensure!(status == 200, "settings: {status} {body}");
    Ok(body)
}

/// The outbound log, newest first; never holds the license id or the proxy's password.
async fn outbound(admin: &Admin) -> Result<Vec<Value>> {
    let (status, body) = admin.get("/api/v1/outbound?limit=500").await?;
    ensure!(status == 200, "outbound: {status} {body}");
    let text = body.to_string();
    assert!(!text.contains(LICENSE_ID), "the license id leaked: {text}");
    assert!(
        !text.contains(PROXY_PASSWORD),
        "the proxy password leaked: {text}"
    );
    Ok(body["entries"].as_array().context("entries")?.clone())
}

fn newest_id(entries: &[Value]) -> i64 {
    entries.first().and_then(|e| e["id"].as_i64()).unwrap_or(0)
}

/// The network report (one at a time, see [`NETWORK_PROBES`]).
async fn network(admin: &Admin) -> Result<Value> {
    let _one_at_a_time = NETWORK_PROBES.lock().await;
    let (status, body) = admin.get("/api/v1/network").await?;
    ensure!(status == 200, "network: {status} {body}");
    Ok(body)
}

fn inbound_row<'a>(report: &'a Value, port: &str) -> Result<&'a Value> {
    report["inbound"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["port"] == port))
        .with_context(|| format!("no inbound row for port {port}: {report:#}"))
}

fn outbound_row<'a>(report: &'a Value, host: &str, port: u16) -> Result<&'a Value> {
    report["outbound"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["host"] == host && r["port"] == port))
        .with_context(|| format!("no outbound row for {host}:{port}: {report:#}"))
}

/// The single check of an inbound row (one node, or the console itself).
fn only_check(row: &Value) -> &Value {
    assert_eq!(row["checks"].as_array().map(Vec::len), Some(1), "{row:#}");
    &row["checks"][0]
}

fn rfc3339(text: &Value) -> Result<i64> {
    let text = text
        .as_str()
        .with_context(|| format!("not a time: {text}"))?;
    Ok(
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)?
            .unix_timestamp(),
    )
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

// ---------------------------------------------------------------------------------------
// 1. Proxies (Done-when 4).

#[tokio::test]
async fn checks_go_through_the_proxy_setting_and_fail_clearly_when_the_proxy_is_down() -> Result<()>
{
    let vendor = Vendor::sample()?;
    let api = ApiHost::start(&vendor)?;
    let mut proxy = Tinyproxy::start(&[api.port], Some((PROXY_USER, PROXY_PASSWORD)))?;
    let (console, admin) = licensed_console(&vendor, "console", &api.url, &[]).await?;

    // The admin sets the proxy (with its password) from the CLI; nothing shows it back.
    let with_password = format!(
        "http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{}",
        proxy.port
    );
    let shown = format!("http://{PROXY_USER}:****@127.0.0.1:{}/", proxy.port);
    let (ok, stdout, stderr) = console.ctl(&["settings", "--https-proxy", &with_password])?;
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&shown), "{stdout}");
    assert!(!stdout.contains(PROXY_PASSWORD), "{stdout}");
    let settings = ctl_json(&console, &["settings"])?;
    assert_eq!(settings["https_proxy"], shown, "{settings}");
    assert_eq!(settings["effective_proxy"], shown, "{settings}");
    assert_eq!(
        settings["proxy_source"], "the console setting",
        "{settings}"
    );

    // A check through the proxy: the license, the index and both releases arrive.
    let (ok, stdout, stderr) = console.ctl(&["updates", "check"])?;
    assert!(ok, "{stdout} {stderr}");
    let status = ctl_json(&console, &["updates", "list"])?;
    assert_eq!(status["state"], "update_available", "{status:#}");
    assert_eq!(status["checks"][0]["outcome"], "ok", "{status:#}");
    assert_eq!(admin.loaded_sequences().await?, [2, 1]);

    // The proxy's own log shows the tunnels to the api host's port.
    let tunnels = eventually(
        "tinyproxy's CONNECT log",
        Duration::from_secs(10),
        || async { Some(proxy.connects_to(api.port)).filter(|n| *n > 0) },
    )
    .await
    .with_context(|| format!("tinyproxy log: {}", proxy.log()))?;
    assert!(!proxy.log().contains(PROXY_PASSWORD));

    // The outbound log says each request went through the proxy, password masked.
    let entries = outbound(&admin).await?;
    let purposes: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["purpose"].as_str())
        .collect();
    assert_eq!(
        purposes,
        [
            "release 2",
            "release 1",
            "channel index (stable)",
            "license sync"
        ],
        "{entries:#?}"
    );
    for entry in &entries {
        assert_eq!(entry["via_proxy"], shown, "{entry:#}");
        assert_eq!(entry["status"], 200, "{entry:#}");
    }
    let (ok, stdout, stderr) = console.ctl(&["outbound", "--limit", "1"])?;
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&format!("via proxy: {shown}")), "{stdout}");
    assert!(!stdout.contains(PROXY_PASSWORD), "{stdout}");

    // NO_PROXY covering the api host: straight there, the proxy sees nothing new.
    let settings = put_settings(&admin, json!({"no_proxy": "127.0.0.1"})).await?;
    assert_eq!(
        settings["https_proxy"], shown,
        "the proxy stays: {settings}"
    );
    assert_eq!(settings["no_proxy"], "127.0.0.1", "{settings}");
    let before = newest_id(&entries);
    let (done, _) = check(&admin).await?;
    assert_eq!(done["outcome"], "ok", "{done}");
    assert_eq!(proxy.connects_to(api.port), tunnels, "{}", proxy.log());
    let entries = outbound(&admin).await?;
    let direct: Vec<&Value> = entries
        .iter()
        .filter(|e| e["id"].as_i64() > Some(before))
        .collect();
    assert_eq!(direct.len(), 2, "license sync and index: {direct:#?}");
    for entry in direct {
        assert_eq!(entry["via_proxy"], Value::Null, "{entry:#}");
        assert_eq!(entry["status"], 200, "{entry:#}");
    }

    // Through the proxy again, then the proxy goes down: the check fails and says why.
    let (ok, _, stderr) = console.ctl(&["settings", "--no-proxy", ""])?;
    assert!(ok, "{stderr}");
    let (done, _) = check(&admin).await?;
    assert_eq!(done["outcome"], "ok", "{done}");
    assert!(proxy.connects_to(api.port) > tunnels, "{}", proxy.log());
    proxy.stop();
    let (done, status) = check(&admin).await?;
    assert_eq!(done["outcome"], "failed", "{done}");
    assert_eq!(done["problem"], "unreachable", "{done}");
    let error = done["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("through the proxy {shown}")) && error.contains("refused"),
        "the error names the proxy: {error}"
    );
    assert!(!error.contains(PROXY_PASSWORD), "{error}");
    assert_eq!(status["state"], "check_failed", "{status:#}");
    assert_eq!(status["failures"], 1, "{status:#}");
    assert!(status["next_check_at"].is_string(), "{status:#}");
    // What was known is kept.
    assert_eq!(admin.loaded_sequences().await?, [2, 1]);
    assert_eq!(
        status["available"].as_array().map(Vec::len),
        Some(2),
        "{status:#}"
    );
    let (_, stdout, _) = console.ctl(&["updates", "list"])?;
    assert!(stdout.contains("check_failed"), "{stdout}");
    assert!(!stdout.contains(PROXY_PASSWORD), "{stdout}");

    // The password is in no answer, no audit entry and no log line.
    outbound(&admin).await?;
    let (_, audit) = admin.get("/api/v1/audit?limit=100").await?;
    let audit = audit.to_string();
    assert!(
        audit.contains(&shown),
        "the proxy change is audited: {audit}"
    );
    assert!(!audit.contains(PROXY_PASSWORD), "{audit}");
    let (_, settings) = admin.get("/api/v1/settings/outbound").await?;
    assert!(!settings.to_string().contains(PROXY_PASSWORD), "{settings}");
    assert!(!console.stderr().contains(PROXY_PASSWORD));
    Ok(())
}

#[tokio::test]
async fn checks_honour_https_proxy_and_no_proxy_from_the_environment_and_the_setting_overrides_them(
) -> Result<()> {
    let vendor = Vendor::sample()?;
    let api = ApiHost::start(&vendor)?;
    let proxy = Tinyproxy::start(&[api.port], None)?;
    let proxy_url = proxy.url();
    let shown = format!("{proxy_url}/");
    let (console, admin) = licensed_console(
        &vendor,
        "env-console",
        &api.url,
        &[("HTTPS_PROXY", proxy_url.as_str())],
    )
    .await?;

    let settings = ctl_json(&console, &["settings"])?;
    assert_eq!(settings["https_proxy"], Value::Null, "{settings}");
    assert_eq!(settings["effective_proxy"], shown, "{settings}");
    assert_eq!(
        settings["proxy_source"], "the environment (HTTPS_PROXY)",
        "{settings}"
    );
    let (done, status) = check(&admin).await?;
    assert_eq!(done["outcome"], "ok", "{done}");
    assert_eq!(status["state"], "update_available", "{status:#}");
    let tunnels = proxy.connects_to(api.port);
    assert!(tunnels > 0, "{}", proxy.log());
    for entry in outbound(&admin).await? {
        assert_eq!(entry["via_proxy"], shown, "{entry:#}");
    }

    // A proxy setting overrides the environment: one where nothing listens fails.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (ok, _, stderr) = console.ctl(&["settings", "--https-proxy", &dead])?;
    assert!(ok, "{stderr}");
    let (done, status) = check(&admin).await?;
    assert_eq!(done["outcome"], "failed", "{done}");
    assert_eq!(done["problem"], "unreachable", "{done}");
    assert!(
        done["error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("through the proxy {dead}/"))),
        "{done}"
    );
    assert_eq!(status["state"], "check_failed", "{status:#}");
    assert_eq!(proxy.connects_to(api.port), tunnels, "{}", proxy.log());
    // Cleared, the environment's proxy applies again.
    let (ok, _, stderr) = console.ctl(&["settings", "--https-proxy", ""])?;
    assert!(ok, "{stderr}");
    let (done, status) = check(&admin).await?;
    assert_eq!(done["outcome"], "ok", "{done}");
    assert_eq!(status["failures"], 0, "{status:#}");
    assert!(proxy.connects_to(api.port) > tunnels, "{}", proxy.log());

    // NO_PROXY in the environment covering the api host: direct, the proxy sees nothing.
    let tunnels = proxy.connects_to(api.port);
    let (_bypassing, admin) = licensed_console(
        &vendor,
        "no-proxy-console",
        &api.url,
        &[
            ("HTTPS_PROXY", proxy_url.as_str()),
            ("NO_PROXY", "127.0.0.1"),
        ],
    )
    .await?;
    let (done, _) = check(&admin).await?;
    assert_eq!(done["outcome"], "ok", "{done}");
    assert_eq!(proxy.connects_to(api.port), tunnels, "{}", proxy.log());
    let entries = outbound(&admin).await?;
    assert!(!entries.is_empty());
    for entry in entries {
        assert_eq!(entry["via_proxy"], Value::Null, "{entry:#}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 2. Airgap mode (Done-when 5).

/// Removes the airgap test app's containers and network, and the pulled image, on drop.
struct AirgapCleanup {
    image: String,
}

impl Drop for AirgapCleanup {
    fn drop(&mut self) {
        remove_app_containers(AIRGAP_APP);
        let _ = Command::new("docker")
            .args(["network", "rm", AIRGAP_APP])
            .output();
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &self.image])
            .output();
    }
}

fn docker(args: &[&str]) -> Result<String> {
    let output = Command::new("docker").args(args).output()?;
    ensure!(
        output.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Starts a deploy of `sequence` and waits (bounded) for it to end.
async fn deploy(admin: &Admin, sequence: u64) -> Result<Value> {
    let (status, started) = admin
        .send(
            Method::POST,
            "/api/v1/app/deploy",
            json!({"sequence": sequence, "override_preflight": false}),
        )
        .await?;
    ensure!(status == 200 || status == 202, "deploy: {status} {started}");
    let id = started["id"].as_i64().context("a deployment id")?;
    eventually(&format!("deployment #{id} to end"), DEPLOY, || async {
        let (_, d) = admin
            .get(&format!("/api/v1/app/deployments/{id}"))
            .await
            .ok()?;
        let state = d["state"].as_str()?;
        (state != "running" && state != "rolling_back").then_some(d)
    })
    .await
}

#[tokio::test]
async fn airgap_mode_lets_no_connection_leave_during_a_full_cycle() -> Result<()> {
    outpost_tests::require_docker()?;
    let vendor = Vendor::new(AIRGAP_APP)?;

    // Every outside endpoint the install knows sits behind a counting forwarder: the
    // registry (plain HTTP, loopback), the api host, and the proxy in front of it.
    let registry = LocalRegistry::start()?;
    let registry_counter =
        CountingForwarder::start(SocketAddr::from(([127, 0, 0, 1], registry.port)))?;

    // The app's one image, pushed through the counter, then pulled once by digest (before
    // airgap mode) so it is on the node.
    let repository = format!("127.0.0.1:{}/outpost-online/tiny", registry_counter.port);
    let tagged = format!("{repository}:1");
    let image = BusyboxImage::build(&tagged)?;
    docker(&["push", &tagged])?;
    let digests = docker(&[
        "image",
        "inspect",
        "--format",
        "{{range .RepoDigests}}{{println .}}{{end}}",
        &tagged,
    ])?;
    let pinned = digests
        .lines()
        .find(|l| l.starts_with(&format!("{repository}@sha256:")))
        .with_context(|| format!("no digest from the registry: {digests}"))?
        .trim()
        .to_owned();
    let _cleanup = AirgapCleanup {
        image: pinned.clone(),
    };
    drop(image);
    docker(&["pull", &pinned])?;
    assert!(registry_counter.connections() > 0, "the push and the pull");
    remove_app_containers(AIRGAP_APP);

    // The vendor signs a one-service release pinned by digest and publishes it.
    let app_dir = vendor.dir.path().join("app");
    std::fs::create_dir_all(&app_dir)?;
    std::fs::write(
        app_dir.join("compose.yaml"),
        format!(
            "services:\n  tiny:\n    image: {tagged}\n    command: [\"/bin/sleep\", \"3600\"]\n"
        ),
    )?;
    std::fs::write(
        app_dir.join("outpost.yaml"),
        format!("app: {AIRGAP_APP}\nversion: 1.0.0\nnotes: One service that sleeps.\n"),
    )?;
    let release = vendor.dir.path().join("airgap-1.release.json");
    vendor.airgap(&[
        "release",
        "create",
        "--app",
        path_str(&app_dir)?,
        "--channel",
        "stable",
        "--sequence",
        "1",
        "--key",
        path_str(&vendor.key_file)?,
        "--out",
        path_str(&release)?,
    ])?;
    vendor.publish(&release, "14d")?;
    let api = ApiHost::start(&vendor)?;
    let api_counter = CountingForwarder::start(api.address())?;
    let proxy = Tinyproxy::start(&[api_counter.port], None)?;
    let proxy_counter = CountingForwarder::start(SocketAddr::from(([127, 0, 0, 1], proxy.port)))?;

    // The license names the api host's counter; the console's proxy is the proxy's counter,
    // and checks run every minute.
    let api_host = format!("https://127.0.0.1:{}", api_counter.port);
    let (console, admin) = licensed_console(&vendor, "console", &api_host, &[]).await?;
    let proxy_url = format!("http://127.0.0.1:{}", proxy_counter.port);
    put_settings(
        &admin,
        json!({"https_proxy": proxy_url, "update_schedule": "cron * * * * *"}),
    )
    .await?;
    let token = admin.join_token("1h", json!({})).await?;
    let agent = Agent::join(
        &console.cluster_url,
        &token,
        &vendor.dir.path().join("agent"),
    )?;
    let node = agent.node_id(JOIN).await?;
    admin.wait_for_status(&node, "online", JOIN).await?;

    // Control run, airgap off: a check reaches the api host through the proxy, so the
    // counters do count; the report lists the api host and the registry.
    let (done, _) = check(&admin).await?;
    assert_eq!(done["outcome"], "ok", "{done}");
    assert_eq!(admin.loaded_sequences().await?, [1]);
    assert!(api_counter.connections() > 0 && api_counter.bytes() > 0);
    assert!(proxy_counter.connections() > 0 && proxy_counter.bytes() > 0);
    assert!(proxy.connects_to(api_counter.port) > 0, "{}", proxy.log());
    let report = network(&admin).await?;
    outbound_row(&report, "127.0.0.1", api_counter.port)?;
    outbound_row(&report, "127.0.0.1", registry_counter.port)?;
    // The scheduler runs checks by itself: the next minute slot brings one.
    eventually(
        "a check run by the schedule",
        Duration::from_secs(90),
        || async {
            let status = updates(&admin).await.ok()?;
            status["checks"]
                .as_array()?
                .iter()
                .any(|c| c["trigger"] == "schedule" && c["outcome"] == "ok")
                .then_some(())
        },
    )
    .await?;
    // When the schedule's next check would run: one every minute from then on.
    let next = updates(&admin).await?["next_check_at"].clone();
    let due = rfc3339(&next)?;

    // Airgap mode on. Any check under way ends first; then the counters start from zero.
    let (ok, stdout, stderr) = console.ctl(&["settings", "--airgap", "on"])?;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("airgap mode:      on"), "{stdout}");
    let status = eventually("no check under way", Duration::from_secs(30), || async {
        let status = updates(&admin).await.ok()?;
        let running = status["checks"]
            .as_array()?
            .iter()
            .any(|c| c["finished_at"].is_null());
        (!running).then_some(status)
    })
    .await?;
    let checks_before = status["checks"].clone();
    let outbound_before = outbound(&admin).await?;
    for counter in [&registry_counter, &api_counter, &proxy_counter] {
        counter.reset();
    }
    let airgap_from = now();
    // The first minute slot after airgap mode went on: a scheduled check would run then.
    let slot = if due >= airgap_from {
        due
    } else {
        due + (airgap_from - due + 59) / 60 * 60
    };
    ensure!(
        (airgap_from..=airgap_from + 60).contains(&slot),
        "checks run every minute: the next slot ({slot}) is within a minute of {airgap_from}"
    );

    // A full cycle: deploy (the image is already on the node: nothing is pulled) ...
    let deployment = deploy(&admin, 1).await?;
    assert_eq!(
        deployment["state"],
        "succeeded",
        "the deploy in airgap mode: {deployment:#}; agent log: {}",
        agent.stderr()
    );
    // The image step only looked on the node (EnsureImage): no step pulled anything.
    let steps = deployment["steps"].as_array().context("steps")?;
    assert!(
        steps
            .iter()
            .any(|s| s["action"] == "image" && s["target"] == pinned.as_str()),
        "{deployment:#}"
    );
    assert!(
        steps.iter().all(|s| s["action"] != "pull"),
        "{deployment:#}"
    );
    // The container runs the image that was pulled before airgap mode.
    let running = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=outpost.app={AIRGAP_APP}"),
        "--filter",
        "status=running",
    ])?;
    let container = running.trim();
    assert!(!container.is_empty(), "no running container of the app");
    let image_id = docker(&["image", "inspect", "--format", "{{.Id}}", &pinned])?;
    let container_image = docker(&["inspect", "--format", "{{.Image}}", container])?;
    assert_eq!(container_image.trim(), image_id.trim());
    // ... status ...
    let (status, app) = admin.get("/api/v1/app/status").await?;
    assert_eq!(status, 200, "{app}");
    assert!(app.to_string().contains("running"), "{app:#}");
    let (ok, stdout, stderr) = console.ctl(&["app", "status"])?;
    assert!(ok && stdout.contains("tiny"), "{stdout} {stderr}");
    // ... update checks and fetches, which answer airgap_mode ...
    let (status, refused) = admin
        .send(Method::POST, "/api/v1/updates/check", json!({}))
        .await?;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "airgap_mode", "{refused}");
    let (status, refused) = admin
        .send(Method::POST, "/api/v1/releases/fetch", json!({}))
        .await?;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "airgap_mode", "{refused}");
    let (ok, _, stderr) = console.ctl(&["updates", "check"])?;
    assert!(!ok && stderr.contains("airgap mode is on"), "{stderr}");
    let status = updates(&admin).await?;
    assert_eq!(status["state"], "airgap", "{status:#}");
    assert_eq!(status["next_check_at"], Value::Null, "{status:#}");
    // ... and the network report, with no outbound row.
    let report = network(&admin).await?;
    assert_eq!(report["outbound"], json!([]), "{report:#}");
    assert_eq!(report["airgap"], "set by the admin", "{report:#}");
    let report = {
        let _one_at_a_time = NETWORK_PROBES.lock().await;
        ctl_json(&console, &["network"])?
    };
    assert_eq!(report["outbound"], json!([]), "{report:#}");

    // Past the slot a scheduled check would have run in, nothing has left: no connection,
    // no byte, no outbound log entry, no check.
    let quiet = || async {
        let moved = [&registry_counter, &api_counter, &proxy_counter]
            .iter()
            .any(|c| c.connections() > 0 || c.bytes() > 0);
        assert!(
            !moved,
            "a connection left in airgap mode: registry {}/{} B, api host {}/{} B, proxy {}/{} B",
            registry_counter.connections(),
            registry_counter.bytes(),
            api_counter.connections(),
            api_counter.bytes(),
            proxy_counter.connections(),
            proxy_counter.bytes()
        );
        let entries = outbound(&admin).await.ok()?;
        assert_eq!(
            newest_id(&entries),
            newest_id(&outbound_before),
            "{entries:#?}"
        );
        let status = updates(&admin).await.ok()?;
        assert_eq!(
            status["checks"], checks_before,
            "a check ran in airgap mode"
        );
        (now() > slot + 5).then_some(())
    };
    eventually(
        "the slot of the next scheduled check to pass",
        Duration::from_secs(90),
        quiet,
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 3. The network report (Done-when 6).

#[tokio::test]
async fn the_network_report_lists_the_sample_apps_ports_and_hosts_and_checks_them_live(
) -> Result<()> {
    let vendor = Vendor::sample()?;
    let mut api = ApiHost::start(&vendor)?;
    let (console, admin) = licensed_console(&vendor, "console", &api.url, &[]).await?;
    let (done, _) = check(&admin).await?;
    assert_eq!(done["outcome"], "ok", "{done}");

    // Docker Hub through a mirror that answers, quay.io through one where nothing listens;
    // the vendor's registry keeps its name, in .test, which never resolves.
    let mirror = LocalRegistry::start()?;
    let nothing = free_port();
    let (status, body) = admin
        .send(
            Method::PUT,
            "/api/v1/registries",
            json!({"rules": [
                {"from": "docker.io", "to": mirror.host()},
                {"from": "quay.io", "to": format!("127.0.0.1:{nothing}")},
            ], "credentials": []}),
        )
        .await?;
    assert_eq!(status, 200, "{body}");

    let dir = tempfile::tempdir()?;
    let token = admin.join_token("1h", json!({})).await?;
    let agent = Agent::join(&console.cluster_url, &token, &dir.path().join("agent"))?;
    let node = agent.node_id(JOIN).await?;
    admin.wait_for_status(&node, "online", JOIN).await?;

    // Whether :8080 is free now (a test of another binary may hold it).
    let app_port_free = std::net::TcpListener::bind("0.0.0.0:8080").is_ok();
    let report = network(&admin).await?;
    assert_eq!(report["release"]["sequence"], 2, "{report:#}");
    assert_eq!(report["release"]["installed"], false, "{report:#}");
    assert_eq!(report["airgap"], Value::Null);

    // Inbound: the console's own ports, 9874, the node range, the app's published port.
    let console_port = console.address.port().to_string();
    let cluster_port = console
        .cluster_url
        .rsplit(':')
        .next()
        .context("cluster port")?
        .to_owned();
    for port in [&console_port, &cluster_port] {
        let row = inbound_row(&report, port)?;
        assert_eq!(row["role"], "console host", "{row:#}");
        assert_eq!(only_check(row)["result"], "ok", "{row:#}");
    }
    let registry = inbound_row(&report, "9874")?;
    assert_eq!(registry["role"], "console host");
    assert_eq!(
        only_check(registry)["result"],
        "ok",
        "9874 must be free on this machine for the console's registry: {registry:#}"
    );
    let range = inbound_row(&report, "9870-9880")?;
    assert_eq!(range["role"], "every node");
    assert_eq!(only_check(range)["result"], "ok", "{range:#}");
    let app_port = inbound_row(&report, "8080")?;
    assert_eq!(app_port["role"], "app nodes");
    assert!(
        app_port["purpose"]
            .as_str()
            .is_some_and(|p| p.contains("web")),
        "{app_port:#}"
    );
    if app_port_free {
        assert_eq!(only_check(app_port)["result"], "ok", "{app_port:#}");
        assert_eq!(only_check(app_port)["detail"], "free", "{app_port:#}");
    }
    assert!(
        inbound_row(&report, "9100").is_err(),
        "the metrics profile is off: {report:#}"
    );

    // Outbound: the api host and each registry after the mirror rules, each checked live.
    let rows = report["outbound"].as_array().context("outbound")?;
    assert_eq!(rows.len(), 4, "{report:#}");
    let api_row = outbound_row(&report, "127.0.0.1", api.port)?;
    assert!(
        api_row["purpose"]
            .as_str()
            .is_some_and(|p| p.contains("api host")),
        "{api_row:#}"
    );
    assert_eq!(api_row["check"]["result"], "ok", "{api_row:#}");
    let hub = outbound_row(&report, "127.0.0.1", mirror.port)?;
    assert!(
        hub["purpose"]
            .as_str()
            .is_some_and(|p| p.contains("in place of docker.io") && p.contains("web")),
        "{hub:#}"
    );
    assert_eq!(hub["protocol"], "http");
    assert_eq!(hub["check"]["result"], "ok", "{hub:#}");
    let quay = outbound_row(&report, "127.0.0.1", nothing)?;
    assert!(
        quay["purpose"]
            .as_str()
            .is_some_and(|p| p.contains("in place of quay.io") && p.contains("api")),
        "{quay:#}"
    );
    assert_eq!(quay["check"]["result"], "problem", "{quay:#}");
    assert!(
        quay["check"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not reachable")),
        "{quay:#}"
    );
    let private = outbound_row(&report, "registry.outpost.test", 443)?;
    assert!(
        private["purpose"]
            .as_str()
            .is_some_and(|p| p.contains("worker")),
        "{private:#}"
    );
    assert_eq!(private["check"]["result"], "problem", "{private:#}");
    assert!(
        private["check"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not reachable")),
        "{private:#}"
    );

    // A port that is taken: the app's and the console registry's.
    let report = {
        let _one_at_a_time = NETWORK_PROBES.lock().await;
        let _app = std::net::TcpListener::bind("0.0.0.0:8080");
        let _registry = std::net::TcpListener::bind("0.0.0.0:9874")?;
        let (status, body) = admin.get("/api/v1/network").await?;
        ensure!(status == 200, "{body}");
        body
    };
    for port in ["8080", "9874"] {
        let row = inbound_row(&report, port)?;
        let check = only_check(row);
        assert_eq!(check["result"], "problem", "{row:#}");
        assert!(
            check["detail"]
                .as_str()
                .is_some_and(|d| d.contains("taken")),
            "{row:#}"
        );
    }

    // An api host that cannot be reached.
    api.stop();
    let report = network(&admin).await?;
    let api_row = outbound_row(&report, "127.0.0.1", api.port)?;
    assert_eq!(api_row["check"]["result"], "problem", "{api_row:#}");
    assert!(
        api_row["check"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not reachable")),
        "{api_row:#}"
    );

    // The same from the CLI.
    let (ok, stdout, stderr) = {
        let _one_at_a_time = NETWORK_PROBES.lock().await;
        console.ctl(&["network"])?
    };
    assert!(ok, "{stderr}");
    for needle in [
        "9870-9880",
        "8080",
        "registry.outpost.test",
        "not reachable",
    ] {
        assert!(stdout.contains(needle), "{needle}: {stdout}");
    }

    // Airgap mode: no outbound row at all; the inbound rows stay.
    let (ok, _, stderr) = console.ctl(&["settings", "--airgap", "on"])?;
    assert!(ok, "{stderr}");
    let report = network(&admin).await?;
    assert_eq!(report["outbound"], json!([]), "{report:#}");
    assert_eq!(report["airgap"], "set by the admin");
    inbound_row(&report, "8080")?;
    inbound_row(&report, "9870-9880")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 4. Refused indexes, an api host that is down, a revoked license (Done-when 1).

#[tokio::test]
async fn tampered_expired_and_rolled_back_indexes_are_refused_and_what_was_loaded_stays(
) -> Result<()> {
    let vendor = Vendor::sample()?;
    let api = ApiHost::start(&vendor)?;
    let (console, admin) = licensed_console(&vendor, "console", &api.url, &[]).await?;
    let (done, status) = check(&admin).await?;
    assert_eq!(done["outcome"], "ok", "{done}");
    assert_eq!(status["index"]["version"], 2, "{status:#}");
    assert_eq!(admin.loaded_sequences().await?, [2, 1]);
    let version_2 = std::fs::read(vendor.index_path())?;

    // Tampered: one byte of the signed payload flipped.
    let mut envelope: Value = serde_json::from_slice(&version_2)?;
    let payload = envelope["payload"].as_str().context("payload")?.to_owned();
    let flipped: String = payload
        .char_indices()
        .map(|(i, c)| match (i, c) {
            (40, 'A') => 'B',
            (40, _) => 'A',
            _ => c,
        })
        .collect();
    envelope["payload"] = Value::String(flipped);
    std::fs::write(vendor.index_path(), serde_json::to_vec(&envelope)?)?;
    let (done, status) = check(&admin).await?;
    assert_eq!(done["outcome"], "failed", "{done}");
    assert_eq!(done["problem"], "index_invalid", "{done}");
    assert_eq!(status["state"], "check_failed", "{status:#}");
    assert_eq!(status["index"]["version"], 2, "the accepted index stays");
    assert_eq!(admin.loaded_sequences().await?, [2, 1]);
    std::fs::write(vendor.index_path(), &version_2)?;
    let (done, _) = check(&admin).await?;
    assert_eq!(done["outcome"], "ok", "{done}");

    // Expired: the vendor publishes an index valid for one second.
    vendor.publish(&vendor.release_file(2), "1s")?;
    let published: Envelope = serde_json::from_slice(&std::fs::read(vendor.index_path())?)?;
    let index: Value = serde_json::from_slice(&published.payload_unverified()?)?;
    assert_eq!(index["version"], 3);
    let expires_at = rfc3339(&index["expires_at"])?;
    eventually("the index to expire", Duration::from_secs(10), || async {
        (now() > expires_at).then_some(())
    })
    .await?;
    let (done, status) = check(&admin).await?;
    assert_eq!(done["outcome"], "failed", "{done}");
    assert_eq!(done["problem"], "metadata_stale", "{done}");
    assert!(
        done["error"]
            .as_str()
            .is_some_and(|e| e.contains("expired")),
        "{done}"
    );
    assert_eq!(status["state"], "metadata_stale", "{status:#}");
    assert_eq!(status["index"]["version"], 2, "{status:#}");
    assert_eq!(admin.loaded_sequences().await?, [2, 1]);
    let (_, stdout, _) = console.ctl(&["updates", "list"])?;
    assert!(stdout.contains("metadata_stale"), "{stdout}");

    // A fresh index (version 4) is taken; then an older one, restored by a mirror, is not.
    vendor.publish(&vendor.release_file(2), "14d")?;
    let (done, status) = check(&admin).await?;
    assert_eq!(done["outcome"], "ok", "{done}");
    assert_eq!(status["index"]["version"], 4, "{status:#}");
    assert_eq!(status["state"], "update_available", "{status:#}");
    std::fs::write(vendor.index_path(), &version_2)?;
    let (done, status) = check(&admin).await?;
    assert_eq!(done["outcome"], "failed", "{done}");
    assert_eq!(done["problem"], "rollback", "{done}");
    assert!(
        done["error"]
            .as_str()
            .is_some_and(|e| e.contains("version 2") && e.contains("version 4")),
        "{done}"
    );
    assert_eq!(status["state"], "check_failed", "{status:#}");
    assert_eq!(status["index"]["version"], 4, "{status:#}");
    assert_eq!(admin.loaded_sequences().await?, [2, 1]);
    Ok(())
}

#[tokio::test]
async fn a_down_api_host_backs_off_and_a_revoked_license_blocks_updates_and_deploys() -> Result<()>
{
    let vendor = Vendor::sample()?;
    let mut api = ApiHost::start(&vendor)?;
    let (console, admin) = licensed_console(&vendor, "console", &api.url, &[]).await?;
    let (done, _) = check(&admin).await?;
    assert_eq!(done["outcome"], "ok", "{done}");

    // The api host goes down: each failed check counts, and the retry moves later.
    api.stop();
    let (done, first) = check(&admin).await?;
    assert_eq!(done["outcome"], "failed", "{done}");
    assert_eq!(done["problem"], "unreachable", "{done}");
    assert!(
        done["error"]
            .as_str()
            .is_some_and(|e| e.contains("unreachable") && e.contains(&api.url)),
        "{done}"
    );
    assert_eq!(first["state"], "check_failed", "{first:#}");
    assert_eq!(first["failures"], 1, "{first:#}");
    let (_, second) = check(&admin).await?;
    assert_eq!(second["state"], "check_failed", "{second:#}");
    assert_eq!(second["failures"], 2, "{second:#}");
    let (retry_1, retry_2) = (
        rfc3339(&first["next_check_at"])?,
        rfc3339(&second["next_check_at"])?,
    );
    assert!(
        retry_2 >= retry_1 + 60,
        "backoff: the second retry ({retry_2}) waits longer than the first ({retry_1})"
    );
    assert_eq!(admin.loaded_sequences().await?, [2, 1]);
    let (_, stdout, _) = console.ctl(&["updates", "list"])?;
    assert!(stdout.contains("check_failed"), "{stdout}");

    // Back up: the next check succeeds and the count starts again.
    api.restart()?;
    let (done, status) = check(&admin).await?;
    assert_eq!(done["outcome"], "ok", "{done}");
    assert_eq!(status["failures"], 0, "{status:#}");

    // The vendor revokes the license; the next sync marks it revoked, with the reason.
    let reason = "Contract ended on the customer's request";
    let said = vendor.airgap(&[
        "license",
        "revoke",
        "--root",
        path_str(&vendor.root)?,
        "--key",
        path_str(&vendor.key_file)?,
        "--license-id",
        LICENSE_ID,
        "--reason",
        reason,
    ])?;
    assert!(said.contains(LICENSE_ID), "{said}");
    let (ok, stdout, stderr) = console.ctl(&["updates", "check"])?;
    assert!(ok, "{stdout} {stderr}");
    let status = ctl_json(&console, &["updates", "list"])?;
    assert_eq!(status["state"], "license_revoked", "{status:#}");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains(reason)),
        "{status:#}"
    );
    assert_eq!(status["license"]["revoked"]["reason"], reason, "{status:#}");
    assert_eq!(admin.loaded_sequences().await?, [2, 1], "releases stay");
    let (_, stdout, _) = console.ctl(&["updates", "list"])?;
    assert!(
        stdout.contains("license_revoked") && stdout.contains(reason),
        "{stdout}"
    );

    // Deploys are refused.
    let (status, body) = admin
        .send(Method::POST, "/api/v1/app/deploy", json!({"sequence": 2}))
        .await?;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "license_revoked", "{body}");

    // The api host refuses the revoked license its index, but still serves the license.
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&vendor.ca)?)?;
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .no_proxy()
        .build()?;
    let index = client
        .get(format!("{}/v1/channels/stable/index", api.url))
        .bearer_auth(LICENSE_ID)
        .send()
        .await?;
    assert_eq!(index.status(), 403);
    let body: Value = index.json().await?;
    assert_eq!(body["error"]["code"], "license_revoked", "{body}");
    let license = client
        .get(format!("{}/v1/license", api.url))
        .bearer_auth(LICENSE_ID)
        .send()
        .await?;
    assert_eq!(license.status(), 200);
    Ok(())
}
