//! Running plans of the sample app on agents' in-memory engines: the order steps are recorded
//! and run in, where each kind of failure stops and whether it touched containers, the clean-up,
//! pull credentials, and the wait bounds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use outpost_agent::engine::fake::{Call, FakeEngine};
use outpost_agent::engine::{ContainerEngine, ContainerState};
use outpost_agent::protocol::{ContainerSpec, Healthcheck, RegistryAuth};
use outpost_airgap::app::App;
use outpost_airgap::release::Release;

use super::*;
use crate::deploy::nodes::fake::{FakeNodes, Fate, Healer};
use crate::deploy::plan::{self, PlanInput, PlanNode, RegistrySettings};
use crate::store::NewDeployment;
use crate::testing;

const SECRET: &str = "Adm1n-pw-never-shown";
const APP: &str = "sample-app";

/// Limits that keep the tests fast.
fn limits() -> Limits {
    Limits {
        poll: Duration::from_millis(5),
        wait: Duration::from_secs(5),
        ..Limits::default()
    }
}

/// The sample app's plan for release `version` on `nodes` (ids), with the admin password set.
fn plan_for(version: &str, nodes: &[&str], registry: &RegistrySettings) -> Plan {
    let release: Release = testing::deployable_release(1, version);
    let app = App::from_files(&release.files).expect("the sample app parses");
    let config = BTreeMap::from([("admin_password".to_string(), SECRET.to_string())]);
    plan::build(&PlanInput {
        app_id: APP,
        release: &release,
        app: &app,
        config: &config,
        nodes: nodes
            .iter()
            .map(|id| PlanNode {
                id: id.to_string(),
                labels: BTreeMap::new(),
            })
            .collect(),
        registry,
    })
    .expect("the sample app plans")
}

/// A store with one running deployment, fake nodes, and the plan's images pullable on them.
struct Fixture {
    store: Arc<Store>,
    nodes: FakeNodes,
    journal: Journal,
    node_names: BTreeMap<String, String>,
    cluster: Vec<String>,
}

impl Fixture {
    fn new(node_ids: &[&str]) -> Fixture {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let id = store
            .insert_deployment(&NewDeployment {
                app_id: APP,
                kind: "deploy",
                sequence: 1,
                version: "1.0.0",
                previous_sequence: None,
                config_hash: "hash",
                config_json: "{}",
                actor: "admin",
                started_at: 1,
                preflight_overridden: false,
                rollback_of: None,
            })
            .unwrap()
            .unwrap();
        let journal = Journal::new(store.clone(), id, LiveProgress::default());
        Fixture {
            store,
            nodes: FakeNodes::new(node_ids),
            journal,
            node_names: node_ids
                .iter()
                .map(|id| (id.to_string(), format!("host-{id}")))
                .collect(),
            cluster: node_ids.iter().map(|id| id.to_string()).collect(),
        }
    }

    /// Makes every image of `plan` pullable on every node, except those containing `except`.
    fn publish(&self, plan: &Plan, except: Option<&str>) {
        for engine in self.nodes.engines.values() {
            for image in &plan.images {
                if except.is_some_and(|e| image.pull_as.contains(e)) {
                    continue;
                }
                engine.add_image(&image.pull_as);
            }
        }
    }

    fn heal(&self, fate: impl Fn(&ContainerState) -> Fate + Send + 'static) -> Healer {
        self.nodes.heal(fate)
    }

    async fn run(
        &self,
        plan: &Plan,
        credentials: &BTreeMap<String, RegistryAuth>,
    ) -> Result<(), Failure> {
        Execution {
            nodes: &self.nodes,
            journal: &self.journal,
            plan,
            credentials,
            node_names: &self.node_names,
            cluster: &self.cluster,
            limits: limits(),
            skip_prepare: false,
        }
        .run()
        .await
    }

