//! `outpostctl`: the scriptable CLI. It talks to the running console over the root-only
//! control socket in the data dir.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use outpost_console::control::{self, protocol::Request, protocol::Response};

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let request = match cli.command {
        Command::Status => Request::Status,
        Command::ResetPassword => Request::ResetPassword,
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
        Response::Error { message } => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn human_duration(secs: u64) -> String {
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (days, hours) {
        (0, 0) => format!("{minutes}m {}s", secs % 60),
        (0, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h {minutes}m"),
    }
}
