//! The `outpost-airgap` binary end to end: keys, licenses, publication, verification, and
//! the attack fixtures under `tests/data/envelope/`, which this file also generates
//! (`OUTPOST_WRITE_FIXTURES=1 cargo test -p outpost-airgap --test cli
//! fixtures_are_what_the_generator_writes`; see `tests/data/envelope/README.md`).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use time::macros::datetime;
use time::OffsetDateTime;

use outpost_airgap::channel::{Advisory, ChannelIndex, IndexEntry, Severity};
use outpost_airgap::envelope::Signature;
use outpost_airgap::license::{License, RegistryCredentials};
use outpost_airgap::release::{ImagePin, Release};
use outpost_airgap::rotation::KeyRotation;
use outpost_airgap::{open, seal, Envelope, PublicKey, SigningKey};

const BIN: &str = env!("CARGO_BIN_EXE_outpost-airgap");

/// One finished run of the binary.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn airgap<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    airgap_with_env(args, &[])
}

fn airgap_with_env<I, S>(args: I, env: &[(&str, &str)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("OUTPOST_REGISTRY_PASSWORD")
        .env_remove("OUTPOST_LOG_LEVEL");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run outpost-airgap");
    Run {
        // A signal (a crash) has no code; -1 fails every assertion on codes.
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "expected success: {run:?}");
    run
}

/// `keygen` into `dir/keys`; returns the key folder.
fn keygen(dir: &Path) -> PathBuf {
    let keys = dir.join("keys");
    ok(airgap([
        OsStr::new("keygen"),
        "--out".as_ref(),
        keys.as_os_str(),
    ]));
    keys
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// `license issue` with working defaults for the required flags `extra` does not give.
fn issue(keys: &Path, out: &Path, extra: &[&str]) -> Run {
    let key = keys.join("vendor.key");
    let mut args = vec!["license", "issue"];
    for (flag, value) in [
        ("--key", path_arg(&key)),
        ("--customer", "Acme Corp"),
        ("--app", "demo"),
        ("--channel", "stable"),
        ("--expires", "2030-06-30"),
        ("--out", path_arg(out)),
    ] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    airgap(args)
}

fn verify(file: &Path, pubkey: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["verify", path_arg(file), "--pubkey", path_arg(pubkey)];
    args.extend_from_slice(extra);
    airgap(args)
}

#[test]
fn keygen_writes_a_key_pair_prints_its_fingerprint_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let run = ok(airgap([
        OsStr::new("keygen"),
        "--out".as_ref(),
        keys.as_os_str(),
    ]));

    let public = PublicKey::read(&keys.join("vendor.pub")).unwrap();
    let private = SigningKey::read(&keys.join("vendor.key")).unwrap();
    assert_eq!(private.public(), public);
    assert!(
        run.stdout
            .contains(&format!("Fingerprint: {}", public.keyid())),
        "{run:?}"
    );
    let mode = std::fs::metadata(keys.join("vendor.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let again = airgap([OsStr::new("keygen"), "--out".as_ref(), keys.as_os_str()]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("already exists"), "{again:?}");
    assert_eq!(
        SigningKey::read(&keys.join("vendor.key")).unwrap().public(),
        public
    );
}

#[test]
fn an_issued_license_verifies_and_no_output_shows_the_registry_password() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let license_path = dir.path().join("acme.license");
    let root = dir.path().join("vendor");
    let password = "hunter2-registry-secret";
    let issued = airgap_with_env(
        [
            "license",
            "issue",
            "--key",
            path_arg(&keys.join("vendor.key")),
            "--customer",
            "Acme Corp",
            "--app",
            "demo",
            "--channel",
            "stable",
            "--expires",
            "2030-06-30",
            "--airgap",
            "--max-nodes",
            "5",
            "--entitlement",
            "seats=10",
            "--entitlement",
            "tier=gold",
            "--api-host",
            "https://updates.example.com",
            "--registry-host",
            "registry.example.com",
            "--registry-user",
            "puller",
            "--license-id",
            "acme-0001",
            "--out",
            path_arg(&license_path),
            "--root",
            path_arg(&root),
        ],
        &[("OUTPOST_REGISTRY_PASSWORD", password)],
    );
    let issued = ok(issued);
    assert!(!issued.stdout.contains(password) && !issued.stderr.contains(password));
    let mode = std::fs::metadata(&license_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the license holds registry credentials"
    );
    assert_eq!(
        std::fs::read(root.join("licenses/acme-0001.json")).unwrap(),
        std::fs::read(&license_path).unwrap(),
        "--root stores the same file in the vendor dir"
    );

    let run = ok(verify(&license_path, &keys.join("vendor.pub"), &[]));
    for expected in [
        "Verified license, signed by key",
        "acme-0001",
        "Acme Corp",
        "demo",
        "stable",
        "2030-06-30T23:59:59Z",
        "allowed",
        "5",
        "https://updates.example.com",
        "puller (password set, not shown)",
        "seats=10",
        "tier=gold",
    ] {
        assert!(run.stdout.contains(expected), "{expected:?} in {run:?}");
    }
    assert!(!run.stdout.contains(password) && !run.stderr.contains(password));

    // The password really is in the license, for the console to use.
    let key = PublicKey::read(&keys.join("vendor.pub")).unwrap();
    let license: License = open(
        &std::fs::read(&license_path).unwrap(),
        &key,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(license.registry.unwrap().password, password);
    assert_eq!(license.vendor_key, key.to_base64());
}

#[test]
fn the_registry_password_comes_from_a_file_the_flag_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let key = PublicKey::read(&keys.join("vendor.pub")).unwrap();
    let out = dir.path().join("license.json");
    let password_of = |out: &Path| {
        let license: License = open(
            &std::fs::read(out).unwrap(),
            &key,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        license.registry.map(|r| r.password)
    };

    let file = dir.path().join("password.txt");
    std::fs::write(&file, "from-file\n").unwrap();
    ok(issue(
        &keys,
        &out,
        &[
            "--registry-host",
            "registry.example.com",
            "--registry-user",
            "u",
            "--registry-password-file",
            path_arg(&file),
        ],
    ));
    assert_eq!(password_of(&out).as_deref(), Some("from-file"));

    ok(issue(
        &keys,
        &out,
        &[
            "--registry-host",
            "registry.example.com",
            "--registry-user",
            "u",
            "--registry-password",
            "from-flag",
        ],
    ));
    assert_eq!(password_of(&out).as_deref(), Some("from-flag"));

    let missing = issue(
        &keys,
        &out,
        &[
            "--registry-host",
            "registry.example.com",
            "--registry-user",
            "u",
        ],
    );
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(missing.stderr.contains("needs a password"), "{missing:?}");
    let without_host = issue(
        &keys,
        &out,
        &["--registry-user", "u", "--registry-password", "p"],
    );
    assert_eq!(without_host.code, 2, "{without_host:?}");
    assert!(
        without_host.stderr.contains("needs --registry-host"),
        "{without_host:?}"
    );
    let without_user = issue(&keys, &out, &["--registry-password", "p"]);
    assert_eq!(without_user.code, 2, "{without_user:?}");
    let both = issue(
        &keys,
        &out,
        &[
            "--registry-host",
            "registry.example.com",
            "--registry-user",
            "u",
            "--registry-password",
            "p",
            "--registry-password-file",
            path_arg(&file),
        ],
    );
    assert_eq!(both.code, 2, "{both:?}");

    // Without a registry user the environment is not consulted and nothing is stored.
    let run = airgap_with_env(
        [
            "license",
            "issue",
            "--key",
            path_arg(&keys.join("vendor.key")),
            "--customer",
            "c",
            "--app",
            "demo",
            "--channel",
            "stable",
            "--expires",
            "2030-01-01",
            "--out",
            path_arg(&out),
        ],
        &[("OUTPOST_REGISTRY_PASSWORD", "ignored")],
    );
    ok(run);
    assert_eq!(password_of(&out), None);
}

#[test]
fn license_issue_refuses_what_a_console_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let out = dir.path().join("license.json");
    let cases: &[(&[&str], &str)] = &[
        (&["--expires", "2020-01-01"], "is in the past"),
        (
            &["--expires", "someday"],
            "neither YYYY-MM-DD nor an RFC 3339 time",
        ),
        (&["--license-id", "../x"], "--license-id"),
        (&["--entitlement", "seats"], "not KEY=VALUE"),
        (
            &["--entitlement", "seats=1", "--entitlement", "seats=2"],
            "given twice",
        ),
        (&["--max-nodes", "0"], "max_nodes must be at least 1"),
        (
            &["--api-host", "updates.example.com"],
            "must be an http(s) URL",
        ),
    ];
    for (extra, reason) in cases {
        let run = issue(&keys, &out, extra);
        assert_eq!(run.code, 2, "{extra:?}: {run:?}");
        assert!(run.stderr.contains(reason), "{extra:?}: {run:?}");
        assert!(!out.exists(), "{extra:?} wrote a license");
    }
}

#[test]
fn flipping_any_byte_of_a_license_makes_verify_fail_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let license_path = dir.path().join("license.json");
    ok(issue(
        &keys,
        &license_path,
        &["--license-id", "flip", "--entitlement", "seats=1"],
    ));
    let pubkey = keys.join("vendor.pub");
    ok(verify(&license_path, &pubkey, &[]));

    let original = std::fs::read(&license_path).unwrap();
    assert!(original.len() < 4096, "the loop below runs once per byte");
    let flipped_path = dir.path().join("flipped.json");
    let mut codes = std::collections::BTreeSet::new();
    for position in 0..original.len() {
        // Bit 0: the flipped byte mostly stays printable ASCII, so the damage reaches
        // past the JSON parser into base64, key ids and signatures.
        let mut flipped = original.clone();
        flipped[position] ^= 0x01;
        std::fs::write(&flipped_path, &flipped).unwrap();
        let run = verify(&flipped_path, &pubkey, &[]);
        assert!(
            (10..=19).contains(&run.code),
            "byte {position} ({:?} → {:?}): expected a verification failure, got {run:?}",
            original[position] as char,
            flipped[position] as char,
        );
        assert!(
            run.stderr.starts_with("verify: ") && run.stderr.trim().len() > "verify:".len(),
            "byte {position}: {run:?}"
        );
        assert!(run.stdout.is_empty(), "byte {position}: {run:?}");
        codes.insert(run.code);
    }
    // The flips reach past the JSON parser: into the payload type, the key id, the
    // base64 and the signature check.
    for code in [11, 14, 15, 16] {
        assert!(
            codes.contains(&code),
            "no flip gave exit code {code}: {codes:?}"
        );
    }
}

#[test]
fn verify_reports_unreadable_files_and_bad_keys_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let license_path = dir.path().join("license.json");
    ok(issue(&keys, &license_path, &[]));

    let missing = verify(&dir.path().join("nope.json"), &keys.join("vendor.pub"), &[]);
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(missing.stderr.contains("cannot read"), "{missing:?}");

    let private_as_public = verify(&license_path, &keys.join("vendor.key"), &[]);
    assert_eq!(private_as_public.code, 2, "{private_as_public:?}");
    assert!(
        private_as_public
            .stderr
            .contains("not an Outpost public key"),
        "{private_as_public:?}"
    );

    let not_an_index = verify(
        &license_path,
        &keys.join("vendor.pub"),
        &["--min-index-version", "3"],
    );
    assert_eq!(not_an_index.code, 2, "{not_an_index:?}");
    assert!(not_an_index.stderr.contains("applies to channel indexes"));
}

