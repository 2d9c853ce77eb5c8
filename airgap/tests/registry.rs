//! `airgap::registry` against a real registry and a real Docker engine: Debian's
//! `docker-registry` with htpasswd auth and TLS on a free loopback port, an image built
//! with `docker import` and pushed with `docker push`; and against a scripted fake registry
//! for what the real one cannot show (the Bearer token flow, indexes, hostile answers).
//!
//! The real test needs Docker, `docker-registry`, `/bin/busybox` and root (for
//! `/etc/docker/certs.d`); it fails, loudly, when one is missing. Everything it creates
//! (registry process, image, certs.d entry, temporary files) is removed on drop.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use outpost_airgap::app::reference::ImageRef;
use outpost_airgap::registry::{
    Credentials, Limits, MirrorRule, RegistryError, Resolved, Resolver, ResolverConfig, Secret,
    Source, DOCKER_MANIFEST, OCI_INDEX,
};
use sha2::{Digest, Sha256};

const USER: &str = "outpost-vendor";
const PASSWORD: &str = "s3cret-pull-password";
const WRONG_PASSWORD: &str = "not-the-password-0xdeadbeef";

// ---------------------------------------------------------------------------------------
// The real registry and Docker.

#[test]
fn resolves_an_image_pushed_to_a_real_registry_with_tls_and_htpasswd() {
    let registry = RealRegistry::start();
    let image = PushedImage::build_and_push(&registry);
    let expected = image.docker_repo_digest();
    let runtime = runtime();
    let reference = ImageRef::parse(&image.reference).unwrap();

    // With credentials and the registry's CA: the digest Docker recorded when it pushed.
    let resolver = registry.resolver(Some(PASSWORD), Vec::new());
    let resolved = runtime
        .block_on(resolver.resolve(&reference, Source::Registry))
        .unwrap_or_else(|e| panic!("resolving {reference}: {e}"));
    assert_eq!(resolved.digest, expected);
    assert_eq!(resolved.reference, image.reference);
    assert_eq!(resolved.platform, "linux/amd64");
    assert_eq!(resolved.media_type, DOCKER_MANIFEST);
    assert_eq!(resolved.pin().digest, expected);

    // From the local Docker engine: the same digest, no registry involved.
    let from_docker = runtime
        .block_on(resolver.resolve(&reference, Source::Docker))
        .unwrap_or_else(|e| panic!("resolving {reference} from Docker: {e}"));
    assert_eq!(from_docker.digest, expected);
    assert_eq!(from_docker.platform, "linux/amd64");

    // Through a mirror rule: the vendor's name for the image resolves at the mirror, and
    // the pin keeps the vendor's name.
    let vendor_name = format!("registry.outpost.test/{}:{}", image.repository, image.tag);
    let mirror = MirrorRule::new("registry.outpost.test", &registry.host()).unwrap();
    let mirrored = registry.resolver(Some(PASSWORD), vec![mirror.clone()]);
    let resolved = runtime
        .block_on(mirrored.resolve(&ImageRef::parse(&vendor_name).unwrap(), Source::Registry))
        .unwrap_or_else(|e| panic!("resolving {vendor_name} through the mirror: {e}"));
    assert_eq!(resolved.digest, expected);
    assert_eq!(resolved.reference, vendor_name);
    assert_eq!(
        resolved.resolved_from,
        format!("{}/{}:{}", registry.host(), image.repository, image.tag)
    );
    let from_docker = runtime
        .block_on(mirrored.resolve(&ImageRef::parse(&vendor_name).unwrap(), Source::Docker))
        .unwrap_or_else(|e| panic!("resolving {vendor_name} from Docker through the mirror: {e}"));
    assert_eq!(from_docker.digest, expected);
    assert_eq!(from_docker.reference, vendor_name);

    // `release create` through the same mirror, with the password from a file: the
    // signed release pins the vendor's name to the pushed digest.
    release_create_pins_through_the_mirror(&registry, &vendor_name, &expected);

    // Pinned by digest: the same digest; a digest the registry lacks is not found.
    let by_digest = format!("{}/{}@{expected}", registry.host(), image.repository);
    let resolved = runtime
        .block_on(resolver.resolve(&ImageRef::parse(&by_digest).unwrap(), Source::Registry))
        .unwrap();
    assert_eq!(resolved.digest, expected);
    let absent = format!(
        "{}/{}@sha256:{}",
        registry.host(),
        image.repository,
        "0".repeat(64)
    );
    let error = runtime
        .block_on(resolver.resolve(&ImageRef::parse(&absent).unwrap(), Source::Registry))
        .unwrap_err();
    assert!(matches!(error, RegistryError::NotFound { .. }), "{error}");

    // An unknown tag: not found, naming image and registry.
    let missing = format!("{}/{}:no-such-tag", registry.host(), image.repository);
    let error = runtime
        .block_on(resolver.resolve(&ImageRef::parse(&missing).unwrap(), Source::Registry))
        .unwrap_err();
    assert!(matches!(error, RegistryError::NotFound { .. }), "{error}");
    assert!(error.to_string().contains(&missing), "{error}");
    assert!(error.to_string().contains(&registry.host()), "{error}");

    // No credentials: unauthorized, saying none are configured for that host.
    let anonymous = registry.resolver(None, Vec::new());
    let error = runtime
        .block_on(anonymous.resolve(&reference, Source::Registry))
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains(&image.reference), "{message}");
    assert!(message.contains("none is configured"), "{message}");

    // A wrong password: unauthorized, naming the user, never the password.
    let wrong = registry.resolver(Some(WRONG_PASSWORD), Vec::new());
    let error = runtime
        .block_on(wrong.resolve(&reference, Source::Registry))
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("rejected"), "{message}");
    assert!(message.contains(USER), "{message}");
    assert!(!message.contains(WRONG_PASSWORD), "{message}");
    assert!(!format!("{error:?}").contains(WRONG_PASSWORD));
    assert!(!format!("{wrong:?}").contains(WRONG_PASSWORD));

    // Another CA than the registry's: a TLS error, before any credential is sent.
    let other_ca = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let mut config = registry.config(Some(PASSWORD), Vec::new());
    config
        .ca_pems
        .insert(registry.host(), other_ca.cert.pem().into_bytes());
    let error = runtime
        .block_on(
            Resolver::new(config)
                .unwrap()
                .resolve(&reference, Source::Registry),
        )
        .unwrap_err();
    assert!(matches!(error, RegistryError::Tls { .. }), "{error}");

    // No CA at all: a loopback host is then spoken to in plain HTTP, which a TLS
    // registry refuses; the error says to configure its CA.
    let mut config = registry.config(Some(PASSWORD), Vec::new());
    config.ca_pems.clear();
    let error = runtime
        .block_on(
            Resolver::new(config)
                .unwrap()
                .resolve(&reference, Source::Registry),
        )
        .unwrap_err();
    assert!(error.to_string().contains("configure its CA"), "{error}");

    // Docker's RepoDigests are per repository, not per tag: another local tag of the
    // pushed image pins the same content, which the registry does have (`repo@digest`).
    let retagged = format!("{}/{}:retagged", registry.host(), image.repository);
    docker(&["tag", &image.reference, &retagged]);
    let _untag = Untag(retagged.clone());
    let resolved = runtime
        .block_on(resolver.resolve(&ImageRef::parse(&retagged).unwrap(), Source::Docker))
        .unwrap_or_else(|e| panic!("resolving {retagged} from Docker: {e}"));
    assert_eq!(resolved.digest, expected);

    // An image Docker has locally but never pushed anywhere: no digest to pin.
    let never_pushed = format!(
        "{}/outpost-test/never-pushed:{}",
        registry.host(),
        image.tag
    );
    docker(&["tag", &image.reference, &never_pushed]);
    let _untag_never = Untag(never_pushed.clone());
    let error = runtime
        .block_on(resolver.resolve(&ImageRef::parse(&never_pushed).unwrap(), Source::Docker))
        .unwrap_err();
    assert!(matches!(error, RegistryError::NotPushed { .. }), "{error}");

    // A name Docker does not know.
    let unknown = format!("{}/{}:never-built", registry.host(), image.repository);
    let error = runtime
        .block_on(resolver.resolve(&ImageRef::parse(&unknown).unwrap(), Source::Docker))
        .unwrap_err();
    assert!(matches!(error, RegistryError::Docker { .. }), "{error}");
    assert!(error.to_string().contains("no such local image"), "{error}");
}

