//! Deploying a release: the plan per node (pure, [`plan`]) and, later, the persisted state machine
//! that sends each node its steps through the agents and records the result.

pub mod plan;
