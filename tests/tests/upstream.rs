//! Releases from the vendor's api host: a real console fetches from a real
//! `outpost-airgap serve` over TLS with its own test CA (trusted through `--api-host-ca`),
//! and the outbound log shows exactly what was sent, with the license id masked. A
//! tampered index loads nothing; an api host that is down is named, and logged.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use outpost_airgap::license::{License, RegistryCredentials};
use outpost_airgap::release::{ImagePin, Release};
use outpost_airgap::vendor::VendorDir;
use outpost_airgap::{seal, Envelope, SigningKey};
use outpost_tests::{binary, Admin, Console, TestCa};
use serde_json::{json, Value};

const PASSWORD: &str = "integration password";
/// The license id is the api host credential: it must never show in the outbound log.
const LICENSE_ID: &str = "lic-upstream-7f3a9c2e";
const REGISTRY_PASSWORD: &str = "s3cret-pull-password";
/// Exactly the headers README.md documents under "What data is sent to the api host?".
const DOCUMENTED_HEADERS: [&str; 6] = [
    "Accept",
    "Authorization",
    "X-Outpost-Instance",
    "X-Outpost-Console-Version",
    "X-Outpost-App-Sequence",
    "X-Outpost-Node-Count",
];

/// A running `outpost-airgap serve` over TLS, killed on drop.
struct ApiHost {
    child: Option<Child>,
    url: String,
    log: PathBuf,
}

