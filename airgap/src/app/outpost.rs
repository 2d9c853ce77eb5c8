//! `outpost.yaml`: the app's id and version, the config items the admin fills in, the preflight
//! checks run on every node, and what "healthy" means. Read from the YAML tree into typed structs,
//! reporting every unknown key and bad value; checks against `compose.yaml` are in `validate.rs`.

use std::collections::BTreeSet;

use super::vars;
use super::yaml::{self, is_compose_name, Fields, Kind, Node, Sink};

/// The contents of `outpost.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outpost {
    /// The app id: 1-128 letters, digits, `-`, `_` or `.`.
    pub app: String,
    /// The version label people read.
    pub version: String,
    /// Release notes (markdown).
    pub notes: String,
    /// The node labels placement constraints may use.
    pub node_labels: Vec<String>,
    pub config: Vec<ConfigGroup>,
    pub preflight: Vec<PreflightCheck>,
    pub status: Vec<StatusCheck>,
}

/// A titled group of config items.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigGroup {
    pub name: String,
    pub title: String,
    pub description: String,
    pub items: Vec<ConfigItem>,
}

/// One value the admin configures; `${name}` in `compose.yaml` is its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigItem {
    /// `[a-z][a-z0-9_]*`, unique across groups.
    pub name: String,
    pub title: String,
    pub kind: ItemKind,
    /// The default as text (`"false"`, `"2"`, `"info"`); it passes [`ConfigItem::check_value`].
    pub default: Option<String>,
    pub required: bool,
    /// A Rust `regex` the value must match (unanchored unless the pattern anchors itself).
    pub regex: Option<String>,
    /// Shown when the value does not match `regex`.
    pub regex_message: Option<String>,
    pub help: Option<String>,
    /// For a `bool` item: the compose profile that is on while the value is true.
    pub profile: Option<String>,
}

/// The type of a config item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    Text,
    Password,
    Bool,
    Number { min: Option<i64>, max: Option<i64> },
    Select { options: Vec<String> },
    Textarea,
}

/// Why a value does not fit its config item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("a value is required")]
    Required,
    #[error("expected true or false")]
    NotBool,
    #[error("expected a whole number")]
    NotNumber,
    #[error("{value} is outside {min}..={max}")]
    OutOfRange { value: i64, min: i64, max: i64 },
    #[error("{value:?} is not one of the options")]
    NotAnOption { value: String },
    #[error("{0}")]
    NoMatch(String),
    #[error("the item's regex does not compile: {0}")]
    BadRegex(String),
}

/// A check run on every node the deployment plan uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightCheck {
    pub name: String,
    pub kind: PreflightKind,
    /// Shown when the check warns or fails.
    pub message: Option<String>,
}

