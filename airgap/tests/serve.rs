//! `outpost-airgap serve` as a process: real TLS with a test CA, every endpoint's
//! 200/401/403/404 (key rotations included), request bodies refused, request logs without credentials, and a
//! clean stop on SIGTERM. Waits are bounded; nothing sleeps a fixed time.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use time::macros::datetime;
use time::OffsetDateTime;

use outpost_airgap::license::License;
use outpost_airgap::release::Release;
use outpost_airgap::rotation::KeyRotation;
use outpost_airgap::vendor::VendorDir;
use outpost_airgap::{open, seal, SigningKey};

const BIN: &str = env!("CARGO_BIN_EXE_outpost-airgap");
const STARTUP_LIMIT: Duration = Duration::from_secs(30);
const STOP_LIMIT: Duration = Duration::from_secs(15);

/// A running `outpost-airgap serve`, killed on drop.
struct ApiHost {
    child: Option<Child>,
    url: String,
    stderr_path: PathBuf,
}

impl ApiHost {
    /// Starts `serve` on a free loopback port and waits (bounded) for its ready line.
    fn start(root: &Path, extra: &[&str]) -> ApiHost {
        let stderr_path = root.with_extension("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--root"])
            .arg(root)
            .args(extra)
            .env("OUTPOST_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn outpost-airgap serve");
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
            stderr_path,
        };
        let deadline = Instant::now() + STARTUP_LIMIT;
        let prefix = format!("Serving {} on ", root.display());
        while let Ok(line) =
            receiver.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if let Some(url) = line.strip_prefix(&prefix) {
                host.url = url.trim().to_owned();
                break;
            }
        }
        assert!(
            !host.url.is_empty(),
            "serve printed no ready line within {STARTUP_LIMIT:?}; stderr: {}",
            host.stderr()
        );
        host
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// SIGTERM, then waits (bounded) for a successful exit.
    fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + STOP_LIMIT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "serve exited with {status}: {}",
                    self.stderr()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop within {STOP_LIMIT:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ApiHost {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `check` until it holds or `limit` passes.
fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

fn airgap(args: &[&str]) {
    let output = Command::new(BIN)
        .args(args)
        .env_remove("OUTPOST_REGISTRY_PASSWORD")
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}: {output:?}");
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A vendor dir with licenses for several apps and channels and published releases:
///
/// | license id | app | channel | |
/// |---|---|---|---|
/// | lic-stable | demo | stable | |
/// | lic-beta | demo | beta | |
/// | lic-other | other | stable | |
/// | lic-nightly | demo | nightly | nothing published there |
/// | lic-expired | demo | stable | expired in 2021 |
///
/// Releases: demo 1 (stable), demo 2 (beta), other 1 (stable).
struct Vendor {
    _dir: tempfile::TempDir,
    root: PathBuf,
    tls_cert: PathBuf,
    tls_key: PathBuf,
    ca_pem: String,
}

fn vendor() -> Vendor {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let root = dir.path().join("vendor");
    airgap(&["keygen", "--out", s(&keys)]);
    let key_file = keys.join("vendor.key");
    for (id, app, channel) in [
        ("lic-stable", "demo", "stable"),
        ("lic-beta", "demo", "beta"),
        ("lic-other", "other", "stable"),
        ("lic-nightly", "demo", "nightly"),
    ] {
        airgap(&[
            "license",
            "issue",
            "--key",
            s(&key_file),
            "--customer",
            "Customer",
            "--app",
            app,
            "--channel",
            channel,
            "--expires",
            "2099-12-31",
            "--license-id",
            id,
            "--out",
            s(&dir.path().join(format!("{id}.json"))),
            "--root",
            s(&root),
        ]);
    }
    let key = SigningKey::read(&key_file).unwrap();
    // `license issue` refuses to sign an expired license; a vendor dir can still hold one.
    let expired = License {
        schema: 1,
        license_id: "lic-expired".into(),
        customer: "Former customer".into(),
        app_id: "demo".into(),
        channel: "stable".into(),
        issued_at: datetime!(2020-01-01 00:00 UTC),
        expires_at: datetime!(2021-01-01 00:00 UTC),
        entitlements: BTreeMap::new(),
        airgap: false,
        max_nodes: None,
        api_host: None,
        registry: None,
        vendor_key: key.public().to_base64(),
        revoked: None,
    };
    std::fs::write(
        root.join("licenses/lic-expired.json"),
        seal(&expired, &key).to_bytes(),
    )
    .unwrap();

    for (app, sequence, channel) in [
        ("demo", 1, "stable"),
        ("demo", 2, "beta"),
        ("other", 1, "stable"),
    ] {
        let release = Release {
            schema: 1,
            app_id: app.into(),
            channel: channel.into(),
            sequence,
            version: format!("1.{sequence}.0"),
            notes: String::new(),
            required: false,
            created_at: datetime!(2026-05-01 10:00 UTC),
            files: BTreeMap::from([
                ("compose.yaml".to_owned(), "services: {}\n".to_owned()),
                ("outpost.yaml".to_owned(), format!("app: {app}\n")),
            ]),
            images: Vec::new(),
        };
        let path = dir.path().join(format!("{app}-{sequence}.json"));
        std::fs::write(&path, seal(&release, &key).to_bytes()).unwrap();
        airgap(&[
            "channel",
            "publish",
            "--root",
            s(&root),
            "--release",
            s(&path),
            "--key",
            s(&key_file),
        ]);
    }

    // A test CA and a server certificate it signed, for 127.0.0.1 and localhost.
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Outpost test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
    let tls_cert = dir.path().join("server.crt");
    let tls_key = dir.path().join("server.key");
    std::fs::write(&tls_cert, server.pem()).unwrap();
    std::fs::write(&tls_key, server_key.serialize_pem()).unwrap();

    Vendor {
        root,
        tls_cert,
        tls_key,
        ca_pem: ca.pem(),
        _dir: dir,
    }
}

fn client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_api_host_serves_each_license_what_it_is_entitled_to_over_tls() {
    let vendor = vendor();
    let mut host = ApiHost::start(
        &vendor.root,
        &[
            "--tls-cert",
            s(&vendor.tls_cert),
            "--tls-key",
            s(&vendor.tls_key),
        ],
    );
    assert!(host.url.starts_with("https://127.0.0.1:"), "{}", host.url);
    let client = client(&vendor.ca_pem);
    let file = |path: &str| std::fs::read(vendor.root.join(path)).unwrap();

    // (path, license id, status, the file served on 200)
    let cases: &[(&str, Option<&str>, u16, Option<&str>)] = &[
        ("/v1/license", None, 401, None),
        ("/v1/license", Some("unknown-id"), 401, None),
        ("/v1/license", Some("..."), 401, None),
        (
            "/v1/license",
            Some("lic-stable"),
            200,
            Some("licenses/lic-stable.json"),
        ),
        (
            "/v1/license",
            Some("lic-expired"),
            200,
            Some("licenses/lic-expired.json"),
        ),
        ("/v1/channels/stable/index", None, 401, None),
        ("/v1/channels/stable/index", Some("unknown-id"), 401, None),
        (
            "/v1/channels/stable/index",
            Some("lic-stable"),
            200,
            Some("channels/demo/stable/index.json"),
        ),
        (
            "/v1/channels/stable/index",
            Some("lic-other"),
            200,
            Some("channels/other/stable/index.json"),
        ),
        ("/v1/channels/beta/index", Some("lic-stable"), 403, None),
        ("/v1/channels/stable/index", Some("lic-beta"), 403, None),
        ("/v1/channels/stable/index", Some("lic-expired"), 403, None),
        ("/v1/channels/nightly/index", Some("lic-nightly"), 404, None),
        (
            "/v1/channels/bad%20name/index",
            Some("lic-stable"),
            404,
            None,
        ),
        ("/v1/releases/demo/1", None, 401, None),
        (
            "/v1/releases/demo/1",
            Some("lic-stable"),
            200,
            Some("releases/demo/1.json"),
        ),
        (
            "/v1/releases/demo/2",
            Some("lic-beta"),
            200,
            Some("releases/demo/2.json"),
        ),
        ("/v1/releases/demo/2", Some("lic-stable"), 403, None),
        ("/v1/releases/demo/1", Some("lic-other"), 403, None),
        ("/v1/releases/other/1", Some("lic-stable"), 403, None),
        ("/v1/releases/demo/1", Some("lic-expired"), 403, None),
        ("/v1/releases/demo/9", Some("lic-stable"), 404, None),
        ("/v1/releases/demo/x", Some("lic-stable"), 404, None),
        (
            "/v1/releases/demo/99999999999999999999999",
            Some("lic-stable"),
            404,
            None,
        ),
        ("/v1/nothing", Some("lic-stable"), 404, None),
    ];
    for (path, license, status, served) in cases {
        let mut request = client.get(host.at(path));
        if let Some(license) = license {
            request = request.bearer_auth(license);
        }
        let response = request.send().await.unwrap();
        let what = format!("GET {path} as {license:?}");
        assert_eq!(response.status().as_u16(), *status, "{what}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{what}: {content_type}"
        );
        let body = response.bytes().await.unwrap();
        match served {
            Some(served) => assert_eq!(body.as_ref(), file(served).as_slice(), "{what}"),
            None => {
                let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert!(error["error"]["code"].is_string(), "{what}: {error}");
                assert!(error["error"]["message"].is_string(), "{what}: {error}");
            }
        }
    }

    // Another authorization scheme is no credential.
    let response = client
        .get(host.at("/v1/license"))
        .basic_auth("lic-stable", Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);

    // Only GET, and no request bodies.
    let response = client
        .post(host.at("/v1/license"))
        .bearer_auth("lic-stable")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let response = client
        .get(host.at("/v1/license"))
        .bearer_auth("lic-stable")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);

    // The reporting headers are logged; the credential is not (only a short hash).
    let response = client
        .get(host.at("/v1/channels/stable/index"))
        .bearer_auth("lic-stable")
        .header("X-Outpost-Instance", "instance-7f3a")
        .header("X-Outpost-Console-Version", "0.9.1")
        .header("X-Outpost-App-Sequence", "41")
        .header("X-Outpost-Node-Count", "3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    eventually("the request's log line", Duration::from_secs(10), || {
        host.stderr().contains("instance-7f3a")
    });
    let log = host.stderr();
    let line = log.lines().find(|l| l.contains("instance-7f3a")).unwrap();
    for expected in [
        "0.9.1",
        "41",
        "node_count=3",
        "status=200",
        "/v1/channels/stable/index",
    ] {
        assert!(line.contains(expected), "{expected:?} in {line}");
    }
    for id in [
        "lic-stable",
        "lic-beta",
        "lic-other",
        "lic-expired",
        "unknown-id",
    ] {
        assert!(
            !log.contains(id),
            "the log holds the credential {id}:\n{log}"
        );
    }

    host.stop();
}