    /// The recorded steps as `state action target`.
    fn steps(&self) -> Vec<String> {
        self.store
            .deployment_steps(self.journal.deployment())
            .unwrap()
            .iter()
            .map(|s| format!("{} {} {}", s.state, s.action, s.target))
            .collect()
    }

    fn step(&self, action: &str, target_contains: &str) -> StepRecord {
        self.store
            .deployment_steps(self.journal.deployment())
            .unwrap()
            .into_iter()
            .find(|s| s.action == action && s.target.contains(target_contains))
            .unwrap_or_else(|| panic!("no {action} step for {target_contains}: {:?}", self.steps()))
    }

    fn events(&self) -> Vec<String> {
        self.store
            .deployment_events(self.journal.deployment())
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect()
    }
}

fn pull_of(plan: &Plan, service_image: &str) -> String {
    plan.images
        .iter()
        .find(|i| i.pull_as.contains(service_image))
        .unwrap_or_else(|| panic!("no image {service_image} in the plan"))
        .pull_as
        .clone()
}

fn position(calls: &[Call], wanted: impl Fn(&Call) -> bool) -> Option<usize> {
    calls.iter().position(wanted)
}

fn last_position(calls: &[Call], wanted: impl Fn(&Call) -> bool) -> Option<usize> {
    calls.iter().rposition(wanted)
}

fn run_of(name: &str) -> impl Fn(&Call) -> bool + '_ {
    move |c| matches!(c, Call::Run { name: n } if n == name)
}

fn inspect_of(name: &str) -> impl Fn(&Call) -> bool + '_ {
    move |c| matches!(c, Call::Inspect { name: n } if n == name)
}

#[tokio::test]
async fn prepares_everything_first_then_runs_services_in_dependency_order() {
    let f = Fixture::new(&["n1"]);
    let plan = plan_for("1.0.0", &["n1"], &RegistrySettings::default());
    f.publish(&plan, None);
    let _healer = f.heal(|_| Fate::Healthy);

    f.run(&plan, &BTreeMap::new()).await.expect("the plan runs");

    let web = pull_of(&plan, "outpost-samples/web");
    let api = pull_of(&plan, "outpost-samples/api");
    let worker = pull_of(&plan, "sample/worker");
    assert_eq!(
        f.steps(),
        [
            "done network sample-app".to_string(),
            "done volume sample-app_worker-data".to_string(),
            format!("done pull {web}"),
            format!("done pull {api}"),
            format!("done pull {worker}"),
            "done run sample-app-api-1".to_string(),
            "done run sample-app-web-1".to_string(),
            "done run sample-app-worker-1".to_string(),
        ]
    );
    let run = f.step("run", "sample-app-web-1");
    assert_eq!(run.message.as_deref(), Some("created · healthy"));
    assert_eq!(run.service.as_deref(), Some("web"));
    assert_eq!(run.node_name, "host-n1");
    assert!(run.started_at.is_some() && run.finished_at.is_some());

    // What the node was sent, in order: nothing runs before every pull is done.
    let sent = f.nodes.sent();
    let first_run = sent.iter().position(|s| s.starts_with("n1: run")).unwrap();
    let last_pull = sent
        .iter()
        .rposition(|s| s.starts_with("n1: pull"))
        .unwrap();
    assert!(last_pull < first_run, "{sent:#?}");

    // The api was waited for until healthy before its dependents were started.
    let calls = f.nodes.engine("n1").calls();
    let api_checked = last_position(&calls, inspect_of("sample-app-api-1")).unwrap();
    for dependent in ["sample-app-web-1", "sample-app-worker-1"] {
        let started = position(&calls, run_of(dependent)).unwrap();
        assert!(
            api_checked < started,
            "{dependent} started before the api was healthy"
        );
    }
    // The pulls' progress is gone once they are done.
    assert!(f.journal.progress.lock().unwrap().is_empty());
}

