//! Release loading on an in-memory store, with real keys and the sample app's files.

use outpost_airgap::{seal, SigningKey};

use super::*;

use crate::testing::{licensed as licensed_store, release, signed, NOW};

fn text(release: &Release, key: &SigningKey) -> String {
    signed(release, key)
}

fn licensed(key: &SigningKey) -> (Arc<Store>, Releases) {
    let (store, licenses, _) = licensed_store(key);
    (store.clone(), Releases::new(store, licenses))
}

fn load(releases: &Releases, text: &str) -> Result<(LoadedRelease, bool), ReleaseError> {
    releases.load(text, "file", &Actor::System, &Source::Local, NOW)
}

#[test]
fn without_a_license_nothing_can_be_verified() {
    let key = SigningKey::generate();
    let store = Arc::new(Store::open_in_memory().unwrap());
    let releases = Releases::new(store.clone(), Arc::new(Licenses::new(store)));
    assert!(matches!(
        load(&releases, &text(&release(1, "1.0.0"), &key)),
        Err(ReleaseError::NoLicense)
    ));
}

#[test]
fn a_valid_release_loads_once_and_lists_newest_first() {
    let key = SigningKey::generate();
    let (_store, releases) = licensed(&key);
    let first = text(&release(1, "1.0.0"), &key);
    let (loaded, fresh) = load(&releases, &first).unwrap();
    assert!(fresh);
    assert_eq!(loaded.release.version, "1.0.0");
    assert!(loaded.digest.starts_with("sha256:"));
    let (_, fresh) = load(&releases, &first).unwrap();
    assert!(
        !fresh,
        "the same file again is not an error and not a second copy"
    );
    load(&releases, &text(&release(2, "1.1.0"), &key)).unwrap();
    let versions: Vec<String> = releases
        .list()
        .unwrap()
        .into_iter()
        .map(|r| r.release.version)
        .collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"]);
    assert_eq!(releases.get(1).unwrap().release.version, "1.0.0");
    assert!(matches!(releases.get(9), Err(ReleaseError::NotFound(9))));
}

#[test]
fn refused_releases_change_nothing_and_say_why() {
    let key = SigningKey::generate();
    let (store, releases) = licensed(&key);
    load(&releases, &text(&release(1, "1.0.0"), &key)).unwrap();

    let mut different = release(1, "1.0.0");
    different.notes = "rewritten history".into();
    assert!(matches!(
        load(&releases, &text(&different, &key)),
        Err(ReleaseError::Conflict { sequence: 1, .. })
    ));
    let other = SigningKey::generate();
    assert!(matches!(
        load(&releases, &text(&release(2, "1.1.0"), &other)),
        Err(ReleaseError::WrongKey { .. })
    ));
    let mut other_app = release(2, "1.1.0");
    other_app.app_id = "another-app".into();
    assert!(matches!(
        load(&releases, &text(&other_app, &key)),
        Err(ReleaseError::OtherApp { .. })
    ));
    let mut other_channel = release(2, "1.1.0");
    other_channel.channel = "beta".into();
    assert!(matches!(
        load(&releases, &text(&other_channel, &key)),
        Err(ReleaseError::OtherChannel { .. })
    ));
    let mut broken_app = release(2, "1.1.0");
    broken_app.files.insert(
        "compose.yaml".into(),
        "services:\n  web:\n    image: docker.io/library/busybox:1\n    environment:\n      A: ${nowhere}\n".into(),
    );
    match load(&releases, &text(&broken_app, &key)) {
        Err(ReleaseError::BadApp(problems)) => {
            assert!(problems.to_string().contains("nowhere"), "{problems}")
        }
        other => panic!("expected the app definition to be refused, got {other:?}"),
    }
    let mut envelope = seal(&release(2, "1.1.0"), &key);
    envelope.payload = {
        use base64::Engine;
        let mut tampered = release(2, "1.1.0");
        tampered.required = true;
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&tampered).unwrap())
    };
    let tampered = String::from_utf8(envelope.to_bytes()).unwrap();
    assert!(matches!(
        load(&releases, &tampered),
        Err(ReleaseError::Invalid(VerifyError::BadSignature { .. }))
    ));

    assert_eq!(
        store.releases("sample-app").unwrap().len(),
        1,
        "only the first release"
    );
    let rejected = store
        .audit_page(None, 50)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "release.rejected")
        .count();
    assert_eq!(rejected, 6);
}
