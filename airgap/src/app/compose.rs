//! `compose.yaml`: the subset of the Compose spec that Outpost runs, read from the YAML tree into
//! typed structs. Every unknown key and malformed value is reported; cross-file checks (variables,
//! labels, `depends_on` targets and cycles) are in `validate.rs`, fed by the marks this file records.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use super::reference::ImageRef;
use super::vars;
use super::yaml::{self, is_compose_name, Fields, Kind, Node, Sink};

/// The services and named volumes of `compose.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Compose {
    pub services: BTreeMap<String, Service>,
    /// Named volumes declared under the top-level `volumes` (they take no options).
    pub volumes: BTreeSet<String>,
}

/// One service. Text fields that may hold `${item}` keep it as written; `vars::substitute`
/// fills them in at deploy time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Service {
    /// The image reference as written (never contains a variable; it parses as an [`ImageRef`]).
    pub image: String,
    pub command: Option<Command>,
    pub entrypoint: Option<Command>,
    pub environment: BTreeMap<String, String>,
    pub ports: Vec<PortMapping>,
    pub volumes: Vec<VolumeMount>,
    pub depends_on: BTreeMap<String, Condition>,
    pub healthcheck: Option<Healthcheck>,
    pub restart: Option<Restart>,
    /// `deploy.replicas`, 0..=100; 1 when absent.
    pub replicas: u32,
    /// `deploy.placement.constraints`.
    pub placement: Vec<Constraint>,
    /// The service runs only when one of these profiles is on; always when empty.
    pub profiles: Vec<String>,
}

/// `command` or `entrypoint`: a string (split into words by Docker) or a list of arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Text(String),
    Args(Vec<String>),
}

/// `[host_ip:]host:container[/tcp|udp]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMapping {
    pub host_ip: Option<IpAddr>,
    pub host: u16,
    pub container: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// `volume:/path[:ro|:rw]` — named volumes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

/// A `depends_on` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Started,
    Healthy,
    CompletedSuccessfully,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Healthcheck {
    /// `None` keeps the image's own test.
    pub test: Option<HealthTest>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub start_period: Option<Duration>,
}

/// A healthcheck `test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthTest {
    /// `NONE`: the image's healthcheck is disabled.
    Disabled,
    /// `["CMD", ...]`: run without a shell.
    Cmd(Vec<String>),
    /// `["CMD-SHELL", "..."]` or a plain string: run by `/bin/sh -c`.
    Shell(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    No,
    Always,
    OnFailure,
    UnlessStopped,
}

/// `node.labels.<label> == <value>` or `!=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub label: String,
    pub op: ConstraintOp,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintOp {
    Eq,
    Ne,
}

impl Compose {
    /// Every profile some service names.
    pub fn profiles(&self) -> BTreeSet<&str> {
        self.services
            .values()
            .flat_map(|s| s.profiles.iter().map(String::as_str))
            .collect()
    }
}

/// Where things were written, for the checks that need the other file or the whole graph.
#[derive(Debug, Default)]
pub(crate) struct Marks {
    /// Every service name, including those whose definition was refused.
    pub services: BTreeSet<String>,
    /// Every `${name}`: the name, its line and the context it appeared in.
    pub vars: Vec<(String, usize, String)>,
    /// Every `depends_on` edge: from, to, line.
    pub depends: Vec<(String, String, usize)>,
    /// Every placement label: service, label, line.
    pub labels: Vec<(String, String, usize)>,
}

const TOP_KEYS: &[&str] = &["services", "volumes"];
const SERVICE_KEYS: &[&str] = &[
    "image",
    "command",
    "entrypoint",
    "environment",
    "ports",
    "volumes",
    "depends_on",
    "healthcheck",
    "restart",
    "deploy",
    "profiles",
];
const HEALTHCHECK_KEYS: &[&str] = &["test", "interval", "timeout", "retries", "start_period"];
pub(crate) const MAX_REPLICAS: i64 = 100;

