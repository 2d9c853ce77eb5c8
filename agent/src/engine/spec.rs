//! Checks on a [`ContainerSpec`] before any engine sees it, and the spec hash that makes
//! `run` idempotent. Shared by the Docker engine and the fake so they refuse alike.

use std::net::IpAddr;
use std::path::{Component, Path};

use sha2::{Digest, Sha256};

use super::{EngineError, LABEL_SPEC_HASH, REQUIRED_LABELS};
use crate::protocol::ContainerSpec;

/// Refuses a spec the engine should never be asked to run: no required labels, names
/// Docker would reject, host bind mounts (only named volumes are allowed), unknown
/// restart policies or port protocols, malformed healthchecks.
pub fn validate_spec(spec: &ContainerSpec) -> Result<(), EngineError> {
    let refuse = |reason: String| EngineError::InvalidSpec {
        name: spec.name.clone(),
        reason,
    };
    if !is_docker_name(&spec.name) {
        return Err(refuse(
            "the name must be 2 or more of [a-zA-Z0-9_.-], starting with a letter or digit".into(),
        ));
    }
    if spec.image.is_empty() || spec.image.chars().any(char::is_whitespace) {
        return Err(refuse(format!("invalid image reference {:?}", spec.image)));
    }
    for label in REQUIRED_LABELS {
        match spec.labels.get(label) {
            Some(value) if !value.is_empty() => {}
            _ => return Err(refuse(format!("the label {label} is missing"))),
        }
    }
    if spec.labels.contains_key(LABEL_SPEC_HASH) {
        return Err(refuse(format!(
            "the label {LABEL_SPEC_HASH} is reserved for the agent"
        )));
    }
    for key in spec.env.keys() {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(refuse(format!("invalid environment variable name {key:?}")));
        }
    }
    for port in &spec.ports {
        if !matches!(port.protocol.as_str(), "tcp" | "udp" | "sctp") {
            return Err(refuse(format!(
                "port protocol {:?} is not tcp, udp or sctp",
                port.protocol
            )));
        }
        if port.container_port == 0 {
            return Err(refuse("container port 0".into()));
        }
        if let Some(ip) = &port.host_ip {
            if ip.parse::<IpAddr>().is_err() {
                return Err(refuse(format!("host ip {ip:?} is not an IP address")));
            }
        }
    }
    for volume in &spec.volumes {
        if !is_docker_name(&volume.volume) {
            return Err(refuse(format!(
                "{:?} is not a volume name (host paths cannot be mounted)",
                volume.volume
            )));
        }
        let target = Path::new(&volume.target);
        if !target.is_absolute()
            || target.components().any(|c| c == Component::ParentDir)
            || target == Path::new("/")
        {
            return Err(refuse(format!(
                "volume target {:?} must be an absolute path below /",
                volume.target
            )));
        }
    }
    for network in &spec.networks {
        if !is_docker_name(network) {
            return Err(refuse(format!("invalid network name {network:?}")));
        }
    }
    if !spec.network_aliases.is_empty() && spec.networks.is_empty() {
        return Err(refuse("network aliases need a network".into()));
    }
    if let Some(restart) = &spec.restart {
        if parse_restart(restart).is_none() {
            return Err(refuse(format!(
                "restart policy {restart:?} is not no, always, unless-stopped or on-failure[:N]"
            )));
        }
    }
    if let Some(check) = &spec.healthcheck {
        let ok = match check.test.first().map(String::as_str) {
            Some("NONE") => check.test.len() == 1,
            Some("CMD") => check.test.len() >= 2,
            Some("CMD-SHELL") => check.test.len() == 2,
            _ => false,
        };
        if !ok {
            return Err(refuse(format!(
                "healthcheck test {:?} is not [\"CMD\", ...], [\"CMD-SHELL\", cmd] or [\"NONE\"]",
                check.test
            )));
        }
    }
    Ok(())
}

