//! Loading a license into a real console through `outpostctl` and the API: the key is
//! pinned only after confirmation, and refused licenses change nothing.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use anyhow::Result;
use outpost_airgap::license::{License, RegistryCredentials};
use outpost_airgap::{seal, SigningKey};
use outpost_tests::{binary, client, Console};
use serde_json::{json, Value};

fn license_file(
    dir: &std::path::Path,
    name: &str,
    key: &SigningKey,
    days: i64,
) -> Result<std::path::PathBuf> {
    let now = time::OffsetDateTime::now_utc();
    let license = License {
        schema: 1,
        license_id: format!("lic-{name}"),
        customer: "Sample Customer".into(),
        app_id: "sample-app".into(),
        channel: "stable".into(),
        issued_at: now - time::Duration::days(30),
        expires_at: now + time::Duration::days(days),
        entitlements: BTreeMap::from([("tier".to_owned(), "gold".to_owned())]),
        airgap: true,
        max_nodes: Some(3),
        api_host: Some("https://127.0.0.1:8801".into()),
        registry: Some(RegistryCredentials {
            host: Some("registry.example.com".into()),
            username: "pull".into(),
            password: "s3cret-pull-password".into(),
        }),
        vendor_key: key.public().to_base64(),
        revoked: None,
    };
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, seal(&license, key).to_bytes())?;
    Ok(path)
}

fn ctl(console: &Console, args: &[&str]) -> Result<Output> {
    Ok(Command::new(binary("outpostctl"))
        .arg("--data-dir")
        .arg(&console.data_dir)
        .args(args)
        .output()?)
}

