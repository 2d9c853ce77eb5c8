//! The deploy state machine on the sample app, its three releases loaded, against agents'
//! in-memory engines: deploy, update, automatic and manual rollback, the preflight gate and its
//! override, one deployment at a time, resume after a restart, start/stop, status and logs —
//! and never a secret in what the API, the events or the audit log show.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use outpost_agent::engine::fake::{Call, FakeEngine};
use outpost_agent::engine::{ContainerEngine, ContainerState, Health, RunState, StdStream};
use outpost_agent::protocol::{DiskFacts, DockerFacts, Facts};
use outpost_airgap::SigningKey;

use super::*;
use crate::deploy::nodes::fake::{FakeNodes, Fate, Healer};
use crate::deploy::plan::RegistrySettings;
use crate::store::AuditRecord;
use crate::testing;

const APP: &str = "sample-app";
const SECRET: &str = "Adm1n-pw-never-shown";
const GIB: u64 = 1 << 30;

/// A node's facts that pass the sample app's preflight.
fn facts(hostname: &str) -> Facts {
    Facts {
        hostname: hostname.to_string(),
        os: "linux".to_string(),
        kernel: "6.1.0-18-amd64".to_string(),
        cpus: 4,
        memory_bytes: 8 * GIB,
        disks: vec![DiskFacts {
            role: "docker".to_string(),
            path: "/var/lib/docker".to_string(),
            free_bytes: 100 * GIB,
            total_bytes: 200 * GIB,
        }],
        docker: Some(DockerFacts {
            version: "20.10.24".to_string(),
            api_version: "1.41".to_string(),
            storage_driver: "overlay2".to_string(),
            https_proxy: String::new(),
            no_proxy: String::new(),
        }),
        addresses: vec!["10.0.0.5".to_string()],
        listening_ports: Vec::new(),
    }
}

/// The sample app's license and releases 1.0.0, 1.1.0 and 1.2.0 (sequences 1, 2, 3) loaded, the
/// admin password set, nodes joined with good facts and online, and every image of every
/// release pullable on them.
struct Env {
    store: Arc<Store>,
    nodes: Arc<FakeNodes>,
    deployer: Arc<Deployer>,
}

fn env(node_ids: &[&str]) -> Env {
    env_full(node_ids, |_, facts| Some(facts), |_| true)
}

/// As [`env`], with each node's stored facts as `facts_of` makes them.
fn env_with(node_ids: &[&str], facts_of: impl Fn(&str, Facts) -> Option<Facts>) -> Env {
    env_full(node_ids, facts_of, |_| true)
}

/// As [`env_with`], with only the images `pullable` says in the nodes' registry.
fn env_full(
    node_ids: &[&str],
    facts_of: impl Fn(&str, Facts) -> Option<Facts>,
    pullable: impl Fn(&str) -> bool,
) -> Env {
    let key = SigningKey::generate();
    let (store, licenses, releases) = testing::licensed(&key);
    for (sequence, version) in [(1, "1.0.0"), (2, "1.1.0"), (3, "1.2.0")] {
        releases
            .load(
                &testing::signed(&testing::deployable_release(sequence, version), &key),
                "test",
                &Actor::System,
                &Source::Local,
                testing::NOW,
            )
            .expect("the sample release loads");
    }
    set_config(&store, &[("admin_password", SECRET)]);
    for (n, id) in node_ids.iter().enumerate() {
        let token = format!("token-{id}");
        store
            .insert_join_token(&token, &BTreeMap::new(), testing::NOW, testing::NOW + 3600)
            .unwrap();
        let hostname = format!("host-{id}");
        let facts = facts_of(id, facts(&hostname)).map(|f| serde_json::to_string(&f).unwrap());
        let record = NodeRecord {
            id: id.to_string(),
            hostname,
            labels: BTreeMap::new(),
            facts,
            cert_serial: format!("serial-{id}"),
            cert_not_after: testing::NOW + 86_400,
            joined_at: testing::NOW + n as i64,
            last_seen_at: Some(testing::NOW),
        };
        store
            .join_node(&token, &record, testing::NOW)
            .unwrap()
            .expect("the token admits the node");
    }
    let nodes = Arc::new(FakeNodes::new(node_ids));
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        for image in images(version).into_iter().filter(|i| pullable(i)) {
            for engine in nodes.engines.values() {
                engine.add_image(&image);
            }
        }
    }
    let registries = Arc::new(Registries::new(store.clone(), licenses.clone()));
    let deployer = Arc::new(Deployer::new(
        store.clone(),
        licenses,
        releases,
        registries,
        nodes.clone(),
        Limits {
            poll: Duration::from_millis(5),
            wait: Duration::from_secs(5),
            ..Limits::default()
        },
        "console-host".to_string(),
    ));
    Env {
        store,
        nodes,
        deployer,
    }
}

