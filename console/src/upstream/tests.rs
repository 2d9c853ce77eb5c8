//! The api host client against the reference api host (`outpost_airgap::serve`) over TLS
//! with a test CA, in process, over an in-memory store.

use std::path::PathBuf;
use std::sync::Arc;

use outpost_airgap::serve::{ServeConfig, Server, TlsFiles};
use outpost_airgap::vendor::VendorDir;
use outpost_airgap::{Envelope, SigningKey};
use serde_json::Value;

use super::*;
use crate::license::Licenses;
use crate::releases::Releases;
use crate::store::{OutboundEntry, Store};
use crate::testing::{self, NOW};

const LICENSE_ID: &str = "lic-upstream-secret-id";

/// An api host serving a vendor dir with releases 1 and 2 of the sample app, and a
/// console store with a license that names it.
struct Fixture {
    dir: tempfile::TempDir,
    key: SigningKey,
    vendor: VendorDir,
    ca: PathBuf,
    url: String,
    store: Arc<Store>,
    licenses: Arc<Licenses>,
    releases: Arc<Releases>,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate();
        let vendor = VendorDir::new(dir.path().join("vendor"));
        for (sequence, version) in [(1, "1.0.0"), (2, "1.1.0")] {
            publish(&vendor, &dir, &key, sequence, version, testing::now());
        }
        let (ca, tls) = test_ca(&dir);
        let server = Server::bind(&ServeConfig {
            root: vendor.root().to_owned(),
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: Some(tls),
        })
        .await
        .unwrap();
        let url = server.url();
        tokio::spawn(server.run(std::future::pending()));
        let (store, licenses, releases) = licensed(&key, &vendor, Some(&url), LICENSE_ID);
        Fixture {
            dir,
            key,
            vendor,
            ca,
            url,
            store,
            licenses,
            releases,
        }
    }

    /// The same api host, and a fresh console store whose license names `api_host`.
    fn with_license(mut self, api_host: Option<&str>, license_id: &str) -> Fixture {
        (self.store, self.licenses, self.releases) =
            licensed(&self.key, &self.vendor, api_host, license_id);
        self
    }

    fn upstream(&self, trust_test_ca: bool) -> Upstream {
        let recorder = Recorder::new(
            self.store.clone(),
            &RecorderConfig {
                extra_ca: trust_test_ca.then(|| self.ca.clone()),
                retention_days: DEFAULT_OUTBOUND_LOG_DAYS,
                environment_proxy: None,
            },
        )
        .unwrap();
        Upstream::new(
            self.store.clone(),
            self.licenses.clone(),
            self.releases.clone(),
            recorder,
            // The log's entries carry the real clock; so must its retention.
            crate::clock::unix_now(),
        )
        .unwrap()
    }

    async fn fetch(&self) -> Result<FetchSummary, UpstreamError> {
        self.upstream(true)
            .fetch_releases(Some(1), &Actor::System, &Source::Local, NOW)
            .await
    }

    fn loaded(&self) -> Vec<u64> {
        self.releases
            .list()
            .unwrap()
            .iter()
            .map(|r| r.release.sequence)
            .collect()
    }

    fn index_path(&self) -> PathBuf {
        self.vendor.index_path("sample-app", "stable").unwrap()
    }
}

/// A console store with a license naming `api_host` loaded (the key pinned); the api
/// host's vendor dir holds the same license.
pub(crate) fn licensed(
    key: &SigningKey,
    vendor: &VendorDir,
    api_host: Option<&str>,
    license_id: &str,
) -> (Arc<Store>, Arc<Licenses>, Arc<Releases>) {
    let mut license = testing::license(key, "sample-app", 365);
    license.license_id = license_id.into();
    license.api_host = api_host.map(str::to_owned);
    let text = testing::signed(&license, key);
    vendor.store_license(license_id, text.as_bytes()).unwrap();
    let store = Arc::new(Store::open_in_memory().unwrap());
    let licenses = Arc::new(Licenses::new(store.clone()));
    licenses
        .load(
            &text,
            Some(&key.public().keyid()),
            &Actor::System,
            &Source::Local,
            NOW,
        )
        .unwrap();
    let releases = Arc::new(Releases::new(store.clone(), licenses.clone()));
    (store, licenses, releases)
}

