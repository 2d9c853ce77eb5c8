//! The subcommands of `outpost-airgap`, one module each with one function per subcommand;
//! `bin/outpost-airgap.rs` parses the arguments and dispatches. [`CliError`] decides the
//! exit code:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | the operation failed or was refused (a key or rotation would be overwritten, a publication breaks the channel's rules, the vendor dir is busy, a write failed, the server stopped with an error) |
//! | 2 | bad usage or input (arguments, an unreadable file, a bad key file) |
//! | 10–19 | a signed document did not verify: [`VerifyError::exit_code`], one code per reason |

pub mod channel;
pub mod key;
pub mod keygen;
pub mod license;
pub mod release;
pub mod serve;
pub mod verify;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::envelope::VerifyError;
use crate::keys::KeyError;
use crate::serve::ServeError;
use crate::vendor::VendorError;

/// Exit code: the operation failed or was refused.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage or input (also what clap uses for bad arguments).
pub const EXIT_USAGE: u8 = 2;

/// Why a subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A document did not verify; exits with the reason's own code.
    #[error("{0}")]
    Verify(#[from] VerifyError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An argument or input value that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// The operation would break a rule (overwrite a key, ...).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Vendor(#[from] VendorError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl CliError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Verify(reason) => reason.exit_code(),
            CliError::Key(KeyError::Write { .. }) => EXIT_FAILED,
            CliError::Key(KeyError::Read { .. } | KeyError::Format { .. })
            | CliError::Key(KeyError::Invalid { .. }) => EXIT_USAGE,
            CliError::Read { .. } | CliError::Invalid(_) => EXIT_USAGE,
            CliError::Refused(_) | CliError::Io { .. } => EXIT_FAILED,
            CliError::Vendor(VendorError::Verify { source, .. }) => source.exit_code(),
            CliError::Vendor(VendorError::UnsafeName { .. } | VendorError::UnsafeKeyId(_)) => {
                EXIT_USAGE
            }
            CliError::Vendor(
                VendorError::Read { .. }
                | VendorError::KeyFile { .. }
                | VendorError::Write { .. }
                | VendorError::Locked(_)
                | VendorError::Refused(_),
            ) => EXIT_FAILED,
            CliError::Serve(
                ServeError::Root { .. } | ServeError::RootNotFolder(_) | ServeError::Tls { .. },
            ) => EXIT_USAGE,
            CliError::Serve(ServeError::Bind { .. }) => EXIT_FAILED,
        }
    }
}

/// `text` with control characters escaped, so a hostile document cannot drive the
/// terminal through an error message or a summary.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads a document file of at most `limit` bytes. A larger file reads as `limit + 1`
/// bytes, so the envelope parser reports it too large without reading it all.
fn read_document(path: &Path, limit: usize) -> Result<Vec<u8>, CliError> {
    let error = |source| CliError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(error)?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(error)?;
    Ok(bytes)
}

/// The current time, whole seconds: documents carry no sub-second noise.
fn now() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_control_characters() {
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("line\nnext\r"), "line\nnext\\r");
        assert_eq!(printable("Zürich"), "Zürich");
    }

    #[test]
    fn every_verification_failure_keeps_its_own_code() {
        let error = CliError::from(VerifyError::BadSignature { keyid: "k".into() });
        assert_eq!(error.exit_code(), 16);
        let error = CliError::from(VendorError::Verify {
            what: "x".into(),
            source: VerifyError::Expired {
                kind: "license",
                at: "t".into(),
            },
        });
        assert_eq!(error.exit_code(), 18);
    }
}
