//! The admin's registry settings — mirror/rewrite rules and pull credentials — and the license's
//! credentials for the vendor's registry, put together as a plan needs them.
//!
//! Credentials go only to the registry they are for. One exception, on purpose: when the admin
//! rewrites the vendor's registry (the host the license's credentials name) to another place,
//! the license's credentials follow it there, because such a rule says "the vendor's registry is
//! reached at this address" (a relocated copy or an authenticating pull-through cache). The
//! admin's own credentials for the target win when both exist.

use std::collections::BTreeMap;
use std::sync::Arc;

use outpost_agent::protocol::RegistryAuth;
use outpost_airgap::registry::MirrorRule;

use super::plan::RegistrySettings;
use crate::audit::{self, Action, Actor, Source};
use crate::license::{LicenseError, Licenses};
use crate::store::{CredentialRecord, RuleRecord, Store, StoreError};

/// Most rules and credentials the admin may keep.
pub const MAX_RULES: usize = 64;
pub const MAX_CREDENTIALS: usize = 64;
const MAX_FIELD_BYTES: usize = 512;
const MAX_PASSWORD_BYTES: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum RegistriesError {
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    License(#[from] LicenseError),
}

/// What the settings page shows: no password.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegistriesView {
    pub rules: Vec<RuleView>,
    pub credentials: Vec<CredentialView>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuleView {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CredentialView {
    pub host: String,
    pub username: String,
    pub password_set: bool,
    /// `admin` or `license`.
    pub source: &'static str,
}

/// One credential as the admin sends it: no password keeps the stored one.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialInput {
    pub host: String,
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for CredentialInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialInput")
            .field("host", &self.host)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct Registries {
    store: Arc<Store>,
    licenses: Arc<Licenses>,
}

impl Registries {
    pub fn new(store: Arc<Store>, licenses: Arc<Licenses>) -> Registries {
        Registries { store, licenses }
    }

    pub fn view(&self) -> Result<RegistriesView, RegistriesError> {
        let rules = self
            .store
            .registry_rules()?
            .into_iter()
            .map(|r| RuleView {
                from: r.from,
                to: r.to,
            })
            .collect();
        let mut credentials: Vec<CredentialView> = self
            .store
            .registry_credentials()?
            .into_iter()
            .map(|c| CredentialView {
                host: c.host,
                username: c.username,
                password_set: true,
                source: "admin",
            })
            .collect();
        if let Some((host, auth)) = self.license_credentials()? {
            credentials.push(CredentialView {
                host,
                username: auth.username,
                password_set: true,
                source: "license",
            });
        }
        Ok(RegistriesView { rules, credentials })
    }

    /// Replaces the rules and the admin's credentials after checking every row; nothing is
    /// stored unless all pass.
    pub fn update(
        &self,
        rules: &[RuleView],
        credentials: &[CredentialInput],
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<RegistriesView, RegistriesError> {
        let mut problems = Vec::new();
        if rules.len() > MAX_RULES {
            problems.push(format!("at most {MAX_RULES} rules"));
        }
        if credentials.len() > MAX_CREDENTIALS {
            problems.push(format!("at most {MAX_CREDENTIALS} credentials"));
        }
        let mut froms = std::collections::BTreeSet::new();
        for (n, rule) in rules.iter().enumerate() {
            let row = format!("rule {} ({}={})", n + 1, rule.from, rule.to);
            if rule.from.len() > MAX_FIELD_BYTES || rule.to.len() > MAX_FIELD_BYTES {
                problems.push(format!("{row}: longer than {MAX_FIELD_BYTES} bytes"));
            } else if let Err(e) = MirrorRule::new(&rule.from, &rule.to) {
                problems.push(format!("{row}: {e}"));
            } else if !froms.insert(rule.from.as_str()) {
                problems.push(format!("{row}: {} is rewritten twice", rule.from));
            }
        }
        let stored: BTreeMap<String, CredentialRecord> = self
            .store
            .registry_credentials()?
            .into_iter()
            .map(|c| (c.host.clone(), c))
            .collect();
        let mut records = Vec::new();
        let mut hosts = std::collections::BTreeSet::new();
        for (n, credential) in credentials.iter().enumerate() {
            let row = format!("credential {} ({})", n + 1, credential.host);
            if !is_host(&credential.host) {
                problems.push(format!(
                    "{row}: not a registry host (like registry.example.com or host:5000)"
                ));
                continue;
            }
            if !hosts.insert(credential.host.as_str()) {
                problems.push(format!("{row}: listed twice"));
                continue;
            }
            if credential.username.is_empty()
                || credential.username.len() > MAX_FIELD_BYTES
                || credential.username.chars().any(char::is_control)
            {
                problems.push(format!(
                    "{row}: the user name must be 1 to {MAX_FIELD_BYTES} bytes without control characters"
                ));
                continue;
            }
            let password = match &credential.password {
                Some(p) if p.is_empty() || p.len() > MAX_PASSWORD_BYTES => {
                    problems.push(format!(
                        "{row}: the password must be 1 to {MAX_PASSWORD_BYTES} bytes"
                    ));
                    continue;
                }
                Some(p) => p.clone(),
                None => match stored.get(&credential.host) {
                    Some(old) => old.password.clone(),
                    None => {
                        problems.push(format!("{row}: no password is stored yet: enter one"));
                        continue;
                    }
                },
            };
            records.push(CredentialRecord {
                host: credential.host.clone(),
                username: credential.username.clone(),
                password,
            });
        }
        if !problems.is_empty() {
            return Err(RegistriesError::Invalid(problems));
        }
        let rule_records: Vec<RuleRecord> = rules
            .iter()
            .map(|r| RuleRecord {
                from: r.from.clone(),
                to: r.to.clone(),
            })
            .collect();
        self.store
            .replace_registry_settings(&rule_records, &records, now)?;
        let detail = format!(
            "registry settings saved: rules [{}]; credentials for [{}]",
            rules
                .iter()
                .map(|r| format!("{}={}", r.from, r.to))
                .collect::<Vec<_>>()
                .join(", "),
            records
                .iter()
                .map(|c| c.host.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        audit::record(
            &self.store,
            actor,
            Action::RegistriesChanged,
            source,
            &detail,
        )?;
        self.view()
    }

    /// The settings a plan is made with (no internal registry yet: bundles bring it).
    pub fn settings(&self) -> Result<RegistrySettings, RegistriesError> {
        let rules: Vec<MirrorRule> = self
            .store
            .registry_rules()?
            .into_iter()
            .filter_map(|r| MirrorRule::new(&r.from, &r.to).ok())
            .collect();
        let mut credentials: BTreeMap<String, RegistryAuth> = BTreeMap::new();
        if let Some((host, auth)) = self.license_credentials()? {
            for rule in &rules {
                let from_host = rule.from().split('/').next().unwrap_or_default();
                if from_host == host {
                    let to_host = rule.to().split('/').next().unwrap_or_default();
                    credentials.insert(to_host.to_string(), auth.clone());
                }
            }
            credentials.insert(host, auth);
        }
        for credential in self.store.registry_credentials()? {
            credentials.insert(
                credential.host,
                RegistryAuth {
                    username: credential.username,
                    password: credential.password,
                },
            );
        }
        Ok(RegistrySettings {
            rules,
            credentials,
            internal: None,
            airgap: crate::upstream::airgap_mode(&self.store)?.is_some(),
        })
    }

    fn license_credentials(&self) -> Result<Option<(String, RegistryAuth)>, RegistriesError> {
        let Some(loaded) = self.licenses.current()? else {
            return Ok(None);
        };
        Ok(loaded.license.registry.and_then(|r| {
            r.host.map(|host| {
                (
                    host,
                    RegistryAuth {
                        username: r.username,
                        password: r.password,
                    },
                )
            })
        }))
    }
}

/// A registry host as an image reference's first component names it.
fn is_host(host: &str) -> bool {
    host.len() <= MAX_FIELD_BYTES
        && outpost_airgap::app::ImageRef::parse(&format!("{host}/probe"))
            .is_ok_and(|image| image.registry() == host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn rule(from: &str, to: &str) -> RuleView {
        RuleView {
            from: from.into(),
            to: to.into(),
        }
    }

    fn credential(host: &str, password: Option<&str>) -> CredentialInput {
        CredentialInput {
            host: host.into(),
            username: "puller".into(),
            password: password.map(str::to_string),
        }
    }

    #[test]
    fn license_credentials_follow_a_rewrite_of_the_vendor_registry_only() {
        let (store, licenses, _) = testing::licensed(&outpost_airgap::SigningKey::generate());
        let registries = Registries::new(store, licenses);
        registries
            .update(
                &[
                    rule("registry.example.com", "127.0.0.1:5103"),
                    rule("docker.io", "127.0.0.1:5101"),
                ],
                &[],
                &Actor::System,
                &Source::Local,
                1,
            )
            .unwrap();
        let settings = registries.settings().unwrap();
        let hosts: Vec<&String> = settings.credentials.keys().collect();
        assert_eq!(hosts, ["127.0.0.1:5103", "registry.example.com"]);
        let view = registries.view().unwrap();
        assert_eq!(view.credentials.len(), 1);
        assert_eq!(view.credentials[0].source, "license");
    }

    #[test]
    fn every_bad_row_is_named_and_nothing_is_stored() {
        let (store, licenses, _) = testing::licensed(&outpost_airgap::SigningKey::generate());
        let registries = Registries::new(store.clone(), licenses);
        let error = registries
            .update(
                &[rule("docker.io", "https://mirror"), rule("quay.io", "m:1")],
                &[credential("not a host", Some("p")), credential("m:1", None)],
                &Actor::System,
                &Source::Local,
                1,
            )
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("rule 1 (docker.io=https://mirror)"),
            "{error}"
        );
        assert!(error.contains("credential 1 (not a host)"), "{error}");
        assert!(
            error.contains("credential 2 (m:1): no password is stored yet"),
            "{error}"
        );
        assert!(!error.contains("rule 2"), "{error}");
        assert!(store.registry_rules().unwrap().is_empty());
    }

    #[test]
    fn a_missing_password_keeps_the_stored_one_and_none_is_ever_shown() {
        let (store, licenses, _) = testing::licensed(&outpost_airgap::SigningKey::generate());
        let registries = Registries::new(store, licenses);
        registries
            .update(
                &[],
                &[credential("m:1", Some("s3cret-pw"))],
                &Actor::System,
                &Source::Local,
                1,
            )
            .unwrap();
        let view = registries
            .update(
                &[],
                &[credential("m:1", None)],
                &Actor::System,
                &Source::Local,
                2,
            )
            .unwrap();
        assert!(!serde_json::to_string(&view).unwrap().contains("s3cret-pw"));
        assert_eq!(
            registries.settings().unwrap().credentials["m:1"].password,
            "s3cret-pw"
        );
    }
}
