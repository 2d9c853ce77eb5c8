//! The console's TLS certificate: generated self-signed on first start, persisted in
//! `DATA_DIR/tls/`, replaceable by an uploaded pair without a restart. A pair is fully
//! validated before it is written or served; a bad one changes nothing.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

/// Largest PEM text accepted for a certificate chain or a key.
pub const MAX_PEM_BYTES: usize = 128 * 1024;
/// Validity of a generated self-signed certificate.
const SELF_SIGNED_DAYS: i64 = 365;
/// A generated certificate this close to expiry is replaced at start-up.
const RENEW_BEFORE_DAYS: i64 = 30;

const PAIR_FILE: &str = "server.pem";
const GENERATED_MARKER: &str = "generated";

/// Why a certificate pair was refused, or could not be loaded or stored.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("no PEM certificate found (expected \"-----BEGIN CERTIFICATE-----\")")]
    NoCertificate,
    #[error("no PEM private key found (expected a PKCS#8, PKCS#1 RSA or SEC1 EC key)")]
    NoPrivateKey,
    #[error("the {what} is larger than {MAX_PEM_BYTES} bytes")]
    TooLarge { what: &'static str },
    #[error("certificate {index} in the chain cannot be parsed: {reason}")]
    BadCertificate { index: usize, reason: String },
    #[error("the private key cannot be used: {0}")]
    BadKey(String),
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    #[error("the certificate expired on {not_after}")]
    Expired { not_after: String },
    #[error("the certificate is not valid before {not_before}")]
    NotYetValid { not_before: String },
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the stored certificate in {path} is invalid: {reason}")]
    Stored { path: PathBuf, reason: String },
}

impl CertError {
    /// Whether the client caused this (a bad upload) rather than the console.
    pub fn is_invalid_input(&self) -> bool {
        match self {
            CertError::NoCertificate
            | CertError::NoPrivateKey
            | CertError::TooLarge { .. }
            | CertError::BadCertificate { .. }
            | CertError::BadKey(_)
            | CertError::KeyMismatch
            | CertError::Expired { .. }
            | CertError::NotYetValid { .. } => true,
            CertError::Generate(_) | CertError::Io { .. } | CertError::Stored { .. } => false,
        }
    }
}

/// What the UI and API show about the serving certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// SHA-256 of the DER certificate, upper-case hex pairs joined by colons.
    pub fingerprint_sha256: String,
    pub not_before: i64,
    pub not_after: i64,
    pub self_signed: bool,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
}

/// Names a generated certificate must cover.
#[derive(Debug, Clone, Default)]
pub struct SelfSignedNames {
    pub dns: Vec<String>,
    pub ips: Vec<IpAddr>,
}

impl SelfSignedNames {
    /// This host's name, `localhost`, the loopback addresses and every interface address,
    /// plus any extra names (an advertised host).
    pub fn for_this_host(extra: &[String]) -> SelfSignedNames {
        let mut names = SelfSignedNames::default();
        let hostname = fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        for name in std::iter::once(hostname)
            .chain(["localhost".to_owned()])
            .chain(extra.iter().cloned())
        {
            match name.parse::<IpAddr>() {
                Ok(ip) => names.add_ip(ip),
                Err(_) if !name.is_empty() && !names.dns.contains(&name) => names.dns.push(name),
                Err(_) => {}
            }
        }
        names.add_ip(IpAddr::from([127, 0, 0, 1]));
        names.add_ip(IpAddr::from(std::net::Ipv6Addr::LOCALHOST));
        if let Ok(interfaces) = if_addrs::get_if_addrs() {
            for interface in interfaces {
                names.add_ip(interface.ip());
            }
        }
        names
    }

    fn add_ip(&mut self, ip: IpAddr) {
        if !self.ips.contains(&ip) {
            self.ips.push(ip);
        }
    }
}

/// A validated pair, ready to serve.
struct Pair {
    key: Arc<CertifiedKey>,
    info: CertInfo,
}

/// The serving certificate and where it lives. Cloned handles share one current pair.
pub struct CertManager {
    dir: PathBuf,
    current: RwLock<Arc<Pair>>,
}

impl std::fmt::Debug for CertManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertManager")
            .field("dir", &self.dir)
            .field("fingerprint", &self.info().fingerprint_sha256)
            .finish()
    }
}

/// What start-up did with the certificate, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadOutcome {
    Loaded,
    Generated,
    Renewed,
}