/// Refuses a container, network or volume name Docker would not accept. Names end up
/// in API paths, so this also keeps `..` and `/` out of them.
pub fn validate_name(kind: &'static str, name: &str) -> Result<(), EngineError> {
    if is_docker_name(name) {
        Ok(())
    } else {
        Err(EngineError::InvalidName {
            kind,
            name: name.to_string(),
        })
    }
}

/// What the spec hash is computed over; raised only when the meaning of a field changes.
const SPEC_HASH_FORM: &[u8] = b"outpost-container-spec/v1\n";

/// Hex SHA-256 of the spec's canonical form: [`SPEC_HASH_FORM`], then its JSON with every
/// field at its default (null, false, 0, empty list or map) left out. Maps are ordered, so
/// equal specs hash equally; and a field added to the protocol later (which always has a
/// default) does not change the hash of a spec that does not use it, so a newer agent or
/// console does not replace running containers whose spec is unchanged.
pub fn spec_hash(spec: &ContainerSpec) -> String {
    let mut value = serde_json::to_value(spec).expect("a ContainerSpec always serialises");
    if let serde_json::Value::Object(fields) = &mut value {
        fields.retain(|_, v| !is_default(v));
    }
    let json = serde_json::to_vec(&value).expect("a JSON value always serialises");
    let mut hasher = Sha256::new();
    hasher.update(SPEC_HASH_FORM);
    hasher.update(json);
    hex::encode(hasher.finalize())
}

fn is_default(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null | serde_json::Value::Bool(false) => true,
        serde_json::Value::Number(n) => n.as_f64() == Some(0.0),
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        serde_json::Value::Bool(true) => false,
    }
}

/// A restart policy: its name and, for `on-failure:N`, the retry limit.
pub(crate) fn parse_restart(policy: &str) -> Option<(&str, Option<i64>)> {
    match policy {
        "no" | "always" | "unless-stopped" | "on-failure" => Some((policy, None)),
        _ => {
            let count = policy.strip_prefix("on-failure:")?;
            let count: u32 = count.parse().ok()?;
            Some(("on-failure", Some(i64::from(count))))
        }
    }
}