impl ApiHost {
    fn start(vendor: &Vendor) -> Result<ApiHost> {
        let log = vendor.dir.path().join("api-host.log");
        let mut child = Command::new(binary("outpost-airgap"))
            .args(["serve", "--listen", "127.0.0.1:0", "--root"])
            .arg(&vendor.root)
            .arg("--tls-cert")
            .arg(&vendor.tls_cert)
            .arg("--tls-key")
            .arg(&vendor.tls_key)
            .env("OUTPOST_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("spawning outpost-airgap serve")?;
        let stdout = child.stdout.take().expect("piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut host = ApiHost {
            child: Some(child),
            url: String::new(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let prefix = format!("Serving {} on ", vendor.root.display());
        while let Ok(line) =
            receiver.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if let Some(url) = line.strip_prefix(&prefix) {
                host.url = url.trim().to_owned();
                break;
            }
        }
        if host.url.is_empty() {
            bail!("outpost-airgap serve printed no ready line within 30 s");
        }
        Ok(host)
    }

    /// The api host's request log (stderr).
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the api host (as a crash or an outage would).
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

/// The vendor's side: a key, a vendor dir whose stable channel lists releases 1 and 2 of
/// the sample app, and a TLS certificate signed by a test CA.
struct Vendor {
    dir: tempfile::TempDir,
    key: SigningKey,
    root: PathBuf,
    ca: PathBuf,
    tls_cert: PathBuf,
    tls_key: PathBuf,
}

impl Vendor {
    fn new() -> Result<Vendor> {
        let dir = tempfile::tempdir()?;
        let key = SigningKey::generate();
        let root = dir.path().join("vendor");
        let vendor = VendorDir::new(&root);
        let now = time::OffsetDateTime::now_utc();
        for (sequence, version) in [(1, "1.0.0"), (2, "1.1.0")] {
            let path = dir.path().join(format!("release-{sequence}.json"));
            let bytes = seal(&release(sequence, version)?, &key).to_bytes();
            std::fs::write(&path, &bytes)?;
            vendor.publish(&path, &bytes, &key, now, time::Duration::days(14))?;
        }

        let tls = TestCa::write(dir.path(), "Outpost api host test CA")?;
        Ok(Vendor {
            dir,
            key,
            root,
            ca: tls.ca,
            tls_cert: tls.cert,
            tls_key: tls.key,
        })
    }

    /// Issues the customer's license naming `api_host` (stored in the vendor dir, as
    /// `license issue --root` does) and returns its text.
    fn license(&self, api_host: &str) -> Result<String> {
        let now = time::OffsetDateTime::now_utc();
        let license = License {
            schema: 1,
            license_id: LICENSE_ID.into(),
            customer: "Upstream Customer".into(),
            app_id: "sample-app".into(),
            channel: "stable".into(),
            issued_at: now - time::Duration::days(1),
            expires_at: now + time::Duration::days(365),
            entitlements: BTreeMap::new(),
            airgap: false,
            max_nodes: Some(3),
            api_host: Some(api_host.to_owned()),
            registry: Some(RegistryCredentials {
                host: Some("registry.vendor.example".into()),
                username: "pull".into(),
                password: REGISTRY_PASSWORD.into(),
            }),
            vendor_key: self.key.public().to_base64(),
            revoked: None,
        };
        let bytes = seal(&license, &self.key).to_bytes();
        VendorDir::new(&self.root).store_license(LICENSE_ID, &bytes)?;
        Ok(String::from_utf8(bytes)?)
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("channels/sample-app/stable/index.json")
    }
}

fn release(sequence: u64, version: &str) -> Result<Release> {
    let app = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/sample-app")
        .join(version);
    let files = ["compose.yaml", "outpost.yaml"]
        .iter()
        .map(|name| Ok(((*name).to_owned(), std::fs::read_to_string(app.join(name))?)))
        .collect::<Result<BTreeMap<_, _>>>()?;
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
        images: vec![ImagePin {
            reference: format!("docker.io/outpost-samples/web:{version}"),
            digest: format!("sha256:{}", "c".repeat(64)),
            platform: "linux/amd64".into(),
        }],
    })
}

/// A console that trusts the test CA for its api host, signed in, with the license loaded.
async fn licensed_console(vendor: &Vendor, api_host: &ApiHost) -> Result<(Console, Admin)> {
    let console = Console::start_with(
        &vendor.dir.path().join("console"),
        &["--api-host-ca", vendor.ca.to_str().context("utf-8 path")?],
    )?;
    let admin = Admin::set_up(&console, PASSWORD).await?;
    let (status, body) = admin
        .send(
            reqwest::Method::POST,
            "/api/v1/license",
            json!({"license": vendor.license(&api_host.url)?, "trust_key": vendor.key.public().keyid()}),
        )
        .await?;
    if status != 200 {
        bail!("license load: {status} {body}");
    }
    Ok((console, admin))
}

async fn fetch(admin: &Admin) -> Result<(u16, Value)> {
    admin
        .send(reqwest::Method::POST, "/api/v1/releases/fetch", json!({}))
        .await
}

async fn outbound(admin: &Admin) -> Result<Vec<Value>> {
    let (status, body) = admin.get("/api/v1/outbound").await?;
    assert_eq!(status, 200, "{body}");
    let text = body.to_string();
    assert!(!text.contains(LICENSE_ID), "the license id leaked: {text}");
    assert!(!text.contains(REGISTRY_PASSWORD), "a secret leaked: {text}");
    Ok(body["entries"].as_array().context("entries")?.clone())
}

#[tokio::test]
async fn releases_are_fetched_over_tls_and_the_outbound_log_shows_exactly_what_was_sent(
) -> Result<()> {
    let vendor = Vendor::new()?;
    let api_host = ApiHost::start(&vendor)?;
    let (console, admin) = licensed_console(&vendor, &api_host).await?;

    let (status, body) = fetch(&admin).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"index_version": 2, "fetched": [1, 2], "present": [], "refused": []})
    );
    assert_eq!(admin.loaded_sequences().await?, [2, 1]);
    let (_, releases) = admin.get("/api/v1/releases").await?;
    assert_eq!(
        releases["releases"][1]["source"],
        format!("{}/v1/releases/sample-app/1", api_host.url)
    );

    let entries = outbound(&admin).await?;
    let urls: Vec<&str> = entries.iter().filter_map(|e| e["url"].as_str()).collect();
    assert_eq!(
        urls,
        [
            format!("{}/v1/releases/sample-app/2", api_host.url),
            format!("{}/v1/releases/sample-app/1", api_host.url),
            format!("{}/v1/channels/stable/index", api_host.url),
        ]
    );
    let mut instance = None;
    for entry in &entries {
        assert_eq!(entry["method"], "GET");
        assert_eq!(entry["status"], 200, "{entry}");
        assert_eq!(entry["error"], Value::Null);
        assert_eq!(entry["request_fields"], json!({}));
        assert!(entry["bytes_received"].as_u64() > Some(0), "{entry}");
        let headers = entry["request_headers"].as_object().context("headers")?;
        let names: Vec<&str> = headers.keys().map(String::as_str).collect();
        let mut expected = DOCUMENTED_HEADERS.to_vec();
        expected.sort_unstable();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, expected, "exactly the documented headers");
        assert_eq!(headers["Authorization"], "Bearer ****");
        assert_eq!(headers["Accept"], "application/json");
        assert_eq!(
            headers["X-Outpost-Console-Version"],
            outpost_console::VERSION
        );
        assert_eq!(headers["X-Outpost-App-Sequence"], "");
        assert_eq!(headers["X-Outpost-Node-Count"], "0");
        let id = headers["X-Outpost-Instance"].as_str().context("instance")?;
        assert_eq!(id.len(), 32);
        assert_eq!(
            *instance.get_or_insert(id.to_owned()),
            id,
            "one instance id"
        );
    }

    // The api host read the reporting headers under the names it knows, and never logged
    // the license id.
    let id = instance.context("an instance id")?;
    let log = outpost_tests::eventually(
        "the api host's request log",
        Duration::from_secs(10),
        || async {
            let log = api_host.log();
            log.contains(&format!("instance={id}")).then_some(log)
        },
    )
    .await?;
    assert!(
        log.contains(&format!("console_version={}", outpost_console::VERSION))
            && log.contains("node_count=0"),
        "{log}"
    );
    assert!(!log.contains(LICENSE_ID), "{log}");

    // The same through outpostctl: a second fetch finds both loaded; the log shows it.
    let (ok, stdout, stderr) = console.ctl(&["release", "fetch"])?;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("already loaded:   1, 2"), "{stdout}");
    let (ok, stdout, stderr) = console.ctl(&["outbound", "--limit", "1"])?;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("(channel index (stable)) -> 200") && stdout.contains("Bearer ****"),
        "{stdout}"
    );
    assert!(!stdout.contains(LICENSE_ID), "{stdout}");
    assert!(
        stdout.contains("More: outpostctl outbound --before"),
        "{stdout}"
    );

    let (_, audit) = admin.get("/api/v1/audit?limit=20").await?;
    let fetched: Vec<&Value> = audit["entries"]
        .as_array()
        .context("audit")?
        .iter()
        .filter(|e| e["action"] == "releases.fetched")
        .collect();
    assert_eq!(fetched.len(), 2, "{audit}");
    assert!(
        fetched[1]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("fetched 1, 2") && !d.contains(LICENSE_ID)),
        "{audit}"
    );
    Ok(())
}