fn demo_release(sequence: u64, channel: &str) -> Release {
    Release {
        schema: 1,
        app_id: "demo".into(),
        channel: channel.into(),
        sequence,
        version: format!("1.{sequence}.0"),
        notes: format!("Release {sequence}.\nMore notes."),
        required: false,
        created_at: datetime!(2026-05-01 10:00 UTC),
        files: BTreeMap::from([
            (
                "compose.yaml".to_owned(),
                "services:\n  web:\n    image: nginx:1.25\n".to_owned(),
            ),
            ("outpost.yaml".to_owned(), "app: demo\n".to_owned()),
        ]),
        images: vec![ImagePin {
            reference: "docker.io/library/nginx:1.25".into(),
            digest: format!("sha256:{}", "ab".repeat(32)),
            platform: "linux/amd64".into(),
        }],
    }
}

fn write_release(dir: &Path, key: &SigningKey, release: &Release, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, seal(release, key).to_bytes()).unwrap();
    path
}

fn publish(root: &Path, release: &Path, keys: &Path) -> Run {
    airgap([
        "channel",
        "publish",
        "--root",
        path_arg(root),
        "--release",
        path_arg(release),
        "--key",
        path_arg(&keys.join("vendor.key")),
    ])
}

#[test]
fn channel_publish_lists_releases_in_sequence_and_refuses_rollbacks() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let key = SigningKey::read(&keys.join("vendor.key")).unwrap();
    let pubkey = keys.join("vendor.pub");
    let root = dir.path().join("vendor");
    let index_path = root.join("channels/demo/stable/index.json");

    let first = write_release(dir.path(), &key, &demo_release(1, "stable"), "r1.json");
    let run = ok(publish(&root, &first, &keys));
    assert!(run.stdout.contains("index version 1"), "{run:?}");
    assert_eq!(
        std::fs::read(root.join("releases/demo/1.json")).unwrap(),
        std::fs::read(&first).unwrap()
    );

    let second = write_release(dir.path(), &key, &demo_release(2, "stable"), "r2.json");
    ok(publish(&root, &second, &keys));
    let index: ChannelIndex = open(
        &std::fs::read(&index_path).unwrap(),
        &key.public(),
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(index.version, 2);
    let digest = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(std::fs::read(&second).unwrap()))
    );
    assert_eq!(
        index.releases,
        [
            IndexEntry {
                sequence: 1,
                version: "1.1.0".into(),
                digest: index.releases[0].digest.clone(),
                required: false,
            },
            IndexEntry {
                sequence: 2,
                version: "1.2.0".into(),
                digest,
                required: false,
            }
        ]
    );
    let shown = ok(verify(&index_path, &pubkey, &["--min-index-version", "2"]));
    for expected in [
        "Verified channel index",
        "version",
        "1 1.1.0 sha256:",
        "2 1.2.0 sha256:",
    ] {
        assert!(shown.stdout.contains(expected), "{expected:?} in {shown:?}");
    }
    let rollback = verify(&index_path, &pubkey, &["--min-index-version", "3"]);
    assert_eq!(rollback.code, 19, "{rollback:?}");
    assert!(rollback.stderr.contains("rollback refused"), "{rollback:?}");

    // Publishing the same release again refreshes the index.
    let again = ok(publish(&root, &second, &keys));
    assert!(again.stdout.contains("already listed"), "{again:?}");
    assert!(again.stdout.contains("index version 3"), "{again:?}");

    // An older sequence, or a listed sequence with other content, is refused; nothing changes.
    let before = std::fs::read(&index_path).unwrap();
    let mut changed = demo_release(2, "stable");
    changed.notes = "Changed after publication.".into();
    let changed = write_release(dir.path(), &key, &changed, "r2-changed.json");
    let refused = publish(&root, &changed, &keys);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("needs a new sequence"),
        "{refused:?}"
    );
    let mut old = demo_release(1, "stable");
    old.version = "0.9.0".into();
    let old = write_release(dir.path(), &key, &old, "r1-other.json");
    let refused = publish(&root, &old, &keys);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert_eq!(std::fs::read(&index_path).unwrap(), before);

    // A release signed by another key does not verify with the publishing key.
    let stranger = SigningKey::generate();
    let foreign = write_release(dir.path(), &stranger, &demo_release(3, "stable"), "r3.json");
    let refused = publish(&root, &foreign, &keys);
    assert_eq!(refused.code, 15, "{refused:?}");
    assert!(
        refused.stderr.contains("signed by an unknown key"),
        "{refused:?}"
    );
    assert_eq!(std::fs::read(&index_path).unwrap(), before);
}

