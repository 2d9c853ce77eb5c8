//! `outpostctl`: the scriptable CLI. It talks to the running console over the root-only
//! control socket in the data dir.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use outpost_console::control::{self, protocol::Request, protocol::Response};

/// `println!` that ends the program quietly when stdout is a closed pipe
/// (`outpostctl app history | head`), as other command-line tools do, instead of panicking.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

#[derive(Parser)]
#[command(
    name = "outpostctl",
    version,
    about = "Control a running Outpost console"
)]
struct Cli {
    /// The console's data dir (where console.sock is).
    #[arg(long, env = "OUTPOST_DATA_DIR", default_value = outpost_console::config::DEFAULT_DATA_DIR, global = true)]
    data_dir: PathBuf,
    /// Print the console's answer as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the console's version, URL, uptime and certificate.
    Status,
    /// Issue a fresh one-time setup link to set a new admin password (ends all sessions
    /// when used; earlier links stop working).
    ResetPassword,
    /// The vendor's license.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Signed releases of the licensed app (lists them without a subcommand).
    Release {
        #[command(subcommand)]
        command: Option<ReleaseCommand>,
    },
    /// The cluster's nodes (lists them without a subcommand).
    Nodes {
        #[command(subcommand)]
        command: Option<NodesCommand>,
    },
    /// The vendor's app: status, start/stop/restart, logs, preflight, deploy, history,
    /// rollback (status without a subcommand).
    App {
        #[command(subcommand)]
        command: Option<AppCommand>,
    },
    /// Registry settings for image pulls (shows them without a subcommand).
    Registries {
        #[command(subcommand)]
        command: Option<RegistriesCommand>,
    },
    /// Updates from the vendor's api host: where they stand (list, the default), or check
    /// now.
    Updates {
        #[command(subcommand)]
        command: Option<UpdatesCommand>,
    },
    /// The network requirements report: inbound ports per host role and outbound hosts per
    /// purpose, each checked live.
    Network,
    /// The outbound settings (update schedule, airgap mode, proxy): shows them, or changes
    /// those given.
    Settings {
        /// `every 1h` (s, m, h or d), `cron 0 3 * * *` (UTC), or `off`.
        #[arg(long, value_name = "SCHEDULE")]
        update_schedule: Option<String>,
        /// Airgap mode: no connection outside the install at all.
        #[arg(long, value_name = "on|off", value_parser = parse_on_off)]
        airgap: Option<bool>,
        /// The proxy for the api host (http://[user:password@]host:port); empty clears it
        /// (then HTTPS_PROXY of the console's environment applies, if set).
        #[arg(long, value_name = "URL")]
        https_proxy: Option<String>,
        /// Hosts that bypass the proxy (comma-separated names, domains, IPs, CIDRs).
        #[arg(long, value_name = "LIST")]
        no_proxy: Option<String>,
    },
    /// The outbound log: every request the console sent out of the install, newest first
    /// (what was sent, with secrets masked, and how it ended).
    Outbound {
        /// How many entries (1-500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Only entries older than this id (the `next` id printed under a full page).
        #[arg(long, value_name = "ID")]
        before: Option<i64>,
    },
}

#[derive(Subcommand)]
enum AppCommand {
    /// Each service's containers: node, state, health, restarts.
    Status,
    /// Start the installed release's containers (dependencies first).
    Start,
    /// Stop every container of the app (dependents first).
    Stop,
    /// Stop, then start.
    Restart,
    /// The last lines of a service's container.
    Logs {
        service: String,
        /// Which replica (from 1).
        #[arg(long, default_value_t = 1)]
        replica: u32,
        /// How many lines (1-5000).
        #[arg(long, default_value_t = 200)]
        tail: u32,
    },
    /// Run preflight for a release (default: the newest loaded).
    Preflight { sequence: Option<u64> },
    /// Deploy (or update to) a release with the current config; prints the deployment id
    /// (follow it with `app history ID`).
    Deploy {
        sequence: u64,
        /// Deploy although preflight fails (recorded in the audit log).
        #[arg(long)]
        override_preflight: bool,
    },
    /// The version history, or one deployment with its steps.
    History {
        id: Option<i64>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Redeploy an earlier successful deployment's release and config.
    Rollback { deployment_id: i64 },
}

#[derive(Subcommand)]
enum UpdatesCommand {
    /// The state, the releases newer than the installed one, the advisories that affect
    /// it, the schedule and the recent checks.
    List,
    /// Sync the license and check the channel for new releases now.
    Check,
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{text:?} is not on or off")),
    }
}

