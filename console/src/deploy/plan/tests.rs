//! The plan on small inline apps: each test builds an app from YAML, plans it and compares a
//! compact rendering of the plan (or the error) with what is expected.

use std::collections::{BTreeMap, BTreeSet};

use outpost_agent::protocol::{ContainerSpec, RegistryAuth};
use outpost_airgap::app::App;
use outpost_airgap::release::{ImagePin, Release};
use time::OffsetDateTime;

use super::spec::split_words;
use super::*;

const SECRET: &str = "s3cret!pw";

/// Two items every app has; tests add more.
const ITEMS: &str = "
      - name: greeting
        type: text
        default: Hello
      - name: db_password
        title: Database password
        type: password
        required: true";

const METRICS_ITEM: &str = "
      - name: enable_metrics
        title: Metrics
        type: bool
        default: false
        profile: metrics";

/// An app, its config, the online nodes and the registry settings: one planning problem.
struct Fixture {
    compose: String,
    items: String,
    config: BTreeMap<String, String>,
    nodes: Vec<PlanNode>,
    registry: RegistrySettings,
    /// Leave these images (normalised references) out of the release's pins.
    unpinned: Vec<String>,
    release_app: String,
}

impl Fixture {
    /// One node, `n1`, and the required password set.
    fn new(compose: &str) -> Fixture {
        Fixture {
            compose: compose.to_string(),
            items: ITEMS.to_string(),
            config: BTreeMap::from([("db_password".to_string(), SECRET.to_string())]),
            nodes: vec![node("n1", "")],
            registry: RegistrySettings::default(),
            unpinned: Vec::new(),
            release_app: "shop".to_string(),
        }
    }

    fn item(mut self, yaml: &str) -> Fixture {
        self.items.push_str(yaml);
        self
    }

    fn set(mut self, item: &str, value: &str) -> Fixture {
        self.config.insert(item.to_string(), value.to_string());
        self
    }

    fn unset(mut self, item: &str) -> Fixture {
        self.config.remove(item);
        self
    }

    /// Nodes as `id` or `id:label=value,label=value`.
    fn nodes(mut self, nodes: &[&str]) -> Fixture {
        self.nodes = nodes
            .iter()
            .map(|n| match n.split_once(':') {
                Some((id, labels)) => node(id, labels),
                None => node(n, ""),
            })
            .collect();
        self
    }

    fn rules(mut self, rules: &[&str]) -> Fixture {
        self.registry.rules = rules.iter().map(|r| r.parse().unwrap()).collect();
        self
    }

    fn credentials(mut self, hosts: &[&str]) -> Fixture {
        for host in hosts {
            let auth = RegistryAuth {
                username: format!("user@{host}"),
                password: "registry-password".to_string(),
            };
            self.registry.credentials.insert(host.to_string(), auth);
        }
        self
    }

    fn internal(mut self, host: &str, digests: &[char]) -> Fixture {
        self.registry.internal = Some(InternalRegistry {
            host: host.to_string(),
            images: digests.iter().map(|c| digest(*c)).collect(),
        });
        self
    }

    fn unpinned(mut self, image: &str) -> Fixture {
        self.unpinned.push(image.to_string());
        self
    }

    fn app(&self) -> App {
        let outpost = format!(
            "app: shop\nversion: 1.0.0\nnode_labels: [role, zone]\nconfig:\n  - group: main\n    items:{}\n",
            self.items
        );
        let files = BTreeMap::from([
            ("compose.yaml".to_string(), self.compose.clone()),
            ("outpost.yaml".to_string(), outpost),
        ]);
        App::from_files(&files).unwrap_or_else(|e| panic!("the test app is invalid:\n{e}"))
    }

    /// The release pins the app's images, in sorted order, to `sha256:aaa…`, `sha256:bbb…`, ….
    fn release(&self, app: &App) -> Release {
        let images = app
            .images()
            .iter()
            .zip("abcdef0123456789".chars())
            .map(|(image, c)| ImagePin {
                reference: image.to_string(),
                digest: digest(c),
                platform: "linux/amd64".to_string(),
            })
            .filter(|pin| !self.unpinned.contains(&pin.reference))
            .collect();
        Release {
            schema: 1,
            app_id: self.release_app.clone(),
            channel: "stable".to_string(),
            sequence: 7,
            version: "1.0.0".to_string(),
            notes: String::new(),
            required: false,
            created_at: OffsetDateTime::UNIX_EPOCH,
            files: app.files.clone(),
            images,
        }
    }