/// What nodes pull for the sample app's release `version` (its running services).
fn images(version: &str) -> Vec<String> {
    let release = testing::deployable_release(1, version);
    let app = App::from_files(&release.files).unwrap();
    let config = BTreeMap::from([("admin_password".to_string(), SECRET.to_string())]);
    let plan = plan::build(&PlanInput {
        app_id: APP,
        release: &release,
        app: &app,
        config: &config,
        nodes: vec![PlanNode {
            id: "n".to_string(),
            labels: BTreeMap::new(),
        }],
        registry: &RegistrySettings::default(),
    })
    .unwrap();
    plan.images.into_iter().map(|i| i.pull_as).collect()
}

fn image_of(version: &str, service: &str) -> String {
    images(version)
        .into_iter()
        .find(|i| i.contains(&format!("/{service}@")))
        .unwrap_or_else(|| panic!("no image for {service} in {version}"))
}

fn set_config(store: &Store, values: &[(&str, &str)]) {
    let changes = values
        .iter()
        .map(|(k, v)| (k.to_string(), Some(v.to_string())))
        .collect();
    store
        .update_config_values(APP, &changes, testing::NOW)
        .unwrap();
}

fn admin() -> Actor {
    Actor::Admin("alice".to_string())
}

fn list(engine: &FakeEngine) -> Vec<ContainerState> {
    futures_util::FutureExt::now_or_never(engine.list(&BTreeMap::new()))
        .expect("the fake engine answers at once")
        .unwrap()
}

