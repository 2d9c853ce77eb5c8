//! Preflight cases, data-driven: each builds an input from a few lines, evaluates it and
//! compares the report — its outcome, then one line per result — with the expected text.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use outpost_agent::protocol::{DiskFacts, DockerFacts, Facts, ListeningPort};
use outpost_airgap::app::{
    App, DiskPath, FactOp, PreflightCheck, PreflightKind, Protocol, Severity,
};

use super::*;
use FactOp::{Eq, Ge, Gt, Le, Lt, Ne};
use Protocol::{Tcp, Udp};
use Severity::{Fail, Warn};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Evaluates `case` and compares the report with `expected`: a first line `=> <outcome>`,
/// then `<outcome> <node id or -> <check>: <message>` per result. The passes of the
/// built-ins every node gets (ready, clock, Docker, node count, console ports) are left out
/// so a case shows what it is about; [`healthy_cluster`] shows them.
#[track_caller]
fn check(case: Case, expected: &str) {
    let report = case.evaluate();
    let always = [
        builtin::NODE_READY,
        builtin::NODE_COUNT,
        builtin::CONSOLE_PORTS,
        builtin::CLOCK,
        builtin::DOCKER,
    ];
    let shown = report
        .results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass || !always.contains(&r.check.as_str()));
    let actual = render(&report, shown);
    let expected: Vec<&str> = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        actual,
        expected.join("\n"),
        "\nactual:\n{actual}\nexpected:\n{}\n",
        expected.join("\n")
    );
}

fn render<'r>(report: &Report, results: impl Iterator<Item = &'r CheckResult>) -> String {
    assert_eq!(report.blocking, report.outcome == Outcome::Fail);
    let mut lines = vec![format!("=> {}", report.outcome)];
    lines.extend(results.map(|r| {
        format!(
            "{} {} {}: {}",
            r.outcome,
            r.node.as_deref().unwrap_or("-"),
            r.check,
            r.message
        )
    }));
    lines.join("\n")
}

/// An input as a test writes it; [`Case::evaluate`] lends the facts to the real input.
#[derive(Default)]
struct Case {
    checks: Vec<PreflightCheck>,
    ports: Vec<PublishedPort>,
    nodes: Vec<TestNode>,
    max_nodes: Option<u32>,
}

struct TestNode {
    id: String,
    online: bool,
    facts: Option<Facts>,
    skew_ms: Option<i64>,
    console: bool,
    held: Vec<u16>,
}

fn case(checks: Vec<PreflightCheck>, nodes: Vec<TestNode>) -> Case {
    Case {
        checks,
        nodes,
        ..Case::default()
    }
}

impl Case {
    fn publish(mut self, port: u16, protocol: Protocol, service: &str) -> Case {
        self.ports.push(PublishedPort {
            port,
            protocol,
            service: service.into(),
        });
        self
    }

    fn max_nodes(mut self, max: u32) -> Case {
        self.max_nodes = Some(max);
        self
    }

    fn evaluate(&self) -> Report {
        let mut input = PreflightInput::new(&self.checks);
        input.published_ports = self.ports.clone();
        input.license_max_nodes = self.max_nodes;
        input.nodes = self
            .nodes
            .iter()
            .map(|n| NodeInput {
                id: n.id.clone(),
                hostname: n
                    .facts
                    .as_ref()
                    .map(|f| f.hostname.clone())
                    .unwrap_or_default(),
                online: n.online,
                facts: n.facts.as_ref(),
                clock_skew_ms: n.skew_ms,
                is_console_host: n.console,
                ports_held_by_app: n.held.clone(),
            })
            .collect();
        evaluate(&input)
    }
}

/// A healthy node: id `a`, host name `host-a`, 8 CPUs, 16 GiB, plenty of disk, Docker 24,
/// Debian, sshd on 22, a clock 0.15 s ahead.
fn node(id: &str) -> TestNode {
    TestNode {
        id: id.into(),
        online: true,
        facts: Some(Facts {
            hostname: format!("host-{id}"),
            os: "Debian GNU/Linux 12 (bookworm)".into(),
            kernel: "6.1.0-18-amd64".into(),
            cpus: 8,
            memory_bytes: 16 * GIB,
            disks: vec![
                disk("docker", "/var/lib/docker", 100 * GIB),
                disk("data", "/var/lib/outpost", 50 * GIB),
            ],
            docker: Some(DockerFacts {
                version: "24.0.7".into(),
                api_version: "1.43".into(),
                storage_driver: "overlay2".into(),
                https_proxy: String::new(),
                no_proxy: String::new(),
            }),
            addresses: vec!["10.0.0.5".into()],
            listening_ports: vec![listening(22, "tcp", "0.0.0.0")],
        }),
        skew_ms: Some(150),
        console: false,
        held: Vec::new(),
    }
}