    fn plan(&self) -> Result<Plan, PlanError> {
        let app = self.app();
        let release = self.release(&app);
        let plan = build(&PlanInput {
            app_id: "shop",
            release: &release,
            app: &app,
            config: &self.config,
            nodes: self.nodes.clone(),
            registry: &self.registry,
        })?;
        // Every spec must be one the agent accepts.
        for spec in specs(&plan) {
            outpost_agent::engine::validate_spec(spec)
                .unwrap_or_else(|e| panic!("the agent refuses {}: {e}", spec.name));
        }
        Ok(plan)
    }

    #[track_caller]
    fn ok(&self) -> Plan {
        self.plan().unwrap_or_else(|e| panic!("no plan: {e}"))
    }

    #[track_caller]
    fn err(&self) -> PlanError {
        match self.plan() {
            Ok(plan) => panic!("expected an error, got a plan:\n{}", render(&plan)),
            Err(e) => e,
        }
    }
}

fn node(id: &str, labels: &str) -> PlanNode {
    PlanNode {
        id: id.to_string(),
        labels: labels
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect(),
    }
}

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn specs(plan: &Plan) -> Vec<&ContainerSpec> {
    plan.nodes
        .values()
        .flat_map(|node| &node.steps)
        .filter_map(|step| match step {
            Step::Run { spec, .. } => Some(spec.as_ref()),
            _ => None,
        })
        .collect()
}

#[track_caller]
fn spec<'p>(plan: &'p Plan, name: &str) -> &'p ContainerSpec {
    specs(plan)
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

/// The plan in a few lines; digests shortened to their first three characters.
fn render(plan: &Plan) -> String {
    let mut out = format!("order: {}\n", plan.services_in_order.join(" "));
    for image in &plan.images {
        let source = match &image.source {
            ImageSource::Upstream { registry } => format!("upstream {registry}"),
            ImageSource::Mirror { registry, of } => format!("mirror {registry} of {of}"),
            ImageSource::Internal { registry } => format!("internal {registry}"),
            ImageSource::Node { registry } => format!("node {registry}"),
        };
        out += &format!(
            "image {} as {} from {source} auth {}\n",
            image.reference,
            image.pull_as,
            image.auth_host.as_deref().unwrap_or("-")
        );
    }
    for (id, node) in &plan.nodes {
        assert_eq!(node.network, "shop");
        out += &format!("node {id}\n");
        let (mut volumes, mut pulls) = (Vec::new(), Vec::new());
        for step in &node.steps {
            out += &match step {
                Step::EnsureNetwork { name, .. } => format!("  network {name}\n"),
                Step::EnsureVolume { name, .. } => {
                    volumes.push(name.clone());
                    format!("  volume {name}\n")
                }
                Step::Pull {
                    image, auth_host, ..
                } => {
                    pulls.push(image.clone());
                    format!(
                        "  pull {image} auth {}\n",
                        auth_host.as_deref().unwrap_or("-")
                    )
                }
                Step::Run { spec, wait } => {
                    format!(
                        "  run {} {}\n",
                        spec.name,
                        format!("{wait:?}").to_lowercase()
                    )
                }
            };
        }
        assert_eq!(node.volumes, volumes, "volume steps of {id}");
        assert_eq!(node.pulls, pulls, "pull steps of {id}");
    }
    shorten(&out)
}

/// `n1: shop-a-1 shop-b-1` per node: where each container runs.
fn placement(plan: &Plan) -> Vec<String> {
    plan.nodes
        .iter()
        .map(|(id, node)| {
            let names: Vec<&str> = node
                .steps
                .iter()
                .filter_map(|step| match step {
                    Step::Run { spec, .. } => Some(spec.name.as_str()),
                    _ => None,
                })
                .collect();
            format!("{id}: {}", names.join(" "))
        })
        .collect()
}

fn shorten(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("sha256:") {
        let (head, tail) = rest.split_at(at + "sha256:".len());
        out.push_str(head);
        let hex = tail.bytes().take_while(u8::is_ascii_hexdigit).count();
        out.push_str(&tail[..hex.min(3)]);
        rest = &tail[hex..];
    }
    out.push_str(rest);
    out
}

#[track_caller]
fn check(fixture: Fixture, expected: &str) {
    let actual = render(&fixture.ok());
    assert_eq!(actual.trim(), expected.trim(), "\nactual plan:\n{actual}");
}

/// The error's message contains every fragment.
#[track_caller]
fn check_err(fixture: Fixture, fragments: &[&str]) -> PlanError {
    let error = fixture.err();
    let message = error.to_string();
    for fragment in fragments {
        assert!(
            message.contains(fragment),
            "{fragment:?} is not in the error:\n{message}"
        );
    }
    error
}