fn container(engine: &FakeEngine, name: &str) -> ContainerState {
    list(engine)
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

impl Env {
    fn engine(&self, node: &str) -> &FakeEngine {
        self.nodes.engine(node)
    }

    fn heal(&self, fate: impl Fn(&ContainerState) -> Fate + Send + 'static) -> Healer {
        self.nodes.heal(fate)
    }

    fn heal_all(&self) -> Healer {
        self.heal(|_| Fate::Healthy)
    }

    /// Waits (bounded) until no deployment holds the lock — the deployment and any rollback
    /// it started are over — and returns deployment `id`.
    async fn settle(&self, id: i64) -> DeploymentView {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.deployer.lock.try_lock().is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "deployment #{id} did not finish: {:?}",
                self.deployer.view(id).map(|v| (v.state, v.steps.len()))
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(self.store.running_deployments().unwrap().is_empty());
        self.deployer.view(id).unwrap()
    }

    async fn deploy(&self, sequence: u64) -> Result<DeploymentView, DeployError> {
        self.deployer
            .deploy(sequence, false, &admin(), &Source::Local)
            .await
    }

    /// Deploys `sequence` and waits for it to end.
    async fn deployed(&self, sequence: u64) -> DeploymentView {
        let started = self.deploy(sequence).await.expect("the deploy starts");
        assert_eq!(started.state, "running");
        self.settle(started.id).await
    }

    fn history(&self) -> Vec<DeploymentView> {
        self.deployer.history(100).unwrap().0
    }

    fn audit(&self) -> Vec<AuditRecord> {
        let mut entries = self.store.audit_page(None, 1000).unwrap();
        entries.reverse();
        entries
    }

    fn audited(&self, action: &str) -> Vec<String> {
        self.audit()
            .into_iter()
            .filter(|e| e.action == action)
            .map(|e| e.detail)
            .collect()
    }

    fn events(&self, id: i64) -> Vec<String> {
        self.deployer
            .view(id)
            .unwrap()
            .events
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    fn installed(&self) -> Option<(u64, String)> {
        self.store
            .installed_deployment(APP)
            .unwrap()
            .map(|d| (d.sequence, d.version))
    }

    /// The secret is in the store (the containers need it) but in nothing anyone is shown.
    async fn assert_no_secret_shown(&self) {
        let mut shown = Vec::new();
        for view in self.history() {
            shown.push(serde_json::to_string(&view).unwrap());
            shown.push(serde_json::to_string(&self.deployer.view(view.id).unwrap()).unwrap());
        }
        for entry in self.audit() {
            shown.push(format!("{} {} {}", entry.actor, entry.action, entry.detail));
        }
        if let Ok(status) = self.deployer.status().await {
            shown.push(serde_json::to_string(&status).unwrap());
        }
        assert!(!shown.is_empty());
        for text in shown {
            assert!(!text.contains(SECRET), "the secret is shown in: {text}");
        }
    }
}

#[tokio::test]
async fn deploy_update_and_a_broken_update_rolls_back_to_the_last_good_release() {
    let env = env(&["n1"]);
    let web_120 = image_of("1.2.0", "web");
    let _healer = env.heal(move |c| {
        if c.image == web_120 {
            Fate::Unhealthy
        } else {
            Fate::Healthy
        }
    });

    // 1.0.0 is deployed.
    let first = env.deployed(1).await;
    assert_eq!(
        (
            first.kind.as_str(),
            first.state.as_str(),
            first.version.as_str()
        ),
        ("deploy", "succeeded", "1.0.0"),
        "{first:#?}"
    );
    assert_eq!(first.message.as_deref(), Some("Release 1.0.0 runs."));
    assert_eq!(first.previous_sequence, None);
    assert!(
        first.steps.iter().all(|s| s.state == "done"),
        "{:#?}",
        first.steps
    );
    assert_eq!(first.progress.done, first.progress.total);
    assert_eq!(env.installed(), Some((1, "1.0.0".to_string())));

    // 1.1.0 is an update of it.
    let second = env.deployed(2).await;
    assert_eq!(
        (second.kind.as_str(), second.state.as_str()),
        ("update", "succeeded"),
        "{second:#?}"
    );
    assert_eq!(second.previous_sequence, Some(1));
    assert_eq!(env.installed(), Some((2, "1.1.0".to_string())));
    assert_eq!(
        container(env.engine("n1"), "sample-app-web-1").image,
        image_of("1.1.0", "web")
    );

    // 1.2.0's web never gets healthy: the update fails and 1.1.0 comes back.
    let broken = env.deployed(3).await;
    assert_eq!(broken.kind, "update");
    assert_eq!(broken.state, "rolled_back", "{broken:#?}");
    let message = broken.message.clone().unwrap();
    assert!(
        message.contains("container sample-app-web-1 is unhealthy"),
        "{message}"
    );
    assert!(
        message.contains("Rolled back automatically to release 1.1.0"),
        "{message}"
    );
    let failed_step = broken.steps.iter().find(|s| s.state == "failed").unwrap();
    assert_eq!(failed_step.target, "sample-app-web-1");
    let events = env.events(broken.id);
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("failed: ") && e.contains("sample-app-web-1")),
        "{events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.contains("rolling back automatically to release 1.1.0")),
        "{events:#?}"
    );

    let history = env.history();
    assert_eq!(history.len(), 4, "{history:#?}");
    let rollback = &history[0];
    assert_eq!(
        (
            rollback.kind.as_str(),
            rollback.state.as_str(),
            rollback.sequence,
            rollback.rollback_of,
            rollback.previous_sequence
        ),
        ("rollback", "succeeded", 2, Some(broken.id), Some(3)),
        "{rollback:#?}"
    );
    assert_eq!(rollback.actor, "system");
    assert!(
        message.contains(&format!("(deployment #{})", rollback.id)),
        "{message}"
    );
    assert_eq!(env.installed(), Some((2, "1.1.0".to_string())));
    let web = container(env.engine("n1"), "sample-app-web-1");
    assert_eq!(web.image, image_of("1.1.0", "web"));
    assert_eq!(web.health, Some(Health::Healthy));
    assert_eq!(
        container(env.engine("n1"), "sample-app-api-1").image,
        image_of("1.1.0", "api")
    );

    let rolled_back = env.audited("deploy.rolled_back");
    assert_eq!(rolled_back.len(), 1);
    assert!(rolled_back[0].contains(&format!("deployment #{}", broken.id)));
    assert_eq!(env.audited("deploy.started").len(), 3);
    assert_eq!(env.audited("deploy.succeeded").len(), 3);
    assert_eq!(env.audited("config.restored").len(), 1);
    // The automatic rollback restored 1.1.0's config (the same values here).
    assert_eq!(
        env.store.config_values(APP).unwrap()["admin_password"],
        SECRET
    );

    env.assert_no_secret_shown().await;
}

