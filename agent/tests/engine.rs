//! `agent::engine::BollardEngine` against the real Docker engine and a real registry
//! (`docker-registry`, Debian's distribution v2). No mocks: if Docker does not answer,
//! every test fails and says so. Each test builds its own busybox image with
//! `docker import`, names everything it creates with a unique prefix, and a [`Lab`]
//! removes all of it on drop, whether the test passed or not.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use outpost_agent::engine::{
    BollardEngine, ContainerEngine, EngineError, Health, RunAction, RunState, StdStream,
    DEFAULT_CERTS_DIR,
};
use outpost_agent::protocol::{
    ContainerSpec, Healthcheck, PortBinding, Progress, RegistryAuth, VolumeBinding,
};

/// How long any condition may take to come true before a test fails.
const PATIENCE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_container_runs_with_labels_env_port_volume_logs_and_health() {
    let lab = Lab::new().await;
    let volume = lab.volume("data");
    let network = lab.network("net");
    lab.engine
        .ensure_volume(&volume, &lab.labels())
        .await
        .unwrap();
    lab.engine
        .ensure_volume(&volume, &lab.labels())
        .await
        .unwrap();
    let network_id = lab
        .engine
        .ensure_network(&network, &lab.labels())
        .await
        .unwrap();
    assert_eq!(
        lab.engine
            .ensure_network(&network, &lab.labels())
            .await
            .unwrap(),
        network_id,
        "ensuring an existing network returns it"
    );

    let port = free_port(IpAddr::from([127, 0, 0, 1]));
    let mut spec = lab.spec(
        "web",
        r#"echo "greeting=$GREETING"
           echo persisted > /data/file && echo "volume=$(cat /data/file)"
           echo "to stderr" >&2
           mkdir -p /www && echo outpost-ok > /www/index.html
           httpd -p 8080 -h /www
           touch /tmp/ready
           i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 1; done"#,
    );
    spec.env.insert("GREETING".into(), "hello-outpost".into());
    spec.ports.push(PortBinding {
        host_ip: Some("127.0.0.1".into()),
        host_port: port,
        container_port: 8080,
        protocol: "tcp".into(),
    });
    spec.volumes.push(VolumeBinding {
        volume: volume.clone(),
        target: "/data".into(),
        read_only: false,
    });
    spec.networks.push(network.clone());
    spec.network_aliases.push("web".into());
    spec.healthcheck = Some(Healthcheck {
        test: vec!["CMD-SHELL".into(), "test -f /tmp/ready".into()],
        interval_ms: 250,
        timeout_ms: 2000,
        retries: 3,
        start_period_ms: 0,
    });

    let outcome = lab.engine.run(&spec).await.unwrap();
    assert_eq!(outcome.action, RunAction::Created);

    let state = lab.engine.inspect(&spec.name).await.unwrap();
    assert_eq!(state.id, outcome.id);
    assert_eq!(state.name, spec.name);
    assert_eq!(state.image, lab.image);
    assert_eq!(state.state, RunState::Running);
    assert!(state.started_at.is_some());
    for (key, value) in &spec.labels {
        assert_eq!(state.labels.get(key), Some(value), "label {key}");
    }
    assert_eq!(state.labels["outpost.spec-hash"].len(), 64);

    // What the container printed, on the stream it printed it to.
    let printed = eventually("the container's first lines in its logs", || async {
        let lines = collect_logs(&lab.engine, &spec.name, None).await;
        let has = |stream, text: &str| lines.iter().any(|(s, l)| *s == stream && l == text);
        (has(StdStream::Stdout, "greeting=hello-outpost")
            && has(StdStream::Stdout, "volume=persisted")
            && has(StdStream::Stderr, "to stderr"))
        .then_some(lines)
    })
    .await;
    let tail = collect_logs(&lab.engine, &spec.name, Some(1)).await;
    assert_eq!(tail.len(), 1, "tail 1 gives one line");
    assert!(printed.len() > 1);

    // Following delivers a line written after the follow started.
    let mut follow = lab.engine.logs(&spec.name, Some(0), true).await.unwrap();
    let line = tokio::time::timeout(PATIENCE, follow.next())
        .await
        .expect("a followed log delivers a new line")
        .expect("the follow stream stays open while the container runs")
        .unwrap();
    assert!(line.line.starts_with("tick "), "{line:?}");
    drop(follow);

    // The port is published on 127.0.0.1.
    let page = eventually("the published port to answer", || async {
        http_get(port, "/").filter(|page| page.contains("outpost-ok"))
    })
    .await;
    assert!(page.starts_with("HTTP/1."), "{page}");

    let healthy = eventually("the healthcheck to pass", || async {
        let state = lab.engine.inspect(&spec.name).await.unwrap();
        (state.health == Some(Health::Healthy)).then_some(state)
    })
    .await;
    assert_eq!(healthy.restart_count, 0);

    let listed = lab.engine.list(&lab.run_filter()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, outcome.id);
    assert!(
        docker(&[
            "inspect",
            "-f",
            "{{json .NetworkSettings.Networks}}",
            &spec.name
        ])
        .contains(&network),
        "the container is on its network"
    );
}