/// Runs `outpost-airgap release create` on a one-service app naming `image` and checks the
/// signed release; then once more with a wrong password, which must fail without showing it.
fn release_create_pins_through_the_mirror(registry: &RealRegistry, image: &str, digest: &str) {
    use outpost_airgap::release::Release;
    use outpost_airgap::{open, SigningKey};

    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    fs::create_dir(&app).unwrap();
    fs::write(
        app.join("compose.yaml"),
        format!("services:\n  main:\n    image: {image}\n"),
    )
    .unwrap();
    fs::write(app.join("outpost.yaml"), "app: test-app\nversion: 1.0.0\n").unwrap();
    let key = SigningKey::generate();
    let key_path = dir.path().join("vendor.key");
    key.write_new(&key_path).unwrap();
    let ca = dir.path().join("ca.crt");
    fs::write(&ca, &registry.ca_pem).unwrap();
    let password = dir.path().join("password");
    let out = dir.path().join("release.json");

    let create = |password_text: &str| {
        fs::write(&password, format!("{password_text}\n")).unwrap();
        Command::new(env!("CARGO_BIN_EXE_outpost-airgap"))
            .args([
                "release",
                "create",
                "--channel",
                "stable",
                "--sequence",
                "7",
            ])
            .arg("--app")
            .arg(&app)
            .arg("--key")
            .arg(&key_path)
            .arg("--out")
            .arg(&out)
            .arg("--registry-mirror")
            .arg(format!("registry.outpost.test={}", registry.host()))
            .arg("--registry-auth")
            .arg(format!("{}={USER}:{}", registry.host(), password.display()))
            .arg("--registry-ca")
            .arg(format!("{}={}", registry.host(), ca.display()))
            .output()
            .unwrap()
    };

    let output = create(PASSWORD);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "release create failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(digest), "{stdout}");
    let release: Release = open(
        &fs::read(&out).unwrap(),
        &key.public(),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(release.app_id, "test-app");
    assert_eq!(release.sequence, 7);
    assert_eq!(release.images.len(), 1);
    assert_eq!(release.images[0].reference, image);
    assert_eq!(release.images[0].digest, digest);
    assert_eq!(release.images[0].platform, "linux/amd64");

    fs::remove_file(&out).unwrap();
    let output = create(WRONG_PASSWORD);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("rejected") && stderr.contains(image),
        "{stderr}"
    );
    assert!(!stderr.contains(WRONG_PASSWORD), "{stderr}");
    assert!(!out.exists(), "a failed release create writes nothing");
}

