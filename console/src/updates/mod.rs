//! Update checks against the vendor's api host, and the outbound settings they obey.
//!
//! A check syncs the license (renewals, changed terms and revocations take effect), then
//! fetches the channel index — verified, never expired, never older than one seen — and
//! every release it lists that is not loaded yet, and announces the advisories that
//! affect the installed release. It runs on the admin's [schedule](schedule::Schedule),
//! offset per install, retried with backoff after a failure, or when an admin asks.
//!
//! [`Updates::status`] turns what the store holds (the license, the last accepted index,
//! the recent checks, the loaded and installed releases) into one of the states the UI,
//! the API and `outpostctl updates list` show. Nothing about it lives only in memory, so a
//! restarted console shows what it showed before.
//!
//! In airgap mode nothing here sends anything: the recorder refuses, and the schedule
//! does not run.

pub mod schedule;
mod settings;

use std::sync::Arc;

use outpost_airgap::channel::{Advisory, ChannelIndex};
use outpost_airgap::license::Revocation;
use serde::Serialize;

pub use schedule::Schedule;
pub use settings::{OutboundSettings, SettingsChange, SettingsError};

use crate::audit::{self, Action, Actor, Source};
use crate::deploy::Deployer;
use crate::license::{LicenseError, Licenses, Synced};
use crate::releases::{ReleaseError, Releases};
use crate::store::{CheckRecord, Store, StoreError};
use crate::upstream::{Upstream, UpstreamError};

/// The most key rotations one check follows (a chain of them, one after the other).
const MAX_ROTATIONS: u32 = 8;
/// Checks shown in a status (the latest first).
const RECENT_CHECKS: u32 = 20;
/// The scheduler looks at the clock again at least this often (settings and clock
/// changes are picked up without a wake-up).
const MAX_SLEEP_SECS: i64 = 3600;

/// Why a check could not run at all. An api host that fails is not an error here: the
/// check is recorded as failed and the state says why.
#[derive(Debug, thiserror::Error)]
pub enum UpdatesError {
    #[error("airgap mode is on ({0}): the console checks nothing online; releases come from airgap bundles")]
    Airgap(String),
    #[error("load the vendor's license first: it names the api host and the channel")]
    NoLicense,
    #[error("{0}")]
    Upstream(UpstreamError),
    #[error(transparent)]
    License(#[from] LicenseError),
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("the console failed inside: {0}")]
    Task(String),
}

/// What started a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    /// The schedule, retrying after a failure.
    Retry,
    /// An admin ("check now").
    Admin,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Retry => "retry",
            Trigger::Admin => "admin",
        }
    }
}

/// The state an install is in, as far as updates go. Listed from the most to the least
/// pressing; [`Updates::status`] picks the first that holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// No outbound connection at all.
    Airgap,
    /// No license loaded, or it names no api host.
    NotOnline,
    LicenseRevoked,
    LicenseExpired,
    /// The last check failed (why, and the next retry, are in the status).
    CheckFailed,
    /// The api host serves an expired index, or the one held has expired since.
    MetadataStale,
    UpdateAvailable,
    UpToDate,
    NeverChecked,
}