#[tokio::test]
async fn running_the_same_spec_again_is_a_no_op_and_a_changed_spec_replaces() {
    let lab = Lab::new().await;
    let spec = lab.spec("app", "while true; do sleep 1; done");
    let first = lab.engine.run(&spec).await.unwrap();
    assert_eq!(first.action, RunAction::Created);

    let again = lab.engine.run(&spec).await.unwrap();
    assert_eq!(again.action, RunAction::Unchanged);
    assert_eq!(again.id, first.id);

    let mut changed = spec.clone();
    changed.env.insert("MODE".into(), "fast".into());
    let replaced = lab.engine.run(&changed).await.unwrap();
    assert_eq!(replaced.action, RunAction::Replaced);
    assert_ne!(replaced.id, first.id);

    let listed = lab.engine.list(&lab.run_filter()).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [replaced.id.as_str()], "the old container is gone");
    assert_eq!(listed[0].state, RunState::Running);

    // Stopped but unchanged: started again, same container.
    lab.engine
        .stop(&changed.name, Duration::from_secs(1))
        .await
        .unwrap();
    let restarted = lab.engine.run(&changed).await.unwrap();
    assert_eq!(restarted.action, RunAction::Started);
    assert_eq!(restarted.id, replaced.id);
    assert_eq!(
        lab.engine.inspect(&changed.name).await.unwrap().state,
        RunState::Running
    );
}

#[tokio::test]
async fn stop_then_remove() {
    let lab = Lab::new().await;
    // The shell is PID 1: it only stops on SIGTERM because it traps it.
    let spec = lab.spec(
        "stopme",
        r#"trap "exit 3" TERM; while true; do sleep 1; done"#,
    );
    lab.engine.run(&spec).await.unwrap();

    lab.engine
        .stop(&spec.name, Duration::from_secs(20))
        .await
        .unwrap();
    let state = lab.engine.inspect(&spec.name).await.unwrap();
    assert_eq!(state.state, RunState::Exited);
    assert_eq!(
        state.exit_code,
        Some(3),
        "it stopped on SIGTERM, not a kill"
    );
    lab.engine
        .stop(&spec.name, Duration::from_secs(1))
        .await
        .expect("stopping a stopped container is fine");

    assert!(lab.engine.remove(&spec.name).await.unwrap());
    assert!(matches!(
        lab.engine.inspect(&spec.name).await,
        Err(EngineError::ContainerNotFound { .. })
    ));
    assert!(!lab.engine.remove(&spec.name).await.unwrap());
    let err = lab
        .engine
        .stop(&spec.name, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::ContainerNotFound { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&spec.name));
}

