//! `GET /updates` (where updates stand: the state, available releases, advisories, the
//! schedule and recent checks), `POST /updates/check` ("check now"), and
//! `GET/PUT /settings/outbound` (update schedule, airgap mode, proxy).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warp::{Filter, Rejection};

use super::filters::{json_body, source, DEFAULT_BODY_LIMIT};
use super::{admin, blocking, json, AdminHandler, ApiError, AppState};
use crate::audit::Source;
use crate::auth::AdminSession;
use crate::clock::{rfc3339, unix_now};
use crate::store::CheckRecord;
use crate::updates::{
    OutboundSettings, SettingsChange, SettingsError, State, Trigger, UpdateStatus, Updates,
    UpdatesError,
};

#[derive(Debug, Serialize)]
pub struct UpdatesView {
    pub state: State,
    pub message: String,
    /// Why airgap mode is on, when it is.
    pub airgap: Option<String>,
    pub installed: Option<ReleaseBrief>,
    pub available: Vec<AvailableView>,
    pub advisories: Vec<AdvisoryOut>,
    pub license: Option<LicenseOut>,
    pub index: Option<IndexOut>,
    pub schedule: ScheduleOut,
    pub next_check_at: Option<String>,
    pub failures: u32,
    pub last_success_at: Option<String>,
    pub checks: Vec<CheckOut>,
}

#[derive(Debug, Serialize)]
pub struct ReleaseBrief {
    pub sequence: u64,
    pub version: String,
}