/// What a preflight check measures. Threshold checks warn or fail below their thresholds; the
/// others count as their `severity` when the condition does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreflightKind {
    Cpus {
        warn_below: Option<u64>,
        fail_below: Option<u64>,
    },
    /// Thresholds in bytes.
    Memory {
        warn_below: Option<u64>,
        fail_below: Option<u64>,
    },
    /// Free space in bytes.
    Disk {
        path: DiskPath,
        warn_below: Option<u64>,
        fail_below: Option<u64>,
    },
    DockerVersion {
        min: String,
        severity: Severity,
    },
    Os {
        allowed: Vec<String>,
        severity: Severity,
    },
    PortFree {
        port: u16,
        severity: Severity,
    },
    /// Compares a host fact with a value (versions compare numerically by part).
    Fact {
        fact: String,
        op: FactOp,
        value: String,
        severity: Severity,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskPath {
    /// Docker's data root.
    Docker,
    /// Outpost's data directory.
    Data,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Severity {
    Warn,
    #[default]
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactOp {
    Eq,
    Ne,
    Ge,
    Le,
    Gt,
    Lt,
}

/// What "healthy" means for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCheck {
    pub service: String,
    pub probe: StatusProbe,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusProbe {
    /// An HTTP GET on the container's port answers 2xx.
    Http { port: u16, path: String },
    /// Every replica is running.
    Running,
}

impl Outpost {
    /// Every config item, in order.
    pub fn items(&self) -> impl Iterator<Item = &ConfigItem> {
        self.config.iter().flat_map(|g| g.items.iter())
    }

    /// The config item called `name`.
    pub fn item(&self, name: &str) -> Option<&ConfigItem> {
        self.items().find(|i| i.name == name)
    }
}

impl ItemKind {
    /// Secret values are masked in every answer and export and never logged.
    pub fn is_secret(&self) -> bool {
        matches!(self, ItemKind::Password)
    }

    /// The name used in `outpost.yaml` (`text`, `number`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            ItemKind::Text => "text",
            ItemKind::Password => "password",
            ItemKind::Bool => "bool",
            ItemKind::Number { .. } => "number",
            ItemKind::Select { .. } => "select",
            ItemKind::Textarea => "textarea",
        }
    }
}

impl ConfigItem {
    /// Whether `value` fits the item: its type, range, options and regex. An empty value is
    /// accepted unless the item is required.
    pub fn check_value(&self, value: &str) -> Result<(), ValueError> {
        if value.is_empty() {
            return if self.required {
                Err(ValueError::Required)
            } else {
                Ok(())
            };
        }
        match &self.kind {
            ItemKind::Bool => {
                if !matches!(value, "true" | "false") {
                    return Err(ValueError::NotBool);
                }
            }
            ItemKind::Number { min, max } => {
                let n: i64 = value.parse().map_err(|_| ValueError::NotNumber)?;
                let (lo, hi) = (min.unwrap_or(i64::MIN), max.unwrap_or(i64::MAX));
                if !(lo..=hi).contains(&n) {
                    return Err(ValueError::OutOfRange {
                        value: n,
                        min: lo,
                        max: hi,
                    });
                }
            }
            ItemKind::Select { options } => {
                if !options.iter().any(|o| o == value) {
                    return Err(ValueError::NotAnOption {
                        value: value.to_string(),
                    });
                }
            }
            ItemKind::Text | ItemKind::Password | ItemKind::Textarea => {}
        }
        if let Some(pattern) = &self.regex {
            let regex = compile(pattern).map_err(ValueError::BadRegex)?;
            if !regex.is_match(value) {
                let message = self
                    .regex_message
                    .clone()
                    .unwrap_or_else(|| format!("does not match {pattern:?}"));
                return Err(ValueError::NoMatch(message));
            }
        }
        Ok(())
    }
}

/// Largest compiled size of an item's regex: vendor input, bounded like any other.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

/// Where things were written, for the checks against `compose.yaml`.
#[derive(Debug, Default)]
pub(crate) struct Marks {
    /// Every bool item's profile: item, profile, line.
    pub profiles: Vec<(String, String, usize)>,
    /// Every status check's service and its line.
    pub status: Vec<(String, usize)>,
}

const TOP_KEYS: &[&str] = &[
    "app",
    "version",
    "notes",
    "node_labels",
    "config",
    "preflight",
    "status",
];
const GROUP_KEYS: &[&str] = &["group", "title", "description", "items"];
const ITEM_KEYS: &[&str] = &[
    "name",
    "title",
    "type",
    "default",
    "required",
    "regex",
    "regex_message",
    "help",
    "profile",
    "min",
    "max",
    "options",
];

/// Reads `outpost.yaml` from its tree, reporting every problem into `sink`.
pub(crate) fn parse(root: &Node, sink: &mut Sink) -> (Outpost, Marks) {
    let mut outpost = Outpost::default();
    let mut marks = Marks::default();
    let Some(top) = Fields::of(root, "", TOP_KEYS, sink) else {
        return (outpost, marks);
    };
    if let Some(node) = top.required("app", "", sink) {
        if let Some(app) = yaml::text(node, "app", sink) {
            let ok = !app.is_empty()
                && app.len() <= 128
                && app
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                sink.at(
                    node.line,
                    "app",
                    format!("{app:?} must be 1-128 letters, digits, '-', '_' or '.'"),
                );
            }
            outpost.app = app;
        }
    }
    if let Some(node) = top.required("version", "", sink) {
        if let Some(version) = yaml::text(node, "version", sink) {
            let ok = !version.is_empty()
                && version.len() <= 128
                && !version.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                sink.at(
                    node.line,
                    "version",
                    format!("{version:?} must be 1-128 characters without spaces"),
                );
            }
            outpost.version = version;
        }
    }
    if let Some(node) = top.get("notes") {
        if node.kind != Kind::Null {
            outpost.notes = yaml::text(node, "notes", sink).unwrap_or_default();
        }
    }
    if let Some(node) = top.get("node_labels") {
        let mut seen = BTreeSet::new();
        for (label, line) in yaml::text_list(node, "node_labels", sink) {
            if !super::compose::is_label(&label) {
                sink.at(
                    line,
                    "node_labels",
                    format!("{label:?}: labels are letters, digits, '_', '.' and '-', starting with a letter or digit"),
                );
            } else if !seen.insert(label.clone()) {
                sink.at(line, "node_labels", format!("{label:?} is listed twice"));
            } else {
                outpost.node_labels.push(label);
            }
        }
    }
    if let Some(node) = top.get("config") {
        outpost.config = parse_config(node, sink, &mut marks);
    }
    if let Some(node) = top.get("preflight") {
        let items = yaml::list(node, "preflight", sink).unwrap_or_default();
        outpost.preflight = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| parse_preflight(item, i, sink))
            .collect();
    }
    if let Some(node) = top.get("status") {
        let items = yaml::list(node, "status", sink).unwrap_or_default();
        outpost.status = items
            .iter()
            .filter_map(|item| parse_status(item, sink, &mut marks))
            .collect();
    }
    (outpost, marks)
}