/// `docker-registry serve` with TLS (a CA made here) and htpasswd (bcrypt made here).
struct RealRegistry {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
    ca_pem: String,
    certs_d: PathBuf,
}

impl RealRegistry {
    fn start() -> RealRegistry {
        require_tool("docker", &["version", "--format", "{{.Server.Version}}"]);
        require_tool("docker-registry", &["--version"]);
        assert!(
            Path::new("/bin/busybox").exists(),
            "/bin/busybox is missing: install busybox-static (scripts/dev-setup.sh)"
        );

        let dir = tempfile::tempdir().unwrap();
        let (ca_pem, cert_pem, key_pem) = make_tls();
        fs::write(dir.path().join("server.crt"), cert_pem).unwrap();
        fs::write(dir.path().join("server.key"), key_pem).unwrap();
        let hash = bcrypt::hash(PASSWORD, 5).unwrap();
        fs::write(dir.path().join("htpasswd"), format!("{USER}:{hash}\n")).unwrap();
        fs::create_dir(dir.path().join("storage")).unwrap();

        // The port is chosen free, then handed to the registry; a race with another process
        // shows as the registry failing to start, with its log in the message.
        let port = free_port();
        let config = format!(
            "version: 0.1\n\
             log:\n  level: info\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: outpost-test-{port}\n  tls:\n    certificate: {dir}/server.crt\n    key: {dir}/server.key\n\
             auth:\n  htpasswd:\n    realm: outpost-test\n    path: {dir}/htpasswd\n",
            storage = dir.path().join("storage").display(),
            dir = dir.path().display(),
        );
        let config_path = dir.path().join("config.yml");
        fs::write(&config_path, config).unwrap();
        let log = fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start docker-registry");

        // Docker trusts the registry through certs.d, as the brief of a TLS registry asks.
        let certs_d = PathBuf::from(format!("/etc/docker/certs.d/127.0.0.1:{port}"));
        let mut registry = RealRegistry {
            dir,
            port,
            child,
            ca_pem,
            certs_d,
        };
        fs::create_dir_all(&registry.certs_d).unwrap_or_else(|e| {
            panic!(
                "cannot create {} (the test needs root): {e}",
                registry.certs_d.display()
            )
        });
        fs::write(registry.certs_d.join("ca.crt"), &registry.ca_pem).unwrap();
        registry.wait_until_answering();
        registry
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn config(&self, password: Option<&str>, mirrors: Vec<MirrorRule>) -> ResolverConfig {
        let mut credentials = BTreeMap::new();
        if let Some(password) = password {
            credentials.insert(
                self.host(),
                Credentials {
                    username: USER.into(),
                    password: Secret::new(password),
                },
            );
        }
        let mut ca_pems = BTreeMap::new();
        ca_pems.insert(self.host(), self.ca_pem.clone().into_bytes());
        ResolverConfig {
            mirrors,
            credentials,
            ca_pems,
            ..ResolverConfig::default()
        }
    }

    fn resolver(&self, password: Option<&str>, mirrors: Vec<MirrorRule>) -> Resolver {
        Resolver::new(self.config(password, mirrors)).unwrap()
    }

    /// Polls `/v2/` until it answers 401 (up and asking for credentials), at most 30 s.
    fn wait_until_answering(&mut self) {
        let client = polling_client(&self.ca_pem);
        let url = format!("https://{}/v2/", self.host());
        let runtime = runtime();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "docker-registry exited ({status}) before answering:\n{}",
                    self.log()
                );
            }
            let answer = runtime.block_on(async { client.get(&url).send().await });
            if let Ok(response) = answer {
                assert_eq!(
                    response.status(),
                    401,
                    "the registry should ask for credentials"
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer on {url} within 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for RealRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.certs_d);
    }
}

