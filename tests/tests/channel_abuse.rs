//! Bad input on the agent channel (:9879) closes that connection, is logged, and changes
//! nothing else: an honest agent stays online and the console keeps answering.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use outpost_tests::{Admin, Agent, Console};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(30);

/// A TLS client to the channel, trusting its CA, optionally with a client identity.
fn tls_client(
    ca_pem: &[u8],
    identity: Option<(Vec<u8>, Vec<u8>)>,
) -> Result<tokio_rustls::TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert?)?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => builder.with_client_auth_cert(
            CertificateDer::pem_slice_iter(&cert).collect::<Result<_, _>>()?,
            PrivateKeyDer::from_pem_slice(&key)?,
        )?,
        None => builder.with_no_client_auth(),
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Waits (bounded) until the server closes `stream` (EOF or error).
async fn closed_by_server<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn hostile_input_closes_only_its_own_connection() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let console = Console::start(&dir.path().join("console"))?;
    let admin = Admin::set_up(&console, "abuse test password").await?;
    let token = admin.join_token("1h", json!({})).await?;
    let agent_dir = dir.path().join("agent");
    let agent = Agent::join(&console.cluster_url, &token, &agent_dir)?;
    let honest = agent.node_id(WAIT).await?;
    admin.wait_for_status(&honest, "online", WAIT).await?;
    let channel: std::net::SocketAddr = console
        .cluster_url
        .trim_start_matches("https://")
        .parse()
        .context("channel address")?;
    let ca = std::fs::read(agent_dir.join("ca.crt"))?;

    // Garbage bytes instead of a TLS handshake.
    let mut tcp = TcpStream::connect(channel).await?;
    tcp.write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 0xde, 0xad, 0xbe, 0xef])
        .await?;
    tcp.write_all(&[0u8; 4096]).await?;
    assert!(
        closed_by_server(&mut tcp).await,
        "garbage closes the connection"
    );

    // A client certificate from another CA is refused in the handshake.
    let foreign_ca_key = rcgen::KeyPair::generate()?;
    let mut foreign_ca = rcgen::CertificateParams::default();
    foreign_ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let foreign_ca_cert = foreign_ca.self_signed(&foreign_ca_key)?;
    let issuer = rcgen::Issuer::new(foreign_ca, &foreign_ca_key);
    let intruder_key = rcgen::KeyPair::generate()?;
    let mut intruder = rcgen::CertificateParams::default();
    intruder
        .distinguished_name
        .push(rcgen::DnType::CommonName, honest.clone());
    let intruder_cert = intruder.signed_by(&intruder_key, &issuer)?;
    drop(foreign_ca_cert);
    let connector = tls_client(
        &ca,
        Some((
            intruder_cert.pem().into_bytes(),
            intruder_key.serialize_pem().into_bytes(),
        )),
    )?;
    let attempt = async {
        let tcp = TcpStream::connect(channel).await?;
        let mut tls = connector
            .connect(ServerName::try_from("localhost")?, tcp)
            .await?;
        tls.write_all(b"GET /v1/connect HTTP/1.1\r\nHost: x\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        tls.read_to_end(&mut answer).await?;
        anyhow::Ok(answer)
    };
    // Either the handshake fails (as it should), or the server must not upgrade.
    if let Ok(answer) = tokio::time::timeout(WAIT, attempt).await? {
        assert!(
            !String::from_utf8_lossy(&answer).contains("101"),
            "a foreign certificate must not open a session"
        );
    }

    // The honest identity, but an oversized and then a malformed message.
    let identity = (
        std::fs::read(agent_dir.join("agent.crt"))?,
        std::fs::read(agent_dir.join("agent.key"))?,
    );
    for payload in [
        "x".repeat(outpost_agent::protocol::MAX_MESSAGE_BYTES + 10),
        "{\"type\": \"heartbeat\", \"seq\": \"not a number\"}".to_owned(),
    ] {
        let connector = tls_client(&ca, Some(identity.clone()))?;
        let tcp = TcpStream::connect(channel).await?;
        let tls = connector
            .connect(ServerName::try_from("localhost")?, tcp)
            .await?;
        let (mut socket, _) =
            tokio_tungstenite::client_async(format!("wss://{channel}/v1/connect"), tls)
                .await
                .context("websocket with the agent's identity")?;
        let _ = socket
            .send(tokio_tungstenite::tungstenite::Message::text(payload))
            .await;
        let closed = tokio::time::timeout(WAIT, async {
            loop {
                match socket.next().await {
                    None | Some(Err(_)) => break,
                    Some(Ok(message)) if message.is_close() => break,
                    Some(Ok(_)) => continue,
                }
            }
        })
        .await;
        assert!(
            closed.is_ok(),
            "the console closes a connection that sends bad messages"
        );
    }

    // A bounded flood of idle connections.
    let mut flood = Vec::new();
    for _ in 0..200 {
        if let Ok(tcp) = TcpStream::connect(channel).await {
            flood.push(tcp);
        }
    }
    let health = outpost_tests::client()
        .get(console.at("/api/v1/health"))
        .send()
        .await?;
    assert_eq!(health.status(), 200, "the console answers during the flood");
    let token = admin.join_token("1h", json!({})).await?;
    let newcomer = Agent::join(&console.cluster_url, &token, &dir.path().join("newcomer"))?;
    let id = newcomer.node_id(WAIT).await?;
    admin.wait_for_status(&id, "online", WAIT).await?;
    drop(flood);

    // The honest agent stayed online through all of it. The websocket test used its
    // identity, which replaced its session for a moment: wait for it to be back.
    admin.wait_for_status(&honest, "online", WAIT).await?;
    let log = console.stderr();
    assert!(log.contains("closing"), "bad messages are logged: {log}");
    Ok(())
}
