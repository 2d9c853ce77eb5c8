//! The network requirements report: for this install, the ports each kind of host must
//! accept connections on and the hosts the install connects to, each with why, and a
//! live check of each row. What a customer's firewall team asks for first.
//!
//! Inbound: the console host's 8800 (admins), 9879 (agents) and 9874 (the image registry
//! for airgap bundles); every node's 9870–9880 range (kept free for Outpost); and each
//! port the app publishes. Live: the console's own ports are its listeners; 9874 is
//! probed by binding it; nodes report the ports held on them now.
//!
//! Outbound (none in airgap mode): the api host, and every registry the release's images
//! come from after the mirror/rewrite rules, with the token service each one names and
//! the blob hosts of well-known registries. Live: one request each through the recorder
//! (so it is in the outbound log like any other), through the proxy where it applies.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use outpost_agent::protocol::{Command, CommandResult, ListeningPort};
use outpost_airgap::app::reference::{DOCKER_HUB, DOCKER_HUB_HOST};
use reqwest::{Method, Url};
use serde::Serialize;

use crate::cluster::hub::Hub;
use crate::deploy::plan::ImageSource;
use crate::deploy::service::ReleaseNetwork;
use crate::upstream::{Outbound, Recorder, SendError};

/// The console's registry for airgap bundle images.
pub const REGISTRY_PORT: u16 = 9874;
/// The range kept free on every node for Outpost's own traffic.
pub const RESERVED_RANGE: (u16, u16) = (9870, 9880);
/// How long a node has to list its ports.
const NODE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one outbound check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(15);
/// The most of an answer an outbound check reads.
const CHECK_MAX_BYTES: usize = 64 * 1024;

/// Blob hosts well-known registries redirect layer downloads to.
const BLOB_HOSTS: &[(&str, &[&str])] = &[
    (DOCKER_HUB, &["production.cloudflare.docker.com"]),
    (
        "quay.io",
        &[
            "cdn.quay.io",
            "cdn01.quay.io",
            "cdn02.quay.io",
            "cdn03.quay.io",
        ],
    ),
    ("ghcr.io", &["pkg-containers.githubusercontent.com"]),
];

