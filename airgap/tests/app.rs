//! The app definition end to end: the fixture folders under `tests/data/app/` (named after the
//! problem they carry) and small inline apps, each asserting the exact problems reported.

use std::collections::BTreeMap;
use std::path::PathBuf;

use outpost_airgap::app::{
    substitute, App, AppErrors, Command, Condition, HealthTest, ItemKind, PreflightKind, Restart,
    StatusProbe,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/app")
        .join(name)
}

fn load_errors(name: &str) -> AppErrors {
    match App::load(&fixture(name)) {
        Ok(_) => panic!("fixture {name} loaded, but it has problems"),
        Err(e) => e,
    }
}

/// Each expected entry is `file:line: fragment` (or `file: fragment`); the problems must match
/// one for one, in order: same file and line, message containing the fragment.
#[track_caller]
fn assert_problems(errors: &AppErrors, expected: &[&str]) {
    let actual: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
    let matches = actual.len() == expected.len()
        && actual.iter().zip(expected).all(|(a, e)| {
            let (place, fragment) = split_place(e);
            a.starts_with(&place) && a[place.len()..].contains(fragment)
        });
    assert!(
        matches,
        "expected:\n  {}\nactual:\n  {}",
        expected.join("\n  "),
        actual.join("\n  ")
    );
}

/// `"compose.yaml:12: msg"` → (`"compose.yaml:12: "`, `"msg"`).
fn split_place(expected: &str) -> (String, &str) {
    let (file, rest) = expected.split_once(':').expect("file: in expectation");
    match rest.split_once(": ") {
        Some((line, fragment)) if line.bytes().all(|b| b.is_ascii_digit()) && !line.is_empty() => {
            (format!("{file}:{line}: "), fragment)
        }
        _ => (format!("{file}: "), rest.trim_start()),
    }
}

// ---- Fixtures ----

