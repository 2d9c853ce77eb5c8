//! Deploying a release: the plan per node (pure, [`plan`]), running it through the agents
//! ([`execute`]), and the persisted state machine around it — one deploy at a time, automatic
//! rollback, resume after a restart, start/stop, status and logs ([`service`]). Registry
//! settings for pulls live in [`registries`].

pub mod execute;
pub mod nodes;
pub mod plan;
pub mod registries;
pub mod service;

pub use registries::Registries;
pub use service::{DeployError, Deployer};