#[derive(Debug, Clone, Serialize)]
pub struct NetworkReport {
    /// Why airgap mode is on, if it is (then there is no outbound row).
    pub airgap: Option<String>,
    /// The proxy the console's own requests go through (password masked), if any.
    pub proxy: Option<String>,
    /// The release the rows are for.
    pub release: Option<ReleaseRef>,
    pub inbound: Vec<InboundRow>,
    pub outbound: Vec<OutboundRow>,
    /// The proxy each node's Docker engine pulls through (its own setting, which the
    /// console cannot change: docs/NETWORK.md says how to set it).
    pub engines: Vec<EngineProxy>,
    /// Rows whose check found a problem.
    pub problems: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct EngineProxy {
    pub node: String,
    /// As the engine reports it (password masked); `None` when it connects directly.
    pub https_proxy: Option<String>,
    pub no_proxy: String,
    pub check: Check,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseRef {
    pub sequence: u64,
    pub version: String,
    pub installed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct InboundRow {
    /// `console host`, `every node`, or `app nodes`.
    pub role: &'static str,
    /// A port (`8800`) or a range (`9870-9880`).
    pub port: String,
    pub protocol: String,
    pub purpose: String,
    /// Who connects.
    pub from: String,
    pub needed_in_airgap: bool,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboundRow {
    pub purpose: String,
    pub host: String,
    pub port: u16,
    pub protocol: &'static str,
    /// Who connects: the console, or the nodes' Docker engines.
    pub from: &'static str,
    /// Always false: an airgap install connects to none of these.
    pub needed_in_airgap: bool,
    pub check: Check,
}

/// One live check: where it ran and what it found.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The node (or `console`) it ran on.
    pub on: String,
    /// `ok`, `problem` or `unknown`.
    pub result: &'static str,
    pub detail: String,
}

impl Check {
    fn ok(on: &str, detail: impl Into<String>) -> Check {
        Check {
            on: on.to_owned(),
            result: "ok",
            detail: detail.into(),
        }
    }
    fn problem(on: &str, detail: impl Into<String>) -> Check {
        Check {
            on: on.to_owned(),
            result: "problem",
            detail: detail.into(),
        }
    }
    fn unknown(on: &str, detail: impl Into<String>) -> Check {
        Check {
            on: on.to_owned(),
            result: "unknown",
            detail: detail.into(),
        }
    }
}

/// What the report is built from.
pub struct Inputs<'a> {
    pub console_port: u16,
    pub cluster_port: u16,
    pub airgap: Option<String>,
    pub api_host: Option<String>,
    pub release: Option<ReleaseNetwork>,
    /// Every node: id, name, and whether it is online.
    pub nodes: Vec<(String, String, bool)>,
    /// Each node's Docker engine proxy from its last facts: name, proxy, no-proxy list
    /// (`None` when the node has not reported its engine).
    pub engine_proxies: Vec<(String, Option<(String, String)>)>,
    pub hub: &'a Hub,
    pub recorder: &'a Recorder,
}

/// Builds the report and runs its live checks.
pub async fn report(inputs: Inputs<'_>) -> NetworkReport {
    let held = held_ports(inputs.hub, &inputs.nodes).await;
    let mut inbound = console_rows(inputs.console_port, inputs.cluster_port).await;
    inbound.push(reserved_range_row(
        &inputs.nodes,
        &held,
        inputs.cluster_port,
    ));
    if let Some(release) = &inputs.release {
        inbound.extend(app_port_rows(release, &inputs.nodes, &held));
    }
    let outbound = match &inputs.airgap {
        Some(_) => Vec::new(),
        None => outbound_rows(&inputs).await,
    };
    let console_proxy = inputs.recorder.proxy().map(|p| p.shown());
    let engines: Vec<EngineProxy> = inputs
        .engine_proxies
        .iter()
        .map(|(node, engine)| {
            engine_row(
                node,
                engine.as_ref(),
                console_proxy.as_deref(),
                inputs.airgap.is_some(),
            )
        })
        .collect();
    let problems = inbound
        .iter()
        .filter(|r| r.checks.iter().any(|c| c.result == "problem"))
        .count()
        + outbound
            .iter()
            .filter(|r| r.check.result == "problem")
            .count()
        + engines
            .iter()
            .filter(|e| e.check.result == "problem")
            .count();
    NetworkReport {
        airgap: inputs.airgap.clone(),
        proxy: inputs.recorder.proxy().map(|p| p.shown()),
        release: inputs.release.as_ref().map(|r| ReleaseRef {
            sequence: r.sequence,
            version: r.version.clone(),
            installed: r.installed,
        }),
        inbound,
        outbound,
        engines,
        problems,
    }
}

/// Whether a node's Docker engine pulls the way the console connects: through a proxy
/// when the console has one.
fn engine_row(
    node: &str,
    engine: Option<&(String, String)>,
    console_proxy: Option<&str>,
    airgap: bool,
) -> EngineProxy {
    let Some((proxy, no_proxy)) = engine else {
        return EngineProxy {
            node: node.to_owned(),
            https_proxy: None,
            no_proxy: String::new(),
            check: Check::unknown(node, "the node has not reported its Docker engine yet"),
        };
    };
    let https_proxy = (!proxy.is_empty()).then(|| proxy.clone());
    let check = match (&https_proxy, console_proxy) {
        _ if airgap => Check::ok(node, "airgap mode: the engine pulls nothing from outside"),
        (Some(proxy), _) => Check::ok(node, format!("pulls through the proxy {proxy}")),
        (None, Some(console)) => Check::problem(
            node,
            format!(
                "the console goes through the proxy {console}, but this node's Docker engine connects directly: pulls from outside registries may fail; set the engine's proxy (docs/NETWORK.md)"
            ),
        ),
        (None, None) => Check::ok(node, "connects directly, as the console does"),
    };
    EngineProxy {
        node: node.to_owned(),
        https_proxy,
        no_proxy: no_proxy.clone(),
        check,
    }
}

/// The ports held on each online node now (`Err`: why it is not known).
async fn held_ports(
    hub: &Hub,
    nodes: &[(String, String, bool)],
) -> BTreeMap<String, Result<BTreeSet<u16>, String>> {
    let mut held = BTreeMap::new();
    for (id, _, online) in nodes {
        let ports = if !online {
            Err("the node is offline".to_owned())
        } else {
            match hub.command(id, Command::ListeningPorts, NODE_TIMEOUT).await {
                Ok(outcome) => match outcome.result {
                    CommandResult::Ok { output } => {
                        serde_json::from_value::<Vec<ListeningPort>>(output["ports"].clone())
                            .map(|ports| {
                                ports
                                    .into_iter()
                                    .filter(|p| p.protocol == "tcp")
                                    .map(|p| p.port)
                                    .collect()
                            })
                            .map_err(|e| format!("the node's answer is not a port list: {e}"))
                    }
                    CommandResult::Unsupported => {
                        Err("the node's agent is too old to list its ports".to_owned())
                    }
                    CommandResult::Error { message } => Err(message),
                },
                Err(e) => Err(e.to_string()),
            }
        };
        held.insert(id.clone(), ports);
    }
    held
}

async fn console_rows(console_port: u16, cluster_port: u16) -> Vec<InboundRow> {
    let registry = match probe_bind(REGISTRY_PORT) {
        Ok(()) => Check::ok(
            "console",
            "free: kept for the console's registry (airgap bundle images)",
        ),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Check::problem(
            "console",
            format!(
                "taken by another process: free port {REGISTRY_PORT}, nodes pull airgap bundle images from it"
            ),
        ),
        Err(e) => Check::unknown("console", format!("cannot probe it: {e}")),
    };
    vec![
        InboundRow {
            role: "console host",
            port: console_port.to_string(),
            protocol: "tcp (HTTPS)".into(),
            purpose: "the admin console and its API".into(),
            from: "admins' browsers and scripts".into(),
            needed_in_airgap: true,
            checks: vec![Check::ok("console", "listening: this console serves it")],
        },
        InboundRow {
            role: "console host",
            port: cluster_port.to_string(),
            protocol: "tcp (mutual TLS)".into(),
            purpose: "the agent channel: joins and commands".into(),
            from: "every node's agent".into(),
            needed_in_airgap: true,
            checks: vec![Check::ok("console", "listening: this console serves it")],
        },
        InboundRow {
            role: "console host",
            port: REGISTRY_PORT.to_string(),
            protocol: "tcp (HTTPS)".into(),
            purpose: "the console's image registry: images from airgap bundles".into(),
            from: "every node's Docker engine".into(),
            needed_in_airgap: true,
            checks: vec![registry],
        },
    ]
}

/// Whether `port` can be bound on every address now (it is released at once).
fn probe_bind(port: u16) -> std::io::Result<()> {
    std::net::TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)).map(drop)
}