/// Reads `compose.yaml` from its tree, reporting every problem into `sink`.
pub(crate) fn parse(root: &Node, sink: &mut Sink) -> (Compose, Marks) {
    let mut compose = Compose::default();
    let mut marks = Marks::default();
    let Some(top) = Fields::of(root, "", TOP_KEYS, sink) else {
        return (compose, marks);
    };
    if let Some(node) = top.get("volumes") {
        compose.volumes = parse_volume_declarations(node, sink);
    }
    let Some(services) = top.required("services", "", sink) else {
        return (compose, marks);
    };
    let Kind::Map(entries) = &services.kind else {
        sink.at(
            services.line,
            "services",
            format!("expected a mapping, found {}", services.describe()),
        );
        return (compose, marks);
    };
    if entries.is_empty() {
        sink.at(services.line, "services", "no services");
    }
    for entry in entries {
        marks.services.insert(entry.key.clone());
        let ctx = format!("service {:?}", entry.key);
        if !is_compose_name(&entry.key) {
            sink.at(
                entry.key_line,
                &ctx,
                "service names are letters, digits, '_', '.' and '-', starting with a letter or digit",
            );
        }
        let mut reader = ServiceReader {
            name: &entry.key,
            ctx: &ctx,
            volumes: &compose.volumes,
            sink,
            marks: &mut marks,
        };
        if let Some(service) = reader.read(&entry.value) {
            compose.services.insert(entry.key.clone(), service);
        }
    }
    (compose, marks)
}

fn parse_volume_declarations(node: &Node, sink: &mut Sink) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    match &node.kind {
        Kind::Null => {}
        Kind::Map(entries) => {
            for entry in entries {
                let ctx = format!("volume {:?}", entry.key);
                if !is_compose_name(&entry.key) {
                    sink.at(
                        entry.key_line,
                        &ctx,
                        "volume names are letters, digits, '_', '.' and '-', starting with a letter or digit",
                    );
                }
                // A declaration takes no options: `name: {}` or `name:`.
                if entry.value.kind != Kind::Null {
                    Fields::of(&entry.value, &ctx, &[], sink);
                }
                names.insert(entry.key.clone());
            }
        }
        _ => sink.at(
            node.line,
            "volumes",
            format!("expected a mapping, found {}", node.describe()),
        ),
    }
    names
}

struct ServiceReader<'a, 's, 'p> {
    name: &'a str,
    ctx: &'a str,
    volumes: &'a BTreeSet<String>,
    sink: &'s mut Sink<'p>,
    marks: &'a mut Marks,
}