#[test]
fn valid_sample_loads_with_normalised_images() {
    let app = App::load(&fixture("valid-sample")).unwrap_or_else(|e| panic!("{e}"));
    let images: Vec<String> = app.images().iter().map(ToString::to_string).collect();
    assert_eq!(
        images,
        [
            "docker.io/library/busybox:1.36",
            "docker.io/outpost-samples/web:1.0.0",
            "quay.io/outpost-samples/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ]
    );
    assert_eq!(
        app.files.keys().collect::<Vec<_>>(),
        ["compose.yaml", "outpost.yaml"]
    );

    let web = &app.compose.services["web"];
    assert_eq!(web.environment["GREETING"], "${greeting}");
    assert_eq!(web.environment["PRICE"], "5$$");
    assert_eq!(web.depends_on["api"], Condition::Healthy);
    assert_eq!(web.ports.len(), 2);
    assert_eq!(web.ports[1].host_ip, Some([127, 0, 0, 1].into()));
    assert!(web.volumes[1].read_only);
    assert_eq!(web.restart, Some(Restart::UnlessStopped));
    assert_eq!(web.placement[0].label, "role");
    let health = web.healthcheck.as_ref().expect("healthcheck");
    assert_eq!(health.interval, Some(std::time::Duration::from_secs(5)));
    assert!(matches!(&health.test, Some(HealthTest::Cmd(args)) if args[0] == "wget"));

    let api = &app.compose.services["api"];
    assert_eq!(
        api.command,
        Some(Command::Text("api --workers ${workers}".into()))
    );
    assert_eq!(api.environment["DB_PASSWORD"], "${db_password}");
    assert_eq!(api.replicas, 2);
    let api_health = api.healthcheck.as_ref().expect("healthcheck");
    assert_eq!(
        api_health.interval,
        Some(std::time::Duration::from_secs(90))
    );

    let metrics = &app.compose.services["metrics"];
    assert_eq!(metrics.profiles, ["metrics"]);
    assert_eq!(metrics.depends_on["web"], Condition::Started);
    assert_eq!(metrics.restart, Some(Restart::No));
    assert_eq!(
        metrics.healthcheck.as_ref().and_then(|h| h.test.clone()),
        Some(HealthTest::Disabled)
    );

    let outpost = &app.outpost;
    assert_eq!(outpost.app, "sample-app");
    assert_eq!(outpost.version, "1.0.0");
    assert_eq!(outpost.notes, "First release.\n");
    assert!(outpost.item("db_password").expect("item").kind.is_secret());
    assert_eq!(
        outpost.item("workers").expect("item").kind,
        ItemKind::Number {
            min: Some(1),
            max: Some(16)
        }
    );
    assert_eq!(outpost.preflight.len(), 7);
    assert_eq!(
        outpost.preflight[1].kind,
        PreflightKind::Memory {
            warn_below: Some(2 << 30),
            fail_below: Some(512 << 20)
        }
    );
    assert_eq!(
        outpost.status[0].probe,
        StatusProbe::Http {
            port: 8080,
            path: "/healthz".into()
        }
    );

    // Profiles follow the bool item, its default when the admin has not answered.
    assert!(app.profiles_for(&BTreeMap::new()).is_empty());
    let on = BTreeMap::from([("enable_metrics".to_string(), "true".to_string())]);
    assert_eq!(
        app.profiles_for(&on).into_iter().collect::<Vec<_>>(),
        ["metrics"]
    );

    // The same files inline give the same app.
    assert_eq!(App::from_files(&app.files), Ok(app.clone()));

    // Deploy-time substitution of a value that uses variables.
    let values = BTreeMap::from([("greeting".to_string(), "Hi".to_string())]);
    assert_eq!(
        substitute(&web.environment["GREETING"], &values).as_deref(),
        Ok("Hi")
    );
    assert_eq!(
        substitute(&web.environment["PRICE"], &values).as_deref(),
        Ok("5$")
    );
}

#[test]
fn compose_undefined_variable() {
    assert_problems(
        &load_errors("compose-undefined-variable"),
        &[r#"compose.yaml:7: service "web": environment "TITLE": undefined variable "${greting}""#],
    );
}

#[test]
fn compose_bad_image_ref() {
    assert_problems(
        &load_errors("compose-bad-image-ref"),
        &[
            r#"compose.yaml:4: service "web": image: invalid image reference "Outpost-Samples/Web:1.0.0": repository name must be lowercase"#,
            r#"compose.yaml:6: service "api": image: invalid image reference "quay.io/outpost-samples/api@sha256:abc123": digest "sha256:abc123""#,
            r#"compose.yaml:8: service "worker": image: "registry.example.com/${greeting}/worker:1": variables are not allowed here"#,
        ],
    );
}

#[test]
fn compose_depends_cycle() {
    assert_problems(
        &load_errors("compose-depends-cycle"),
        &[
            r#"compose.yaml:9: service "api": depends_on cycle: api -> web -> api"#,
            r#"compose.yaml:10: service "api": depends_on: unknown service "cache""#,
        ],
    );
}

#[test]
fn compose_unknown_key() {
    assert_problems(
        &load_errors("compose-unknown-key"),
        &[
            r#"compose.yaml:3: service "web": missing key "image""#,
            r#"compose.yaml:4: service "web": unknown key "imagee""#,
            r#"compose.yaml:7: service "web": healthcheck: unknown key "intervall""#,
            r#"compose.yaml:8: unknown key "networks""#,
        ],
    );
}

#[test]
fn placement_undefined_label() {
    assert_problems(
        &load_errors("placement-undefined-label"),
        &[
            r#"compose.yaml:9: service "web": deploy: placement: label "zone" is not in node_labels of outpost.yaml"#,
        ],
    );
}

#[test]
fn yaml_billion_laughs_is_refused_at_the_first_anchor() {
    let started = std::time::Instant::now();
    let errors = load_errors("yaml-billion-laughs");
    assert_problems(&errors, &["compose.yaml:2: YAML anchors are not supported"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn volume_host_path() {
    assert_problems(
        &load_errors("volume-host-path"),
        &[
            r#"compose.yaml:6: service "web": volumes: "/etc:/host-etc:ro": host paths are not allowed"#,
            r#"compose.yaml:8: service "web": volumes: "logs:/var/log/web": volume "logs" is not declared"#,
        ],
    );
}

// ---- Inline apps: one helper, many small cases ----

const OUTPOST: &str = "\
app: t
version: '1'
node_labels: [role]
config:
  - group: g
    items:
      - name: greeting
        type: text
";

const COMPOSE: &str = "\
services:
  web:
    image: nginx
";

fn files(compose: &str, outpost: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("compose.yaml".to_string(), compose.to_string()),
        ("outpost.yaml".to_string(), outpost.to_string()),
    ])
}

/// Checks an inline app: `expected` empty means it must load.
#[track_caller]
fn check(compose: &str, outpost: &str, expected: &[&str]) {
    match App::from_files(&files(compose, outpost)) {
        Ok(_) if expected.is_empty() => {}
        Ok(_) => panic!("loaded, expected:\n  {}", expected.join("\n  ")),
        Err(e) => assert_problems(&e, expected),
    }
}

#[track_caller]
fn check_compose(services: &str, expected: &[&str]) {
    check(&format!("services:\n{services}"), OUTPOST, expected);
}

#[track_caller]
fn check_outpost(tail: &str, expected: &[&str]) {
    check(COMPOSE, &format!("{OUTPOST}{tail}"), expected);
}

#[test]
fn yaml_syntax_and_shape() {
    check(
        "services:\n  web: [\n",
        OUTPOST,
        &["compose.yaml:3: YAML syntax error"],
    );
    check(
        "- a\n",
        OUTPOST,
        &["compose.yaml:1: expected a mapping, found a list"],
    );
    check(
        "",
        OUTPOST,
        &["compose.yaml:1: expected a mapping, found nothing"],
    );
    check(
        "services: {}\n",
        OUTPOST,
        &["compose.yaml:1: services: no services"],
    );
    check(
        "services:\n  web:\n    image: nginx\n    image: redis\n",
        OUTPOST,
        &["compose.yaml:4: duplicate key \"image\""],
    );
    check(
        "services:\n  web:\n    image: nginx\n---\nx: 1\n",
        OUTPOST,
        &["compose.yaml:4: only one YAML document"],
    );
    check(
        "services:\n  web:\n    image: !!str nginx\n",
        OUTPOST,
        &["compose.yaml:3: YAML tags are not supported"],
    );
    // A broken outpost.yaml does not also make every variable "undefined".
    check(
        "services:\n  web:\n    image: nginx\n    environment: { A: '${x}' }\n",
        "app: [\n",
        &["outpost.yaml:2: YAML syntax error"],
    );
}

#[test]
fn wrong_types() {
    check_compose(
        "  web:\n    image: [nginx]\n    ports: 80\n    environment: x\n    restart: {}\n",
        &[
            r#"compose.yaml:3: service "web": image: expected a string, found a list"#,
            r#"compose.yaml:4: service "web": ports: expected a list, found a scalar"#,
            r#"compose.yaml:5: service "web": environment: expected a mapping or a list"#,
            r#"compose.yaml:6: service "web": restart: expected a string, found a mapping"#,
        ],
    );
    check_outpost(
        "preflight: {}\nstatus: x\n",
        &[
            "outpost.yaml:9: preflight: expected a list, found a mapping",
            "outpost.yaml:10: status: expected a list, found a scalar",
        ],
    );
}

#[test]
fn variables() {
    check_compose(
        "  web:\n    image: nginx\n    environment:\n      A: ${a:-b}\n      B: $greeting\n      C: ok ${greeting} $$\n",
        &[
            r#"compose.yaml:5: service "web": environment "A": "${a:-b}" at byte 0: only ${name} is supported"#,
            r#"compose.yaml:6: service "web": environment "B": '$' at byte 0 must start ${name}"#,
        ],
    );
    check_compose(
        "  web:\n    image: nginx\n    command: [\"echo\", \"${nope}\"]\n    entrypoint: ${greeting}\n    healthcheck:\n      test: [\"CMD\", \"${other}\"]\n",
        &[
            r#"compose.yaml:4: service "web": command: undefined variable "${nope}""#,
            r#"compose.yaml:7: service "web": healthcheck: test: undefined variable "${other}""#,
        ],
    );
    check_compose(
        "  web:\n    image: nginx\n    ports: [\"${greeting}:80\"]\n    restart: ${greeting}\n",
        &[
            r#"compose.yaml:4: service "web": ports: "${greeting}:80": variables are not allowed here"#,
            r#"compose.yaml:5: service "web": restart: "${greeting}": variables are not allowed here"#,
        ],
    );
    check_compose(
        "  web:\n    image: nginx\n    environment:\n      - A\n      - B=${greeting}\n      - B=x\n      - C\n",
        &[
            r#"compose.yaml:5: service "web": environment: "A" needs a value"#,
            r#"compose.yaml:7: service "web": environment: "B" is set twice"#,
            r#"compose.yaml:8: service "web": environment: "C" needs a value"#,
        ],
    );
    check_compose(
        "  web:\n    image: nginx\n    environment:\n      A:\n",
        &[r#"compose.yaml:5: service "web": environment "A": needs a value"#],
    );
}

#[test]
fn depends_on() {
    check_compose(
        "  a:\n    image: nginx\n    depends_on: [a]\n",
        &[r#"compose.yaml:4: service "a": depends_on cycle: a -> a"#],
    );
    check_compose(
        "  a:\n    image: nginx\n    depends_on: [b]\n  b:\n    image: nginx\n    depends_on: [c]\n  c:\n    image: nginx\n    depends_on: [a]\n",
        &[r#"compose.yaml:4: service "a": depends_on cycle: a -> b -> c -> a"#],
    );
    check_compose(
        "  a:\n    image: nginx\n    depends_on:\n      b: { condition: service_done }\n      c: { required: true }\n  b:\n    image: nginx\n  c:\n    image: nginx\n",
        &[
            r#"compose.yaml:5: service "a": depends_on "b": condition "service_done" is not service_started"#,
            r#"compose.yaml:6: service "a": depends_on "c": unknown key "required""#,
        ],
    );
    check_compose(
        "  a:\n    image: nginx\n    depends_on: [b, b]\n  b:\n    image: nginx\n",
        &[r#"compose.yaml:4: service "a": depends_on: "b" is listed twice"#],
    );
    // A service whose own definition is refused is still a known name.
    check_compose(
        "  a:\n    image: nginx\n    depends_on: [b]\n  b: nope\n",
        &[r#"compose.yaml:5: service "b": expected a mapping, found a scalar"#],
    );
}

#[test]
fn ports_volumes_and_deploy() {
    check_compose(
        "  web:\n    image: nginx\n    ports: [\"80\", \"0:80\", \"70000:80\", \"80:80/sctp\", \"1.2.3.4:443:443\", \"[::1]:8443:443/udp\"]\n",
        &[
            r#"compose.yaml:4: service "web": ports: "80" is not [host_ip:]host:container[/tcp|udp]"#,
            r#"compose.yaml:4: service "web": ports: "0:80" is not"#,
            r#"compose.yaml:4: service "web": ports: "70000:80" is not"#,
            r#"compose.yaml:4: service "web": ports: "80:80/sctp" is not"#,
        ],
    );
    check(
        "services:\n  web:\n    image: nginx\n    volumes: [\"./data:/data\", \"data\", \"data:relative\", \"data:/x:z\"]\nvolumes:\n  data: { driver: local }\n",
        OUTPOST,
        &[
            r#"compose.yaml:4: service "web": volumes: "./data:/data": host paths are not allowed"#,
            r#"compose.yaml:4: service "web": volumes: "data": anonymous volumes are not supported"#,
            r#"compose.yaml:4: service "web": volumes: "data:relative": the mount path "relative" must be absolute"#,
            r#"compose.yaml:4: service "web": volumes: "data:/x:z": mode "z" is not ro or rw"#,
            r#"compose.yaml:6: volume "data": unknown key "driver""#,
        ],
    );
    check_compose(
        "  web:\n    image: nginx\n    restart: sometimes\n    deploy:\n      replicas: 101\n      resources: {}\n      placement:\n        constraints: [\"node.role == manager\", \"node.labels.role == web\"]\n",
        &[
            r#"compose.yaml:4: service "web": restart: "sometimes" is not no, always, on-failure or unless-stopped"#,
            r#"compose.yaml:6: service "web": deploy: replicas: 101 is out of range 0..=100"#,
            r#"compose.yaml:7: service "web": deploy: unknown key "resources""#,
            r#"compose.yaml:9: service "web": deploy: placement: constraints: "node.role == manager" is not node.labels.<label> == <value>"#,
        ],
    );
    check_compose(
        "  web:\n    image: nginx\n    deploy: { replicas: -1 }\n  db:\n    image: nginx\n    deploy: { replicas: 0 }\n",
        &[r#"compose.yaml:4: service "web": deploy: replicas: -1 is out of range 0..=100"#],
    );
}

#[test]
fn healthchecks() {
    check_compose(
        "  web:\n    image: nginx\n    healthcheck:\n      test: [\"CMD\"]\n      interval: 5\n      timeout: 1.5s\n      start_period: 1m30s\n      retries: many\n",
        &[
            r#"compose.yaml:5: service "web": healthcheck: test: expected ["CMD", args...]"#,
            r#"compose.yaml:6: service "web": healthcheck: interval: "5" is not a duration like 5s, 1m30s or 500ms"#,
            r#"compose.yaml:7: service "web": healthcheck: timeout: "1.5s" is not a duration"#,
            r#"compose.yaml:9: service "web": healthcheck: retries: expected a whole number"#,
        ],
    );
}

#[test]
fn service_names_and_profiles() {
    check_compose(
        "  Web_1.x:\n    image: nginx\n  -bad:\n    image: nginx\n    profiles: [\"ok\", \"no way\"]\n",
        &[
            r#"compose.yaml:4: service "-bad": service names are letters"#,
            r#"compose.yaml:6: service "-bad": profiles: "no way": profile names are"#,
        ],
    );
}

#[test]
fn config_items() {
    check_outpost(
        "      - name: greeting\n        type: text\n      - name: Bad-Name\n        type: text\n      - name: level\n        type: select\n        options: [a, b, a]\n        default: c\n      - name: workers\n        type: number\n        min: 1\n        max: 16\n        default: 17\n      - name: word\n        type: text\n        regex: '^[a-z]+$'\n        default: Hello\n      - name: broken\n        type: text\n        regex: '(['\n      - name: flag\n        type: bool\n        default: maybe\n        min: 1\n      - name: kind\n        type: colour\n",
        &[
            r#"outpost.yaml:9: config item "greeting": the name is used twice"#,
            r#"outpost.yaml:11: config item "Bad-Name": item names are [a-z][a-z0-9_]*"#,
            r#"outpost.yaml:15: config item "level": options: "a" is listed twice"#,
            r#"outpost.yaml:16: config item "level": default "c": "c" is not one of the options"#,
            r#"outpost.yaml:21: config item "workers": default "17": 17 is outside 1..=16"#,
            r#"outpost.yaml:25: config item "word": default "Hello": does not match"#,
            r#"outpost.yaml:28: config item "broken": regex: invalid regex"#,
            r#"outpost.yaml:31: config item "flag": default "maybe": expected true or false"#,
            r#"outpost.yaml:32: config item "flag": "min" applies only to number items, not bool"#,
            r#"outpost.yaml:34: config item "kind": type: "colour" is not text, password, bool, number, select or textarea"#,
        ],
    );
    check_outpost(
        "      - name: on\n        type: bool\n        profile: nobody\n        help: [x]\n        required: yes\n",
        &[
            r#"outpost.yaml:11: config item "on": profile "nobody" is used by no service of compose.yaml"#,
            r#"outpost.yaml:12: config item "on": help: expected a string, found a list"#,
            r#"outpost.yaml:13: config item "on": required: expected true or false, found "yes""#,
        ],
    );
    check_outpost(
        "      - name: n\n        type: number\n        min: 5\n        max: 1\n        regex: x\n      - name: s\n        type: select\n        options: []\n",
        &[
            r#"outpost.yaml:9: config item "n": min 5 is greater than max 1"#,
            r#"outpost.yaml:13: config item "n": "regex" applies only to text, password and textarea items"#,
            r#"outpost.yaml:16: config item "s": options: a select needs at least one option"#,
        ],
    );
}

#[test]
fn outpost_top_level() {
    check(
        COMPOSE,
        "app: 'has space'\nversion: ''\nnode_labels: [role, role, 'a b']\nextra: 1\n",
        &[
            r#"outpost.yaml:1: app: "has space" must be 1-128 letters"#,
            r#"outpost.yaml:2: version: "" must be 1-128 characters"#,
            r#"outpost.yaml:3: node_labels: "role" is listed twice"#,
            r#"outpost.yaml:3: node_labels: "a b": labels are"#,
            r#"outpost.yaml:4: unknown key "extra""#,
        ],
    );
    check(
        COMPOSE,
        "version: '1'\n",
        &["outpost.yaml:1: missing key \"app\""],
    );
}

#[test]
fn preflight_checks() {
    check_outpost(
        "preflight:\n  - name: Memory\n    check: memory\n    warn_below: 2 GiB\n    fail_below: 512MiB\n  - name: CPUs\n    check: cpus\n    warn_below: 1\n    fail_below: 2\n  - name: Disk\n    check: disk\n    path: tmp\n    fail_below: 1GiB\n  - name: Nothing\n    check: disk\n    path: data\n  - name: Port\n    check: port_free\n    port: 0\n    warn_below: 1\n  - name: Magic\n    check: magic\n    warn_below: 1\n  - name: Fact\n    check: fact\n    fact: kernel_version\n    op: '=~'\n    value: '4'\n    severity: loud\n  - name: Docker\n    check: docker_version\n    min: v20\n",
        &[
            r#"outpost.yaml:12: preflight "Memory": warn_below: "2 GiB" is not a size like 512MiB or 2GiB"#,
            r#"outpost.yaml:14: preflight "CPUs": warn_below is lower than fail_below"#,
            r#"outpost.yaml:20: preflight "Disk": path: "tmp" is not docker or data"#,
            r#"outpost.yaml:22: preflight "Nothing": needs warn_below, fail_below or both"#,
            r#"outpost.yaml:27: preflight "Port": port: 0 is out of range 1..=65535"#,
            r#"outpost.yaml:28: preflight "Port": unknown key "warn_below""#,
            r#"outpost.yaml:30: preflight "Magic": check: "magic" is not cpus, memory"#,
            r#"outpost.yaml:35: preflight "Fact": op: "=~" is not ==, !=, >=, <=, > or <"#,
            r#"outpost.yaml:37: preflight "Fact": severity: "loud" is not warn or fail"#,
            r#"outpost.yaml:40: preflight "Docker": min: "v20" is not a version like 20.10"#,
        ],
    );
}

#[test]
fn status_checks() {
    check_outpost(
        "status:\n  - service: web\n    running: true\n  - service: ghost\n    http: { port: 80, path: health }\n  - service: web\n  - service: web\n    running: false\n",
        &[
            r#"outpost.yaml:12: status "ghost": unknown service "ghost" (not in compose.yaml)"#,
            r#"outpost.yaml:13: status "ghost": http: path: "health" must start with '/'"#,
            r#"outpost.yaml:14: status "web": needs exactly one of http or running"#,
            r#"outpost.yaml:16: status "web": running: only `running: true` is a check"#,
        ],
    );
}

#[test]
fn every_problem_at_once_across_files() {
    check(
        "services:\n  web:\n    image: NGINX\n    environment: { A: '${missing}' }\n",
        "app: t\nversion: '1'\nbogus: true\n",
        &[
            r#"compose.yaml:3: service "web": image: invalid image reference "NGINX": repository name must be lowercase"#,
            r#"compose.yaml:4: service "web": environment "A": undefined variable "${missing}""#,
            r#"outpost.yaml:3: unknown key "bogus""#,
        ],
    );
}

#[test]
fn images_are_normalised_and_deduplicated() {
    let app = App::from_files(&files(
        "services:\n  a:\n    image: nginx\n  b:\n    image: docker.io/library/nginx:latest\n  c:\n    image: index.docker.io/library/nginx\n  d:\n    image: host:5000/x/y:1\n",
        OUTPOST,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let images: Vec<String> = app.images().iter().map(ToString::to_string).collect();
    assert_eq!(
        images,
        ["docker.io/library/nginx:latest", "host:5000/x/y:1"]
    );
}

#[test]
fn files_are_bounded_and_named() {
    let mut inline = files(COMPOSE, OUTPOST);
    inline.insert("extra.sh".into(), "#!/bin/sh".into());
    inline.remove("outpost.yaml");
    let errors = App::from_files(&inline).expect_err("refused");
    assert_problems(
        &errors,
        &["extra.sh: unexpected file", "outpost.yaml: missing"],
    );

    let big = format!(
        "services:\n  web:\n    image: nginx\n#{}\n",
        "x".repeat(1024 * 1024)
    );
    let errors = App::from_files(&files(&big, OUTPOST)).expect_err("refused");
    assert_problems(&errors, &["compose.yaml: larger than 1048576 bytes"]);

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("compose.yaml"), &big).expect("write");
    std::fs::write(dir.path().join("outpost.yaml"), [0xff, 0xfe]).expect("write");
    let errors = App::load(dir.path()).expect_err("refused");
    assert_problems(
        &errors,
        &[
            "compose.yaml: larger than 1048576 bytes",
            "outpost.yaml: not UTF-8",
        ],
    );
    let empty = tempfile::tempdir().expect("tempdir");
    assert_problems(
        &App::load(empty.path()).expect_err("refused"),
        &["compose.yaml: missing", "outpost.yaml: missing"],
    );
}

#[test]
fn problems_display_with_file_and_line() {
    let errors = load_errors("compose-unknown-key");
    let text = errors.to_string();
    assert!(
        text.starts_with("compose.yaml:3: service \"web\": missing key \"image\"\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 4);
}

#[test]
fn large_files_stay_fast() {
    // Just under the size limit: many keys in one mapping, many items in one list.
    let mut compose = String::from("services:\n  web:\n    image: nginx\n    environment:\n");
    let mut i = 0;
    while compose.len() < 1000 * 1024 {
        compose.push_str(&format!("      K{i}: ${{greeting}}\n"));
        i += 1;
    }
    let started = std::time::Instant::now();
    App::from_files(&files(&compose, OUTPOST)).unwrap_or_else(|e| panic!("{e}"));
    let mut select = String::from(OUTPOST);
    select.push_str(
        "      - name: pick\n        type: select\n        default: o1\n        options:\n",
    );
    let mut i = 0;
    while select.len() < 1000 * 1024 {
        select.push_str(&format!("          - o{i}\n"));
        i += 1;
    }
    App::from_files(&files(COMPOSE, &select)).unwrap_or_else(|e| panic!("{e}"));
    let elapsed = started.elapsed();
    assert!(elapsed < std::time::Duration::from_secs(10), "{elapsed:?}");
}