#[tokio::test]
async fn outpostctl_pins_the_key_only_when_told_and_refuses_other_keys() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let console = Console::start(&dir.path().join("data"))?;
    let key = SigningKey::generate();
    let good = license_file(dir.path(), "good", &key, 365)?;
    let good = good.to_str().unwrap();

    let first = ctl(&console, &["license", "load", good])?;
    assert_eq!(first.status.code(), Some(3), "confirmation needed");
    let stderr = String::from_utf8(first.stderr)?;
    assert!(stderr.contains(&key.public().keyid()), "{stderr}");
    let shown = ctl(&console, &["license", "show"])?;
    assert!(String::from_utf8(shown.stdout)?.contains("No license is loaded"));

    let wrong = ctl(
        &console,
        &["license", "load", good, "--trust-key", &"ab".repeat(32)],
    )?;
    assert!(!wrong.status.success());
    assert!(String::from_utf8(wrong.stderr)?.contains("is not this license's key"));

    let loaded = ctl(
        &console,
        &[
            "license",
            "load",
            good,
            "--trust-key",
            &key.public().keyid(),
        ],
    )?;
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let text = String::from_utf8(loaded.stdout)?;
    assert!(
        text.contains("Sample Customer") && text.contains("tier = gold"),
        "{text}"
    );
    assert!(!text.contains("s3cret-pull-password"));

    let other = SigningKey::generate();
    let foreign = license_file(dir.path(), "foreign", &other, 365)?;
    let refused = ctl(
        &console,
        &[
            "license",
            "load",
            foreign.to_str().unwrap(),
            "--trust-key",
            &other.public().keyid(),
        ],
    )?;
    assert!(!refused.status.success());
    assert!(String::from_utf8(refused.stderr)?.contains("not by the pinned vendor key"));

    let expired = license_file(dir.path(), "expired", &key, -1)?;
    let refused = ctl(&console, &["license", "load", expired.to_str().unwrap()])?;
    assert!(String::from_utf8(refused.stderr)?.contains("expired"));

    let shown = ctl(&console, &["license", "show", "--json"])?;
    let shown: Value = serde_json::from_slice(&shown.stdout)?;
    assert_eq!(
        shown["license"]["license_id"], "lic-good",
        "refusals changed nothing"
    );
    assert_eq!(
        shown["license"]["vendor_key_fingerprint"],
        key.public().keyid()
    );

    // The same console answers the API with the same license, without the password.
    let http = client();
    let token = console.setup_token().expect("fresh console");
    http.post(console.at("/api/v1/setup"))
        .json(&json!({"token": token, "password": "integration password"}))
        .send()
        .await?;
    http.post(console.at("/api/v1/login"))
        .json(&json!({"password": "integration password"}))
        .send()
        .await?;
    let answer: Value = http
        .get(console.at("/api/v1/license"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(answer["license"]["customer"], "Sample Customer");
    assert!(!answer.to_string().contains("s3cret-pull-password"));
    Ok(())
}

fn release_file(
    dir: &std::path::Path,
    key: &SigningKey,
    sequence: u64,
    version: &str,
) -> Result<std::path::PathBuf> {
    use outpost_airgap::release::{ImagePin, Release};
    let app = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/sample-app")
        .join(version);
    let files = ["compose.yaml", "outpost.yaml"]
        .iter()
        .map(|name| Ok(((*name).to_owned(), std::fs::read_to_string(app.join(name))?)))
        .collect::<Result<BTreeMap<_, _>>>()?;
    let release = Release {
        schema: 1,
        app_id: "sample-app".into(),
        channel: "stable".into(),
        sequence,
        version: version.into(),
        notes: String::new(),
        required: false,
        created_at: time::OffsetDateTime::now_utc(),
        files,
        images: vec![ImagePin {
            reference: format!("docker.io/outpost-samples/web:{version}"),
            digest: format!("sha256:{}", "b".repeat(64)),
            platform: "linux/amd64".into(),
        }],
    };
    let path = dir.join(format!("release-{sequence}.json"));
    std::fs::write(&path, seal(&release, key).to_bytes())?;
    Ok(path)
}

#[tokio::test]
async fn releases_load_only_after_the_license_pinned_the_key() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let console = Console::start(&dir.path().join("data"))?;
    let key = SigningKey::generate();
    let first = release_file(dir.path(), &key, 1, "1.0.0")?;
    let first = first.to_str().unwrap();

    let early = ctl(&console, &["release", "load", first])?;
    assert!(!early.status.success());
    assert!(String::from_utf8(early.stderr)?.contains("license first"));

    let license = license_file(dir.path(), "lic", &key, 365)?;
    let loaded = ctl(
        &console,
        &[
            "license",
            "load",
            license.to_str().unwrap(),
            "--trust-key",
            &key.public().keyid(),
        ],
    )?;
    assert!(loaded.status.success());

    let loaded = ctl(&console, &["release", "load", first])?;
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert!(String::from_utf8(loaded.stdout)?.contains("1.0.0 (sequence 1) loaded"));
    let second = release_file(dir.path(), &key, 2, "1.1.0")?;
    assert!(
        ctl(&console, &["release", "load", second.to_str().unwrap()])?
            .status
            .success()
    );

    let foreign = release_file(dir.path(), &SigningKey::generate(), 3, "1.2.0")?;
    let refused = ctl(&console, &["release", "load", foreign.to_str().unwrap()])?;
    assert!(!refused.status.success());
    assert!(String::from_utf8(refused.stderr)?.contains("not signed by the pinned vendor key"));

    let listed = ctl(&console, &["release", "--json"])?;
    let listed: Value = serde_json::from_slice(&listed.stdout)?;
    let versions: Vec<&str> = listed["releases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["version"].as_str())
        .collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"]);

    // The config screen of the newest release, through the API.
    let admin = outpost_tests::Admin::set_up(&console, "integration password").await?;
    let (status, screen) = admin.get("/api/v1/app/config").await?;
    assert_eq!(status, 200, "{screen}");
    assert_eq!(screen["version"], "1.1.0");
    let items: Vec<Value> = screen["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["items"].as_array().unwrap().clone())
        .collect();
    let secret = items
        .iter()
        .find(|i| i["secret"] == true)
        .and_then(|i| i["name"].as_str())
        .expect("the sample app has a secret item")
        .to_owned();
    let (status, refused) = admin
        .send(
            reqwest::Method::PUT,
            "/api/v1/app/config",
            json!({"values": {"workers": "lots", &secret: "a-very-secret-value"}}),
        )
        .await?;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["code"], "config_invalid");
    assert!(refused.to_string().contains("workers"));
    let (status, saved) = admin
        .send(
            reqwest::Method::PUT,
            "/api/v1/app/config",
            json!({"values": {"workers": "3", &secret: "a-very-secret-value"}}),
        )
        .await?;
    assert_eq!(status, 200, "{saved}");
    let (_, screen) = admin.get("/api/v1/app/config?sequence=1").await?;
    for answer in [&saved, &screen, &refused] {
        assert!(
            !answer.to_string().contains("a-very-secret-value"),
            "secrets never in an answer"
        );
    }
    assert!(screen.to_string().contains("\"is_set\":true"));
    Ok(())
}
