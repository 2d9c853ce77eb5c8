//! `outpost-airgap serve`: runs the reference api host ([`crate::serve`]) until SIGTERM
//! or SIGINT.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::CliError;
use crate::serve::{shutdown_signal, ServeConfig, Server, TlsFiles};

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The vendor dir to serve (see `channel publish` and `license issue --root`).
    #[arg(long, value_name = "VENDORDIR")]
    pub root: PathBuf,
    /// Address and port to listen on; port 0 picks a free one (printed when ready).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// The certificate chain (PEM). Without --tls-cert and --tls-key the host serves plain
    /// HTTP, for local development only: consoles expect HTTPS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// Binds, prints `Serving VENDORDIR on URL`, and serves until SIGTERM or SIGINT.
pub fn serve(args: ServeArgs) -> Result<(), CliError> {
    let config = ServeConfig {
        root: args.root,
        listen: args.listen,
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| TlsFiles { cert, key }),
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|source| CliError::Io {
        context: "cannot start the async runtime".into(),
        source,
    })?;
    runtime.block_on(async {
        let server = Server::bind(&config).await?;
        if config.tls.is_none() {
            tracing::warn!("serving plain HTTP without --tls-cert: for local development only");
        }
        tracing::info!(address = %server.address(), root = %config.root.display(), "api host listening");
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "Serving {} on {}", config.root.display(), server.url());
        let _ = out.flush();
        drop(out);
        server.run(shutdown_signal()).await;
        tracing::info!("api host stopped");
        Ok(())
    })
}