fn parse_config(node: &Node, sink: &mut Sink, marks: &mut Marks) -> Vec<ConfigGroup> {
    let mut groups = Vec::new();
    let mut group_names = BTreeSet::new();
    let mut item_names = BTreeSet::new();
    for (i, node) in yaml::list(node, "config", sink)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let ctx = format!("config group {}", i + 1);
        let Some(fields) = Fields::of(node, &ctx, GROUP_KEYS, sink) else {
            continue;
        };
        let mut group = ConfigGroup::default();
        if let Some(name_node) = fields.required("group", &ctx, sink) {
            if let Some(name) = yaml::text(name_node, &ctx, sink) {
                if !is_compose_name(&name) {
                    sink.at(
                        name_node.line,
                        &ctx,
                        format!("group name {name:?}: letters, digits, '_', '.' and '-', starting with a letter or digit"),
                    );
                } else if !group_names.insert(name.clone()) {
                    sink.at(
                        name_node.line,
                        &ctx,
                        format!("group name {name:?} is used twice"),
                    );
                }
                group.name = name;
            }
        }
        let ctx = format!("config group {:?}", group.name);
        group.title =
            optional_text(&fields, "title", &ctx, sink).unwrap_or_else(|| group.name.clone());
        group.description = optional_text(&fields, "description", &ctx, sink).unwrap_or_default();
        if let Some(items) = fields.required("items", &ctx, sink) {
            for item in yaml::list(items, &format!("{ctx}: items"), sink).unwrap_or_default() {
                if let Some((item, name_line)) = parse_item(item, sink, marks) {
                    if !item_names.insert(item.name.clone()) {
                        sink.at(
                            name_line,
                            &format!("config item {:?}", item.name),
                            "the name is used twice",
                        );
                    }
                    group.items.push(item);
                }
            }
        }
        groups.push(group);
    }
    groups
}

