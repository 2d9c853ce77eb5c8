//! The node's identity, kept in its data dir (0700): `agent.key` (the node's private key,
//! 0600, never leaves the host), `agent.crt` (its client certificate), `ca.crt` (the cluster
//! CA, which the console's certificate must chain to) and `node.json`
//! (`{"node_id", "console"}`). Every file is written atomically (temporary file, fsync,
//! rename); a renewed key and certificate are replaced as a pair, so a crash never leaves a
//! key that does not match its certificate.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::console_url::ConsoleUrl;

/// Where the agent keeps its identity unless told otherwise.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/outpost-agent";
pub const KEY_FILE: &str = "agent.key";
pub const CERT_FILE: &str = "agent.crt";
pub const CA_FILE: &str = "ca.crt";
pub const NODE_FILE: &str = "node.json";
/// Pending halves of a renewed key pair (see [`Identity::save_credentials`]).
const NEXT_KEY_FILE: &str = "agent.key.next";
const NEXT_CERT_FILE: &str = "agent.crt.next";

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "{dir} holds no node identity; join this node first: outpost-agent join \
         --console https://HOST:9879 --token TOKEN --data-dir {dir}"
    )]
    NotJoined { dir: PathBuf },
    #[error(
        "the data dir {dir} is open to other users (mode {mode:03o}); make it private: \
         chmod 700 {dir}"
    )]
    NotPrivate { dir: PathBuf, mode: u32 },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{what} is not usable: {reason}")]
    Invalid { what: String, reason: String },
}

/// When a certificate is valid, in Unix seconds (console time: the console issued it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: i64,
    pub not_after: i64,
}

impl Validity {
    /// Half-way through the certificate's life: the agent renews from then on.
    pub fn renew_at(&self) -> i64 {
        self.not_before + (self.not_after - self.not_before) / 2
    }

    pub fn renewal_due(&self, now: i64) -> bool {
        now >= self.renew_at()
    }
}

/// A joined node: who it is, where its console is, and its credentials.
#[derive(Clone)]
pub struct Identity {
    node_id: String,
    console: ConsoleUrl,
    key_pem: String,
    cert_pem: String,
    ca_pem: String,
    validity: Validity,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("node_id", &self.node_id)
            .field("console", &self.console.to_string())
            .field("validity", &self.validity)
            .field("key", &"********")
            .finish()
    }
}

/// `node.json`.
#[derive(Debug, Serialize, Deserialize)]
struct NodeFile {
    node_id: String,
    console: String,
}