#[tokio::test]
async fn specs_without_outpost_labels_and_foreign_containers_are_refused() {
    let lab = Lab::new().await;
    let mut spec = lab.spec("unlabelled", "sleep 60");
    spec.labels.remove("outpost.service");
    let err = lab.engine.run(&spec).await.unwrap_err();
    assert!(matches!(err, EngineError::InvalidSpec { .. }), "{err}");
    assert!(err.to_string().contains("outpost.service"), "{err}");
    assert!(
        docker_status(&["inspect", &spec.name]).is_err(),
        "nothing was created"
    );

    // A container of the same name that Outpost did not create is left alone.
    let foreign = lab.container_name("foreign");
    docker(&["create", "--name", &foreign, &lab.image, "sleep", "60"]);
    let mut spec = lab.spec("foreign", "sleep 60");
    spec.name = foreign.clone();
    let err = lab.engine.run(&spec).await.unwrap_err();
    assert!(matches!(err, EngineError::NotManaged { .. }), "{err}");
    let err = lab.engine.remove(&foreign).await.unwrap_err();
    assert!(matches!(err, EngineError::NotManaged { .. }), "{err}");
    assert!(docker_status(&["inspect", &foreign]).is_ok(), "still there");
}

#[tokio::test]
async fn engine_info_reports_the_daemon() {
    let lab = Lab::new().await;
    let info = lab.engine.info().await.unwrap();
    assert_eq!(
        info.version,
        docker(&["version", "-f", "{{.Server.Version}}"]).trim()
    );
    assert_eq!(
        info.api_version,
        docker(&["version", "-f", "{{.Server.APIVersion}}"]).trim()
    );
    assert_eq!(
        info.storage_driver,
        docker(&["info", "-f", "{{.Driver}}"]).trim()
    );
    assert!(info.root_dir.is_dir(), "{info:?}");
}

