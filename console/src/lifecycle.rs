//! The console's life: build everything from a resolved config, bind, serve, drain.
//! Every failure before serving is reported with what it was doing, and nothing is left
//! half-started.

use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;

use crate::audit::{self, Action, Actor, Source};
use crate::auth::Auth;
use crate::certs::{CertError, CertManager, LoadOutcome, SelfSignedNames};
use crate::clock::{rfc3339, unix_now};
use crate::cluster::ca::ClusterCa;
use crate::cluster::hub::Hub;
use crate::cluster::Cluster;
use crate::config::ServeConfig;
use crate::control::{self, ControlError};
use crate::state::AppState;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("cannot create the data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another outpost-console already uses the data dir {0}")]
    Locked(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Certificate(#[from] CertError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("cannot issue the setup link: {0}")]
    Setup(#[from] crate::auth::AuthError),
    #[error("cluster CA: {0}")]
    Ca(#[from] crate::cluster::ca::CaError),
    #[error(transparent)]
    Upstream(#[from] crate::upstream::SetupError),
    #[error("outbound settings: {0}")]
    Settings(#[from] crate::updates::SettingsError),
}

/// Runs the console until SIGINT or SIGTERM.
pub async fn serve(config: ServeConfig) -> Result<(), LifecycleError> {
    let started = Instant::now();
    let data_dir = &config.data_dir;
    create_private_dir(data_dir)?;
    let _lock = lock_data_dir(data_dir)?;

    let store = Arc::new(Store::open(&data_dir.join("console.db"))?);
    // The api host client reads its CA file now, so a bad one stops the console before it
    // binds a port.
    let recorder = crate::upstream::Recorder::new(
        store.clone(),
        &crate::upstream::RecorderConfig {
            extra_ca: config.api_host_ca.clone(),
            retention_days: config.outbound_log_days,
            environment_proxy: config.environment_proxy.clone(),
        },
    )?;
    let now = unix_now();
    let extra_names: Vec<String> = config.advertise_host.iter().cloned().collect();
    let names = SelfSignedNames::for_this_host(&extra_names);
    let (certs, outcome) = CertManager::load_or_generate(&data_dir.join("tls"), &names, now)?;
    let certs = Arc::new(certs);
    let info = certs.info();
    let generated = match outcome {
        LoadOutcome::Loaded => None,
        LoadOutcome::Generated => Some("generated"),
        LoadOutcome::Renewed => Some("renewed (the previous one was about to expire)"),
    };
    if let Some(how) = generated {
        audit::record(
            &store,
            &Actor::System,
            Action::TlsGenerated,
            &Source::Local,
            &format!(
                "self-signed certificate {how}: {}, valid until {}",
                info.fingerprint_sha256,
                rfc3339(info.not_after)
            ),
        )?;
    }

    let listener =
        TcpListener::bind(config.listen)
            .await
            .map_err(|source| LifecycleError::Bind {
                address: config.listen,
                source,
            })?;
    let bound = listener
        .local_addr()
        .map_err(|source| LifecycleError::Bind {
            address: config.listen,
            source,
        })?;
    let cluster_listener = TcpListener::bind(config.cluster_listen)
        .await
        .map_err(|source| LifecycleError::Bind {
            address: config.cluster_listen,
            source,
        })?;
    let cluster_bound = cluster_listener
        .local_addr()
        .map_err(|source| LifecycleError::Bind {
            address: config.cluster_listen,
            source,
        })?;
    let control_listener = control::bind(data_dir).await?;

    let (ca, created) = ClusterCa::load_or_generate(&data_dir.join("ca"), now)?;
    if created {
        tracing::info!(fingerprint = %ca.fingerprint(), "created the cluster CA");
    }
    let channel_tls = ca.channel_server_config(&names, now)?;
    let cluster = Arc::new(Cluster::new(store.clone(), Arc::new(ca)));
    let hub = Arc::new(Hub::new(store.clone()));

    let auth = Arc::new(Auth::new(store.clone(), config.session));
    let licenses = Arc::new(crate::license::Licenses::new(store.clone()));
    let releases = Arc::new(crate::releases::Releases::new(
        store.clone(),
        licenses.clone(),
    ));
    let upstream = Arc::new(crate::upstream::Upstream::new(
        store.clone(),
        licenses.clone(),
        releases.clone(),
        recorder,
        now,
    )?);
    let registries = Arc::new(crate::deploy::Registries::new(
        store.clone(),
        licenses.clone(),
    ));
    let deployer = Arc::new(crate::deploy::Deployer::new(
        store.clone(),
        licenses.clone(),
        releases.clone(),
        registries.clone(),
        hub.clone(),
        crate::deploy::execute::Limits::default(),
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default(),
    ));
    let updates = Arc::new(crate::updates::Updates::new(
        store.clone(),
        licenses.clone(),
        releases.clone(),
        upstream.clone(),
        deployer.clone(),
        now,
    )?);
    let state = Arc::new(AppState {
        registries,
        deployer: deployer.clone(),
        upstream,
        updates: updates.clone(),
        store: store.clone(),
        auth: auth.clone(),
        certs: certs.clone(),
        licenses: licenses.clone(),
        releases: releases.clone(),
        config: Arc::new(crate::appconfig::AppConfig::new(store.clone(), releases)),
        cluster: cluster.clone(),
        hub: hub.clone(),
        started,
        started_at: now,
        base_url: base_url(config.advertise_host.as_deref(), bound),
        cluster_url: base_url(config.advertise_host.as_deref(), cluster_bound),
    });
    let setup_link = if store.admin_exists()? {
        None
    } else {
        let token = auth.issue_setup_token(&Actor::System, &Source::Local, now)?;
        Some(state.setup_link(&token))
    };

    tracing::info!(
        address = %bound,
        version = crate::VERSION,
        fingerprint = %info.fingerprint_sha256,
        "console listening"
    );
    print_banner(
        &state.base_url,
        &state.cluster_url,
        setup_link.as_deref(),
        data_dir,
    );

    // One signal stops both servers.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let control_task = tokio::spawn(control::serve(control_listener, state.clone()));
    // A deployment the console was in when it stopped: resume it (in the background, once
    // its nodes reconnect).
    tokio::spawn(deployer.resume_interrupted());
    // Update checks on the admin's schedule (none in airgap mode).
    tokio::spawn(updates.run(stopped.clone()));
    let channel = tokio::spawn(crate::http::tls::serve(
        cluster_listener,
        channel_tls,
        crate::http::agent_channel::routes(cluster, hub),
        until_stopped(stopped.clone()),
    ));
    let filter = crate::http::routes(state.clone());
    crate::http::tls::serve(
        listener,
        certs.server_config(),
        filter,
        until_stopped(stopped),
    )
    .await;
    let _ = channel.await;
    control_task.abort();
    let _ = std::fs::remove_file(data_dir.join(control::SOCKET_NAME));
    tracing::info!("console stopped");
    Ok(())
}

/// The URL people should open: the advertised host, else the listen address, else
/// (for a wildcard listen) this host's name.
fn base_url(advertise: Option<&str>, bound: SocketAddr) -> String {
    let host = match advertise {
        Some(host) => host.to_owned(),
        None if bound.ip().is_unspecified() => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into()),
        None => bound.ip().to_string(),
    };
    let host = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => host,
    };
    format!("https://{host}:{}", bound.port())
}

fn print_banner(url: &str, cluster_url: &str, setup_link: Option<&str>, data_dir: &Path) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "Console URL: {url}");
    let _ = writeln!(out, "Agent channel: {cluster_url}");
    match setup_link {
        Some(link) => {
            let _ = writeln!(out, "Setup link: {link}");
            let _ = writeln!(
                out,
                "Open the setup link to set the admin password; it works once and expires in 24 h."
            );
        }
        None => {
            let _ = writeln!(
                out,
                "The admin password is set. Forgot it? Run: outpostctl --data-dir {} reset-password",
                data_dir.display()
            );
        }
    }
    let _ = out.flush();
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the console");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
    }
}

