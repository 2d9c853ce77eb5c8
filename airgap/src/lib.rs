//! `outpost-airgap`: the release format and the vendor's tool. Keys, DSSE envelopes and
//! the typed documents that travel from vendor to customer (license, release, channel
//! index, key rotation). Pure library code here does no network I/O.

pub mod app;
pub mod channel;
pub mod cli;
pub mod document;
pub mod envelope;
pub mod keys;
pub mod license;
pub mod registry;
pub mod release;
pub mod rotation;
pub mod serve;
pub mod vendor;

pub use document::{open, seal, Document};
pub use envelope::{Envelope, VerifyError};
pub use keys::{PublicKey, SigningKey};

/// The tool's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