impl CertManager {
    /// Loads the stored pair from `dir`, or generates and stores a self-signed one when
    /// there is none (or when the generated one is close to expiry).
    pub fn load_or_generate(
        dir: &Path,
        names: &SelfSignedNames,
        now: i64,
    ) -> Result<(CertManager, LoadOutcome), CertError> {
        create_private_dir(dir)?;
        let pair_path = dir.join(PAIR_FILE);
        let generated = dir.join(GENERATED_MARKER).exists();
        let outcome = match fs::read(&pair_path) {
            Ok(pem) => {
                let pair = parse_pair(&pem, &pem).map_err(|e| CertError::Stored {
                    path: pair_path.clone(),
                    reason: e.to_string(),
                })?;
                let expiring = pair.info.not_after - now < RENEW_BEFORE_DAYS * 86_400;
                if !(generated && expiring) {
                    return Ok((
                        CertManager {
                            dir: dir.to_owned(),
                            current: RwLock::new(Arc::new(pair)),
                        },
                        LoadOutcome::Loaded,
                    ));
                }
                LoadOutcome::Renewed
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => LoadOutcome::Generated,
            Err(source) => {
                return Err(CertError::Io {
                    action: "cannot read",
                    path: pair_path,
                    source,
                })
            }
        };
        let (cert_pem, key_pem) = generate_self_signed(names, now)?;
        let pair = parse_pair(cert_pem.as_bytes(), key_pem.as_bytes())?;
        write_pair(dir, &cert_pem, &key_pem, true)?;
        Ok((
            CertManager {
                dir: dir.to_owned(),
                current: RwLock::new(Arc::new(pair)),
            },
            outcome,
        ))
    }

    /// The serving certificate's details.
    pub fn info(&self) -> CertInfo {
        self.current().info.clone()
    }

    /// Validates a new pair, stores it and serves it to every new connection. On any
    /// error the old pair stays, on disk and on the wire.
    pub fn replace(&self, cert_pem: &str, key_pem: &str, now: i64) -> Result<CertInfo, CertError> {
        if cert_pem.len() > MAX_PEM_BYTES {
            return Err(CertError::TooLarge {
                what: "certificate chain",
            });
        }
        if key_pem.len() > MAX_PEM_BYTES {
            return Err(CertError::TooLarge {
                what: "private key",
            });
        }
        let pair = parse_pair(cert_pem.as_bytes(), key_pem.as_bytes())?;
        if now < pair.info.not_before {
            return Err(CertError::NotYetValid {
                not_before: crate::clock::rfc3339(pair.info.not_before),
            });
        }
        if now >= pair.info.not_after {
            return Err(CertError::Expired {
                not_after: crate::clock::rfc3339(pair.info.not_after),
            });
        }
        write_pair(&self.dir, cert_pem, key_pem, false)?;
        let info = pair.info.clone();
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(pair);
        Ok(info)
    }

    /// A rustls server configuration that always serves the current pair.
    pub fn server_config(self: &Arc<Self>) -> Arc<rustls::ServerConfig> {
        let mut config =
            rustls::ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("the ring provider supports the default protocol versions")
                .with_no_client_auth()
                .with_cert_resolver(Arc::new(Resolver(self.clone())));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }

    fn current(&self) -> Arc<Pair> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[derive(Debug)]
struct Resolver(Arc<CertManager>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current().key.clone())
    }
}

/// Generates a self-signed ECDSA P-256 certificate covering `names`; returns (cert, key) PEM.
pub fn generate_self_signed(
    names: &SelfSignedNames,
    now: i64,
) -> Result<(String, String), CertError> {
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};
    let fail = |e: rcgen::Error| CertError::Generate(e.to_string());

    let key = KeyPair::generate().map_err(fail)?;
    let mut params = CertificateParams::default();
    let common_name = names
        .dns
        .first()
        .cloned()
        .unwrap_or_else(|| "localhost".into());
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "Outpost console (self-signed)");
    params.distinguished_name = dn;
    for name in &names.dns {
        let name = name.clone().try_into().map_err(fail)?;
        params.subject_alt_names.push(SanType::DnsName(name));
    }
    for ip in &names.ips {
        params.subject_alt_names.push(SanType::IpAddress(*ip));
    }
    let start = time::OffsetDateTime::from_unix_timestamp(now - 3600)
        .map_err(|e| CertError::Generate(e.to_string()))?;
    params.not_before = start;
    params.not_after = start + time::Duration::days(SELF_SIGNED_DAYS);
    let cert = params.self_signed(&key).map_err(fail)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Parses and cross-checks a chain and a key; does not look at the clock.
fn parse_pair(cert_pem: &[u8], key_pem: &[u8]) -> Result<Pair, CertError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| CertError::BadCertificate {
            index: 0,
            reason: format!("bad PEM: {e}"),
        })?;
    if chain.is_empty() {
        return Err(CertError::NoCertificate);
    }
    let mut infos = Vec::with_capacity(chain.len());
    for (index, der) in chain.iter().enumerate() {
        infos.push(describe(der).map_err(|reason| CertError::BadCertificate { index, reason })?);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => CertError::NoPrivateKey,
        other => CertError::BadKey(format!("bad PEM: {other}")),
    })?;
    let certified =
        CertifiedKey::from_der(chain, key, &provider::default_provider()).map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                CertError::KeyMismatch
            }
            other => CertError::BadKey(other.to_string()),
        })?;
    Ok(Pair {
        key: Arc::new(certified),
        info: infos.swap_remove(0),
    })
}

fn describe(der: &CertificateDer<'_>) -> Result<CertInfo, String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let (rest, cert) = X509Certificate::from_der(der.as_ref()).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err("trailing bytes after the certificate".into());
    }
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => dns_names.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        ip_addresses.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        fingerprint_sha256: fingerprint(der.as_ref()),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        dns_names,
        ip_addresses,
    })
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