/// A tiny image (busybox and a file unique to this run), imported, logged in and pushed.
struct PushedImage {
    reference: String,
    repository: String,
    tag: String,
    _docker_config: tempfile::TempDir,
}

impl PushedImage {
    fn build_and_push(registry: &RealRegistry) -> PushedImage {
        let run_id = format!("{}-{}", std::process::id(), nanos());
        let rootfs = tempfile::tempdir().unwrap();
        fs::create_dir_all(rootfs.path().join("bin")).unwrap();
        fs::copy("/bin/busybox", rootfs.path().join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", rootfs.path().join("bin/sh")).unwrap();
        fs::write(rootfs.path().join("run-id"), &run_id).unwrap();
        let tar = rootfs.path().join("rootfs.tar");
        run(
            Command::new("tar")
                .arg("-C")
                .arg(rootfs.path())
                .args(["-cf"])
                .arg(&tar)
                .args(["bin", "run-id"]),
            "tar",
        );

        let repository = "outpost-test/busybox".to_owned();
        let tag = format!("run-{run_id}");
        let reference = format!("{}/{repository}:{tag}", registry.host());
        docker(&[
            "import",
            "--change",
            "CMD [\"/bin/sh\"]",
            tar.to_str().unwrap(),
            &reference,
        ]);
        let image = PushedImage {
            reference,
            repository,
            tag,
            _docker_config: tempfile::tempdir().unwrap(),
        };

        // Login and push with a private Docker config, so the host's stays untouched.
        let config = image._docker_config.path().to_str().unwrap().to_owned();
        let mut login = Command::new("docker");
        login
            .args(["--config", &config, "login", "--username", USER])
            .arg("--password-stdin")
            .arg(registry.host());
        run_with_stdin(&mut login, PASSWORD, "docker login");
        run(
            Command::new("docker").args(["--config", &config, "push", &image.reference]),
            "docker push",
        );
        image
    }

    /// The digest Docker recorded for the push.
    fn docker_repo_digest(&self) -> String {
        let output = docker(&[
            "image",
            "inspect",
            "--format",
            "{{json .RepoDigests}}",
            &self.reference,
        ]);
        let digests: Vec<String> = serde_json::from_slice(&output.stdout).unwrap();
        let prefix = format!("{}@", self.reference.rsplit_once(':').unwrap().0);
        let digest = digests
            .iter()
            .find_map(|d| d.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no RepoDigest for {prefix} in {digests:?}"));
        digest.to_owned()
    }
}

impl Drop for PushedImage {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "--force", &self.reference])
            .output();
    }
}