#[tokio::test]
async fn a_revoked_license_still_syncs_but_gets_no_index_and_no_release() {
    let vendor = vendor();
    let key_file = vendor.root.parent().unwrap().join("keys/vendor.key");
    let key = SigningKey::read(&key_file).unwrap();
    let reason = "Contract ended on 2026-04-30";
    let (revoked, stored) = VendorDir::new(&vendor.root)
        .revoke("lic-stable", reason, &key, OffsetDateTime::now_utc())
        .unwrap();
    assert_eq!(stored, vendor.root.join("licenses/lic-stable.json"));
    assert!(revoked.revoked.is_some());

    let mut host = ApiHost::start(
        &vendor.root,
        &[
            "--tls-cert",
            s(&vendor.tls_cert),
            "--tls-key",
            s(&vendor.tls_key),
        ],
    );
    let client = client(&vendor.ca_pem);

    // The license sync is how a console learns of the revocation: the revoked license.
    let response = client
        .get(host.at("/v1/license"))
        .bearer_auth("lic-stable")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body = response.bytes().await.unwrap();
    assert_eq!(body.as_ref(), std::fs::read(&stored).unwrap().as_slice());
    let synced: License = open(&body, &key.public(), OffsetDateTime::now_utc()).unwrap();
    assert_eq!(
        synced.revoked.as_ref().map(|r| r.reason.as_str()),
        Some(reason)
    );

    // Nothing else: no index, no release, with the vendor's reason.
    for path in ["/v1/channels/stable/index", "/v1/releases/demo/1"] {
        let response = client
            .get(host.at(path))
            .bearer_auth("lic-stable")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 403, "GET {path}");
        let error: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(
            error["error"]["code"], "license_revoked",
            "GET {path}: {error}"
        );
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "GET {path}: {error}");
    }

    // Other licenses on the same api host are not affected.
    let response = client
        .get(host.at("/v1/releases/demo/2"))
        .bearer_auth("lic-beta")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    host.stop();
}

