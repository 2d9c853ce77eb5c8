//! Test support shared by the console's unit tests: signed licenses and releases of the
//! sample app, and a store with a license loaded (the key pinned).

use std::collections::BTreeMap;
use std::sync::Arc;

use outpost_airgap::license::License;
use outpost_airgap::release::{ImagePin, Release};
use outpost_airgap::{seal, Document, SigningKey};
use sha2::Digest;
use time::OffsetDateTime;

use crate::audit::{Actor, Source};
use crate::license::Licenses;
use crate::releases::Releases;
use crate::store::Store;

/// The fixed "now" of these tests.
pub const NOW: i64 = 1_800_000_000;

pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).expect("a valid timestamp")
}

/// A license for `app` on channel `stable`, valid for `days` from [`NOW`], signed by `key`.
pub fn license(key: &SigningKey, app: &str, days: i64) -> License {
    License {
        schema: 1,
        license_id: format!("lic-{app}"),
        customer: "Example Corp".into(),
        app_id: app.into(),
        channel: "stable".into(),
        issued_at: now() - time::Duration::days(30),
        expires_at: now() + time::Duration::days(days),
        entitlements: BTreeMap::from([("seats".to_owned(), "10".to_owned())]),
        airgap: true,
        max_nodes: Some(3),
        api_host: Some("https://api.vendor.example".into()),
        registry: Some(outpost_airgap::license::RegistryCredentials {
            host: Some("registry.example.com".into()),
            username: "customer".into(),
            password: "registry-secret".into(),
        }),
        vendor_key: key.public().to_base64(),
        revoked: None,
    }
}

/// The signed file text of any document.
pub fn signed<D: Document>(document: &D, key: &SigningKey) -> String {
    String::from_utf8(seal(document, key).to_bytes()).expect("envelopes are UTF-8")
}

/// The sample app's files of one version (`examples/sample-app/<version>/`).
pub fn sample_files(version: &str) -> BTreeMap<String, String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/sample-app")
        .join(version);
    ["compose.yaml", "outpost.yaml"]
        .iter()
        .map(|name| {
            let text =
                std::fs::read_to_string(dir.join(name)).expect("the sample app is in the repo");
            ((*name).to_owned(), text)
        })
        .collect()
}

/// A release of the sample app.
pub fn release(sequence: u64, version: &str) -> Release {
    Release {
        schema: 1,
        app_id: "sample-app".into(),
        channel: "stable".into(),
        sequence,
        version: version.into(),
        notes: format!("Release {version}"),
        required: false,
        created_at: now(),
        files: sample_files(version),
        images: vec![ImagePin {
            reference: "docker.io/outpost-samples/web:1.0.0".into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            platform: "linux/amd64".into(),
        }],
    }
}

/// A release of the sample app with every image of its compose file pinned (to made-up
/// digests, one per image): what the deploy planner needs.
pub fn deployable_release(sequence: u64, version: &str) -> Release {
    let mut release = release(sequence, version);
    let app = outpost_airgap::app::App::from_files(&release.files).expect("the sample app parses");
    release.images = app
        .compose
        .services
        .values()
        .map(|service| {
            let reference = outpost_airgap::app::ImageRef::parse(&service.image)
                .expect("the sample images parse")
                .to_string();
            let digest = hex::encode(sha2::Sha256::digest(reference.as_bytes()));
            ImagePin {
                reference,
                digest: format!("sha256:{digest}"),
                platform: "linux/amd64".into(),
            }
        })
        .collect();
    release
}

/// An in-memory store with a `sample-app` license loaded by `key` (so the key is pinned).
pub fn licensed(key: &SigningKey) -> (Arc<Store>, Arc<Licenses>, Arc<Releases>) {
    let store = Arc::new(Store::open_in_memory().expect("an in-memory store"));
    let licenses = Arc::new(Licenses::new(store.clone()));
    licenses
        .load(
            &signed(&license(key, "sample-app", 365), key),
            Some(&key.public().keyid()),
            &Actor::System,
            &Source::Local,
            NOW,
        )
        .expect("the test license loads");
    let releases = Arc::new(Releases::new(store.clone(), licenses.clone()));
    (store, licenses, releases)
}