fn optional_text(fields: &Fields, key: &str, ctx: &str, sink: &mut Sink) -> Option<String> {
    let node = fields.get(key)?;
    if node.kind == Kind::Null {
        return None;
    }
    yaml::text(node, &format!("{ctx}: {key}"), sink)
}

/// Reads one item; also returns the line of its name.
fn parse_item(node: &Node, sink: &mut Sink, marks: &mut Marks) -> Option<(ConfigItem, usize)> {
    let fields = Fields::of(node, "config item", ITEM_KEYS, sink)?;
    let name_node = fields.required("name", "config item", sink)?;
    let name = yaml::text(name_node, "config item", sink)?;
    let ctx = format!("config item {name:?}");
    if !vars::is_name(&name) {
        sink.at(
            name_node.line,
            &ctx,
            "item names are [a-z][a-z0-9_]* (a lower-case letter, then lower-case letters, digits or '_')",
        );
    }
    let kind_node = fields.required("type", &ctx, sink)?;
    let kind_name = yaml::text(kind_node, &format!("{ctx}: type"), sink)?;
    let kind = match kind_name.as_str() {
        "text" => ItemKind::Text,
        "password" => ItemKind::Password,
        "bool" => ItemKind::Bool,
        "textarea" => ItemKind::Textarea,
        "number" => {
            let bound = |key: &str, sink: &mut Sink| {
                fields.get(key).and_then(|n| {
                    yaml::integer(n, &format!("{ctx}: {key}"), i64::MIN, i64::MAX, sink)
                })
            };
            let (min, max) = (bound("min", sink), bound("max", sink));
            if let (Some(lo), Some(hi)) = (min, max) {
                if lo > hi {
                    sink.at(
                        fields.line,
                        &ctx,
                        format!("min {lo} is greater than max {hi}"),
                    );
                }
            }
            ItemKind::Number { min, max }
        }
        "select" => {
            let mut options: Vec<String> = Vec::new();
            let options_ctx = format!("{ctx}: options");
            if let Some(node) = fields.required("options", &ctx, sink) {
                let listed = yaml::text_list(node, &options_ctx, sink);
                if listed.is_empty() {
                    sink.at(
                        node.line,
                        &options_ctx,
                        "a select needs at least one option",
                    );
                }
                let mut seen = BTreeSet::new();
                for (option, line) in listed {
                    if !seen.insert(option.clone()) {
                        sink.at(line, &options_ctx, format!("{option:?} is listed twice"));
                    } else {
                        options.push(option);
                    }
                }
            }
            ItemKind::Select { options }
        }
        other => {
            sink.at(
                kind_node.line,
                &format!("{ctx}: type"),
                format!("{other:?} is not text, password, bool, number, select or textarea"),
            );
            return None;
        }
    };
    // Keys that belong to other types are mistakes, not options to ignore.
    let only_for = |key: &str, types: &str, applies: bool, sink: &mut Sink| {
        if let Some(node) = fields.get(key) {
            if !applies {
                sink.at(
                    node.line,
                    &ctx,
                    format!("{key:?} applies only to {types} items, not {}", kind.name()),
                );
            }
        }
    };
    let texty = matches!(
        kind,
        ItemKind::Text | ItemKind::Password | ItemKind::Textarea
    );
    only_for(
        "min",
        "number",
        matches!(kind, ItemKind::Number { .. }),
        sink,
    );
    only_for(
        "max",
        "number",
        matches!(kind, ItemKind::Number { .. }),
        sink,
    );
    only_for(
        "options",
        "select",
        matches!(kind, ItemKind::Select { .. }),
        sink,
    );
    only_for("profile", "bool", kind == ItemKind::Bool, sink);
    only_for("regex", "text, password and textarea", texty, sink);
    only_for("regex_message", "text, password and textarea", texty, sink);

    let mut item = ConfigItem {
        title: optional_text(&fields, "title", &ctx, sink).unwrap_or_else(|| name.clone()),
        name,
        kind,
        default: None,
        required: false,
        regex: None,
        regex_message: optional_text(&fields, "regex_message", &ctx, sink),
        help: optional_text(&fields, "help", &ctx, sink),
        profile: None,
    };
    if let Some(node) = fields.get("required") {
        item.required = yaml::boolean(node, &format!("{ctx}: required"), sink).unwrap_or(false);
    }
    let regex_ok = match fields.get("regex") {
        Some(node) if node.kind != Kind::Null => {
            let regex_ctx = format!("{ctx}: regex");
            let pattern = yaml::text(node, &regex_ctx, sink);
            match pattern.as_deref().map(compile) {
                Some(Ok(_)) => {
                    item.regex = pattern;
                    true
                }
                Some(Err(e)) => {
                    sink.at(
                        node.line,
                        &regex_ctx,
                        format!("invalid regex: {}", first_line(&e)),
                    );
                    false
                }
                None => false,
            }
        }
        _ => true,
    };
    if item.regex_message.is_some() && fields.get("regex").is_none() {
        if let Some(node) = fields.get("regex_message") {
            sink.at(node.line, &ctx, "regex_message without a regex");
        }
    }
    if let Some(node) = fields.get("profile") {
        if let Some(profile) = yaml::text(node, &format!("{ctx}: profile"), sink) {
            if is_compose_name(&profile) {
                marks
                    .profiles
                    .push((item.name.clone(), profile.clone(), node.line));
                item.profile = Some(profile);
            } else {
                sink.at(
                    node.line,
                    &format!("{ctx}: profile"),
                    format!("{profile:?} is not a profile name"),
                );
            }
        }
    }
    if let Some(node) = fields.get("default") {
        if node.kind != Kind::Null {
            if let Some(default) = yaml::text(node, &format!("{ctx}: default"), sink) {
                // A bad regex is reported once, above; the default is checked without it.
                let checked = ConfigItem {
                    regex: if regex_ok { item.regex.clone() } else { None },
                    required: false,
                    ..item.clone()
                };
                if let Err(e) = checked.check_value(&default) {
                    sink.at(node.line, &ctx, format!("default {default:?}: {e}"));
                }
                item.default = Some(default);
            }
        }
    }
    Some((item, name_node.line))
}

