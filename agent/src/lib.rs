//! `outpost-agent`: the node agent. It dials the console over mutual TLS on :9879, reports
//! host facts and drives the local Docker engine through bollard (see ARCHITECTURE.md).
//! `protocol` holds the wire types the console shares.

pub mod engine;
pub mod facts;
pub mod link;
pub mod protocol;
pub mod run;

/// The agent's version, reported to the console.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
