//! License loading on an in-memory store with real keys and real signatures.

use outpost_airgap::license::License;
use outpost_airgap::{seal, SigningKey};

use super::*;

use crate::testing::{license, signed, NOW};

fn file(license: &License, key: &SigningKey) -> String {
    signed(license, key)
}

fn service() -> (Arc<Store>, Licenses) {
    let store = Arc::new(Store::open_in_memory().unwrap());
    (store.clone(), Licenses::new(store))
}

fn load(
    service: &Licenses,
    text: &str,
    trust: Option<&str>,
) -> Result<LoadedLicense, LicenseError> {
    service.load(
        text,
        trust,
        &Actor::Admin("admin".into()),
        &Source::Local,
        NOW,
    )
}

/// The state a rejection must leave as it was.
fn state(store: &Store) -> (Option<VendorKeyRecord>, Option<LicenseRecord>) {
    (
        store.vendor_key().unwrap(),
        store.current_license().unwrap(),
    )
}

#[test]
fn the_first_license_needs_its_fingerprint_confirmed_then_pins_the_key() {
    let (store, service) = service();
    let key = SigningKey::generate();
    let text = file(&license(&key, "app", 30), &key);

    let inspection = service.inspect(&text).unwrap();
    assert_eq!(inspection.fingerprint, key.public().keyid());
    assert!(!inspection.key_pinned);
    assert_eq!(inspection.customer, "Example Corp");

    match load(&service, &text, None) {
        Err(LicenseError::KeyConfirmationRequired { fingerprint }) => {
            assert_eq!(fingerprint, key.public().keyid())
        }
        other => panic!("expected a confirmation request, got {other:?}"),
    }
    assert!(matches!(
        load(&service, &text, Some(&"0".repeat(64))),
        Err(LicenseError::TrustKeyMismatch { .. })
    ));
    assert_eq!(state(&store), (None, None));

    // Fingerprints are accepted in upper case with separators, as people copy them.
    let shown: String = key
        .public()
        .keyid()
        .to_uppercase()
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let loaded = load(&service, &text, Some(&shown)).unwrap();
    assert_eq!(loaded.license.app_id, "app");
    assert_eq!(
        store.vendor_key().unwrap().unwrap().keyid,
        key.public().keyid()
    );
    assert_eq!(service.current().unwrap().unwrap().license, loaded.license);
    let inspection = service.inspect(&text).unwrap();
    assert!(inspection.key_pinned && inspection.matches_pinned);

    let actions: Vec<String> = store
        .audit_page(None, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    // The mismatched confirmation was refused and audited; the right one pinned and loaded.
    assert_eq!(
        actions,
        ["license.loaded", "license.key_pinned", "license.rejected"]
    );
}

#[test]
fn after_pinning_other_keys_expired_tampered_and_other_app_licenses_change_nothing() {
    let (store, service) = service();
    let key = SigningKey::generate();
    load(
        &service,
        &file(&license(&key, "app", 30), &key),
        Some(&key.public().keyid()),
    )
    .unwrap();
    let before = state(&store);

    let other = SigningKey::generate();
    let foreign = file(&license(&other, "app", 30), &other);
    assert!(matches!(
        load(&service, &foreign, Some(&other.public().keyid())),
        Err(LicenseError::WrongKey { .. })
    ));

    // Claims the pinned key but is signed by another one.
    let mut impostor = license(&other, "app", 30);
    impostor.vendor_key = key.public().to_base64();
    assert!(matches!(
        load(&service, &file(&impostor, &other), None),
        Err(LicenseError::WrongKey { .. })
    ));

    assert!(matches!(
        load(&service, &file(&license(&key, "app", -1), &key), None),
        Err(LicenseError::Expired { .. })
    ));

    let mut envelope = seal(&license(&key, "app", 30), &key);
    let mut tampered = license(&key, "app", 3650);
    tampered.max_nodes = Some(1000);
    envelope.payload = base64_of(&serde_json::to_vec(&tampered).unwrap());
    let tampered = String::from_utf8(envelope.to_bytes()).unwrap();
    match load(&service, &tampered, None) {
        Err(LicenseError::Invalid(VerifyError::BadSignature { .. })) => {}
        other => panic!("expected a bad signature, got {other:?}"),
    }

    assert!(matches!(
        load(&service, &file(&license(&key, "other-app", 30), &key), None),
        Err(LicenseError::OtherApp { .. })
    ));
    assert!(matches!(
        load(&service, "{not json", None),
        Err(LicenseError::Invalid(VerifyError::Malformed(_)))
    ));

    assert_eq!(
        state(&store),
        before,
        "no rejection changed the license or the key"
    );
    let rejected = store
        .audit_page(None, 50)
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "license.rejected")
        .count();
    assert_eq!(rejected, 6);
    let log = format!("{:?}", store.audit_page(None, 50).unwrap());
    assert!(
        !log.contains("registry-secret"),
        "no secret in the audit log"
    );
}

