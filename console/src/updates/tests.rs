//! Update checks against the reference api host (`outpost_airgap::serve`) over TLS with a
//! test CA, in process, over an in-memory store: new releases found, advisories for the
//! installed release (once, the fix marked), license sync and revocation, refused indexes
//! that change nothing, backoff when the api host is down, airgap mode, and the settings.

use std::sync::Arc;

use outpost_airgap::channel::{Advisory, ChannelIndex, Severity};
use outpost_airgap::serve::{ServeConfig, Server};
use outpost_airgap::vendor::VendorDir;
use outpost_airgap::SigningKey;

use super::*;
use crate::deploy::execute::Limits;
use crate::deploy::nodes::fake::FakeNodes;
use crate::deploy::{DeployError, Registries};
use crate::store::NewDeployment;
use crate::testing::{self, NOW};
use crate::upstream::tests::{licensed, log, publish, test_ca};
use crate::upstream::{Recorder, RecorderConfig, DEFAULT_OUTBOUND_LOG_DAYS};

const LICENSE_ID: &str = "lic-updates-secret-id";
const APP: &str = "sample-app";

/// An api host serving release 1 of the sample app, and a console licensed for it.
struct World {
    dir: tempfile::TempDir,
    key: SigningKey,
    vendor: VendorDir,
    store: Arc<Store>,
    licenses: Arc<Licenses>,
    releases: Arc<Releases>,
    deployer: Arc<Deployer>,
    updates: Updates,
}

impl World {
    async fn new() -> World {
        World::build(true).await
    }

    /// `serving`: whether an api host answers at the license's api host address.
    async fn build(serving: bool) -> World {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate();
        let vendor = VendorDir::new(dir.path().join("vendor"));
        publish(&vendor, &dir, &key, 1, "1.0.0", testing::now());
        let (ca, tls) = test_ca(&dir);
        let url = if serving {
            let server = Server::bind(&ServeConfig {
                root: vendor.root().to_owned(),
                listen: "127.0.0.1:0".parse().unwrap(),
                tls: Some(tls),
            })
            .await
            .unwrap();
            let url = server.url();
            tokio::spawn(server.run(std::future::pending()));
            url
        } else {
            // Nothing listens there: bound, then closed.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            format!("https://127.0.0.1:{port}")
        };
        let (store, licenses, releases) = licensed(&key, &vendor, Some(&url), LICENSE_ID);
        let recorder = Recorder::new(
            store.clone(),
            &RecorderConfig {
                extra_ca: Some(ca),
                retention_days: DEFAULT_OUTBOUND_LOG_DAYS,
                environment_proxy: None,
            },
        )
        .unwrap();
        let upstream = Arc::new(
            Upstream::new(
                store.clone(),
                licenses.clone(),
                releases.clone(),
                recorder,
                crate::clock::unix_now(),
            )
            .unwrap(),
        );
        let deployer = Arc::new(Deployer::new(
            store.clone(),
            licenses.clone(),
            releases.clone(),
            Arc::new(Registries::new(store.clone(), licenses.clone())),
            Arc::new(FakeNodes::new(&[])),
            Limits::default(),
            "console.test".into(),
        ));
        let updates = Updates::new(
            store.clone(),
            licenses.clone(),
            releases.clone(),
            upstream,
            deployer.clone(),
            NOW,
        )
        .unwrap();
        World {
            dir,
            key,
            vendor,
            store,
            licenses,
            releases,
            deployer,
            updates,
        }
    }

    async fn check(&self) -> CheckDone {
        self.updates
            .check(Trigger::Admin, &Actor::System, &Source::Local, NOW)
            .await
            .unwrap()
    }

    fn status(&self) -> UpdateStatus {
        self.updates.status(NOW).unwrap()
    }

    fn loaded(&self) -> Vec<u64> {
        let mut loaded: Vec<u64> = self
            .releases
            .list()
            .unwrap()
            .iter()
            .map(|r| r.release.sequence)
            .collect();
        loaded.sort_unstable();
        loaded
    }

