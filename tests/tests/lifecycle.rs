//! The app lifecycle end to end on the real Docker engine, with real registries: the sample
//! vendor's three (a Docker Hub stand-in and a quay.io stand-in on plain loopback HTTP, reached
//! through the console's mirror rules, and the vendor's private registry with TLS and htpasswd,
//! whose credentials come from the license), a real console, a real agent, and the vendor's
//! real api host (`outpost-airgap serve` over TLS) that the releases come from.
//!
//! load the license → an update check fetches 1.0.0 → config → preflight → deploy 1.0.0 → the
//! app answers with the configured greeting → the vendor publishes 1.1.0 and an advisory for
//! 1.0.0 → a check shows both (API and CLI) → update to 1.1.0 → the vendor publishes the broken
//! 1.2.0 → update to it → automatic rollback → 1.1.0 answers again → the api host goes down
//! (the check fails, the app is unaffected) and comes back → stop/start; then the failures
//! that must leave the running release alone (a bad config value, a missing image, a wrong
//! registry password, an offline node), and a console killed in the middle of a deploy.
//!
//! Needs root, a Docker engine and the sample vendor (`scripts/sample-vendor.sh`, run here; it
//! is idempotent). Host port 8080 is the sample app's, 8801 the sample license's api host
//! (`make run` serves it there too). Fails loudly when any is missing.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use outpost_tests::{eventually, free_port, remove_app_containers, Admin, Agent, Console};
use reqwest::Method;
use serde_json::{json, Value};

const PASSWORD: &str = "lifecycle test password";
const ADMIN_PASSWORD: &str = "app-admin-Secret-42";
const GREETING: &str = "Hello from the lifecycle test";
const APP_URL: &str = "http://127.0.0.1:8080/";
/// A deploy pulls, starts three services and waits for their healthchecks.
const DEPLOY: Duration = Duration::from_secs(240);
/// Where the api host the sample license names (`https://127.0.0.1:8801`) listens.
const API_HOST_LISTEN: &str = "127.0.0.1:8801";
/// The vendor's advisory for 1.0.0 (sequence 1), fixed in 1.1.0 (sequence 2).
const ADVISORY: &str = "OSA-2026-0001";
const ADVISORY_TITLE: &str = "The api leaks the greeting to anonymous callers";
/// An advisory for 1.2.0 (sequence 3) only: it must show for no release installed here.
const OTHER_ADVISORY: &str = "OSA-2026-0002";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the sample vendor script and reads what it wrote.
fn sample_vendor() -> Result<BTreeMap<String, String>> {
    let out = repo_root().join("target/sample-vendor");
    let status = Command::new(repo_root().join("scripts/sample-vendor.sh"))
        .arg(&out)
        .env("OUTPOST_AIRGAP", outpost_tests::binary("outpost-airgap"))
        .stdout(std::process::Stdio::null())
        .status()
        .context("running scripts/sample-vendor.sh")?;
    ensure!(
        status.success(),
        "scripts/sample-vendor.sh failed ({status}): this test needs Docker, docker-registry and busybox-static (scripts/dev-setup.sh)"
    );
    let env = std::fs::read_to_string(out.join("sample-vendor.env"))?;
    Ok(env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect())
}

/// Removes the sample app's containers, network and volume (before and after).
fn remove_app() {
    remove_app_containers("sample-app");
    let _ = Command::new("docker")
        .args(["network", "rm", "sample-app"])
        .output();
    let _ = Command::new("docker")
        .args(["volume", "rm", "sample-app_worker-data"])
        .output();
}

struct AppGuard;

impl Drop for AppGuard {
    fn drop(&mut self) {
        remove_app();
    }
}

async fn page() -> Option<String> {
    let answer = reqwest::Client::new()
        .get(APP_URL)
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .ok()?;
    if answer.status().is_success() {
        answer.text().await.ok()
    } else {
        None
    }
}