#[tokio::test]
async fn a_missing_image_fails_the_update_and_leaves_the_release_running() {
    let worker_110 = image_of("1.1.0", "worker");
    let missing = worker_110.clone();
    let env = env_full(
        &["n1"],
        |_, facts| Some(facts),
        move |image| image != missing,
    );
    let _healer = env.heal_all();
    env.deployed(1).await;
    let engine = env.engine("n1");
    let calls_before = engine.calls().len();

    let update = env.deployed(2).await;

    assert_eq!(update.state, "failed", "{update:#?}");
    let message = update.message.unwrap();
    assert!(message.contains(&worker_110), "{message}");
    assert!(
        message.ends_with("Nothing was changed: release 1.0.0 keeps running."),
        "{message}"
    );
    assert_eq!(env.history().len(), 2, "no rollback deployment");
    assert_eq!(env.installed(), Some((1, "1.0.0".to_string())));
    let calls = engine.calls();
    assert!(
        !calls[calls_before..].iter().any(|c| matches!(
            c,
            Call::Run { .. } | Call::Stop { .. } | Call::Remove { .. }
        )),
        "{calls:#?}"
    );
    for c in list(engine) {
        assert_eq!(c.labels[plan::LABEL_RELEASE], "1", "{}", c.name);
        assert_eq!(c.state, RunState::Running);
    }
    let failed = env.audited("deploy.failed");
    assert_eq!(failed.len(), 1);
    assert!(failed[0].contains("Nothing was changed"), "{}", failed[0]);
    env.assert_no_secret_shown().await;
}

#[tokio::test]
async fn a_rollback_that_fails_too_leaves_both_deployments_failed() {
    let env = env(&["n1"]);
    let broken = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let web_broken = broken.clone();
    // Once 1.0.0 runs, every web container fails its healthcheck, the old one's too.
    let _healer = env.heal(move |c| {
        if c.name == "sample-app-web-1" && web_broken.load(std::sync::atomic::Ordering::SeqCst) {
            Fate::Unhealthy
        } else {
            Fate::Healthy
        }
    });
    env.deployed(1).await;
    broken.store(true, std::sync::atomic::Ordering::SeqCst);

    let update = env.deployed(2).await;

    assert_eq!(update.state, "failed", "{update:#?}");
    let message = update.message.unwrap();
    assert!(
        message.contains("container sample-app-web-1 is unhealthy"),
        "{message}"
    );
    assert!(
        message.contains("Then rolling back to release 1.0.0 failed too"),
        "{message}"
    );
    let history = env.history();
    assert_eq!(
        (
            history[0].kind.as_str(),
            history[0].state.as_str(),
            history[0].rollback_of
        ),
        ("rollback", "failed", Some(update.id))
    );
    assert_eq!(env.installed(), Some((1, "1.0.0".to_string())));
    let failed = env.audited("deploy.failed");
    assert_eq!(failed.len(), 1);
    assert!(failed[0].contains("its rollback failed"), "{}", failed[0]);
}

#[tokio::test]
async fn a_first_deploy_that_fails_after_changes_has_nothing_to_roll_back_to() {
    let env = env(&["n1"]);
    let _healer = env.heal(|c| {
        if c.name == "sample-app-api-1" {
            Fate::Unhealthy
        } else {
            Fate::Healthy
        }
    });
    let view = env.deployed(1).await;
    assert_eq!(view.state, "failed");
    let message = view.message.unwrap();
    assert!(
        message.contains("container sample-app-api-1 is unhealthy"),
        "{message}"
    );
    assert!(
        message.contains("There is no earlier release to roll back to"),
        "{message}"
    );
    assert_eq!(env.history().len(), 1);
    assert_eq!(env.installed(), None);
}

#[tokio::test]
async fn one_deployment_at_a_time() {
    let env = env(&["n1"]);
    // No healer yet: the api stays "starting" and the deploy waits for it.
    let first = env.deploy(1).await.unwrap();
    match env.deploy(2).await {
        Err(DeployError::InProgress(id)) => assert_eq!(id, first.id),
        other => panic!("expected InProgress, got {other:?}"),
    }
    match env.deployer.stop(&admin(), &Source::Local).await {
        Err(DeployError::InProgress(id)) => assert_eq!(id, first.id),
        other => panic!("expected InProgress, got {other:?}"),
    }
    match env
        .deployer
        .rollback_to(first.id, &admin(), &Source::Local)
        .await
    {
        Err(DeployError::InProgress(id)) => assert_eq!(id, first.id),
        other => panic!("expected InProgress, got {other:?}"),
    }
    assert_eq!(env.deployer.status().await.unwrap().state, "deploying");
    assert_eq!(env.deployer.history(10).unwrap().1, Some(first.id));

    let _healer = env.heal_all();
    assert_eq!(env.settle(first.id).await.state, "succeeded");
    assert_eq!(env.history().len(), 1);
}

#[tokio::test]
async fn start_and_stop_wait_for_a_deployment_and_a_deploy_for_them() {
    let env = env(&["n1"]);
    let _healer = env.heal_all();
    env.deployed(1).await;
    // As while a stop or start runs: the lock is taken but no deployment runs.
    let held = env.deployer.lock.clone().try_lock_owned().unwrap();
    assert!(matches!(env.deploy(2).await, Err(DeployError::Busy)));
    assert!(matches!(
        env.deployer.start(&admin(), &Source::Local).await,
        Err(DeployError::Busy)
    ));
    drop(held);
    assert_eq!(env.deployed(2).await.state, "succeeded");
}