    /// Records release `sequence` as installed (a deployment that succeeded).
    fn install(&self, sequence: u64) {
        let version = format!("1.{}.0", sequence - 1);
        let id = self
            .store
            .insert_deployment(&NewDeployment {
                app_id: APP,
                kind: "deploy",
                sequence,
                version: &version,
                previous_sequence: None,
                config_hash: "hash",
                config_json: "{}",
                actor: "admin",
                started_at: NOW,
                preflight_overridden: false,
                rollback_of: None,
            })
            .unwrap()
            .unwrap();
        self.store
            .finish_deployment(id, "succeeded", None, NOW + sequence as i64)
            .unwrap();
        assert_eq!(self.deployer.installed_sequence(), Some(sequence));
    }

    fn advise(&self, id: &str, affected: Vec<u64>, fixed_in: Option<u64>) {
        self.vendor
            .advise(
                APP,
                "stable",
                Advisory {
                    id: id.into(),
                    severity: Severity::High,
                    title: format!("{id}: a flaw in the web service"),
                    text: "Update to the fixed release.".into(),
                    affected,
                    fixed_in,
                    published_at: testing::now(),
                },
                &self.key,
                testing::now(),
                time::Duration::days(14),
            )
            .unwrap();
    }

    fn audit(&self, action: &str) -> Vec<String> {
        self.store
            .audit_page(None, 500)
            .unwrap()
            .into_iter()
            .filter(|r| r.action == action)
            .map(|r| r.detail)
            .collect()
    }

    fn index_path(&self) -> std::path::PathBuf {
        self.vendor.index_path(APP, "stable").unwrap()
    }
}

#[tokio::test]
async fn a_check_finds_new_releases_and_the_state_follows() {
    let world = World::new().await;
    assert_eq!(world.status().state, State::NeverChecked);
    // The first scheduled check is a fixed time after the start, which the scheduler
    // reaches however late it looks.
    let first = world.status().next_check_at.unwrap();
    assert!(first > NOW && first <= NOW + 3600, "{first}");
    assert_eq!(
        world.updates.status(NOW + 7200).unwrap().next_check_at,
        Some(first)
    );
    assert_eq!(
        world.updates.scheduled().unwrap(),
        Some((first, Trigger::Schedule))
    );

    let done = world.check().await;
    assert!(done.ok, "{}", done.summary);
    assert_eq!(world.loaded(), [1]);
    let status = world.status();
    assert_eq!(status.state, State::UpdateAvailable, "{}", status.message);
    assert!(
        status.message.contains("ready to deploy"),
        "{}",
        status.message
    );

    world.install(1);
    assert_eq!(world.status().state, State::UpToDate);

    // The vendor publishes 1.1.0: the next check finds it.
    publish(
        &world.vendor,
        &world.dir,
        &world.key,
        2,
        "1.1.0",
        testing::now(),
    );
    let done = world.check().await;
    assert!(done.summary.contains("fetched 2"), "{}", done.summary);
    let status = world.status();
    assert_eq!(status.state, State::UpdateAvailable);
    assert_eq!(
        status
            .available
            .iter()
            .map(|r| r.version.as_str())
            .collect::<Vec<_>>(),
        ["1.1.0"]
    );
    assert!(status.message.contains("1.1.0"), "{}", status.message);
    assert_eq!(status.checks.len(), 2);
    assert_eq!(status.failures, 0);
    let found = world.audit("updates.available");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("1.1.0 (sequence 2)"), "{found:?}");
}

