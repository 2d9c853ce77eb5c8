//! A small YAML tree with line numbers, built from `saphyr-parser` events, and the helpers the
//! app parsers use to read it while collecting every problem.
//!
//! The tree is deliberately poor: anchors, aliases and tags are refused (the app format needs
//! none of them, and refusing aliases is what keeps a billion-laughs file from expanding), nesting
//! is bounded, and scalars keep their source text so that `version: 1.10` stays `"1.10"`.

use std::collections::BTreeSet;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::Problem;

/// Deepest nesting of sequences and mappings a file may use.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most nodes (scalars, sequences, mappings) a file may have; real apps use a few hundred.
pub(crate) const MAX_NODES: usize = 100_000;

/// One YAML node and the line (1-based) where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub line: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `~`, `null` or nothing at all.
    Null,
    /// Any other scalar, as text; `plain` is false for quoted and block scalars.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` pair of a mapping. Keys are always scalars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_line: usize,
    pub value: Node,
}

impl Node {
    /// What the node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Null => "nothing",
            Kind::Scalar { .. } => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// Parses one YAML document into a tree. A syntax error, an anchor, an alias, a tag or too deep a
/// nesting stops the parse (`Err`); duplicate keys are reported and the later value is dropped.
pub(crate) fn parse(file: &str, text: &str) -> Result<(Node, Vec<Problem>), Problem> {
    let problem = |line: usize, message: String| Problem {
        file: file.to_string(),
        line: Some(line.max(1)),
        message,
    };
    let mut builder = Builder::default();
    let mut documents = 0usize;
    let mut nodes = 0usize;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            problem(
                e.marker().line(),
                format!("YAML syntax error: {}", e.info()),
            )
        })?;
        let line = line_of(&span);
        if matches!(
            event,
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..)
        ) {
            nodes += 1;
            if nodes > MAX_NODES {
                return Err(problem(line, format!("more than {MAX_NODES} YAML nodes")));
            }
        }
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(problem(line, "only one YAML document is allowed".into()));
                }
            }
            Event::Alias(_) => {
                return Err(problem(line, "YAML aliases are not supported".into()));
            }
            Event::Scalar(value, style, anchor, tag) => {
                refuse_anchor_and_tag(anchor, tag.is_some()).map_err(|m| problem(line, m))?;
                let plain = style == ScalarStyle::Plain;
                let kind = if plain && matches!(&*value, "" | "~" | "null" | "Null" | "NULL") {
                    Kind::Null
                } else {
                    Kind::Scalar {
                        text: value.into_owned(),
                        plain,
                    }
                };
                builder
                    .complete(Node { line, kind })
                    .map_err(|m| problem(line, m))?;
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                refuse_anchor_and_tag(anchor, tag.is_some()).map_err(|m| problem(line, m))?;
                if builder.stack.len() >= MAX_DEPTH {
                    return Err(problem(
                        line,
                        format!("YAML nesting is deeper than {MAX_DEPTH} levels"),
                    ));
                }
                let frame = if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(line, Vec::new())
                } else {
                    Frame::Map(line, Vec::new(), None, BTreeSet::new())
                };
                builder.stack.push(frame);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match builder.stack.pop() {
                    Some(Frame::Seq(line, items)) => Node {
                        line,
                        kind: Kind::Seq(items),
                    },
                    Some(Frame::Map(line, entries, ..)) => Node {
                        line,
                        kind: Kind::Map(entries),
                    },
                    None => return Err(problem(line, "unbalanced YAML events".into())),
                };
                builder.complete(node).map_err(|m| problem(line, m))?;
            }
        }
    }
    let root = builder.root.unwrap_or(Node {
        line: 1,
        kind: Kind::Null,
    });
    let duplicates = builder
        .duplicates
        .into_iter()
        .map(|(line, message)| problem(line, message))
        .collect();
    Ok((root, duplicates))
}

fn line_of(span: &Span) -> usize {
    span.start.line().max(1)
}

fn refuse_anchor_and_tag(anchor: usize, tagged: bool) -> Result<(), String> {
    if anchor != 0 {
        return Err("YAML anchors are not supported".into());
    }
    if tagged {
        return Err("YAML tags are not supported".into());
    }
    Ok(())
}

