//! The checks a release asks for in `outpost.yaml`, one function per kind, each giving an
//! outcome and a message that says what was found and what to do.

use std::cmp::Ordering;

use outpost_agent::protocol::Facts;
use outpost_airgap::app::{DiskPath, FactOp, PreflightCheck, PreflightKind, Severity};

use super::builtin::list;
use super::text::{self, plural};
use super::version::compare_versions;
use super::{node_name, result, CheckResult, NodeInput, Outcome};

/// The fact names a `fact` check may compare. `kernel_version` is also accepted for `kernel`.
pub const FACTS: &[&str] = &[
    "hostname",
    "os",
    "kernel",
    "cpus",
    "memory_bytes",
    "docker_version",
    "storage_driver",
];

/// Checks that fail before any node is looked at: a `fact` check on a fact Outpost does not
/// know is the release's mistake, reported once.
pub(super) fn cluster(checks: &[PreflightCheck]) -> Vec<CheckResult> {
    checks
        .iter()
        .filter_map(|check| match &check.kind {
            PreflightKind::Fact { fact: name, .. } if fact(name).is_none() => Some(result(
                &check.name,
                None,
                Outcome::Fail,
                format!(
                    "the release checks the fact {name:?}, which Outpost does not know (it knows {}): ask the vendor for a release that fixes this check",
                    FACTS.join(", ")
                ),
            )),
            _ => None,
        })
        .collect()
}

/// Every check of the release on one ready node.
pub(super) fn node(
    checks: &[PreflightCheck],
    node: &NodeInput,
    facts: &Facts,
    results: &mut Vec<CheckResult>,
) {
    for check in checks {
        let Some((outcome, mut message)) = evaluate(&check.kind, node, facts) else {
            continue;
        };
        if outcome != Outcome::Pass {
            if let Some(extra) = check.message.as_deref().filter(|m| !m.trim().is_empty()) {
                message = format!("{message}. {}", extra.trim());
            }
        }
        results.push(result(&check.name, Some(node), outcome, message));
    }
}

