//! Deploying a release: the plan per node (pure) and, later, the persisted state machine.