#[tokio::test]
async fn pulls_from_a_registry_with_credentials() {
    let lab = Lab::new().await;
    let registry = Registry::with_auth(&lab, "puller", "right-horse-battery");
    let reference = registry.push(&lab, "outpost/busybox");

    let right = RegistryAuth {
        username: "puller".into(),
        password: "right-horse-battery".into(),
    };
    let wrong = RegistryAuth {
        password: "wrong-staple-0042".into(),
        ..right.clone()
    };

    let err = lab
        .engine
        .pull(&reference, Some(&wrong), |_| {})
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, EngineError::PullUnauthorized { .. }),
        "{err:?}"
    );
    assert!(message.contains("unauthorized"), "{message}");
    assert!(message.contains(&reference), "{message}");
    assert!(!message.contains("wrong-staple-0042") && !message.contains("right-horse"));
    assert!(docker_status(&["image", "inspect", &reference]).is_err());

    let err = lab.engine.pull(&reference, None, |_| {}).await.unwrap_err();
    assert!(
        matches!(err, EngineError::PullUnauthorized { .. }),
        "{err:?}"
    );

    let mut progress = Vec::new();
    lab.engine
        .pull(&reference, Some(&right), |p| progress.push(p))
        .await
        .unwrap();
    assert!(docker_status(&["image", "inspect", &reference]).is_ok());
    assert!(
        progress
            .iter()
            .any(|p| matches!(p, Progress::Pull { status, .. } if status.contains("Pull complete") || status.contains("Downloaded newer image"))),
        "{progress:?}"
    );

    // The pulled image runs.
    let mut spec = lab.spec("pulled", "echo from-the-registry; sleep 60");
    spec.image = reference.clone();
    lab.engine.run(&spec).await.unwrap();
    eventually("the pulled image's output", || async {
        let lines = collect_logs(&lab.engine, &spec.name, None).await;
        lines
            .iter()
            .any(|(_, l)| l == "from-the-registry")
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn pulling_a_missing_image_names_it() {
    let lab = Lab::new().await;
    let registry = Registry::with_auth(&lab, "puller", "pw-for-missing");
    let auth = RegistryAuth {
        username: "puller".into(),
        password: "pw-for-missing".into(),
    };
    let missing = format!("{}/outpost/never-pushed:{}", registry.host(), lab.id);
    let err = lab
        .engine
        .pull(&missing, Some(&auth), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::ImageNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains(&missing), "{err}");
    assert!(!err.to_string().contains("pw-for-missing"));
}

#[tokio::test]
async fn a_trusted_registry_ca_lets_docker_pull_over_tls() {
    let lab = Lab::new().await;
    // Docker does not check certificates of registries on 127.0.0.0/8, so this one
    // listens on another address of this host, as the internal registry does.
    let facts = outpost_agent::facts::collect(lab.dir.path(), None);
    let ip = facts
        .addresses
        .iter()
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .find(IpAddr::is_ipv4)
        .expect("the TLS registry test needs a non-loopback IPv4 address on this host");
    let (ca_pem, cert_pem, key_pem) = tls_chain(ip);
    let registry = Registry::with_tls(&lab, ip, &cert_pem, &key_pem);
    let host = registry.host();

    let untrusted = format!("{host}/outpost/busybox:{}", lab.id);
    let err = lab.engine.pull(&untrusted, None, |_| {}).await.unwrap_err();
    assert!(
        err.to_string().contains("certificate"),
        "an unknown CA is refused: {err}"
    );

    lab.created.lock().unwrap().trusted.push(host.clone());
    let path = lab.engine.trust_registry_ca(&host, &ca_pem).await.unwrap();
    assert_eq!(
        path,
        Path::new(DEFAULT_CERTS_DIR).join(&host).join("ca.crt")
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), ca_pem);

    let reference = registry.push(&lab, "outpost/busybox");
    lab.engine.pull(&reference, None, |_| {}).await.unwrap();
    assert!(docker_status(&["image", "inspect", &reference]).is_ok());
}

#[tokio::test]
async fn logs_of_a_missing_container_fail_naming_it() {
    let lab = Lab::new().await;
    let name = lab.container_name("ghost");
    match lab.engine.logs(&name, None, false).await {
        Err(EngineError::ContainerNotFound { name: got }) => assert_eq!(got, name),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("logs of a missing container"),
    }
    let err = lab.engine.inspect("../../info").await.unwrap_err();
    assert!(matches!(err, EngineError::InvalidName { .. }), "{err}");
}

// ---- the lab: unique names, a fresh image, cleanup on drop -------------------------

/// One test's Docker objects. Everything is named `outpost-test-<id>-…` and removed on
/// drop, even when the test panics.
struct Lab {
    engine: BollardEngine,
    id: String,
    image: String,
    dir: tempfile::TempDir,
    created: Mutex<Created>,
}

#[derive(Default)]
struct Created {
    /// Registry hosts whose `/etc/docker/certs.d` entry the test wrote.
    trusted: Vec<String>,
    images: Vec<String>,
    volumes: Vec<String>,
    networks: Vec<String>,
    registries: Vec<Child>,
}

impl Lab {
    async fn new() -> Lab {
        let engine = BollardEngine::connect().await.unwrap_or_else(|e| {
            panic!(
                "these tests need a running Docker engine (scripts/dev-setup.sh starts one): {e}"
            )
        });
        if let Err(e) = engine.info().await {
            panic!("the Docker engine does not answer (scripts/dev-setup.sh starts one): {e}");
        }
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let id = format!(
            "{}-{}-{:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            nanos
        );
        let dir = tempfile::tempdir().unwrap();
        let image = format!("outpost-test/busybox:{id}");
        let lab = Lab {
            engine,
            id,
            image: image.clone(),
            dir,
            created: Mutex::new(Created::default()),
        };
        lab.created.lock().unwrap().images.push(image.clone());
        import_busybox(&lab.dir.path().join("rootfs"), &image);
        lab
    }

    fn container_name(&self, role: &str) -> String {
        format!("outpost-test-{}-{role}", self.id)
    }

    fn volume(&self, role: &str) -> String {
        let name = format!("outpost-test-{}-{role}", self.id);
        self.created.lock().unwrap().volumes.push(name.clone());
        name
    }

    fn network(&self, role: &str) -> String {
        let name = format!("outpost-test-{}-{role}", self.id);
        self.created.lock().unwrap().networks.push(name.clone());
        name
    }

    /// Labels that mark this test's objects.
    fn run_filter(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("outpost.test-run".to_string(), self.id.clone())])
    }

    fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.run_filter();
        labels.insert("outpost.app".into(), "engine-test".into());
        labels.insert("outpost.release".into(), "1".into());
        labels
    }

    /// A spec running `script` with busybox sh, with the required labels.
    fn spec(&self, role: &str, script: &str) -> ContainerSpec {
        let mut labels = self.labels();
        labels.insert("outpost.service".into(), role.into());
        ContainerSpec {
            name: self.container_name(role),
            image: self.image.clone(),
            command: Some(vec!["/bin/sh".into(), "-c".into(), script.into()]),
            labels,
            ..ContainerSpec::default()
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let created = std::mem::take(&mut *self.created.lock().unwrap_or_else(|e| e.into_inner()));
        // Containers: every one whose name carries this lab's prefix.
        let prefix = format!("outpost-test-{}-", self.id);
        let names = quiet(&["ps", "-aq", "--filter", &format!("name={prefix}")]);
        for id in names.split_whitespace() {
            quiet(&["rm", "-f", id]);
        }
        for mut registry in created.registries {
            let _ = registry.kill();
            let _ = registry.wait();
        }
        for host in created.trusted {
            let _ = std::fs::remove_dir_all(Path::new(DEFAULT_CERTS_DIR).join(host));
        }
        for volume in created.volumes {
            quiet(&["volume", "rm", "-f", &volume]);
        }
        for network in created.networks {
            quiet(&["network", "rm", &network]);
        }
        for image in created.images {
            quiet(&["rmi", "-f", &image]);
        }
    }
}