impl TestNode {
    fn with(mut self, change: impl FnOnce(&mut Facts)) -> TestNode {
        change(self.facts.as_mut().expect("a node with facts"));
        self
    }
    fn offline(mut self) -> TestNode {
        self.online = false;
        self
    }
    fn no_facts(mut self) -> TestNode {
        self.facts = None;
        self
    }
    fn skew(mut self, ms: Option<i64>) -> TestNode {
        self.skew_ms = ms;
        self
    }
    fn console_host(mut self) -> TestNode {
        self.console = true;
        self
    }
    fn holding(mut self, ports: &[u16]) -> TestNode {
        self.held = ports.to_vec();
        self
    }
    fn listening(self, port: u16, protocol: &str, address: &str) -> TestNode {
        self.with(|f| f.listening_ports.push(listening(port, protocol, address)))
    }
}

fn disk(role: &str, path: &str, free_bytes: u64) -> DiskFacts {
    DiskFacts {
        role: role.into(),
        path: path.into(),
        free_bytes,
        total_bytes: 2 * free_bytes,
    }
}

fn listening(port: u16, protocol: &str, address: &str) -> ListeningPort {
    ListeningPort {
        port,
        protocol: protocol.into(),
        address: address.into(),
    }
}

fn named(name: &str, kind: PreflightKind) -> PreflightCheck {
    PreflightCheck {
        name: name.into(),
        kind,
        message: None,
    }
}

fn saying(mut check: PreflightCheck, message: &str) -> PreflightCheck {
    check.message = Some(message.into());
    check
}

fn cpus(warn_below: Option<u64>, fail_below: Option<u64>) -> PreflightCheck {
    named(
        "CPUs",
        PreflightKind::Cpus {
            warn_below,
            fail_below,
        },
    )
}

fn memory(warn_below: Option<u64>, fail_below: Option<u64>) -> PreflightCheck {
    named(
        "Memory",
        PreflightKind::Memory {
            warn_below,
            fail_below,
        },
    )
}

fn disk_check(path: DiskPath, warn_below: Option<u64>, fail_below: Option<u64>) -> PreflightCheck {
    named(
        "Disk",
        PreflightKind::Disk {
            path,
            warn_below,
            fail_below,
        },
    )
}

fn docker_version(min: &str, severity: Severity) -> PreflightCheck {
    named(
        "Docker version",
        PreflightKind::DockerVersion {
            min: min.into(),
            severity,
        },
    )
}

fn os(allowed: &[&str], severity: Severity) -> PreflightCheck {
    named(
        "OS",
        PreflightKind::Os {
            allowed: allowed.iter().map(|s| s.to_string()).collect(),
            severity,
        },
    )
}

fn port_free(port: u16, severity: Severity) -> PreflightCheck {
    named("Port free", PreflightKind::PortFree { port, severity })
}

fn fact(fact: &str, op: FactOp, value: &str, severity: Severity) -> PreflightCheck {
    named(
        "Fact",
        PreflightKind::Fact {
            fact: fact.into(),
            op,
            value: value.into(),
            severity,
        },
    )
}