fn revoke(root: &Path, key: &Path, license_id: &str, reason: &str) -> Run {
    airgap([
        "license",
        "revoke",
        "--root",
        path_arg(root),
        "--key",
        path_arg(key),
        "--license-id",
        license_id,
        "--reason",
        reason,
    ])
}

/// The `verify` output row that starts with `label`.
fn summary_row<'a>(run: &'a Run, label: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|line| line.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} row in {run:?}"))
}

#[test]
fn license_revoke_re_signs_the_stored_license_once_and_only_with_its_vendor_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let key_file = keys.join("vendor.key");
    let pubkey = keys.join("vendor.pub");
    let trusted = PublicKey::read(&pubkey).unwrap();
    let root = dir.path().join("vendor");
    let handed_out = dir.path().join("acme.license");
    let root_flag = ["--root", path_arg(&root)];
    ok(issue(
        &keys,
        &handed_out,
        &[&["--license-id", "acme-0002"][..], &root_flag].concat(),
    ));
    let stored = root.join("licenses/acme-0002.json");
    let open_license = |path: &Path| -> License {
        open(
            &std::fs::read(path).unwrap(),
            &trusted,
            OffsetDateTime::now_utc(),
        )
        .unwrap()
    };
    let issued = open_license(&stored);

    let before = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let run = ok(revoke(
        &root,
        &key_file,
        "acme-0002",
        "Contract ended on 2026-04-30",
    ));
    assert!(
        run.stdout
            .contains("Revoked license acme-0002 of Acme Corp"),
        "{run:?}"
    );

    // The same license signed again: revoked, and issued at the revocation so a console
    // takes it over the copy it holds.
    let revoked = open_license(&stored);
    let revocation = revoked
        .revoked
        .clone()
        .expect("the stored license is revoked");
    assert_eq!(revocation.reason, "Contract ended on 2026-04-30");
    assert!(
        before <= revocation.at && revocation.at <= OffsetDateTime::now_utc(),
        "{revocation:?}"
    );
    assert_eq!(revoked.issued_at, revocation.at);
    assert_eq!(
        License {
            issued_at: issued.issued_at,
            revoked: None,
            ..revoked.clone()
        },
        issued
    );
    let mode = std::fs::metadata(&stored).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "a stored license stays private");

    let shown = ok(verify(&stored, &pubkey, &[]));
    let at = revocation
        .at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_eq!(
        summary_row(&shown, "REVOKED").trim(),
        format!("REVOKED       {at}: Contract ended on 2026-04-30"),
        "{shown:?}"
    );
    let copy = ok(verify(&handed_out, &pubkey, &[]));
    assert!(!copy.stdout.contains("REVOKED"), "{copy:?}");

    // Revoking twice, or a license the vendor dir does not hold, is refused; nothing changes.
    let bytes = std::fs::read(&stored).unwrap();
    let again = revoke(&root, &key_file, "acme-0002", "Revoked again");
    assert_eq!(again.code, 1, "{again:?}");
    assert!(
        again.stderr.contains("already revoked") && again.stderr.contains("Contract ended"),
        "{again:?}"
    );
    assert_eq!(std::fs::read(&stored).unwrap(), bytes);
    let unknown = revoke(&root, &key_file, "acme-9999", "Never issued");
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.contains("no license acme-9999 is stored"),
        "{unknown:?}"
    );
    assert!(!root.join("licenses/acme-9999.json").exists());

    // An expired license is refused too: consoles take no updates for it anyway.
    let key = SigningKey::read(&key_file).unwrap();
    let expired_path = root.join("licenses/old-0001.json");
    let expired = License {
        license_id: "old-0001".into(),
        issued_at: datetime!(2020-01-01 00:00 UTC),
        expires_at: datetime!(2021-01-01 00:00 UTC),
        ..fixture_license(&key)
    };
    std::fs::write(&expired_path, seal(&expired, &key).to_bytes()).unwrap();
    let bytes = std::fs::read(&expired_path).unwrap();
    let refused = revoke(&root, &key_file, "old-0001", "Too late");
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("already expired"), "{refused:?}");
    assert_eq!(std::fs::read(&expired_path).unwrap(), bytes);

    // A blank reason is bad usage; another vendor's key does not verify the stored license.
    ok(issue(
        &keys,
        &dir.path().join("beta.license"),
        &[&["--license-id", "acme-0003"][..], &root_flag].concat(),
    ));
    let current = root.join("licenses/acme-0003.json");
    let bytes = std::fs::read(&current).unwrap();
    let blank = revoke(&root, &key_file, "acme-0003", "  ");
    assert_eq!(blank.code, 2, "{blank:?}");
    assert!(blank.stderr.contains("--reason"), "{blank:?}");
    let other = keygen(&dir.path().join("other"));
    let foreign = revoke(&root, &other.join("vendor.key"), "acme-0003", "Not mine");
    assert_eq!(foreign.code, 15, "{foreign:?}");
    assert!(
        foreign.stderr.contains("signed by an unknown key"),
        "{foreign:?}"
    );
    assert_eq!(std::fs::read(&current).unwrap(), bytes);
    assert_eq!(open_license(&current).revoked, None);
}

