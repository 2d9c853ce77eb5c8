//! The console as a real process: real TLS on a real socket, a real SQLite file, the
//! real control socket and `outpostctl`.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use outpost_console::certs::{generate_self_signed, SelfSignedNames};
use outpost_tests::{binary, client, eventually, presented_fingerprint, Console};
use serde_json::{json, Value};

const PASSWORD: &str = "integration password";

async fn set_up_and_log_in(console: &Console, http: &reqwest::Client) -> Result<String> {
    let token = console
        .setup_token()
        .expect("a fresh console prints a setup link");
    let answer = http
        .post(console.at("/api/v1/setup"))
        .json(&json!({"token": token, "password": PASSWORD}))
        .send()
        .await?;
    assert_eq!(answer.status(), 200, "{}", answer.text().await?);
    log_in(console, http).await
}

async fn log_in(console: &Console, http: &reqwest::Client) -> Result<String> {
    let answer = http
        .post(console.at("/api/v1/login"))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await?;
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await?;
    Ok(body["csrf_token"].as_str().expect("csrf token").to_owned())
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value> {
    let answer = http.get(url).send().await?;
    assert_eq!(answer.status(), 200, "GET {url}");
    Ok(answer.json().await?)
}

#[tokio::test]
async fn health_answers_json_over_real_tls() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let console = Console::start(&dir.path().join("data"))?;
    let answer = client().get(console.at("/api/v1/health")).send().await?;
    assert_eq!(answer.status(), 200);
    assert!(answer.headers()["content-type"]
        .to_str()?
        .starts_with("application/json"));
    let body: Value = answer.json().await?;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], outpost_console::VERSION);

    // A plain-HTTP client gets no answer from the HTTPS port.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/api/v1/health", console.address))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err(), "HTTPS only");
    Ok(())
}

#[tokio::test]
async fn a_restart_keeps_the_certificate_the_password_and_the_audit_log() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut console = Console::start(&data)?;
    let fingerprint = presented_fingerprint(console.address).await?;
    let http = client();
    set_up_and_log_in(&console, &http).await?;
    let status = get_json(&http, &console.at("/api/v1/status")).await?;
    assert_eq!(status["tls"]["fingerprint_sha256"], fingerprint.as_str());
    console.stop()?;

    let console = Console::start(&data)?;
    assert!(
        console.setup_link.is_none(),
        "no new setup link once an admin exists"
    );
    assert_eq!(presented_fingerprint(console.address).await?, fingerprint);
    let http = client();
    log_in(&console, &http).await?;
    let audit = get_json(&http, &console.at("/api/v1/audit")).await?;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for expected in [
        "tls.generated",
        "setup.link_issued",
        "setup.completed",
        "login.succeeded",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    assert_eq!(
        actions.iter().filter(|a| **a == "login.succeeded").count(),
        2,
        "both logins, before and after the restart"
    );
    Ok(())
}

#[tokio::test]
async fn an_uploaded_certificate_is_served_at_once_and_a_bad_one_changes_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut console = Console::start(&data)?;
    let http = client();
    let csrf = set_up_and_log_in(&console, &http).await?;
    let original = presented_fingerprint(console.address).await?;

    let bad = http
        .put(console.at("/api/v1/tls"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"certificate_pem": "garbage", "private_key_pem": "garbage"}))
        .send()
        .await?;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await?;
    assert_eq!(body["error"]["code"], "invalid_certificate");
    assert_eq!(presented_fingerprint(console.address).await?, original);

    let names = SelfSignedNames {
        dns: vec!["uploaded.outpost.test".into()],
        ips: vec!["127.0.0.1".parse()?],
    };
    let (cert, key) = generate_self_signed(&names, outpost_console::clock::unix_now())?;
    let good = http
        .put(console.at("/api/v1/tls"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"certificate_pem": cert, "private_key_pem": key}))
        .send()
        .await?;
    assert_eq!(good.status(), 200);
    let info: Value = good.json().await?;
    let new = info["fingerprint_sha256"].as_str().unwrap().to_owned();
    assert_ne!(new, original);
    let seen = eventually(
        "the new certificate on a new connection",
        Duration::from_secs(5),
        || {
            let address = console.address;
            let new = new.clone();
            async move { (presented_fingerprint(address).await.ok()? == new).then_some(()) }
        },
    )
    .await;
    seen?;

    console.stop()?;
    let console = Console::start(&data)?;
    assert_eq!(
        presented_fingerprint(console.address).await?,
        new,
        "kept across a restart"
    );
    Ok(())
}

