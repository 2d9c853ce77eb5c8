//! Three agents on three hosts: each runs in its own network namespace with its own
//! address, joined to the console's host through a bridge. One host is cut off (its link
//! goes down) and reported offline, then healed and back online.
//!
//! Needs root and iproute2; it fails loudly without them. The namespaces, links and bridge
//! are this test's own and are removed on drop.

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use outpost_tests::{binary, Admin, Agent, Console};
use serde_json::json;

/// A bridge on the console's host and network namespaces ("hosts") behind it.
struct TestNetwork {
    bridge: String,
    subnet: String,
    hosts: Vec<String>,
}

fn ip(args: &[&str]) -> Result<()> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .context("running ip (iproute2)")?;
    if !output.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

impl TestNetwork {
    fn create(hosts: usize) -> Result<TestNetwork> {
        let tag = std::process::id() % 10_000;
        let subnet = format!("10.231.{}", 20 + std::process::id() % 200);
        let mut network = TestNetwork {
            bridge: format!("opb{tag}"),
            subnet,
            hosts: Vec::new(),
        };
        ip(&["link", "add", &network.bridge, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("{}.1/24", network.subnet),
            "dev",
            &network.bridge,
        ])?;
        ip(&["link", "set", &network.bridge, "up"])?;
        for n in 1..=hosts {
            let name = format!("op{tag}n{n}");
            let outside = format!("op{tag}h{n}");
            let inside = format!("op{tag}c{n}");
            ip(&["netns", "add", &name])?;
            network.hosts.push(name.clone());
            ip(&[
                "link", "add", &outside, "type", "veth", "peer", "name", &inside,
            ])?;
            ip(&["link", "set", &inside, "netns", &name])?;
            ip(&["link", "set", &outside, "master", &network.bridge])?;
            ip(&["link", "set", &outside, "up"])?;
            let address = format!("{}.{}/24", network.subnet, 10 + n);
            ip(&["-n", &name, "addr", "add", &address, "dev", &inside])?;
            ip(&["-n", &name, "link", "set", &inside, "up"])?;
            ip(&["-n", &name, "link", "set", "lo", "up"])?;
        }
        Ok(network)
    }

    fn console_address(&self) -> String {
        format!("{}.1", self.subnet)
    }

    fn host_address(&self, n: usize) -> String {
        format!("{}.{}", self.subnet, 10 + n)
    }

    /// Cuts host `n` (1-based) off the network, or heals it.
    fn set_link(&self, n: usize, up: bool) -> Result<()> {
        let outside = format!("{}h{n}", self.bridge.replace("opb", "op"));
        ip(&["link", "set", &outside, if up { "up" } else { "down" }])
    }
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        for host in &self.hosts {
            let _ = Command::new("ip").args(["netns", "delete", host]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "delete", &self.bridge])
            .status();
    }
}

#[tokio::test]
async fn three_agents_on_three_hosts_join_and_a_cut_off_host_goes_offline_then_heals() -> Result<()>
{
    let network = TestNetwork::create(3)
        .context("creating network namespaces (this test needs root and iproute2)")?;
    let dir = tempfile::tempdir()?;
    let listen = format!(
        "{}:{}",
        network.console_address(),
        outpost_tests::free_port()
    );
    let console = Console::start_with(&dir.path().join("console"), &["--cluster-listen", &listen])?;
    let admin = Admin::set_up(&console, "multinode test password").await?;
    let console_url = format!("https://{listen}");

    let mut agents = Vec::new();
    let mut ids = Vec::new();
    for (index, host) in network.hosts.iter().enumerate() {
        let n = index + 1;
        let token = admin
            .join_token("1h", json!({"host": format!("h{n}")}))
            .await?;
        let data_dir = dir.path().join(format!("agent-{n}"));
        let agent = Agent::spawn(
            Command::new("ip")
                .args(["netns", "exec", host])
                .arg(binary("outpost-agent"))
                .args(["join", "--console", &console_url, "--token", &token])
                .args(["--hostname", &format!("host-{n}"), "--data-dir"])
                .arg(&data_dir),
            &data_dir,
        )?;
        ids.push(agent.node_id(Duration::from_secs(30)).await?);
        agents.push(agent);
    }

    for (index, id) in ids.iter().enumerate() {
        let node = admin
            .wait_for_status(id, "online", Duration::from_secs(30))
            .await?;
        let n = index + 1;
        assert_eq!(node["hostname"], format!("host-{n}"));
        let facts = outpost_tests::eventually("facts", Duration::from_secs(30), || async {
            admin
                .node(id)
                .await
                .ok()
                .flatten()
                .filter(|n| !n["facts"].is_null())
        })
        .await?;
        let addresses = facts["facts"]["addresses"].to_string();
        assert!(
            addresses.contains(&network.host_address(n)),
            "host {n} reports its own address: {addresses}"
        );
    }

    network.set_link(2, false)?;
    admin
        .wait_for_status(&ids[1], "offline", Duration::from_secs(25))
        .await?;
    for id in [&ids[0], &ids[2]] {
        let node = admin.node(id).await?.context("still listed")?;
        assert_eq!(node["status"], "online", "the other hosts are unaffected");
    }

    network.set_link(2, true)?;
    admin
        .wait_for_status(&ids[1], "online", Duration::from_secs(60))
        .await?;
    drop(agents);
    Ok(())
}