/// One check on one node; `None` for a check that [`cluster`] already failed.
fn evaluate(kind: &PreflightKind, node: &NodeInput, facts: &Facts) -> Option<(Outcome, String)> {
    let name = node_name(node);
    Some(match kind {
        PreflightKind::Cpus {
            warn_below,
            fail_below,
        } => match u64::from(facts.cpus) {
            0 => unreported(format!(
                "{name} did not report its CPU count: restart its agent"
            )),
            cpus => threshold(
                Limits {
                    have: cpus,
                    warn_below: *warn_below,
                    fail_below: *fail_below,
                },
                &|n| n.to_string(),
                plural(cpus, "CPU"),
                &format!("add CPUs to {name} or move the app to a bigger node"),
            ),
        },
        PreflightKind::Memory {
            warn_below,
            fail_below,
        } => match facts.memory_bytes {
            0 => unreported(format!(
                "{name} did not report its memory: restart its agent"
            )),
            bytes => threshold(
                Limits {
                    have: bytes,
                    warn_below: *warn_below,
                    fail_below: *fail_below,
                },
                &text::size,
                format!("{} of memory", text::size(bytes)),
                &format!("add memory to {name} or move the app to a bigger node"),
            ),
        },
        PreflightKind::Disk {
            path,
            warn_below,
            fail_below,
        } => {
            let (role, what, start) = match path {
                DiskPath::Docker => ("docker", "Docker's data root", "start Docker there"),
                DiskPath::Data => ("data", "Outpost's data directory", "restart its agent"),
            };
            match facts.disks.iter().find(|d| d.role == role) {
                None => unreported(format!(
                    "{name} did not report the free space of {what}: {start} and wait for it to report"
                )),
                Some(disk) => threshold(
                    Limits {
                        have: disk.free_bytes,
                        warn_below: *warn_below,
                        fail_below: *fail_below,
                    },
                    &text::size,
                    format!("{} free on {} ({what})", text::size(disk.free_bytes), disk.path),
                    &format!("free space on that disk of {name} or grow it"),
                ),
            }
        }
        PreflightKind::DockerVersion { min, severity } => match &facts.docker {
            None => unreported(format!(
                "{name} did not report Docker's version: install Docker or start it there"
            )),
            Some(docker) => {
                let wanted = format!("the app needs {min} or newer");
                match compare_versions(&docker.version, min) {
                    Some(Ordering::Less) => (
                        outcome(*severity),
                        format!(
                            "Docker {}, {wanted}: upgrade Docker on {name}",
                            docker.version
                        ),
                    ),
                    Some(_) => (Outcome::Pass, format!("Docker {}, {wanted}", docker.version)),
                    None => (
                        outcome(*severity),
                        format!(
                            "Docker {:?} is not a version that compares with {min}: install a released Docker on {name}",
                            docker.version
                        ),
                    ),
                }
            }
        },
        PreflightKind::Os { allowed, severity } => {
            let os = facts.os.trim();
            let matched = allowed.iter().map(|a| a.trim()).find(|a| os_matches(os, a));
            let allowed: Vec<&str> = allowed
                .iter()
                .map(|a| a.trim())
                .filter(|a| !a.is_empty())
                .collect();
            match matched {
                Some(entry) if os.is_empty() => (
                    Outcome::Pass,
                    format!("{name} runs Linux, which {entry:?} allows"),
                ),
                Some(entry) => (Outcome::Pass, format!("{os} matches {entry:?}")),
                None if os.is_empty() => unreported(format!(
                    "{name} did not report its operating system: restart its agent"
                )),
                None => (
                    outcome(*severity),
                    format!(
                        "{os} is not among the systems the app supports ({}): use a node that runs one of them",
                        allowed.join(", ")
                    ),
                ),
            }
        }
        PreflightKind::PortFree { port, severity } => {
            let holders: Vec<String> = facts
                .listening_ports
                .iter()
                .filter(|l| l.port == *port)
                .map(|l| format!("{} on {}", l.protocol, l.address))
                .collect();
            if node.ports_held_by_app.contains(port) {
                (
                    Outcome::Pass,
                    format!("port {port} on {name} is held by the release running there, which the update replaces"),
                )
            } else if holders.is_empty() {
                (Outcome::Pass, format!("port {port} is free on {name}"))
            } else {
                (
                    outcome(*severity),
                    format!(
                        "port {port} is in use on {name} ({}): stop what listens on it or leave {name} out of the plan",
                        list(&holders)
                    ),
                )
            }
        }
        PreflightKind::Fact {
            fact: fact_name,
            op,
            value,
            severity,
        } => {
            let fact = fact(fact_name)?;
            let wanted = format!("the app needs {fact_name} {} {value}", op_text(*op));
            match fact.value(facts) {
                None => unreported(format!(
                    "{name} did not report {fact_name}: {}",
                    if fact.is_docker() {
                        "install Docker or start it there"
                    } else {
                        "restart its agent"
                    }
                )),
                Some(actual) if holds(&actual, *op, value) => {
                    (Outcome::Pass, format!("{fact_name} is {actual} on {name}, {wanted}"))
                }
                Some(actual) => (
                    outcome(*severity),
                    format!(
                        "{fact_name} is {actual} on {name}, {wanted}: change {name} to match or leave it out of the plan"
                    ),
                ),
            }
        }
    })
}

/// A figure and the thresholds it is held to.
struct Limits {
    have: u64,
    warn_below: Option<u64>,
    fail_below: Option<u64>,
}

