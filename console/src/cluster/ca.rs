//! The cluster CA: created in `DATA_DIR/ca/` on first start. It signs the console's
//! certificate for the agent channel (:9879) and, from certificate requests, the agents'
//! short-lived client certificates. Its hash is what a join token pins.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use sha2::{Digest, Sha256};

use crate::certs::SelfSignedNames;

const CA_FILE: &str = "ca.pem";
const KEY_FILE: &str = "ca.key";
/// The CA outlives any install it serves.
const CA_YEARS: i64 = 20;
/// The console's own certificate on :9879.
const SERVER_DAYS: i64 = 365;

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the cluster CA in {path} is unusable: {reason}")]
    Stored { path: PathBuf, reason: String },
    #[error("the certificate request is not valid: {0}")]
    BadRequest(String),
    #[error("certificate generation failed: {0}")]
    Generate(String),
}

/// Who a client certificate of this CA names: the node id (CN) and the serial (hex).
pub fn client_identity(der: &[u8]) -> Option<(String, String)> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let node_id = cert
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_owned();
    Some((node_id, hex::encode(cert.raw_serial())))
}

/// A certificate the CA issued for a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCert {
    pub cert_pem: String,
    /// Hex serial number, for revocation.
    pub serial: String,
    pub not_after: i64,
}

/// The loaded cluster CA.
pub struct ClusterCa {
    cert_pem: String,
    cert_der: Vec<u8>,
    key: KeyPair,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl ClusterCa {
    /// Loads `dir/ca.pem` + `dir/ca.key`, or creates them (the key 0600) on first start.
    pub fn load_or_generate(dir: &Path, now: i64) -> Result<(ClusterCa, bool), CaError> {
        create_private_dir(dir)?;
        let cert_path = dir.join(CA_FILE);
        let key_path = dir.join(KEY_FILE);
        if cert_path.exists() {
            let stored = |reason: String| CaError::Stored {
                path: dir.to_owned(),
                reason,
            };
            let cert_pem = read(&cert_path)?;
            let key = KeyPair::from_pem(&read(&key_path)?).map_err(|e| stored(e.to_string()))?;
            let cert_der = pem_der(&cert_pem).map_err(stored)?;
            return Ok((
                ClusterCa {
                    cert_pem,
                    cert_der,
                    key,
                },
                false,
            ));
        }
        let key = KeyPair::generate().map_err(|e| CaError::Generate(e.to_string()))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Outpost cluster CA");
        dn.push(DnType::OrganizationName, "Outpost");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let (start, end) = validity(now - 3600, CA_YEARS * 365)?;
        params.not_before = start;
        params.not_after = end;
        let cert = params
            .self_signed(&key)
            .map_err(|e| CaError::Generate(e.to_string()))?;
        write_private(&key_path, key.serialize_pem().as_bytes())?;
        write_private(&cert_path, cert.pem().as_bytes())?;
        Ok((
            ClusterCa {
                cert_pem: cert.pem(),
                cert_der: cert.der().to_vec(),
                key,
            },
            true,
        ))
    }

    /// Hex SHA-256 of the CA certificate's DER: what a join token pins.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.cert_der))
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// A server certificate for the agent channel, signed by this CA; returns (chain PEM
    /// with the CA last, key PEM).
    pub fn issue_server_cert(
        &self,
        names: &SelfSignedNames,
        now: i64,
    ) -> Result<(String, String), CaError> {
        let key = KeyPair::generate().map_err(|e| CaError::Generate(e.to_string()))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Outpost console (agent channel)");
        params.distinguished_name = dn;
        for name in &names.dns {
            let name = name
                .clone()
                .try_into()
                .map_err(|e: rcgen::Error| CaError::Generate(e.to_string()))?;
            params.subject_alt_names.push(SanType::DnsName(name));
        }
        for ip in &names.ips {
            params.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let (start, end) = validity(now - 3600, SERVER_DAYS)?;
        params.not_before = start;
        params.not_after = end;
        let cert = params
            .signed_by(&key, &self.issuer()?)
            .map_err(|e| CaError::Generate(e.to_string()))?;
        Ok((
            format!("{}{}", cert.pem(), self.cert_pem),
            key.serialize_pem(),
        ))
    }

    /// Signs a node's certificate request as a client certificate for `node_id`, valid for
    /// `valid_secs`. Only the request's public key (and its proof of possession) is used:
    /// names, extensions and CA flags it asks for are ignored.
    pub fn sign_client_request(
        &self,
        csr_pem: &str,
        node_id: &str,
        valid_secs: i64,
        now: i64,
    ) -> Result<IssuedCert, CaError> {
        if csr_pem.len() > 16 * 1024 {
            return Err(CaError::BadRequest("larger than 16 KiB".into()));
        }
        let request = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| CaError::BadRequest(e.to_string()))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, node_id);
        dn.push(DnType::OrganizationName, "Outpost node");
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let mut serial = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut serial);
        // Positive and with no leading zero byte, so DER keeps all 16 bytes as written.
        serial[0] = (serial[0] & 0x3f) | 0x40;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        let start = now - 300;
        params.not_before = timestamp(start)?;
        params.not_after = timestamp(now + valid_secs)?;
        let cert = params
            .signed_by(&request.public_key, &self.issuer()?)
            .map_err(|e| CaError::Generate(e.to_string()))?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            serial: hex::encode(serial),
            not_after: now + valid_secs,
        })
    }

    /// The TLS configuration of the agent channel: this CA's server certificate, and client
    /// certificates verified against this CA when presented (joining agents have none yet;
    /// the routes decide which need one).
    pub fn channel_server_config(
        &self,
        names: &SelfSignedNames,
        now: i64,
    ) -> Result<std::sync::Arc<rustls::ServerConfig>, CaError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use std::sync::Arc;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (chain_pem, key_pem) = self.issue_server_cert(names, now)?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(chain_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| CaError::Generate(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| CaError::Generate(e.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.cert_der.clone()))
            .map_err(|e| CaError::Generate(e.to_string()))?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| CaError::Generate(e.to_string()))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| CaError::Generate(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| CaError::Generate(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, CaError> {
        Issuer::from_ca_cert_pem(&self.cert_pem, &self.key).map_err(|e| CaError::Stored {
            path: PathBuf::from(CA_FILE),
            reason: e.to_string(),
        })
    }
}

fn validity(
    start: i64,
    days: i64,
) -> Result<(time::OffsetDateTime, time::OffsetDateTime), CaError> {
    let start = timestamp(start)?;
    Ok((start, start + time::Duration::days(days)))
}

fn timestamp(unix: i64) -> Result<time::OffsetDateTime, CaError> {
    time::OffsetDateTime::from_unix_timestamp(unix).map_err(|e| CaError::Generate(e.to_string()))
}

fn pem_der(pem: &str) -> Result<Vec<u8>, String> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|der| der.to_vec())
        .map_err(|e| e.to_string())
}

