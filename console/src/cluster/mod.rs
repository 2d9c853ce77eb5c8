//! The cluster: the CA that signs node identities, join tokens, and (with the agent
//! channel on :9879) the nodes themselves.

pub mod ca;
pub mod hub;
pub mod service;
pub mod token;

pub use service::{Cluster, ClusterError, Joined};
