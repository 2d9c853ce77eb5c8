//! The agent's link to the console (docs/CLUSTER.md): joining with a token
//! ([`join`](mod@join)), the identity kept in the data dir ([`identity`]), and the
//! connected session with heartbeats, commands, facts, renewal and reconnects ([`connect`]).
//!
//! The link knows no container engine: commands run through the [`CommandRunner`] and facts
//! come from the [`FactsSource`] the caller provides (`crate::run` plugs in the engine).

pub mod backoff;
mod commands;
pub mod connect;
pub mod console_url;
mod http;
pub mod identity;
pub mod join;
pub mod renew;
mod tls;

pub use commands::{CommandRunner, FactsSource, ProgressSink};
pub use connect::{maintain, LinkConfig, LinkError, LinkStatus, Services};
pub use console_url::ConsoleUrl;
pub use identity::{Identity, IdentityError};
pub use join::{join, JoinConfig, JoinError, JoinToken};