/// Removes a tag on drop.
struct Untag(String);

impl Drop for Untag {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", &self.0])
            .output();
    }
}

/// A CA, and a server certificate for 127.0.0.1 and localhost signed by it (PEM).
fn make_tls() -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "outpost test registry CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    server_params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let server = server_params.signed_by(&server_key, &ca).unwrap();
    (ca.pem(), server.pem(), server_key.serialize_pem())
}

fn require_tool(tool: &str, args: &[&str]) {
    match Command::new(tool).args(args).output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "`{tool} {}` failed; this test needs it working (scripts/dev-setup.sh): {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(e) => panic!("`{tool}` is missing; this test needs it (scripts/dev-setup.sh): {e}"),
    }
}

fn docker(args: &[&str]) -> Output {
    run(Command::new("docker").args(args), "docker")
}

/// Runs a command to completion within 120 s; panics with its output when it fails.
fn run(command: &mut Command, what: &str) -> Output {
    run_with_stdin(command, "", what)
}

fn run_with_stdin(command: &mut Command, stdin: &str, what: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A client trusting only `ca_pem`, for polling the registry until it answers.
fn polling_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// A scripted fake registry.

/// What the fake registry serves and what it saw.
struct Fake {
    port: u16,
    /// Manifests by `repository/reference`: (content type, body, Docker-Content-Digest).
    manifests: BTreeMap<String, (String, Vec<u8>, Option<String>)>,
    blobs: BTreeMap<String, Vec<u8>>,
    /// The Authorization headers the token endpoint saw.
    token_requests: Mutex<Vec<String>>,
}

const TOKEN_USER: &str = "robot";
const TOKEN_PASSWORD: &str = "token-password-42";

impl Fake {
    /// Starts the fake on a free port; it runs until the test's runtime ends.
    async fn start(build: impl FnOnce(&mut Fake)) -> Arc<Fake> {
        use warp::Filter;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut fake = Fake {
            port,
            manifests: BTreeMap::new(),
            blobs: BTreeMap::new(),
            token_requests: Mutex::new(Vec::new()),
        };
        build(&mut fake);
        let fake = Arc::new(fake);
        let shared = fake.clone();
        let routes = warp::method()
            .and(warp::path::full())
            .and(warp::query::raw().or(warp::any().map(String::new)).unify())
            .and(warp::header::headers_cloned())
            .map(
                move |method, path: warp::path::FullPath, query: String, headers| {
                    shared.answer(&method, path.as_str(), &query, &headers)
                },
            );
        tokio::spawn(warp::serve(routes).incoming(listener).run());
        fake
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn add_manifest(&mut self, repo_ref: &str, content_type: &str, body: Vec<u8>) -> String {
        let digest = sha256(&body);
        let (repository, _) = repo_ref.rsplit_once('/').unwrap();
        self.manifests.insert(
            repo_ref.to_owned(),
            (content_type.to_owned(), body.clone(), Some(digest.clone())),
        );
        self.manifests.insert(
            format!("{repository}/{digest}"),
            (content_type.to_owned(), body, Some(digest.clone())),
        );
        digest
    }

    fn answer(
        &self,
        method: &warp::http::Method,
        path: &str,
        query: &str,
        headers: &warp::http::HeaderMap,
    ) -> warp::http::Response<Vec<u8>> {
        let respond = |status: u16, body: &[u8]| {
            warp::http::Response::builder()
                .status(status)
                .body(body.to_vec())
                .unwrap()
        };
        let authorization = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();

        if path == "/token" {
            self.token_requests
                .lock()
                .unwrap()
                .push(format!("{authorization} ? {query}"));
            let good = basic(TOKEN_USER, TOKEN_PASSWORD);
            let token = if authorization.is_empty() {
                "anonymous-token"
            } else if authorization == good {
                "robot-token"
            } else {
                return respond(401, br#"{"details":"incorrect username or password"}"#);
            };
            return respond(200, format!(r#"{{"token":"{token}"}}"#).as_bytes());
        }

        let Some(rest) = path.strip_prefix("/v2/") else {
            return respond(404, b"");
        };
        // Private repositories need the robot's token; others any token.
        let allowed = if rest.starts_with("private/") {
            authorization == "Bearer robot-token"
        } else {
            authorization.starts_with("Bearer ")
        };
        if !allowed {
            let (repository, _) = rest.split_once("/manifests/").unwrap_or((rest, ""));
            // One repository points its token service at a plain-HTTP public host.
            let realm = if repository.starts_with("plainrealm/") {
                "http://registry.example.test/token".to_owned()
            } else {
                format!("http://127.0.0.1:{}/token", self.port)
            };
            return warp::http::Response::builder()
                .status(401)
                .header(
                    "www-authenticate",
                    format!(
                        r#"Bearer realm="{realm}",service="fake",scope="repository:{repository}:pull""#
                    ),
                )
                .body(br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_vec())
                .unwrap();
        }
        if let Some((repository, reference)) = rest.split_once("/manifests/") {
            let Some((content_type, body, digest)) =
                self.manifests.get(&format!("{repository}/{reference}"))
            else {
                return respond(
                    404,
                    br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                );
            };
            let mut response = warp::http::Response::builder()
                .status(200)
                .header("content-type", content_type);
            if let Some(digest) = digest {
                response = response.header("docker-content-digest", digest);
            }
            let body = if method == warp::http::Method::HEAD {
                Vec::new()
            } else {
                body.clone()
            };
            return response.body(body).unwrap();
        }
        if let Some((_, digest)) = rest.split_once("/blobs/") {
            return match self.blobs.get(digest) {
                Some(blob) => respond(200, blob),
                None => respond(404, b""),
            };
        }
        respond(404, b"")
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn config_blob(architecture: &str) -> Vec<u8> {
    format!(r#"{{"architecture":"{architecture}","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}}}}"#)
        .into_bytes()
}

/// A single-platform Docker v2 manifest for a config blob it registers.
fn add_image(fake: &mut Fake, repo_ref: &str, architecture: &str) -> String {
    let config = config_blob(architecture);
    let config_digest = sha256(&config);
    fake.blobs.insert(config_digest.clone(), config.clone());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"{config_digest}"}},"layers":[]}}"#,
        config.len()
    );
    fake.add_manifest(repo_ref, DOCKER_MANIFEST, manifest.into_bytes())
}

fn index_for(entries: &[(&str, &str, Option<&str>)]) -> Vec<u8> {
    let manifests: Vec<String> = entries
        .iter()
        .map(|(digest, architecture, variant)| {
            let variant = variant
                .map(|v| format!(r#","variant":"{v}""#))
                .unwrap_or_default();
            format!(
                r#"{{"mediaType":"{DOCKER_MANIFEST}","size":1,"digest":"{digest}","platform":{{"architecture":"{architecture}","os":"linux"{variant}}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        manifests.join(",")
    )
    .into_bytes()
}

async fn resolve(config: ResolverConfig, name: &str) -> Result<Resolved, RegistryError> {
    Resolver::new(config)
        .unwrap()
        .resolve(&ImageRef::parse(name).unwrap(), Source::Registry)
        .await
}

fn on_platform(platform: &str) -> ResolverConfig {
    ResolverConfig {
        platform: platform.parse().unwrap(),
        ..ResolverConfig::default()
    }
}

fn robot(fake: &Fake) -> ResolverConfig {
    let mut config = ResolverConfig::default();
    config.credentials.insert(
        fake.host(),
        Credentials {
            username: TOKEN_USER.into(),
            password: Secret::new(TOKEN_PASSWORD),
        },
    );
    config
}

#[tokio::test]
async fn an_index_pins_its_own_digest_and_records_the_chosen_platform() {
    let mut top = String::new();
    let mut arm = String::new();
    let fake = Fake::start(|fake| {
        let amd = add_image(fake, "multi/app/amd64", "amd64");
        arm = add_image(fake, "multi/app/arm64", "arm64");
        let index = index_for(&[(&amd, "amd64", None), (&arm, "arm64", Some("v8"))]);
        top = fake.add_manifest("multi/app/1", OCI_INDEX, index);
    })
    .await;
    let name = format!("{}/multi/app:1", fake.host());

    let resolved = resolve(ResolverConfig::default(), &name).await.unwrap();
    assert_eq!(resolved.digest, top, "the index's digest is the pin");
    assert_eq!(resolved.platform, "linux/amd64");
    assert_eq!(resolved.media_type, OCI_INDEX);

    let arm64 = on_platform("linux/arm64");
    let resolved = resolve(arm64, &name).await.unwrap();
    assert_eq!(resolved.digest, top);
    assert_eq!(resolved.platform, "linux/arm64/v8");

    let s390x = on_platform("linux/s390x");
    let error = resolve(s390x, &name).await.unwrap_err();
    assert!(
        matches!(&error, RegistryError::NoPlatform { available, .. } if available == "linux/amd64, linux/arm64/v8"),
        "{error}"
    );
    // The anonymous token flow was used: no credentials were configured.
    let seen = fake.token_requests.lock().unwrap().clone();
    assert!(seen.iter().all(|r| r.starts_with(" ? ")), "{seen:?}");
    assert!(
        seen.iter()
            .all(|r| r.contains("service=fake")
                && r.contains("scope=repository%3Amulti%2Fapp%3Apull")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_single_manifest_reports_its_platform_and_must_match() {
    let fake = Fake::start(|fake| {
        add_image(fake, "single/arm/1", "arm64");
    })
    .await;
    let name = format!("{}/single/arm:1", fake.host());
    let error = resolve(ResolverConfig::default(), &name).await.unwrap_err();
    assert!(
        matches!(&error, RegistryError::PlatformMismatch { found, .. } if found == "linux/arm64"),
        "{error}"
    );
    let arm64 = on_platform("linux/arm64");
    assert_eq!(resolve(arm64, &name).await.unwrap().platform, "linux/arm64");
}

#[tokio::test]
async fn the_bearer_flow_sends_credentials_only_to_the_token_service() {
    let mut digest = String::new();
    let fake = Fake::start(|fake| {
        digest = add_image(fake, "private/app/1", "amd64");
    })
    .await;
    let name = format!("{}/private/app:1", fake.host());

    let resolved = resolve(robot(&fake), &name).await.unwrap();
    assert_eq!(resolved.digest, digest);
    let seen = fake.token_requests.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        1,
        "one token for the manifest and the config: {seen:?}"
    );
    assert!(
        seen[0].starts_with(&basic(TOKEN_USER, TOKEN_PASSWORD)),
        "{seen:?}"
    );

    // Anonymous: the token service gives a token that the private repository refuses.
    let error = resolve(ResolverConfig::default(), &name).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("none are configured"), "{error}");

    // A wrong password: the token service refuses it, and the message says so without it.
    let mut wrong = robot(&fake);
    wrong.credentials.get_mut(&fake.host()).unwrap().password = Secret::new(WRONG_PASSWORD);
    let error = resolve(wrong, &name).await.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{message}"
    );
    assert!(
        message.contains("token service") && message.contains(TOKEN_USER),
        "{message}"
    );
    assert!(!message.contains(WRONG_PASSWORD), "{message}");
}

#[tokio::test]
async fn hostile_or_broken_answers_are_refused() {
    let fake = Fake::start(|fake| {
        // A digest header that does not match the body.
        add_image(fake, "bad/digest/1", "amd64");
        let entry = fake.manifests.get_mut("bad/digest/1").unwrap();
        entry.2 = Some(format!("sha256:{}", "1".repeat(64)));
        // A manifest over the limit.
        let mut big = format!(r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","annotations":{{"x":""#).into_bytes();
        big.extend(std::iter::repeat_n(b'a', 8192));
        big.extend_from_slice(b"\"}}");
        fake.add_manifest("big/manifest/1", DOCKER_MANIFEST, big);
        // An index naming a platform manifest the registry lacks.
        let index = index_for(&[(&format!("sha256:{}", "2".repeat(64)), "amd64", None)]);
        fake.add_manifest("multi/missing/1", OCI_INDEX, index);
        // A schema 1 manifest.
        fake.add_manifest(
            "old/schema1/1",
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            br#"{"schemaVersion":1,"name":"old/schema1","tag":"1"}"#.to_vec(),
        );
        // A config blob whose content does not match its digest.
        let config_digest = sha256(&config_blob("amd64"));
        fake.blobs.insert(config_digest.clone(), config_blob("arm64"));
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":10,"digest":"{config_digest}"}},"layers":[]}}"#
        );
        fake.add_manifest("bad/config/1", DOCKER_MANIFEST, manifest.into_bytes());
    })
    .await;
    let host = fake.host();

    let error = resolve(ResolverConfig::default(), &format!("{host}/bad/digest:1"))
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::BadDigest { .. }), "{error}");

    let mut small = ResolverConfig {
        limits: Limits {
            max_manifest_bytes: 4096,
            ..Limits::default()
        },
        ..ResolverConfig::default()
    };
    let error = resolve(small.clone(), &format!("{host}/big/manifest:1"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::TooLarge { limit: 4096, .. }),
        "{error}"
    );
    small.limits.max_manifest_bytes = 4 * 1024 * 1024;

    let error = resolve(small, &format!("{host}/multi/missing:1"))
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("linux/amd64"), "{error}");

    let error = resolve(ResolverConfig::default(), &format!("{host}/old/schema1:1"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::UnsupportedManifest { .. }),
        "{error}"
    );

    let error = resolve(ResolverConfig::default(), &format!("{host}/bad/config:1"))
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::BadDigest { .. }), "{error}");

    // Pinned by a digest that is not the manifest's.
    let wrong = format!("{host}/bad/config:1@sha256:{}", "3".repeat(64));
    let error = resolve(ResolverConfig::default(), &wrong)
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::NotFound { .. }), "{error}");
}

#[tokio::test]
async fn nothing_answering_is_a_connection_error_and_non_loopback_http_is_never_used() {
    // A port nothing listens on: a connection error naming the image and the registry.
    let name = format!("127.0.0.1:{}/a/b:1", free_port());
    let error = resolve(ResolverConfig::default(), &name).await.unwrap_err();
    assert!(matches!(error, RegistryError::Connect { .. }), "{error}");
    assert!(error.to_string().contains(&name), "{error}");

    // A Bearer realm in plain HTTP on a public host is refused before anything is sent.
    let fake = Fake::start(|_| {}).await;
    let name = format!("{}/plainrealm/app:1", fake.host());
    let error = resolve(robot(&fake), &name).await.unwrap_err();
    assert!(matches!(error, RegistryError::PlainHttp { .. }), "{error}");
    assert!(fake.token_requests.lock().unwrap().is_empty());
}
