//! [`execute`]: one protocol [`Command`] as engine calls, and its [`CommandResult`].

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

use super::ContainerEngine;
use crate::protocol::{Command, CommandResult, Progress};

/// Runs `command` on `engine`. Pull status and log lines go to `progress` as they come;
/// the result carries a small JSON summary, or the error's message (which names what
/// failed and never holds a password). A log follow runs until the container stops or
/// the caller drops the future (that is how a `Cancel` ends it).
///
/// Outputs: `PullImage` → `{reference}`; `EnsureNetwork` → `{name, id}`;
/// `EnsureVolume` → `{name}`; `RunContainer` → `{id, name, action}`; `StopContainer` →
/// `{name}`; `RemoveContainer` → `{name, removed}`; `InspectContainer` → the container's
/// state; `ListContainers` → `{containers: [state]}`; `Logs` → `{lines}`;
/// `TrustRegistryCa` → `{host, path}`; `EnsureImage` → `{reference, present}`;
/// `ListeningPorts` → `{ports}`.
pub async fn execute<E, P>(engine: &E, command: &Command, mut progress: P) -> CommandResult
where
    E: ContainerEngine,
    P: FnMut(Progress) + Send,
{
    let output = match command {
        Command::PullImage { reference, auth } => engine
            .pull(reference, auth.as_ref(), &mut progress)
            .await
            .map(|()| json!({ "reference": reference })),
        Command::EnsureNetwork { name, labels } => engine
            .ensure_network(name, labels)
            .await
            .map(|id| json!({ "name": name, "id": id })),
        Command::EnsureVolume { name, labels } => engine
            .ensure_volume(name, labels)
            .await
            .map(|()| json!({ "name": name })),
        Command::RunContainer { spec } => engine.run(spec).await.map(
            |outcome| json!({ "id": outcome.id, "name": spec.name, "action": outcome.action }),
        ),
        Command::StopContainer { name, timeout_secs } => engine
            .stop(name, Duration::from_secs(u64::from(*timeout_secs)))
            .await
            .map(|()| json!({ "name": name })),
        Command::RemoveContainer { name } => engine
            .remove(name)
            .await
            .map(|removed| json!({ "name": name, "removed": removed })),
        Command::InspectContainer { name } => engine.inspect(name).await.map(|state| json!(state)),
        Command::ListContainers { labels } => engine
            .list(labels)
            .await
            .map(|containers| json!({ "containers": containers })),
        Command::Logs { name, tail, follow } => {
            stream_logs(engine, name, *tail, *follow, &mut progress)
                .await
                .map(|lines| json!({ "lines": lines }))
        }
        Command::TrustRegistryCa { host, ca_pem } => engine
            .trust_registry_ca(host, ca_pem)
            .await
            .map(|path| json!({ "host": host, "path": path })),
        Command::EnsureImage { reference } => match engine.has_image(reference).await {
            Ok(true) => Ok(json!({ "reference": reference, "present": true })),
            Ok(false) => Err(super::EngineError::ImageAbsent {
                reference: reference.clone(),
            }),
            Err(e) => Err(e),
        },
        Command::ListeningPorts => Ok(json!({ "ports": crate::facts::host_listening_ports() })),
        Command::Unknown => return CommandResult::Unsupported,
    };
    match output {
        Ok(output) => CommandResult::Ok { output },
        Err(e) => CommandResult::Error {
            message: e.to_string(),
        },
    }
}