async fn wait_for_page(what: &str, needle: &str) -> Result<String> {
    eventually(what, Duration::from_secs(60), || async {
        page().await.filter(|p| p.contains(needle))
    })
    .await
}

async fn ok(admin: &Admin, method: Method, path: &str, body: Value) -> Result<Value> {
    let (status, answer) = admin.send(method.clone(), path, body).await?;
    if !(200..300).contains(&status) {
        bail!("{method} {path}: {status} {answer}");
    }
    Ok(answer)
}

/// Starts a deploy and waits for it to end; returns the final deployment.
async fn deploy(admin: &Admin, sequence: u64, override_preflight: bool) -> Result<Value> {
    let started = ok(
        admin,
        Method::POST,
        "/api/v1/app/deploy",
        json!({"sequence": sequence, "override_preflight": override_preflight}),
    )
    .await?;
    finished(admin, started["id"].as_i64().context("a deployment id")?).await
}

async fn finished(admin: &Admin, id: i64) -> Result<Value> {
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

/// Runs `outpostctl ARGS` against the console; its stdout.
fn ctl(console: &Console, args: &[&str]) -> Result<String> {
    let output = Command::new(outpost_tests::binary("outpostctl"))
        .arg("--data-dir")
        .arg(&console.data_dir)
        .args(args)
        .output()?;
    ensure!(
        output.status.success(),
        "outpostctl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn load_release(console: &Console, path: &str) -> Result<()> {
    let output = Command::new(outpost_tests::binary("outpostctl"))
        .arg("--data-dir")
        .arg(&console.data_dir)
        .args(["release", "load", path])
        .output()?;
    ensure!(
        output.status.success(),
        "release load {path}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The sample license's api host: `outpost-airgap serve` over TLS with the sample vendor's
/// certificate, on the address the license names, serving the test's own vendor dir.
/// Killed on drop.
struct ApiHost {
    root: PathBuf,
    tls_cert: String,
    tls_key: String,
    log: PathBuf,
    child: Option<Child>,
}

impl ApiHost {
    fn start(root: &Path, vendor: &BTreeMap<String, String>) -> Result<ApiHost> {
        let mut host = ApiHost {
            root: root.to_owned(),
            tls_cert: vendor["SAMPLE_API_HOST_CERT"].clone(),
            tls_key: vendor["SAMPLE_API_HOST_KEY"].clone(),
            log: root.with_extension("api-host.log"),
            child: None,
        };
        host.restart()?;
        Ok(host)
    }

    /// Starts serve (again: the same port) and waits (bounded) for its ready line.
    fn restart(&mut self) -> Result<()> {
        ensure!(self.child.is_none(), "the api host is already running");
        // The sample license names this address and no other, so a port that is taken
        // ends the test, said plainly.
        if let Err(e) = std::net::TcpListener::bind(API_HOST_LISTEN) {
            bail!(
                "cannot listen on {API_HOST_LISTEN} ({e}): this test serves the sample license's api host there; stop what holds the port (`make run` does)"
            );
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut child = Command::new(outpost_tests::binary("outpost-airgap"))
            .args(["serve", "--listen", API_HOST_LISTEN, "--root"])
            .arg(&self.root)
            .args(["--tls-cert", &self.tls_cert, "--tls-key", &self.tls_key])
            .env("OUTPOST_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
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
        // Ends at the ready line, at the deadline, or when serve exits (its stdout closes).
        let deadline = Instant::now() + Duration::from_secs(30);
        let ready = format!(
            "Serving {} on https://{API_HOST_LISTEN}",
            self.root.display()
        );
        while let Ok(line) =
            receiver.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.trim_end() == ready {
                return Ok(());
            }
        }
        self.stop();
        bail!(
            "outpost-airgap serve did not say {ready:?} within 30 s; its log: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    /// Kills the api host, as an outage would.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ApiHost {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `outpost-airgap ARGS`, as the vendor does.
fn vendor_tool(args: &[&str]) -> Result<()> {
    let output = Command::new(outpost_tests::binary("outpost-airgap"))
        .args(args)
        .output()?;
    ensure!(
        output.status.success(),
        "outpost-airgap {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The vendor publishes the sample release `version` on its channel in `root`.
fn publish(vendor: &BTreeMap<String, String>, root: &str, version: &str) -> Result<()> {
    let file =
        Path::new(&vendor["SAMPLE_RELEASES"]).join(format!("sample-app-{version}.release.json"));
    vendor_tool(&[
        "channel",
        "publish",
        "--root",
        root,
        "--release",
        file.to_str().context("a UTF-8 path")?,
        "--key",
        &vendor["SAMPLE_KEY"],
    ])
}

/// The vendor publishes a security advisory on the sample app's channel in `root`.
fn advise(
    vendor: &BTreeMap<String, String>,
    root: &str,
    id: &str,
    title: &str,
    affects: &str,
    fixed_in: &str,
) -> Result<()> {
    vendor_tool(&[
        "channel",
        "advise",
        "--root",
        root,
        "--key",
        &vendor["SAMPLE_KEY"],
        "--app",
        "sample-app",
        "--channel",
        "stable",
        "--id",
        id,
        "--severity",
        "high",
        "--title",
        title,
        "--text",
        "Update to the fixed release.",
        "--affects",
        affects,
        "--fixed-in",
        fixed_in,
    ])
}

/// Where updates stand (`GET /api/v1/updates`).
async fn updates(admin: &Admin) -> Result<Value> {
    let (status, view) = admin.get("/api/v1/updates").await?;
    ensure!(status == 200, "GET /api/v1/updates: {status} {view}");
    Ok(view)
}

/// "Check now" through the API: the check's record and the status after it.
async fn check_now(admin: &Admin) -> Result<Value> {
    ok(admin, Method::POST, "/api/v1/updates/check", json!({})).await
}

/// The versions of the releases newer than the installed one.
fn available(view: &Value) -> Vec<&str> {
    view["available"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["version"].as_str())
        .collect()
}

/// The audit entries with `action`, newest first.
async fn audited(admin: &Admin, action: &str) -> Result<Vec<Value>> {
    let (_, audit) = admin.get("/api/v1/audit?limit=500").await?;
    Ok(audit["entries"]
        .as_array()
        .context("audit entries")?
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect())
}

/// A release (1.1.0's, as `sequence`) signed with the sample vendor's key, whose `service`
/// image is pinned to a digest no registry has.
fn release_with_missing_image(
    vendor: &BTreeMap<String, String>,
    dir: &Path,
    service: &str,
    sequence: u64,
) -> Result<String> {
    use outpost_airgap::release::Release;
    use outpost_airgap::{seal, SigningKey};
    let key = SigningKey::read(Path::new(&vendor["SAMPLE_KEY"]))?;
    let text = std::fs::read_to_string(
        Path::new(&vendor["SAMPLE_RELEASES"]).join("sample-app-1.1.0.release.json"),
    )?;
    let mut release: Release = outpost_airgap::open(
        text.as_bytes(),
        &key.public(),
        time::OffsetDateTime::now_utc(),
    )?;
    release.sequence = sequence;
    release.version = format!("1.1.{sequence}-missing-{service}");
    for pin in &mut release.images {
        if pin.reference.contains(&format!("/{service}:")) {
            pin.digest = format!("sha256:{}", "0".repeat(64));
        }
    }
    let path = dir.join(format!("missing-{service}.release.json"));
    std::fs::write(&path, seal(&release, &key).to_bytes())?;
    Ok(path.to_string_lossy().into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_app_deploys_updates_rolls_back_and_survives_failures() -> Result<()> {
    let vendor = sample_vendor()?;
    remove_app();
    let _app = AppGuard;
    if page().await.is_some() {
        bail!("something already answers on {APP_URL}: this test needs host port 8080");
    }

    let dir = tempfile::tempdir()?;

    // The vendor's api host: its own vendor dir with the sample license and, at first,
    // only 1.0.0 on the channel.
    let license = std::fs::read_to_string(&vendor["SAMPLE_LICENSE"])?;
    let license_id = {
        use outpost_airgap::license::License;
        let key = outpost_airgap::SigningKey::read(Path::new(&vendor["SAMPLE_KEY"]))?;
        let license: License = outpost_airgap::open(
            license.as_bytes(),
            &key.public(),
            time::OffsetDateTime::now_utc(),
        )?;
        assert_eq!(
            license.api_host.as_deref(),
            Some(vendor["SAMPLE_API_HOST"].as_str())
        );
        license.license_id
    };
    let vendor_root = dir.path().join("vendor");
    let root = vendor_root.to_str().context("a UTF-8 path")?;
    outpost_airgap::vendor::VendorDir::new(&vendor_root)
        .store_license(&license_id, license.as_bytes())?;
    publish(&vendor, root, "1.0.0")?;
    let mut api_host = ApiHost::start(&vendor_root, &vendor)?;

    let cluster_port = free_port();
    let cluster_listen = format!("127.0.0.1:{cluster_port}");
    let console_args = [
        "--cluster-listen",
        cluster_listen.as_str(),
        "--api-host-ca",
        vendor["SAMPLE_CA"].as_str(),
    ];
    let mut console = Console::start_with(&dir.path().join("console"), &console_args)?;
    let admin = Admin::set_up(&console, PASSWORD).await?;

    // The license (its key confirmed). Checks run when the test says: weekly, the schedule
    // has no slot in the test's minutes (the failed check's retry aside, a minute later).
    ok(
        &admin,
        Method::POST,
        "/api/v1/license",
        json!({"license": license, "trust_key": vendor["SAMPLE_KEY_FINGERPRINT"]}),
    )
    .await?;
    ok(
        &admin,
        Method::PUT,
        "/api/v1/settings/outbound",
        json!({"update_schedule": "every 7d"}),
    )
    .await?;
    let before = updates(&admin).await?;
    assert_eq!(before["state"], "never_checked", "{before:#}");

    // An update check syncs the license and fetches 1.0.0 from the api host, verified.
    let checked = check_now(&admin).await?;
    assert_eq!(checked["check"]["outcome"], "ok", "{checked:#}");
    let status = &checked["status"];
    assert_eq!(status["state"], "update_available", "{status:#}");
    assert_eq!(available(status), ["1.0.0"], "{status:#}");
    assert_eq!(status["failures"], 0);
    let (_, releases) = admin.get("/api/v1/releases").await?;
    let loaded: Vec<u64> = releases["releases"]
        .as_array()
        .context("releases")?
        .iter()
        .filter_map(|r| r["sequence"].as_u64())
        .collect();
    assert_eq!(loaded, [1], "{releases:#}");
    let (_, outbound) = admin.get("/api/v1/outbound").await?;
    let api_host_url = &vendor["SAMPLE_API_HOST"];
    for (purpose, path) in [
        ("license sync", "v1/license"),
        ("channel index (stable)", "v1/channels/stable/index"),
        ("release 1", "v1/releases/sample-app/1"),
    ] {
        let url = format!("{api_host_url}/{path}");
        assert!(
            outbound["entries"]
                .as_array()
                .is_some_and(|entries| entries.iter().any(|e| {
                    e["purpose"] == purpose
                        && e["url"] == url.as_str()
                        && e["status"] == 200
                        && e["request_headers"]["Authorization"] == "Bearer ****"
                })),
            "the outbound log shows the {purpose} (GET {url} -> 200): {outbound:#}"
        );
    }
    assert!(
        !outbound.to_string().contains(&license_id),
        "the license id (the credential) is masked: {outbound:#}"
    );

    // A node.
    let token = admin.join_token("1h", json!({"role": "primary"})).await?;
    let agent_dir = dir.path().join("agent");
    let mut agent = Agent::join(&console.cluster_url, &token, &agent_dir)?;
    let node = agent.node_id(Duration::from_secs(30)).await?;
    admin
        .wait_for_status(&node, "online", Duration::from_secs(30))
        .await?;
    eventually("the node's facts", Duration::from_secs(30), || async {
        admin
            .node(&node)
            .await
            .ok()
            .flatten()
            .filter(|n| !n["facts"].is_null())
    })
    .await?;

    // Registries: Docker Hub and quay.io through their mirrors, the vendor's registry at its
    // stand-in address (the license's credentials follow it there).
    let rules: Vec<Value> = vendor["SAMPLE_MIRROR_RULES"]
        .split_whitespace()
        .filter_map(|r| r.split_once('='))
        .map(|(from, to)| json!({"from": from, "to": to}))
        .collect();
    let registries = ok(
        &admin,
        Method::PUT,
        "/api/v1/registries",
        json!({"rules": rules, "credentials": []}),
    )
    .await?;
    assert_eq!(
        registries["credentials"][0]["source"], "license",
        "{registries}"
    );
    assert!(
        !registries.to_string().contains("password\":\""),
        "{registries}"
    );

    // Config: a bad value is refused naming its item; then the real values.
    let (status, refused) = admin
        .send(
            Method::PUT,
            "/api/v1/app/config?sequence=1",
            json!({"values": {"greeting": "<script>", "workers": "99"}}),
        )
        .await?;
    assert_eq!(status, 400, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("greeting") && message.contains("workers"),
        "{message}"
    );
    ok(
        &admin,
        Method::PUT,
        "/api/v1/app/config?sequence=1",
        json!({"values": {"greeting": GREETING, "admin_password": ADMIN_PASSWORD}}),
    )
    .await?;

    // Preflight on the node the plan uses.
    let (status, report) = admin.get("/api/v1/app/preflight?sequence=1").await?;
    assert_eq!(status, 200, "{report}");
    let results = report["results"].as_array().context("preflight results")?;
    assert!(
        results
            .iter()
            .any(|r| r["node"] == node.as_str() && r["check"] == "Port 8080 free"),
        "the release's own checks ran on the node: {report}"
    );
    assert_eq!(report["blocking"], false, "preflight passes here: {report}");

    // Deploy 1.0.0: three images from three registries.
    let first = deploy(&admin, 1, false).await?;
    assert_eq!(first["state"], "succeeded", "{first:#}");
    assert_eq!(first["kind"], "deploy");
    let pulls: Vec<&str> = first["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "pull")
        .filter_map(|s| s["target"].as_str())
        .collect();
    for registry in ["127.0.0.1:5101/", "127.0.0.1:5102/", "127.0.0.1:5103/"] {
        assert!(
            pulls.iter().any(|p| p.starts_with(registry)),
            "a pull from {registry}: {pulls:?}"
        );
    }
    let sources: Vec<&str> = first["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "pull")
        .filter_map(|s| s["message"].as_str())
        .collect();
    for of in ["docker.io", "quay.io", "registry.outpost.test"] {
        assert!(
            sources
                .iter()
                .any(|m| m.contains(&format!("the rewrite rule for {of}"))),
            "each pull names its source: {sources:?}"
        );
    }
    let home = wait_for_page("the app's page", GREETING).await?;
    assert!(home.contains("1.0.0"), "{home}");
    assert!(
        !first.to_string().contains(ADMIN_PASSWORD),
        "no secret in a deployment"
    );
    let status = ok(&admin, Method::GET, "/api/v1/app/status", json!({})).await;
    let status = match status {
        Ok(s) => s,
        Err(_) => admin.get("/api/v1/app/status").await?.1,
    };
    assert_eq!(status["state"], "running", "{status:#}");
    assert_eq!(status["installed"]["sequence"], 1);

    // Logs of a service.
    let (code, logs) = admin.get("/api/v1/app/logs?service=web&tail=50").await?;
    assert_eq!(code, 200, "{logs}");
    assert!(logs["lines"].as_array().is_some(), "{logs}");

    // Nothing newer on the channel yet.
    let view = updates(&admin).await?;
    assert_eq!(view["state"], "up_to_date", "{view:#}");
    assert_eq!(view["installed"]["sequence"], 1, "{view:#}");
    assert!(available(&view).is_empty(), "{view:#}");

    // The vendor publishes 1.1.0, an advisory for 1.0.0 fixed in it, and one for 1.2.0
    // only; a check (outpostctl) brings them.
    publish(&vendor, root, "1.1.0")?;
    advise(&vendor, root, ADVISORY, ADVISORY_TITLE, "1", "2")?;
    advise(
        &vendor,
        root,
        OTHER_ADVISORY,
        "Only 1.2.0 is affected",
        "3",
        "4",
    )?;
    let checked = ctl(&console, &["updates", "check"])?;
    assert!(
        checked.contains("check #") && checked.contains("fetched 2"),
        "{checked}"
    );
    let view = updates(&admin).await?;
    assert_eq!(view["state"], "update_available", "{view:#}");
    assert_eq!(available(&view), ["1.1.0"], "{view:#}");
    assert_eq!(view["available"][0]["sequence"], 2);
    assert_eq!(view["available"][0]["fixes"], json!([ADVISORY]), "{view:#}");
    let advisories = view["advisories"].as_array().context("advisories")?;
    assert_eq!(advisories.len(), 1, "only the one for 1.0.0: {view:#}");
    let advisory = &advisories[0];
    assert_eq!(advisory["id"], ADVISORY);
    assert_eq!(advisory["severity"], "high");
    assert_eq!(advisory["title"], ADVISORY_TITLE);
    assert_eq!(advisory["text"], "Update to the fixed release.");
    assert_eq!(advisory["affected"], json!([1]));
    assert_eq!(advisory["fixed_in"], 2);
    assert_eq!(advisory["fixed_in_version"], "1.1.0");
    assert_eq!(advisory["fix_available"], true, "{advisory:#}");
    assert!(!view.to_string().contains(OTHER_ADVISORY), "{view:#}");
    let listed = ctl(&console, &["updates", "list"])?;
    assert!(
        listed.contains("state:        update_available"),
        "{listed}"
    );
    assert!(
        listed.contains(&format!(
            "{ADVISORY} [high] {ADVISORY_TITLE} — fixed in 1.1.0 (sequence 2)"
        )),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("1.1.0 (sequence 2) [fixes {ADVISORY}]")),
        "{listed}"
    );
    assert!(!listed.contains(OTHER_ADVISORY), "{listed}");
    let announced = audited(&admin, "advisory.published").await?;
    assert_eq!(announced.len(), 1, "{announced:#?}");
    let detail = announced[0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(ADVISORY) && detail.contains("fixed in 1.1.0 (sequence 2)"),
        "{detail}"
    );
    let fetched = audited(&admin, "updates.available").await?;
    assert!(
        fetched[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("1.1.0 (sequence 2)")),
        "{fetched:#?}"
    );

    // Update to 1.1.0: the advisory no longer applies.
    let second = deploy(&admin, 2, false).await?;
    assert_eq!(second["state"], "succeeded", "{second:#}");
    assert_eq!(second["kind"], "update");
    wait_for_page("the 1.1.0 page", "1.1.0").await?;
    let view = updates(&admin).await?;
    assert_eq!(view["state"], "up_to_date", "{view:#}");
    assert_eq!(view["advisories"], json!([]), "{view:#}");
    assert!(available(&view).is_empty(), "{view:#}");

    // The vendor publishes the broken 1.2.0; a check brings it.
    publish(&vendor, root, "1.2.0")?;
    let checked = check_now(&admin).await?;
    assert_eq!(checked["check"]["outcome"], "ok", "{checked:#}");
    assert_eq!(
        checked["status"]["state"], "update_available",
        "{checked:#}"
    );
    assert_eq!(available(&checked["status"]), ["1.2.0"], "{checked:#}");
    assert_eq!(checked["status"]["advisories"], json!([]), "{checked:#}");

    // Its web container never becomes healthy → rolled back to 1.1.0.
    let third = deploy(&admin, 3, false).await?;
    assert_eq!(third["state"], "rolled_back", "{third:#}");
    let message = third["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("sample-app-web-1") && message.contains("unhealthy"),
        "the cause is named: {message}"
    );
    assert!(
        message.contains("Rolled back automatically to release 1.1.0"),
        "{message}"
    );
    let page_after = wait_for_page("1.1.0 again after the rollback", "1.1.0").await?;
    assert!(!page_after.contains("1.2.0"), "{page_after}");
    let (_, history) = admin.get("/api/v1/app/deployments").await?;
    let rollback = &history["deployments"][0];
    assert_eq!(rollback["kind"], "rollback", "{history:#}");
    assert_eq!(rollback["state"], "succeeded");
    assert_eq!(rollback["rollback_of"], third["id"]);

    // The api host goes down: the check fails, says when it retries, and the app runs on.
    api_host.stop();
    let checked = ctl(&console, &["updates", "check"])?;
    assert!(checked.contains("state:        check_failed"), "{checked}");
    let view = updates(&admin).await?;
    assert_eq!(view["state"], "check_failed", "{view:#}");
    assert_eq!(view["failures"], 1, "{view:#}");
    assert_eq!(view["checks"][0]["problem"], "unreachable", "{view:#}");
    assert!(view["next_check_at"].is_string(), "a retry: {view:#}");
    assert!(
        view["message"]
            .as_str()
            .is_some_and(|m| m.contains("the app is not affected")),
        "{view:#}"
    );
    let home = page()
        .await
        .context("the app answers while the api host is down")?;
    assert!(home.contains("1.1.0"), "{home}");
    assert_eq!(audited(&admin, "updates.check_failed").await?.len(), 1);

    // It comes back (the same port): the next check succeeds.
    api_host.restart()?;
    let checked = check_now(&admin).await?;
    assert_eq!(checked["check"]["outcome"], "ok", "{checked:#}");
    let status = &checked["status"];
    assert_eq!(status["failures"], 0, "{status:#}");
    assert_eq!(
        status["state"], "update_available",
        "1.2.0 is still newer: {status:#}"
    );
    assert_eq!(available(status), ["1.2.0"], "{status:#}");

    // Stop and start.
    let stopped = ok(&admin, Method::POST, "/api/v1/app/stop", json!({})).await?;
    assert_eq!(stopped["state"], "stopped", "{stopped:#}");
    ensure!(page().await.is_none(), "the app still answers after stop");
    let started = ok(&admin, Method::POST, "/api/v1/app/start", json!({})).await?;
    assert_eq!(started["state"], "running", "{started:#}");
    wait_for_page("the page after start", "1.1.0").await?;

    // The same through outpostctl.
    let status: Value = serde_json::from_str(&ctl(&console, &["app", "status", "--json"])?)?;
    assert_eq!(status["view"]["state"], "running", "{status:#}");
    let restarted = ctl(&console, &["app", "restart"])?;
    assert!(restarted.contains("state:    running"), "{restarted}");
    let logs: Value = serde_json::from_str(&ctl(
        &console,
        &["app", "logs", "api", "--tail", "20", "--json"],
    )?)?;
    assert!(
        logs["view"]["lines"]
            .as_array()
            .is_some_and(|lines| lines.iter().any(|l| l["line"]
                .as_str()
                .unwrap_or("")
                .contains("serving on :9000"))),
        "the api's start-up line: {logs:#}"
    );
    let history = ctl(&console, &["app", "history"])?;
    assert!(
        history.contains("rolled_back") && history.contains("1.2.0"),
        "{history}"
    );

    // A missing image: fails before any container is touched; 1.1.0 keeps running.
    let missing = release_with_missing_image(&vendor, dir.path(), "web", 90)?;
    load_release(&console, &missing)?;
    let failed = deploy(&admin, 90, false).await?;
    assert_eq!(failed["state"], "failed", "{failed:#}");
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("web@sha256:0000"),
        "names the image: {message}"
    );
    assert!(
        message.contains("Nothing was changed: release 1.1.0 keeps running"),
        "{message}"
    );
    wait_for_page("1.1.0 after the missing image", "1.1.0").await?;

    // A wrong registry password: the admin's credentials for the vendor registry's address
    // win over the license's. (An image whose digest is on the node is not fetched again, so
    // the release needs one that is not: with the right password this would be "not found".)
    ok(
        &admin,
        Method::PUT,
        "/api/v1/registries",
        json!({"rules": rules, "credentials": [
            {"host": "127.0.0.1:5103", "username": "outpost-vendor", "password": "wrong password"}
        ]}),
    )
    .await?;
    let private = release_with_missing_image(&vendor, dir.path(), "worker", 91)?;
    load_release(&console, &private)?;
    let refused = deploy(&admin, 91, false).await?;
    assert_eq!(refused["state"], "failed", "{refused:#}");
    let message = refused["message"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        message.contains("unauthorized") || message.contains("authentication"),
        "names the cause: {message}"
    );
    assert!(
        message.contains("127.0.0.1:5103"),
        "names the registry: {message}"
    );
    wait_for_page("1.1.0 after the wrong password", "1.1.0").await?;
    ok(
        &admin,
        Method::PUT,
        "/api/v1/registries",
        json!({"rules": rules, "credentials": []}),
    )
    .await?;

    // An offline node: nothing to deploy on, said so; the containers keep running.
    agent.kill();
    admin
        .wait_for_status(&node, "offline", Duration::from_secs(30))
        .await?;
    let (status, offline) = admin
        .send(Method::POST, "/api/v1/app/deploy", json!({"sequence": 2}))
        .await?;
    assert_eq!(status, 400, "{offline}");
    let message = offline["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.to_lowercase().contains("no node is online"),
        "{message}"
    );
    wait_for_page("1.1.0 while the node is offline", "1.1.0").await?;
    let mut agent = Agent::run(&agent_dir)?;
    admin
        .wait_for_status(&node, "online", Duration::from_secs(60))
        .await?;

    // The console killed in the middle of a deploy: resumed at start, and it says so.
    let rollback_to = first["id"].as_i64().unwrap();
    let started = ok(
        &admin,
        Method::POST,
        "/api/v1/app/rollback",
        json!({"deployment_id": rollback_to}),
    )
    .await?;
    let id = started["id"].as_i64().unwrap();
    eventually(
        "a container step to start",
        Duration::from_secs(60),
        || async {
            let (_, d) = admin
                .get(&format!("/api/v1/app/deployments/{id}"))
                .await
                .ok()?;
            d["steps"]
                .as_array()?
                .iter()
                .any(|s| s["action"] == "run" && s["state"] != "pending")
                .then_some(())
        },
    )
    .await?;
    console.kill();
    let console = Console::start_with(&dir.path().join("console"), &console_args)?;
    let admin = Admin::log_in(&console, PASSWORD).await?;
    let resumed = finished(&admin, id).await?;
    assert_eq!(resumed["state"], "succeeded", "{resumed:#}");
    let events: Vec<&str> = resumed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e.contains("resuming it from the start")),
        "the deployment says it was resumed: {events:?}"
    );
    let home = wait_for_page("1.0.0 after the resumed rollback", "1.0.0").await?;
    assert!(home.contains(GREETING), "{home}");
    let (_, config) = admin.get("/api/v1/app/config?sequence=1").await?;
    assert!(!config.to_string().contains(ADMIN_PASSWORD));

    // No secret in the audit log.
    let (_, audit) = admin.get("/api/v1/audit?limit=500").await?;
    let audit = audit.to_string();
    assert!(audit.contains("deploy.rolled_back"), "{audit}");
    assert!(!audit.contains(OTHER_ADVISORY), "{audit}");
    assert!(!audit.contains(ADMIN_PASSWORD) && !audit.contains("wrong password"));

    agent.kill();
    Ok(())
}