fn first_line(text: &str) -> String {
    // regex errors are multi-line pictures; the last line carries the reason.
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .last()
        .map(|l| l.trim().to_string())
        .unwrap_or_default()
}

const CHECK_KINDS: &str = "cpus, memory, disk, docker_version, os, port_free or fact";

fn parse_preflight(node: &Node, index: usize, sink: &mut Sink) -> Option<PreflightCheck> {
    // The keys allowed depend on the kind, so read `name` and `check` before judging the rest.
    let Kind::Map(entries) = &node.kind else {
        sink.at(
            node.line,
            &format!("preflight {}", index + 1),
            format!("expected a mapping, found {}", node.describe()),
        );
        return None;
    };
    let find = |key: &str| entries.iter().find(|e| e.key == key).map(|e| &e.value);
    let name = match find("name").map(|n| &n.kind) {
        Some(Kind::Scalar { text, .. }) => text.clone(),
        _ => String::new(),
    };
    let ctx = if name.is_empty() {
        format!("preflight {}", index + 1)
    } else {
        format!("preflight {name:?}")
    };
    let check = match find("check").map(|n| &n.kind) {
        Some(Kind::Scalar { text, .. }) => text.clone(),
        _ => String::new(),
    };
    let specific: &[&str] = match check.as_str() {
        "cpus" | "memory" => &["warn_below", "fail_below"],
        "disk" => &["path", "warn_below", "fail_below"],
        "docker_version" => &["min", "severity"],
        "os" => &["allowed", "severity"],
        "port_free" => &["port", "severity"],
        "fact" => &["fact", "op", "value", "severity"],
        // An unknown kind is reported below; its other keys are not judged against a guess.
        _ => &[
            "warn_below",
            "fail_below",
            "path",
            "min",
            "severity",
            "allowed",
            "port",
            "fact",
            "op",
            "value",
        ],
    };
    let allowed: Vec<&str> = ["name", "check", "message"]
        .iter()
        .chain(specific)
        .copied()
        .collect();
    let fields = Fields::of(node, &ctx, &allowed, sink)?;
    let name_node = fields.required("name", &ctx, sink);
    if let Some(n) = name_node {
        yaml::text(n, &format!("{ctx}: name"), sink);
    }
    let check_node = fields.required("check", &ctx, sink)?;
    let check_ctx = format!("{ctx}: check");
    yaml::text(check_node, &check_ctx, sink)?;
    let message = optional_text(&fields, "message", &ctx, sink);

    let severity = |sink: &mut Sink| -> Option<Severity> {
        let Some(node) = fields.get("severity") else {
            return Some(Severity::Fail);
        };
        match yaml::text(node, &format!("{ctx}: severity"), sink)?.as_str() {
            "warn" => Some(Severity::Warn),
            "fail" => Some(Severity::Fail),
            other => {
                sink.at(
                    node.line,
                    &format!("{ctx}: severity"),
                    format!("{other:?} is not warn or fail"),
                );
                None
            }
        }
    };
    let thresholds = |sink: &mut Sink, size: bool| -> Option<(Option<u64>, Option<u64>)> {
        let mut read = |key: &str| -> Result<Option<u64>, ()> {
            let Some(node) = fields.get(key) else {
                return Ok(None);
            };
            let key_ctx = format!("{ctx}: {key}");
            let text = yaml::text(node, &key_ctx, sink).ok_or(())?;
            let parsed = if size {
                parse_size(&text)
            } else {
                text.parse::<u64>().ok()
            };
            match parsed {
                Some(n) => Ok(Some(n)),
                None => {
                    let expected = if size {
                        "a size like 512MiB or 2GiB"
                    } else {
                        "a whole number"
                    };
                    sink.at(node.line, &key_ctx, format!("{text:?} is not {expected}"));
                    Err(())
                }
            }
        };
        let (warn, fail) = (read("warn_below"), read("fail_below"));
        let (warn, fail) = (warn.ok()?, fail.ok()?);
        match (warn, fail) {
            (None, None) => {
                sink.at(fields.line, &ctx, "needs warn_below, fail_below or both");
                None
            }
            (Some(w), Some(f)) if w < f => {
                sink.at(fields.line, &ctx, "warn_below is lower than fail_below");
                None
            }
            _ => Some((warn, fail)),
        }
    };

    let kind = match check.as_str() {
        "cpus" => {
            let (warn_below, fail_below) = thresholds(sink, false)?;
            PreflightKind::Cpus {
                warn_below,
                fail_below,
            }
        }
        "memory" => {
            let (warn_below, fail_below) = thresholds(sink, true)?;
            PreflightKind::Memory {
                warn_below,
                fail_below,
            }
        }
        "disk" => {
            let path_node = fields.required("path", &ctx, sink);
            let path = match path_node
                .and_then(|n| yaml::text(n, &format!("{ctx}: path"), sink))
                .as_deref()
            {
                Some("docker") => Some(DiskPath::Docker),
                Some("data") => Some(DiskPath::Data),
                Some(other) => {
                    sink.at(
                        path_node.map_or(fields.line, |n| n.line),
                        &format!("{ctx}: path"),
                        format!("{other:?} is not docker or data"),
                    );
                    None
                }
                None => None,
            };
            let limits = thresholds(sink, true);
            let (path, (warn_below, fail_below)) = (path?, limits?);
            PreflightKind::Disk {
                path,
                warn_below,
                fail_below,
            }
        }
        "docker_version" => {
            let severity = severity(sink);
            let min_node = fields.required("min", &ctx, sink)?;
            let min = yaml::text(min_node, &format!("{ctx}: min"), sink)?;
            if !is_version(&min) {
                sink.at(
                    min_node.line,
                    &format!("{ctx}: min"),
                    format!("{min:?} is not a version like 20.10"),
                );
                return None;
            }
            PreflightKind::DockerVersion {
                min,
                severity: severity?,
            }
        }
        "os" => {
            let severity = severity(sink);
            let node = fields.required("allowed", &ctx, sink)?;
            let allowed: Vec<String> = yaml::text_list(node, &format!("{ctx}: allowed"), sink)
                .into_iter()
                .map(|(os, _)| os)
                .collect();
            if allowed.is_empty() {
                sink.at(
                    node.line,
                    &format!("{ctx}: allowed"),
                    "name at least one operating system",
                );
                return None;
            }
            PreflightKind::Os {
                allowed,
                severity: severity?,
            }
        }
        "port_free" => {
            let severity = severity(sink);
            let node = fields.required("port", &ctx, sink)?;
            let port = yaml::integer(node, &format!("{ctx}: port"), 1, 65535, sink)?;
            PreflightKind::PortFree {
                port: u16::try_from(port).ok()?,
                severity: severity?,
            }
        }
        "fact" => {
            let severity = severity(sink);
            let fact = fields.required("fact", &ctx, sink).and_then(|n| {
                let fact = yaml::text(n, &format!("{ctx}: fact"), sink)?;
                if vars::is_name(&fact) {
                    Some(fact)
                } else {
                    sink.at(
                        n.line,
                        &format!("{ctx}: fact"),
                        format!("{fact:?} is not a fact name ([a-z][a-z0-9_]*)"),
                    );
                    None
                }
            });
            let op = fields.required("op", &ctx, sink).and_then(|n| {
                let op = yaml::text(n, &format!("{ctx}: op"), sink)?;
                let parsed = match op.as_str() {
                    "==" => FactOp::Eq,
                    "!=" => FactOp::Ne,
                    ">=" => FactOp::Ge,
                    "<=" => FactOp::Le,
                    ">" => FactOp::Gt,
                    "<" => FactOp::Lt,
                    other => {
                        sink.at(
                            n.line,
                            &format!("{ctx}: op"),
                            format!("{other:?} is not ==, !=, >=, <=, > or <"),
                        );
                        return None;
                    }
                };
                Some(parsed)
            });
            let value = fields
                .required("value", &ctx, sink)
                .and_then(|n| yaml::text(n, &format!("{ctx}: value"), sink));
            PreflightKind::Fact {
                fact: fact?,
                op: op?,
                value: value?,
                severity: severity?,
            }
        }
        other => {
            sink.at(
                check_node.line,
                &check_ctx,
                format!("{other:?} is not {CHECK_KINDS}"),
            );
            return None;
        }
    };
    let name = name_node.and_then(|n| match &n.kind {
        Kind::Scalar { text, .. } => Some(text.clone()),
        _ => None,
    })?;
    Some(PreflightCheck {
        name,
        kind,
        message,
    })
}

