//! `outpost-agent` entry point.

use clap::Parser;

/// The Outpost node agent. Joining and running arrive with the cluster channel.
#[derive(Parser)]
#[command(name = "outpost-agent", version = outpost_agent::VERSION)]
struct Cli {}

fn main() {
    Cli::parse();
    eprintln!(
        "outpost-agent {}: no command given; see --help",
        outpost_agent::VERSION
    );
    std::process::exit(2);
}