/// Docker's rule for container, volume and network names.
fn is_docker_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() >= 2
        && name.len() <= 255
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::protocol::{Healthcheck, PortBinding, VolumeBinding};

    pub(crate) fn good_spec() -> ContainerSpec {
        ContainerSpec {
            name: "web".into(),
            image: "busybox:latest".into(),
            labels: BTreeMap::from([
                ("outpost.app".into(), "shop".into()),
                ("outpost.release".into(), "7".into()),
                ("outpost.service".into(), "web".into()),
            ]),
            ..ContainerSpec::default()
        }
    }

    fn check(change: impl FnOnce(&mut ContainerSpec), expected: Option<&str>) {
        let mut spec = good_spec();
        change(&mut spec);
        match (validate_spec(&spec), expected) {
            (Ok(()), None) => {}
            (Err(e), Some(want)) => {
                let message = e.to_string();
                assert!(message.contains(want), "{message:?} lacks {want:?}");
            }
            (got, want) => panic!("spec {spec:?}: got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn good_specs_pass() {
        check(|_| {}, None);
        check(
            |s| {
                s.ports.push(PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: 8080,
                    container_port: 80,
                    protocol: "tcp".into(),
                });
                s.volumes.push(VolumeBinding {
                    volume: "shop_data".into(),
                    target: "/var/lib/data".into(),
                    read_only: false,
                });
                s.networks.push("shop_default".into());
                s.network_aliases.push("web".into());
                s.restart = Some("on-failure:3".into());
                s.healthcheck = Some(Healthcheck {
                    test: vec!["CMD-SHELL".into(), "true".into()],
                    interval_ms: 1000,
                    timeout_ms: 1000,
                    retries: 3,
                    start_period_ms: 0,
                });
            },
            None,
        );
    }

    #[test]
    fn bad_specs_are_refused_with_the_reason() {
        for label in REQUIRED_LABELS {
            check(|s| _ = s.labels.remove(label), Some(label));
            check(
                |s| _ = s.labels.insert(label.into(), String::new()),
                Some(label),
            );
        }
        check(
            |s| _ = s.labels.insert(LABEL_SPEC_HASH.into(), "x".into()),
            Some("reserved"),
        );
        check(|s| s.name = "w".into(), Some("name"));
        check(|s| s.name = "../etc".into(), Some("name"));
        check(|s| s.image = String::new(), Some("image"));
        check(|s| _ = s.env.insert("A=B".into(), "c".into()), Some("A=B"));
        check(
            |s| {
                s.volumes.push(VolumeBinding {
                    volume: "/etc".into(),
                    target: "/host".into(),
                    read_only: false,
                })
            },
            Some("host paths"),
        );
        check(
            |s| {
                s.volumes.push(VolumeBinding {
                    volume: "data".into(),
                    target: "/a/../..".into(),
                    read_only: false,
                })
            },
            Some("target"),
        );
        check(
            |s| {
                s.ports.push(PortBinding {
                    host_ip: None,
                    host_port: 1,
                    container_port: 1,
                    protocol: "icmp".into(),
                })
            },
            Some("icmp"),
        );
        check(
            |s| {
                s.ports.push(PortBinding {
                    host_ip: Some("localhost".into()),
                    host_port: 1,
                    container_port: 1,
                    protocol: "tcp".into(),
                })
            },
            Some("localhost"),
        );
        check(|s| s.network_aliases.push("db".into()), Some("aliases"));
        check(|s| s.restart = Some("sometimes".into()), Some("sometimes"));
        check(
            |s| {
                s.healthcheck = Some(Healthcheck {
                    test: vec!["CMD-SHELL".into()],
                    interval_ms: 0,
                    timeout_ms: 0,
                    retries: 0,
                    start_period_ms: 0,
                })
            },
            Some("healthcheck"),
        );
    }

    #[test]
    fn names() {
        for good in ["web", "shop_web-1.a", "0x"] {
            assert!(validate_name("container", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "w",
            "../images/x",
            "a/b",
            "-a",
            ".a",
            "a b",
            "a?b",
            "é1",
        ] {
            let err = validate_name("container", bad).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid container name"),
                "{err}"
            );
        }
    }

    #[test]
    fn restart_policies_parse() {
        assert_eq!(parse_restart("always"), Some(("always", None)));
        assert_eq!(parse_restart("on-failure:5"), Some(("on-failure", Some(5))));
        assert_eq!(parse_restart("on-failure:-1"), None);
        assert_eq!(parse_restart(""), None);
    }

    #[test]
    fn the_hash_follows_the_spec() {
        let a = good_spec();
        let mut b = good_spec();
        assert_eq!(spec_hash(&a), spec_hash(&b));
        b.env.insert("MODE".into(), "fast".into());
        assert_ne!(spec_hash(&a), spec_hash(&b));
        assert_eq!(spec_hash(&a).len(), 64);
    }

    #[test]
    fn a_field_at_its_default_does_not_change_the_hash() {
        // What a spec from an older console looks like to a newer agent: fields it did not
        // know arrive at their defaults. Simulated by the JSON with a default field dropped.
        let mut spec = good_spec();
        spec.restart = None;
        spec.network_aliases.clear();
        let full = serde_json::to_value(&spec).unwrap();
        let mut trimmed = full.clone();
        let object = trimmed.as_object_mut().unwrap();
        object.remove("restart");
        object.remove("network_aliases");
        let reparsed: ContainerSpec = serde_json::from_value(trimmed).unwrap();
        assert_eq!(spec_hash(&spec), spec_hash(&reparsed));
        // Setting a field away from its default does change it.
        let mut restarted = spec.clone();
        restarted.restart = Some("always".into());
        assert_ne!(spec_hash(&spec), spec_hash(&restarted));
    }
}
