//! Preflight: checks from `outpost.yaml` and built-in ones, evaluated against each node's facts.
//!
//! Pure: [`evaluate`] takes what the console knows (the release's checks, the ports its
//! services publish, the nodes the plan uses with their facts, the license's node limit) and
//! returns a [`Report`]; it reads no file, socket or clock. Every result says what was found
//! and what to do. Any [`Outcome::Fail`] makes the report blocking: deploy refuses it unless
//! an admin overrides it, which the caller audits.
//!
//! Built-in checks, always run:
//! - cluster-wide: at least one node ("no node is ready"); the node count within the
//!   license's `max_nodes`; no published port among the console's ports or the range Outpost
//!   reserves ([`CONSOLE_PORTS`], [`RESERVED_PORTS`]).
//! - per node: online with facts (an offline node is checked no further: its facts are
//!   stale); clock skew against the console (over [`SKEW_WARN_MS`] warns, over
//!   [`SKEW_FAIL_MS`] fails); a Docker engine answered; each published port not already
//!   listening, unless our own running release holds it (an update takes it over).
//!
//! The rules for the `outpost.yaml` kinds:
//! - `cpus`, `memory`, `disk`: below `fail_below` fails, else below `warn_below` warns.
//! - A fact the node did not report (empty text, 0, no disk of that role, no Docker engine)
//!   fails the check that needs it, whatever the check's severity: nothing was verified.
//! - `docker_version`, `fact` comparisons: see [`compare_versions`]; text that is not a
//!   version compares as text, exactly (case counts).
//! - `os`: an allowed entry matches when the node's OS name (os-release `PRETTY_NAME`, e.g.
//!   "Debian GNU/Linux 12 (bookworm)") contains it, ignoring case. `linux` matches every node:
//!   the agent runs only on Linux, and many OS names ("Ubuntu 24.04 LTS") do not say so.
//! - `port_free`: no TCP or UDP socket listens on the port, on any address. Ports come from
//!   the agent's `listening_ports`: an agent too old to report them shows every port free.
//! - `fact`: the names are [`FACTS`] (`kernel_version` is accepted for `kernel`). An unknown
//!   name fails once, cluster-wide.
//!
//! A check's own `message` from `outpost.yaml` is appended when it warns or fails.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::RangeInclusive;

use outpost_agent::protocol::Facts;
use outpost_airgap::app::{App, PreflightCheck, Protocol};
use serde::{Deserialize, Serialize};

mod builtin;
mod kinds;
mod text;
mod version;

pub use kinds::FACTS;
pub use version::compare_versions;

/// The ports the console itself listens on by default: HTTPS, the internal registry, the
/// agent channel.
pub const CONSOLE_PORTS: [u16; 3] = [8800, 9874, 9879];
/// Ports Outpost keeps for itself; a release may not publish one.
pub const RESERVED_PORTS: RangeInclusive<u16> = 9870..=9880;
/// Clock skew over this (either way) warns.
pub const SKEW_WARN_MS: i64 = 2_000;
/// Clock skew over this (either way) fails.
pub const SKEW_FAIL_MS: i64 = 30_000;

/// Everything preflight looks at.
#[derive(Debug, Clone)]
pub struct PreflightInput<'a> {
    /// The release's `outpost.yaml` checks, in order.
    pub checks: &'a [PreflightCheck],
    /// The host ports the plan's services publish (see [`published_ports`]).
    pub published_ports: Vec<PublishedPort>,
    /// The nodes the plan uses.
    pub nodes: Vec<NodeInput<'a>>,
    /// The license's node limit; `None` means no limit.
    pub license_max_nodes: Option<u32>,
    /// The ports the console listens on (normally [`CONSOLE_PORTS`]).
    pub console_ports: Vec<u16>,
    /// The range Outpost reserves (normally [`RESERVED_PORTS`]).
    pub reserved_ports: RangeInclusive<u16>,
}

/// A host port a service of the release publishes. The address it binds is not compared:
/// a socket holding the port on any address counts as taking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    pub port: u16,
    pub protocol: Protocol,
    pub service: String,
}