impl Identity {
    /// Checks that the parts make one identity: the node id is a plain name, the key
    /// parses, the certificate parses, carries that key and names the node, and the CA
    /// parses.
    pub fn new(
        node_id: &str,
        console: ConsoleUrl,
        key_pem: String,
        cert_pem: String,
        ca_pem: String,
    ) -> Result<Identity, IdentityError> {
        check_node_id(node_id)?;
        let invalid = |what: &str, reason: String| IdentityError::Invalid {
            what: what.to_owned(),
            reason,
        };
        let key = rcgen::KeyPair::from_pem(&key_pem)
            .map_err(|e| invalid("the node key", e.to_string()))?;
        let cert_der = pem_to_der(&cert_pem).map_err(|e| invalid("the node certificate", e))?;
        let (_, cert) = X509Certificate::from_der(&cert_der)
            .map_err(|e| invalid("the node certificate", e.to_string()))?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(invalid(
                "the node certificate",
                "it does not carry the node key".into(),
            ));
        }
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok());
        if common_name != Some(node_id) {
            return Err(invalid(
                "the node certificate",
                format!("it names {common_name:?}, not {node_id}"),
            ));
        }
        let validity = Validity {
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
        };
        let ca_der = pem_to_der(&ca_pem).map_err(|e| invalid("the cluster CA", e))?;
        X509Certificate::from_der(&ca_der).map_err(|e| invalid("the cluster CA", e.to_string()))?;
        Ok(Identity {
            node_id: node_id.to_owned(),
            console,
            key_pem,
            cert_pem,
            ca_pem,
            validity,
        })
    }

    /// Loads the identity from `dir`, finishing a key replacement a crash interrupted.
    pub fn load(dir: &Path) -> Result<Identity, IdentityError> {
        let node_path = dir.join(NODE_FILE);
        if !node_path.is_file() {
            return Err(IdentityError::NotJoined {
                dir: dir.to_owned(),
            });
        }
        check_private(dir)?;
        recover_credentials(dir)?;
        let node: NodeFile =
            serde_json::from_str(&read(&node_path)?).map_err(|e| IdentityError::Invalid {
                what: node_path.display().to_string(),
                reason: e.to_string(),
            })?;
        let console = ConsoleUrl::parse(&node.console).map_err(|e| IdentityError::Invalid {
            what: node_path.display().to_string(),
            reason: e.to_string(),
        })?;
        Identity::new(
            &node.node_id,
            console,
            read(&dir.join(KEY_FILE))?,
            read(&dir.join(CERT_FILE))?,
            read(&dir.join(CA_FILE))?,
        )
        .map_err(|e| match e {
            IdentityError::Invalid { what, reason } => IdentityError::Invalid {
                what: format!("{what} in {}", dir.display()),
                reason,
            },
            other => other,
        })
    }

    /// Writes the whole identity (after a join): CA, key and certificate, then
    /// `node.json`, whose presence marks the data dir as joined.
    pub fn save(&self, dir: &Path) -> Result<(), IdentityError> {
        prepare_data_dir(dir)?;
        write_atomic(&dir.join(CA_FILE), self.ca_pem.as_bytes())?;
        self.save_credentials(dir)?;
        let node = NodeFile {
            node_id: self.node_id.clone(),
            console: self.console.to_string(),
        };
        let json = serde_json::to_vec_pretty(&node).map_err(|e| IdentityError::Invalid {
            what: NODE_FILE.into(),
            reason: e.to_string(),
        })?;
        write_atomic(&dir.join(NODE_FILE), &json)?;
        sync_dir(dir)
    }

    /// Replaces key and certificate (after a renewal) as a pair: both are written to
    /// `*.next` files first, then renamed; [`Identity::load`] completes an interrupted
    /// replacement.
    pub fn save_credentials(&self, dir: &Path) -> Result<(), IdentityError> {
        write_atomic(&dir.join(NEXT_KEY_FILE), self.key_pem.as_bytes())?;
        write_atomic(&dir.join(NEXT_CERT_FILE), self.cert_pem.as_bytes())?;
        rename(&dir.join(NEXT_KEY_FILE), &dir.join(KEY_FILE))?;
        rename(&dir.join(NEXT_CERT_FILE), &dir.join(CERT_FILE))?;
        sync_dir(dir)
    }

    /// The same node with a new key and certificate.
    pub fn with_credentials(
        &self,
        key_pem: String,
        cert_pem: String,
    ) -> Result<Identity, IdentityError> {
        Identity::new(
            &self.node_id,
            self.console.clone(),
            key_pem,
            cert_pem,
            self.ca_pem.clone(),
        )
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn console(&self) -> &ConsoleUrl {
        &self.console
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The private key. Never log it.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    pub fn validity(&self) -> Validity {
        self.validity
    }

    /// Hex SHA-256 of the cluster CA certificate (DER), as a join token pins it.
    pub fn ca_fingerprint(&self) -> String {
        pem_to_der(&self.ca_pem)
            .map(|der| hex::encode(Sha256::digest(der)))
            .unwrap_or_default()
    }
}

/// Creates the data dir (0700) if needed and refuses one other users can open.
pub fn prepare_data_dir(dir: &Path) -> Result<(), IdentityError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| IdentityError::Io {
            action: "cannot create",
            path: dir.to_owned(),
            source,
        })?;
    check_private(dir)
}

/// Whether `dir` holds a joined identity (`node.json`).
pub fn is_joined(dir: &Path) -> bool {
    dir.join(NODE_FILE).is_file()
}