#[tokio::test]
async fn a_rollback_that_cannot_be_planned_leaves_the_deployment_failed_and_audited() {
    let env = env(&["n1"]);
    let nodes = env.nodes.clone();
    let web_110 = image_of("1.1.0", "web");
    // 1.1.0's web starts, then its node drops off before it is healthy.
    let _healer = env.heal(move |c| {
        if c.image == web_110 {
            nodes.offline.lock().unwrap().insert("n1".to_string());
            Fate::Starting
        } else {
            Fate::Healthy
        }
    });
    env.deployed(1).await;

    let update = env.deployed(2).await;

    assert_eq!(update.state, "failed", "{update:#?}");
    let message = update.message.unwrap();
    assert!(message.contains("node n1 is offline"), "{message}");
    assert!(
        message.contains("Rolling back to release 1.0.0 was not possible: no node is online"),
        "{message}"
    );
    assert_eq!(env.history().len(), 2, "no rollback deployment");
    let failed = env.audited("deploy.failed");
    assert_eq!(failed.len(), 1, "{:#?}", env.audit());
    assert!(failed[0].contains("was not possible"), "{}", failed[0]);
}

/// How a case changes a node's facts (`None`: it reported none).
type FactsChange = fn(Facts) -> Option<Facts>;

#[tokio::test]
async fn a_blocking_preflight_stops_the_deploy_unless_overridden() {
    let cases: [(&str, FactsChange, &str); 2] = [
        ("no facts", |_| None, "has not reported its facts yet"),
        (
            "no docker",
            |mut f| {
                f.docker = None;
                Some(f)
            },
            "no Docker engine answered on",
        ),
    ];
    for (case, change, expected) in cases {
        // The plan puts every service on n1 (no constraints: the first node by id), so only
        // n1 is checked.
        let env = env_with(&["n1", "n2"], |id, facts| {
            if id == "n1" {
                change(facts)
            } else {
                Some(facts)
            }
        });
        let Err(DeployError::PreflightFailed(report)) = env.deploy(1).await else {
            panic!("{case}: expected the preflight to block");
        };
        assert!(report.blocking);
        let failing: Vec<&preflight::CheckResult> = report
            .results
            .iter()
            .filter(|r| r.outcome == preflight::Outcome::Fail)
            .collect();
        assert!(
            failing
                .iter()
                .any(|r| r.node.as_deref() == Some("n1") && r.message.contains(expected)),
            "{case}: {failing:#?}"
        );
        assert!(
            report
                .results
                .iter()
                .all(|r| r.node.as_deref() != Some("n2")),
            "{case}: {failing:#?}"
        );
        let error = DeployError::PreflightFailed(report).to_string();
        assert!(error.contains(expected), "{case}: {error}");
        // Nothing was recorded or touched.
        assert!(env.history().is_empty(), "{case}");
        assert!(env.audited("deploy.started").is_empty(), "{case}");
        assert!(
            env.nodes.sent().iter().all(|s| s.ends_with(": list")),
            "{case}: {:?}",
            env.nodes.sent()
        );

        let _healer = env.heal_all();
        let started = env
            .deployer
            .deploy(1, true, &admin(), &Source::Local)
            .await
            .expect("the override lets it start");
        assert!(started.preflight_overridden, "{case}");
        let overridden = env.audited("preflight.overridden");
        assert_eq!(overridden.len(), 1, "{case}");
        assert!(
            overridden[0].contains(expected),
            "{case}: {}",
            overridden[0]
        );
        let done = env.settle(started.id).await;
        assert_eq!(done.state, "succeeded", "{case}: {done:#?}");
        assert!(done.preflight_overridden);
    }
}

#[tokio::test]
async fn an_override_is_not_recorded_when_preflight_passes() {
    let env = env(&["n1"]);
    let _healer = env.heal_all();
    let started = env
        .deployer
        .deploy(1, true, &admin(), &Source::Local)
        .await
        .unwrap();
    assert!(!started.preflight_overridden);
    assert!(env.audited("preflight.overridden").is_empty());
    env.settle(started.id).await;
}