fn read(path: &Path) -> Result<String, CaError> {
    fs::read_to_string(path).map_err(|source| CaError::Io {
        action: "cannot read",
        path: path.to_owned(),
        source,
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CaError> {
    crate::files::write_private_atomic(path, bytes).map_err(|source| CaError::Io {
        action: "cannot write",
        path: path.to_owned(),
        source,
    })
}

fn create_private_dir(dir: &Path) -> Result<(), CaError> {
    crate::files::create_private_dir(dir).map_err(|source| CaError::Io {
        action: "cannot create",
        path: dir.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::{FromDer, X509Certificate};

    const NOW: i64 = 1_800_000_000;

    fn parse(pem: &str) -> Vec<u8> {
        pem_der(pem).unwrap()
    }

    #[test]
    fn the_ca_is_created_once_and_reloaded_with_the_same_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let (first, created) = ClusterCa::load_or_generate(dir.path(), NOW).unwrap();
        assert!(created);
        let (again, created) = ClusterCa::load_or_generate(dir.path(), NOW).unwrap();
        assert!(!created);
        assert_eq!(first.fingerprint(), again.fingerprint());
        assert_eq!(first.fingerprint().len(), 64);
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_client_certificate_takes_only_the_public_key_from_the_request() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, _) = ClusterCa::load_or_generate(dir.path(), NOW).unwrap();
        // The request asks to be a CA for "evil.example": neither is granted.
        let node_key = KeyPair::generate().unwrap();
        let mut asked = CertificateParams::new(vec!["evil.example".to_owned()]).unwrap();
        asked.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let csr = asked.serialize_request(&node_key).unwrap().pem().unwrap();

        let issued = ca.sign_client_request(&csr, "node-1", 86_400, NOW).unwrap();
        let der = parse(&issued.cert_pem);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(
            cert.subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            "node-1"
        );
        assert!(!cert.is_ca());
        assert!(cert.subject_alternative_name().unwrap().is_none());
        assert_eq!(cert.validity().not_after.timestamp(), NOW + 86_400);
        assert_eq!(
            cert.public_key().subject_public_key.data.as_ref(),
            rcgen::PublicKeyData::der_bytes(&node_key)
        );
        assert_eq!(hex::encode(cert.raw_serial()), issued.serial);
        let (_, ca_cert) = X509Certificate::from_der(ca.cert_der()).unwrap();
        cert.verify_signature(Some(ca_cert.public_key())).unwrap();
    }

    #[test]
    fn garbage_requests_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, _) = ClusterCa::load_or_generate(dir.path(), NOW).unwrap();
        for bad in [
            "",
            "not a csr",
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        ] {
            assert!(matches!(
                ca.sign_client_request(bad, "n", 60, NOW),
                Err(CaError::BadRequest(_))
            ));
        }
        assert!(ca
            .sign_client_request(&"A".repeat(20_000), "n", 60, NOW)
            .is_err());
    }

    #[test]
    fn the_server_certificate_chains_to_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, _) = ClusterCa::load_or_generate(dir.path(), NOW).unwrap();
        let names = SelfSignedNames {
            dns: vec!["console.local".into()],
            ips: vec!["127.0.0.1".parse().unwrap()],
        };
        let (chain, _key) = ca.issue_server_cert(&names, NOW).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        let leaf = parse(&chain);
        let (_, cert) = X509Certificate::from_der(&leaf).unwrap();
        let (_, ca_cert) = X509Certificate::from_der(ca.cert_der()).unwrap();
        cert.verify_signature(Some(ca_cert.public_key())).unwrap();
    }
}
