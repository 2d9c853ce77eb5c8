//! Which node runs each replica. Deliberately simple and deterministic: the nodes whose labels
//! satisfy every constraint are eligible; each replica goes to the eligible node with the fewest
//! replicas of that service so far (ties by node id) on which its published host ports are free.
//! Services are placed one after another, in dependency order, and nothing is ever moved.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use outpost_airgap::app::{Constraint, ConstraintOp, PortMapping, Protocol};

use super::PlanError;

/// An online node, as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanNode {
    pub id: String,
    /// The node's labels (`role` → `web`), as set on the Nodes page.
    pub labels: BTreeMap<String, String>,
}

/// What one service asks of placement.
pub(super) struct Demand<'a> {
    pub service: &'a str,
    pub replicas: u32,
    pub constraints: &'a [Constraint],
    pub ports: &'a [PortMapping],
}

/// For each service, the node of each replica (the first entry is replica 1).
pub(super) fn place(
    demands: &[Demand<'_>],
    nodes: &[PlanNode],
) -> Result<BTreeMap<String, Vec<String>>, PlanError> {
    if nodes.is_empty() {
        return Err(PlanError::NoNodes);
    }
    let mut ids = BTreeSet::new();
    for node in nodes {
        if !ids.insert(node.id.as_str()) {
            return Err(PlanError::DuplicateNode {
                node: node.id.clone(),
            });
        }
    }
    let mut sorted: Vec<&PlanNode> = nodes.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));

    // The host ports bound so far on each node, with the service that holds each.
    let mut bound: BTreeMap<&str, Vec<(PortMapping, &str)>> = BTreeMap::new();
    let mut placed = BTreeMap::new();
    for demand in demands {
        let eligible: Vec<&str> = sorted
            .iter()
            .filter(|node| demand.constraints.iter().all(|c| satisfies(node, c)))
            .map(|node| node.id.as_str())
            .collect();
        if eligible.is_empty() {
            return Err(PlanError::NoNodeFor {
                service: demand.service.to_string(),
                constraints: demand.constraints.iter().map(constraint_text).collect(),
            });
        }
        if !demand.ports.is_empty() && demand.replicas as usize > eligible.len() {
            return Err(PlanError::NotEnoughNodes {
                service: demand.service.to_string(),
                replicas: demand.replicas,
                ports: demand.ports.iter().map(port_text).collect(),
                eligible: eligible.iter().map(|id| id.to_string()).collect(),
            });
        }
        let mut count: BTreeMap<&str, u32> = BTreeMap::new();
        let mut replicas = Vec::with_capacity(demand.replicas as usize);
        for replica in 1..=demand.replicas {
            let free = |node: &&&str| {
                let taken = bound.get(**node).map(Vec::as_slice).unwrap_or_default();
                demand
                    .ports
                    .iter()
                    .all(|port| !taken.iter().any(|(held, _)| clash(port, held)))
            };
            // `eligible` is in id order and `min_by_key` keeps the first minimum: ties by id.
            let Some(node) = eligible
                .iter()
                .filter(free)
                .min_by_key(|node| count.get(**node).copied().unwrap_or(0))
                .copied()
            else {
                return Err(port_taken(demand, replica, &eligible, &bound));
            };
            *count.entry(node).or_default() += 1;
            bound
                .entry(node)
                .or_default()
                .extend(demand.ports.iter().map(|port| (*port, demand.service)));
            replicas.push(node.to_string());
        }
        placed.insert(demand.service.to_string(), replicas);
    }
    Ok(placed)
}

/// `node.labels.<label> == <value>` holds when the node has the label with that value;
/// `!=` holds otherwise, also when the node lacks the label (as Docker Swarm reads it).
fn satisfies(node: &PlanNode, constraint: &Constraint) -> bool {
    let has = node.labels.get(&constraint.label) == Some(&constraint.value);
    match constraint.op {
        ConstraintOp::Eq => has,
        ConstraintOp::Ne => !has,
    }
}

/// Two bindings of one host port and protocol clash unless both name different addresses.
fn clash(a: &PortMapping, b: &PortMapping) -> bool {
    let any = |ip: Option<IpAddr>| ip.is_none_or(|ip| ip.is_unspecified());
    a.host == b.host
        && a.protocol == b.protocol
        && (any(a.host_ip) || any(b.host_ip) || a.host_ip == b.host_ip)
}

fn port_taken(
    demand: &Demand<'_>,
    replica: u32,
    eligible: &[&str],
    bound: &BTreeMap<&str, Vec<(PortMapping, &str)>>,
) -> PlanError {
    // Every eligible node has one of the service's ports taken; name the first on each.
    let taken = eligible
        .iter()
        .filter_map(|node| {
            let held = bound.get(node)?;
            demand.ports.iter().find_map(|port| {
                let (_, by) = held.iter().find(|(h, _)| clash(port, h))?;
                Some(format!("{node}: {} by {by}", port_text(port)))
            })
        })
        .collect();
    PlanError::PortTaken {
        service: demand.service.to_string(),
        replica,
        ports: demand.ports.iter().map(port_text).collect(),
        taken,
    }
}

/// As the compose file writes it: `node.labels.role == web`.
pub(super) fn constraint_text(constraint: &Constraint) -> String {
    let op = match constraint.op {
        ConstraintOp::Eq => "==",
        ConstraintOp::Ne => "!=",
    };
    format!("node.labels.{} {op} {}", constraint.label, constraint.value)
}

/// `8080/tcp`, or `127.0.0.1:9100/tcp` with an address.
fn port_text(port: &PortMapping) -> String {
    let protocol = match port.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    };
    match port.host_ip {
        Some(IpAddr::V6(ip)) => format!("[{ip}]:{}/{protocol}", port.host),
        Some(ip) => format!("{ip}:{}/{protocol}", port.host),
        None => format!("{}/{protocol}", port.host),
    }
}
