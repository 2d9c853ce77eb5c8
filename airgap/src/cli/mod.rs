//! The subcommands of `outpost-airgap`, one module each; `bin/outpost-airgap.rs` dispatches.

pub mod release;
