//! The config screen: the admin's values for a release's config items, validated on the
//! server against that release's `outpost.yaml` (every failing item named at once), stored
//! only when all pass. Secret values are never part of a view, an audit entry or a log.

use std::collections::BTreeMap;
use std::sync::Arc;

use outpost_airgap::app::App;
use outpost_airgap::app::{ConfigItem, ItemKind};

use crate::audit::{self, Action, Actor, Source};
use crate::releases::{LoadedRelease, ReleaseError, Releases};
use crate::store::{Store, StoreError};

/// Largest value accepted for one item.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no release is loaded: load one first (outpostctl release load FILE)")]
    NoRelease,
    #[error("the configuration is not valid: {}", describe(.0))]
    Invalid(Vec<(String, String)>),
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe(problems: &[(String, String)]) -> String {
    problems
        .iter()
        .map(|(item, why)| format!("{item}: {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The config screen of one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigView {
    pub sequence: u64,
    pub version: String,
    pub groups: Vec<GroupView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    pub name: String,
    pub title: String,
    pub description: String,
    pub items: Vec<ItemView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemView {
    pub item: ConfigItem,
    /// The stored value; always `None` for a secret item.
    pub value: Option<String>,
    pub is_set: bool,
}

/// The config service. Blocking (SQLite): async callers use the blocking pool.
#[derive(Debug)]
pub struct AppConfig {
    store: Arc<Store>,
    releases: Arc<Releases>,
}

impl AppConfig {
    pub fn new(store: Arc<Store>, releases: Arc<Releases>) -> AppConfig {
        AppConfig { store, releases }
    }

    /// The screen for release `sequence` (default: the newest loaded).
    pub fn view(&self, sequence: Option<u64>) -> Result<ConfigView, ConfigError> {
        let (release, app) = self.release(sequence)?;
        let values = self.store.config_values(&release.release.app_id)?;
        Ok(render(&release, &app, &values))
    }

    /// The effective values (stored, else defaults) for release `sequence`, secrets
    /// included: for the deploy planner only.
    pub fn effective_values(&self, sequence: u64) -> Result<BTreeMap<String, String>, ConfigError> {
        let (release, app) = self.release(Some(sequence))?;
        let stored = self.store.config_values(&release.release.app_id)?;
        Ok(app
            .outpost
            .items()
            .filter_map(|item| {
                stored
                    .get(&item.name)
                    .or(item.default.as_ref())
                    .map(|v| (item.name.clone(), v.clone()))
            })
            .collect())
    }

    /// Applies `changes` (`None` clears an item) after validating every item of the
    /// release; nothing is stored unless all pass.
    pub fn update(
        &self,
        sequence: Option<u64>,
        changes: &BTreeMap<String, Option<String>>,
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<ConfigView, ConfigError> {
        let (release, app) = self.release(sequence)?;
        let app_id = release.release.app_id.clone();
        let mut values = self.store.config_values(&app_id)?;
        let mut problems = Vec::new();
        for (name, change) in changes {
            if app.outpost.item(name).is_none() {
                problems.push((
                    name.clone(),
                    "there is no such item in this release".to_owned(),
                ));
                continue;
            }
            match change {
                Some(value) if value.len() > MAX_VALUE_BYTES => {
                    problems.push((name.clone(), format!("longer than {MAX_VALUE_BYTES} bytes")))
                }
                Some(value) => {
                    values.insert(name.clone(), value.clone());
                }
                None => {
                    values.remove(name);
                }
            }
        }
        for item in app.outpost.items() {
            let effective = values
                .get(&item.name)
                .or(item.default.as_ref())
                .map(String::as_str)
                .unwrap_or("");
            if let Err(why) = item.check_value(effective) {
                problems.push((item.name.clone(), why.to_string()));
            }
        }
        if !problems.is_empty() {
            problems.sort();
            problems.dedup();
            return Err(ConfigError::Invalid(problems));
        }
        self.store.update_config_values(&app_id, changes, now)?;
        let names: Vec<&str> = changes.keys().map(String::as_str).collect();
        audit::record(
            &self.store,
            actor,
            Action::ConfigChanged,
            source,
            &format!("config items changed: {}", names.join(", ")),
        )?;
        Ok(render(&release, &app, &values))
    }

    fn release(&self, sequence: Option<u64>) -> Result<(LoadedRelease, App), ConfigError> {
        let release = match sequence {
            Some(sequence) => self.releases.get(sequence)?,
            None => self
                .releases
                .list()?
                .into_iter()
                .next()
                .ok_or(ConfigError::NoRelease)?,
        };
        let app = App::from_files(&release.release.files).map_err(ReleaseError::BadApp)?;
        Ok((release, app))
    }
}

fn render(release: &LoadedRelease, app: &App, values: &BTreeMap<String, String>) -> ConfigView {
    ConfigView {
        sequence: release.release.sequence,
        version: release.release.version.clone(),
        groups: app
            .outpost
            .config
            .iter()
            .map(|group| GroupView {
                name: group.name.clone(),
                title: group.title.clone(),
                description: group.description.clone(),
                items: group
                    .items
                    .iter()
                    .map(|item| {
                        let stored = values.get(&item.name);
                        ItemView {
                            value: if item.kind.is_secret() {
                                None
                            } else {
                                stored.cloned()
                            },
                            is_set: stored.is_some(),
                            item: item.clone(),
                        }
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The UI's name for an item's kind.
pub fn kind_name(kind: &ItemKind) -> &'static str {
    kind.name()
}

#[cfg(test)]
mod tests;