#[tokio::test]
async fn every_request_of_a_check_carries_exactly_the_documented_fields_and_no_secret() {
    let world = World::new().await;
    world.install(1);
    world.check().await;
    let entries = log(&world.store);
    let purposes: Vec<&str> = entries.iter().map(|e| e.purpose.as_str()).collect();
    assert_eq!(
        purposes,
        ["license sync", "channel index (stable)", "release 1"]
    );
    for entry in &entries {
        let headers: serde_json::Value = serde_json::from_str(&entry.request_headers).unwrap();
        let mut names: Vec<&str> = headers
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "Accept",
                "Authorization",
                "X-Outpost-App-Sequence",
                "X-Outpost-Console-Version",
                "X-Outpost-Instance",
                "X-Outpost-Node-Count"
            ]
        );
        assert_eq!(headers["X-Outpost-App-Sequence"], "1");
        assert_eq!(entry.request_fields, "{}");
        assert_eq!(entry.status, Some(200), "{entry:?}");
        assert_eq!(entry.via_proxy, None);
        let shown = format!("{entry:?}");
        assert!(!shown.contains(LICENSE_ID), "{shown}");
    }
}

#[tokio::test]
async fn advisories_for_the_installed_release_show_once_with_the_fix_marked() {
    let world = World::new().await;
    world.install(1);
    publish(
        &world.vendor,
        &world.dir,
        &world.key,
        2,
        "1.1.0",
        testing::now(),
    );
    world.advise("OSA-2026-0001", vec![1], Some(2));
    // About another release: shows nothing here.
    world.advise("OSA-2026-0002", vec![7], None);

    let done = world.check().await;
    assert!(
        done.summary.contains("1 new advisory affects"),
        "{}",
        done.summary
    );
    let status = world.status();
    let ids: Vec<&str> = status
        .advisories
        .iter()
        .map(|a| a.advisory.id.as_str())
        .collect();
    assert_eq!(ids, ["OSA-2026-0001"]);
    let advisory = &status.advisories[0];
    assert_eq!(advisory.fixed_in_version.as_deref(), Some("1.1.0"));
    assert!(advisory.fix_available);
    assert_eq!(status.available[0].fixes, ["OSA-2026-0001"]);
    assert!(
        status.message.contains("A security advisory affects"),
        "{}",
        status.message
    );
    let announced = world.audit("advisory.published");
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert!(
        announced[0].contains("OSA-2026-0001")
            && announced[0].contains("high")
            && announced[0].contains("fixed in 1.1.0 (sequence 2)"),
        "{announced:?}"
    );

    // Checking again announces nothing new; installing the fix clears it.
    world.check().await;
    assert_eq!(world.audit("advisory.published").len(), 1);
    world.install(2);
    let status = world.status();
    assert!(status.advisories.is_empty());
    assert_eq!(status.state, State::UpToDate);
}

#[tokio::test]
async fn a_revoked_license_is_synced_and_blocks_updates_not_the_app() {
    let world = World::new().await;
    world.install(1);
    world.check().await;

    // A renewal with new terms is taken over by the next sync.
    let mut renewed = testing::license(&world.key, APP, 730);
    renewed.license_id = LICENSE_ID.into();
    renewed.api_host = world.licenses.current().unwrap().unwrap().license.api_host;
    renewed.issued_at = testing::now() + time::Duration::hours(1);
    renewed.max_nodes = Some(5);
    world
        .vendor
        .store_license(LICENSE_ID, testing::signed(&renewed, &world.key).as_bytes())
        .unwrap();
    let done = world.check().await;
    assert!(done.summary.contains("license updated"), "{}", done.summary);
    assert!(
        done.summary.contains("max nodes 3 -> 5"),
        "{}",
        done.summary
    );
    assert_eq!(
        world.licenses.current().unwrap().unwrap().license.max_nodes,
        Some(5)
    );

    world
        .vendor
        .revoke(
            LICENSE_ID,
            "contract ended",
            &world.key,
            testing::now() + time::Duration::hours(2),
        )
        .unwrap();
    let before = log(&world.store).len();
    let done = world.check().await;
    assert!(done.ok, "{}", done.summary);
    let status = world.status();
    assert_eq!(status.state, State::LicenseRevoked);
    assert!(
        status.message.contains("contract ended"),
        "{}",
        status.message
    );
    // Only the license was asked for: a revoked license fetches no index.
    let new: Vec<String> = log(&world.store)[before..]
        .iter()
        .map(|e| e.purpose.clone())
        .collect();
    assert_eq!(new, ["license sync"]);
    let revoked = world.audit("license.revoked");
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    // Deploys are refused; the installed release stays installed.
    let error = world
        .deployer
        .deploy(1, false, &Actor::System, &Source::Local)
        .await
        .unwrap_err();
    assert!(matches!(error, DeployError::LicenseRevoked(_)), "{error}");
    assert_eq!(world.deployer.installed_sequence(), Some(1));
}