#[tokio::test]
async fn a_manual_rollback_redeploys_the_release_with_its_config() {
    let env = env(&["n1"]);
    let _healer = env.heal_all();
    set_config(&env.store, &[("greeting", "Hello one")]);
    let first = env.deployed(1).await;
    set_config(
        &env.store,
        &[
            ("greeting", "Hello two"),
            ("admin_password", "Another-pw-2"),
        ],
    );
    let second = env.deployed(2).await;
    assert_eq!(second.state, "succeeded");
    assert_ne!(first.config_hash, second.config_hash);

    let started = env
        .deployer
        .rollback_to(first.id, &admin(), &Source::Local)
        .await
        .unwrap();
    assert_eq!(
        (
            started.kind.as_str(),
            started.sequence,
            started.previous_sequence
        ),
        ("manual_rollback", 1, Some(2))
    );
    let done = env.settle(started.id).await;
    assert_eq!(done.state, "succeeded", "{done:#?}");
    assert_eq!(done.config_hash, first.config_hash);
    assert_eq!(
        done.message.as_deref(),
        Some("Release 1.0.0 runs again, with its config.")
    );

    let config = env.store.config_values(APP).unwrap();
    assert_eq!(config["greeting"], "Hello one");
    assert_eq!(config["admin_password"], SECRET);
    assert_eq!(env.installed(), Some((1, "1.0.0".to_string())));
    let web = container(env.engine("n1"), "sample-app-web-1");
    assert_eq!(web.image, image_of("1.0.0", "web"));
    assert_eq!(web.labels[plan::LABEL_CONFIG_HASH], first.config_hash);
    let requested = env.audited("deploy.rollback_requested");
    assert_eq!(requested.len(), 1);
    assert!(
        requested[0].contains(&format!("config of deployment #{}", first.id)),
        "{}",
        requested[0]
    );
    assert_eq!(env.audited("config.restored").len(), 1);
    env.assert_no_secret_shown().await;
    for view in env.history() {
        assert!(!serde_json::to_string(&env.deployer.view(view.id).unwrap())
            .unwrap()
            .contains("Another-pw-2"));
    }
}

#[tokio::test]
async fn only_a_deployment_that_succeeded_can_be_rolled_back_to() {
    let env = env(&["n1"]);
    // The first deploy fails on its api: it never ran.
    let healer = env.heal(|c| {
        if c.name == "sample-app-api-1" {
            Fate::Unhealthy
        } else {
            Fate::Healthy
        }
    });
    let failed = env.deployed(1).await;
    assert_eq!(failed.state, "failed");
    drop(healer);

    match env
        .deployer
        .rollback_to(failed.id, &admin(), &Source::Local)
        .await
    {
        Err(DeployError::NotRollbackable { id, state }) => {
            assert_eq!((id, state.as_str()), (failed.id, "failed"));
        }
        other => panic!("expected NotRollbackable, got {other:?}"),
    }
    match env
        .deployer
        .rollback_to(999, &admin(), &Source::Local)
        .await
    {
        Err(DeployError::NoSuchDeployment(999)) => {}
        other => panic!("expected NoSuchDeployment, got {other:?}"),
    }
    assert_eq!(env.history().len(), 1);
    assert!(env.audited("deploy.rollback_requested").is_empty());
}

