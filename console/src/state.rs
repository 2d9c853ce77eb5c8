//! What the running console shares between the HTTPS server and the control socket.

use std::sync::Arc;
use std::time::Instant;

use crate::appconfig::AppConfig;
use crate::auth::Auth;
use crate::certs::CertManager;
use crate::cluster::hub::Hub;
use crate::cluster::Cluster;
use crate::deploy::{Deployer, Registries};
use crate::license::Licenses;
use crate::releases::Releases;
use crate::store::Store;
use crate::updates::Updates;
use crate::upstream::Upstream;

#[derive(Debug)]
pub struct AppState {
    pub store: Arc<Store>,
    pub auth: Arc<Auth>,
    pub certs: Arc<CertManager>,
    pub licenses: Arc<Licenses>,
    pub releases: Arc<Releases>,
    /// The vendor's api host: fetching releases, through the outbound log.
    pub upstream: Arc<Upstream>,
    /// Update checks, their schedule, and the outbound settings.
    pub updates: Arc<Updates>,
    pub config: Arc<AppConfig>,
    pub cluster: Arc<Cluster>,
    pub hub: Arc<Hub>,
    /// Registry settings for pulls (rules, credentials).
    pub registries: Arc<Registries>,
    /// Deploys, rollbacks, start/stop, status and logs of the app.
    pub deployer: Arc<Deployer>,
    pub started: Instant,
    pub started_at: i64,
    /// The console's URL as printed (`https://HOST:PORT`).
    pub base_url: String,
    /// The agent channel's URL, for join commands (`https://HOST:9879`).
    pub cluster_url: String,
}

impl AppState {
    pub fn uptime_seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The one-time setup link for a raw token.
    pub fn setup_link(&self, token: &str) -> String {
        format!("{}/setup?token={token}", self.base_url)
    }
}