fn reserved_range_row(
    nodes: &[(String, String, bool)],
    held: &BTreeMap<String, Result<BTreeSet<u16>, String>>,
    cluster_port: u16,
) -> InboundRow {
    let (low, high) = RESERVED_RANGE;
    let checks = nodes
        .iter()
        .map(|(id, name, _)| match held.get(id) {
            Some(Ok(ports)) => {
                // The console's own ports are expected on the node it runs on.
                let taken: Vec<String> = ports
                    .range(low..=high)
                    .filter(|p| **p != cluster_port && **p != REGISTRY_PORT)
                    .map(u16::to_string)
                    .collect();
                if taken.is_empty() {
                    Check::ok(name, "free (the console's own ports aside)")
                } else {
                    Check::problem(
                        name,
                        format!("taken by other processes: {}", taken.join(", ")),
                    )
                }
            }
            Some(Err(why)) => Check::unknown(name, why.clone()),
            None => Check::unknown(name, "not checked"),
        })
        .collect();
    InboundRow {
        role: "every node",
        port: format!("{low}-{high}"),
        protocol: "tcp".into(),
        purpose: "kept for Outpost: the console and the nodes coordinate on it".into(),
        from: "the console host and the other nodes".into(),
        needed_in_airgap: true,
        checks,
    }
}

fn app_port_rows(
    release: &ReleaseNetwork,
    nodes: &[(String, String, bool)],
    held: &BTreeMap<String, Result<BTreeSet<u16>, String>>,
) -> Vec<InboundRow> {
    release
        .ports
        .iter()
        .map(|published| {
            let checks = nodes
                .iter()
                .map(|(id, name, _)| match held.get(id) {
                    Some(Ok(ports)) if ports.contains(&published.port) => {
                        if release.installed {
                            Check::ok(name, "listening: the app (or another process) holds it")
                        } else {
                            Check::problem(
                                name,
                                "taken by another process: the app cannot publish it here",
                            )
                        }
                    }
                    Some(Ok(_)) if release.installed => Check::unknown(
                        name,
                        "not listening here (the service may run on another node)",
                    ),
                    Some(Ok(_)) => Check::ok(name, "free"),
                    Some(Err(why)) => Check::unknown(name, why.clone()),
                    None => Check::unknown(name, "not checked"),
                })
                .collect();
            InboundRow {
                role: "app nodes",
                port: published.port.to_string(),
                protocol: format!("{:?}", published.protocol).to_lowercase(),
                purpose: format!("the app's {} service", published.service),
                from: "the app's users".into(),
                needed_in_airgap: true,
                checks,
            }
        })
        .collect()
}

