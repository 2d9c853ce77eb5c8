//! `outpost-airgap`: the release format and the vendor's tool — keys, signed licenses and
//! releases, channel indexes, airgap bundles and a reference api host. This crate holds
//! only its entry point so far; the format arrives with its issue (see ARCHITECTURE.md).

/// The tool's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