/// A deployment left `running` in the store, as a console that stopped mid-deploy leaves it.
fn interrupted(env: &Env, sequence: u64, version: &str) -> i64 {
    let config = serde_json::to_string(&BTreeMap::from([("admin_password", SECRET)])).unwrap();
    env.store
        .insert_deployment(&crate::store::NewDeployment {
            app_id: APP,
            kind: "deploy",
            sequence,
            version,
            previous_sequence: None,
            config_hash: "from-before-the-restart",
            config_json: &config,
            actor: "alice",
            started_at: testing::NOW,
            preflight_overridden: false,
            rollback_of: None,
        })
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_deployment_interrupted_by_a_restart_is_resumed() {
    let env = env(&["n1"]);
    let _healer = env.heal_all();
    let id = interrupted(&env, 1, "1.0.0");

    env.deployer.clone().resume_interrupted().await;

    let view = env.settle(id).await;
    assert_eq!(view.state, "succeeded", "{view:#?}");
    assert!(
        view.events.iter().any(|e| e.message.contains("resuming")),
        "{:#?}",
        view.events
    );
    assert!(view.steps.iter().all(|s| s.state == "done"));
    assert_eq!(env.installed(), Some((1, "1.0.0".to_string())));
    assert_eq!(env.audited("deploy.resumed").len(), 1);
    assert_eq!(
        container(env.engine("n1"), "sample-app-api-1").state,
        RunState::Running
    );
    env.assert_no_secret_shown().await;
}

#[tokio::test]
async fn a_rollback_interrupted_by_a_restart_is_resumed_and_settles_its_failed_update() {
    let env = env(&["n1"]);
    let _healer = env.heal_all();
    env.deployed(1).await;
    // The console stopped while 1.1.0's failed update was being rolled back to 1.0.0.
    let update = interrupted(&env, 2, "1.1.0");
    env.store
        .finish_deployment(
            update,
            "rolling_back",
            Some("container sample-app-web-1 is unhealthy; rolling back to release 1.0.0"),
            testing::NOW,
        )
        .unwrap();
    let config = serde_json::to_string(&BTreeMap::from([("admin_password", SECRET)])).unwrap();
    let rollback = env
        .store
        .insert_deployment(&crate::store::NewDeployment {
            app_id: APP,
            kind: "rollback",
            sequence: 1,
            version: "1.0.0",
            previous_sequence: Some(2),
            config_hash: "from-before-the-restart",
            config_json: &config,
            actor: "system",
            started_at: testing::NOW,
            preflight_overridden: false,
            rollback_of: Some(update),
        })
        .unwrap()
        .unwrap();

    env.deployer.clone().resume_interrupted().await;

    assert_eq!(env.settle(rollback).await.state, "succeeded");
    let update = env.deployer.view(update).unwrap();
    assert_eq!(update.state, "rolled_back", "{update:#?}");
    let message = update.message.unwrap();
    assert!(
        message.contains("Rolled back automatically to release 1.0.0"),
        "{message}"
    );
    assert_eq!(env.installed(), Some((1, "1.0.0".to_string())));
}

/// Records steps for deployment `id` as `action target state`.
fn record_steps(env: &Env, id: i64, steps: &[(&str, &str, &str)]) {
    let records: Vec<crate::store::StepRecord> = steps
        .iter()
        .enumerate()
        .map(
            |(index, (action, target, state))| crate::store::StepRecord {
                index: index as u32,
                node: "n1".to_string(),
                node_name: "host-n1".to_string(),
                action: action.to_string(),
                target: target.to_string(),
                service: None,
                state: state.to_string(),
                message: None,
                started_at: None,
                finished_at: None,
            },
        )
        .collect();
    env.store.set_deployment_steps(id, &records).unwrap();
}

#[tokio::test]
async fn an_unresumable_deployment_rolls_back_only_when_it_had_touched_containers() {
    // (steps as recorded when the console stopped, the interrupted deployment's end state,
    // whether a rollback deployment ran)
    let cases = [
        (
            vec![
                ("network", "sample-app", "done"),
                ("pull", "image", "done"),
                ("run", "sample-app-api-1", "pending"),
            ],
            "interrupted",
            false,
        ),
        (
            vec![
                ("network", "sample-app", "done"),
                ("pull", "image", "done"),
                ("run", "sample-app-api-1", "running"),
            ],
            "rolled_back",
            true,
        ),
        (
            vec![
                ("network", "sample-app", "done"),
                ("run", "sample-app-api-1", "done"),
                ("run", "sample-app-web-1", "pending"),
            ],
            "rolled_back",
            true,
        ),
    ];
    for (steps, state, rolled_back) in cases {
        let env = env(&["n1"]);
        let _healer = env.heal_all();
        env.deployed(1).await;
        // Release 9 is not loaded: no plan can be made for it.
        let id = interrupted(&env, 9, "9.0.0");
        record_steps(&env, id, &steps);

        env.deployer.clone().resume_interrupted().await;

        let view = env.settle(id).await;
        assert_eq!(view.state, state, "{steps:?}: {view:#?}");
        let rollbacks = env
            .history()
            .iter()
            .filter(|d| d.kind == "rollback")
            .count();
        assert_eq!(rollbacks, usize::from(rolled_back), "{steps:?}");
        assert_eq!(env.installed(), Some((1, "1.0.0".to_string())));
    }
}

#[tokio::test]
async fn a_deployment_that_cannot_be_resumed_ends_interrupted() {
    let env = env(&["n1"]);
    // Release 9 is not loaded: no plan can be made for it.
    let id = interrupted(&env, 9, "9.0.0");
    env.deployer.clone().resume_interrupted().await;
    let view = env.settle(id).await;
    assert_eq!(view.state, "interrupted", "{view:#?}");
    assert!(
        view.message
            .as_deref()
            .is_some_and(|m| m.contains("resuming after a console restart failed")),
        "{view:#?}"
    );
    assert!(env.engine("n1").calls().is_empty());
}

#[tokio::test]
async fn stop_start_and_restart_the_installed_release() {
    let env = env(&["n1"]);
    let _healer = env.heal_all();
    match env.deployer.stop(&admin(), &Source::Local).await {
        Err(DeployError::NotDeployed) => {}
        other => panic!("expected NotDeployed, got {other:?}"),
    }
    env.deployed(1).await;
    let engine = env.engine("n1");

    let stopped = env.deployer.stop(&admin(), &Source::Local).await.unwrap();
    assert_eq!(stopped.state, "stopped", "{stopped:#?}");
    let containers = list(engine);
    assert_eq!(containers.len(), 3);
    assert!(
        containers.iter().all(|c| c.state == RunState::Exited),
        "{containers:#?}"
    );
    assert_eq!(env.store.desired_state(APP).unwrap(), "stopped");
    // Dependents first: the api is stopped last.
    let stops: Vec<String> = engine
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Stop { name, .. } => Some(name),
            _ => None,
        })
        .collect();
    assert_eq!(stops.len(), 3);
    assert_eq!(stops.last().map(String::as_str), Some("sample-app-api-1"));

    let started = env.deployer.start(&admin(), &Source::Local).await.unwrap();
    assert_eq!(started.state, "running", "{started:#?}");
    assert!(list(engine)
        .iter()
        .all(|c| c.state == RunState::Running && c.health == Some(Health::Healthy)));
    assert_eq!(env.store.desired_state(APP).unwrap(), "running");

    let restarted = env
        .deployer
        .restart(&admin(), &Source::Local)
        .await
        .unwrap();
    assert_eq!(restarted.state, "running");
    assert_eq!(
        engine
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::Stop { .. }))
            .count(),
        6
    );
    for action in ["app.stopped", "app.started", "app.restarted"] {
        assert_eq!(env.audited(action).len(), 1, "{action}");
    }
    // Nothing of this is a deployment.
    assert_eq!(env.history().len(), 1);
}