#[tokio::test]
async fn an_older_or_foreign_license_from_the_api_host_is_refused() {
    let world = World::new().await;
    let current = world.licenses.current().unwrap().unwrap().license;
    let mut older = current.clone();
    older.issued_at = current.issued_at - time::Duration::days(1);
    older.max_nodes = Some(1);
    world
        .vendor
        .store_license(LICENSE_ID, testing::signed(&older, &world.key).as_bytes())
        .unwrap();
    let done = world.check().await;
    assert!(!done.ok);
    assert!(done.summary.contains("rollback"), "{}", done.summary);
    assert_eq!(
        world.status().checks[0].problem.as_deref(),
        Some("license_refused")
    );
    assert_eq!(
        world.licenses.current().unwrap().unwrap().license.max_nodes,
        Some(3),
        "the older license changed nothing"
    );

    let other = SigningKey::generate();
    let mut forged = current;
    forged.vendor_key = other.public().to_base64();
    world
        .vendor
        .store_license(LICENSE_ID, testing::signed(&forged, &other).as_bytes())
        .unwrap();
    let done = world.check().await;
    assert!(!done.ok);
    assert!(
        done.summary.contains("not by the pinned vendor key"),
        "{}",
        done.summary
    );
    assert_eq!(world.audit("license.sync_refused").len(), 2);
}

#[tokio::test]
async fn tampered_expired_and_rolled_back_indexes_are_refused_and_change_nothing() {
    let world = World::new().await;
    world.install(1);
    publish(
        &world.vendor,
        &world.dir,
        &world.key,
        2,
        "1.1.0",
        testing::now(),
    );
    assert!(world.check().await.ok);
    let index_v2 = std::fs::read(world.index_path()).unwrap();
    publish(
        &world.vendor,
        &world.dir,
        &world.key,
        3,
        "1.2.0",
        testing::now(),
    );
    assert!(world.check().await.ok);
    let held = world.status().index.unwrap();
    assert_eq!(held.version, 3);
    let good = std::fs::read(world.index_path()).unwrap();

    // Tampered: one byte of the signed payload changed.
    let mut tampered = good.clone();
    let at = tampered
        .windows(9)
        .position(|w| w == b"\"payload\"")
        .unwrap()
        + 20;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(world.index_path(), &tampered).unwrap();
    let done = world.check().await;
    assert!(!done.ok);
    let status = world.status();
    assert_eq!(status.state, State::CheckFailed, "{}", status.message);
    assert_eq!(status.checks[0].problem.as_deref(), Some("index_invalid"));
    assert!(status.message.contains("refused"), "{}", status.message);

    // Rolled back: the older, validly signed version 2.
    std::fs::write(world.index_path(), &index_v2).unwrap();
    let done = world.check().await;
    assert!(!done.ok);
    assert!(
        done.summary.contains("rollback refused"),
        "{}",
        done.summary
    );
    assert_eq!(
        world.status().checks[0].problem.as_deref(),
        Some("rollback")
    );

    // Expired: a newer, signed index whose validity has passed.
    let mut expired: ChannelIndex = serde_json::from_str(
        &world
            .store
            .channel_index(APP, "stable")
            .unwrap()
            .unwrap()
            .payload,
    )
    .unwrap();
    expired.version = 9;
    expired.expires_at = testing::now() - time::Duration::hours(1);
    std::fs::write(
        world.index_path(),
        outpost_airgap::seal(&expired, &world.key).to_bytes(),
    )
    .unwrap();
    let done = world.check().await;
    assert!(!done.ok);
    let status = world.status();
    assert_eq!(status.state, State::MetadataStale, "{}", status.message);
    assert!(status.message.contains("stale"), "{}", status.message);

    // Through all of it: the index held and the releases loaded did not change.
    assert_eq!(status.index.unwrap().version, 3);
    assert_eq!(world.loaded(), [1, 2, 3]);
    assert_eq!(status.failures, 3);

    // A good index again: the state recovers.
    std::fs::write(world.index_path(), &good).unwrap();
    assert!(world.check().await.ok);
    let status = world.status();
    assert_eq!(status.state, State::UpdateAvailable);
    // Oldest first; the message names the newest.
    assert_eq!(
        status
            .available
            .iter()
            .map(|r| r.sequence)
            .collect::<Vec<_>>(),
        [2, 3]
    );
    assert!(status.message.contains("1.2.0"), "{}", status.message);
}

