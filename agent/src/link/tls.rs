//! TLS on the agent channel. The console is identified by the cluster CA, never by its
//! host name (an agent may reach it by an address the certificate does not list): at join
//! time by the CA's SHA-256 pinned in the token ([`PinnedCaVerifier`]), afterwards by the
//! stored `ca.crt` ([`CaVerifier`]). Both keep rustls' chain and validity checks and skip
//! only the name check.

use std::io;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::console_url::ConsoleUrl;
use super::identity::{pem_to_der, Identity};

/// The crypto provider of every agent connection.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Hex SHA-256 of a certificate's DER.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Why the join verifier refused the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PinFailure {
    /// No certificate in the presented chain has the pinned hash; `found` is the hash of
    /// the chain's last certificate (normally the console's CA).
    NotPinned { found: String },
    /// The pinned CA is there but the server certificate does not verify against it.
    Untrusted { reason: String },
}

/// Accepts the console only if its chain contains the CA the join token pins and its
/// certificate verifies against that CA. Records why it refused, for the error message.
#[derive(Debug)]
pub(crate) struct PinnedCaVerifier {
    pin: String,
    provider: Arc<CryptoProvider>,
    failure: Mutex<Option<PinFailure>>,
}

impl PinnedCaVerifier {
    pub(crate) fn new(pin: &str) -> PinnedCaVerifier {
        PinnedCaVerifier {
            pin: pin.to_ascii_lowercase(),
            provider: provider(),
            failure: Mutex::new(None),
        }
    }

    pub(crate) fn failure(&self) -> Option<PinFailure> {
        self.failure.lock().map(|f| f.clone()).unwrap_or(None)
    }

    fn fail(&self, failure: PinFailure) {
        if let Ok(mut slot) = self.failure.lock() {
            *slot = Some(failure);
        }
    }
}

impl ServerCertVerifier for PinnedCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = || std::iter::once(end_entity).chain(intermediates);
        let Some(ca) = chain().find(|cert| fingerprint(cert) == self.pin) else {
            let last = chain().last().unwrap_or(end_entity);
            self.fail(PinFailure::NotPinned {
                found: fingerprint(last),
            });
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ));
        };
        let verified =
            CaVerifier::new(ca.clone().into_owned(), self.provider.clone()).and_then(|verifier| {
                verifier.verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                )
            });
        if let Err(error) = &verified {
            self.fail(PinFailure::Untrusted {
                reason: error.to_string(),
            });
        }
        verified
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Verifies the console's certificate against one CA (signature chain, validity, usage),
/// ignoring whether it names the host the agent dialled.
#[derive(Debug)]
pub(crate) struct CaVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl CaVerifier {
    pub(crate) fn new(
        ca: CertificateDer<'static>,
        provider: Arc<CryptoProvider>,
    ) -> Result<CaVerifier, rustls::Error> {
        let mut roots = RootCertStore::empty();
        roots.add(ca)?;
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        Ok(CaVerifier { inner })
    }
}

impl ServerCertVerifier for CaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // WebPkiServerVerifier checks the chain (to our one root) and validity first and
        // the name last, so a name error means everything else passed.
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The client configuration for joining: no client certificate, the token's CA pin.
pub(crate) fn join_config(pin: &str) -> Result<(Arc<ClientConfig>, Arc<PinnedCaVerifier>), String> {
    let verifier = Arc::new(PinnedCaVerifier::new(pin));
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Ok((Arc::new(config), verifier))
}

/// The client configuration of a joined node: its certificate, the stored CA.
pub(crate) fn identity_config(identity: &Identity) -> Result<Arc<ClientConfig>, String> {
    let ca = pem_to_der(identity.ca_pem())?;
    let verifier = CaVerifier::new(CertificateDer::from(ca), provider())
        .map_err(|e| format!("the stored CA is unusable: {e}"))?;
    let cert = CertificateDer::from(pem_to_der(identity.cert_pem())?);
    let key = PrivateKeyDer::from_pem_slice(identity.key_pem().as_bytes())
        .map_err(|e| format!("the node key is unusable: {e}"))?;
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(vec![cert], key)
        .map_err(|e| format!("the node certificate is unusable: {e}"))?;
    // A resumed session would present the certificate of the session it resumes, which
    // after a renewal is the revoked one.
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

/// TCP and TLS to the console.
pub(crate) async fn dial(
    console: &ConsoleUrl,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<TcpStream>, DialError> {
    let tcp = TcpStream::connect((console.host(), console.port()))
        .await
        .map_err(DialError::Tcp)?;
    tcp.set_nodelay(true).map_err(DialError::Tcp)?;
    TlsConnector::from(config)
        .connect(console.server_name(), tcp)
        .await
        .map_err(DialError::Tls)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DialError {
    #[error("cannot connect: {0}")]
    Tcp(#[source] io::Error),
    #[error("TLS handshake failed: {0}")]
    Tls(#[source] io::Error),
}

/// The rustls error inside an I/O error, if that is what it is.
pub(crate) fn rustls_error(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

/// Whether the console refused our certificate during the handshake: the alerts a TLS
/// server sends for a client certificate it does not accept (unknown CA, revoked,
/// expired, missing, not allowed). `decrypt_error` is among them because rustls sends it
/// for a certificate whose signature does not verify, which is what a certificate from
/// another cluster CA of the same name (another console's) looks like.
pub(crate) fn refused_by_alert(error: &io::Error) -> bool {
    matches!(
        rustls_error(error),
        Some(rustls::Error::AlertReceived(
            AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnknownCA
                | AlertDescription::AccessDenied
                | AlertDescription::CertificateRequired
                | AlertDescription::DecryptError
        ))
    )
}
