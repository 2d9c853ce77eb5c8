//! The checks Outpost always runs, whatever the release says: nodes ready, the license's node
//! limit, the console's ports, clock skew, a Docker engine, and the published ports free.

use outpost_agent::protocol::Facts;

use super::text::{self, plural};
use super::{
    node_name, result, CheckResult, NodeInput, Outcome, PreflightInput, SKEW_FAIL_MS, SKEW_WARN_MS,
};

pub(crate) const NODE_READY: &str = "Node ready";
pub(crate) const NODE_COUNT: &str = "Node count";
pub(crate) const CONSOLE_PORTS: &str = "Console ports";
pub(crate) const CLOCK: &str = "Clock skew";
pub(crate) const DOCKER: &str = "Docker engine";

/// At most this many addresses are named for a port in use.
const ADDRESSES_SHOWN: usize = 3;

/// The cluster-wide checks: some node, the node limit, the console's ports.
pub(super) fn cluster(input: &PreflightInput) -> Vec<CheckResult> {
    let mut results = Vec::new();
    if input.nodes.is_empty() {
        results.push(result(
            NODE_READY,
            None,
            Outcome::Fail,
            "no node is ready: join a node on the Nodes page and start its agent",
        ));
    }

    let count = input.nodes.len() as u64;
    let nodes = plural(count, "node");
    results.push(match input.license_max_nodes {
        Some(max) if count > u64::from(max) => result(
            NODE_COUNT,
            None,
            Outcome::Fail,
            format!(
                "{nodes}, the license allows at most {max}: leave {} out of the plan or load a license for more nodes",
                plural(count - u64::from(max), "node")
            ),
        ),
        Some(max) => result(
            NODE_COUNT,
            None,
            Outcome::Pass,
            format!("{nodes}, the license allows at most {max}"),
        ),
        None => result(
            NODE_COUNT,
            None,
            Outcome::Pass,
            format!("{nodes}; the license does not limit nodes"),
        ),
    });

    let reserved = format!(
        "{}-{}",
        input.reserved_ports.start(),
        input.reserved_ports.end()
    );
    let before = results.len();
    for published in &input.published_ports {
        let why = if input.console_ports.contains(&published.port) {
            "which the console listens on".to_string()
        } else if input.reserved_ports.contains(&published.port) {
            format!("in the range {reserved} that Outpost reserves")
        } else {
            continue;
        };
        results.push(result(
            CONSOLE_PORTS,
            None,
            Outcome::Fail,
            format!(
                "service {} publishes port {}/{}, {why}: ask the vendor for a release that publishes another port",
                published.service,
                published.port,
                text::protocol(published.protocol)
            ),
        ));
    }
    if results.len() == before {
        let ports: Vec<String> = input.console_ports.iter().map(u16::to_string).collect();
        results.push(result(
            CONSOLE_PORTS,
            None,
            Outcome::Pass,
            format!(
                "the release publishes none of the console's ports ({}) and nothing in {reserved}",
                ports.join(", ")
            ),
        ));
    }
    results
}

/// Whether the node can be checked at all: online, with facts. Records the result and
/// returns the facts when it can.
pub(super) fn ready<'a>(node: &NodeInput<'a>, results: &mut Vec<CheckResult>) -> Option<&'a Facts> {
    let name = node_name(node);
    let (outcome, message) = match (node.online, node.facts) {
        (false, _) => (
            Outcome::Fail,
            format!("node {name} is offline: start its agent and wait until the Nodes page shows it online"),
        ),
        (true, None) => (
            Outcome::Fail,
            format!("node {name} has not reported its facts yet: wait a minute, and restart its agent if it stays this way"),
        ),
        (true, Some(_)) => (
            Outcome::Pass,
            format!("node {name} is online and has reported its facts"),
        ),
    };
    results.push(result(NODE_READY, Some(node), outcome, message));
    node.facts.filter(|_| node.online)
}

/// A ready node's clock and Docker engine.
pub(super) fn node(node: &NodeInput, facts: &Facts, results: &mut Vec<CheckResult>) {
    let name = node_name(node);
    let (outcome, message) = match node.clock_skew_ms {
        Some(skew) => {
            let size = skew.unsigned_abs();
            let how = format!(
                "{name}'s clock is {} {} the console's",
                text::seconds(size),
                if skew > 0 { "ahead of" } else { "behind" }
            );
            let fix = "synchronise both with NTP (chrony or systemd-timesyncd)";
            if size > SKEW_FAIL_MS.unsigned_abs() {
                (
                    Outcome::Fail,
                    format!("{how}: {fix}; certificates and logs need them within {}", text::seconds(SKEW_FAIL_MS.unsigned_abs())),
                )
            } else if size > SKEW_WARN_MS.unsigned_abs() {
                (Outcome::Warn, format!("{how}: {fix}"))
            } else {
                (
                    Outcome::Pass,
                    format!(
                        "{name}'s clock is within {} of the console's",
                        text::seconds(SKEW_WARN_MS.unsigned_abs())
                    ),
                )
            }
        }
        None if node.is_console_host => (
            Outcome::Pass,
            format!("{name} runs the console and shares its clock"),
        ),
        None => (
            Outcome::Warn,
            format!("{name}'s clock has not been compared with the console's yet: wait for its next heartbeat and run preflight again"),
        ),
    };
    results.push(result(CLOCK, Some(node), outcome, message));

    let (outcome, message) = match &facts.docker {
        Some(docker) => (
            Outcome::Pass,
            format!(
                "Docker {} with the {} storage driver answered on {name}",
                docker.version, docker.storage_driver
            ),
        ),
        None => (
            Outcome::Fail,
            format!("no Docker engine answered on {name}: install Docker or start it (systemctl start docker), then wait for the node to report again"),
        ),
    };
    results.push(result(DOCKER, Some(node), outcome, message));
}

/// Each port the release publishes, free on a ready node (or held by our own release).
pub(super) fn ports(
    input: &PreflightInput,
    node: &NodeInput,
    facts: &Facts,
    results: &mut Vec<CheckResult>,
) {
    let name = node_name(node);
    for published in &input.published_ports {
        let protocol = text::protocol(published.protocol);
        let port = format!("port {}/{protocol}", published.port);
        let check = format!("Port {}/{protocol} free", published.port);
        let addresses: Vec<&str> = facts
            .listening_ports
            .iter()
            .filter(|l| l.port == published.port && l.protocol == protocol)
            .map(|l| l.address.as_str())
            .collect();
        let (outcome, message) = if node.ports_held_by_app.contains(&published.port) {
            (
                Outcome::Pass,
                format!("{port} on {name} is held by the release running there, which the update replaces"),
            )
        } else if addresses.is_empty() {
            (
                Outcome::Pass,
                format!(
                    "{port}, published by service {}, is free on {name}",
                    published.service
                ),
            )
        } else {
            (
                Outcome::Fail,
                format!(
                    "{port}, published by service {}, is in use on {name} (listening on {}): stop what listens on it or leave {name} out of the plan",
                    published.service,
                    list(&addresses)
                ),
            )
        };
        results.push(result(&check, Some(node), outcome, message));
    }
}

/// `a, b, c and 2 more`.
pub(super) fn list<S: AsRef<str>>(items: &[S]) -> String {
    let shown: Vec<&str> = items
        .iter()
        .take(ADDRESSES_SHOWN)
        .map(AsRef::as_ref)
        .collect();
    let shown = shown.join(", ");
    match items.len().saturating_sub(ADDRESSES_SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}