#[test]
fn cpus_check() {
    let thresholds = || cpus(Some(4), Some(2));
    check(
        case(vec![thresholds()], vec![node("a")]),
        "=> pass
         pass a CPUs: 8 CPUs, the app recommends at least 4",
    );
    check(
        case(vec![thresholds()], vec![node("a").with(|f| f.cpus = 4)]),
        "=> pass
         pass a CPUs: 4 CPUs, the app recommends at least 4",
    );
    check(
        case(vec![thresholds()], vec![node("a").with(|f| f.cpus = 2)]),
        "=> warn
         warn a CPUs: 2 CPUs, the app recommends at least 4: add CPUs to host-a or move the app to a bigger node",
    );
    check(
        case(vec![thresholds()], vec![node("a").with(|f| f.cpus = 1)]),
        "=> fail
         fail a CPUs: 1 CPU, the app needs at least 2: add CPUs to host-a or move the app to a bigger node",
    );
    check(
        case(vec![cpus(None, Some(4))], vec![node("a").with(|f| f.cpus = 2)]),
        "=> fail
         fail a CPUs: 2 CPUs, the app needs at least 4: add CPUs to host-a or move the app to a bigger node",
    );
    check(
        case(vec![cpus(None, Some(4))], vec![node("a")]),
        "=> pass
         pass a CPUs: 8 CPUs, the app needs at least 4",
    );
    check(
        case(
            vec![cpus(Some(1), None)],
            vec![node("a").with(|f| f.cpus = 0)],
        ),
        "=> fail
         fail a CPUs: host-a did not report its CPU count: restart its agent",
    );
}

#[test]
fn the_release_message_follows_a_warning_or_failure_only() {
    let check_with_message = || saying(cpus(Some(4), Some(2)), "The indexer wants 4 cores.");
    check(
        case(vec![check_with_message()], vec![node("a").with(|f| f.cpus = 3)]),
        "=> warn
         warn a CPUs: 3 CPUs, the app recommends at least 4: add CPUs to host-a or move the app to a bigger node. The indexer wants 4 cores.",
    );
    check(
        case(vec![check_with_message()], vec![node("a")]),
        "=> pass
         pass a CPUs: 8 CPUs, the app recommends at least 4",
    );
}

#[test]
fn memory_check() {
    let thresholds = || memory(Some(2 * GIB), Some(512 * MIB));
    check(
        case(vec![thresholds()], vec![node("a")]),
        "=> pass
         pass a Memory: 16 GiB of memory, the app recommends at least 2 GiB",
    );
    check(
        case(vec![thresholds()], vec![node("a").with(|f| f.memory_bytes = 3 * GIB / 2)]),
        "=> warn
         warn a Memory: 1.5 GiB of memory, the app recommends at least 2 GiB: add memory to host-a or move the app to a bigger node",
    );
    // Just under the threshold reads as just under it, not rounded up to it.
    check(
        case(vec![thresholds()], vec![node("a").with(|f| f.memory_bytes = 2 * GIB - 1)]),
        "=> warn
         warn a Memory: 1.9 GiB of memory, the app recommends at least 2 GiB: add memory to host-a or move the app to a bigger node",
    );
    check(
        case(vec![thresholds()], vec![node("a").with(|f| f.memory_bytes = 300 * MIB)]),
        "=> fail
         fail a Memory: 300 MiB of memory, the app needs at least 512 MiB: add memory to host-a or move the app to a bigger node",
    );
    check(
        case(
            vec![thresholds()],
            vec![node("a").with(|f| f.memory_bytes = 0)],
        ),
        "=> fail
         fail a Memory: host-a did not report its memory: restart its agent",
    );
}

