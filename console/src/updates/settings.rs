//! The outbound settings: the update schedule, airgap mode, and the proxy for the api
//! host (overriding `HTTPS_PROXY` / `NO_PROXY` of the console's environment). Stored as
//! console settings; a change is validated whole, stored in one transaction, applied at
//! once and audited (the proxy's password never).

use super::{Schedule, Updates};
use crate::audit::{self, Action, Actor, Source};
use crate::store::StoreError;
use crate::upstream::{ProxyConfig, ProxySource, AIRGAP_SETTING};

const SCHEDULE_SETTING: &str = "update_schedule";
const PROXY_SETTING: &str = "https_proxy";
const NO_PROXY_SETTING: &str = "no_proxy";

/// The settings as they stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundSettings {
    pub schedule: Schedule,
    /// The admin's airgap switch (a license can imply airgap mode too).
    pub airgap_mode: bool,
    /// The console setting's proxy, if any.
    pub proxy: Option<ProxyConfig>,
}

/// A change: each field given replaces the setting; an empty proxy clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub update_schedule: Option<String>,
    pub airgap_mode: Option<bool>,
    pub https_proxy: Option<String>,
    pub no_proxy: Option<String>,
}

/// Why settings were not changed (nothing was).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("the settings were not changed: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("the api host client cannot use the proxy: {0}")]
    Client(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Updates {
    /// The stored settings (defaults where none is stored).
    pub fn settings(&self) -> Result<OutboundSettings, SettingsError> {
        let schedule = match self.store.setting(SCHEDULE_SETTING)? {
            Some(text) => text.parse().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the stored update schedule is not valid; using the default");
                default_schedule()
            }),
            None => default_schedule(),
        };
        let proxy = match self.store.setting(PROXY_SETTING)? {
            Some(url) => {
                let no_proxy = self.store.setting(NO_PROXY_SETTING)?.unwrap_or_default();
                match ProxyConfig::parse(&url, &no_proxy, ProxySource::Setting) {
                    Ok(proxy) => Some(proxy),
                    Err(e) => {
                        tracing::warn!(error = %e, "the stored proxy setting is not valid; not used");
                        None
                    }
                }
            }
            None => None,
        };
        Ok(OutboundSettings {
            schedule,
            airgap_mode: self.store.setting(AIRGAP_SETTING)?.as_deref() == Some("on"),
            proxy,
        })
    }

    /// The proxy the environment gives, if any (shown next to the setting).
    pub fn environment_proxy(&self) -> Option<ProxyConfig> {
        self.upstream.recorder().environment_proxy().cloned()
    }

    /// Validates the whole change, stores it, applies it and audits it.
    pub fn change_settings(
        &self,
        change: &SettingsChange,
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<OutboundSettings, SettingsError> {
        let before = self.settings()?;
        let mut problems = Vec::new();
        let schedule = match &change.update_schedule {
            Some(text) => match text.parse::<Schedule>() {
                Ok(schedule) => Some(schedule),
                Err(e) => {
                    problems.push(format!("update_schedule: {e}"));
                    None
                }
            },
            None => None,
        };
        // The proxy and its bypass list are one setting: either given replaces both.
        let proxy = if change.https_proxy.is_some() || change.no_proxy.is_some() {
            let url = match &change.https_proxy {
                // The masked form sent back unchanged keeps the stored URL (and password).
                Some(url) if before.proxy.as_ref().is_some_and(|p| p.shown() == *url) => {
                    before.proxy.as_ref().map(|p| p.url.to_string())
                }
                Some(url) if url.trim().is_empty() => None,
                Some(url) => Some(url.trim().to_owned()),
                None => before.proxy.as_ref().map(|p| p.url.to_string()),
            };
            let no_proxy = change.no_proxy.clone().unwrap_or_else(|| {
                before
                    .proxy
                    .as_ref()
                    .map(|p| p.bypass.as_str().to_owned())
                    .unwrap_or_default()
            });
            match url {
                None => Some(None),
                Some(url) => match ProxyConfig::parse(&url, &no_proxy, ProxySource::Setting) {
                    Ok(proxy) => Some(Some(proxy)),
                    Err(e) => {
                        problems.push(format!("https_proxy: {e}"));
                        None
                    }
                },
            }
        } else {
            None
        };
        if !problems.is_empty() {
            return Err(SettingsError::Invalid(problems));
        }

        let mut after = before.clone();
        let mut writes: Vec<(&str, Option<String>)> = Vec::new();
        let mut said = Vec::new();
        if let Some(schedule) = schedule.filter(|s| *s != before.schedule) {
            said.push(format!("update schedule {} -> {schedule}", before.schedule));
            writes.push((SCHEDULE_SETTING, Some(schedule.to_string())));
            after.schedule = schedule;
        }
        if let Some(on) = change.airgap_mode.filter(|on| *on != before.airgap_mode) {
            said.push(format!("airgap mode {}", if on { "on" } else { "off" }));
            writes.push((AIRGAP_SETTING, on.then(|| "on".to_owned())));
            after.airgap_mode = on;
        }
        if let Some(proxy) = proxy.filter(|p| *p != before.proxy) {
            let shown = |p: &Option<ProxyConfig>| match p {
                Some(p) if p.bypass.as_str().is_empty() => p.shown(),
                Some(p) => format!("{} (no proxy for {})", p.shown(), p.bypass.as_str()),
                None => "none".into(),
            };
            said.push(format!(
                "proxy {} -> {}",
                shown(&before.proxy),
                shown(&proxy)
            ));
            writes.push((PROXY_SETTING, proxy.as_ref().map(|p| p.url.to_string())));
            writes.push((
                NO_PROXY_SETTING,
                proxy
                    .as_ref()
                    .map(|p| p.bypass.as_str().to_owned())
                    .filter(|s| !s.is_empty()),
            ));
            after.proxy = proxy;
        }
        if writes.is_empty() {
            return Ok(after);
        }
        // Built first, so a proxy the client refuses changes nothing.
        self.upstream
            .recorder()
            .use_proxy(after.proxy.clone())
            .map_err(|e| SettingsError::Client(e.to_string()))?;
        let pairs: Vec<(&str, Option<&str>)> =
            writes.iter().map(|(n, v)| (*n, v.as_deref())).collect();
        if let Err(e) = self.store.set_settings(&pairs, now) {
            let _ = self.upstream.recorder().use_proxy(before.proxy.clone());
            return Err(e.into());
        }
        audit::record(
            &self.store,
            actor,
            Action::OutboundSettingsChanged,
            source,
            &said.join("; "),
        )?;
        self.wake.notify_one();
        Ok(after)
    }

    pub(super) fn apply_proxy(&self, settings: &OutboundSettings) -> Result<(), SettingsError> {
        self.upstream
            .recorder()
            .use_proxy(settings.proxy.clone())
            .map_err(|e| SettingsError::Client(e.to_string()))
    }
}

fn default_schedule() -> Schedule {
    super::schedule::DEFAULT_SCHEDULE
        .parse()
        .expect("the default schedule parses")
}