/// Passes each log line on as progress; returns how many there were.
async fn stream_logs<E, P>(
    engine: &E,
    name: &str,
    tail: Option<u32>,
    follow: bool,
    progress: &mut P,
) -> Result<u64, super::EngineError>
where
    E: ContainerEngine,
    P: FnMut(Progress) + Send,
{
    let mut lines = engine.logs(name, tail, follow).await?;
    let mut count = 0;
    while let Some(line) = lines.next().await {
        let line = line?;
        count += 1;
        progress(Progress::LogLine {
            stream: line.stream.as_str().to_string(),
            line: if line.truncated {
                format!("{} [line truncated]", line.line)
            } else {
                line.line
            },
        });
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;
    use crate::engine::fake::{Call, FakeEngine};
    use crate::engine::{Health, Operation, RunState, StdStream};
    use crate::protocol::{ContainerSpec, Healthcheck, RegistryAuth};

    const IMAGE: &str = "registry.test:9874/shop/web:1.0";

    fn labels() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("outpost.app".into(), "shop".into()),
            ("outpost.release".into(), "3".into()),
            ("outpost.service".into(), "web".into()),
        ])
    }

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: "shop-web-1".into(),
            image: IMAGE.into(),
            labels: labels(),
            networks: vec!["shop_default".into()],
            ..ContainerSpec::default()
        }
    }

    fn run(spec: ContainerSpec) -> Command {
        Command::RunContainer {
            spec: Box::new(spec),
        }
    }

    /// An engine with the image pulled and the app's network in place.
    fn engine() -> FakeEngine {
        let engine = FakeEngine::new();
        engine.add_local_image(IMAGE);
        engine.add_image(IMAGE);
        engine
    }

    async fn exec(engine: &FakeEngine, command: Command) -> (CommandResult, Vec<Progress>) {
        let mut progress = Vec::new();
        let result = execute(engine, &command, |p| progress.push(p)).await;
        (result, progress)
    }

    async fn ok(engine: &FakeEngine, command: Command) -> Value {
        match exec(engine, command.clone()).await.0 {
            CommandResult::Ok { output } => output,
            other => panic!("{command:?} gave {other:?}"),
        }
    }

    async fn error(engine: &FakeEngine, command: Command) -> String {
        match exec(engine, command.clone()).await.0 {
            CommandResult::Error { message } => message,
            other => panic!("{command:?} gave {other:?}, expected an error"),
        }
    }

    async fn ensure_network(engine: &FakeEngine) {
        ok(
            engine,
            Command::EnsureNetwork {
                name: "shop_default".into(),
                labels: labels(),
            },
        )
        .await;
    }

    #[tokio::test]
    async fn unknown_commands_are_unsupported() {
        let (result, _) = exec(&engine(), Command::Unknown).await;
        assert_eq!(result, CommandResult::Unsupported);
    }

    #[tokio::test]
    async fn pulls_report_progress_and_sort_their_failures() {
        let engine = FakeEngine::new();
        let auth = RegistryAuth {
            username: "license-7".into(),
            password: "hunter2-secret".into(),
        };
        engine.add_private_image(IMAGE, auth.clone());

        let (result, progress) = exec(
            &engine,
            Command::PullImage {
                reference: IMAGE.into(),
                auth: Some(auth.clone()),
            },
        )
        .await;
        assert_eq!(
            result,
            CommandResult::Ok {
                output: serde_json::json!({ "reference": IMAGE })
            }
        );
        assert!(
            matches!(progress.last(), Some(Progress::Pull { status, .. }) if status.contains("Pull complete"))
        );
        assert!(engine.has_image(IMAGE));

        let wrong = RegistryAuth {
            password: "not-it-either".into(),
            ..auth.clone()
        };
        let message = error(
            &engine,
            Command::PullImage {
                reference: IMAGE.into(),
                auth: Some(wrong),
            },
        )
        .await;
        assert!(
            message.contains("unauthorized") && message.contains(IMAGE),
            "{message}"
        );
        assert!(!message.contains("not-it-either") && !message.contains("hunter2"));

        let missing = "registry.test:9874/shop/gone:1";
        let message = error(
            &engine,
            Command::PullImage {
                reference: missing.into(),
                auth: None,
            },
        )
        .await;
        assert!(
            message.contains("not found") && message.contains(missing),
            "{message}"
        );
        // Calls are recorded without the password.
        assert!(!format!("{:?}", engine.calls()).contains("hunter2"));
    }

    #[tokio::test]
    async fn networks_and_volumes_are_ensured_once() {
        let engine = engine();
        let first = ok(
            &engine,
            Command::EnsureNetwork {
                name: "shop_default".into(),
                labels: labels(),
            },
        )
        .await;
        let again = ok(
            &engine,
            Command::EnsureNetwork {
                name: "shop_default".into(),
                labels: labels(),
            },
        )
        .await;
        assert_eq!(first, again);
        assert_eq!(first["name"], "shop_default");
        ok(
            &engine,
            Command::EnsureVolume {
                name: "shop_data".into(),
                labels: labels(),
            },
        )
        .await;
        ok(
            &engine,
            Command::EnsureVolume {
                name: "shop_data".into(),
                labels: labels(),
            },
        )
        .await;
        assert!(engine.has_network("shop_default") && engine.has_volume("shop_data"));
    }

    #[tokio::test]
    async fn run_is_idempotent_and_replaces_a_changed_spec() {
        let engine = engine();
        ensure_network(&engine).await;

        let created = ok(&engine, run(spec())).await;
        assert_eq!(created["action"], "created");
        let again = ok(&engine, run(spec())).await;
        assert_eq!(again["action"], "unchanged");
        assert_eq!(again["id"], created["id"]);

        let mut changed = spec();
        changed.env.insert("MODE".into(), "fast".into());
        let replaced = ok(&engine, run(changed.clone())).await;
        assert_eq!(replaced["action"], "replaced");
        assert_ne!(replaced["id"], created["id"]);

        // A stopped container with the same spec is started again, not recreated.
        engine.exit(&changed.name, 1);
        let started = ok(&engine, run(changed)).await;
        assert_eq!(started["action"], "started");
        assert_eq!(started["id"], replaced["id"]);
    }

    #[tokio::test]
    async fn bad_specs_and_foreign_containers_are_refused() {
        let engine = engine();
        ensure_network(&engine).await;
        let mut unlabelled = spec();
        unlabelled.labels.remove("outpost.release");
        let message = error(&engine, run(unlabelled)).await;
        assert!(message.contains("outpost.release"), "{message}");
        assert!(engine.list(&BTreeMap::new()).await.unwrap().is_empty());

        engine.add_unmanaged_container("shop-web-1", "nginx");
        let message = error(&engine, run(spec())).await;
        assert!(message.contains("not created by Outpost"), "{message}");
        let message = error(
            &engine,
            Command::RemoveContainer {
                name: "shop-web-1".into(),
            },
        )
        .await;
        assert!(message.contains("not created by Outpost"), "{message}");
        let message = error(
            &engine,
            Command::StopContainer {
                name: "shop-web-1".into(),
                timeout_secs: 1,
            },
        )
        .await;
        assert!(message.contains("not created by Outpost"), "{message}");
        assert_eq!(
            engine.inspect("shop-web-1").await.unwrap().state,
            RunState::Running
        );
    }

    #[tokio::test]
    async fn missing_images_and_networks_fail_the_run() {
        let engine = FakeEngine::new();
        let message = error(
            &engine,
            run(ContainerSpec {
                networks: vec![],
                ..spec()
            }),
        )
        .await;
        assert!(
            message.contains("No such image") && message.contains("shop-web-1"),
            "{message}"
        );
        engine.add_local_image(IMAGE);
        let message = error(&engine, run(spec())).await;
        assert!(message.contains("shop_default"), "{message}");
    }

    #[tokio::test]
    async fn inspect_list_stop_and_remove() {
        let engine = engine();
        ensure_network(&engine).await;
        let mut web = spec();
        web.healthcheck = Some(Healthcheck {
            test: vec!["CMD".into(), "true".into()],
            interval_ms: 1000,
            timeout_ms: 1000,
            retries: 3,
            start_period_ms: 0,
        });
        ok(&engine, run(web)).await;
        let mut worker = spec();
        worker.name = "shop-worker-1".into();
        worker
            .labels
            .insert("outpost.service".into(), "worker".into());
        ok(&engine, run(worker)).await;

        let state = ok(
            &engine,
            Command::InspectContainer {
                name: "shop-web-1".into(),
            },
        )
        .await;
        assert_eq!(state["state"], "running");
        assert_eq!(state["health"], "starting");
        assert_eq!(state["labels"]["outpost.app"], "shop");
        assert_eq!(state["image"], IMAGE);
        engine.set_health("shop-web-1", Some(Health::Healthy));
        let state = ok(
            &engine,
            Command::InspectContainer {
                name: "shop-web-1".into(),
            },
        )
        .await;
        assert_eq!(state["health"], "healthy");

        let all = ok(
            &engine,
            Command::ListContainers {
                labels: BTreeMap::from([("outpost.app".into(), "shop".into())]),
            },
        )
        .await;
        assert_eq!(all["containers"].as_array().unwrap().len(), 2);
        let workers = ok(
            &engine,
            Command::ListContainers {
                labels: BTreeMap::from([("outpost.service".into(), "worker".into())]),
            },
        )
        .await;
        assert_eq!(workers["containers"][0]["name"], "shop-worker-1");

        ok(
            &engine,
            Command::StopContainer {
                name: "shop-web-1".into(),
                timeout_secs: 3,
            },
        )
        .await;
        assert!(engine.calls().contains(&Call::Stop {
            name: "shop-web-1".into(),
            timeout: Duration::from_secs(3)
        }));
        let state = ok(
            &engine,
            Command::InspectContainer {
                name: "shop-web-1".into(),
            },
        )
        .await;
        assert_eq!(state["state"], "exited");
        assert_eq!(state["exit_code"], 0);

        let removed = ok(
            &engine,
            Command::RemoveContainer {
                name: "shop-web-1".into(),
            },
        )
        .await;
        assert_eq!(removed["removed"], true);
        let removed = ok(
            &engine,
            Command::RemoveContainer {
                name: "shop-web-1".into(),
            },
        )
        .await;
        assert_eq!(removed["removed"], false);
        let message = error(
            &engine,
            Command::InspectContainer {
                name: "shop-web-1".into(),
            },
        )
        .await;
        assert!(
            message.contains("no container named \"shop-web-1\""),
            "{message}"
        );
        let message = error(
            &engine,
            Command::StopContainer {
                name: "shop-web-1".into(),
                timeout_secs: 3,
            },
        )
        .await;
        assert!(message.contains("shop-web-1"), "{message}");
    }

    #[tokio::test]
    async fn logs_tail_and_follow_as_progress() {
        let engine = engine();
        ensure_network(&engine).await;
        ok(&engine, run(spec())).await;
        for n in 1..=3 {
            engine.write_log("shop-web-1", StdStream::Stdout, &format!("line {n}"));
        }
        engine.write_log("shop-web-1", StdStream::Stderr, "oops");

        let (result, progress) = exec(
            &engine,
            Command::Logs {
                name: "shop-web-1".into(),
                tail: Some(2),
                follow: false,
            },
        )
        .await;
        assert_eq!(
            result,
            CommandResult::Ok {
                output: serde_json::json!({ "lines": 2 })
            }
        );
        assert_eq!(
            progress,
            [
                Progress::LogLine {
                    stream: "stdout".into(),
                    line: "line 3".into()
                },
                Progress::LogLine {
                    stream: "stderr".into(),
                    line: "oops".into()
                },
            ]
        );

        // Following delivers lines written later, and ends when the container stops.
        let mut followed = Vec::new();
        let command = Command::Logs {
            name: "shop-web-1".into(),
            tail: Some(0),
            follow: true,
        };
        let (result, ()) = tokio::join!(execute(&engine, &command, |p| followed.push(p)), async {
            engine.write_log("shop-web-1", StdStream::Stdout, "later");
            tokio::task::yield_now().await;
            engine.set_state("shop-web-1", RunState::Exited);
        });
        assert_eq!(
            result,
            CommandResult::Ok {
                output: serde_json::json!({ "lines": 1 })
            }
        );
        assert_eq!(
            followed,
            [Progress::LogLine {
                stream: "stdout".into(),
                line: "later".into()
            }]
        );

        let message = error(
            &engine,
            Command::Logs {
                name: "nope".into(),
                tail: None,
                follow: false,
            },
        )
        .await;
        assert!(message.contains("\"nope\""), "{message}");
    }

    #[tokio::test]
    async fn registry_cas_are_checked_before_they_are_trusted() {
        let engine = engine();
        let message = error(
            &engine,
            Command::TrustRegistryCa {
                host: "../../etc:9874".into(),
                ca_pem: "x".into(),
            },
        )
        .await;
        assert!(message.contains("invalid registry host"), "{message}");
        let message = error(
            &engine,
            Command::TrustRegistryCa {
                host: "10.0.0.5:9874".into(),
                ca_pem: "not a cert".into(),
            },
        )
        .await;
        assert!(message.contains("no PEM certificate"), "{message}");
        assert_eq!(engine.trusted_ca("10.0.0.5:9874"), None);

        let key = rcgen::KeyPair::generate().unwrap();
        let pem = rcgen::CertificateParams::new(vec!["console".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .pem();
        let output = ok(
            &engine,
            Command::TrustRegistryCa {
                host: "10.0.0.5:9874".into(),
                ca_pem: pem.clone(),
            },
        )
        .await;
        assert_eq!(output["path"], "/etc/docker/certs.d/10.0.0.5:9874/ca.crt");
        assert_eq!(engine.trusted_ca("10.0.0.5:9874"), Some(pem));
    }

    #[tokio::test]
    async fn engine_failures_name_the_operation_and_target() {
        let engine = engine();
        engine.fail_next(
            Operation::CreateNetwork,
            "pool overlaps with other one on this address space",
        );
        let message = error(
            &engine,
            Command::EnsureNetwork {
                name: "shop_default".into(),
                labels: labels(),
            },
        )
        .await;
        assert_eq!(message, "creating network \"shop_default\" failed: pool overlaps with other one on this address space");

        ensure_network(&engine).await;
        engine.fail_next(Operation::StartContainer, "port is already allocated");
        let message = error(&engine, run(spec())).await;
        assert!(
            message
                .starts_with("starting container \"shop-web-1\" failed: port is already allocated"),
            "{message}"
        );
        // A container that failed to start is not left behind.
        assert!(engine.list(&BTreeMap::new()).await.unwrap().is_empty());
        assert_eq!(ok(&engine, run(spec())).await["action"], "created");
    }
}