#[tokio::test]
async fn status_reports_each_service_and_its_replicas() {
    let env = env(&["n1", "n2"]);
    let status = env.deployer.status().await.unwrap();
    assert_eq!(status.state, "not_deployed");
    assert!(status.installed.is_none() && status.services.is_empty());

    let _healer = env.heal_all();
    let deployed = env.deployed(1).await;
    let status = env.deployer.status().await.unwrap();
    assert_eq!(status.app_id, APP);
    assert_eq!(status.state, "running", "{status:#?}");
    let installed = status.installed.as_ref().unwrap();
    assert_eq!(
        (
            installed.sequence,
            installed.version.as_str(),
            installed.deployment_id
        ),
        (1, "1.0.0", deployed.id)
    );
    assert_eq!(status.active_deployment, None);
    let services: Vec<(&str, &str)> = status
        .services
        .iter()
        .map(|s| (s.service.as_str(), s.state.as_str()))
        .collect();
    assert_eq!(
        services,
        [
            ("api", "running"),
            ("web", "running"),
            ("worker", "running")
        ]
    );
    let web = &status.services[1].replicas;
    assert_eq!(web.len(), 1);
    assert_eq!(
        (
            web[0].replica,
            web[0].node.as_str(),
            web[0].node_name.as_str(),
            web[0].container.as_str(),
            web[0].state.as_str(),
            web[0].health.as_deref()
        ),
        (
            1,
            "n1",
            "host-n1",
            "sample-app-web-1",
            "running",
            Some("healthy")
        )
    );
    assert_eq!(web[0].image, image_of("1.0.0", "web"));

    // A sick replica makes its service (and the app) degraded; an offline node is named.
    env.engine("n1")
        .set_health("sample-app-worker-1", Some(Health::Unhealthy));
    env.nodes.offline.lock().unwrap().insert("n2".to_string());
    let status = env.deployer.status().await.unwrap();
    assert_eq!(status.state, "degraded");
    assert_eq!(status.services[2].state, "degraded");
    assert_eq!(status.unreachable, ["host-n2"]);
}

#[tokio::test]
async fn logs_of_a_replica() {
    let env = env(&["n1"]);
    let _healer = env.heal_all();
    env.deployed(1).await;
    let engine = env.engine("n1");
    for n in 1..=3 {
        engine.write_log("sample-app-api-1", StdStream::Stdout, &format!("line {n}"));
    }
    engine.write_log("sample-app-api-1", StdStream::Stderr, "oops");

    let logs = env.deployer.logs("api", 1, 2).await.unwrap();
    assert_eq!(
        (logs.node.as_str(), logs.container.as_str()),
        ("n1", "sample-app-api-1")
    );
    let lines: Vec<(&str, &str)> = logs
        .lines
        .iter()
        .map(|l| (l.stream.as_str(), l.line.as_str()))
        .collect();
    assert_eq!(lines, [("stdout", "line 3"), ("stderr", "oops")]);

    match env.deployer.logs("api", 2, 10).await {
        Err(DeployError::NoSuchContainer { service, replica }) => {
            assert_eq!((service.as_str(), replica), ("api", 2));
        }
        other => panic!("expected NoSuchContainer, got {other:?}"),
    }
}