/// Builds a root filesystem of Debian's static busybox and its applets, and imports
/// it as `tag`.
fn import_busybox(rootfs: &Path, tag: &str) {
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for dir in ["tmp", "etc", "data", "www"] {
        std::fs::create_dir_all(rootfs.join(dir)).unwrap();
    }
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "/bin/busybox is missing: install busybox-static (scripts/dev-setup.sh)"
    );
    std::fs::copy(busybox, bin.join("busybox")).unwrap();
    let applets = Command::new(busybox).arg("--list").output().unwrap();
    for applet in String::from_utf8(applets.stdout)
        .unwrap()
        .split_whitespace()
    {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    let tar = rootfs.with_extension("tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success(), "tar of the busybox rootfs failed");
    docker(&[
        "import",
        "--change",
        r#"CMD ["/bin/sh"]"#,
        tar.to_str().unwrap(),
        tag,
    ]);
}

// ---- a real registry ---------------------------------------------------------------

/// `docker-registry serve` on a free port: plain HTTP on 127.0.0.1 (which Docker treats
/// as an insecure registry) with htpasswd (bcrypt) auth, or TLS on another address. The
/// process is the lab's to stop.
struct Registry {
    host: String,
    login: Option<(String, String)>,
    docker_config: PathBuf,
}

impl Registry {
    /// Plain HTTP on 127.0.0.1, pulls only with `user` and `password`.
    fn with_auth(lab: &Lab, user: &str, password: &str) -> Registry {
        let hash = bcrypt::hash_with_result(password, 5)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        let mut registry = Registry::start(
            lab,
            IpAddr::from([127, 0, 0, 1]),
            &format!("{user}:{hash}\n"),
            None,
        );
        registry.login = Some((user.into(), password.into()));
        registry
    }

    /// TLS with this certificate and key on `ip`, no auth.
    fn with_tls(lab: &Lab, ip: IpAddr, cert_pem: &str, key_pem: &str) -> Registry {
        Registry::start(lab, ip, "", Some((cert_pem, key_pem)))
    }

    fn start(lab: &Lab, ip: IpAddr, htpasswd: &str, tls: Option<(&str, &str)>) -> Registry {
        let port = free_port(ip);
        let dir = lab.dir.path().join(format!("registry-{port}"));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let mut config = format!(
            "version: 0.1\n\
             log:\n  level: warn\n\
             storage:\n  filesystem:\n    rootdirectory: {data}\n\
             http:\n  addr: {addr}\n  secret: outpost-engine-test\n",
            data = dir.join("data").display(),
            addr = SocketAddr::new(ip, port),
        );
        if let Some((cert, key)) = tls {
            std::fs::write(dir.join("cert.pem"), cert).unwrap();
            std::fs::write(dir.join("key.pem"), key).unwrap();
            config += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.join("cert.pem").display(),
                dir.join("key.pem").display()
            );
        }
        if !htpasswd.is_empty() {
            std::fs::write(dir.join("htpasswd"), htpasswd).unwrap();
            config += &format!(
                "auth:\n  htpasswd:\n    realm: outpost-test\n    path: {}\n",
                dir.join("htpasswd").display()
            );
        }
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start docker-registry (install it with scripts/dev-setup.sh): {e}")
            });
        lab.created.lock().unwrap().registries.push(child);

        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect((ip, port)).is_err() {
            if Instant::now() > deadline {
                panic!(
                    "the registry on {ip}:{port} did not come up; its log:\n{}",
                    std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let docker_config = dir.join("docker-config");
        std::fs::create_dir_all(&docker_config).unwrap();
        let host = match ip {
            IpAddr::V4(_) => format!("{ip}:{port}"),
            IpAddr::V6(_) => format!("[{ip}]:{port}"),
        };
        Registry {
            host,
            login: None,
            docker_config,
        }
    }

    fn host(&self) -> String {
        self.host.clone()
    }

    /// Pushes the lab's image as `<registry>/<repository>:<lab id>` with `docker push`
    /// (after `docker login` in a private CLI config if the registry wants it), then
    /// removes the local tag so a pull has to fetch it. Returns the reference.
    fn push(&self, lab: &Lab, repository: &str) -> String {
        let reference = format!("{}/{repository}:{}", self.host, lab.id);
        lab.created.lock().unwrap().images.push(reference.clone());
        let config = self.docker_config.to_str().unwrap();
        if let Some((user, password)) = &self.login {
            let mut login = Command::new("docker")
                .args(["--config", config, "login", &self.host, "-u", user])
                .arg("--password-stdin")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = login.stdin.take().unwrap();
            stdin.write_all(password.as_bytes()).unwrap();
            drop(stdin);
            let login = login.wait_with_output().unwrap();
            assert!(
                login.status.success(),
                "docker login failed: {}",
                String::from_utf8_lossy(&login.stderr)
            );
        }
        docker(&["tag", &lab.image, &reference]);
        docker(&["--config", config, "push", &reference]);
        docker(&["rmi", &reference]);
        reference
    }
}

/// A CA and a server certificate it signed for `ip`: (CA PEM, server cert PEM, key PEM).
fn tls_chain(ip: IpAddr) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "outpost engine test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec![ip.to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

// ---- helpers -----------------------------------------------------------------------

/// Polls `check` until it returns `Some`, failing the test after [`PATIENCE`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn collect_logs(
    engine: &BollardEngine,
    name: &str,
    tail: Option<u32>,
) -> Vec<(StdStream, String)> {
    let stream = engine.logs(name, tail, false).await.unwrap();
    stream
        .map(|line| {
            let line = line.unwrap();
            (line.stream, line.line)
        })
        .collect()
        .await
}

fn free_port(ip: IpAddr) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.0 GET on 127.0.0.1:`port`: the whole response, or `None`.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// Runs the docker CLI, panicking with its output if it fails.
fn docker(args: &[&str]) -> String {
    docker_status(args).unwrap_or_else(|e| panic!("docker {}: {e}", args.join(" ")))
}

fn docker_status(args: &[&str]) -> Result<String, String> {
    let output = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Runs the docker CLI for cleanup, ignoring failure.
fn quiet(args: &[&str]) -> String {
    docker_status(args).unwrap_or_default()
}