#[tokio::test]
async fn a_down_api_host_fails_the_check_with_backoff() {
    let world = World::build(false).await;
    world.install(1);
    let done = world.check().await;
    assert!(!done.ok);
    assert!(done.summary.contains("unreachable"), "{}", done.summary);
    let status = world.status();
    assert_eq!(status.state, State::CheckFailed);
    assert_eq!(status.failures, 1);
    assert_eq!(status.next_check_at, Some(NOW + 60));
    assert!(status.message.contains("Retrying at"), "{}", status.message);
    assert!(
        status.message.contains("the app is not affected"),
        "{}",
        status.message
    );

    world.check().await;
    let status = world.status();
    assert_eq!(status.failures, 2);
    assert_eq!(status.next_check_at, Some(NOW + 120));
    // The schedule's retries are audited once, an admin's checks each time.
    assert_eq!(world.audit("updates.check_failed").len(), 2);
    assert_eq!(world.deployer.installed_sequence(), Some(1));
}

#[tokio::test]
async fn in_airgap_mode_a_check_sends_nothing() {
    let world = World::new().await;
    world
        .updates
        .change_settings(
            &SettingsChange {
                airgap_mode: Some(true),
                ..SettingsChange::default()
            },
            &Actor::System,
            &Source::Local,
            NOW,
        )
        .unwrap();
    let error = world
        .updates
        .check(Trigger::Admin, &Actor::System, &Source::Local, NOW)
        .await
        .unwrap_err();
    assert!(matches!(error, UpdatesError::Airgap(_)), "{error}");
    assert!(log(&world.store).is_empty());
    let status = world.status();
    assert_eq!(status.state, State::Airgap);
    assert_eq!(status.next_check_at, None);
    assert_eq!(world.updates.scheduled().unwrap(), None);
    assert!(status.checks.is_empty());
}

