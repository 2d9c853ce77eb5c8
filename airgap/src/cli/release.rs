//! `outpost-airgap release create`.

use std::path::PathBuf;

/// Arguments of `release create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The app folder (compose.yaml + outpost.yaml).
    #[arg(long)]
    pub app: PathBuf,
    #[arg(long)]
    pub channel: String,
    #[arg(long)]
    pub sequence: u64,
    /// The vendor's private key.
    #[arg(long)]
    pub key: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
}

/// Creates a signed release file.
pub fn create(args: CreateArgs) -> anyhow::Result<()> {
    anyhow::bail!("release create is being written (args: {})", args.app.display())
}