impl ServiceReader<'_, '_, '_> {
    fn read(&mut self, node: &Node) -> Option<Service> {
        let fields = Fields::of(node, self.ctx, SERVICE_KEYS, self.sink)?;
        let mut service = Service {
            replicas: 1,
            ..Service::default()
        };
        if let Some(image) = fields.required("image", self.ctx, self.sink) {
            service.image = self.image(image).unwrap_or_default();
        }
        if let Some(node) = fields.get("command") {
            service.command = self.command(node, "command");
        }
        if let Some(node) = fields.get("entrypoint") {
            service.entrypoint = self.command(node, "entrypoint");
        }
        if let Some(node) = fields.get("environment") {
            service.environment = self.environment(node);
        }
        if let Some(node) = fields.get("ports") {
            service.ports = self.ports(node);
        }
        if let Some(node) = fields.get("volumes") {
            service.volumes = self.mounts(node);
        }
        if let Some(node) = fields.get("depends_on") {
            service.depends_on = self.depends_on(node);
        }
        if let Some(node) = fields.get("healthcheck") {
            service.healthcheck = self.healthcheck(node);
        }
        if let Some(node) = fields.get("restart") {
            service.restart = self.restart(node);
        }
        if let Some(node) = fields.get("deploy") {
            self.deploy(node, &mut service);
        }
        if let Some(node) = fields.get("profiles") {
            service.profiles = self.profiles(node);
        }
        Some(service)
    }

    fn sub(&self, field: &str) -> String {
        format!("{}: {field}", self.ctx)
    }

    /// A text that may hold `${item}`: syntax checked, uses recorded.
    fn interpolated(&mut self, node: &Node, ctx: &str) -> Option<String> {
        let text = yaml::text(node, ctx, self.sink)?;
        match vars::references(&text) {
            Ok(refs) => {
                for r in refs {
                    self.marks.vars.push((r.name, node.line, ctx.to_string()));
                }
                Some(text)
            }
            Err(e) => {
                self.sink.at(node.line, ctx, e.to_string());
                None
            }
        }
    }

    /// A text that must be literal: a `$` in it is reported.
    fn literal(&mut self, node: &Node, ctx: &str) -> Option<String> {
        let text = yaml::text(node, ctx, self.sink)?;
        if text.contains('$') {
            self.sink.at(
                node.line,
                ctx,
                format!("{text:?}: variables are not allowed here"),
            );
            return None;
        }
        Some(text)
    }

    fn image(&mut self, node: &Node) -> Option<String> {
        let ctx = self.sub("image");
        let text = self.literal(node, &ctx)?;
        match ImageRef::parse(&text) {
            Ok(_) => Some(text),
            Err(e) => {
                self.sink.at(node.line, &ctx, e.to_string());
                None
            }
        }
    }

    fn command(&mut self, node: &Node, field: &str) -> Option<Command> {
        let ctx = self.sub(field);
        match &node.kind {
            Kind::Seq(items) => {
                let mut args = Vec::with_capacity(items.len());
                for item in items {
                    args.push(self.interpolated(item, &ctx)?);
                }
                Some(Command::Args(args))
            }
            Kind::Scalar { .. } => self.interpolated(node, &ctx).map(Command::Text),
            _ => {
                self.sink.at(
                    node.line,
                    &ctx,
                    format!("expected a string or a list, found {}", node.describe()),
                );
                None
            }
        }
    }

    fn environment(&mut self, node: &Node) -> BTreeMap<String, String> {
        let ctx = self.sub("environment");
        let mut env = BTreeMap::new();
        let mut add = |reader: &mut Self, key: &str, value: Option<String>, line: usize| {
            let key_ok = !key.is_empty() && !key.chars().any(|c| c == '=' || c.is_whitespace());
            if !key_ok {
                reader.sink.at(
                    line,
                    &ctx,
                    format!("{key:?} is not a variable name (no '=' or spaces)"),
                );
            } else if env.contains_key(key) {
                reader.sink.at(line, &ctx, format!("{key:?} is set twice"));
            } else if let Some(value) = value {
                env.insert(key.to_string(), value);
            }
        };
        match &node.kind {
            Kind::Map(entries) => {
                for entry in entries {
                    let value_ctx = format!("{ctx} {:?}", entry.key);
                    let value = if entry.value.kind == Kind::Null {
                        self.sink.at(
                            entry.key_line,
                            &value_ctx,
                            "needs a value (there is no host environment to take it from)",
                        );
                        None
                    } else {
                        self.interpolated(&entry.value, &value_ctx)
                    };
                    add(self, &entry.key, value, entry.key_line);
                }
            }
            Kind::Seq(items) => {
                for item in items {
                    let Some(pair) = yaml::text(item, &ctx, self.sink) else {
                        continue;
                    };
                    let Some((key, value)) = pair.split_once('=') else {
                        self.sink.at(
                            item.line,
                            &ctx,
                            format!("{pair:?} needs a value: KEY=VALUE"),
                        );
                        continue;
                    };
                    let value_ctx = format!("{ctx} {key:?}");
                    let value = match vars::references(value) {
                        Ok(refs) => {
                            for r in refs {
                                self.marks.vars.push((r.name, item.line, value_ctx.clone()));
                            }
                            Some(value.to_string())
                        }
                        Err(e) => {
                            self.sink.at(item.line, &value_ctx, e.to_string());
                            None
                        }
                    };
                    add(self, key, value, item.line);
                }
            }
            _ => self.sink.at(
                node.line,
                &ctx,
                format!("expected a mapping or a list, found {}", node.describe()),
            ),
        }
        env
    }

    fn ports(&mut self, node: &Node) -> Vec<PortMapping> {
        let ctx = self.sub("ports");
        let Some(items) = yaml::list(node, &ctx, self.sink) else {
            return Vec::new();
        };
        let mut ports = Vec::new();
        for item in items {
            let Some(text) = self.literal(item, &ctx) else {
                continue;
            };
            match parse_port(&text) {
                Some(port) => ports.push(port),
                None => self.sink.at(
                    item.line,
                    &ctx,
                    format!(
                        "{text:?} is not [host_ip:]host:container[/tcp|udp] with ports 1-65535"
                    ),
                ),
            }
        }
        ports
    }

    fn mounts(&mut self, node: &Node) -> Vec<VolumeMount> {
        let ctx = self.sub("volumes");
        let Some(items) = yaml::list(node, &ctx, self.sink) else {
            return Vec::new();
        };
        let mut mounts = Vec::new();
        for item in items {
            let Some(text) = self.literal(item, &ctx) else {
                continue;
            };
            match parse_mount(&text, self.volumes) {
                Ok(mount) => mounts.push(mount),
                Err(why) => self.sink.at(item.line, &ctx, format!("{text:?}: {why}")),
            }
        }
        mounts
    }

    fn depends_on(&mut self, node: &Node) -> BTreeMap<String, Condition> {
        let ctx = self.sub("depends_on");
        let mut deps = BTreeMap::new();
        let mut add = |reader: &mut Self, target: String, condition, line| {
            if deps.contains_key(&target) {
                reader
                    .sink
                    .at(line, &ctx, format!("{target:?} is listed twice"));
                return;
            }
            reader
                .marks
                .depends
                .push((reader.name.to_string(), target.clone(), line));
            deps.insert(target, condition);
        };
        match &node.kind {
            Kind::Seq(items) => {
                for item in items {
                    if let Some(target) = self.literal(item, &ctx) {
                        add(self, target, Condition::Started, item.line);
                    }
                }
            }
            Kind::Map(entries) => {
                for entry in entries {
                    let entry_ctx = format!("{ctx} {:?}", entry.key);
                    let condition = match &entry.value.kind {
                        Kind::Null => Some(Condition::Started),
                        _ => self.condition(&entry.value, &entry_ctx),
                    };
                    if let Some(condition) = condition {
                        add(self, entry.key.clone(), condition, entry.key_line);
                    }
                }
            }
            _ => self.sink.at(
                node.line,
                &ctx,
                format!("expected a list or a mapping, found {}", node.describe()),
            ),
        }
        deps
    }

    fn condition(&mut self, node: &Node, ctx: &str) -> Option<Condition> {
        let fields = Fields::of(node, ctx, &["condition"], self.sink)?;
        let Some(value) = fields.get("condition") else {
            return Some(Condition::Started);
        };
        let text = self.literal(value, ctx)?;
        match text.as_str() {
            "service_started" => Some(Condition::Started),
            "service_healthy" => Some(Condition::Healthy),
            "service_completed_successfully" => Some(Condition::CompletedSuccessfully),
            other => {
                self.sink.at(
                    value.line,
                    ctx,
                    format!("condition {other:?} is not service_started, service_healthy or service_completed_successfully"),
                );
                None
            }
        }
    }

    fn healthcheck(&mut self, node: &Node) -> Option<Healthcheck> {
        let ctx = self.sub("healthcheck");
        let fields = Fields::of(node, &ctx, HEALTHCHECK_KEYS, self.sink)?;
        let mut check = Healthcheck::default();
        if let Some(test) = fields.get("test") {
            check.test = self.health_test(test, &format!("{ctx}: test"));
        }
        let duration = |reader: &mut Self, key: &str| {
            let node = fields.get(key)?;
            let key_ctx = format!("{ctx}: {key}");
            let text = reader.literal(node, &key_ctx)?;
            let parsed = parse_duration(&text);
            if parsed.is_none() {
                reader.sink.at(
                    node.line,
                    &key_ctx,
                    format!("{text:?} is not a duration like 5s, 1m30s or 500ms"),
                );
            }
            parsed
        };
        check.interval = duration(self, "interval");
        check.timeout = duration(self, "timeout");
        check.start_period = duration(self, "start_period");
        if let Some(node) = fields.get("retries") {
            check.retries = yaml::integer(node, &format!("{ctx}: retries"), 0, 1000, self.sink)
                .and_then(|n| u32::try_from(n).ok());
        }
        Some(check)
    }

    fn health_test(&mut self, node: &Node, ctx: &str) -> Option<HealthTest> {
        match &node.kind {
            Kind::Scalar { text, .. } if text == "NONE" => Some(HealthTest::Disabled),
            Kind::Scalar { .. } => self.interpolated(node, ctx).map(HealthTest::Shell),
            Kind::Seq(items) => {
                let mut words = Vec::with_capacity(items.len());
                for item in items {
                    words.push(self.interpolated(item, ctx)?);
                }
                match words.split_first() {
                    Some((first, [])) if first == "NONE" => Some(HealthTest::Disabled),
                    Some((first, rest)) if first == "CMD" && !rest.is_empty() => {
                        Some(HealthTest::Cmd(rest.to_vec()))
                    }
                    Some((first, [shell])) if first == "CMD-SHELL" => {
                        Some(HealthTest::Shell(shell.clone()))
                    }
                    _ => {
                        self.sink.at(
                            node.line,
                            ctx,
                            "expected [\"CMD\", args...], [\"CMD-SHELL\", \"command\"] or [\"NONE\"]",
                        );
                        None
                    }
                }
            }
            _ => {
                self.sink.at(
                    node.line,
                    ctx,
                    format!("expected a string or a list, found {}", node.describe()),
                );
                None
            }
        }
    }

    fn restart(&mut self, node: &Node) -> Option<Restart> {
        let ctx = self.sub("restart");
        let text = self.literal(node, &ctx)?;
        match text.as_str() {
            "no" => Some(Restart::No),
            "always" => Some(Restart::Always),
            "on-failure" => Some(Restart::OnFailure),
            "unless-stopped" => Some(Restart::UnlessStopped),
            other => {
                self.sink.at(
                    node.line,
                    &ctx,
                    format!("{other:?} is not no, always, on-failure or unless-stopped"),
                );
                None
            }
        }
    }

    fn deploy(&mut self, node: &Node, service: &mut Service) {
        let ctx = self.sub("deploy");
        let Some(fields) = Fields::of(node, &ctx, &["replicas", "placement"], self.sink) else {
            return;
        };
        if let Some(node) = fields.get("replicas") {
            let replicas = yaml::integer(
                node,
                &format!("{ctx}: replicas"),
                0,
                MAX_REPLICAS,
                self.sink,
            );
            if let Some(n) = replicas.and_then(|n| u32::try_from(n).ok()) {
                service.replicas = n;
            }
        }
        let Some(node) = fields.get("placement") else {
            return;
        };
        let placement_ctx = format!("{ctx}: placement");
        let Some(placement) = Fields::of(node, &placement_ctx, &["constraints"], self.sink) else {
            return;
        };
        let Some(node) = placement.get("constraints") else {
            return;
        };
        let ctx = format!("{placement_ctx}: constraints");
        let Some(items) = yaml::list(node, &ctx, self.sink) else {
            return;
        };
        for item in items {
            let Some(text) = self.literal(item, &ctx) else {
                continue;
            };
            match parse_constraint(&text) {
                Some(constraint) => {
                    self.marks.labels.push((
                        self.name.to_string(),
                        constraint.label.clone(),
                        item.line,
                    ));
                    service.placement.push(constraint);
                }
                None => self.sink.at(
                    item.line,
                    &ctx,
                    format!("{text:?} is not node.labels.<label> == <value> (or !=)"),
                ),
            }
        }
    }

    fn profiles(&mut self, node: &Node) -> Vec<String> {
        let ctx = self.sub("profiles");
        let mut profiles = Vec::new();
        let mut seen = BTreeSet::new();
        for (name, line) in yaml::text_list(node, &ctx, self.sink) {
            if !is_compose_name(&name) {
                self.sink.at(
                    line,
                    &ctx,
                    format!("{name:?}: profile names are letters, digits, '_', '.' and '-', starting with a letter or digit"),
                );
            } else if seen.insert(name.clone()) {
                profiles.push(name);
            }
        }
        profiles
    }
}