pub(crate) fn publish(
    vendor: &VendorDir,
    dir: &tempfile::TempDir,
    key: &SigningKey,
    sequence: u64,
    version: &str,
    now: time::OffsetDateTime,
) {
    let text = testing::signed(&testing::release(sequence, version), key);
    let path = dir.path().join(format!("release-{sequence}.json"));
    std::fs::write(&path, &text).unwrap();
    vendor
        .publish(&path, text.as_bytes(), key, now, time::Duration::days(14))
        .unwrap();
}

/// A CA (written to `ca.pem`) and a certificate it signed for 127.0.0.1.
pub(crate) fn test_ca(dir: &tempfile::TempDir) -> (PathBuf, TlsFiles) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Upstream test CA");
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca =
        rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let ca_path = dir.path().join("ca.pem");
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    std::fs::write(&cert, server.pem()).unwrap();
    std::fs::write(&key, server_key.serialize_pem()).unwrap();
    (ca_path, TlsFiles { cert, key })
}

pub(crate) fn log(store: &Store) -> Vec<crate::store::OutboundRecord> {
    let mut entries = store.outbound_page(None, 500).unwrap();
    entries.reverse();
    entries
}

#[tokio::test]
async fn the_index_is_verified_and_each_release_is_loaded_once() {
    let fixture = Fixture::new().await;
    let summary = fixture.fetch().await.unwrap();
    assert_eq!(summary.index_version, 2);
    assert_eq!((summary.fetched, summary.present), (vec![1, 2], vec![]));
    assert!(summary.refused.is_empty());
    assert_eq!(fixture.loaded(), [2, 1]);
    let sources: Vec<String> = fixture
        .releases
        .list()
        .unwrap()
        .into_iter()
        .map(|r| r.source)
        .collect();
    assert_eq!(
        sources,
        [
            format!("{}/v1/releases/sample-app/2", fixture.url),
            format!("{}/v1/releases/sample-app/1", fixture.url)
        ]
    );

    let again = fixture.fetch().await.unwrap();
    assert_eq!((again.fetched, again.present), (vec![], vec![1, 2]));

    // Every request is in the log, with exactly the documented headers, and the license
    // id nowhere.
    let entries = log(&fixture.store);
    let purposes: Vec<&str> = entries.iter().map(|e| e.purpose.as_str()).collect();
    assert_eq!(
        purposes,
        [
            "channel index (stable)",
            "release 1",
            "release 2",
            "channel index (stable)"
        ]
    );
    let upstream = fixture.upstream(true);
    for entry in &entries {
        assert_eq!(entry.method, "GET");
        assert_eq!(entry.status, Some(200), "{entry:?}");
        assert_eq!(entry.error, None);
        assert!(
            entry.bytes_sent > 0 && entry.bytes_received > 0,
            "{entry:?}"
        );
        let headers: Value = serde_json::from_str(&entry.request_headers).unwrap();
        assert_eq!(
            headers,
            serde_json::json!({
                "Accept": "application/json",
                "Authorization": "Bearer ****",
                "X-Outpost-Instance": upstream.instance_id(),
                "X-Outpost-Console-Version": crate::VERSION,
                "X-Outpost-App-Sequence": "1",
                "X-Outpost-Node-Count": "0",
            })
        );
        assert_eq!(entry.request_fields, "{}");
        assert!(!format!("{entry:?}").contains(LICENSE_ID));
    }
    assert_eq!(upstream.instance_id().len(), 32, "one id, kept");
}