#[tokio::test]
async fn the_api_host_serves_a_stored_key_rotation_to_any_known_license() {
    let vendor = vendor();
    let dir = vendor.root.parent().unwrap();
    let old_file = dir.join("keys/vendor.key");
    let old = SigningKey::read(&old_file).unwrap();
    let new_keys = dir.join("new-keys");
    airgap(&["keygen", "--out", s(&new_keys)]);
    let new = SigningKey::read(&new_keys.join("vendor.key")).unwrap();
    let (old_id, new_id) = (old.public().keyid(), new.public().keyid());
    airgap(&[
        "key",
        "rotate",
        "--key",
        s(&old_file),
        "--new-key",
        s(&new_keys.join("vendor.key")),
        "--root",
        s(&vendor.root),
        "--out",
        s(&dir.join("rotation.json")),
    ]);
    let stored = std::fs::read(vendor.root.join(format!("keys/rotations/{old_id}.json"))).unwrap();

    let mut host = ApiHost::start(&vendor.root, &[]);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let rotation_of = |keyid: &str| format!("/v1/keys/{keyid}/rotation");

    // Any known license reads it, expired ones too; it opens with the old key.
    for license in ["lic-stable", "lic-other", "lic-expired"] {
        let response = client
            .get(host.at(&rotation_of(&old_id)))
            .bearer_auth(license)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "as {license}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        let body = response.bytes().await.unwrap();
        assert_eq!(body.as_ref(), stored.as_slice(), "as {license}");
        let rotation: KeyRotation = open(&body, &old.public(), OffsetDateTime::now_utc()).unwrap();
        assert_eq!(rotation.new_key, new.public().to_base64());
    }

    // (path, license id, status, error code)
    let upper = old_id.to_uppercase();
    let short = &old_id[..63];
    let cases: Vec<(String, Option<&str>, u16, &str)> = vec![
        (rotation_of(&old_id), None, 401, "unauthorized"),
        (
            rotation_of(&old_id),
            Some("unknown-id"),
            401,
            "unauthorized",
        ),
        (rotation_of(&new_id), None, 401, "unauthorized"),
        (rotation_of(&new_id), Some("lic-stable"), 404, "not_found"),
        (rotation_of(&upper), Some("lic-stable"), 404, "not_found"),
        (rotation_of(short), Some("lic-stable"), 404, "not_found"),
        (
            rotation_of("not-a-key"),
            Some("lic-stable"),
            404,
            "not_found",
        ),
    ];
    for (path, license, status, code) in &cases {
        let mut request = client.get(host.at(path));
        if let Some(license) = license {
            request = request.bearer_auth(license);
        }
        let response = request.send().await.unwrap();
        let what = format!("GET {path} as {license:?}");
        assert_eq!(response.status().as_u16(), *status, "{what}");
        let error: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(error["error"]["code"], *code, "{what}: {error}");
    }
    let response = client
        .get(host.at(&rotation_of(&new_id)))
        .bearer_auth("lic-stable")
        .send()
        .await
        .unwrap();
    let error: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(
        error["error"]["message"],
        format!("No key rotation from {new_id} is published.")
    );

    host.stop();
}

#[tokio::test]
async fn without_a_certificate_it_serves_plain_http_for_local_development() {
    let vendor = vendor();
    let mut host = ApiHost::start(&vendor.root, &[]);
    assert!(host.url.starts_with("http://127.0.0.1:"), "{}", host.url);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let response = client.get(host.at("/v1/license")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let response = client
        .get(host.at("/v1/releases/demo/1"))
        .bearer_auth("lic-stable")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    host.stop();
}

#[test]
fn serve_refuses_a_missing_vendor_dir_and_half_a_tls_pair() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let output = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--root", s(&missing)])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("vendor dir"));

    let output = Command::new(BIN)
        .args(["serve", "--root", s(dir.path()), "--tls-cert", "x.pem"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}
