//! The config screen on an in-memory store with the sample app's real outpost.yaml.

use std::collections::BTreeMap;

use outpost_airgap::SigningKey;

use super::*;

use crate::testing::{licensed, release, signed, NOW};

fn service() -> (Arc<Store>, AppConfig) {
    let key = SigningKey::generate();
    let (store, _, releases) = licensed(&key);
    let mut first = release(1, "1.0.0");
    first.images.clear();
    releases
        .load(
            &signed(&first, &key),
            "file",
            &Actor::System,
            &Source::Local,
            NOW,
        )
        .unwrap();
    (store.clone(), AppConfig::new(store, releases))
}

fn secret_items(view: &ConfigView) -> Vec<&ItemView> {
    view.groups
        .iter()
        .flat_map(|g| &g.items)
        .filter(|i| i.item.kind.is_secret())
        .collect()
}

fn change(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
        .collect()
}

#[test]
fn the_screen_follows_the_release_and_never_shows_a_secret() {
    let (_store, config) = service();
    let view = config.view(None).unwrap();
    assert_eq!(view.version, "1.0.0");
    let secrets = secret_items(&view);
    assert!(!secrets.is_empty(), "the sample app has a password item");
    let secret = secrets[0].item.name.clone();
    let view = config
        .update(
            None,
            &change(&[(&secret, Some("a stored secret value"))]),
            &Actor::System,
            &Source::Local,
            NOW,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let item = secret_items(&view)
        .into_iter()
        .find(|i| i.item.name == secret)
        .unwrap();
    assert!(item.is_set);
    assert_eq!(item.value, None, "a secret is never part of a view");
    assert!(!format!("{view:?}").contains("a stored secret value"));
    assert_eq!(
        config
            .effective_values(1)
            .unwrap()
            .get(&secret)
            .map(String::as_str),
        Some("a stored secret value"),
        "the planner gets it"
    );
}

#[test]
fn every_failing_item_is_named_and_nothing_is_stored() {
    let (store, config) = service();
    let before = store.config_values("sample-app").unwrap();
    let error = config
        .update(
            None,
            &change(&[
                ("workers", Some("many")),
                ("no_such_item", Some("x")),
                ("enable_metrics", Some("maybe")),
            ]),
            &Actor::System,
            &Source::Local,
            NOW,
        )
        .unwrap_err();
    let text = error.to_string();
    for item in ["workers", "no_such_item", "enable_metrics"] {
        assert!(text.contains(item), "{item} missing from: {text}");
    }
    assert_eq!(store.config_values("sample-app").unwrap(), before);
    let log = format!("{:?}", store.audit_page(None, 20).unwrap());
    assert!(!log.contains("config.changed"));
}

#[test]
fn clearing_a_value_falls_back_to_the_default_and_changes_are_audited_without_values() {
    let (store, config) = service();
    let secret = secret_items(&config.view(None).unwrap())[0]
        .item
        .name
        .clone();
    config
        .update(
            None,
            &change(&[(&secret, Some("s3cret-value-1")), ("workers", Some("4"))]),
            &Actor::System,
            &Source::Local,
            NOW,
        )
        .unwrap();
    assert_eq!(config.effective_values(1).unwrap()["workers"], "4");
    config
        .update(
            None,
            &change(&[("workers", None)]),
            &Actor::System,
            &Source::Local,
            NOW,
        )
        .unwrap();
    let default = config
        .view(None)
        .unwrap()
        .groups
        .iter()
        .flat_map(|g| &g.items)
        .find(|i| i.item.name == "workers")
        .unwrap()
        .item
        .default
        .clone();
    assert_eq!(
        config.effective_values(1).unwrap().get("workers").cloned(),
        default
    );
    let log = format!("{:?}", store.audit_page(None, 20).unwrap());
    assert!(log.contains("config.changed"));
    assert!(
        !log.contains("s3cret-value-1"),
        "values never reach the audit log"
    );
}