#[derive(Subcommand)]
enum RegistriesCommand {
    /// Replace the mirror/rewrite rules (credentials are kept), e.g.
    /// `docker.io=mirror.corp:5000 quay.io/acme=registry.corp/acme`.
    Rules {
        #[arg(value_name = "FROM=TO")]
        rules: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ReleaseCommand {
    /// Verify and load a signed release file (for an airgapped or manual install).
    Load { file: PathBuf },
    /// Fetch the licensed channel's releases from the vendor's api host (each request is
    /// written to the outbound log).
    Fetch,
}

/// The format's own limit on a release file.
const MAX_RELEASE_FILE: u64 = 16 * 1024 * 1024;

#[derive(Subcommand)]
enum NodesCommand {
    /// Make a one-time join token and print the command to run on the new node.
    JoinToken {
        /// How long the token works (e.g. 15m, 1h, 24h).
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// A label the new node gets (k=v), repeatable.
        #[arg(long = "label", value_name = "K=V")]
        labels: Vec<String>,
    },
    /// Set a node's labels (replacing them all).
    Label {
        node: String,
        #[arg(value_name = "K=V")]
        labels: Vec<String>,
    },
    /// Remove a node: its certificate is revoked and its agent refused.
    Remove { node: String },
}

#[derive(Subcommand)]
enum LicenseCommand {
    /// Verify and load a license file. The first license pins the vendor's key: pass the
    /// fingerprint the vendor gave you with --trust-key once you have compared it.
    Load {
        file: PathBuf,
        /// The vendor key fingerprint you confirmed (first load only).
        #[arg(long, value_name = "FINGERPRINT")]
        trust_key: Option<String>,
    },
    /// Show the loaded license.
    Show,
    /// Take over a new vendor key: a rotation document signed by the pinned key (online
    /// installs follow the api host's rotations by themselves).
    RotateKey { file: PathBuf },
}

/// A license file is at most 64 KiB; anything much larger is not one.
const MAX_LICENSE_FILE: u64 = 128 * 1024;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let request = match cli.command {
        Command::Status => Request::Status,
        Command::ResetPassword => Request::ResetPassword,
        Command::License(LicenseCommand::Show) => Request::ShowLicense,
        Command::License(LicenseCommand::RotateKey { file }) => {
            match read_bounded(&file, MAX_LICENSE_FILE) {
                Ok(rotation) => Request::RotateKey { rotation },
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::FAILURE;
                }
            }
        }
        Command::Release { command: None } => Request::ListReleases,
        Command::Release {
            command: Some(ReleaseCommand::Fetch),
        } => Request::FetchReleases,
        Command::Updates { command } => match command.unwrap_or(UpdatesCommand::List) {
            UpdatesCommand::List => Request::Updates,
            UpdatesCommand::Check => Request::UpdatesCheck,
        },
        Command::Network => Request::Network,
        Command::Settings {
            update_schedule,
            airgap,
            https_proxy,
            no_proxy,
        } => Request::OutboundSettings {
            update_schedule,
            airgap_mode: airgap,
            https_proxy,
            no_proxy,
        },
        Command::Outbound { limit, before } => Request::Outbound {
            limit: Some(limit),
            before,
        },
        Command::Release {
            command: Some(ReleaseCommand::Load { file }),
        } => match read_bounded(&file, MAX_RELEASE_FILE) {
            Ok(release) => Request::LoadRelease { release },
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::FAILURE;
            }
        },
        Command::App { command } => match command.unwrap_or(AppCommand::Status) {
            AppCommand::Status => Request::AppStatus,
            AppCommand::Start => Request::AppStart,
            AppCommand::Stop => Request::AppStop,
            AppCommand::Restart => Request::AppRestart,
            AppCommand::Logs {
                service,
                replica,
                tail,
            } => Request::AppLogs {
                service,
                replica,
                tail,
            },
            AppCommand::Preflight { sequence } => Request::Preflight { sequence },
            AppCommand::Deploy {
                sequence,
                override_preflight,
            } => Request::Deploy {
                sequence,
                override_preflight,
            },
            AppCommand::History { id, limit } => Request::Deployments { id, limit },
            AppCommand::Rollback { deployment_id } => Request::Rollback { deployment_id },
        },
        Command::Registries { command: None } => Request::Registries,
        Command::Registries {
            command: Some(RegistriesCommand::Rules { rules }),
        } => Request::SetRegistryRules { rules },
        Command::Nodes { command: None } => Request::ListNodes,
        Command::Nodes {
            command: Some(NodesCommand::Remove { node }),
        } => Request::RemoveNode { node },
        Command::Nodes {
            command: Some(NodesCommand::JoinToken { ttl, labels }),
        } => match parse_labels(&labels) {
            Ok(labels) => Request::JoinToken {
                ttl: Some(ttl),
                labels,
            },
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        },
        Command::Nodes {
            command: Some(NodesCommand::Label { node, labels }),
        } => match parse_labels(&labels) {
            Ok(labels) => Request::SetNodeLabels { node, labels },
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        },
        Command::License(LicenseCommand::Load { file, trust_key }) => {
            match read_bounded(&file, MAX_LICENSE_FILE) {
                Ok(license) => Request::LoadLicense { license, trust_key },
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let response = match runtime.block_on(control::call(&cli.data_dir, &request)) {
        Ok(response) => response,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&response).unwrap_or_default()
        );
        return match response {
            Response::Error { .. } => ExitCode::FAILURE,
            _ => ExitCode::SUCCESS,
        };
    }
    match response {
        Response::View { kind, view } => {
            print_view(&kind, &view);
            ExitCode::SUCCESS
        }
        Response::Status(status) => {
            println!("version:          {}", status.version);
            println!("url:              {}", status.url);
            println!(
                "uptime:           {}",
                human_duration(status.uptime_seconds)
            );
            println!(
                "admin:            {}",
                if status.admin_configured {
                    "configured"
                } else {
                    "not set up yet"
                }
            );
            println!("schema version:   {}", status.schema_version);
            println!("tls subject:      {}", status.tls_subject);
            println!("tls fingerprint:  {}", status.tls_fingerprint_sha256);
            println!("tls expires:      {}", status.tls_not_after);
            ExitCode::SUCCESS
        }
        Response::SetupLink { url } => {
            println!("Setup link: {url}");
            println!("It works once and expires in 24 h; earlier links no longer work.");
            ExitCode::SUCCESS
        }
        Response::KeyConfirmationRequired {
            fingerprint,
            customer,
            app_id,
        } => {
            eprintln!("This is the first license (customer {customer:?}, app {app_id}).");
            eprintln!("It is signed by the vendor key with fingerprint:");
            eprintln!("  {fingerprint}");
            eprintln!("Compare it with the fingerprint your vendor gave you; if they match, run again with");
            eprintln!("  --trust-key {fingerprint}");
            ExitCode::from(3)
        }
        Response::License { license: None } => {
            println!("No license is loaded.");
            ExitCode::SUCCESS
        }
        Response::License {
            license: Some(license),
        } => {
            println!("license id:       {}", license.license_id);
            println!("customer:         {}", license.customer);
            println!("app:              {}", license.app_id);
            println!("channel:          {}", license.channel);
            println!("expires:          {}", license.expires_at);
            println!(
                "airgap allowed:   {}",
                if license.airgap { "yes" } else { "no" }
            );
            match license.max_nodes {
                Some(n) => println!("max nodes:        {n}"),
                None => println!("max nodes:        unlimited"),
            }
            if let Some(host) = &license.api_host {
                println!("api host:         {host}");
            }
            if let Some(user) = &license.registry_username {
                println!("registry user:    {user}");
            }
            for (key, value) in &license.entitlements {
                println!("entitlement:      {key} = {value}");
            }
            println!("vendor key:       {}", license.vendor_key_fingerprint);
            ExitCode::SUCCESS
        }
        Response::Nodes { nodes } => {
            if nodes.is_empty() {
                println!(
                    "No nodes have joined yet. Make a token with: outpostctl nodes join-token"
                );
                return ExitCode::SUCCESS;
            }
            println!(
                "{:<18} {:<24} {:<8} {:<26} {:<22} LABELS",
                "ID", "HOSTNAME", "STATUS", "LAST SEEN", "DOCKER"
            );
            for node in nodes {
                let labels: Vec<String> = node
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                println!(
                    "{:<18} {:<24} {:<8} {:<26} {:<22} {}",
                    node.id,
                    node.hostname,
                    node.status,
                    node.last_seen_at.unwrap_or_else(|| "never".into()),
                    node.docker_version.unwrap_or_else(|| "-".into()),
                    labels.join(",")
                );
            }
            ExitCode::SUCCESS
        }
        Response::JoinToken {
            token: _,
            command,
            expires_at,
        } => {
            println!("Run this on the new node (the token works once, until {expires_at}):");
            println!();
            println!("  {command}");
            ExitCode::SUCCESS
        }
        Response::Releases { releases } => {
            if releases.is_empty() {
                println!("No release is loaded. Load one with: outpostctl release load FILE");
                return ExitCode::SUCCESS;
            }
            println!(
                "{:<9} {:<12} {:<10} {:<9} {:<7} {:<8} LOADED",
                "SEQUENCE", "VERSION", "CHANNEL", "REQUIRED", "IMAGES", "SOURCE"
            );
            for r in releases {
                println!(
                    "{:<9} {:<12} {:<10} {:<9} {:<7} {:<8} {}",
                    r.sequence,
                    r.version,
                    r.channel,
                    if r.required { "yes" } else { "no" },
                    r.images,
                    r.source,
                    r.loaded_at
                );
            }
            ExitCode::SUCCESS
        }
        Response::Fetched(fetched) => {
            let list = |sequences: &[u64]| {
                if sequences.is_empty() {
                    "none".to_owned()
                } else {
                    sequences
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            println!("channel index:    version {}", fetched.index_version);
            println!("fetched:          {}", list(&fetched.fetched));
            println!("already loaded:   {}", list(&fetched.present));
            if fetched.refused.is_empty() {
                return ExitCode::SUCCESS;
            }
            for refused in &fetched.refused {
                eprintln!(
                    "refused:          sequence {}: {}",
                    refused.sequence, refused.reason
                );
            }
            ExitCode::FAILURE
        }
        Response::Outbound {
            entries,
            next_before,
        } => {
            if entries.is_empty() {
                println!("The console has sent nothing out (within the log's retention).");
                return ExitCode::SUCCESS;
            }
            for entry in entries {
                let outcome = match (entry.status, &entry.error) {
                    (_, Some(error)) => format!("error: {error}"),
                    (Some(status), None) => status.to_string(),
                    (None, None) => "no answer recorded".to_owned(),
                };
                println!(
                    "#{} {} {} {} ({}) -> {} [{} B out, {} B in, {} ms]",
                    entry.id,
                    entry.at,
                    entry.method,
                    entry.url,
                    entry.purpose,
                    outcome,
                    entry.bytes_sent,
                    entry.bytes_received,
                    entry.duration_ms
                );
                if let Some(proxy) = &entry.via_proxy {
                    println!("    via proxy: {proxy}");
                }
                println!("    headers: {}", entry.request_headers);
                if entry.request_fields != "{}" {
                    println!("    fields:  {}", entry.request_fields);
                }
            }
            if let Some(next) = next_before {
                println!("More: outpostctl outbound --before {next}");
            }
            ExitCode::SUCCESS
        }
        Response::Done { message } => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Response::Error { message } => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_labels(pairs: &[String]) -> Result<std::collections::BTreeMap<String, String>, String> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => Err(format!("{pair:?} is not a label; write key=value")),
        })
        .collect()
}

fn read_bounded(path: &std::path::Path, limit: u64) -> Result<String, String> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(limit + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.len() as u64 > limit {
        return Err(format!(
            "{} is larger than {limit} bytes: not a license",
            path.display()
        ));
    }
    Ok(text)
}

fn human_duration(secs: u64) -> String {
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (days, hours) {
        (0, 0) => format!("{minutes}m {}s", secs % 60),
        (0, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h {minutes}m"),
    }
}

/// Prints an app view (the `/api/v1` shapes) for people.
fn print_view(kind: &str, view: &serde_json::Value) {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_string(),
        other => other.to_string(),
    };
    match kind {
        "updates" => print_updates(view),
        "key_rotated" => println!(
            "The vendor key {} is now trusted in place of {}: new licenses, releases and indexes must be signed by it.",
            text(&view["new_keyid"]),
            text(&view["old_keyid"])
        ),
        "update_check" => {
            let check = &view["check"];
            match text(&check["outcome"]).as_str() {
                "ok" => println!("check #{}: {}", text(&check["id"]), text(&check["summary"])),
                _ => println!(
                    "check #{} failed: {}",
                    text(&check["id"]),
                    text(&check["error"])
                ),
            }
            println!();
            print_updates(&view["status"]);
        }
        "outbound_settings" => {
            let (setting, description) = (
                text(&view["update_schedule"]),
                text(&view["schedule_description"]),
            );
            if setting == description {
                println!("update schedule:  {setting}");
            } else {
                println!("update schedule:  {setting} ({description})");
            }
            println!(
                "airgap mode:      {}",
                match view["airgap"].as_str() {
                    Some(why) => format!("on ({why})"),
                    None => "off".to_string(),
                }
            );
            println!("proxy setting:    {}", text(&view["https_proxy"]));
            println!("no proxy:         {}", text(&view["no_proxy"]));
            match view["effective_proxy"].as_str() {
                Some(proxy) => println!(
                    "proxy in use:     {proxy} (from {}; no proxy for: {})",
                    text(&view["proxy_source"]),
                    text(&view["effective_no_proxy"])
                ),
                None => println!("proxy in use:     none (direct connections)"),
            }
        }
        "network" => print_network(view),
        "status" => {
            println!("app:      {}", text(&view["app_id"]));
            println!("state:    {}", text(&view["state"]));
            match view["installed"].as_object() {
                Some(i) => println!(
                    "release:  {} (sequence {}, deployment #{})",
                    text(&i["version"]),
                    text(&i["sequence"]),
                    text(&i["deployment_id"])
                ),
                None => println!("release:  none deployed"),
            }
            if let Some(id) = view["active_deployment"].as_i64() {
                println!("deploying: deployment #{id}");
            }
            for service in view["services"].as_array().into_iter().flatten() {
                println!(
                    "{} ({})",
                    text(&service["service"]),
                    text(&service["state"])
                );
                for r in service["replicas"].as_array().into_iter().flatten() {
                    println!(
                        "  #{} {:<24} {:<10} health {:<9} restarts {:<3} on {}",
                        text(&r["replica"]),
                        text(&r["container"]),
                        text(&r["state"]),
                        text(&r["health"]),
                        text(&r["restarts"]),
                        text(&r["node_name"])
                    );
                }
            }
            for node in view["unreachable"].as_array().into_iter().flatten() {
                println!("not reachable: {}", text(node));
            }
        }
        "logs" => {
            for line in view["lines"].as_array().into_iter().flatten() {
                if line["stream"] == "stderr" {
                    eprintln!("{}", text(&line["line"]));
                } else {
                    println!("{}", text(&line["line"]));
                }
            }
        }
        "preflight" => {
            println!(
                "preflight for {} (sequence {}): {}{}",
                text(&view["version"]),
                text(&view["sequence"]),
                text(&view["outcome"]),
                if view["blocking"] == true {
                    " (blocks deploy)"
                } else {
                    ""
                }
            );
            for r in view["results"].as_array().into_iter().flatten() {
                let on = r["node_name"]
                    .as_str()
                    .map(|n| format!(" on {n}"))
                    .unwrap_or_default();
                println!(
                    "  {:<5} {}{on}: {}",
                    text(&r["outcome"]),
                    text(&r["check"]),
                    text(&r["message"])
                );
            }
        }
        "deployment" => {
            println!(
                "deployment #{}: {} {} (sequence {}) by {}: {}",
                text(&view["id"]),
                text(&view["kind"]),
                text(&view["version"]),
                text(&view["sequence"]),
                text(&view["actor"]),
                text(&view["state"])
            );
            if let Some(message) = view["message"].as_str() {
                println!("  {message}");
            }
            for step in view["steps"].as_array().into_iter().flatten() {
                println!(
                    "  [{:<7}] {:<7} {} on {}{}",
                    text(&step["state"]),
                    text(&step["action"]),
                    text(&step["target"]),
                    text(&step["node_name"]),
                    step["message"]
                        .as_str()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                );
            }
            for event in view["events"].as_array().into_iter().flatten() {
                println!("  {} {}", text(&event["at"]), text(&event["message"]));
            }
        }
        "deployments" => {
            for d in view["deployments"].as_array().into_iter().flatten() {
                println!(
                    "#{:<4} {:<20} {:<15} {:<12} {:<16} config {} by {}",
                    text(&d["id"]),
                    text(&d["started_at"]),
                    text(&d["kind"]),
                    text(&d["version"]),
                    text(&d["state"]),
                    &text(&d["config_hash"]).chars().take(12).collect::<String>(),
                    text(&d["actor"])
                );
                if let Some(message) = d["message"].as_str() {
                    println!("      {message}");
                }
            }
        }
        "registries" => {
            for rule in view["rules"].as_array().into_iter().flatten() {
                println!(
                    "rule        {} -> {}",
                    text(&rule["from"]),
                    text(&rule["to"])
                );
            }
            for c in view["credentials"].as_array().into_iter().flatten() {
                println!(
                    "credentials {} user {} (from the {})",
                    text(&c["host"]),
                    text(&c["username"]),
                    text(&c["source"])
                );
            }
        }
        _ => println!("{}", serde_json::to_string_pretty(view).unwrap_or_default()),
    }
}

fn field(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

fn print_updates(view: &serde_json::Value) {
    let text = field;
    println!("state:        {}", text(&view["state"]));
    println!("              {}", text(&view["message"]));
    match view["installed"].as_object() {
        Some(i) => println!(
            "installed:    {} (sequence {})",
            text(&i["version"]),
            text(&i["sequence"])
        ),
        None => println!("installed:    nothing deployed"),
    }
    println!(
        "schedule:     {} (next check {})",
        text(&view["schedule"]["description"]),
        text(&view["next_check_at"])
    );
    if let Some(index) = view["index"].as_object() {
        println!(
            "index:        version {}, expires {}{}",
            text(&index["version"]),
            text(&index["expires_at"]),
            if index["expired"].as_bool() == Some(true) {
                " (EXPIRED)"
            } else {
                ""
            }
        );
    }
    let advisories = view["advisories"].as_array().cloned().unwrap_or_default();
    if !advisories.is_empty() {
        println!("advisories affecting the installed release:");
        for a in &advisories {
            let fix = match (a["fixed_in"].as_u64(), a["fixed_in_version"].as_str()) {
                (Some(seq), Some(version)) => format!("fixed in {version} (sequence {seq})"),
                (Some(seq), None) => format!("fixed in sequence {seq}"),
                _ => "no fix released yet".to_string(),
            };
            println!(
                "  {} [{}] {} — {fix}",
                text(&a["id"]),
                text(&a["severity"]),
                text(&a["title"])
            );
        }
    }
    let available = view["available"].as_array().cloned().unwrap_or_default();
    if available.is_empty() {
        println!("available:    none newer than the installed release");
    } else {
        println!("available:");
        for r in &available {
            let mut marks = Vec::new();
            if r["required"].as_bool() == Some(true) {
                marks.push("required".to_string());
            }
            let fixes: Vec<String> = r["fixes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(field)
                .collect();
            if !fixes.is_empty() {
                marks.push(format!("fixes {}", fixes.join(", ")));
            }
            let marks = if marks.is_empty() {
                String::new()
            } else {
                format!(" [{}]", marks.join("; "))
            };
            println!(
                "  {} (sequence {}){marks}: {}",
                text(&r["version"]),
                text(&r["sequence"]),
                text(&r["notes"]).lines().next().unwrap_or("")
            );
        }
    }
    if let Some(last) = view["checks"].as_array().and_then(|c| c.first()) {
        println!(
            "last check:   {} ({}) {}: {}",
            text(&last["finished_at"]),
            text(&last["trigger"]),
            text(&last["outcome"]),
            match last["outcome"].as_str() {
                Some("ok") => text(&last["summary"]),
                _ => text(&last["error"]),
            }
        );
    }
}

fn print_network(view: &serde_json::Value) {
    let text = field;
    if let Some(release) = view["release"].as_object() {
        println!(
            "for release {} (sequence {}{})",
            text(&release["version"]),
            text(&release["sequence"]),
            if release["installed"].as_bool() == Some(true) {
                ", installed"
            } else {
                ", not installed yet"
            }
        );
    }
    if let Some(proxy) = view["proxy"].as_str() {
        println!("the console's requests go through the proxy {proxy}");
    }
    println!("INBOUND");
    println!(
        "  {:<13} {:<10} {:<17} {:<7} PURPOSE (FROM)",
        "ROLE", "PORT", "PROTOCOL", "AIRGAP"
    );
    for row in view["inbound"].as_array().into_iter().flatten() {
        println!(
            "  {:<13} {:<10} {:<17} {:<7} {} ({})",
            text(&row["role"]),
            text(&row["port"]),
            text(&row["protocol"]),
            if row["needed_in_airgap"].as_bool() == Some(true) {
                "needed"
            } else {
                "-"
            },
            text(&row["purpose"]),
            text(&row["from"])
        );
        for check in row["checks"].as_array().into_iter().flatten() {
            println!(
                "      {:<8} {}: {}",
                text(&check["result"]),
                text(&check["on"]),
                text(&check["detail"])
            );
        }
    }
    println!("OUTBOUND");
    match view["airgap"].as_str() {
        Some(why) => println!("  none: airgap mode is on ({why}); nothing leaves the install"),
        None => {
            for row in view["outbound"].as_array().into_iter().flatten() {
                println!(
                    "  {}:{} ({}) from {}: {} [not needed in airgap]",
                    text(&row["host"]),
                    text(&row["port"]),
                    text(&row["protocol"]),
                    text(&row["from"]),
                    text(&row["purpose"])
                );
                println!(
                    "      {:<8} {}",
                    text(&row["check"]["result"]),
                    text(&row["check"]["detail"])
                );
            }
        }
    }
    println!("DOCKER ENGINE PROXIES (the nodes' own setting, used for pulls)");
    for engine in view["engines"].as_array().into_iter().flatten() {
        println!(
            "  {:<20} {:<8} {}",
            text(&engine["node"]),
            text(&engine["check"]["result"]),
            text(&engine["check"]["detail"])
        );
    }
    println!("{} problem(s) found", text(&view["problems"]));
}
