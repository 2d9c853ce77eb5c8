//! Agents and the console over the real agent channel: real TLS, real processes, the real
//! Docker engine behind each agent. Every wait is bounded.

use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use outpost_tests::{binary, free_port, Admin, Agent, Console};
use serde_json::{json, Value};

const PASSWORD: &str = "cluster test password";
const JOIN: Duration = Duration::from_secs(30);

async fn console_and_admin(dir: &std::path::Path) -> Result<(Console, Admin)> {
    let console = Console::start(&dir.join("console"))?;
    let admin = Admin::set_up(&console, PASSWORD).await?;
    Ok((console, admin))
}

#[tokio::test]
async fn an_agent_joins_reports_facts_and_is_online_in_api_and_cli() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (console, admin) = console_and_admin(dir.path()).await?;
    let token = admin.join_token("1h", json!({"role": "web"})).await?;
    let agent = Agent::join(&console.cluster_url, &token, &dir.path().join("agent"))?;
    let id = agent.node_id(JOIN).await?;

    let node = admin.wait_for_status(&id, "online", JOIN).await?;
    assert_eq!(node["labels"]["role"], "web", "the token's labels");
    let node = outpost_tests::eventually("facts", JOIN, || async {
        admin
            .node(&id)
            .await
            .ok()
            .flatten()
            .filter(|n| !n["facts"].is_null())
    })
    .await?;
    let facts = &node["facts"];
    assert!(!facts["hostname"].as_str().unwrap_or_default().is_empty());
    assert!(facts["cpus"].as_u64().unwrap_or(0) >= 1);
    assert!(facts["memory_bytes"].as_u64().unwrap_or(0) > 0);
    assert!(
        facts["docker"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "the Docker engine answers the agent: {facts}"
    );

    let listed = Command::new(binary("outpostctl"))
        .arg("--data-dir")
        .arg(&console.data_dir)
        .args(["nodes", "--json"])
        .output()?;
    let listed: Value = serde_json::from_slice(&listed.stdout)?;
    let row = listed["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|n| n["id"] == id.as_str()))
        .cloned()
        .expect("outpostctl lists the node");
    assert_eq!(row["status"], "online");

    let (_, audit) = admin.get("/api/v1/audit?limit=50").await?;
    assert!(audit.to_string().contains("node.joined"));
    assert!(
        !audit
            .to_string()
            .contains(token.rsplit('.').next().unwrap()),
        "no secret in the audit log"
    );
    Ok(())
}

#[tokio::test]
async fn a_wrong_ca_hash_is_refused_before_the_secret_is_sent() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (console, admin) = console_and_admin(dir.path()).await?;
    let token = admin.join_token("1h", json!({})).await?;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let flipped = if parts[1].starts_with('0') { "1" } else { "0" };
    parts[1].replace_range(0..1, flipped);
    let forged = parts.join(".");

    let mut agent = Agent::join(&console.cluster_url, &forged, &dir.path().join("forged"))?;
    let code = agent.exit_code(JOIN).await?;
    assert_ne!(code, Some(0));
    assert!(
        agent.stderr().to_lowercase().contains("ca"),
        "the agent says the CA did not match: {}",
        agent.stderr()
    );
    // The secret never reached the console: the same token still admits a node.
    let agent = Agent::join(&console.cluster_url, &token, &dir.path().join("real"))?;
    let id = agent.node_id(JOIN).await?;
    admin.wait_for_status(&id, "online", JOIN).await?;
    let (_, audit) = admin.get("/api/v1/audit?limit=100").await?;
    assert!(!audit.to_string().contains("node.join_refused"));
    Ok(())
}

#[tokio::test]
async fn used_and_expired_tokens_are_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (console, admin) = console_and_admin(dir.path()).await?;
    let token = admin.join_token("1h", json!({})).await?;
    let first = Agent::join(&console.cluster_url, &token, &dir.path().join("first"))?;
    first.node_id(JOIN).await?;

    let mut second = Agent::join(&console.cluster_url, &token, &dir.path().join("second"))?;
    assert_ne!(second.exit_code(JOIN).await?, Some(0));
    assert!(
        second.stderr().contains("already used"),
        "{}",
        second.stderr()
    );

    let short = admin.join_token("1s", json!({})).await?;
    let issued = std::time::Instant::now();
    outpost_tests::eventually("the token's expiry", Duration::from_secs(5), || async {
        (issued.elapsed() > Duration::from_millis(1100)).then_some(())
    })
    .await?;
    let mut late = Agent::join(&console.cluster_url, &short, &dir.path().join("late"))?;
    assert_ne!(late.exit_code(JOIN).await?, Some(0));
    assert!(late.stderr().contains("expired"), "{}", late.stderr());
    Ok(())
}

