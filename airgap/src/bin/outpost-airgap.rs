//! `outpost-airgap`: the vendor's tool. Parses the arguments, calls the subcommand's
//! function in `outpost_airgap::cli`, and maps its error to the exit code (see `cli`).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use outpost_airgap::cli::{self, channel, key, keygen, license, release, serve, verify, CliError};

/// The Outpost vendor tool: signing keys, licenses, releases, channel indexes, and a
/// reference api host.
#[derive(Parser)]
#[command(name = "outpost-airgap", version = outpost_airgap::VERSION)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the vendor signing key pair and print its fingerprint.
    Keygen(keygen::KeygenArgs),
    /// Signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Licenses.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Releases.
    #[command(subcommand)]
    Release(ReleaseCommand),
    /// Channels of the vendor dir.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Verify a signed document (license, release, channel index, key rotation) and show it.
    Verify(verify::VerifyArgs),
    /// Serve a vendor dir to consoles: the reference api host.
    Serve(serve::ServeArgs),
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Hand signing over to a new key: a rotation document signed by the current key.
    Rotate(key::RotateArgs),
}

#[derive(Subcommand)]
enum LicenseCommand {
    /// Sign a license for a customer.
    Issue(Box<license::IssueArgs>),
    /// Revoke a license stored in the vendor dir (consoles learn it at their next sync).
    Revoke(license::RevokeArgs),
}

#[derive(Subcommand)]
enum ReleaseCommand {
    /// Sign a release of an app folder.
    Create(release::CreateArgs),
}

#[derive(Subcommand)]
enum ChannelCommand {
    /// Publish a signed release on its channel: store it and sign the next index.
    Publish(channel::PublishArgs),
    /// Publish a security advisory in a channel's index.
    Advise(channel::AdviseArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let (name, result): (&str, Result<(), CliError>) = match cli.command {
        Command::Keygen(args) => ("keygen", keygen::keygen(args)),
        Command::Key(KeyCommand::Rotate(args)) => ("key rotate", key::rotate(args)),
        Command::License(LicenseCommand::Issue(args)) => ("license issue", license::issue(*args)),
        Command::License(LicenseCommand::Revoke(args)) => ("license revoke", license::revoke(args)),
        Command::Channel(ChannelCommand::Advise(args)) => ("channel advise", channel::advise(args)),
        Command::Channel(ChannelCommand::Publish(args)) => {
            ("channel publish", channel::publish(args))
        }
        Command::Verify(args) => ("verify", verify::verify(args)),
        Command::Serve(args) => ("serve", serve::serve(args)),
        Command::Release(ReleaseCommand::Create(args)) => {
            return match release::create(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("release create: {}", cli::printable(&format!("{e:#}")));
                    ExitCode::from(cli::EXIT_FAILED)
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {}", cli::printable(&e.to_string()));
            ExitCode::from(e.exit_code())
        }
    }
}

/// Logs go to stderr (coloured only on a terminal); `OUTPOST_LOG_LEVEL` is a filter such as `info` or `debug`.
fn init_logging() {
    let filter = std::env::var("OUTPOST_LOG_LEVEL")
        .ok()
        .and_then(|level| tracing_subscriber::EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