fn parse_status(node: &Node, sink: &mut Sink, marks: &mut Marks) -> Option<StatusCheck> {
    let fields = Fields::of(node, "status", &["service", "http", "running"], sink)?;
    let service_node = fields.required("service", "status", sink)?;
    let service = yaml::text(service_node, "status: service", sink)?;
    marks.status.push((service.clone(), service_node.line));
    let ctx = format!("status {service:?}");
    let probe = match (fields.get("http"), fields.get("running")) {
        (Some(http), None) => {
            let http_ctx = format!("{ctx}: http");
            let http = Fields::of(http, &http_ctx, &["port", "path"], sink)?;
            let port = http
                .required("port", &http_ctx, sink)
                .and_then(|n| yaml::integer(n, &format!("{http_ctx}: port"), 1, 65535, sink));
            let path = match http.get("path") {
                None => Some("/".to_string()),
                Some(n) => yaml::text(n, &format!("{http_ctx}: path"), sink).and_then(|p| {
                    if p.starts_with('/') && !p.chars().any(|c| c.is_whitespace() || c.is_control())
                    {
                        Some(p)
                    } else {
                        sink.at(
                            n.line,
                            &format!("{http_ctx}: path"),
                            format!("{p:?} must start with '/' and have no spaces"),
                        );
                        None
                    }
                }),
            };
            StatusProbe::Http {
                port: u16::try_from(port?).ok()?,
                path: path?,
            }
        }
        (None, Some(running)) => {
            if !yaml::boolean(running, &format!("{ctx}: running"), sink)? {
                sink.at(
                    running.line,
                    &format!("{ctx}: running"),
                    "only `running: true` is a check",
                );
                return None;
            }
            StatusProbe::Running
        }
        (Some(_), Some(_)) | (None, None) => {
            sink.at(fields.line, &ctx, "needs exactly one of http or running");
            return None;
        }
    };
    Some(StatusCheck { service, probe })
}