/// SHA-256 of DER bytes as `AB:CD:...`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Writes key + chain into one file by rename, so a crash never leaves a mismatched pair.
fn write_pair(dir: &Path, cert_pem: &str, key_pem: &str, generated: bool) -> Result<(), CertError> {
    let path = dir.join(PAIR_FILE);
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| CertError::Io {
            action,
            path,
            source,
        }
    };
    let text = format!("{}\n{}\n", key_pem.trim_end(), cert_pem.trim_end());
    crate::files::write_private_atomic(&path, text.as_bytes())
        .map_err(io("cannot write", &path))?;
    let marker = dir.join(GENERATED_MARKER);
    if generated {
        fs::write(&marker, b"generated by outpost-console\n")
            .map_err(io("cannot write", &marker))?;
    } else if marker.exists() {
        fs::remove_file(&marker).map_err(io("cannot remove", &marker))?;
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<(), CertError> {
    crate::files::create_private_dir(dir).map_err(|source| CertError::Io {
        action: "cannot create",
        path: dir.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn names() -> SelfSignedNames {
        SelfSignedNames {
            dns: vec!["console.example".into(), "localhost".into()],
            ips: vec!["127.0.0.1".parse().unwrap()],
        }
    }

    #[test]
    fn first_start_generates_and_restart_keeps_the_same_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (first, outcome) = CertManager::load_or_generate(dir.path(), &names(), NOW).unwrap();
        assert_eq!(outcome, LoadOutcome::Generated);
        let info = first.info();
        assert!(info.self_signed);
        assert_eq!(info.dns_names, ["console.example", "localhost"]);
        assert_eq!(info.ip_addresses, ["127.0.0.1"]);
        assert_eq!(info.fingerprint_sha256.len(), 32 * 3 - 1);

        let (second, outcome) = CertManager::load_or_generate(dir.path(), &names(), NOW).unwrap();
        assert_eq!(outcome, LoadOutcome::Loaded);
        assert_eq!(second.info().fingerprint_sha256, info.fingerprint_sha256);

        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join(PAIR_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is private");
    }

    #[test]
    fn a_generated_certificate_near_expiry_is_renewed_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let (first, _) = CertManager::load_or_generate(dir.path(), &names(), NOW).unwrap();
        let later = NOW + (SELF_SIGNED_DAYS - 10) * 86_400;
        let (second, outcome) = CertManager::load_or_generate(dir.path(), &names(), later).unwrap();
        assert_eq!(outcome, LoadOutcome::Renewed);
        assert_ne!(
            second.info().fingerprint_sha256,
            first.info().fingerprint_sha256
        );
    }

    #[test]
    fn a_valid_upload_replaces_the_pair_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (manager, _) = CertManager::load_or_generate(dir.path(), &names(), NOW).unwrap();
        let (cert, key) = generate_self_signed(
            &SelfSignedNames {
                dns: vec!["uploaded.example".into()],
                ips: vec![],
            },
            NOW,
        )
        .unwrap();
        let info = manager.replace(&cert, &key, NOW).unwrap();
        assert_eq!(info.dns_names, ["uploaded.example"]);
        assert_eq!(manager.info(), info);
        assert!(!dir.path().join(GENERATED_MARKER).exists());
        let (reloaded, outcome) = CertManager::load_or_generate(dir.path(), &names(), NOW).unwrap();
        assert_eq!(outcome, LoadOutcome::Loaded);
        assert_eq!(reloaded.info(), info);
    }

    fn check_refused(cert: &str, key: &str, now: i64, expected: &str) {
        let dir = tempfile::tempdir().unwrap();
        let (manager, _) = CertManager::load_or_generate(dir.path(), &names(), NOW).unwrap();
        let before = manager.info();
        let on_disk = fs::read(dir.path().join(PAIR_FILE)).unwrap();
        let err = manager.replace(cert, key, now).unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(
            err.to_string().contains(expected),
            "{err:?} should mention {expected:?}"
        );
        assert_eq!(manager.info(), before, "the old pair keeps serving");
        assert_eq!(fs::read(dir.path().join(PAIR_FILE)).unwrap(), on_disk);
    }

    #[test]
    fn bad_uploads_are_refused_with_their_reason_and_change_nothing() {
        let (cert, key) = generate_self_signed(&names(), NOW).unwrap();
        let (_, other_key) = generate_self_signed(&names(), NOW).unwrap();
        check_refused("not a certificate", &key, NOW, "no PEM certificate");
        check_refused(&cert, "not a key", NOW, "no PEM private key");
        check_refused(&cert, &other_key, NOW, "does not belong");
        let garbled = cert.replacen("MII", "MIX", 1);
        check_refused(&garbled, &key, NOW, "cannot be parsed");
        check_refused(&cert, &key, NOW + 400 * 86_400, "expired");
        check_refused(&cert, &key, NOW - 86_400, "not valid before");
        check_refused(&"A".repeat(MAX_PEM_BYTES + 1), &key, NOW, "larger than");
    }
}
