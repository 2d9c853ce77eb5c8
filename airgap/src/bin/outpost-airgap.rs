//! `outpost-airgap`: the vendor's tool. One function per subcommand.

use clap::Parser;

/// The Outpost vendor tool.
#[derive(Parser)]
#[command(name = "outpost-airgap", version = outpost_airgap::VERSION)]
struct Cli {}

fn main() {
    Cli::parse();
    eprintln!(
        "outpost-airgap {}: no command given; see --help",
        outpost_airgap::VERSION
    );
    std::process::exit(2);
}