/// `[host_ip:]host:container[/tcp|udp]`; IPv6 host addresses are bracketed (`[::1]:80:80`).
fn parse_port(text: &str) -> Option<PortMapping> {
    let (rest, protocol) = match text.rsplit_once('/') {
        Some((rest, "tcp")) => (rest, Protocol::Tcp),
        Some((rest, "udp")) => (rest, Protocol::Udp),
        Some(_) => return None,
        None => (text, Protocol::Tcp),
    };
    let (front, container) = rest.rsplit_once(':')?;
    let (host_ip, host) = if let Some(bracketed) = front.strip_prefix('[') {
        let (ip, host) = bracketed.split_once("]:")?;
        (Some(ip.parse::<std::net::Ipv6Addr>().ok()?.into()), host)
    } else {
        match front.rsplit_once(':') {
            Some((ip, host)) => (Some(ip.parse::<std::net::Ipv4Addr>().ok()?.into()), host),
            None => (None, front),
        }
    };
    let port = |s: &str| -> Option<u16> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u16>().ok().filter(|p| *p != 0)
    };
    Some(PortMapping {
        host_ip,
        host: port(host)?,
        container: port(container)?,
        protocol,
    })
}

/// `volume:/path[:ro|:rw]`, where `volume` is declared at the top level.
fn parse_mount(text: &str, declared: &BTreeSet<String>) -> Result<VolumeMount, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let source = parts[0]; // `split` always yields at least one piece.
    if source.starts_with(['/', '.', '~']) {
        return Err(
            "host paths are not allowed; mount a named volume declared under the top-level volumes"
                .into(),
        );
    }
    let (target, read_only) = match parts.as_slice() {
        [_] => {
            return Err(
                "anonymous volumes are not supported; write name:/path with a named volume".into(),
            )
        }
        [_, target] => (*target, false),
        [_, target, "ro"] => (*target, true),
        [_, target, "rw"] => (*target, false),
        [_, _, mode] => return Err(format!("mode {mode:?} is not ro or rw")),
        _ => return Err("expected volume:/path[:ro|:rw]".into()),
    };
    if !is_compose_name(source) {
        return Err(format!("{source:?} is not a volume name"));
    }
    if !target.starts_with('/') {
        return Err(format!("the mount path {target:?} must be absolute"));
    }
    if !declared.contains(source) {
        return Err(format!(
            "volume {source:?} is not declared under the top-level volumes"
        ));
    }
    Ok(VolumeMount {
        source: source.to_string(),
        target: target.to_string(),
        read_only,
    })
}