/// One node the plan uses, as the console sees it now.
#[derive(Debug, Clone)]
pub struct NodeInput<'a> {
    pub id: String,
    /// Used in messages; the id when empty.
    pub hostname: String,
    /// Its agent is connected and beating.
    pub online: bool,
    /// The last facts it reported.
    pub facts: Option<&'a Facts>,
    /// Agent clock minus console clock, from the last heartbeat.
    pub clock_skew_ms: Option<i64>,
    /// The console runs on this host (so the two share a clock).
    pub is_console_host: bool,
    /// Ports our own running release already holds here: free for an update.
    pub ports_held_by_app: Vec<u16>,
}

/// What preflight found, in a stable order: cluster-wide results first, then each node's in
/// the order of the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub results: Vec<CheckResult>,
    /// The worst outcome; `Pass` when there are no results.
    pub outcome: Outcome,
    /// Some result failed: deploy needs an admin's (audited) override.
    pub blocking: bool,
}

/// One check on one node, or on the whole cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name: from `outpost.yaml`, or a built-in's.
    pub check: String,
    /// The node's id; `None` for a cluster-wide check.
    pub node: Option<String>,
    pub outcome: Outcome,
    /// What was found and, unless it passed, what to do.
    pub message: String,
}

/// How a check came out, from best to worst.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    #[default]
    Pass,
    Warn,
    Fail,
}

impl PreflightInput<'_> {
    /// An input with the default console ports and reserved range, and nothing else.
    pub fn new(checks: &[PreflightCheck]) -> PreflightInput<'_> {
        PreflightInput {
            checks,
            published_ports: Vec::new(),
            nodes: Vec::new(),
            license_max_nodes: None,
            console_ports: CONSOLE_PORTS.to_vec(),
            reserved_ports: RESERVED_PORTS,
        }
    }
}

impl Report {
    /// A report of these results, with its outcome and whether it blocks.
    pub fn new(results: Vec<CheckResult>) -> Report {
        let outcome = results.iter().map(|r| r.outcome).max().unwrap_or_default();
        Report {
            results,
            outcome,
            blocking: outcome == Outcome::Fail,
        }
    }
}

impl Outcome {
    /// `pass`, `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Runs every check: the built-in ones, then the release's on each ready node.
pub fn evaluate(input: &PreflightInput) -> Report {
    let mut results = builtin::cluster(input);
    results.extend(kinds::cluster(input.checks));
    for node in &input.nodes {
        // An offline node's facts are stale and a node without facts has none to check: its
        // one result says what to do first.
        let Some(facts) = builtin::ready(node, &mut results) else {
            continue;
        };
        builtin::node(node, facts, &mut results);
        kinds::node(input.checks, node, facts, &mut results);
        builtin::ports(input, node, facts, &mut results);
    }
    Report::new(results)
}

/// The host ports published by the services that run with these compose profiles on (a
/// service without profiles always runs; one with `replicas: 0` never does), sorted, each
/// once.
pub fn published_ports(app: &App, profiles: &BTreeSet<String>) -> Vec<PublishedPort> {
    let mut ports: Vec<PublishedPort> = app
        .compose
        .services
        .iter()
        .filter(|(_, service)| service.replicas > 0)
        .filter(|(_, service)| {
            service.profiles.is_empty() || service.profiles.iter().any(|p| profiles.contains(p))
        })
        .flat_map(|(name, service)| {
            service.ports.iter().map(|mapping| PublishedPort {
                port: mapping.host,
                protocol: mapping.protocol,
                service: name.clone(),
            })
        })
        .collect();
    ports.sort_by(|a, b| {
        (a.port, text::protocol(a.protocol), &a.service).cmp(&(
            b.port,
            text::protocol(b.protocol),
            &b.service,
        ))
    });
    ports.dedup();
    ports
}

/// The name messages use for a node.
fn node_name<'n>(node: &'n NodeInput) -> &'n str {
    if node.hostname.is_empty() {
        &node.id
    } else {
        &node.hostname
    }
}

fn result(
    check: &str,
    node: Option<&NodeInput>,
    outcome: Outcome,
    message: impl Into<String>,
) -> CheckResult {
    CheckResult {
        check: check.to_string(),
        node: node.map(|n| n.id.clone()),
        outcome,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests;
