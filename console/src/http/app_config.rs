//! `GET /app/config` and `PUT /app/config`: the config screen.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warp::{Filter, Rejection};

use super::filters::{json_body, source, DEFAULT_BODY_LIMIT};
use super::{admin, blocking, json, AdminHandler, ApiError, AppState};
use crate::appconfig::{kind_name, ConfigView};
use crate::audit::Source;
use crate::auth::AdminSession;
use crate::clock::unix_now;

#[derive(Debug, Deserialize)]
pub struct ConfigQuery {
    pub sequence: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigUpdate {
    pub values: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Serialize)]
pub struct Config {
    pub sequence: u64,
    pub version: String,
    pub groups: Vec<Group>,
}

#[derive(Debug, Serialize)]
pub struct Group {
    pub name: String,
    pub title: String,
    pub description: String,
    pub items: Vec<Item>,
}

#[derive(Debug, Serialize)]
pub struct Item {
    pub name: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub help: Option<String>,
    pub required: bool,
    pub default: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// The item's pattern (Rust `regex` syntax; the server's check is the one that counts).
    pub regex: Option<String>,
    pub regex_message: Option<String>,
    pub value: Option<String>,
    pub is_set: bool,
    pub secret: bool,
}

fn view(config: ConfigView) -> Config {
    use outpost_airgap::app::ItemKind;
    Config {
        sequence: config.sequence,
        version: config.version,
        groups: config
            .groups
            .into_iter()
            .map(|g| Group {
                name: g.name,
                title: g.title,
                description: g.description,
                items: g
                    .items
                    .into_iter()
                    .map(|i| {
                        let (options, min, max) = match &i.item.kind {
                            ItemKind::Select { options } => (Some(options.clone()), None, None),
                            ItemKind::Number { min, max } => (None, *min, *max),
                            _ => (None, None, None),
                        };
                        let secret = i.item.kind.is_secret();
                        Item {
                            kind: kind_name(&i.item.kind),
                            // A secret's default is shown no more than its value.
                            default: if secret { None } else { i.item.default },
                            name: i.item.name,
                            title: i.item.title,
                            help: i.item.help,
                            required: i.item.required,
                            options,
                            min,
                            max,
                            regex: i.item.regex,
                            regex_message: i.item.regex_message,
                            value: i.value,
                            is_set: i.is_set,
                            secret,
                        }
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (AdminHandler,), Error = Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let get = warp::path!("app" / "config")
        .and(warp::get())
        .and(with_state.clone())
        .and(warp::query::<ConfigQuery>())
        .map(|state: Arc<AppState>, query: ConfigQuery| {
            admin(move |_: AdminSession| async move {
                let config =
                    blocking(move || state.config.view(query.sequence).map_err(ApiError::from))
                        .await?;
                json(&view(config))
            })
        });
    let put = warp::path!("app" / "config")
        .and(warp::put())
        .and(with_state)
        .and(warp::query::<ConfigQuery>())
        .and(source())
        .and(json_body::<ConfigUpdate>(DEFAULT_BODY_LIMIT))
        .map(
            |state: Arc<AppState>, query: ConfigQuery, source: Source, body: ConfigUpdate| {
                admin(move |session: AdminSession| async move {
                    let config = blocking(move || {
                        state
                            .config
                            .update(
                                query.sequence,
                                &body.values,
                                &session.actor(),
                                &source,
                                unix_now(),
                            )
                            .map_err(ApiError::from)
                    })
                    .await?;
                    json(&view(config))
                })
            },
        );
    get.or(put).unify()
}