#[test]
fn disk_check_by_path() {
    use DiskPath::{Data, Docker};
    check(
        case(vec![disk_check(Docker, Some(20 * GIB), Some(GIB))], vec![node("a")]),
        "=> pass
         pass a Disk: 100 GiB free on /var/lib/docker (Docker's data root), the app recommends at least 20 GiB",
    );
    check(
        case(
            vec![disk_check(Docker, Some(200 * GIB), Some(GIB))],
            vec![node("a")],
        ),
        "=> warn
         warn a Disk: 100 GiB free on /var/lib/docker (Docker's data root), the app recommends at least 200 GiB: free space on that disk of host-a or grow it",
    );
    check(
        case(
            vec![disk_check(Data, None, Some(64 * GIB))],
            vec![node("a")],
        ),
        "=> fail
         fail a Disk: 50 GiB free on /var/lib/outpost (Outpost's data directory), the app needs at least 64 GiB: free space on that disk of host-a or grow it",
    );
    check(
        case(
            vec![disk_check(Docker, None, Some(GIB))],
            vec![node("a").with(|f| f.disks.retain(|d| d.role != "docker"))],
        ),
        "=> fail
         fail a Disk: host-a did not report the free space of Docker's data root: start Docker there and wait for it to report",
    );
    check(
        case(
            vec![disk_check(Data, None, Some(GIB))],
            vec![node("a").with(|f| f.disks.clear())],
        ),
        "=> fail
         fail a Disk: host-a did not report the free space of Outpost's data directory: restart its agent and wait for it to report",
    );
}

#[test]
fn docker_version_check() {
    let with_docker = |version: &str| {
        let version = version.to_string();
        node("a").with(move |f| f.docker.as_mut().unwrap().version = version)
    };
    check(
        case(vec![docker_version("20.10", Fail)], vec![node("a")]),
        "=> pass
         pass a Docker version: Docker 24.0.7, the app needs 20.10 or newer",
    );
    check(
        case(
            vec![docker_version("20.10", Fail)],
            vec![with_docker("20.10.24+dfsg1")],
        ),
        "=> pass
         pass a Docker version: Docker 20.10.24+dfsg1, the app needs 20.10 or newer",
    );
    check(
        case(vec![docker_version("20.10", Fail)], vec![with_docker("19.03.12")]),
        "=> fail
         fail a Docker version: Docker 19.03.12, the app needs 20.10 or newer: upgrade Docker on host-a",
    );
    check(
        case(vec![docker_version("20.10", Warn)], vec![with_docker("19.03.12")]),
        "=> warn
         warn a Docker version: Docker 19.03.12, the app needs 20.10 or newer: upgrade Docker on host-a",
    );
    check(
        case(
            vec![docker_version("20.10", Warn)],
            vec![with_docker("dev")],
        ),
        r#"=> warn
         warn a Docker version: Docker "dev" is not a version that compares with 20.10: install a released Docker on host-a"#,
    );
    // Without an engine the built-in fails, and so does the check, whatever its severity.
    check(
        case(
            vec![docker_version("20.10", Warn)],
            vec![node("a").with(|f| f.docker = None)],
        ),
        "=> fail
         fail a Docker engine: no Docker engine answered on host-a: install Docker or start it (systemctl start docker), then wait for the node to report again
         fail a Docker version: host-a did not report Docker's version: install Docker or start it there",
    );
}

#[test]
fn os_check() {
    let on = |name: &str| {
        let name = name.to_string();
        node("a").with(move |f| f.os = name)
    };
    check(
        case(vec![os(&["debian", "rhel"], Fail)], vec![node("a")]),
        r#"=> pass
         pass a OS: Debian GNU/Linux 12 (bookworm) matches "debian""#,
    );
    check(
        case(vec![os(&["DEBIAN"], Fail)], vec![node("a")]),
        r#"=> pass
         pass a OS: Debian GNU/Linux 12 (bookworm) matches "DEBIAN""#,
    );
    // `linux` matches any node, even one whose OS name does not say Linux.
    check(
        case(vec![os(&["linux"], Fail)], vec![on("Ubuntu 24.04 LTS")]),
        r#"=> pass
         pass a OS: Ubuntu 24.04 LTS matches "linux""#,
    );
    check(
        case(vec![os(&["Linux"], Fail)], vec![on("")]),
        r#"=> pass
         pass a OS: host-a runs Linux, which "Linux" allows"#,
    );
    check(
        case(vec![os(&["rhel", "rocky"], Fail)], vec![node("a")]),
        "=> fail
         fail a OS: Debian GNU/Linux 12 (bookworm) is not among the systems the app supports (rhel, rocky): use a node that runs one of them",
    );
    check(
        case(vec![os(&["ubuntu"], Warn)], vec![node("a")]),
        "=> warn
         warn a OS: Debian GNU/Linux 12 (bookworm) is not among the systems the app supports (ubuntu): use a node that runs one of them",
    );
    check(
        case(vec![os(&["ubuntu", ""], Warn)], vec![on("")]),
        "=> fail
         fail a OS: host-a did not report its operating system: restart its agent",
    );
}

#[test]
fn port_free_check() {
    check(
        case(vec![port_free(8080, Fail)], vec![node("a")]),
        "=> pass
         pass a Port free: port 8080 is free on host-a",
    );
    check(
        case(
            vec![port_free(8080, Fail)],
            vec![node("a")
                .listening(8080, "tcp", "0.0.0.0")
                .listening(8080, "tcp", "::")],
        ),
        "=> fail
         fail a Port free: port 8080 is in use on host-a (tcp on 0.0.0.0, tcp on ::): stop what listens on it or leave host-a out of the plan",
    );
    check(
        case(
            vec![port_free(5353, Warn)],
            vec![node("a").listening(5353, "udp", "127.0.0.53")],
        ),
        "=> warn
         warn a Port free: port 5353 is in use on host-a (udp on 127.0.0.53): stop what listens on it or leave host-a out of the plan",
    );
    check(
        case(
            vec![port_free(8080, Fail)],
            vec![node("a").listening(8080, "tcp", "0.0.0.0").holding(&[8080])],
        ),
        "=> pass
         pass a Port free: port 8080 on host-a is held by the release running there, which the update replaces",
    );
    let many = (1..=5).fold(node("a"), |n, i| {
        n.listening(9000, "tcp", &format!("10.0.0.{i}"))
    });
    check(
        case(vec![port_free(9000, Fail)], vec![many]),
        "=> fail
         fail a Port free: port 9000 is in use on host-a (tcp on 10.0.0.1, tcp on 10.0.0.2, tcp on 10.0.0.3 and 2 more): stop what listens on it or leave host-a out of the plan",
    );
}

#[test]
fn fact_check() {
    let kernel = || {
        saying(
            fact("kernel_version", Ge, "4.19", Warn),
            "Kernels before 4.19 are not supported.",
        )
    };
    check(
        case(vec![kernel()], vec![node("a")]),
        "=> pass
         pass a Fact: kernel_version is 6.1.0-18-amd64 on host-a, the app needs kernel_version >= 4.19",
    );
    check(
        case(
            vec![kernel()],
            vec![node("a").with(|f| f.kernel = "4.4.0-210-generic".into())],
        ),
        "=> warn
         warn a Fact: kernel_version is 4.4.0-210-generic on host-a, the app needs kernel_version >= 4.19: change host-a to match or leave it out of the plan. Kernels before 4.19 are not supported.",
    );
    // Numbers compare as numbers: 16 is more than 4 although "16" < "4" as text.
    check(
        case(
            vec![fact("cpus", Ge, "4", Fail)],
            vec![node("a").with(|f| f.cpus = 16)],
        ),
        "=> pass
         pass a Fact: cpus is 16 on host-a, the app needs cpus >= 4",
    );
    check(
        case(vec![fact("memory_bytes", Lt, "1073741824", Fail)], vec![node("a")]),
        "=> fail
         fail a Fact: memory_bytes is 17179869184 on host-a, the app needs memory_bytes < 1073741824: change host-a to match or leave it out of the plan",
    );
    check(
        case(vec![fact("storage_driver", Eq, "overlay2", Fail)], vec![node("a")]),
        "=> pass
         pass a Fact: storage_driver is overlay2 on host-a, the app needs storage_driver == overlay2",
    );
    check(
        case(vec![fact("storage_driver", Ne, "overlay2", Warn)], vec![node("a")]),
        "=> warn
         warn a Fact: storage_driver is overlay2 on host-a, the app needs storage_driver != overlay2: change host-a to match or leave it out of the plan",
    );
    check(
        case(vec![fact("docker_version", Gt, "24.0.7", Fail)], vec![node("a")]),
        "=> fail
         fail a Fact: docker_version is 24.0.7 on host-a, the app needs docker_version > 24.0.7: change host-a to match or leave it out of the plan",
    );
    check(
        case(vec![fact("kernel", Le, "6.1", Fail)], vec![node("a")]),
        "=> pass
         pass a Fact: kernel is 6.1.0-18-amd64 on host-a, the app needs kernel <= 6.1",
    );
    // Text compares as text, exactly.
    check(
        case(vec![fact("hostname", Eq, "HOST-A", Fail)], vec![node("a")]),
        "=> fail
         fail a Fact: hostname is host-a on host-a, the app needs hostname == HOST-A: change host-a to match or leave it out of the plan",
    );
    check(
        case(
            vec![fact("os", Ne, "Debian GNU/Linux 11 (bullseye)", Fail)],
            vec![node("a")],
        ),
        "=> pass
         pass a Fact: os is Debian GNU/Linux 12 (bookworm) on host-a, the app needs os != Debian GNU/Linux 11 (bullseye)",
    );
    check(
        case(
            vec![fact("storage_driver", Eq, "overlay2", Warn)],
            vec![node("a").with(|f| f.docker = None)],
        ),
        "=> fail
         fail a Docker engine: no Docker engine answered on host-a: install Docker or start it (systemctl start docker), then wait for the node to report again
         fail a Fact: host-a did not report storage_driver: install Docker or start it there",
    );
    check(
        case(
            vec![fact("kernel", Ge, "4.19", Warn)],
            vec![node("a").with(|f| f.kernel.clear())],
        ),
        "=> fail
         fail a Fact: host-a did not report kernel: restart its agent",
    );
}

#[test]
fn an_unknown_fact_fails_once_for_the_cluster() {
    check(
        case(
            vec![fact("gpu_count", Ge, "1", Warn), cpus(None, Some(1))],
            vec![node("a"), node("b")],
        ),
        "=> fail
         fail - Fact: the release checks the fact \"gpu_count\", which Outpost does not know (it knows hostname, os, kernel, cpus, memory_bytes, docker_version, storage_driver): ask the vendor for a release that fixes this check
         pass a CPUs: 8 CPUs, the app needs at least 1
         pass b CPUs: 8 CPUs, the app needs at least 1",
    );
}

#[test]
fn nodes_that_are_not_ready() {
    check(
        case(vec![cpus(None, Some(1))], vec![]),
        "=> fail
         fail - Node ready: no node is ready: join a node on the Nodes page and start its agent",
    );
    // An offline node is checked no further; its facts are stale. Messages fall back to the
    // node's id when there is no host name.
    check(
        case(
            vec![cpus(None, Some(1))],
            vec![node("a").offline(), node("b").no_facts(), node("c")],
        ),
        "=> fail
         fail a Node ready: node host-a is offline: start its agent and wait until the Nodes page shows it online
         fail b Node ready: node b has not reported its facts yet: wait a minute, and restart its agent if it stays this way
         pass c CPUs: 8 CPUs, the app needs at least 1",
    );
}

#[test]
fn clock_skew() {
    let skewed = |ms: Option<i64>| case(vec![], vec![node("a").skew(ms)]);
    check(skewed(Some(2_000)), "=> pass");
    check(skewed(Some(-2_000)), "=> pass");
    check(
        skewed(Some(2_001)),
        "=> warn
         warn a Clock skew: host-a's clock is 2.001 s ahead of the console's: synchronise both with NTP (chrony or systemd-timesyncd)",
    );
    check(
        skewed(Some(-2_500)),
        "=> warn
         warn a Clock skew: host-a's clock is 2.5 s behind the console's: synchronise both with NTP (chrony or systemd-timesyncd)",
    );
    check(
        skewed(Some(30_000)),
        "=> warn
         warn a Clock skew: host-a's clock is 30 s ahead of the console's: synchronise both with NTP (chrony or systemd-timesyncd)",
    );
    check(
        skewed(Some(-45_000)),
        "=> fail
         fail a Clock skew: host-a's clock is 45 s behind the console's: synchronise both with NTP (chrony or systemd-timesyncd); certificates and logs need them within 30 s",
    );
    check(
        skewed(Some(i64::MIN)),
        "=> fail
         fail a Clock skew: host-a's clock is 9223372036854775.808 s behind the console's: synchronise both with NTP (chrony or systemd-timesyncd); certificates and logs need them within 30 s",
    );
    check(
        skewed(None),
        "=> warn
         warn a Clock skew: host-a's clock has not been compared with the console's yet: wait for its next heartbeat and run preflight again",
    );
    check(
        case(vec![], vec![node("a").skew(None).console_host()]),
        "=> pass",
    );
}

#[test]
fn license_node_limit() {
    check(
        case(vec![], vec![node("a"), node("b"), node("c")]).max_nodes(2),
        "=> fail
         fail - Node count: 3 nodes, the license allows at most 2: leave 1 node out of the plan or load a license for more nodes",
    );
    check(
        case(vec![], vec![node("a"), node("b")]).max_nodes(2),
        "=> pass",
    );
    check(case(vec![], vec![node("a"), node("b")]), "=> pass");
}

#[test]
fn the_release_may_not_publish_the_consoles_ports() {
    check(
        case(vec![], vec![node("a")])
            .publish(8800, Tcp, "web")
            .publish(9874, Udp, "cache")
            .publish(9871, Tcp, "admin")
            .publish(9880, Tcp, "admin")
            .publish(9881, Tcp, "admin"),
        "=> fail
         fail - Console ports: service web publishes port 8800/tcp, which the console listens on: ask the vendor for a release that publishes another port
         fail - Console ports: service cache publishes port 9874/udp, which the console listens on: ask the vendor for a release that publishes another port
         fail - Console ports: service admin publishes port 9871/tcp, in the range 9870-9880 that Outpost reserves: ask the vendor for a release that publishes another port
         fail - Console ports: service admin publishes port 9880/tcp, in the range 9870-9880 that Outpost reserves: ask the vendor for a release that publishes another port
         pass a Port 8800/tcp free: port 8800/tcp, published by service web, is free on host-a
         pass a Port 9874/udp free: port 9874/udp, published by service cache, is free on host-a
         pass a Port 9871/tcp free: port 9871/tcp, published by service admin, is free on host-a
         pass a Port 9880/tcp free: port 9880/tcp, published by service admin, is free on host-a
         pass a Port 9881/tcp free: port 9881/tcp, published by service admin, is free on host-a",
    );
}

#[test]
fn published_ports_must_be_free_on_every_node() {
    check(
        case(
            vec![],
            vec![
                node("a").listening(8080, "tcp", "0.0.0.0"),
                node("b").listening(8080, "udp", "0.0.0.0"),
                node("c").listening(8080, "tcp", "::").holding(&[8080]),
            ],
        )
        .publish(8080, Tcp, "web"),
        "=> fail
         fail a Port 8080/tcp free: port 8080/tcp, published by service web, is in use on host-a (listening on 0.0.0.0): stop what listens on it or leave host-a out of the plan
         pass b Port 8080/tcp free: port 8080/tcp, published by service web, is free on host-b
         pass c Port 8080/tcp free: port 8080/tcp on host-c is held by the release running there, which the update replaces",
    );
    check(
        case(vec![], vec![node("a").listening(53, "udp", "127.0.0.53")]).publish(53, Udp, "dns"),
        "=> fail
         fail a Port 53/udp free: port 53/udp, published by service dns, is in use on host-a (listening on 127.0.0.53): stop what listens on it or leave host-a out of the plan",
    );
}

/// Every result of a healthy two-node cluster, in order: cluster-wide first, then per node
/// the built-ins, the release's checks, the published ports.
#[test]
fn healthy_cluster() {
    let report = case(
        vec![cpus(Some(2), Some(1)), port_free(8080, Fail)],
        vec![node("a").console_host().skew(None), node("b")],
    )
    .publish(8080, Tcp, "web")
    .max_nodes(3)
    .evaluate();
    assert_eq!(
        render(&report, report.results.iter()),
        "=> pass
pass - Node count: 2 nodes, the license allows at most 3
pass - Console ports: the release publishes none of the console's ports (8800, 9874, 9879) and nothing in 9870-9880
pass a Node ready: node host-a is online and has reported its facts
pass a Clock skew: host-a runs the console and shares its clock
pass a Docker engine: Docker 24.0.7 with the overlay2 storage driver answered on host-a
pass a CPUs: 8 CPUs, the app recommends at least 2
pass a Port free: port 8080 is free on host-a
pass a Port 8080/tcp free: port 8080/tcp, published by service web, is free on host-a
pass b Node ready: node host-b is online and has reported its facts
pass b Clock skew: host-b's clock is within 2 s of the console's
pass b Docker engine: Docker 24.0.7 with the overlay2 storage driver answered on host-b
pass b CPUs: 8 CPUs, the app recommends at least 2
pass b Port free: port 8080 is free on host-b
pass b Port 8080/tcp free: port 8080/tcp, published by service web, is free on host-b"
    );
    assert!(!report.blocking);
}

#[test]
fn report_outcome_is_the_worst() {
    let result = |outcome| CheckResult {
        check: "c".into(),
        node: None,
        outcome,
        message: String::new(),
    };
    let summary = |outcomes: &[Outcome]| {
        let report = Report::new(outcomes.iter().map(|&o| result(o)).collect());
        (report.outcome, report.blocking)
    };
    assert_eq!(summary(&[]), (Outcome::Pass, false));
    assert_eq!(
        summary(&[Outcome::Pass, Outcome::Warn]),
        (Outcome::Warn, false)
    );
    assert_eq!(
        summary(&[Outcome::Fail, Outcome::Warn, Outcome::Pass]),
        (Outcome::Fail, true)
    );
    assert_eq!(
        serde_json::to_string(&result(Outcome::Warn)).unwrap(),
        r#"{"check":"c","node":null,"outcome":"warn","message":""}"#
    );
}

#[test]
fn version_compare_table() {
    use Ordering::{Equal, Greater, Less};
    let table: &[(&str, &str, Option<Ordering>)] = &[
        ("20.10.24+dfsg1", "20.10", Some(Greater)),
        ("20.10", "20.10.0", Some(Equal)),
        ("20.10.0", "20.10", Some(Equal)),
        ("19.03.12", "20.10", Some(Less)),
        ("24.0.7", "24.0.7", Some(Equal)),
        ("24.0.10", "24.0.9", Some(Greater)),
        ("2.10", "2.9", Some(Greater)),
        ("10", "9", Some(Greater)),
        ("6.1.0-18-amd64", "6.1", Some(Equal)),
        ("4.4.0-210-generic", "4.19", Some(Less)),
        ("5.15.0-91-generic", "4.19", Some(Greater)),
        ("v1.2.3", "1.2.3", Some(Equal)),
        ("V2", "1.9", Some(Greater)),
        (" 1.2 ", "1.2", Some(Equal)),
        ("1.", "1.0", Some(Equal)),
        ("17179869184", "1073741824", Some(Greater)),
        ("dev", "20.10", None),
        ("20.10", "", None),
        ("1..2", "1.2", None),
        ("-1", "1", None),
        ("99999999999999999999", "1", None),
        ("overlay2", "overlay2", None),
    ];
    for &(a, b, expected) in table {
        assert_eq!(compare_versions(a, b), expected, "{a:?} vs {b:?}");
    }
}

#[test]
fn figures_read_well() {
    use super::text::{seconds, size};
    let sizes: &[(u64, &str)] = &[
        (0, "0 bytes"),
        (1, "1 byte"),
        (1023, "1023 bytes"),
        (1024, "1 KiB"),
        (512 * MIB, "512 MiB"),
        (GIB, "1 GiB"),
        (3 * GIB / 2, "1.5 GiB"),
        (2 * GIB - 1, "1.9 GiB"),
        (1 << 40, "1 TiB"),
        (u64::MAX, "15.9 EiB"),
    ];
    for &(bytes, expected) in sizes {
        assert_eq!(size(bytes), expected, "{bytes}");
    }
    let times: &[(u64, &str)] = &[
        (0, "0 s"),
        (1, "0.001 s"),
        (2_500, "2.5 s"),
        (2_010, "2.01 s"),
        (45_000, "45 s"),
    ];
    for &(ms, expected) in times {
        assert_eq!(seconds(ms), expected, "{ms}");
    }
}

#[test]
fn published_ports_follow_profiles() {
    let files = BTreeMap::from([
        (
            "compose.yaml".to_string(),
            r#"services:
  web:
    image: docker.io/library/busybox:1.36
    ports: ["8080:80", "127.0.0.1:8443:443/tcp"]
  dns:
    image: busybox
    ports: ["5353:53/udp", "5353:53/tcp"]
  metrics:
    image: busybox
    ports: ["9100:9100"]
    profiles: ["metrics"]
  idle:
    image: busybox
    ports: ["7000:7000"]
    deploy:
      replicas: 0
"#
            .to_string(),
        ),
        (
            "outpost.yaml".to_string(),
            r#"app: t
version: 1.0.0
config:
  - group: general
    items:
      - name: enable_metrics
        title: Metrics
        type: bool
        default: false
        profile: metrics
"#
            .to_string(),
        ),
    ]);
    let app = App::from_files(&files).unwrap_or_else(|e| panic!("{e}"));
    let ports = |profiles: &[&str]| -> Vec<String> {
        let profiles: BTreeSet<String> = profiles.iter().map(|p| p.to_string()).collect();
        published_ports(&app, &profiles)
            .iter()
            .map(|p| format!("{}/{} {}", p.port, text::protocol(p.protocol), p.service))
            .collect()
    };
    assert_eq!(
        ports(&[]),
        [
            "5353/tcp dns",
            "5353/udp dns",
            "8080/tcp web",
            "8443/tcp web"
        ]
    );
    assert_eq!(
        ports(&["metrics"]),
        [
            "5353/tcp dns",
            "5353/udp dns",
            "8080/tcp web",
            "8443/tcp web",
            "9100/tcp metrics"
        ]
    );
    assert_eq!(ports(&["other"]), ports(&[]));
}