/// `channel advise` for the demo app's stable channel.
fn advise(root: &Path, keys: &Path, extra: &[&str]) -> Run {
    let key = keys.join("vendor.key");
    let mut args = vec![
        "channel",
        "advise",
        "--root",
        path_arg(root),
        "--key",
        path_arg(&key),
        "--app",
        "demo",
        "--channel",
        "stable",
    ];
    args.extend_from_slice(extra);
    airgap(args)
}

#[test]
fn channel_advise_adds_replaces_and_checks_advisories_in_the_next_index() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let key = SigningKey::read(&keys.join("vendor.key")).unwrap();
    let pubkey = keys.join("vendor.pub");
    let root = dir.path().join("vendor");
    let index_path = root.join("channels/demo/stable/index.json");
    let open_index = || -> ChannelIndex {
        open(
            &std::fs::read(&index_path).unwrap(),
            &key.public(),
            OffsetDateTime::now_utc(),
        )
        .unwrap()
    };
    let title = "Remote code execution in the web service";
    let rce = [
        "--id",
        "OSA-2026-0001",
        "--severity",
        "high",
        "--title",
        title,
        "--affects",
        "1",
        "--fixed-in",
        "2",
    ];

    // A channel without an index has nothing to advise about.
    std::fs::create_dir_all(&root).unwrap();
    let refused = advise(&root, &keys, &rce);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("no index yet"), "{refused:?}");
    assert!(!index_path.exists());

    for sequence in [1, 2] {
        let release = demo_release(sequence, "stable");
        let file = write_release(dir.path(), &key, &release, &format!("r{sequence}.json"));
        ok(publish(&root, &file, &keys));
    }
    let published = open_index();
    assert_eq!(published.version, 2);
    assert!(published.advisories.is_empty());

    let before = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let run = ok(advise(&root, &keys, &rce));
    assert!(
        run.stdout
            .contains("Advisory OSA-2026-0001 (high) published for demo stable"),
        "{run:?}"
    );
    assert!(run.stdout.contains("version 3"), "{run:?}");
    let advised = open_index();
    assert_eq!(advised.version, published.version + 1);
    assert_eq!(advised.releases, published.releases);
    let published_at = advised.advisories[0].published_at;
    assert!(before <= published_at && published_at <= OffsetDateTime::now_utc());
    assert_eq!(
        advised.advisories,
        [Advisory {
            id: "OSA-2026-0001".into(),
            severity: Severity::High,
            title: title.into(),
            text: String::new(),
            affected: vec![1],
            fixed_in: Some(2),
            published_at,
        }]
    );
    let shown = ok(verify(&index_path, &pubkey, &["--min-index-version", "3"]));
    assert_eq!(
        summary_row(&shown, "advisories").trim(),
        format!("advisories    OSA-2026-0001 high affects 1, fixed in 2: {title}"),
        "{shown:?}"
    );

    // The same id again replaces the advisory.
    let run = ok(advise(
        &root,
        &keys,
        &[
            "--id",
            "OSA-2026-0001",
            "--severity",
            "critical",
            "--title",
            "Unauthenticated remote code execution",
            "--text",
            "Update to 1.2.0.",
            "--affects",
            "1",
            "--fixed-in",
            "2",
        ],
    ));
    assert!(run.stdout.contains("(critical) replaced"), "{run:?}");
    let replaced = open_index();
    assert_eq!(replaced.version, 4);
    assert_eq!(replaced.advisories.len(), 1, "{:?}", replaced.advisories);
    let advisory = &replaced.advisories[0];
    assert_eq!(
        (
            advisory.severity,
            advisory.title.as_str(),
            advisory.text.as_str()
        ),
        (
            Severity::Critical,
            "Unauthenticated remote code execution",
            "Update to 1.2.0."
        )
    );
    let shown = ok(verify(&index_path, &pubkey, &[]));
    assert!(
        shown.stdout.contains("OSA-2026-0001 critical affects 1") && !shown.stdout.contains(title),
        "{shown:?}"
    );

    // A release that both is affected and fixes it, a severity clap does not know and a
    // missing --affects are refused; the index does not change.
    let bytes = std::fs::read(&index_path).unwrap();
    let contradiction = advise(
        &root,
        &keys,
        &[
            "--id",
            "OSA-2026-0002",
            "--severity",
            "low",
            "--title",
            "Verbose logs",
            "--affects",
            "1-2,4",
            "--fixed-in",
            "2",
        ],
    );
    assert_eq!(contradiction.code, 19, "{contradiction:?}");
    assert!(
        contradiction
            .stderr
            .contains("sequence 2 cannot both be affected and fix it"),
        "{contradiction:?}"
    );
    assert_eq!(std::fs::read(&index_path).unwrap(), bytes);
    let unknown_severity = advise(
        &root,
        &keys,
        &[
            "--id",
            "OSA-2026-0002",
            "--severity",
            "urgent",
            "--title",
            "Verbose logs",
            "--affects",
            "1",
        ],
    );
    assert_eq!(unknown_severity.code, 2, "{unknown_severity:?}");
    assert!(
        unknown_severity.stderr.contains("is not a severity"),
        "{unknown_severity:?}"
    );
    let no_affects = advise(
        &root,
        &keys,
        &[
            "--id",
            "OSA-2026-0002",
            "--severity",
            "low",
            "--title",
            "Verbose logs",
        ],
    );
    assert_eq!(no_affects.code, 2, "{no_affects:?}");
    assert!(no_affects.stderr.contains("--affects"), "{no_affects:?}");
    assert_eq!(std::fs::read(&index_path).unwrap(), bytes);

    // Publishing the next release keeps the advisories.
    let third = write_release(dir.path(), &key, &demo_release(3, "stable"), "r3.json");
    ok(publish(&root, &third, &keys));
    let next = open_index();
    assert_eq!(next.version, 5);
    assert_eq!(next.advisories, replaced.advisories);
}