const SHOP: &str = r#"
services:
  web:
    image: docker.io/acme/web:1.0
    environment:
      GREETING: ${greeting}
      PRICE: 5$$
    ports: ["8080:8080", "127.0.0.1:9443:443/tcp"]
    depends_on:
      api: { condition: service_healthy }
    restart: unless-stopped
  api:
    image: quay.io/acme/api:1.0
    command: ["serve", "--db", "postgres://app:${db_password}@db/app"]
    environment:
      DB_URL: postgres://app:${db_password}@db/app
    volumes: ["data:/var/lib/api", "data:/ro:ro"]
    depends_on: [db]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:9000/healthz"]
      interval: 5s
      timeout: 3s
      retries: 3
      start_period: 2s
    restart: on-failure
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: ${db_password}
    volumes: ["pg:/var/lib/postgresql/data"]
volumes:
  data: {}
  pg: {}
"#;

#[test]
fn single_node_runs_everything_in_dependency_order() {
    check(
        Fixture::new(SHOP),
        "
order: db api web
image docker.io/acme/web@sha256:aaa as docker.io/acme/web@sha256:aaa from upstream docker.io auth -
image docker.io/library/postgres@sha256:bbb as docker.io/library/postgres@sha256:bbb from upstream docker.io auth -
image quay.io/acme/api@sha256:ccc as quay.io/acme/api@sha256:ccc from upstream quay.io auth -
node n1
  network shop
  volume shop_data
  volume shop_pg
  pull docker.io/acme/web@sha256:aaa auth -
  pull docker.io/library/postgres@sha256:bbb auth -
  pull quay.io/acme/api@sha256:ccc auth -
  run shop-db-1 started
  run shop-api-1 healthy
  run shop-web-1 started
",
    );
}

#[test]
fn container_specs_carry_the_config_and_the_compose_settings() {
    let plan = Fixture::new(SHOP).ok();
    assert_eq!(plan.release_sequence, 7);
    assert_eq!(plan.project, "shop");

    let web = spec(&plan, "shop-web-1");
    assert_eq!(web.image, format!("docker.io/acme/web@{}", digest('a')));
    assert_eq!(web.env["GREETING"], "Hello", "the default fills the gap");
    assert_eq!(web.env["PRICE"], "5$", "$$ is a literal $");
    assert_eq!(web.restart.as_deref(), Some("unless-stopped"));
    assert_eq!(web.networks, ["shop"]);
    assert_eq!(web.network_aliases, ["web"]);
    assert_eq!(web.healthcheck, None);
    let ports: Vec<String> = web
        .ports
        .iter()
        .map(|p| {
            let ip = p.host_ip.as_deref().unwrap_or("*");
            format!("{ip}:{}:{}/{}", p.host_port, p.container_port, p.protocol)
        })
        .collect();
    assert_eq!(ports, ["*:8080:8080/tcp", "127.0.0.1:9443:443/tcp"]);
    let labels: Vec<String> = web.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(
        labels,
        [
            "outpost.app=shop".to_string(),
            format!("outpost.config-hash={}", plan.config_hash),
            "outpost.release=7".to_string(),
            "outpost.replica=1".to_string(),
            "outpost.service=web".to_string(),
        ]
    );

    let api = spec(&plan, "shop-api-1");
    let url = format!("postgres://app:{SECRET}@db/app");
    assert_eq!(
        api.env["DB_URL"], url,
        "secrets are filled in: the plan is internal"
    );
    assert_eq!(
        api.command.as_deref(),
        Some(["serve".to_string(), "--db".to_string(), url.clone()].as_slice())
    );
    assert_eq!(api.entrypoint, None);
    assert_eq!(api.restart.as_deref(), Some("on-failure"));
    let check = api.healthcheck.as_ref().unwrap();
    assert_eq!(
        check.test,
        ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:9000/healthz"]
    );
    assert_eq!(
        (
            check.interval_ms,
            check.timeout_ms,
            check.retries,
            check.start_period_ms
        ),
        (5000, 3000, 3, 2000)
    );
    let volumes: Vec<String> = api
        .volumes
        .iter()
        .map(|v| format!("{}:{}:{}", v.volume, v.target, v.read_only))
        .collect();
    assert_eq!(
        volumes,
        ["shop_data:/var/lib/api:false", "shop_data:/ro:true"]
    );

    let db = spec(&plan, "shop-db-1");
    assert_eq!(db.env["POSTGRES_PASSWORD"], SECRET);
    assert_eq!(db.restart, None);
}