enum Frame {
    Seq(usize, Vec<Node>),
    /// The mapping's line, its entries, the key waiting for its value, and the keys seen
    /// (a set, so that a huge mapping cannot make duplicate detection quadratic).
    Map(usize, Vec<Entry>, Option<(String, usize)>, BTreeSet<String>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    duplicates: Vec<(usize, String)>,
}

impl Builder {
    /// Attaches a finished node to the collection being built, or makes it the root.
    fn complete(&mut self, node: Node) -> Result<(), String> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq(_, items)) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map(_, entries, pending, seen)) => match pending.take() {
                None => {
                    let key = match node.kind {
                        Kind::Scalar { text, .. } => text,
                        Kind::Null => return Err("a mapping key is empty".into()),
                        Kind::Seq(_) | Kind::Map(_) => {
                            return Err("mapping keys must be scalars".into())
                        }
                    };
                    *pending = Some((key, node.line));
                    Ok(())
                }
                Some((key, key_line)) => {
                    let mut node = node;
                    // A block collection starts on the line after its key; messages about the
                    // collection as a whole ("missing key") read best at the key.
                    if matches!(node.kind, Kind::Seq(_) | Kind::Map(_)) {
                        node.line = key_line;
                    }
                    if !seen.insert(key.clone()) {
                        self.duplicates
                            .push((key_line, format!("duplicate key {key:?}")));
                    } else {
                        entries.push(Entry {
                            key,
                            key_line,
                            value: node,
                        });
                    }
                    Ok(())
                }
            },
        }
    }
}

/// Where problems of one file go, with the context prefix of the part being read
/// (`service "web"`, `config item "greeting"`).
pub(crate) struct Sink<'p> {
    file: &'static str,
    problems: &'p mut Vec<Problem>,
}

impl<'p> Sink<'p> {
    pub fn new(file: &'static str, problems: &'p mut Vec<Problem>) -> Self {
        Sink { file, problems }
    }

    /// Reports a problem at a line, prefixed with its context.
    pub fn at(&mut self, line: usize, ctx: &str, message: impl AsRef<str>) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            line: Some(line),
            message: join(ctx, message.as_ref()),
        });
    }
}

/// `ctx: message`, or just `message` at the top level.
pub(crate) fn join(ctx: &str, message: &str) -> String {
    if ctx.is_empty() {
        message.to_string()
    } else {
        format!("{ctx}: {message}")
    }
}

/// The keys of one mapping, checked against the keys it may have.
pub(crate) struct Fields<'n> {
    pub line: usize,
    entries: &'n [Entry],
}

impl<'n> Fields<'n> {
    /// Reads `node` as a mapping whose keys are all in `allowed`; every other key is reported.
    /// `None` (reported) when the node is not a mapping.
    pub fn of(node: &'n Node, ctx: &str, allowed: &[&str], sink: &mut Sink) -> Option<Self> {
        let Kind::Map(entries) = &node.kind else {
            sink.at(
                node.line,
                ctx,
                format!("expected a mapping, found {}", node.describe()),
            );
            return None;
        };
        for entry in entries {
            if !allowed.contains(&entry.key.as_str()) {
                sink.at(entry.key_line, ctx, format!("unknown key {:?}", entry.key));
            }
        }
        Some(Fields {
            line: node.line,
            entries,
        })
    }

    /// The value of `key`, if present (a `null` value counts as present).
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.value)
    }

    /// The value of `key`; reports it as missing when absent or null.
    pub fn required(&self, key: &str, ctx: &str, sink: &mut Sink) -> Option<&'n Node> {
        match self.get(key) {
            Some(node) if node.kind != Kind::Null => Some(node),
            _ => {
                sink.at(self.line, ctx, format!("missing key {key:?}"));
                None
            }
        }
    }
}

/// Reads a scalar as text. Numbers and booleans are scalars too: their source text is the value.
pub(crate) fn text(node: &Node, ctx: &str, sink: &mut Sink) -> Option<String> {
    match &node.kind {
        Kind::Scalar { text, .. } => Some(text.clone()),
        _ => {
            sink.at(
                node.line,
                ctx,
                format!("expected a string, found {}", node.describe()),
            );
            None
        }
    }
}

/// Reads `true` or `false`.
pub(crate) fn boolean(node: &Node, ctx: &str, sink: &mut Sink) -> Option<bool> {
    match &node.kind {
        Kind::Scalar { text, plain: true } => match parse_bool(text) {
            Some(b) => Some(b),
            None => {
                sink.at(
                    node.line,
                    ctx,
                    format!("expected true or false, found {text:?}"),
                );
                None
            }
        },
        _ => {
            sink.at(node.line, ctx, "expected true or false");
            None
        }
    }
}