#[test]
fn verify_shows_releases_and_key_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let key = SigningKey::read(&keys.join("vendor.key")).unwrap();
    let pubkey = keys.join("vendor.pub");

    let release = write_release(dir.path(), &key, &demo_release(7, "beta"), "r.json");
    let run = ok(verify(&release, &pubkey, &[]));
    for expected in [
        "Verified release",
        "beta",
        "1.7.0",
        "compose.yaml (",
        "outpost.yaml (",
        &format!(
            "docker.io/library/nginx:1.25@sha256:{} (linux/amd64)",
            "ab".repeat(32)
        ),
        "Release 7.",
    ] {
        assert!(run.stdout.contains(expected), "{expected:?} in {run:?}");
    }

    let next = SigningKey::generate();
    let rotation = KeyRotation {
        schema: 1,
        old_keyid: key.public().keyid(),
        new_key: next.public().to_base64(),
        issued_at: datetime!(2026-05-01 10:00 UTC),
    };
    let path = dir.path().join("rotation.json");
    std::fs::write(&path, seal(&rotation, &key).to_bytes()).unwrap();
    let run = ok(verify(&path, &pubkey, &[]));
    assert!(run.stdout.contains(&next.public().keyid()), "{run:?}");

    let mut lying = rotation.clone();
    lying.old_keyid = "00".repeat(32);
    std::fs::write(&path, seal(&lying, &key).to_bytes()).unwrap();
    let run = verify(&path, &pubkey, &[]);
    assert_eq!(run.code, 19, "{run:?}");
}