#[test]
fn our_labels_include_every_label_the_agent_requires() {
    let ours = [LABEL_APP, LABEL_RELEASE, LABEL_SERVICE];
    for required in outpost_agent::engine::REQUIRED_LABELS {
        assert!(ours.contains(&required), "{required}");
    }
}

#[test]
fn string_commands_are_split_before_values_go_in() {
    let compose = r#"
services:
  job:
    image: busybox:1.36
    entrypoint: /bin/sh -c
    command: "echo ${greeting} 'a b' \"c \\\"d\\\"\" e\\ f"
    healthcheck:
      test: test -n "${greeting}"
"#;
    let plan = Fixture::new(compose).set("greeting", "Hi there").ok();
    let job = spec(&plan, "shop-job-1");
    assert_eq!(
        job.entrypoint.as_deref(),
        Some(["/bin/sh".to_string(), "-c".to_string()].as_slice())
    );
    assert_eq!(
        job.command.clone().unwrap(),
        ["echo", "Hi there", "a b", "c \"d\"", "e f"]
    );
    let check = job.healthcheck.as_ref().unwrap();
    assert_eq!(check.test, ["CMD-SHELL", "test -n \"Hi there\""]);
    assert_eq!(
        (check.interval_ms, check.retries),
        (0, 0),
        "Docker's defaults"
    );
}