#[tokio::test]
async fn a_tampered_index_loads_nothing_and_a_down_api_host_is_named_and_logged() -> Result<()> {
    let vendor = Vendor::new()?;
    let mut api_host = ApiHost::start(&vendor)?;
    let (_console, admin) = licensed_console(&vendor, &api_host).await?;

    // Someone between the vendor and the console raised the index's version.
    // The vendor's signature stays; the payload under it changes.
    let original: Envelope = serde_json::from_slice(&std::fs::read(vendor.index_path())?)?;
    let payload = String::from_utf8(original.payload_unverified()?)?;
    assert!(payload.contains("\"version\":2"), "{payload}");
    let raised = payload.replace("\"version\":2", "\"version\":7");
    let mut tampered = Envelope::sign(
        &original.payload_type,
        raised.as_bytes(),
        &SigningKey::generate(),
    );
    tampered.signatures = original.signatures.clone();
    std::fs::write(vendor.index_path(), tampered.to_bytes())?;

    let (status, body) = fetch(&admin).await?;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "index_invalid");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("bad signature")),
        "{body}"
    );
    assert!(admin.loaded_sequences().await?.is_empty(), "nothing loaded");
    let entries = outbound(&admin).await?;
    assert_eq!(entries.len(), 1, "only the index was asked for");

    // The api host goes down.
    api_host.stop();
    let (status, body) = fetch(&admin).await?;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "api_host_unreachable");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("unreachable") && message.contains(&api_host.url),
        "{message}"
    );
    let entries = outbound(&admin).await?;
    assert_eq!(entries.len(), 2);
    let newest = &entries[0];
    assert_eq!(newest["status"], Value::Null, "{newest}");
    assert!(
        newest["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot reach")),
        "{newest}"
    );
    assert_eq!(newest["request_headers"]["Authorization"], "Bearer ****");
    assert!(admin.loaded_sequences().await?.is_empty());
    Ok(())
}