/// Below `fail_below` fails, else below `warn_below` warns. `show` writes a threshold,
/// `found` what the node has.
fn threshold(
    limits: Limits,
    show: &dyn Fn(u64) -> String,
    found: String,
    remedy: &str,
) -> (Outcome, String) {
    let Limits {
        have,
        warn_below,
        fail_below,
    } = limits;
    if let Some(fail) = fail_below.filter(|&f| have < f) {
        return (
            Outcome::Fail,
            format!("{found}, the app needs at least {}: {remedy}", show(fail)),
        );
    }
    if let Some(warn) = warn_below.filter(|&w| have < w) {
        return (
            Outcome::Warn,
            format!(
                "{found}, the app recommends at least {}: {remedy}",
                show(warn)
            ),
        );
    }
    let message = match (warn_below, fail_below) {
        (Some(warn), _) => format!("{found}, the app recommends at least {}", show(warn)),
        (None, Some(fail)) => format!("{found}, the app needs at least {}", show(fail)),
        (None, None) => found,
    };
    (Outcome::Pass, message)
}

/// A figure the node did not report cannot pass, whatever the check's severity.
fn unreported(message: String) -> (Outcome, String) {
    (Outcome::Fail, message)
}

fn outcome(severity: Severity) -> Outcome {
    match severity {
        Severity::Warn => Outcome::Warn,
        Severity::Fail => Outcome::Fail,
    }
}

/// An `os` entry matches an OS name that contains it, ignoring case; `linux` matches every
/// node (the agent only runs on Linux). An empty entry matches nothing.
fn os_matches(os: &str, entry: &str) -> bool {
    !entry.is_empty()
        && (entry.eq_ignore_ascii_case("linux")
            || os.to_lowercase().contains(&entry.to_lowercase()))
}

/// Whether `actual op expected` holds: numerically by dotted parts when both are versions
/// or numbers, else as text.
fn holds(actual: &str, op: FactOp, expected: &str) -> bool {
    let ordering = compare_versions(actual, expected).unwrap_or_else(|| actual.cmp(expected));
    match op {
        FactOp::Eq => ordering.is_eq(),
        FactOp::Ne => ordering.is_ne(),
        FactOp::Ge => ordering.is_ge(),
        FactOp::Le => ordering.is_le(),
        FactOp::Gt => ordering.is_gt(),
        FactOp::Lt => ordering.is_lt(),
    }
}

fn op_text(op: FactOp) -> &'static str {
    match op {
        FactOp::Eq => "==",
        FactOp::Ne => "!=",
        FactOp::Ge => ">=",
        FactOp::Le => "<=",
        FactOp::Gt => ">",
        FactOp::Lt => "<",
    }
}

/// A fact a `fact` check can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fact {
    Hostname,
    Os,
    Kernel,
    Cpus,
    MemoryBytes,
    DockerVersion,
    StorageDriver,
}

fn fact(name: &str) -> Option<Fact> {
    Some(match name {
        "hostname" => Fact::Hostname,
        "os" => Fact::Os,
        // The name docs/FORMAT.md and the sample app use.
        "kernel" | "kernel_version" => Fact::Kernel,
        "cpus" => Fact::Cpus,
        "memory_bytes" => Fact::MemoryBytes,
        "docker_version" => Fact::DockerVersion,
        "storage_driver" => Fact::StorageDriver,
        _ => return None,
    })
}

impl Fact {
    /// The fact's value on a node, or `None` if the node did not report it (empty, 0, no
    /// Docker engine).
    fn value(self, facts: &Facts) -> Option<String> {
        let docker = facts.docker.as_ref();
        let value = match self {
            Fact::Hostname => facts.hostname.clone(),
            Fact::Os => facts.os.clone(),
            Fact::Kernel => facts.kernel.clone(),
            Fact::Cpus => Some(facts.cpus).filter(|&n| n > 0)?.to_string(),
            Fact::MemoryBytes => Some(facts.memory_bytes).filter(|&n| n > 0)?.to_string(),
            Fact::DockerVersion => docker?.version.clone(),
            Fact::StorageDriver => docker?.storage_driver.clone(),
        };
        Some(value).filter(|v| !v.trim().is_empty())
    }

    fn is_docker(self) -> bool {
        matches!(self, Fact::DockerVersion | Fact::StorageDriver)
    }
}
