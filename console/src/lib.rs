//! `outpost-console`: the admin console and JSON API on HTTPS :8800, its state store, its
//! audit log and the control socket for `outpostctl`. See ARCHITECTURE.md for the map.

pub mod appconfig;
pub mod audit;
pub mod auth;
pub mod blocking;
pub mod certs;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod control;
pub mod deploy;
pub mod files;
pub mod http;
pub mod license;
pub mod lifecycle;
pub mod network;
pub mod preflight;
pub mod releases;
pub mod state;
pub mod store;
#[cfg(test)]
mod testing;
pub mod updates;
pub mod upstream;

/// The console's version, as reported by the API and the CLI.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