#[tokio::test]
async fn settings_are_checked_whole_and_the_proxy_password_never_shows() {
    let world = World::new().await;
    let bad = world
        .updates
        .change_settings(
            &SettingsChange {
                update_schedule: Some("every 1w".into()),
                https_proxy: Some("socks5://user:hunter2@proxy:1080".into()),
                airgap_mode: Some(true),
                ..SettingsChange::default()
            },
            &Actor::System,
            &Source::Local,
            NOW,
        )
        .unwrap_err();
    let message = bad.to_string();
    assert!(
        message.contains("update_schedule") && message.contains("https_proxy"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    // Nothing changed, not even the valid part.
    assert!(!world.updates.settings().unwrap().airgap_mode);

    let settings = world
        .updates
        .change_settings(
            &SettingsChange {
                update_schedule: Some("cron 0 3 * * *".into()),
                https_proxy: Some("http://user:hunter2@proxy.corp:3128".into()),
                no_proxy: Some("internal.corp".into()),
                ..SettingsChange::default()
            },
            &Actor::System,
            &Source::Local,
            NOW,
        )
        .unwrap();
    assert_eq!(settings.schedule.to_string(), "cron 0 3 * * *");
    let shown = settings.proxy.as_ref().unwrap().shown();
    assert!(!shown.contains("hunter2"), "{shown}");
    // The masked URL sent back unchanged keeps the stored password.
    world
        .updates
        .change_settings(
            &SettingsChange {
                https_proxy: Some(shown.clone()),
                no_proxy: Some("internal.corp,10.0.0.0/8".into()),
                ..SettingsChange::default()
            },
            &Actor::System,
            &Source::Local,
            NOW,
        )
        .unwrap();
    let stored = world.updates.settings().unwrap().proxy.unwrap();
    assert_eq!(stored.url.password(), Some("hunter2"));
    let audited = world.audit("settings.outbound_changed").join("\n");
    assert!(audited.contains("proxy.corp"), "{audited}");
    assert!(!audited.contains("hunter2"), "{audited}");

    // The schedule drives the next check: a daily cron time, or none when off.
    let status = world.status();
    let next = status.next_check_at.unwrap();
    assert_eq!((next - status.schedule_offset as i64) % 86_400, 3 * 3600);
    world
        .updates
        .change_settings(
            &SettingsChange {
                update_schedule: Some("off".into()),
                ..SettingsChange::default()
            },
            &Actor::System,
            &Source::Local,
            NOW,
        )
        .unwrap();
    assert_eq!(world.status().next_check_at, None);
}

#[tokio::test]
async fn a_check_follows_the_vendors_key_rotation_and_nothing_else() {
    let world = World::new().await;
    world.install(1);
    assert!(world.check().await.ok);
    let old_id = world.key.public().keyid();

    // The vendor moves to a new key: everything new is signed by it.
    let new = SigningKey::generate();
    let mut license = world.licenses.current().unwrap().unwrap().license;
    license.vendor_key = new.public().to_base64();
    license.issued_at += time::Duration::hours(1);
    world
        .vendor
        .store_license(LICENSE_ID, testing::signed(&license, &new).as_bytes())
        .unwrap();
    let release = testing::signed(&testing::release(2, "1.1.0"), &new);
    let path = world.dir.path().join("release-2-new-key.json");
    std::fs::write(&path, &release).unwrap();
    world
        .vendor
        .publish(
            &path,
            release.as_bytes(),
            &new,
            testing::now(),
            time::Duration::days(14),
        )
        .expect_err("the index is still the old key's: publishing needs the rotation first");

    // Without a published rotation the new documents are refused and nothing changes.
    let done = world.check().await;
    assert!(!done.ok);
    assert!(
        done.summary.contains("not by the pinned vendor key"),
        "{}",
        done.summary
    );
    assert_eq!(world.store.vendor_key().unwrap().unwrap().keyid, old_id);

    // Published, signed by the old key: the next check takes the new key over.
    let rotation = testing::signed(
        &outpost_airgap::rotation::KeyRotation {
            schema: 1,
            old_keyid: old_id.clone(),
            new_key: new.public().to_base64(),
            issued_at: testing::now(),
        },
        &world.key,
    );
    world.vendor.store_rotation(rotation.as_bytes()).unwrap();
    world.vendor.store_public_key(&world.key.public()).unwrap();
    publish(&world.vendor, &world.dir, &new, 2, "1.1.0", testing::now());
    let done = world.check().await;
    assert!(done.ok, "{}", done.summary);
    assert!(
        done.summary.contains(&format!(
            "vendor key rotated from {old_id} to {}",
            new.public().keyid()
        )),
        "{}",
        done.summary
    );
    assert_eq!(
        world.store.vendor_key().unwrap().unwrap().keyid,
        new.public().keyid()
    );
    // Release 1 (the old key's) still reads back; release 2 (the new key's) is loaded.
    assert_eq!(world.loaded(), [1, 2]);
    assert_eq!(world.audit("license.key_rotated").len(), 1);
    let purposes: Vec<String> = log(&world.store)
        .iter()
        .map(|e| e.purpose.clone())
        .collect();
    assert!(
        purposes.contains(&"key rotation".to_owned()),
        "{purposes:?}"
    );
}