#[tokio::test]
async fn a_tampered_index_is_refused_and_nothing_is_loaded() {
    let fixture = Fixture::new().await;
    let path = fixture.index_path();
    let mut envelope: Envelope = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let payload = envelope.payload_unverified().unwrap();
    let tampered = String::from_utf8(payload)
        .unwrap()
        .replace("\"version\":2", "\"version\":9");
    use base64::Engine;
    envelope.payload = base64::engine::general_purpose::STANDARD.encode(tampered);
    std::fs::write(&path, envelope.to_bytes()).unwrap();

    let error = fixture.fetch().await.unwrap_err();
    assert!(
        matches!(error, UpstreamError::IndexInvalid { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("bad signature"), "{error}");
    assert!(fixture.loaded().is_empty());
    assert_eq!(
        fixture
            .store
            .channel_index_seen("sample-app", "stable")
            .unwrap(),
        None
    );
    let detail = fixture.store.audit_page(None, 1).unwrap().remove(0);
    assert_eq!(detail.action, "releases.fetch_failed");
}

#[tokio::test]
async fn an_index_older_than_one_seen_is_a_rollback() {
    let fixture = Fixture::new().await;
    let older = std::fs::read(fixture.index_path()).unwrap();
    publish(
        &fixture.vendor,
        &fixture.dir,
        &fixture.key,
        3,
        "1.2.0",
        testing::now(),
    );
    assert_eq!(fixture.fetch().await.unwrap().fetched, [1, 2, 3]);

    std::fs::write(fixture.index_path(), older).unwrap();
    let error = fixture.fetch().await.unwrap_err();
    assert!(
        matches!(
            error,
            UpstreamError::Rollback {
                found: 2,
                seen: 3,
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn an_expired_index_is_refused() {
    let fixture = Fixture::new().await;
    // Published a month before "now", valid for 14 days.
    publish(
        &fixture.vendor,
        &fixture.dir,
        &fixture.key,
        3,
        "1.2.0",
        testing::now() - time::Duration::days(30),
    );
    let error = fixture.fetch().await.unwrap_err();
    assert!(
        matches!(error, UpstreamError::IndexExpired { .. }),
        "{error}"
    );
    assert!(fixture.loaded().is_empty());
}

#[tokio::test]
async fn a_release_that_does_not_match_its_digest_is_refused_alone() {
    let fixture = Fixture::new().await;
    // Validly signed, but not the file the index lists.
    let mut other = testing::release(2, "1.1.0");
    other.notes = "swapped".into();
    let path = fixture.vendor.release_path("sample-app", 2).unwrap();
    std::fs::write(&path, testing::signed(&other, &fixture.key)).unwrap();

    let summary = fixture.fetch().await.unwrap();
    assert_eq!(summary.fetched, [1]);
    assert_eq!(summary.refused.len(), 1);
    assert_eq!(summary.refused[0].sequence, 2);
    assert!(
        summary.refused[0].reason.starts_with("digest mismatch"),
        "{:?}",
        summary.refused
    );
    assert_eq!(fixture.loaded(), [1]);
}

#[tokio::test]
async fn the_api_host_refusals_are_named() {
    let fixture = Fixture::new().await;
    // A license the api host does not have.
    let url = fixture.url.clone();
    let unknown = fixture.with_license(Some(&url), "lic-nobody");
    std::fs::remove_file(unknown.vendor.license_path("lic-nobody").unwrap()).unwrap();
    let error = unknown.fetch().await.unwrap_err();
    assert!(
        matches!(error, UpstreamError::LicenseUnknown { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("401"), "{error}");
    assert_eq!(log(&unknown.store)[0].status, Some(401));

    // The api host's certificate is not trusted without the test CA.
    let error = unknown
        .upstream(false)
        .fetch_releases(None, &Actor::System, &Source::Local, NOW)
        .await
        .unwrap_err();
    assert!(matches!(error, UpstreamError::Tls(_)), "{error}");
    assert!(error.to_string().contains("--api-host-ca"), "{error}");
}

#[tokio::test]
async fn an_unreachable_api_host_is_named_and_logged() {
    let fixture = Fixture::new().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let fixture = fixture.with_license(Some(&format!("https://{closed}")), LICENSE_ID);
    let error = fixture.fetch().await.unwrap_err();
    assert!(matches!(error, UpstreamError::Unreachable(_)), "{error}");
    assert!(error.to_string().contains("unreachable"), "{error}");
    let entries = log(&fixture.store);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].status, None);
    assert!(
        entries[0]
            .error
            .as_deref()
            .unwrap()
            .contains("cannot reach"),
        "{:?}",
        entries[0]
    );
}

#[tokio::test]
async fn without_a_usable_api_host_nothing_is_sent() {
    let fixture = Fixture::new().await;
    let fixture = fixture.with_license(None, LICENSE_ID);
    let error = fixture.fetch().await.unwrap_err();
    assert!(matches!(error, UpstreamError::NoApiHost), "{error}");

    let fixture = fixture.with_license(Some("http://127.0.0.1:1"), LICENSE_ID);
    let error = fixture.fetch().await.unwrap_err();
    assert!(
        matches!(error, UpstreamError::ApiHostNotHttps(_)),
        "{error}"
    );

    let store = Arc::new(Store::open_in_memory().unwrap());
    let licenses = Arc::new(Licenses::new(store.clone()));
    let releases = Arc::new(Releases::new(store.clone(), licenses.clone()));
    let recorder = Recorder::new(
        store.clone(),
        &RecorderConfig {
            extra_ca: None,
            retention_days: 30,
            environment_proxy: None,
        },
    )
    .unwrap();
    let upstream = Upstream::new(store.clone(), licenses, releases, recorder, NOW).unwrap();
    let error = upstream
        .fetch_releases(None, &Actor::System, &Source::Local, NOW)
        .await
        .unwrap_err();
    assert!(matches!(error, UpstreamError::NoLicense), "{error}");
    assert!(log(&store).is_empty());
    assert!(log(&fixture.store).is_empty());
}

#[test]
fn retention_applies_at_start_and_the_instance_id_is_kept() {
    let store = Arc::new(Store::open_in_memory().unwrap());
    let day = 86_400;
    let now = crate::clock::unix_now();
    for (at, purpose) in [(now - 40 * day, "old"), (now - 2 * day, "recent")] {
        store
            .begin_outbound(
                &OutboundEntry {
                    at,
                    method: "GET".into(),
                    url: "https://api.vendor.example/v1/license".into(),
                    purpose: purpose.into(),
                    request_headers: "{}".into(),
                    request_fields: "{}".into(),
                    bytes_sent: 1,
                    via_proxy: None,
                },
                0,
            )
            .unwrap();
    }
    let make = |days| {
        let licenses = Arc::new(Licenses::new(store.clone()));
        let releases = Arc::new(Releases::new(store.clone(), licenses.clone()));
        let recorder = Recorder::new(
            store.clone(),
            &RecorderConfig {
                extra_ca: None,
                retention_days: days,
                environment_proxy: None,
            },
        )
        .unwrap();
        Upstream::new(store.clone(), licenses, releases, recorder, now).unwrap()
    };
    let first = make(30);
    let left: Vec<String> = log(&store).into_iter().map(|e| e.purpose).collect();
    assert_eq!(left, ["recent"]);
    let second = make(1);
    assert!(log(&store).is_empty());
    assert_eq!(first.instance_id(), second.instance_id());
}

#[test]
fn a_bad_ca_file_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in_memory().unwrap());
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    for (path, expected) in [
        (dir.path().join("missing.pem"), "cannot open it"),
        (not_pem, "no PEM certificate"),
    ] {
        let error = Recorder::new(
            store.clone(),
            &RecorderConfig {
                extra_ca: Some(path.clone()),
                retention_days: 30,
                environment_proxy: None,
            },
        )
        .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(&path.display().to_string()) && text.contains(expected),
            "{text}"
        );
    }
}