fn create_private_dir(path: &Path) -> Result<(), LifecycleError> {
    crate::files::create_private_dir(path).map_err(|source| LifecycleError::DataDir {
        path: path.to_owned(),
        source,
    })
}

/// Holds an exclusive lock on `DATA_DIR/console.lock` for the life of the process, so
/// two consoles never share one database.
fn lock_data_dir(data_dir: &Path) -> Result<File, LifecycleError> {
    let path = data_dir.join("console.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| LifecycleError::DataDir {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(LifecycleError::Locked(data_dir.to_owned())),
        Err(std::fs::TryLockError::Error(source)) => Err(LifecycleError::DataDir { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let bound: SocketAddr = "127.0.0.1:8800".parse().unwrap();
        assert_eq!(base_url(None, bound), "https://127.0.0.1:8800");
        assert_eq!(
            base_url(Some("console.corp"), bound),
            "https://console.corp:8800"
        );
        let v6: SocketAddr = "[::1]:9000".parse().unwrap();
        assert_eq!(base_url(None, v6), "https://[::1]:9000");
        let any: SocketAddr = "0.0.0.0:8800".parse().unwrap();
        assert!(!base_url(None, any).contains("0.0.0.0"));
    }

    #[test]
    fn a_second_console_cannot_take_the_same_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let _held = lock_data_dir(dir.path()).unwrap();
        assert!(matches!(
            lock_data_dir(dir.path()),
            Err(LifecycleError::Locked(_))
        ));
    }
}