/// `key rotate --key OLD --new-key NEW --out OUT` with `extra` flags.
fn rotate(old: &Path, new: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "key",
        "rotate",
        "--key",
        path_arg(old),
        "--new-key",
        path_arg(new),
        "--out",
        path_arg(out),
    ];
    args.extend_from_slice(extra);
    airgap(args)
}

#[test]
fn key_rotate_signs_a_rotation_with_the_old_key_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let old_keys = keygen(dir.path());
    let new_keys = keygen(&dir.path().join("next"));
    let (old_key, new_key) = (old_keys.join("vendor.key"), new_keys.join("vendor.key"));
    let old_id = PublicKey::read(&old_keys.join("vendor.pub"))
        .unwrap()
        .keyid();
    let new_id = PublicKey::read(&new_keys.join("vendor.pub"))
        .unwrap()
        .keyid();
    let root = dir.path().join("vendor");
    let out = dir.path().join("rotation.json");

    let run = ok(rotate(
        &old_key,
        &new_key,
        &out,
        &["--root", path_arg(&root)],
    ));
    assert!(
        run.stdout
            .contains(&format!("Key rotation from {old_id} to {new_id}")),
        "{run:?}"
    );
    assert!(run.stdout.contains("with the new key"), "{run:?}");
    let stored = root.join(format!("keys/rotations/{old_id}.json"));
    assert!(run.stdout.contains(path_arg(&stored)), "{run:?}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(std::fs::read(&stored).unwrap(), bytes);
    assert_eq!(
        PublicKey::read(&root.join(format!("keys/{old_id}.pub"))).unwrap(),
        PublicKey::read(&old_keys.join("vendor.pub")).unwrap()
    );
    let mode = std::fs::metadata(&out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "a rotation is public");

    // It verifies with the old public key, and only with it.
    let shown = ok(verify(&out, &old_keys.join("vendor.pub"), &[]));
    assert!(shown.stdout.contains("Verified key rotation"), "{shown:?}");
    assert!(
        summary_row(&shown, "old key").contains(&old_id),
        "{shown:?}"
    );
    assert!(
        summary_row(&shown, "new key").contains(&new_id),
        "{shown:?}"
    );
    let refused = verify(&out, &new_keys.join("vendor.pub"), &[]);
    assert_eq!(refused.code, 15, "{refused:?}");
    let rotation: KeyRotation = open(
        &bytes,
        &PublicKey::read(&old_keys.join("vendor.pub")).unwrap(),
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(rotation.old_keyid, old_id);

    // Never overwrites --out, and a key is rotated once in a vendor dir.
    let again = rotate(&old_key, &new_key, &out, &[]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("already exists"), "{again:?}");
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    let elsewhere = dir.path().join("rotation-2.json");
    let again = rotate(&old_key, &new_key, &elsewhere, &["--root", path_arg(&root)]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("rotated once"), "{again:?}");
    assert!(!elsewhere.exists());
    assert_eq!(std::fs::read(&stored).unwrap(), bytes);

    // The same key on both sides is refused, and nothing is written.
    let same = dir.path().join("same.json");
    let refused = rotate(&old_key, &old_key, &same, &[]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("the same key"), "{refused:?}");
    assert!(!same.exists());
}

#[test]
fn after_a_rotation_the_new_key_publishes_on_top_of_the_old_keys_index() {
    let dir = tempfile::tempdir().unwrap();
    let old_keys = keygen(dir.path());
    let new_keys = keygen(&dir.path().join("next"));
    let old = SigningKey::read(&old_keys.join("vendor.key")).unwrap();
    let new = SigningKey::read(&new_keys.join("vendor.key")).unwrap();
    let root = dir.path().join("vendor");
    let bare = dir.path().join("bare");

    let first = write_release(dir.path(), &old, &demo_release(1, "stable"), "r1.json");
    ok(publish(&root, &first, &old_keys));
    ok(publish(&bare, &first, &old_keys));
    ok(rotate(
        &old_keys.join("vendor.key"),
        &new_keys.join("vendor.key"),
        &dir.path().join("rotation.json"),
        &["--root", path_arg(&root)],
    ));

    let second = write_release(dir.path(), &new, &demo_release(2, "stable"), "r2.json");
    // Without the rotation in the vendor dir the old key's index is an unknown key's.
    let refused = publish(&bare, &second, &new_keys);
    assert_eq!(refused.code, 15, "{refused:?}");
    assert!(
        refused.stderr.contains("signed by an unknown key"),
        "{refused:?}"
    );
    assert!(refused.stderr.contains("no key rotation"), "{refused:?}");

    let run = ok(publish(&root, &second, &new_keys));
    assert!(run.stdout.contains("index version 2"), "{run:?}");
    let index: ChannelIndex = open(
        &std::fs::read(root.join("channels/demo/stable/index.json")).unwrap(),
        &new.public(),
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(
        index
            .releases
            .iter()
            .map(|e| e.sequence)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    // The old key signs no more indexes here.
    let third = write_release(dir.path(), &old, &demo_release(3, "stable"), "r3.json");
    let refused = publish(&root, &third, &old_keys);
    assert_eq!(refused.code, 15, "{refused:?}");
}

#[test]
fn release_create_is_dispatched() {
    let run = ok(airgap(["release", "create", "--help"]));
    assert!(run.stdout.contains("--sequence"), "{run:?}");
}

// ---- Attack fixtures ------------------------------------------------------------------

/// The fixture folder in the source tree.
fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/envelope")
}

/// One attack: a document, the key to verify it with, and what `verify` must say.
struct Fixture {
    name: &'static str,
    about: &'static str,
    file_name: &'static str,
    document: Vec<u8>,
    pubkey: PublicKey,
    args: &'static str,
    exit: u8,
    reason: &'static str,
}

impl Fixture {
    fn expected_txt(&self) -> String {
        let mut text = format!("# {}\nfile: {}\n", self.about, self.file_name);
        if !self.args.is_empty() {
            text.push_str(&format!("args: {}\n", self.args));
        }
        text.push_str(&format!("exit: {}\nreason: {}\n", self.exit, self.reason));
        text
    }

    fn write(&self, root: &Path) {
        let dir = root.join(self.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(self.file_name), &self.document).unwrap();
        std::fs::write(dir.join("vendor.pub"), self.pubkey.to_text()).unwrap();
        std::fs::write(dir.join("expected.txt"), self.expected_txt()).unwrap();
    }
}

/// A fixed key for fixtures only, derived from its name: fixtures are then the same
/// bytes every time (ed25519 signatures are deterministic). Never trust these keys.
fn fixture_key(name: &str) -> SigningKey {
    let seed = Sha256::digest(format!("outpost fixture-only key: {name}"));
    let text = format!("OUTPOST-ED25519-PRIVATE-KEY {}", STANDARD.encode(seed));
    SigningKey::from_text(&text, "fixture key").unwrap()
}

fn fixture_license(key: &SigningKey) -> License {
    License {
        schema: 1,
        license_id: "fixture-0001".into(),
        customer: "Fixture Customer".into(),
        app_id: "demo".into(),
        channel: "stable".into(),
        issued_at: datetime!(2026-01-01 00:00 UTC),
        expires_at: datetime!(2099-12-31 23:59:59 UTC),
        entitlements: BTreeMap::from([("seats".to_owned(), "10".to_owned())]),
        airgap: true,
        max_nodes: Some(3),
        api_host: Some("https://updates.example.com".into()),
        registry: Some(RegistryCredentials {
            host: Some("registry.example.com".into()),
            username: "fixture".into(),
            password: "fixture-only-password".into(),
        }),
        vendor_key: key.public().to_base64(),
        revoked: None,
    }
}

fn fixture_index(version: u64, expires_at: OffsetDateTime) -> ChannelIndex {
    ChannelIndex {
        schema: 1,
        app_id: "demo".into(),
        channel: "stable".into(),
        version,
        expires_at,
        releases: vec![IndexEntry {
            sequence: 1,
            version: "1.0.0".into(),
            digest: format!("sha256:{}", "0".repeat(64)),
            required: false,
        }],
        advisories: Vec::new(),
    }
}

/// Every attack fixture, built from fixed keys and times.
fn fixtures() -> Vec<Fixture> {
    let vendor = fixture_key("vendor");
    let other = fixture_key("other");
    let license = fixture_license(&vendor);
    let sealed = seal(&license, &vendor);
    let fixture = |name, about, file_name, document: Vec<u8>, exit, reason| Fixture {
        name,
        about,
        file_name,
        document,
        pubkey: vendor.public(),
        args: "",
        exit,
        reason,
    };

    let tampered_payload = {
        let mut envelope = sealed.clone();
        let payload = String::from_utf8(envelope.payload_unverified().unwrap()).unwrap();
        let changed = payload.replace("\"max_nodes\":3", "\"max_nodes\":300");
        assert_ne!(payload, changed);
        envelope.payload = STANDARD.encode(changed);
        envelope
    };
    let tampered_signature = {
        let mut envelope = sealed.clone();
        let mut sig = STANDARD.decode(&envelope.signatures[0].sig).unwrap();
        sig[10] ^= 0x01;
        envelope.signatures[0].sig = STANDARD.encode(sig);
        envelope
    };
    let expired_license = License {
        issued_at: datetime!(2020-01-01 00:00 UTC),
        expires_at: datetime!(2021-01-01 00:00 UTC),
        ..license.clone()
    };
    let duplicate = {
        let mut envelope = sealed.clone();
        let again: Signature = envelope.signatures[0].clone();
        envelope.signatures.push(again);
        envelope
    };
    let oversized = License {
        // A signed, otherwise valid license, just too large for its type.
        entitlements: BTreeMap::from([("padding".to_owned(), "x".repeat(50_000))]),
        ..license.clone()
    };
    let malformed_base64 = {
        let mut envelope = sealed.clone();
        envelope.payload.insert(20, '!');
        envelope
    };
    let malformed_json = {
        let bytes = sealed.to_bytes();
        bytes[..bytes.len() / 2].to_vec()
    };
    let traversal = {
        let mut release = Release {
            schema: 1,
            app_id: "demo".into(),
            channel: "stable".into(),
            sequence: 1,
            version: "1.0.0".into(),
            notes: String::new(),
            required: false,
            created_at: datetime!(2026-01-01 00:00 UTC),
            files: BTreeMap::new(),
            images: Vec::new(),
        };
        for (path, content) in [
            ("compose.yaml", "services: {}\n"),
            ("outpost.yaml", "app: demo\n"),
            ("../../etc/passwd", "root::0:0:root:/root:/bin/sh\n"),
        ] {
            release.files.insert(path.into(), content.into());
        }
        release
    };

    vec![
        fixture(
            "wrong-key",
            "A valid license signed by another key than the trusted vendor.pub.",
            "license.json",
            seal(
                &License {
                    vendor_key: other.public().to_base64(),
                    ..license.clone()
                },
                &other,
            )
            .to_bytes(),
            15,
            "signed by an unknown key",
        ),
        fixture(
            "tampered-payload",
            "The license payload changed after signing (max_nodes 3 -> 300), signature kept.",
            "license.json",
            tampered_payload.to_bytes(),
            16,
            "bad signature",
        ),
        fixture(
            "tampered-signature",
            "One bit of the signature flipped; still 64 bytes of valid base64.",
            "license.json",
            tampered_signature.to_bytes(),
            16,
            "bad signature",
        ),
        fixture(
            "expired-license",
            "A correctly signed license that expired on 2021-01-01.",
            "license.json",
            seal(&expired_license, &vendor).to_bytes(),
            18,
            "the license expired at 2021-01-01T00:00:00Z",
        ),
        fixture(
            "expired-index",
            "A correctly signed channel index that expired on 2021-01-01 (freeze attack).",
            "index.json",
            seal(&fixture_index(5, datetime!(2021-01-01 00:00 UTC)), &vendor).to_bytes(),
            18,
            "the channel index expired at 2021-01-01T00:00:00Z",
        ),
        Fixture {
            args: "--min-index-version 4",
            ..fixture(
                "older-index-version",
                "A valid index of version 3 offered after version 4 was seen (rollback attack).",
                "index.json",
                seal(&fixture_index(3, datetime!(2099-12-31 00:00 UTC)), &vendor).to_bytes(),
                19,
                "index version 3 is older than version 4 already seen (rollback refused)",
            )
        },
        fixture(
            "duplicate-signature",
            "The same signature listed twice, as if two keys had signed.",
            "license.json",
            duplicate.to_bytes(),
            17,
            "duplicate signature by key",
        ),
        fixture(
            "unknown-payload-type",
            "A correctly signed envelope whose payload is not an Outpost document.",
            "document.json",
            Envelope::sign(
                "application/vnd.example.other+json",
                b"{\"hello\":\"world\"}",
                &vendor,
            )
            .to_bytes(),
            14,
            "unknown payload type \"application/vnd.example.other+json\"",
        ),
        fixture(
            "oversized",
            "A correctly signed license over the 64 KiB license limit.",
            "license.json",
            seal(&oversized, &vendor).to_bytes(),
            10,
            "over the 65536-byte limit",
        ),
        fixture(
            "malformed-base64",
            "A '!' inserted into the payload's base64.",
            "license.json",
            malformed_base64.to_bytes(),
            12,
            "malformed base64 in the envelope's payload",
        ),
        fixture(
            "malformed-json",
            "The first half of a license file: not JSON.",
            "license.json",
            malformed_json,
            11,
            "malformed envelope",
        ),
        fixture(
            "app-file-path-traversal",
            "A correctly signed release whose files map writes to ../../etc/passwd.",
            "release.json",
            seal(&traversal, &vendor).to_bytes(),
            19,
            "application file \"../../etc/passwd\": '.' and '..' are not allowed",
        ),
    ]
}

/// The committed fixtures are exactly what `fixtures()` writes. With
/// `OUTPOST_WRITE_FIXTURES=1` this (re)writes them instead.
#[test]
fn fixtures_are_what_the_generator_writes() {
    let root = fixture_root();
    if std::env::var_os("OUTPOST_WRITE_FIXTURES").is_some() {
        for fixture in fixtures() {
            let dir = root.join(fixture.name);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).unwrap();
            }
            fixture.write(&root);
        }
    }
    let generated = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for fixture in fixtures() {
        fixture.write(generated.path());
        names.push(fixture.name.to_owned());
        for file in [fixture.file_name, "vendor.pub", "expected.txt"] {
            let committed = std::fs::read(root.join(fixture.name).join(file)).unwrap_or_default();
            let fresh = std::fs::read(generated.path().join(fixture.name).join(file)).unwrap();
            assert!(
                committed == fresh,
                "{}/{file} differs from what the generator writes; rerun with OUTPOST_WRITE_FIXTURES=1",
                fixture.name
            );
        }
    }
    let mut committed: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().unwrap().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    committed.sort();
    names.sort();
    assert_eq!(
        committed, names,
        "fixture folders without a generator entry"
    );
}

/// Every committed fixture fails `verify` with its own reason and exit code.
#[test]
fn each_fixture_fails_verify_with_its_reason_and_exit_code() {
    let root = fixture_root();
    let mut seen = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
        let field = |name: &str| {
            expected
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{name}: ")))
                .map(str::to_owned)
        };
        let file = dir.join(field("file").expect("expected.txt names the file"));
        let exit: i32 = field("exit").unwrap().parse().unwrap();
        let reason = field("reason").unwrap();
        let args = field("args").unwrap_or_default();
        let args: Vec<&str> = args.split_whitespace().collect();

        let run = verify(&file, &dir.join("vendor.pub"), &args);
        assert_eq!(run.code, exit, "{}: {run:?}", dir.display());
        assert!(
            run.stderr.starts_with("verify: ") && run.stderr.contains(&reason),
            "{}: expected {reason:?}, got {run:?}",
            dir.display()
        );
        assert!(run.stdout.is_empty(), "{}: {run:?}", dir.display());
        seen += 1;
    }
    assert_eq!(seen, fixtures().len());
}
