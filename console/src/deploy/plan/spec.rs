//! A service's container spec: the compose service with the admin's values filled in, mapped
//! onto the agent protocol's [`ContainerSpec`].

use std::collections::BTreeMap;
use std::time::Duration;

use outpost_agent::protocol::{ContainerSpec, Healthcheck, PortBinding, VolumeBinding};
use outpost_airgap::app::{substitute, Command, HealthTest, Protocol, Restart, Service};

use super::{
    container_name, volume_name, PlanError, LABEL_APP, LABEL_CONFIG_HASH, LABEL_RELEASE,
    LABEL_REPLICA, LABEL_SERVICE,
};

/// What every container of one plan shares.
pub(super) struct Context<'a> {
    pub app: &'a str,
    pub sequence: u64,
    pub config_hash: &'a str,
    /// Every config item's effective value.
    pub values: &'a BTreeMap<String, String>,
}

/// The spec every replica of `service` shares; [`replica`] names one replica.
pub(super) fn service_spec(
    context: &Context<'_>,
    name: &str,
    service: &Service,
    image: &str,
) -> Result<ContainerSpec, PlanError> {
    let fill = |field: &str, text: &str| {
        substitute(text, context.values).map_err(|reason| PlanError::Variable {
            service: name.to_string(),
            field: field.to_string(),
            reason,
        })
    };
    let words = |field: &'static str, command: &Option<Command>| -> Result<_, PlanError> {
        let Some(command) = command else {
            return Ok(None);
        };
        // A string is split into words before the values go in, so that a value is always
        // one argument, whatever spaces or quotes it holds.
        let words = match command {
            Command::Args(args) => args.clone(),
            Command::Text(text) => {
                split_words(text).map_err(|reason| PlanError::InvalidCommand {
                    service: name.to_string(),
                    field,
                    reason,
                })?
            }
        };
        let filled = words
            .iter()
            .map(|word| fill(field, word))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(filled))
    };

    let mut env = BTreeMap::new();
    for (key, value) in &service.environment {
        env.insert(key.clone(), fill(&format!("environment {key}"), value)?);
    }
    let healthcheck = match &service.healthcheck {
        Some(check) => {
            let test = match &check.test {
                // Without a test of its own the image's healthcheck stays, with its own timing:
                // the protocol has no way to keep a test but change its intervals.
                None => None,
                Some(HealthTest::Disabled) => Some(vec!["NONE".to_string()]),
                Some(HealthTest::Cmd(args)) => {
                    let mut test = vec!["CMD".to_string()];
                    for arg in args {
                        test.push(fill("healthcheck", arg)?);
                    }
                    Some(test)
                }
                Some(HealthTest::Shell(text)) => {
                    Some(vec!["CMD-SHELL".to_string(), fill("healthcheck", text)?])
                }
            };
            test.map(|test| Healthcheck {
                test,
                interval_ms: millis(check.interval),
                timeout_ms: millis(check.timeout),
                retries: check.retries.unwrap_or(0),
                start_period_ms: millis(check.start_period),
            })
        }
        None => None,
    };

    Ok(ContainerSpec {
        name: String::new(),
        image: image.to_string(),
        command: words("command", &service.command)?,
        entrypoint: words("entrypoint", &service.entrypoint)?,
        env,
        labels: BTreeMap::from([
            (LABEL_APP.to_string(), context.app.to_string()),
            (LABEL_RELEASE.to_string(), context.sequence.to_string()),
            (LABEL_SERVICE.to_string(), name.to_string()),
            (
                LABEL_CONFIG_HASH.to_string(),
                context.config_hash.to_string(),
            ),
        ]),
        ports: service
            .ports
            .iter()
            .map(|port| PortBinding {
                host_ip: port.host_ip.map(|ip| ip.to_string()),
                host_port: port.host,
                container_port: port.container,
                protocol: match port.protocol {
                    Protocol::Tcp => "tcp",
                    Protocol::Udp => "udp",
                }
                .to_string(),
            })
            .collect(),
        volumes: service
            .volumes
            .iter()
            .map(|mount| VolumeBinding {
                volume: volume_name(context.app, &mount.source),
                target: mount.target.clone(),
                read_only: mount.read_only,
            })
            .collect(),
        networks: vec![context.app.to_string()],
        network_aliases: vec![name.to_string()],
        restart: service.restart.map(|restart| {
            match restart {
                Restart::No => "no",
                Restart::Always => "always",
                Restart::OnFailure => "on-failure",
                Restart::UnlessStopped => "unless-stopped",
            }
            .to_string()
        }),
        healthcheck,
    })
}

/// Replica `replica` (from 1) of a service's spec.
pub(super) fn replica(
    template: &ContainerSpec,
    app: &str,
    service: &str,
    replica: u32,
) -> ContainerSpec {
    let mut spec = template.clone();
    spec.name = container_name(app, service, replica);
    spec.labels
        .insert(LABEL_REPLICA.to_string(), replica.to_string());
    spec
}

/// Splits a command string into words as a POSIX shell would, without expanding anything:
/// blanks separate words, `'...'` is literal, `"..."` is literal but for `\"`, `\\`, `\$` and
/// `` \` ``, and outside quotes `\` takes the next character as it is.
pub(super) fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if let Some(done) = word.take() {
                    words.push(done);
                }
            }
            '\'' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err("a ' is not closed".to_string()),
                    }
                }
            }
            '"' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => current.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                current.push('\\');
                                current.push(c);
                            }
                            None => return Err("a \" is not closed".to_string()),
                        },
                        Some(c) => current.push(c),
                        None => return Err("a \" is not closed".to_string()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("it ends with a lone \\".to_string()),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// Milliseconds, 0 (Docker's default) when unset.
fn millis(duration: Option<Duration>) -> u64 {
    duration.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