#[test]
fn a_renewed_license_from_the_pinned_key_replaces_the_current_one() {
    let (_store, service) = service();
    let key = SigningKey::generate();
    load(
        &service,
        &file(&license(&key, "app", 30), &key),
        Some(&key.public().keyid()),
    )
    .unwrap();
    let mut renewed = license(&key, "app", 365);
    renewed.max_nodes = Some(10);
    load(&service, &file(&renewed, &key), None).unwrap();
    assert_eq!(
        service.current().unwrap().unwrap().license.max_nodes,
        Some(10)
    );
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The fixture vendor key of `airgap/tests/data/envelope/` (derived from a public seed).
fn fixture_vendor_key() -> SigningKey {
    use sha2::Digest;
    let seed = sha2::Sha256::digest(b"outpost fixture-only key: vendor");
    let text = format!("OUTPOST-ED25519-PRIVATE-KEY {}", base64_of(&seed));
    SigningKey::from_text(&text, "fixture key").unwrap()
}

#[test]
fn every_adversarial_fixture_is_refused_with_its_reason_and_changes_nothing() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../airgap/tests/data/envelope");
    let (store, service) = service();
    let key = fixture_vendor_key();
    let mut valid = license(&key, "demo", 365);
    valid.license_id = "pinning-license".into();
    load(&service, &file(&valid, &key), Some(&key.public().keyid())).unwrap();
    let before = state(&store);

    // What the console says for each attack. Documents that are not licenses are refused
    // as such; the rest carry the envelope's own reason.
    let expected = [
        ("wrong-key", "not by the pinned vendor key"),
        ("tampered-payload", "bad signature"),
        ("tampered-signature", "bad signature"),
        ("expired-license", "expired at 2021-01-01"),
        ("duplicate-signature", "duplicate signature"),
        ("oversized", "over the 65536-byte limit"),
        ("malformed-base64", "malformed base64"),
        ("malformed-json", "malformed envelope"),
        ("unknown-payload-type", "wrong payload type"),
        ("expired-index", "wrong payload type"),
        ("older-index-version", "wrong payload type"),
        ("app-file-path-traversal", "wrong payload type"),
    ];
    let folders: Vec<String> = std::fs::read_dir(&fixtures)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        folders.len(),
        expected.len(),
        "a fixture without an expectation: {folders:?}"
    );
    for (folder, reason) in expected {
        let dir = fixtures.join(folder);
        let document = [
            "license.json",
            "index.json",
            "release.json",
            "document.json",
        ]
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("{folder} holds no document"));
        let bytes = std::fs::read(&document).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let error = load(&service, &text, None).expect_err(folder);
        assert!(
            error.to_string().contains(reason),
            "{folder}: {error} should mention {reason:?}"
        );
        assert_eq!(state(&store), before, "{folder} changed the store");
    }
}

fn rotation(old: &SigningKey, old_keyid: &str, new: &SigningKey) -> String {
    signed(
        &outpost_airgap::rotation::KeyRotation {
            schema: 1,
            old_keyid: old_keyid.to_owned(),
            new_key: new.public().to_base64(),
            issued_at: crate::testing::now(),
        },
        old,
    )
}

#[test]
fn a_rotation_signed_by_the_pinned_key_hands_trust_to_the_new_key() {
    let (store, service) = service();
    let old = SigningKey::generate();
    let new = SigningKey::generate();
    let old_id = old.public().keyid();
    let new_id = new.public().keyid();
    load(
        &service,
        &file(&license(&old, "app", 30), &old),
        Some(&old_id),
    )
    .unwrap();
    let rotate = |text: &str| service.rotate_key(text, &Actor::LocalRoot, &Source::Local, NOW);

    // Refused, nothing pinned: signed by a stranger, naming another key, not a rotation.
    let stranger = SigningKey::generate();
    assert!(matches!(
        rotate(&rotation(&stranger, &stranger.public().keyid(), &new)),
        Err(LicenseError::RotationWrongKey { .. })
    ));
    assert!(matches!(
        rotate(&rotation(&old, &stranger.public().keyid(), &new)),
        Err(LicenseError::RotationNotFromPinned { .. })
    ));
    assert!(matches!(
        rotate(&file(&license(&old, "app", 30), &old)),
        Err(LicenseError::RotationInvalid(_))
    ));
    assert_eq!(store.vendor_keys().unwrap().len(), 1);
    assert_eq!(store.vendor_key().unwrap().unwrap().keyid, old_id);

    assert_eq!(
        rotate(&rotation(&old, &old_id, &new)).unwrap(),
        (old_id.clone(), new_id.clone())
    );
    assert_eq!(store.vendor_key().unwrap().unwrap().keyid, new_id);
    // What was accepted under the old key still reads back with it.
    assert_eq!(service.current().unwrap().unwrap().fingerprint, old_id);
    // New documents must come from the new key.
    assert!(matches!(
        load(&service, &file(&license(&old, "app", 60), &old), None),
        Err(LicenseError::WrongKey { .. })
    ));
    let renewed = load(&service, &file(&license(&new, "app", 60), &new), None).unwrap();
    assert_eq!(renewed.fingerprint, new_id);
    // Never back to a key trusted before, even by a valid rotation.
    assert!(matches!(
        rotate(&rotation(&new, &new_id, &old)),
        Err(LicenseError::RotationToKnownKey(_))
    ));
    let audit = store.audit_page(None, 50).unwrap();
    let actions: Vec<&str> = audit.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "license.key_rotated")
            .count(),
        1
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "license.key_rotation_refused")
            .count(),
        4
    );
}
