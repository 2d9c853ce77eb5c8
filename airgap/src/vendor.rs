//! The vendor directory that `channel publish` writes and `serve` reads.