async fn outbound_rows(inputs: &Inputs<'_>) -> Vec<OutboundRow> {
    let mut rows = Vec::new();
    if let Some(api_host) = &inputs.api_host {
        if let Ok(url) = Url::parse(api_host) {
            let (check, _) = reach(inputs.recorder, &url, "network check: api host").await;
            rows.push(OutboundRow {
                purpose: "the vendor's api host: license sync and update checks".into(),
                host: url.host_str().unwrap_or_default().to_owned(),
                port: url.port_or_known_default().unwrap_or(443),
                protocol: "https",
                from: "the console",
                needed_in_airgap: false,
                check,
            });
        }
    }
    let Some(release) = &inputs.release else {
        return rows;
    };
    // Registries contacted, each with the services whose images come from it.
    let mut registries: BTreeMap<String, (Vec<String>, Option<String>)> = BTreeMap::new();
    for (service, image) in &release.images {
        let (registry, mirror_of) = match &image.source {
            ImageSource::Upstream { registry } => (registry.clone(), None),
            ImageSource::Mirror { registry, of } => (registry.clone(), Some(of.clone())),
            // The console's own registry and images already on nodes leave nothing out.
            ImageSource::Internal { .. } | ImageSource::Node { .. } => continue,
        };
        let entry = registries.entry(registry).or_default();
        entry.0.push(service.clone());
        if mirror_of.is_some() {
            entry.1 = mirror_of;
        }
    }
    for (registry, (services, mirror_of)) in registries {
        let host = if registry == DOCKER_HUB {
            DOCKER_HUB_HOST.to_owned()
        } else {
            registry.clone()
        };
        let Ok(url) = Url::parse(&format!("https://{host}/v2/")) else {
            continue;
        };
        let purpose = format!("network check: registry {registry}");
        let (mut check, mut realm, tls) = reach_with(inputs.recorder, &url, &purpose).await;
        let mut url = url;
        // Docker speaks plain HTTP to a loopback registry that does not speak TLS; so does
        // this check. (A TLS registry whose certificate is not trusted here stays https.)
        if is_loopback_host(&host) && tls == TlsOutcome::NotTls {
            if let Ok(plain) = Url::parse(&format!("http://{host}/v2/")) {
                let (plain_check, plain_realm, _) =
                    reach_with(inputs.recorder, &plain, &purpose).await;
                if plain_check.result == "ok" {
                    (check, realm, url) = (plain_check, plain_realm, plain);
                }
            }
        }
        let scheme = url.scheme().to_owned();
        let of = mirror_of
            .map(|of| format!(" (in place of {of}, by a rewrite rule)"))
            .unwrap_or_default();
        rows.push(OutboundRow {
            purpose: format!("image registry{of} for {}", services.join(", ")),
            host: url.host_str().unwrap_or_default().to_owned(),
            port: url.port_or_known_default().unwrap_or(443),
            protocol: if scheme == "http" { "http" } else { "https" },
            from: "every node's Docker engine",
            needed_in_airgap: false,
            check,
        });
        if let Some(realm) = realm.filter(|r| r.host_str() != url.host_str()) {
            let (check, _) = reach(
                inputs.recorder,
                &realm,
                &format!("network check: token service of {registry}"),
            )
            .await;
            rows.push(OutboundRow {
                purpose: format!("the token service of {registry}"),
                host: realm.host_str().unwrap_or_default().to_owned(),
                port: realm.port_or_known_default().unwrap_or(443),
                protocol: "https",
                from: "every node's Docker engine",
                needed_in_airgap: false,
                check,
            });
        }
        for (known, blobs) in BLOB_HOSTS {
            if *known != registry {
                continue;
            }
            for blob in *blobs {
                let Ok(blob_url) = Url::parse(&format!("https://{blob}/")) else {
                    continue;
                };
                let (check, _) = reach(
                    inputs.recorder,
                    &blob_url,
                    &format!("network check: blob host of {registry}"),
                )
                .await;
                rows.push(OutboundRow {
                    purpose: format!("image layers of {registry} (its blob host)"),
                    host: (*blob).to_owned(),
                    port: 443,
                    protocol: "https",
                    from: "every node's Docker engine",
                    needed_in_airgap: false,
                    check,
                });
            }
        }
    }
    rows
}