#[tokio::test]
async fn a_killed_agent_goes_offline_and_returns_as_the_same_node() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (console, admin) = console_and_admin(dir.path()).await?;
    let token = admin.join_token("1h", json!({})).await?;
    let agent_dir = dir.path().join("agent");
    let mut agent = Agent::join(&console.cluster_url, &token, &agent_dir)?;
    let id = agent.node_id(JOIN).await?;
    admin.wait_for_status(&id, "online", JOIN).await?;

    agent.kill();
    admin
        .wait_for_status(&id, "offline", Duration::from_secs(20))
        .await?;

    let again = Agent::run(&agent_dir)?;
    assert_eq!(again.node_id(JOIN).await?, id, "the same identity");
    admin.wait_for_status(&id, "online", JOIN).await?;
    let (_, nodes) = admin.get("/api/v1/nodes").await?;
    assert_eq!(
        nodes["nodes"].as_array().map(Vec::len),
        Some(1),
        "no duplicate node"
    );
    Ok(())
}

#[tokio::test]
async fn agents_reconnect_by_themselves_after_a_console_restart() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("console");
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let mut console = Console::start_with(&data, &["--cluster-listen", &listen])?;
    let admin = Admin::set_up(&console, PASSWORD).await?;
    let mut ids = Vec::new();
    let mut agents = Vec::new();
    for name in ["a", "b"] {
        let token = admin.join_token("1h", json!({})).await?;
        let agent = Agent::join(&console.cluster_url, &token, &dir.path().join(name))?;
        ids.push(agent.node_id(JOIN).await?);
        agents.push(agent);
    }
    console.stop()?;

    let console = Console::start_with(&data, &["--cluster-listen", &listen])?;
    let admin = Admin::log_in(&console, PASSWORD).await?;
    for id in &ids {
        admin
            .wait_for_status(id, "online", Duration::from_secs(60))
            .await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_removed_node_is_refused_and_its_agent_stops() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (console, admin) = console_and_admin(dir.path()).await?;
    let token = admin.join_token("1h", json!({})).await?;
    let agent_dir = dir.path().join("agent");
    let mut agent = Agent::join(&console.cluster_url, &token, &agent_dir)?;
    let id = agent.node_id(JOIN).await?;
    admin.wait_for_status(&id, "online", JOIN).await?;

    let (status, _) = admin
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/nodes/{id}"),
            json!({}),
        )
        .await?;
    assert_eq!(status, 200);
    assert_eq!(
        agent.exit_code(JOIN).await?,
        Some(3),
        "log: {}",
        agent.stderr()
    );
    assert!(admin.node(&id).await?.is_none());

    let mut again = Agent::run(&agent_dir)?;
    assert_eq!(
        again.exit_code(JOIN).await?,
        Some(3),
        "a revoked identity is refused"
    );
    assert!(again.stderr().contains("removed") || again.stdout_contains("removed"));
    Ok(())
}

#[tokio::test]
async fn the_agent_runs_a_container_on_command_and_its_logs_reach_the_console() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (console, admin) = console_and_admin(dir.path()).await?;
    let token = admin.join_token("1h", json!({})).await?;
    let agent = Agent::join(&console.cluster_url, &token, &dir.path().join("agent"))?;
    let id = agent.node_id(JOIN).await?;
    admin.wait_for_status(&id, "online", JOIN).await?;

    let tag = format!("outpost-tests/diagnostic:{}", std::process::id());
    let image = outpost_tests::BusyboxImage::build(&tag)?;
    let name = format!("outpost-diag-{}", std::process::id());
    let _container = outpost_tests::ContainerGuard(name.clone());
    let (status, body) = admin
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/nodes/{id}/containers"),
            json!({
                "name": name,
                "image": image.reference,
                "command": ["sh", "-c", "echo hello-from-the-node; echo second line; sleep 120"],
            }),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    assert!(!body["container_id"].as_str().unwrap_or_default().is_empty());

    let lines = outpost_tests::eventually("the container's logs", JOIN, || async {
        let (status, body) = admin
            .get(&format!(
                "/api/v1/nodes/{id}/containers/{name}/logs?tail=50"
            ))
            .await
            .ok()?;
        (status == 200 && body.to_string().contains("hello-from-the-node")).then_some(body)
    })
    .await?;
    assert!(lines.to_string().contains("second line"));

    let inspect = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{index .Config.Labels \"outpost.app\"}}",
            &name,
        ])
        .output()?;
    assert_eq!(
        String::from_utf8_lossy(&inspect.stdout).trim(),
        "diagnostic"
    );

    let (status, body) = admin
        .get(&format!(
            "/api/v1/nodes/{id}/containers/no-such-container/logs"
        ))
        .await?;
    assert_eq!(status, 502, "a failing command names its cause: {body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("no-such-container"));
    Ok(())
}