/// Everything the updates page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateStatus {
    pub state: State,
    /// The state in one sentence, saying what to do.
    pub message: String,
    pub airgap: Option<String>,
    pub installed: Option<ReleaseBrief>,
    /// Loaded releases newer than the installed one, oldest first.
    pub available: Vec<AvailableRelease>,
    /// Advisories that affect the installed release.
    pub advisories: Vec<AdvisoryView>,
    pub license: Option<LicenseBrief>,
    pub index: Option<IndexBrief>,
    pub schedule: Schedule,
    /// This install's offset within the schedule, in seconds.
    pub schedule_offset: u64,
    pub next_check_at: Option<i64>,
    /// Failed checks in a row (0 after a success).
    pub failures: u32,
    pub last_success_at: Option<i64>,
    pub checks: Vec<CheckRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseBrief {
    pub sequence: u64,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailableRelease {
    pub sequence: u64,
    pub version: String,
    pub notes: String,
    pub required: bool,
    pub created_at: i64,
    /// Ids of the advisories affecting the installed release that this one fixes.
    pub fixes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryView {
    pub advisory: Advisory,
    /// The version of the fixed-in release, when it is known here.
    pub fixed_in_version: Option<String>,
    /// Whether the fixed-in release is loaded (ready to deploy).
    pub fix_available: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseBrief {
    pub license_id: String,
    pub expires_at: i64,
    pub expired: bool,
    pub revoked: Option<Revocation>,
    pub api_host: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexBrief {
    pub version: u64,
    pub expires_at: i64,
    pub accepted_at: i64,
    pub expired: bool,
}

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckDone {
    pub id: i64,
    pub ok: bool,
    /// What it did, or why it failed.
    pub summary: String,
}

/// The update checker and its schedule.
#[derive(Debug)]
pub struct Updates {
    store: Arc<Store>,
    licenses: Arc<Licenses>,
    releases: Arc<Releases>,
    upstream: Arc<Upstream>,
    deployer: Arc<Deployer>,
    /// One check at a time.
    checking: tokio::sync::Mutex<()>,
    /// Wakes the scheduler when the settings change.
    wake: tokio::sync::Notify,
    /// When this console started: the first scheduled check is the first slot after it.
    started_at: i64,
}

impl Updates {
    /// Applies the stored proxy setting to the recorder. `now`: the console's start.
    pub fn new(
        store: Arc<Store>,
        licenses: Arc<Licenses>,
        releases: Arc<Releases>,
        upstream: Arc<Upstream>,
        deployer: Arc<Deployer>,
        now: i64,
    ) -> Result<Updates, SettingsError> {
        let updates = Updates {
            store,
            licenses,
            releases,
            upstream,
            deployer,
            checking: tokio::sync::Mutex::new(()),
            wake: tokio::sync::Notify::new(),
            started_at: now,
        };
        let settings = updates.settings()?;
        updates.apply_proxy(&settings)?;
        Ok(updates)
    }

    /// Runs one check now; records and (where it matters) audits it.
    pub async fn check(
        &self,
        trigger: Trigger,
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<CheckDone, UpdatesError> {
        let store = self.store.clone();
        if let Some(why) = blocking(move || Ok(crate::upstream::airgap_mode(&store)?)).await? {
            return Err(UpdatesError::Airgap(why));
        }
        let _one_at_a_time = self.checking.lock().await;
        let store = self.store.clone();
        let (id, failures_before) = blocking(move || {
            let failures = failures_in_a_row(&store.recent_update_checks(RECENT_CHECKS)?);
            Ok((store.begin_update_check(trigger.as_str(), now)?, failures))
        })
        .await?;
        let result = self.run_check(now).await;
        let (ok, problem, summary) = match result {
            Ok(summary) => (true, None, summary),
            Err(Failure::Check { problem, error }) => (false, Some(problem), error),
            Err(Failure::Internal(error)) => {
                let message = error.to_string();
                let store = self.store.clone();
                blocking(move || {
                    store.finish_update_check(
                        id,
                        now,
                        "failed",
                        Some("internal"),
                        Some(&message),
                        "",
                    )?;
                    Ok(())
                })
                .await?;
                return Err(error);
            }
        };
        let store = self.store.clone();
        let (actor, source) = (actor.clone(), source.clone());
        let done = CheckDone {
            id,
            ok,
            summary: summary.clone(),
        };
        blocking(move || {
            if ok {
                store.finish_update_check(id, now, "ok", None, None, &summary)?;
            } else {
                store.finish_update_check(id, now, "failed", problem, Some(&summary), "")?;
                // An admin hears of every failure; the schedule's first one is audited,
                // not each retry after it.
                if trigger == Trigger::Admin || failures_before == 0 {
                    audit::record(
                        &store,
                        &actor,
                        Action::UpdateCheckFailed,
                        &source,
                        &format!("update check failed: {summary}"),
                    )?;
                }
            }
            Ok(())
        })
        .await?;
        Ok(done)
    }

    /// The check itself: license sync, then the index and new releases, then advisories.
    async fn run_check(&self, now: i64) -> Result<String, Failure> {
        let installed = self.deployer.installed_sequence();
        let mut did = Vec::new();
        let mut rotations = 0;
        let synced = loop {
            match self.upstream.sync_license(installed, now).await {
                Err(e) if Upstream::is_other_key(&e) && rotations < MAX_ROTATIONS => {
                    if !self.follow_rotation(installed, now, &mut did).await? {
                        break Err(e);
                    }
                    rotations += 1;
                }
                other => break other,
            }
        };
        match synced {
            Ok(Synced::Unchanged) => did.push("license unchanged".to_owned()),
            Ok(Synced::Updated { changes }) => {
                did.push(format!("license updated ({})", changes.join("; ")))
            }
            Err(error) => return Err(Failure::from_upstream(error)),
        }
        let licenses = self.licenses.clone();
        let license = blocking(move || Ok(licenses.current()?))
            .await
            .map_err(Failure::Internal)?
            .ok_or(Failure::Internal(UpdatesError::NoLicense))?
            .license;
        if let Some(revoked) = &license.revoked {
            did.push(format!(
                "the license is revoked ({}): no releases fetched",
                revoked.reason
            ));
            return Ok(did.join("; "));
        }
        if license.expires_at.unix_timestamp() <= now {
            did.push("the license has expired: no releases fetched".into());
            return Ok(did.join("; "));
        }
        let summary = loop {
            match self
                .upstream
                .fetch_unaudited(installed, &Actor::System, &Source::Local, now)
                .await
            {
                Err(e) if Upstream::is_other_key(&e) && rotations < MAX_ROTATIONS => {
                    if !self.follow_rotation(installed, now, &mut did).await? {
                        break Err(e);
                    }
                    rotations += 1;
                }
                other => break other,
            }
        }
        .map_err(Failure::from_upstream)?;
        did.push(format!("channel index version {}", summary.index_version));
        if !summary.fetched.is_empty() {
            did.push(format!("fetched {}", sequences(&summary.fetched)));
        }
        for refusal in &summary.refused {
            did.push(format!(
                "refused sequence {}: {}",
                refusal.sequence, refusal.reason
            ));
        }
        let store = self.store.clone();
        let fetched = summary.fetched.clone();
        let versions: Vec<(u64, String)> = summary
            .index
            .releases
            .iter()
            .map(|e| (e.sequence, e.version.clone()))
            .collect();
        let index = summary.index;
        let app_id = license.app_id.clone();
        let announced = blocking(move || {
            if !fetched.is_empty() {
                let named: Vec<String> = fetched
                    .iter()
                    .map(|s| describe_sequence(*s, &versions))
                    .collect();
                audit::record(
                    &store,
                    &Actor::System,
                    Action::UpdatesAvailable,
                    &Source::Local,
                    &format!(
                        "update check fetched new releases from the api host: {}",
                        named.join(", ")
                    ),
                )?;
            }
            announce_advisories(&store, &app_id, &index, installed, now)
        })
        .await
        .map_err(Failure::Internal)?;
        match announced {
            0 => {}
            1 => did.push("1 new advisory affects the installed release".to_owned()),
            n => did.push(format!("{n} new advisories affect the installed release")),
        }
        Ok(did.join("; "))
    }

    /// A document came signed by another key: takes over the vendor's key rotation from the
    /// pinned key, if the api host publishes one. `false`: it publishes none.
    async fn follow_rotation(
        &self,
        installed: Option<u64>,
        now: i64,
        did: &mut Vec<String>,
    ) -> Result<bool, Failure> {
        match self.upstream.follow_rotation(installed, now).await {
            Ok(Some((old, new))) => {
                did.push(format!("vendor key rotated from {old} to {new}"));
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(Failure::from_upstream(e)),
        }
    }

    /// Where updates stand now.
    pub fn status(&self, now: i64) -> Result<UpdateStatus, UpdatesError> {
        let settings = self.settings()?;
        let airgap = crate::upstream::airgap_mode(&self.store)?;
        let checks = self.store.recent_update_checks(RECENT_CHECKS)?;
        let failures = failures_in_a_row(&checks);
        let last_success_at = self.store.last_successful_check()?;
        let instance = self.upstream.instance_id().to_owned();
        let schedule_offset = settings.schedule.offset(&instance);

        let license = self.licenses.current()?.map(|l| l.license);
        let installed_sequence = self.deployer.installed_sequence();
        let loaded = match license {
            Some(_) => self.releases.list()?,
            None => Vec::new(),
        };
        let installed = installed_sequence.map(|sequence| ReleaseBrief {
            sequence,
            version: loaded
                .iter()
                .find(|r| r.release.sequence == sequence)
                .map(|r| r.release.version.clone())
                .unwrap_or_default(),
        });
        let index = match &license {
            Some(l) => self.store.channel_index(&l.app_id, &l.channel)?,
            None => None,
        };
        let index_document: Option<ChannelIndex> = index
            .as_ref()
            .and_then(|i| serde_json::from_str(&i.payload).ok());
        let advisories: Vec<AdvisoryView> = match (&index_document, installed_sequence) {
            (Some(document), Some(sequence)) => document
                .advisories
                .iter()
                .filter(|a| a.affects(sequence))
                .map(|a| {
                    let fixed = a
                        .fixed_in
                        .and_then(|f| loaded.iter().find(|r| r.release.sequence == f));
                    AdvisoryView {
                        fixed_in_version: fixed.map(|r| r.release.version.clone()).or_else(|| {
                            a.fixed_in.and_then(|f| {
                                document
                                    .releases
                                    .iter()
                                    .find(|e| e.sequence == f)
                                    .map(|e| e.version.clone())
                            })
                        }),
                        fix_available: fixed.is_some(),
                        advisory: a.clone(),
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut available: Vec<AvailableRelease> = loaded
            .iter()
            .filter(|r| installed_sequence.is_none_or(|i| r.release.sequence > i))
            .map(|r| AvailableRelease {
                sequence: r.release.sequence,
                version: r.release.version.clone(),
                notes: r.release.notes.clone(),
                required: r.release.required,
                created_at: r.release.created_at.unix_timestamp(),
                fixes: advisories
                    .iter()
                    .filter(|a| a.advisory.fixed_in.is_some_and(|f| r.release.sequence >= f))
                    .map(|a| a.advisory.id.clone())
                    .collect(),
            })
            .collect();
        available.sort_by_key(|r| r.sequence);
        let license_brief = license.as_ref().map(|l| LicenseBrief {
            license_id: l.license_id.clone(),
            expires_at: l.expires_at.unix_timestamp(),
            expired: l.expires_at.unix_timestamp() <= now,
            revoked: l.revoked.clone(),
            api_host: l.api_host.clone(),
        });
        let index_brief = index.as_ref().map(|i| IndexBrief {
            version: i.version,
            expires_at: i.expires_at,
            accepted_at: i.accepted_at,
            expired: i.expires_at <= now,
        });
        let last = checks.first();
        let online = airgap.is_none() && license.as_ref().is_some_and(|l| l.api_host.is_some());
        let next_check_at = if online {
            self.next_due(&settings.schedule, &instance, &checks)
        } else {
            None
        };
        let (state, message) = state_of(&StateInputs {
            airgap: airgap.as_deref(),
            license: license_brief.as_ref(),
            last,
            failures,
            next_check_at,
            index: index_brief.as_ref(),
            available: &available,
            installed: installed.as_ref(),
            advisories: advisories.len(),
        });
        Ok(UpdateStatus {
            state,
            message,
            airgap,
            installed,
            available,
            advisories,
            license: license_brief,
            index: index_brief,
            schedule: settings.schedule,
            schedule_offset,
            next_check_at,
            failures,
            last_success_at,
            checks,
        })
    }

    /// When the scheduler runs the next check: the retry after a failure, else the first
    /// slot after the last check (at once if the console was down through one), else the
    /// first slot after the console started. Each is a fixed time, so the scheduler reaches it.
    fn next_due(&self, schedule: &Schedule, instance: &str, checks: &[CheckRecord]) -> Option<i64> {
        let failures = failures_in_a_row(checks);
        let last = checks.first();
        if let Some(last) = last.filter(|_| failures > 0) {
            let failed_at = last.finished_at.unwrap_or(last.started_at);
            return schedule::retry_at(schedule, failed_at, failures);
        }
        match last {
            Some(last) => schedule.next_after(last.started_at, instance),
            None => schedule.next_after(self.started_at, instance),
        }
    }

    /// Runs scheduled checks until `stopped` says stop. Sleeps until the next due time
    /// (at most an hour at a time), and wakes early when the settings change.
    pub async fn run(self: Arc<Self>, mut stopped: tokio::sync::watch::Receiver<bool>) {
        loop {
            let now = crate::clock::unix_now();
            let due = match self.scheduled() {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot work out the next update check");
                    None
                }
            };
            match due {
                Some((at, trigger)) if at <= now => {
                    match self
                        .check(trigger, &Actor::System, &Source::Local, now)
                        .await
                    {
                        Ok(done) if done.ok => {
                            tracing::info!(summary = %done.summary, "update check done")
                        }
                        Ok(done) => tracing::warn!(error = %done.summary, "update check failed"),
                        Err(UpdatesError::Airgap(_)) => {}
                        Err(e) => tracing::warn!(error = %e, "update check could not run"),
                    }
                    continue;
                }
                _ => {}
            }
            let wait = due.map_or(MAX_SLEEP_SECS, |(at, _)| {
                (at - now).clamp(1, MAX_SLEEP_SECS)
            });
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs(wait as u64)) => {}
                () = self.wake.notified() => {}
                _ = stopped.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// The next scheduled check and what triggers it, if checks run by themselves now.
    fn scheduled(&self) -> Result<Option<(i64, Trigger)>, UpdatesError> {
        if crate::upstream::airgap_mode(&self.store)?.is_some() {
            return Ok(None);
        }
        let online = self
            .licenses
            .current()?
            .is_some_and(|l| l.license.api_host.is_some());
        if !online {
            return Ok(None);
        }
        let schedule = self.settings()?.schedule;
        let checks = self.store.recent_update_checks(RECENT_CHECKS)?;
        let trigger = if failures_in_a_row(&checks) > 0 {
            Trigger::Retry
        } else {
            Trigger::Schedule
        };
        Ok(self
            .next_due(&schedule, self.upstream.instance_id(), &checks)
            .map(|at| (at, trigger)))
    }
}

/// Why a check failed: the api host or what it served (recorded), or the console itself.
enum Failure {
    Check {
        problem: &'static str,
        error: String,
    },
    Internal(UpdatesError),
}

impl Failure {
    fn from_upstream(error: UpstreamError) -> Failure {
        let problem = match &error {
            UpstreamError::Airgap(why) => {
                return Failure::Internal(UpdatesError::Airgap(why.clone()))
            }
            _ if error.is_internal() => return Failure::Internal(UpdatesError::Upstream(error)),
            UpstreamError::NoLicense => return Failure::Internal(UpdatesError::NoLicense),
            UpstreamError::NoApiHost | UpstreamError::ApiHostNotHttps(_) => "no_api_host",
            UpstreamError::Unreachable(_) | UpstreamError::Tls(_) => "unreachable",
            UpstreamError::LicenseUnknown { .. }
            | UpstreamError::Refused { .. }
            | UpstreamError::TooLarge(_) => "refused",
            UpstreamError::IndexExpired { .. } => "metadata_stale",
            UpstreamError::Rollback { .. } => "rollback",
            UpstreamError::IndexInvalid { .. }
            | UpstreamError::IndexOtherKey { .. }
            | UpstreamError::DigestMismatch { .. } => "index_invalid",
            UpstreamError::License(_) => "license_refused",
            _ => "failed",
        };
        Failure::Check {
            problem,
            error: error.to_string(),
        }
    }
}

/// What [`state_of`] decides from.
struct StateInputs<'a> {
    airgap: Option<&'a str>,
    license: Option<&'a LicenseBrief>,
    last: Option<&'a CheckRecord>,
    failures: u32,
    next_check_at: Option<i64>,
    index: Option<&'a IndexBrief>,
    available: &'a [AvailableRelease],
    installed: Option<&'a ReleaseBrief>,
    advisories: usize,
}

/// The state and its sentence. Pure.
fn state_of(inputs: &StateInputs<'_>) -> (State, String) {
    let when = |at: Option<i64>| {
        at.map_or_else(
            || "when an admin asks".into(),
            |t| format!("at {}", crate::clock::rfc3339(t)),
        )
    };
    if let Some(why) = inputs.airgap {
        return (
            State::Airgap,
            format!("Airgap mode is on ({why}): the console makes no connection outside; releases come from airgap bundles."),
        );
    }
    let Some(license) = inputs.license else {
        return (State::NotOnline, "Load the vendor's license first.".into());
    };
    if license.api_host.is_none() {
        return (
            State::NotOnline,
            "The license names no api host: this install takes releases as files or airgap bundles.".into(),
        );
    }
    if let Some(revoked) = &license.revoked {
        return (
            State::LicenseRevoked,
            format!(
                "The vendor revoked this license: {}. The app keeps running; updates are blocked. Contact the vendor.",
                revoked.reason
            ),
        );
    }
    if license.expired {
        return (
            State::LicenseExpired,
            format!(
                "The license expired at {}. The app keeps running; updates need a renewed license from the vendor.",
                crate::clock::rfc3339(license.expires_at)
            ),
        );
    }
    if let Some(last) = inputs.last.filter(|_| inputs.failures > 0) {
        let error = last.error.as_deref().unwrap_or("unknown error");
        if last.problem.as_deref() == Some("metadata_stale") {
            return (
                State::MetadataStale,
                format!("The api host serves stale metadata: {error}. Known releases are kept; retrying {}.", when(inputs.next_check_at)),
            );
        }
        return (
            State::CheckFailed,
            format!(
                "The last update check failed ({} in a row): {error}. Retrying {}; the app is not affected.",
                inputs.failures,
                when(inputs.next_check_at)
            ),
        );
    }
    if let Some(index) = inputs.index.filter(|i| i.expired) {
        return (
            State::MetadataStale,
            format!(
                "The channel index held expired at {}; the next check fetches a fresh one ({}).",
                crate::clock::rfc3339(index.expires_at),
                when(inputs.next_check_at)
            ),
        );
    }
    let advisories = match inputs.advisories {
        0 => String::new(),
        1 => " A security advisory affects the installed release.".to_owned(),
        n => format!(" {n} security advisories affect the installed release."),
    };
    if let Some(newest) = inputs.available.last() {
        let required = inputs.available.iter().any(|r| r.required);
        let what = match inputs.installed {
            Some(installed) => format!(
                "Release {} (sequence {}) is available; {} is installed",
                newest.version, newest.sequence, installed.version
            ),
            None => format!(
                "Release {} (sequence {}) is ready to deploy",
                newest.version, newest.sequence
            ),
        };
        let required = if required {
            " A required update is among them."
        } else {
            ""
        };
        return (
            State::UpdateAvailable,
            format!("{what}.{required}{advisories}"),
        );
    }
    if inputs.last.is_none() && inputs.index.is_none() {
        return (
            State::NeverChecked,
            format!(
                "No update check has run yet; the first runs {}.",
                when(inputs.next_check_at)
            ),
        );
    }
    (State::UpToDate, format!("Up to date.{advisories}"))
}

/// Failed checks in a row, newest first.
fn failures_in_a_row(checks: &[CheckRecord]) -> u32 {
    checks
        .iter()
        .take_while(|c| c.outcome.as_deref() == Some("failed"))
        .count() as u32
}

/// Audits each advisory of `index` that affects the installed release, once per install.
/// Returns how many were new.
fn announce_advisories(
    store: &Store,
    app_id: &str,
    index: &ChannelIndex,
    installed: Option<u64>,
    now: i64,
) -> Result<usize, UpdatesError> {
    let Some(installed) = installed else {
        return Ok(0);
    };
    let mut new = 0;
    for advisory in index.advisories.iter().filter(|a| a.affects(installed)) {
        if !store.note_advisory(app_id, &advisory.id, now)? {
            continue;
        }
        new += 1;
        let versions: Vec<(u64, String)> = index
            .releases
            .iter()
            .map(|e| (e.sequence, e.version.clone()))
            .collect();
        let fixed = advisory.fixed_in.map_or_else(
            || "no fix released yet".to_owned(),
            |f| format!("fixed in {}", describe_sequence(f, &versions)),
        );
        audit::record(
            store,
            &Actor::System,
            Action::AdvisoryPublished,
            &Source::Local,
            &format!(
                "security advisory {} ({}) affects the installed release {}: {}; {fixed}",
                advisory.id,
                advisory.severity.as_str(),
                describe_sequence(installed, &versions),
                advisory.title
            ),
        )?;
    }
    Ok(new)
}

fn describe_sequence(sequence: u64, versions: &[(u64, String)]) -> String {
    match versions.iter().find(|(s, _)| *s == sequence) {
        Some((_, version)) => format!("{version} (sequence {sequence})"),
        None => format!("sequence {sequence}"),
    }
}

fn sequences(list: &[u64]) -> String {
    list.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs store and verification work on the blocking pool.
async fn blocking<T, F>(work: F) -> Result<T, UpdatesError>
where
    F: FnOnce() -> Result<T, UpdatesError> + Send + 'static,
    T: Send + 'static,
{
    crate::blocking::run(work).await
}

impl From<crate::blocking::TaskFailed> for UpdatesError {
    fn from(failed: crate::blocking::TaskFailed) -> UpdatesError {
        UpdatesError::Task(failed.0)
    }
}

#[cfg(test)]
mod tests;