/// One request to `url` through the recorder: any HTTP answer means reachable. Also
/// returns the token service a registry's `WWW-Authenticate` names, if any.
async fn reach(recorder: &Recorder, url: &Url, purpose: &str) -> (Check, Option<Url>) {
    let (check, realm, _) = reach_with(recorder, url, purpose).await;
    (check, realm)
}

/// How TLS went for one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsOutcome {
    /// TLS worked, or the URL is plain HTTP, or the host could not be reached at all.
    Spoken,
    /// The host answered, but not in TLS (a plain HTTP server on that port).
    NotTls,
    /// The host speaks TLS with a certificate not trusted from the console host.
    Untrusted,
}

/// As [`reach`], also saying how TLS went.
async fn reach_with(
    recorder: &Recorder,
    url: &Url,
    purpose: &str,
) -> (Check, Option<Url>, TlsOutcome) {
    let via = recorder
        .proxy()
        .filter(|p| p.for_url(url).is_some())
        .map(|p| format!(" through the proxy {}", p.shown()))
        .unwrap_or_default();
    let answer = recorder
        .send(Outbound {
            method: Method::GET,
            url: url.clone(),
            purpose: purpose.to_owned(),
            headers: vec![("Accept", "*/*".to_owned())],
            body: None,
            timeout: CHECK_TIMEOUT,
            max_response_bytes: CHECK_MAX_BYTES,
        })
        .await;
    match answer {
        Ok(answer) => {
            let realm = answer
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("www-authenticate"))
                .and_then(|(_, value)| token_realm(value));
            (
                Check::ok("console", format!("reachable{via}: it answered HTTP {}", answer.status)),
                realm,
                TlsOutcome::Spoken,
            )
        }
        Err(SendError::TooLarge { .. }) => (
            Check::ok("console", format!("reachable{via}")),
            None,
            TlsOutcome::Spoken,
        ),
        Err(SendError::Tls { reason, .. }) if reason.contains("certificate") => (
            Check::ok(
                "console",
                format!(
                    "reachable{via}; its TLS certificate is not trusted from the console host ({reason}); nodes trust a private registry's CA through /etc/docker/certs.d"
                ),
            ),
            None,
            TlsOutcome::Untrusted,
        ),
        Err(e @ SendError::Tls { .. }) => (
            Check::problem("console", format!("not reachable{via}: {e}")),
            None,
            TlsOutcome::NotTls,
        ),
        // A connection error names the proxy itself.
        Err(e @ SendError::Connect { proxy: Some(_), .. }) => (
            Check::problem("console", format!("not reachable: {e}")),
            None,
            TlsOutcome::Spoken,
        ),
        Err(e) => (
            Check::problem("console", format!("not reachable{via}: {e}")),
            None,
            TlsOutcome::Spoken,
        ),
    }
}

/// The `realm` of a `Bearer` challenge, as an https URL.
fn token_realm(challenge: &str) -> Option<Url> {
    let rest = challenge.trim().strip_prefix("Bearer ")?;
    let start = rest.find("realm=\"")? + "realm=\"".len();
    let end = rest[start..].find('"')? + start;
    let realm = Url::parse(&rest[start..end]).ok()?;
    matches!(realm.scheme(), "https" | "http").then_some(realm)
}

fn is_loopback_host(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    name.trim_matches(['[', ']'])
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
        || name == "localhost"
}

/// The console's ports from its URLs (`https://host:8800`).
pub fn port_of(url: &str, default: u16) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_realms_and_loopback_hosts() {
        assert_eq!(
            token_realm(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io""#
            )
            .map(|u| u.host_str().unwrap().to_owned()),
            Some("auth.docker.io".to_owned())
        );
        assert_eq!(token_realm(r#"Basic realm="registry""#), None);
        assert!(is_loopback_host("127.0.0.1:5101"));
        assert!(is_loopback_host("localhost:5000"));
        assert!(!is_loopback_host("registry.corp:5000"));
        assert_eq!(port_of("https://console.test:8800", 1), 8800);
        assert_eq!(port_of("https://[::1]:9879", 1), 9879);
    }

    #[test]
    fn a_taken_port_is_found_by_binding_it() {
        let held = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let error = probe_bind(port).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
        drop(held);
        probe_bind(port).unwrap();
    }
}