/// `2GiB`, `512MiB`, `10GB`, `1048576` (bytes).
fn parse_size(text: &str) -> Option<u64> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = text[..digits].parse().ok()?;
    let unit: u64 = match &text[digits..] {
        "" | "B" => 1,
        "KB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        "TB" => 1000 * 1000 * 1000 * 1000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(unit)
}

/// `20`, `20.10`, `4.19.0`.
fn is_version(text: &str) -> bool {
    text.split('.')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("10GB"), Some(10_000_000_000));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("1B"), Some(1));
        for bad in [
            "",
            "GiB",
            "2 GiB",
            "2gib",
            "1.5GiB",
            "-1GiB",
            "99999999999TiB",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn versions() {
        assert!(is_version("20.10"));
        assert!(is_version("4"));
        assert!(!is_version("20.10-ce"));
        assert!(!is_version("v20"));
        assert!(!is_version("20..1"));
    }

    #[test]
    fn values_are_checked_against_their_item() {
        let item = |kind: ItemKind| ConfigItem {
            name: "x".into(),
            title: "X".into(),
            kind,
            default: None,
            required: false,
            regex: None,
            regex_message: None,
            help: None,
            profile: None,
        };
        let number = item(ItemKind::Number {
            min: Some(1),
            max: Some(16),
        });
        assert_eq!(number.check_value("2"), Ok(()));
        assert_eq!(
            number.check_value("0"),
            Err(ValueError::OutOfRange {
                value: 0,
                min: 1,
                max: 16
            })
        );
        assert_eq!(number.check_value("two"), Err(ValueError::NotNumber));
        assert_eq!(number.check_value(""), Ok(()));
        let bool_item = item(ItemKind::Bool);
        assert_eq!(bool_item.check_value("yes"), Err(ValueError::NotBool));
        let select = item(ItemKind::Select {
            options: vec!["a".into(), "b".into()],
        });
        assert_eq!(select.check_value("b"), Ok(()));
        assert!(select.check_value("c").is_err());
        let text = ConfigItem {
            regex: Some("^[a-z]+$".into()),
            regex_message: Some("lower-case letters".into()),
            required: true,
            ..item(ItemKind::Text)
        };
        assert_eq!(text.check_value("abc"), Ok(()));
        assert_eq!(
            text.check_value("ABC"),
            Err(ValueError::NoMatch("lower-case letters".into()))
        );
        assert_eq!(text.check_value(""), Err(ValueError::Required));
        assert!(item(ItemKind::Password).kind.is_secret());
        assert!(!item(ItemKind::Text).kind.is_secret());
    }
}