#[tokio::test]
async fn outpostctl_reports_status_and_issues_a_fresh_setup_link() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let console = Console::start(&data)?;
    let http = client();
    set_up_and_log_in(&console, &http).await?;

    let socket = data.join("console.sock");
    let mode = std::fs::metadata(&socket)?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the control socket is owner-only");

    let ctl = |args: &[&str]| {
        Command::new(binary("outpostctl"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
    };
    let status = ctl(&["status", "--json"])?;
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let status: Value = serde_json::from_slice(&status.stdout)?;
    assert_eq!(status["result"], "status");
    assert_eq!(status["admin_configured"], true);
    assert_eq!(
        status["tls_fingerprint_sha256"],
        presented_fingerprint(console.address).await?.as_str()
    );

    let reset = ctl(&["reset-password"])?;
    assert!(reset.status.success());
    let text = String::from_utf8(reset.stdout)?;
    let link = text
        .lines()
        .find_map(|l| l.strip_prefix("Setup link: "))
        .expect("a setup link");
    assert!(link.starts_with(&console.url));
    let token = link.split("token=").nth(1).unwrap();

    let answer = http
        .post(console.at("/api/v1/setup"))
        .json(&json!({"token": token, "password": "a brand new password"}))
        .send()
        .await?;
    assert_eq!(answer.status(), 200);
    let session = http.get(console.at("/api/v1/session")).send().await?;
    assert_eq!(session.status(), 401, "a password reset ends every session");
    let old = http
        .post(console.at("/api/v1/login"))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await?;
    assert_eq!(old.status(), 401);

    let missing = Command::new(binary("outpostctl"))
        .args(["--data-dir", "/nonexistent/outpost", "status"])
        .output()?;
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no console is running"));
    Ok(())
}

#[tokio::test]
async fn bad_configuration_is_reported_in_one_pass_before_binding() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("console.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nflavour = \"vanilla\"\n")?;
    let output = Command::new(binary("outpost-console"))
        .args(["serve", "--log-format", "yaml", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("OUTPOST_SESSION_MAX_AGE", "soon")
        .output()?;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr)?;
    for expected in [
        "--log-format",
        "flavour",
        "OUTPOST_SESSION_MAX_AGE",
        "3 problem(s)",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing from:\n{stderr}"
        );
    }
    assert!(!dir.path().join("data").exists(), "nothing was created");
    Ok(())
}

#[tokio::test]
async fn two_consoles_cannot_share_a_data_dir() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let _first = Console::start(&data)?;
    let output = Command::new(binary("outpost-console"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--cluster-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data)
        .output()?;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already uses the data dir"));
    Ok(())
}

#[tokio::test]
async fn json_logs_are_json_and_carry_no_secret() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut console = Console::start_with(&dir.path().join("data"), &["--log-format", "json"])?;
    let token = console.setup_token().expect("fresh console");
    let http = client();
    set_up_and_log_in(&console, &http).await?;
    let wrong = http
        .post(console.at("/api/v1/login"))
        .json(&json!({"password": "a wrong password guess"}))
        .send()
        .await?;
    assert_eq!(wrong.status(), 401);
    console.stop()?;

    let log = console.stderr();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "the console logged: {log}");
    for line in &lines {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            entry["level"].is_string() && entry["timestamp"].is_string(),
            "{line}"
        );
    }
    assert!(log.contains("login.failed"), "security events are logged");
    for secret in [token.as_str(), PASSWORD, "a wrong password guess"] {
        assert!(!log.contains(secret), "the log contains a secret: {secret}");
    }
    Ok(())
}
