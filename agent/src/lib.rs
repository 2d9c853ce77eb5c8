//! `outpost-agent`: the node agent. It will dial the console over mutual TLS on :9879,
//! report host facts and drive the local Docker engine through bollard (see
//! ARCHITECTURE.md). This crate holds only its entry point so far.

/// The agent's version, reported to the console.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