/// `node.labels.<label> == <value>` or `!=`, spaces around the operator optional.
fn parse_constraint(text: &str) -> Option<Constraint> {
    let (left, op, right) = match (text.split_once("=="), text.split_once("!=")) {
        (Some((l, r)), None) => (l, ConstraintOp::Eq, r),
        (None, Some((l, r))) => (l, ConstraintOp::Ne, r),
        _ => return None,
    };
    let label = left.trim().strip_prefix("node.labels.")?;
    let value = right.trim();
    if !is_label(label) || value.is_empty() || value.contains(['=', '!']) {
        return None;
    }
    Some(Constraint {
        label: label.to_string(),
        op,
        value: value.to_string(),
    })
}

/// Node label names: `[A-Za-z0-9][A-Za-z0-9._-]*`.
pub(crate) fn is_label(label: &str) -> bool {
    is_compose_name(label)
}

/// Go-style durations with whole numbers: `5s`, `1m30s`, `500ms`, `1h`, `250us`.
fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let unit_len = rest[digits..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        if digits == 0 || unit_len == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        let part = match &rest[digits..digits + unit_len] {
            "h" => Duration::from_secs(n.checked_mul(3600)?),
            "m" => Duration::from_secs(n.checked_mul(60)?),
            "s" => Duration::from_secs(n),
            "ms" => Duration::from_millis(n),
            "us" => Duration::from_micros(n),
            _ => return None,
        };
        total = total.checked_add(part)?;
        rest = &rest[digits + unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let p = |s: &str| {
            parse_port(s).map(|p| {
                format!(
                    "{:?} {} {} {:?}",
                    p.host_ip, p.host, p.container, p.protocol
                )
            })
        };
        assert_eq!(p("8080:80").as_deref(), Some("None 8080 80 Tcp"));
        assert_eq!(
            p("127.0.0.1:9000:9000/tcp").as_deref(),
            Some("Some(127.0.0.1) 9000 9000 Tcp")
        );
        assert_eq!(p("53:53/udp").as_deref(), Some("None 53 53 Udp"));
        assert_eq!(p("[::1]:80:8080").as_deref(), Some("Some(::1) 80 8080 Tcp"));
        for bad in [
            "80",
            "0:80",
            "80:65536",
            "a:80",
            "80:80/sctp",
            "1.2.3:80:80",
            "8000-8010:8000-8010",
            ":80",
            "80:",
            "+80:80",
            "::1:80:80",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn mounts() {
        let declared: BTreeSet<String> = ["data".to_string()].into();
        let m = |s: &str| match parse_mount(s, &declared) {
            Ok(m) => format!("{} {} {}", m.source, m.target, m.read_only),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(m("data:/data"), "data /data false");
        assert_eq!(m("data:/ro:ro"), "data /ro true");
        assert_eq!(m("data:/rw:rw"), "data /rw false");
        assert!(m("/srv:/data").contains("host paths are not allowed"));
        assert!(m("./srv:/data").contains("host paths are not allowed"));
        assert!(m("~/srv:/data").contains("host paths are not allowed"));
        assert!(m("/data").contains("host paths"));
        assert!(m("data").contains("anonymous"));
        assert!(m("other:/x").contains("not declared"));
        assert!(m("data:rel").contains("absolute"));
        assert!(m("data:/x:z").contains("mode"));
        assert!(m("data:/x:ro:extra").contains("expected"));
    }

    #[test]
    fn durations() {
        let d = |s: &str| parse_duration(s).map(|d| d.as_millis());
        assert_eq!(d("5s"), Some(5000));
        assert_eq!(d("1m30s"), Some(90_000));
        assert_eq!(d("500ms"), Some(500));
        assert_eq!(d("1h"), Some(3_600_000));
        assert_eq!(d("0s"), Some(0));
        for bad in [
            "",
            "5",
            "s",
            "1.5s",
            "5 s",
            "5d",
            "-5s",
            "1m30",
            "99999999999999999999s",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn constraints() {
        let c =
            |s: &str| parse_constraint(s).map(|c| format!("{} {:?} {}", c.label, c.op, c.value));
        assert_eq!(c("node.labels.role == web").as_deref(), Some("role Eq web"));
        assert_eq!(c("node.labels.zone!=eu-1").as_deref(), Some("zone Ne eu-1"));
        for bad in [
            "node.role == manager",
            "node.labels.role = web",
            "node.labels. == x",
            "node.labels.role ==",
            "node.labels.a == b == c",
            "labels.role == web",
        ] {
            assert_eq!(c(bad), None, "{bad}");
        }
    }
}