/// The DER of the first certificate in a PEM text.
pub(crate) fn pem_to_der(pem: &str) -> Result<Vec<u8>, String> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|der| der.to_vec())
        .map_err(|e| format!("no PEM certificate ({e})"))
}

/// Node ids are printed and logged; the console makes them as `node-<hex>`.
fn check_node_id(node_id: &str) -> Result<(), IdentityError> {
    let ok = (1..=64).contains(&node_id.len())
        && node_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(IdentityError::Invalid {
            what: "the node id".into(),
            reason: format!(
                "{:?} is not 1-64 letters, digits, '-', '_' or '.'",
                node_id.chars().take(80).collect::<String>()
            ),
        })
    }
}

fn check_private(dir: &Path) -> Result<(), IdentityError> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = fs::metadata(dir).map_err(|source| IdentityError::Io {
        action: "cannot read",
        path: dir.to_owned(),
        source,
    })?;
    let mode = metadata.permissions().mode() & 0o777;
    if !metadata.is_dir() {
        return Err(IdentityError::Invalid {
            what: dir.display().to_string(),
            reason: "not a directory".into(),
        });
    }
    if mode & 0o077 != 0 {
        return Err(IdentityError::NotPrivate {
            dir: dir.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// Completes a key replacement that a crash interrupted. The certificate's `.next` file
/// is written after the key's, so its presence means the new pair is whole; a lone key
/// `.next` file is a replacement that never finished, and the old pair still stands.
fn recover_credentials(dir: &Path) -> Result<(), IdentityError> {
    let (next_key, next_cert) = (dir.join(NEXT_KEY_FILE), dir.join(NEXT_CERT_FILE));
    if next_cert.exists() {
        if next_key.exists() {
            rename(&next_key, &dir.join(KEY_FILE))?;
        }
        rename(&next_cert, &dir.join(CERT_FILE))?;
        tracing::warn!(
            dir = %dir.display(),
            "completed a certificate renewal that was interrupted"
        );
    } else if next_key.exists() {
        fs::remove_file(&next_key).map_err(|source| IdentityError::Io {
            action: "cannot remove",
            path: next_key.clone(),
            source,
        })?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, IdentityError> {
    fs::read_to_string(path).map_err(|source| IdentityError::Io {
        action: "cannot read",
        path: path.to_owned(),
        source,
    })
}

fn rename(from: &Path, to: &Path) -> Result<(), IdentityError> {
    fs::rename(from, to).map_err(|source| IdentityError::Io {
        action: "cannot rename",
        path: from.to_owned(),
        source,
    })
}

/// Writes `bytes` to a 0600 temporary file beside `path`, syncs it and renames it over
/// `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IdentityError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let io = |source| IdentityError::Io {
        action: "cannot write",
        path: path.to_owned(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

fn sync_dir(dir: &Path) -> Result<(), IdentityError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| IdentityError::Io {
            action: "cannot sync",
            path: dir.to_owned(),
            source,
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A CA and a node certificate for `node_id` valid from `not_before` to `not_after`.
    pub(crate) fn make_identity(node_id: &str, not_before: i64, not_after: i64) -> Identity {
        use rcgen::{CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::default();
        ca_params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, node_id);
        params.distinguished_name = dn;
        params.not_before = time::OffsetDateTime::from_unix_timestamp(not_before).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        Identity::new(
            node_id,
            ConsoleUrl::parse("https://console.test:9879").unwrap(),
            key.serialize_pem(),
            cert.pem(),
            ca.pem(),
        )
        .unwrap()
    }

    const T: i64 = 1_800_000_000;

    #[test]
    fn an_identity_round_trips_through_a_private_data_dir() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("agent");
        let identity = make_identity("node-abc", T, T + 86_400);
        assert!(!is_joined(&dir));
        assert!(matches!(
            Identity::load(&dir),
            Err(IdentityError::NotJoined { .. })
        ));
        identity.save(&dir).unwrap();
        assert!(is_joined(&dir));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
        let loaded = Identity::load(&dir).unwrap();
        assert_eq!(loaded.node_id(), "node-abc");
        assert_eq!(loaded.console().to_string(), "https://console.test:9879");
        assert_eq!(loaded.key_pem(), identity.key_pem());
        assert_eq!(
            loaded.validity(),
            Validity {
                not_before: T,
                not_after: T + 86_400
            }
        );
        let node: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join(NODE_FILE)).unwrap()).unwrap();
        assert_eq!(
            node,
            serde_json::json!({"node_id": "node-abc", "console": "https://console.test:9879"})
        );
        assert!(!format!("{loaded:?}").contains("PRIVATE KEY"));
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp") || n.ends_with(".next"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn renewal_is_due_at_half_life() {
        let validity = Validity {
            not_before: T,
            not_after: T + 86_400,
        };
        assert_eq!(validity.renew_at(), T + 43_200);
        assert!(!validity.renewal_due(T + 43_199));
        assert!(validity.renewal_due(T + 43_200));
        assert_eq!(make_identity("n", T, T + 100).validity().renew_at(), T + 50);
    }

    #[test]
    fn an_open_data_dir_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("open");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(
            prepare_data_dir(&dir),
            Err(IdentityError::NotPrivate { mode: 0o755, .. })
        ));
    }

    #[test]
    fn mismatched_parts_are_refused() {
        let a = make_identity("node-a", T, T + 60);
        let b = make_identity("node-b", T, T + 60);
        let console = a.console().clone();
        // b's key with a's certificate.
        let mixed = Identity::new(
            "node-a",
            console.clone(),
            b.key_pem().into(),
            a.cert_pem().into(),
            a.ca_pem().into(),
        );
        assert!(matches!(mixed, Err(IdentityError::Invalid { .. })));
        // a's certificate under another node id.
        let renamed = Identity::new(
            "node-b",
            console.clone(),
            a.key_pem().into(),
            a.cert_pem().into(),
            a.ca_pem().into(),
        );
        assert!(matches!(renamed, Err(IdentityError::Invalid { .. })));
        for bad_id in ["", "node a", "node/../x", &"n".repeat(65)] {
            assert!(Identity::new(
                bad_id,
                console.clone(),
                a.key_pem().into(),
                a.cert_pem().into(),
                a.ca_pem().into()
            )
            .is_err());
        }
        assert!(Identity::new(
            "node-a",
            console,
            a.key_pem().into(),
            "junk".into(),
            a.ca_pem().into()
        )
        .is_err());
    }

    #[test]
    fn an_interrupted_renewal_is_completed_or_dropped() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("agent");
        let old = make_identity("node-a", T, T + 60);
        old.save(&dir).unwrap();
        let fresh = make_identity("node-a", T + 30, T + 90);
        let renewed = old
            .with_credentials(fresh.key_pem().into(), fresh.cert_pem().into())
            .unwrap();

        // Crash after the key's .next file only: the old pair stands.
        write_atomic(&dir.join(NEXT_KEY_FILE), renewed.key_pem().as_bytes()).unwrap();
        assert_eq!(Identity::load(&dir).unwrap().key_pem(), old.key_pem());
        assert!(!dir.join(NEXT_KEY_FILE).exists());

        // Crash after both .next files: the new pair is put in place.
        write_atomic(&dir.join(NEXT_KEY_FILE), renewed.key_pem().as_bytes()).unwrap();
        write_atomic(&dir.join(NEXT_CERT_FILE), renewed.cert_pem().as_bytes()).unwrap();
        assert_eq!(Identity::load(&dir).unwrap().key_pem(), renewed.key_pem());

        // Crash between the two renames: likewise.
        old.save_credentials(&dir).unwrap();
        write_atomic(&dir.join(NEXT_CERT_FILE), renewed.cert_pem().as_bytes()).unwrap();
        fs::write(dir.join(KEY_FILE), renewed.key_pem()).unwrap();
        let loaded = Identity::load(&dir).unwrap();
        assert_eq!(loaded.key_pem(), renewed.key_pem());
        assert_eq!(loaded.validity().not_before, T + 30);
    }
}