#[tokio::test]
async fn running_the_same_plan_again_changes_nothing() {
    let f = Fixture::new(&["n1"]);
    let plan = plan_for("1.0.0", &["n1"], &RegistrySettings::default());
    f.publish(&plan, None);
    let _healer = f.heal(|_| Fate::Healthy);
    f.run(&plan, &BTreeMap::new()).await.unwrap();
    f.run(&plan, &BTreeMap::new()).await.unwrap();
    assert_eq!(
        f.step("run", "sample-app-api-1").message.as_deref(),
        Some("unchanged · healthy")
    );
    assert_eq!(f.steps().len(), 8, "{:#?}", f.steps());
}

#[tokio::test]
async fn a_missing_image_fails_the_pull_before_any_container_is_touched() {
    let f = Fixture::new(&["n1"]);
    let plan = plan_for("1.0.0", &["n1"], &RegistrySettings::default());
    f.publish(&plan, Some("sample/worker"));
    let _healer = f.heal(|_| Fate::Healthy);

    let failure = f.run(&plan, &BTreeMap::new()).await.unwrap_err();

    let worker = pull_of(&plan, "sample/worker");
    assert!(!failure.changed);
    assert!(failure.message.contains(&worker), "{}", failure.message);
    assert!(failure.message.contains("host-n1"), "{}", failure.message);
    let step = f.step("pull", "sample/worker");
    assert_eq!(step.state, "failed");
    assert!(step.message.unwrap().contains(&worker));
    let calls = f.nodes.engine("n1").calls();
    assert!(
        !calls.iter().any(|c| matches!(c, Call::Run { .. })),
        "{calls:#?}"
    );
    let runs: Vec<String> = f
        .steps()
        .into_iter()
        .filter(|s| s.contains(" run "))
        .collect();
    assert!(runs.iter().all(|s| s.starts_with("pending")), "{runs:#?}");
}

#[tokio::test]
async fn an_unhealthy_container_fails_the_run_after_changes() {
    let f = Fixture::new(&["n1"]);
    let plan = plan_for("1.0.0", &["n1"], &RegistrySettings::default());
    f.publish(&plan, None);
    let _healer = f.heal(|c| {
        if c.name == "sample-app-web-1" {
            Fate::Unhealthy
        } else {
            Fate::Healthy
        }
    });

    let failure = f.run(&plan, &BTreeMap::new()).await.unwrap_err();

    assert!(failure.changed);
    assert!(
        failure
            .message
            .contains("container sample-app-web-1 is unhealthy"),
        "{}",
        failure.message
    );
    assert_eq!(f.step("run", "sample-app-api-1").state, "done");
    assert_eq!(f.step("run", "sample-app-web-1").state, "failed");
    assert_eq!(f.step("run", "sample-app-worker-1").state, "pending");
}

#[tokio::test]
async fn a_container_that_exits_fails_the_run() {
    let f = Fixture::new(&["n1"]);
    let plan = plan_for("1.0.0", &["n1"], &RegistrySettings::default());
    f.publish(&plan, None);
    let _healer = f.heal(|c| {
        if c.name == "sample-app-api-1" {
            Fate::Exit(3)
        } else {
            Fate::Healthy
        }
    });

    let failure = f.run(&plan, &BTreeMap::new()).await.unwrap_err();

    assert!(failure.changed);
    assert!(
        failure
            .message
            .contains("container sample-app-api-1 exited with code 3"),
        "{}",
        failure.message
    );
    assert_eq!(f.step("run", "sample-app-web-1").state, "pending");
}

