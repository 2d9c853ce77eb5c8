//! The audit log: who did what, when, from where. Every admin action and every security
//! event lands here; the store keeps it and `GET /api/v1/audit` reads it back.

use crate::clock;
use crate::store::{Store, StoreError};

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in admin, by username.
    Admin(String),
    /// The console itself (start-up, schedules).
    System,
    /// Someone not signed in (a failed login, a setup attempt).
    Anonymous,
    /// Root on the console host, through `outpostctl`.
    LocalRoot,
}

impl Actor {
    pub fn as_str(&self) -> &str {
        match self {
            Actor::Admin(name) => name,
            Actor::System => "system",
            Actor::Anonymous => "anonymous",
            Actor::LocalRoot => "root (outpostctl)",
        }
    }
}

/// What happened. The string forms are part of the API and never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SetupLinkIssued,
    SetupCompleted,
    SetupRefused,
    LoginSucceeded,
    LoginFailed,
    LoginRateLimited,
    Logout,
    TlsGenerated,
    TlsReplaced,
    TlsRejected,
    LicenseKeyPinned,
    LicenseLoaded,
    LicenseRejected,
    JoinTokenCreated,
    NodeJoined,
    NodeJoinRefused,
    NodeLabelsChanged,
    NodeRemoved,
    ReleaseLoaded,
    ReleaseRejected,
    ReleasesFetched,
    ReleasesFetchFailed,
    ConfigChanged,
    ConfigRestored,
    PreflightOverridden,
    DeployStarted,
    DeploySucceeded,
    DeployFailed,
    DeployRolledBack,
    DeployResumed,
    RollbackRequested,
    AppStarted,
    AppStopped,
    AppRestarted,
    RegistriesChanged,
    LicenseSynced,
    LicenseRevoked,
    LicenseSyncRefused,
    UpdateCheckFailed,
    UpdatesAvailable,
    AdvisoryPublished,
    OutboundSettingsChanged,
    LicenseKeyRotated,
    LicenseKeyRotationRefused,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SetupLinkIssued => "setup.link_issued",
            Action::SetupCompleted => "setup.completed",
            Action::SetupRefused => "setup.refused",
            Action::LoginSucceeded => "login.succeeded",
            Action::LoginFailed => "login.failed",
            Action::LoginRateLimited => "login.rate_limited",
            Action::Logout => "logout",
            Action::TlsGenerated => "tls.generated",
            Action::TlsReplaced => "tls.replaced",
            Action::TlsRejected => "tls.rejected",
            Action::LicenseKeyPinned => "license.key_pinned",
            Action::LicenseLoaded => "license.loaded",
            Action::LicenseRejected => "license.rejected",
            Action::JoinTokenCreated => "node.join_token_created",
            Action::NodeJoined => "node.joined",
            Action::NodeJoinRefused => "node.join_refused",
            Action::NodeLabelsChanged => "node.labels_changed",
            Action::NodeRemoved => "node.removed",
            Action::ReleaseLoaded => "release.loaded",
            Action::ReleaseRejected => "release.rejected",
            Action::ReleasesFetched => "releases.fetched",
            Action::ReleasesFetchFailed => "releases.fetch_failed",
            Action::ConfigChanged => "config.changed",
            Action::ConfigRestored => "config.restored",
            Action::PreflightOverridden => "preflight.overridden",
            Action::DeployStarted => "deploy.started",
            Action::DeploySucceeded => "deploy.succeeded",
            Action::DeployFailed => "deploy.failed",
            Action::DeployRolledBack => "deploy.rolled_back",
            Action::DeployResumed => "deploy.resumed",
            Action::RollbackRequested => "deploy.rollback_requested",
            Action::AppStarted => "app.started",
            Action::AppStopped => "app.stopped",
            Action::AppRestarted => "app.restarted",
            Action::RegistriesChanged => "registries.changed",
            Action::LicenseSynced => "license.synced",
            Action::LicenseRevoked => "license.revoked",
            Action::LicenseSyncRefused => "license.sync_refused",
            Action::UpdateCheckFailed => "updates.check_failed",
            Action::UpdatesAvailable => "updates.available",
            Action::AdvisoryPublished => "advisory.published",
            Action::OutboundSettingsChanged => "settings.outbound_changed",
            Action::LicenseKeyRotated => "license.key_rotated",
            Action::LicenseKeyRotationRefused => "license.key_rotation_refused",
        }
    }
}

/// Where the request came from: a client address, or the local control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Address(std::net::IpAddr),
    Local,
    Unknown,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Address(ip) => write!(f, "{ip}"),
            Source::Local => f.write_str("local"),
            Source::Unknown => f.write_str("unknown"),
        }
    }
}

/// Appends one entry. `detail` must never contain a secret.
pub fn record(
    store: &Store,
    actor: &Actor,
    action: Action,
    source: &Source,
    detail: &str,
) -> Result<(), StoreError> {
    store.append_audit(
        clock::unix_now(),
        actor.as_str(),
        action.as_str(),
        &source.to_string(),
        detail,
    )?;
    tracing::info!(
        actor = actor.as_str(),
        action = action.as_str(),
        source = %source,
        detail,
        "audit"
    );
    Ok(())
}