/// YAML 1.2 core-schema booleans.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Reads a whole number within `min..=max`.
pub(crate) fn integer(node: &Node, ctx: &str, min: i64, max: i64, sink: &mut Sink) -> Option<i64> {
    let parsed = match &node.kind {
        Kind::Scalar { text, plain: true } => text.parse::<i64>().ok(),
        _ => None,
    };
    match parsed {
        Some(n) if (min..=max).contains(&n) => Some(n),
        Some(n) => {
            sink.at(node.line, ctx, format!("{n} is out of range {min}..={max}"));
            None
        }
        None => {
            sink.at(node.line, ctx, "expected a whole number");
            None
        }
    }
}

/// Reads a list; a non-list is reported.
pub(crate) fn list<'n>(node: &'n Node, ctx: &str, sink: &mut Sink) -> Option<&'n [Node]> {
    match &node.kind {
        Kind::Seq(items) => Some(items),
        _ => {
            sink.at(
                node.line,
                ctx,
                format!("expected a list, found {}", node.describe()),
            );
            None
        }
    }
}

/// Reads a list of strings, each with its line.
pub(crate) fn text_list(node: &Node, ctx: &str, sink: &mut Sink) -> Vec<(String, usize)> {
    list(node, ctx, sink)
        .unwrap_or_default()
        .iter()
        .filter_map(|item| text(item, ctx, sink).map(|t| (t, item.line)))
        .collect()
}

/// Whether `name` is `[A-Za-z0-9][A-Za-z0-9_.-]*` (compose service, volume and profile names).
pub(crate) fn is_compose_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Node {
        parse("t.yaml", text).expect("parses").0
    }

    fn error(text: &str) -> String {
        let p = parse("t.yaml", text).expect_err("refused");
        format!("{}:{}", p.line.unwrap_or(0), p.message)
    }

    #[test]
    fn keeps_lines_and_source_text() {
        let root = tree("a: 1.10\nb:\n  - x\n  - 'null'\nc: ~\n");
        let Kind::Map(entries) = root.kind else {
            panic!("map")
        };
        assert_eq!(entries[0].key, "a");
        assert_eq!(
            entries[0].value.kind,
            Kind::Scalar {
                text: "1.10".into(),
                plain: true
            }
        );
        assert_eq!(entries[1].key_line, 2);
        let Kind::Seq(items) = &entries[1].value.kind else {
            panic!("seq")
        };
        assert_eq!(items[1].line, 4);
        assert!(matches!(&items[1].kind, Kind::Scalar { plain: false, .. }));
        assert_eq!(entries[2].value.kind, Kind::Null);
    }

    #[test]
    fn refuses_what_the_format_does_not_need() {
        assert_eq!(
            error("a: &x 1\nb: *x\n"),
            "1:YAML anchors are not supported"
        );
        assert_eq!(error("a: !!str 1\n"), "1:YAML tags are not supported");
        assert_eq!(
            error("a: 1\n---\nb: 2\n"),
            "2:only one YAML document is allowed"
        );
        assert!(error("a: [1, 2\n").contains("YAML syntax error"));
        assert!(error("? [a]\n: 1\n").contains("mapping keys must be scalars"));
    }

    #[test]
    fn bounds_nesting() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(error(&deep).contains("deeper than 64"));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        tree(&ok);
        // A huge nesting attempt is refused early (by the parser's own limit or by ours).
        let huge = "[".repeat(1_000_000);
        let e = error(&huge);
        assert!(
            e.contains("deeper than 64") || e.contains("recursion limit"),
            "{e}"
        );
    }

    #[test]
    fn bounds_node_count() {
        let wide = format!("[{}]", "1,".repeat(MAX_NODES));
        assert!(error(&wide).contains("more than 100000 YAML nodes"));
        let ok = format!("[{}]", "1,".repeat(MAX_NODES - 2));
        tree(&ok);
    }

    #[test]
    fn reports_duplicate_keys() {
        let (_, dups) = parse("t.yaml", "a: 1\nb: 2\na: 3\n").expect("parses");
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].line, Some(3));
        assert_eq!(dups[0].message, "duplicate key \"a\"");
    }
}