#[tokio::test]
async fn a_container_that_never_gets_healthy_fails_at_the_bound() {
    let f = Fixture::new(&["n1"]);
    let plan = plan_for("1.0.0", &["n1"], &RegistrySettings::default());
    f.publish(&plan, None);
    // No healer: the api stays "starting".
    let limits = Limits {
        wait: Duration::from_millis(100),
        ..limits()
    };
    let failure = Execution {
        nodes: &f.nodes,
        journal: &f.journal,
        plan: &plan,
        credentials: &BTreeMap::new(),
        node_names: &f.node_names,
        cluster: &f.cluster,
        limits,
        skip_prepare: false,
    }
    .run()
    .await
    .unwrap_err();
    assert!(failure.changed);
    assert!(
        failure
            .message
            .contains("container sample-app-api-1 did not become healthy within"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("(last: running, health starting)"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn clean_up_removes_only_the_apps_containers_the_plan_does_not_have() {
    let f = Fixture::new(&["n1", "n2", "n3"]);
    f.nodes.offline.lock().unwrap().insert("n3".to_string());
    // Every service stays on n1 (no constraints): n2 runs nothing of the new plan.
    let plan = plan_for("1.0.0", &["n1", "n2"], &RegistrySettings::default());
    assert_eq!(plan.nodes.keys().collect::<Vec<_>>(), ["n1"]);
    f.publish(&plan, None);

    let leftover = |name: &str, app: &str, service: &str| ContainerSpec {
        name: name.to_string(),
        image: "busybox:latest".to_string(),
        labels: BTreeMap::from([
            (plan::LABEL_APP.to_string(), app.to_string()),
            (plan::LABEL_SERVICE.to_string(), service.to_string()),
            (plan::LABEL_RELEASE.to_string(), "0".to_string()),
        ]),
        ..ContainerSpec::default()
    };
    let n1 = f.nodes.engine("n1");
    let n2 = f.nodes.engine("n2");
    for engine in [n1, n2] {
        engine.add_local_image("busybox:latest");
    }
    // An old second replica, another app's container and one Outpost did not create on n1;
    // an old container of the app on n2.
    n1.run(&leftover("sample-app-web-2", APP, "web"))
        .await
        .unwrap();
    n1.run(&leftover("other-app-web-1", "other-app", "web"))
        .await
        .unwrap();
    n1.add_unmanaged_container("admins-own-db", "postgres:16");
    n2.run(&leftover("sample-app-worker-1", APP, "worker"))
        .await
        .unwrap();

    let _healer = f.heal(|_| Fate::Healthy);
    f.run(&plan, &BTreeMap::new()).await.expect("the plan runs");

    let names = |engine: &FakeEngine| -> BTreeSet<String> {
        futures_util::FutureExt::now_or_never(engine.list(&BTreeMap::new()))
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect()
    };
    assert_eq!(
        names(n1),
        BTreeSet::from(
            [
                "admins-own-db",
                "other-app-web-1",
                "sample-app-api-1",
                "sample-app-web-1",
                "sample-app-worker-1"
            ]
            .map(String::from)
        )
    );
    assert!(names(n2).is_empty());
    let steps = f.steps();
    assert_eq!(
        steps[8..],
        [
            "done remove sample-app-web-2".to_string(),
            "done remove sample-app-worker-1".to_string(),
        ],
        "{steps:#?}"
    );
    assert_eq!(f.step("remove", "sample-app-worker-1").node, "n2");
    // Removing stops the container gracefully first.
    let calls = n2.calls();
    let stop = position(
        &calls,
        |c| matches!(c, Call::Stop { name, .. } if name == "sample-app-worker-1"),
    );
    let remove = position(
        &calls,
        |c| matches!(c, Call::Remove { name } if name == "sample-app-worker-1"),
    );
    assert!(stop.is_some() && stop < remove, "{calls:#?}");
    // The offline node is said to be skipped.
    let events = f.events();
    assert!(
        events
            .iter()
            .any(|e| e.contains("node host-n3 is offline")
                && e.contains("left until a later deploy")),
        "{events:#?}"
    );
}

#[tokio::test]
async fn pulls_carry_the_credentials_of_their_auth_host_only() {
    let f = Fixture::new(&["n1"]);
    let auth = RegistryAuth {
        username: "puller".to_string(),
        password: "quay-password".to_string(),
    };
    let registry = RegistrySettings {
        credentials: BTreeMap::from([("quay.io".to_string(), auth.clone())]),
        ..RegistrySettings::default()
    };
    let plan = plan_for("1.0.0", &["n1"], &registry);
    let api = pull_of(&plan, "outpost-samples/api");
    let api_image = plan.images.iter().find(|i| i.pull_as == api).unwrap();
    assert_eq!(api_image.auth_host.as_deref(), Some("quay.io"));
    f.publish(&plan, Some("outpost-samples/api"));
    f.nodes.engine("n1").add_private_image(&api, auth);
    let _healer = f.heal(|_| Fate::Healthy);

    f.run(&plan, &registry.credentials)
        .await
        .expect("the plan runs");

    let pulls: BTreeMap<String, Option<String>> = f
        .nodes
        .engine("n1")
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Pull {
                reference,
                username,
            } => Some((reference, username)),
            _ => None,
        })
        .collect();
    assert_eq!(pulls.len(), 3);
    for (reference, username) in pulls {
        let expected = (reference == api).then(|| "puller".to_string());
        assert_eq!(username, expected, "{reference}");
    }
}

#[tokio::test]
async fn a_pull_without_the_registrys_credentials_is_refused_and_names_the_image() {
    let f = Fixture::new(&["n1"]);
    let registry = RegistrySettings {
        credentials: BTreeMap::from([(
            "quay.io".to_string(),
            RegistryAuth {
                username: "puller".to_string(),
                password: "stale-password".to_string(),
            },
        )]),
        ..RegistrySettings::default()
    };
    let plan = plan_for("1.0.0", &["n1"], &registry);
    let api = pull_of(&plan, "outpost-samples/api");
    f.publish(&plan, Some("outpost-samples/api"));
    f.nodes.engine("n1").add_private_image(
        &api,
        RegistryAuth {
            username: "puller".to_string(),
            password: "current-password".to_string(),
        },
    );
    let failure = f.run(&plan, &registry.credentials).await.unwrap_err();
    assert!(!failure.changed);
    assert!(failure.message.contains(&api), "{}", failure.message);
    assert!(
        failure.message.contains("unauthorized"),
        "{}",
        failure.message
    );
    assert!(!failure.message.contains("password"), "{}", failure.message);
}

#[tokio::test]
async fn an_offline_node_fails_its_first_step_and_says_so() {
    let f = Fixture::new(&["n1"]);
    let plan = plan_for("1.0.0", &["n1"], &RegistrySettings::default());
    f.nodes.offline.lock().unwrap().insert("n1".to_string());
    let failure = f.run(&plan, &BTreeMap::new()).await.unwrap_err();
    assert!(!failure.changed);
    assert!(
        failure.message.contains("node n1 is offline"),
        "{}",
        failure.message
    );
    assert_eq!(f.steps()[0], "failed network sample-app");
}

#[tokio::test]
async fn skip_prepare_runs_only_the_containers() {
    let f = Fixture::new(&["n1"]);
    let plan = plan_for("1.0.0", &["n1"], &RegistrySettings::default());
    for image in &plan.images {
        f.nodes.engine("n1").add_local_image(&image.pull_as);
    }
    let _healer = f.heal(|_| Fate::Healthy);
    // The network is there from the earlier deploy.
    let n1 = f.nodes.engine("n1");
    n1.ensure_network(APP, &BTreeMap::new()).await.unwrap();
    Execution {
        nodes: &f.nodes,
        journal: &f.journal,
        plan: &plan,
        credentials: &BTreeMap::new(),
        node_names: &f.node_names,
        cluster: &f.cluster,
        limits: limits(),
        skip_prepare: true,
    }
    .run()
    .await
    .expect("the plan runs");
    assert_eq!(
        f.steps(),
        [
            "done run sample-app-api-1",
            "done run sample-app-web-1",
            "done run sample-app-worker-1"
        ]
    );
    assert!(!n1.calls().iter().any(|c| matches!(c, Call::Pull { .. })));
}

fn spec_with(check: Option<(u64, u64, u32, u64)>) -> ContainerSpec {
    ContainerSpec {
        name: "c".to_string(),
        image: "i".to_string(),
        healthcheck: check.map(
            |(interval_ms, timeout_ms, retries, start_period_ms)| Healthcheck {
                test: vec!["CMD".to_string(), "true".to_string()],
                interval_ms,
                timeout_ms,
                retries,
                start_period_ms,
            },
        ),
        ..ContainerSpec::default()
    }
}

#[test]
fn wait_bound_follows_the_healthcheck_schedule_within_limits() {
    let secs = Duration::from_secs;
    let max = secs(600);
    // The sample web service: 2 s start, then 4 rounds of 5 s + 3 s, plus 30 s margin.
    let web = spec_with(Some((5_000, 3_000, 3, 2_000)));
    assert_eq!(wait_bound(&web, Wait::Healthy, max), secs(2 + 4 * 8 + 30));
    // Only a healthy wait follows the healthcheck; otherwise (and for short schedules) a minute.
    assert_eq!(wait_bound(&web, Wait::Started, max), secs(60));
    assert_eq!(wait_bound(&web, Wait::Completed, max), secs(60));
    assert_eq!(wait_bound(&spec_with(None), Wait::Healthy, max), secs(60));
    let quick = spec_with(Some((1_000, 1_000, 1, 0)));
    assert_eq!(wait_bound(&quick, Wait::Healthy, max), secs(60));
    // Never beyond the limit, however slow the schedule.
    let slow = spec_with(Some((60_000, 30_000, 10, 300_000)));
    assert_eq!(wait_bound(&slow, Wait::Healthy, max), max);
    assert_eq!(wait_bound(&web, Wait::Healthy, secs(5)), secs(5));
}

#[track_caller]
fn check_verdict(
    state: &str,
    health: Option<&str>,
    exit_code: Option<i64>,
    wait: Wait,
    expected: Verdict,
) {
    let info = ContainerInfo {
        name: "c".to_string(),
        image: String::new(),
        state: state.to_string(),
        health: health.map(str::to_string),
        restart_count: 0,
        exit_code,
        labels: BTreeMap::new(),
        started_at: None,
    };
    assert_eq!(
        verdict(&info, wait),
        expected,
        "{state} {health:?} {exit_code:?} {wait:?}"
    );
}

#[test]
fn verdicts() {
    use Verdict::{Failed, Reached, Waiting};
    use Wait::{Completed, Healthy, Started};
    let waiting = |s: &str| Waiting(s.to_string());
    let failed = |s: &str| Failed(s.to_string());
    check_verdict("running", None, None, Started, Reached("running"));
    check_verdict("created", None, None, Started, waiting("created"));
    check_verdict("restarting", None, None, Started, waiting("restarting"));
    check_verdict(
        "running",
        Some("healthy"),
        None,
        Healthy,
        Reached("healthy"),
    );
    check_verdict(
        "running",
        Some("starting"),
        None,
        Healthy,
        waiting("running, health starting"),
    );
    check_verdict(
        "running",
        Some("unhealthy"),
        None,
        Healthy,
        failed("is unhealthy: its healthcheck failed (see its logs on the Logs page)"),
    );
    check_verdict(
        "running",
        None,
        None,
        Healthy,
        Reached("running (no healthcheck)"),
    );
    check_verdict("created", None, None, Healthy, waiting("created"));
    check_verdict(
        "exited",
        Some("starting"),
        Some(137),
        Healthy,
        failed("exited with code 137 (see its logs on the Logs page)"),
    );
    check_verdict(
        "dead",
        None,
        Some(1),
        Started,
        failed("exited with code 1 (see its logs on the Logs page)"),
    );
    check_verdict("exited", None, Some(0), Completed, Reached("completed"));
    check_verdict(
        "exited",
        None,
        Some(2),
        Completed,
        failed("exited with code 2"),
    );
    check_verdict("running", None, None, Completed, waiting("running"));
}