#[test]
fn words_split_as_a_shell_splits_them() {
    for (text, words) in [
        ("", vec![]),
        ("  a   b\tc ", vec!["a", "b", "c"]),
        ("'a  b' c", vec!["a  b", "c"]),
        ("a'b'\"c\"d", vec!["abcd"]),
        ("''", vec![""]),
        (r#""a \" \\ \$ \x""#, vec![r#"a " \ $ \x"#]),
        (r"a\ b \'c", vec!["a b", "'c"]),
        ("${x} $${y}", vec!["${x}", "$${y}"]),
    ] {
        assert_eq!(split_words(text).unwrap(), words, "{text:?}");
    }
    for bad in ["'a", "\"a", "a\\", "\"a\\"] {
        assert!(split_words(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn three_nodes_with_labels() {
    let compose = r#"
services:
  web:
    image: docker.io/acme/web:1.0
    deploy:
      placement:
        constraints: ["node.labels.role == web"]
  db:
    image: docker.io/acme/db:1.0
    deploy:
      placement:
        constraints: ["node.labels.role == db", "node.labels.zone != b"]
  cache:
    image: docker.io/acme/cache:1.0
    deploy:
      placement:
        constraints: ["node.labels.role != web"]
"#;
    let nodes = [
        "n2:role=db,zone=b",
        "n1:role=web,zone=a",
        "n3:role=db,zone=c",
    ];
    check(
        Fixture::new(compose).nodes(&nodes),
        "
order: cache db web
image docker.io/acme/cache@sha256:aaa as docker.io/acme/cache@sha256:aaa from upstream docker.io auth -
image docker.io/acme/db@sha256:bbb as docker.io/acme/db@sha256:bbb from upstream docker.io auth -
image docker.io/acme/web@sha256:ccc as docker.io/acme/web@sha256:ccc from upstream docker.io auth -
node n1
  network shop
  pull docker.io/acme/web@sha256:ccc auth -
  run shop-web-1 started
node n2
  network shop
  pull docker.io/acme/cache@sha256:aaa auth -
  run shop-cache-1 started
node n3
  network shop
  pull docker.io/acme/db@sha256:bbb auth -
  run shop-db-1 started
",
    );

    // A node without the label fails `==` and passes `!=`.
    let plan = Fixture::new(compose)
        .nodes(&["n0", "n1:role=web", "n3:role=db"])
        .ok();
    assert_eq!(
        placement(&plan),
        ["n0: shop-cache-1", "n1: shop-web-1", "n3: shop-db-1"]
    );

    let error = check_err(
        Fixture::new(compose).nodes(&["n1:role=web", "n2:role=db,zone=b"]),
        &[
            "service \"db\"",
            "node.labels.role == db",
            "node.labels.zone != b",
            "label a node",
        ],
    );
    assert_eq!(
        error,
        PlanError::NoNodeFor {
            service: "db".into(),
            constraints: vec![
                "node.labels.role == db".into(),
                "node.labels.zone != b".into()
            ],
        }
    );
}

#[test]
fn replicas_spread_round_robin_and_unconstrained_services_stay_on_the_first_node() {
    let compose = r#"
services:
  worker:
    image: docker.io/acme/worker:1.0
    deploy:
      replicas: 5
  solo:
    image: docker.io/acme/solo:1.0
  other:
    image: docker.io/acme/solo:1.0
"#;
    let plan = Fixture::new(compose).nodes(&["n3", "n1", "n2"]).ok();
    assert_eq!(
        placement(&plan),
        [
            "n1: shop-other-1 shop-solo-1 shop-worker-1 shop-worker-4",
            "n2: shop-worker-2 shop-worker-5",
            "n3: shop-worker-3",
        ]
    );
    assert_eq!(spec(&plan, "shop-worker-5").labels["outpost.replica"], "5");
    assert_eq!(
        plan.images.len(),
        2,
        "one image shared by two services is planned once"
    );
    assert_eq!(plan.nodes["n1"].pulls.len(), 2);

    // The same nodes in another order give the same plan.
    let again = Fixture::new(compose).nodes(&["n2", "n3", "n1"]).ok();
    assert_eq!(again, plan);
}

#[test]
fn published_ports_need_a_node_per_replica() {
    let web = |replicas: u32| {
        format!(
            "
services:
  web:
    image: docker.io/acme/web:1.0
    ports: [\"8080:8080\"]
    deploy:
      replicas: {replicas}
"
        )
    };
    let plan = Fixture::new(&web(2)).nodes(&["n1", "n2"]).ok();
    assert_eq!(placement(&plan), ["n1: shop-web-1", "n2: shop-web-2"]);

    let error = check_err(
        Fixture::new(&web(3)).nodes(&["n1", "n2"]),
        &["\"web\"", "8080/tcp", "3 replicas", "add nodes"],
    );
    assert_eq!(
        error,
        PlanError::NotEnoughNodes {
            service: "web".into(),
            replicas: 3,
            ports: vec!["8080/tcp".into()],
            eligible: vec!["n1".into(), "n2".into()],
        }
    );
}

#[test]
fn services_publishing_the_same_port_go_to_different_nodes() {
    let compose = r#"
services:
  a:
    image: docker.io/acme/a:1.0
    ports: ["8080:80", "127.0.0.1:9000:9000", "53:53/udp"]
  b:
    image: docker.io/acme/b:1.0
    ports: ["8080:8080"]
  c:
    image: docker.io/acme/c:1.0
    ports: ["127.0.0.2:9000:9000", "53:53/tcp"]
"#;
    // Another address or protocol does not clash; the same port on every address does.
    let plan = Fixture::new(compose).nodes(&["n1", "n2"]).ok();
    assert_eq!(placement(&plan), ["n1: shop-a-1 shop-c-1", "n2: shop-b-1"]);

    let error = check_err(
        Fixture::new(compose),
        &["\"b\"", "replica 1", "n1: 8080/tcp by a", "add a node"],
    );
    assert!(matches!(error, PlanError::PortTaken { .. }), "{error:?}");
}

#[test]
fn profiles_switch_services_on_and_off() {
    let compose = r#"
services:
  web:
    image: docker.io/acme/web:1.0
  metrics:
    image: docker.io/acme/metrics:1.0
    profiles: ["metrics"]
"#;
    let off = Fixture::new(compose).item(METRICS_ITEM).ok();
    assert_eq!(off.services_in_order, ["web"]);
    assert_eq!(
        off.images.len(),
        1,
        "an image of a service that is off is not pulled"
    );

    let on = Fixture::new(compose)
        .item(METRICS_ITEM)
        .set("enable_metrics", "true")
        .ok();
    assert_eq!(on.services_in_order, ["metrics", "web"]);
    assert_ne!(on.config_hash, off.config_hash);

    let depends = r#"
services:
  web:
    image: docker.io/acme/web:1.0
    depends_on: [metrics]
  metrics:
    image: docker.io/acme/metrics:1.0
    profiles: ["metrics"]
"#;
    let error = check_err(
        Fixture::new(depends).item(METRICS_ITEM),
        &[
            "\"web\" depends on \"metrics\"",
            "turn on config item [\"enable_metrics\"]",
        ],
    );
    assert_eq!(
        error,
        PlanError::DependencyProfileOff {
            service: "web".into(),
            dependency: "metrics".into(),
            profiles: vec!["metrics".into()],
            items: vec!["enable_metrics".into()],
        }
    );
    Fixture::new(depends)
        .item(METRICS_ITEM)
        .set("enable_metrics", "true")
        .ok();

    let only_metrics = r#"
services:
  metrics:
    image: docker.io/acme/metrics:1.0
    profiles: ["metrics"]
"#;
    check_err(
        Fixture::new(only_metrics).item(METRICS_ITEM),
        &["every service is switched off", "enable_metrics"],
    );
}

#[test]
fn config_values_are_checked_and_defaults_fill_gaps() {
    const WORKERS: &str = "
      - name: workers
        type: number
        default: 2
        min: 1
        max: 16";
    let compose = r#"
services:
  web:
    image: docker.io/acme/web:1.0
    environment:
      GREETING: ${greeting}
      WORKERS: ${workers}
"#;
    for missing in [
        Fixture::new(compose).item(WORKERS).unset("db_password"),
        Fixture::new(compose).item(WORKERS).set("db_password", ""),
    ] {
        let error = check_err(
            missing,
            &[
                "\"db_password\" (Database password) is required",
                "Config page",
            ],
        );
        assert!(matches!(error, PlanError::MissingConfig { .. }));
    }

    let error = check_err(
        Fixture::new(compose).item(WORKERS).set("workers", "40"),
        &["\"workers\"", "40 is outside 1..=16", "Config page"],
    );
    assert!(matches!(error, PlanError::InvalidConfig { .. }));

    // An empty value takes the default as an absent one does; unknown keys are ignored.
    let defaults = Fixture::new(compose).item(WORKERS).ok();
    let plan = Fixture::new(compose)
        .item(WORKERS)
        .set("greeting", "")
        .set("removed_item", "x")
        .ok();
    assert_eq!(spec(&plan, "shop-web-1").env["WORKERS"], "2");
    assert_eq!(spec(&plan, "shop-web-1").env["GREETING"], "Hello");
    assert_eq!(plan.config_hash, defaults.config_hash);

    let explicit = Fixture::new(compose).item(WORKERS).set("workers", "2").ok();
    assert_eq!(explicit.config_hash, defaults.config_hash);
    let changed = Fixture::new(compose).item(WORKERS).set("workers", "3").ok();
    assert_ne!(changed.config_hash, defaults.config_hash);
}

#[test]
fn config_hash_frames_each_value() {
    let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let a = config_hash(&map(&[("a", "bc"), ("d", "")]));
    let b = config_hash(&map(&[("a", "b"), ("d", "c")]));
    assert_ne!(a, b);
    assert_eq!(a.len(), 64);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn secrets_are_masked_in_debug_and_redacted() {
    let plan = Fixture::new(SHOP).ok();
    let debug = format!("{plan:?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains("postgres://app:********@db/app"), "{debug}");
    assert!(debug.contains("Hello"), "other values stay readable");

    let redacted = plan.redacted();
    let api = spec(&redacted, "shop-api-1");
    assert_eq!(api.env["DB_URL"], "postgres://app:********@db/app");
    assert_eq!(
        api.command.as_ref().unwrap()[2],
        "postgres://app:********@db/app"
    );
    assert_eq!(spec(&redacted, "shop-db-1").env["POSTGRES_PASSWORD"], MASK);
    assert_eq!(
        spec(&plan, "shop-db-1").env["POSTGRES_PASSWORD"],
        SECRET,
        "the plan itself keeps the value"
    );
    assert_eq!(redacted.redacted(), redacted);

    // No error carries a value either.
    let error = Fixture::new(SHOP).set("db_password", "").err();
    assert!(!format!("{error} {error:?}").contains(SECRET));
}

const IMAGES: &str = r#"
services:
  web:
    image: docker.io/acme/web:1.0
  db:
    image: postgres:16
  api:
    image: quay.io/acme/api:1.0
  tool:
    image: quay.io/other/tool:1.0
  worker:
    image: registry.vendor.test/shop/worker:1.0
"#;

#[test]
fn mirror_rules_rewrite_the_registry_and_keep_the_digest() {
    check(
        Fixture::new(IMAGES).rules(&["docker.io=127.0.0.1:5101"]),
        "
order: api db tool web worker
image docker.io/acme/web@sha256:aaa as 127.0.0.1:5101/acme/web@sha256:aaa from mirror 127.0.0.1:5101 of docker.io auth -
image docker.io/library/postgres@sha256:bbb as 127.0.0.1:5101/library/postgres@sha256:bbb from mirror 127.0.0.1:5101 of docker.io auth -
image quay.io/acme/api@sha256:ccc as quay.io/acme/api@sha256:ccc from upstream quay.io auth -
image quay.io/other/tool@sha256:ddd as quay.io/other/tool@sha256:ddd from upstream quay.io auth -
image registry.vendor.test/shop/worker@sha256:eee as registry.vendor.test/shop/worker@sha256:eee from upstream registry.vendor.test auth -
node n1
  network shop
  pull 127.0.0.1:5101/acme/web@sha256:aaa auth -
  pull 127.0.0.1:5101/library/postgres@sha256:bbb auth -
  pull quay.io/acme/api@sha256:ccc auth -
  pull quay.io/other/tool@sha256:ddd auth -
  pull registry.vendor.test/shop/worker@sha256:eee auth -
  run shop-api-1 started
  run shop-db-1 started
  run shop-tool-1 started
  run shop-web-1 started
  run shop-worker-1 started
",
    );
    let plan = Fixture::new(IMAGES)
        .rules(&["docker.io=127.0.0.1:5101"])
        .ok();
    assert_eq!(
        spec(&plan, "shop-web-1").image,
        format!("127.0.0.1:5101/acme/web@{}", digest('a'))
    );
}

#[test]
fn prefix_rules_rewrite_only_their_path() {
    let plan = Fixture::new(IMAGES)
        .rules(&["quay.io/acme=registry.corp/acme", "quay.io=quay-cache.corp"])
        .ok();
    let pulls: Vec<String> = plan
        .images
        .iter()
        .filter(|i| i.reference.starts_with("quay.io/"))
        .map(|i| format!("{} {:?}", shorten(&i.pull_as), i.source))
        .collect();
    assert_eq!(
        pulls,
        [
            "registry.corp/acme/api@sha256:ccc Mirror { registry: \"registry.corp\", of: \"quay.io\" }",
            "quay-cache.corp/other/tool@sha256:ddd Mirror { registry: \"quay-cache.corp\", of: \"quay.io\" }",
        ]
    );
}

#[test]
fn the_internal_registry_is_preferred_when_it_holds_the_digest() {
    let plan = Fixture::new(IMAGES)
        .rules(&["docker.io=mirror.corp:5000"])
        .internal("10.0.0.5:9874", &['a', 'e', '9'])
        .ok();
    let images: Vec<String> = plan
        .images
        .iter()
        .map(|i| format!("{} {}", shorten(&i.pull_as), i.source.registry()))
        .collect();
    assert_eq!(
        images,
        [
            "10.0.0.5:9874/acme/web@sha256:aaa 10.0.0.5:9874",
            "mirror.corp:5000/library/postgres@sha256:bbb mirror.corp:5000",
            "quay.io/acme/api@sha256:ccc quay.io",
            "quay.io/other/tool@sha256:ddd quay.io",
            "10.0.0.5:9874/shop/worker@sha256:eee 10.0.0.5:9874",
        ]
    );
    assert_eq!(
        plan.images[0].source,
        ImageSource::Internal {
            registry: "10.0.0.5:9874".into()
        }
    );

    let error = check_err(
        Fixture::new(IMAGES).internal("not a host", &['a']),
        &["not a host/acme/web", "internal registry address"],
    );
    assert!(matches!(error, PlanError::InvalidPullReference { .. }));
}

#[test]
fn credentials_go_with_the_registry_contacted() {
    let hosts = [
        "docker.io",
        "registry.vendor.test",
        "mirror.corp:5000",
        "10.0.0.5:9874",
    ];
    let auth = |plan: &Plan| -> Vec<String> {
        plan.images
            .iter()
            .map(|i| {
                format!(
                    "{} {}",
                    i.source.registry(),
                    i.auth_host.as_deref().unwrap_or("-")
                )
            })
            .collect()
    };

    let upstream = Fixture::new(IMAGES).credentials(&hosts).ok();
    assert_eq!(
        auth(&upstream),
        [
            "docker.io docker.io",
            "docker.io docker.io",
            "quay.io -",
            "quay.io -",
            "registry.vendor.test registry.vendor.test",
        ]
    );
    assert!(render(&upstream)
        .contains("pull registry.vendor.test/shop/worker@sha256:eee auth registry.vendor.test"));

    // Mirrored, the mirror's credentials apply, not the upstream registry's.
    let mirrored = Fixture::new(IMAGES)
        .credentials(&hosts)
        .rules(&[
            "docker.io=mirror.corp:5000",
            "registry.vendor.test=mirror.corp:5000/vendor",
        ])
        .internal("10.0.0.5:9874", &['c'])
        .ok();
    assert_eq!(
        auth(&mirrored),
        [
            "mirror.corp:5000 mirror.corp:5000",
            "mirror.corp:5000 mirror.corp:5000",
            "10.0.0.5:9874 10.0.0.5:9874",
            "quay.io -",
            "mirror.corp:5000 mirror.corp:5000",
        ]
    );

    // Docker Hub's credentials may be stored under its host name too.
    let hub = Fixture::new(IMAGES)
        .credentials(&["registry-1.docker.io"])
        .ok();
    assert_eq!(
        hub.images[0].auth_host.as_deref(),
        Some("registry-1.docker.io")
    );
    assert!(
        !format!("{hub:?}").contains("registry-password"),
        "the plan holds no credentials"
    );
}

#[test]
fn dependencies_decide_the_order_and_the_waits() {
    let compose = r#"
services:
  zeta:
    image: busybox:1.36
    healthcheck:
      test: NONE
  web:
    image: busybox:1.36
    depends_on:
      api: { condition: service_started }
  api:
    image: busybox:1.36
    depends_on:
      db: { condition: service_healthy }
      migrate: { condition: service_completed_successfully }
      probe: { condition: service_healthy }
  migrate:
    image: busybox:1.36
    depends_on: [db]
  worker:
    image: busybox:1.36
    depends_on: [db]
  db:
    image: busybox:1.36
    healthcheck:
      test: ["CMD-SHELL", "pg_isready"]
  probe:
    image: busybox:1.36
    healthcheck:
      interval: 2s
"#;
    let plan = Fixture::new(compose).ok();
    let runs: Vec<String> = render(&plan)
        .lines()
        .filter_map(|l| l.strip_prefix("  run shop-"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        runs,
        [
            "db-1 healthy",
            "migrate-1 completed",
            "probe-1 healthy",
            "api-1 started",
            "web-1 started",
            "worker-1 started",
            "zeta-1 started",
        ]
    );
    assert_eq!(
        plan.services_in_order,
        ["db", "migrate", "probe", "api", "web", "worker", "zeta"]
    );
    // A healthcheck without a test keeps the image's own; NONE turns it off.
    assert_eq!(spec(&plan, "shop-probe-1").healthcheck, None);
    assert_eq!(
        spec(&plan, "shop-zeta-1")
            .healthcheck
            .as_ref()
            .unwrap()
            .test,
        ["NONE"]
    );

    let zero = r#"
services:
  web:
    image: busybox:1.36
    depends_on: [db]
  db:
    image: busybox:1.36
    deploy:
      replicas: 0
"#;
    check_err(
        Fixture::new(zero),
        &["\"web\" depends on \"db\"", "replicas: 0", "ask the vendor"],
    );
}

#[test]
fn other_refusals_say_what_to_do() {
    let one = "
services:
  web:
    image: docker.io/acme/web:1.0
";
    let cases: Vec<(Fixture, &[&str])> = vec![
        (
            Fixture::new(one).nodes(&[]),
            &["no node is online", "start the agent"],
        ),
        (
            Fixture::new(one).nodes(&["n1", "n2", "n1"]),
            &["\"n1\" is listed twice"],
        ),
        (
            Fixture::new(one).unpinned("docker.io/acme/web:1.0"),
            &[
                "pins no digest",
                "docker.io/acme/web:1.0",
                "outpost-airgap release create",
            ],
        ),
        (
            Fixture {
                release_app: "other".into(),
                ..Fixture::new(one)
            },
            &[
                "\"other\"",
                "not for the installed app \"shop\"",
                "load a release",
            ],
        ),
    ];
    for (fixture, fragments) in cases {
        check_err(fixture, fragments);
    }

    // A reference written with a digest needs no pin.
    let pinned = format!(
        "
services:
  web:
    image: docker.io/acme/web@{}
",
        digest('f')
    );
    let plan = Fixture::new(&pinned)
        .unpinned(&format!("docker.io/acme/web@{}", digest('f')))
        .ok();
    assert_eq!(
        shorten(&plan.images[0].pull_as),
        "docker.io/acme/web@sha256:fff"
    );
}

#[test]
fn steps_come_network_volumes_pulls_then_containers() {
    let plan = Fixture::new(SHOP).ok();
    let kinds: Vec<&str> = plan.nodes["n1"]
        .steps
        .iter()
        .map(|s| match s {
            Step::EnsureNetwork { labels, .. } | Step::EnsureVolume { labels, .. } => {
                assert_eq!(labels[LABEL_APP], "shop");
                if matches!(s, Step::EnsureNetwork { .. }) {
                    "network"
                } else {
                    "volume"
                }
            }
            Step::Pull { .. } => "pull",
            Step::Run { .. } => "run",
        })
        .collect();
    assert_eq!(
        kinds,
        ["network", "volume", "volume", "pull", "pull", "pull", "run", "run", "run"]
    );
    let names: BTreeSet<&str> = specs(&plan).iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 3);
}