#[derive(Debug, Serialize)]
pub struct AvailableView {
    pub sequence: u64,
    pub version: String,
    pub notes: String,
    pub required: bool,
    pub created_at: String,
    /// Advisories affecting the installed release that this release fixes.
    pub fixes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct AdvisoryOut {
    pub id: String,
    pub severity: &'static str,
    pub title: String,
    pub text: String,
    pub affected: Vec<u64>,
    pub fixed_in: Option<u64>,
    pub fixed_in_version: Option<String>,
    /// Whether the fixed-in release is loaded, ready to deploy.
    pub fix_available: bool,
    pub published_at: String,
}

#[derive(Debug, Serialize)]
pub struct LicenseOut {
    pub expires_at: String,
    pub expired: bool,
    pub revoked: Option<RevokedOut>,
    pub api_host: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RevokedOut {
    pub at: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct IndexOut {
    pub version: u64,
    pub expires_at: String,
    pub accepted_at: String,
    pub expired: bool,
}

#[derive(Debug, Serialize)]
pub struct ScheduleOut {
    /// As set (`every 1h`, `cron 0 3 * * *`, `off`).
    pub setting: String,
    pub description: String,
    /// This install's offset within the schedule.
    pub offset_seconds: u64,
}

#[derive(Debug, Serialize)]
pub struct CheckOut {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub trigger: String,
    pub outcome: Option<String>,
    pub problem: Option<String>,
    pub error: Option<String>,
    pub summary: String,
}

#[derive(Debug, Serialize)]
pub struct CheckAnswer {
    pub check: CheckOut,
    pub status: UpdatesView,
}

#[derive(Debug, Serialize)]
pub struct SettingsView {
    pub update_schedule: String,
    pub schedule_description: String,
    /// The admin's airgap switch.
    pub airgap_mode: bool,
    /// Why airgap mode is in effect (the switch, or an airgap-only license), if it is.
    pub airgap: Option<String>,
    /// The console setting's proxy (password masked), if any.
    pub https_proxy: Option<String>,
    pub no_proxy: String,
    /// The proxy the api host requests use now (password masked), and where it comes from.
    pub effective_proxy: Option<String>,
    pub effective_no_proxy: String,
    pub proxy_source: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsRequest {
    pub update_schedule: Option<String>,
    pub airgap_mode: Option<bool>,
    pub https_proxy: Option<String>,
    pub no_proxy: Option<String>,
}

pub fn updates_view(status: UpdateStatus) -> UpdatesView {
    UpdatesView {
        state: status.state,
        message: status.message,
        airgap: status.airgap,
        installed: status.installed.map(|i| ReleaseBrief {
            sequence: i.sequence,
            version: i.version,
        }),
        available: status
            .available
            .into_iter()
            .map(|r| AvailableView {
                sequence: r.sequence,
                version: r.version,
                notes: r.notes,
                required: r.required,
                created_at: rfc3339(r.created_at),
                fixes: r.fixes,
            })
            .collect(),
        advisories: status
            .advisories
            .into_iter()
            .map(|a| AdvisoryOut {
                severity: a.advisory.severity.as_str(),
                published_at: rfc3339(a.advisory.published_at.unix_timestamp()),
                id: a.advisory.id,
                title: a.advisory.title,
                text: a.advisory.text,
                affected: a.advisory.affected,
                fixed_in: a.advisory.fixed_in,
                fixed_in_version: a.fixed_in_version,
                fix_available: a.fix_available,
            })
            .collect(),
        license: status.license.map(|l| LicenseOut {
            expires_at: rfc3339(l.expires_at),
            expired: l.expired,
            revoked: l.revoked.map(|r| RevokedOut {
                at: rfc3339(r.at.unix_timestamp()),
                reason: r.reason,
            }),
            api_host: l.api_host,
        }),
        index: status.index.map(|i| IndexOut {
            version: i.version,
            expires_at: rfc3339(i.expires_at),
            accepted_at: rfc3339(i.accepted_at),
            expired: i.expired,
        }),
        schedule: ScheduleOut {
            setting: status.schedule.to_string(),
            description: status.schedule.describe(),
            offset_seconds: status.schedule_offset,
        },
        next_check_at: status.next_check_at.map(rfc3339),
        failures: status.failures,
        last_success_at: status.last_success_at.map(rfc3339),
        checks: status.checks.into_iter().map(check_out).collect(),
    }
}

pub fn check_out(check: CheckRecord) -> CheckOut {
    CheckOut {
        id: check.id,
        started_at: rfc3339(check.started_at),
        finished_at: check.finished_at.map(rfc3339),
        trigger: check.trigger,
        outcome: check.outcome,
        problem: check.problem,
        error: check.error,
        summary: check.summary,
    }
}

pub fn settings_view(
    updates: &Updates,
    settings: OutboundSettings,
    airgap: Option<String>,
) -> SettingsView {
    let environment = updates.environment_proxy();
    let effective = settings.proxy.clone().or(environment);
    SettingsView {
        update_schedule: settings.schedule.to_string(),
        schedule_description: settings.schedule.describe(),
        airgap_mode: settings.airgap_mode,
        airgap,
        https_proxy: settings.proxy.as_ref().map(|p| p.shown()),
        no_proxy: settings
            .proxy
            .as_ref()
            .map(|p| p.bypass.as_str().to_owned())
            .unwrap_or_default(),
        effective_proxy: effective.as_ref().map(|p| p.shown()),
        effective_no_proxy: effective
            .as_ref()
            .map(|p| p.bypass.as_str().to_owned())
            .unwrap_or_default(),
        proxy_source: effective.map(|p| p.source.describe()),
    }
}

/// The status as the API shows it (blocking: SQLite).
pub fn current(state: &AppState) -> Result<UpdatesView, UpdatesError> {
    Ok(updates_view(state.updates.status(unix_now())?))
}

/// The settings as the API shows them (blocking: SQLite).
pub fn current_settings(state: &AppState) -> Result<SettingsView, UpdatesError> {
    let settings = state.updates.settings()?;
    let airgap = crate::upstream::airgap_mode(&state.store)?;
    Ok(settings_view(&state.updates, settings, airgap))
}

/// Runs a check for an admin; the check's record and the status after it.
pub async fn check_now(
    state: &Arc<AppState>,
    actor: &crate::audit::Actor,
    source: &Source,
) -> Result<CheckAnswer, UpdatesError> {
    let done = state
        .updates
        .check(Trigger::Admin, actor, source, unix_now())
        .await?;
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let check = state
            .store
            .recent_update_checks(20)?
            .into_iter()
            .find(|c| c.id == done.id)
            .map(check_out)
            .ok_or_else(|| UpdatesError::Task("the check's record is gone".into()))?;
        Ok(CheckAnswer {
            check,
            status: current(&state)?,
        })
    })
    .await
    .map_err(|e| UpdatesError::Task(e.to_string()))?
}

pub fn change(request: SettingsRequest) -> SettingsChange {
    SettingsChange {
        update_schedule: request.update_schedule,
        airgap_mode: request.airgap_mode,
        https_proxy: request.https_proxy,
        no_proxy: request.no_proxy,
    }
}

impl From<UpdatesError> for ApiError {
    fn from(e: UpdatesError) -> ApiError {
        match e {
            UpdatesError::Airgap(_) => ApiError::AirgapMode(capitalised(&e)),
            UpdatesError::NoLicense => ApiError::NoApiHost(capitalised(&e)),
            UpdatesError::Upstream(e) => e.into(),
            UpdatesError::License(e) => e.into(),
            UpdatesError::Release(e) => e.into(),
            UpdatesError::Store(e) => e.into(),
            UpdatesError::Settings(e) => e.into(),
            UpdatesError::Task(_) => ApiError::internal("an update check failed inside", &e),
        }
    }
}

impl From<SettingsError> for ApiError {
    fn from(e: SettingsError) -> ApiError {
        match e {
            SettingsError::Invalid(_) => ApiError::SettingsInvalid(capitalised(&e)),
            SettingsError::Client(_) => ApiError::SettingsInvalid(capitalised(&e)),
            SettingsError::Store(e) => e.into(),
        }
    }
}

fn capitalised(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => text,
    }
}

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (AdminHandler,), Error = Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let status = warp::path!("updates")
        .and(warp::get())
        .and(with_state.clone())
        .map(|state: Arc<AppState>| {
            admin(move |_: AdminSession| async move {
                json(&blocking(move || Ok(current(&state)?)).await?)
            })
        });
    let check = warp::path!("updates" / "check")
        .and(warp::post())
        .and(with_state.clone())
        .and(source())
        .map(|state: Arc<AppState>, source: Source| {
            admin(move |session: AdminSession| async move {
                let answer = check_now(&state, &session.actor(), &source)
                    .await
                    .map_err(ApiError::from)?;
                json(&answer)
            })
        });
    let settings = warp::path!("settings" / "outbound")
        .and(warp::get())
        .and(with_state.clone())
        .map(|state: Arc<AppState>| {
            admin(move |_: AdminSession| async move {
                json(&blocking(move || Ok(current_settings(&state)?)).await?)
            })
        });
    let change_settings = warp::path!("settings" / "outbound")
        .and(warp::put())
        .and(json_body::<SettingsRequest>(DEFAULT_BODY_LIMIT))
        .and(with_state)
        .and(source())
        .map(
            |request: SettingsRequest, state: Arc<AppState>, source: Source| {
                admin(move |session: AdminSession| async move {
                    let view = blocking(move || {
                        state.updates.change_settings(
                            &change(request),
                            &session.actor(),
                            &source,
                            unix_now(),
                        )?;
                        Ok(current_settings(&state)?)
                    })
                    .await?;
                    json(&view)
                })
            },
        );
    status
        .or(check)
        .unify()
        .or(settings)
        .unify()
        .or(change_settings)
        .unify()
}
