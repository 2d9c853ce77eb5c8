//! Checks that need both files or the whole `depends_on` graph: undefined variables, placement
//! labels, profiles nobody uses, status checks on unknown services, unknown `depends_on` targets
//! and cycles. Each file's own checks happen while it is read (`compose.rs`, `outpost.rs`).

use std::collections::{BTreeMap, BTreeSet};

use super::compose::{self, Compose};
use super::outpost::{self, Outpost};
use super::yaml::Sink;
use super::{Problem, COMPOSE_FILE, OUTPOST_FILE};

/// The cross checks; a file that could not be read at all (`None`) is left out of them, so a YAML
/// syntax error does not also report every variable as undefined.
pub(crate) fn cross_check(
    compose: Option<(&Compose, &compose::Marks)>,
    outpost: Option<(&Outpost, &outpost::Marks)>,
    problems: &mut Vec<Problem>,
) {
    if let Some((compose, marks)) = compose {
        let mut sink = Sink::new(COMPOSE_FILE, problems);
        check_graph(compose, marks, &mut sink);
        if let Some((outpost, _)) = outpost {
            check_variables_and_labels(marks, outpost, &mut sink);
        }
    }
    if let (Some((compose, compose_marks)), Some((_, marks))) = (compose, outpost) {
        let mut sink = Sink::new(OUTPOST_FILE, problems);
        let used = compose.profiles();
        for (item, profile, line) in &marks.profiles {
            if !used.contains(profile.as_str()) {
                sink.at(
                    *line,
                    &format!("config item {item:?}"),
                    format!("profile {profile:?} is used by no service of {COMPOSE_FILE}"),
                );
            }
        }
        for (service, line) in &marks.status {
            if !compose_marks.services.contains(service) {
                sink.at(
                    *line,
                    &format!("status {service:?}"),
                    format!("unknown service {service:?} (not in {COMPOSE_FILE})"),
                );
            }
        }
    }
}

fn check_variables_and_labels(marks: &compose::Marks, outpost: &Outpost, sink: &mut Sink) {
    let items: BTreeSet<&str> = outpost.items().map(|i| i.name.as_str()).collect();
    let labels: BTreeSet<&str> = outpost.node_labels.iter().map(String::as_str).collect();
    for (name, line, ctx) in &marks.vars {
        if !items.contains(name.as_str()) {
            sink.at(
                *line,
                ctx,
                format!("undefined variable \"${{{name}}}\": no config item of {OUTPOST_FILE} has that name"),
            );
        }
    }
    for (service, label, line) in &marks.labels {
        if !labels.contains(label.as_str()) {
            sink.at(
                *line,
                &format!("service {service:?}: deploy: placement"),
                format!("label {label:?} is not in node_labels of {OUTPOST_FILE}"),
            );
        }
    }
}

/// Unknown `depends_on` targets, then every cycle, each named once
/// (`depends_on cycle: api -> web -> api`) at the line of its first edge.
fn check_graph(compose: &Compose, marks: &compose::Marks, sink: &mut Sink) {
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut edge_lines: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (from, to, line) in &marks.depends {
        if !marks.services.contains(to) {
            sink.at(
                *line,
                &format!("service {from:?}: depends_on"),
                format!("unknown service {to:?}"),
            );
            continue;
        }
        edges.entry(from).or_default().push(to);
        edge_lines.insert((from, to), *line);
    }
    for cycle in cycles(compose.services.keys().map(String::as_str), &edges) {
        let line = edge_lines.get(&(cycle[0], cycle[1])).copied().unwrap_or(1);
        sink.at(
            line,
            &format!("service {:?}", cycle[0]),
            format!("depends_on cycle: {}", cycle.join(" -> ")),
        );
    }
}

/// Most cycles reported: a dense graph has very many, and a few are enough to fix it.
const MAX_CYCLES: usize = 16;

/// The cycles a depth-first search finds (at most [`MAX_CYCLES`]), each as `a -> ... -> a`
/// rotated to start at its smallest name, without repeats. Iterative, so a long chain cannot
/// overflow the stack.
fn cycles<'a>(
    nodes: impl Iterator<Item = &'a str>,
    edges: &BTreeMap<&'a str, Vec<&'a str>>,
) -> Vec<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
    let mut found: BTreeSet<Vec<&str>> = BTreeSet::new();
    let mut order = Vec::new();
    for root in nodes {
        if marks.contains_key(root) {
            continue;
        }
        // The current path, each with the index of the next edge to follow.
        let mut path: Vec<(&str, usize)> = vec![(root, 0)];
        marks.insert(root, Mark::Open);
        while let Some((node, next)) = path.last_mut() {
            let targets = edges.get(node).map(Vec::as_slice).unwrap_or_default();
            let Some(&target) = targets.get(*next) else {
                marks.insert(node, Mark::Done);
                path.pop();
                continue;
            };
            *next += 1;
            match marks.get(target) {
                None => {
                    marks.insert(target, Mark::Open);
                    path.push((target, 0));
                }
                Some(Mark::Open) => {
                    let start = path.iter().position(|(n, _)| *n == target).unwrap_or(0);
                    let mut cycle: Vec<&str> = path[start..].iter().map(|(n, _)| *n).collect();
                    let smallest = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, n)| **n)
                        .map_or(0, |(i, _)| i);
                    cycle.rotate_left(smallest);
                    cycle.push(cycle[0]);
                    if found.insert(cycle.clone()) {
                        order.push(cycle);
                        if order.len() == MAX_CYCLES {
                            return order;
                        }
                    }
                }
                Some(Mark::Done) => {}
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(graph: &[(&'static str, &'static str)], expected: &[&str]) {
        let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut nodes = BTreeSet::new();
        for (from, to) in graph {
            edges.entry(from).or_default().push(to);
            nodes.insert(*from);
            nodes.insert(*to);
        }
        let found: Vec<String> = cycles(nodes.into_iter(), &edges)
            .iter()
            .map(|c| c.join(" -> "))
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn finds_cycles() {
        check(&[("web", "api"), ("api", "db")], &[]);
        check(&[("web", "api"), ("api", "web")], &["api -> web -> api"]);
        check(&[("a", "a")], &["a -> a"]);
        check(&[("c", "a"), ("a", "b"), ("b", "c")], &["a -> b -> c -> a"]);
        check(
            &[("a", "b"), ("b", "a"), ("c", "d"), ("d", "c")],
            &["a -> b -> a", "c -> d -> c"],
        );
        // A diamond is not a cycle.
        check(&[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")], &[]);
    }

    #[test]
    fn dense_graphs_report_a_bounded_number_of_cycles() {
        let names: Vec<String> = (0..300).map(|i| format!("s{i:03}")).collect();
        let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for a in &names {
            for b in &names {
                edges.entry(a).or_default().push(b);
            }
        }
        let found = cycles(names.iter().map(String::as_str), &edges);
        assert_eq!(found.len(), MAX_CYCLES);
    }

    #[test]
    fn long_chains_do_not_recurse() {
        let names: Vec<String> = (0..100_000).map(|i| format!("s{i:06}")).collect();
        let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for pair in names.windows(2) {
            edges.entry(&pair[0]).or_default().push(&pair[1]);
        }
        assert!(cycles(names.iter().map(String::as_str), &edges).is_empty());
    }
}
