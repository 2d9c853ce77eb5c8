//! `GET /network`: the network requirements report with its live checks.

use std::sync::Arc;

use warp::{Filter, Rejection};

use super::{admin, json, AdminHandler, ApiError, AppState};
use crate::auth::AdminSession;
use crate::network::{self, Inputs, NetworkReport};

/// Builds the report for this install (runs its live checks).
pub async fn report(state: &Arc<AppState>) -> Result<NetworkReport, ApiError> {
    let gathered = state.clone();
    let (airgap, api_host, release, nodes, engine_proxies) = super::blocking(move || {
        let state = gathered;
        let airgap = crate::upstream::airgap_mode(&state.store)?;
        let api_host = state.licenses.current()?.and_then(|l| l.license.api_host);
        let release = state.deployer.network_inputs().map_err(ApiError::from)?;
        let records = state.store.nodes()?;
        let engine_proxies = records
            .iter()
            .map(|n| {
                let engine = n
                    .facts
                    .as_deref()
                    .and_then(|f| serde_json::from_str::<outpost_agent::protocol::Facts>(f).ok())
                    .and_then(|f| f.docker)
                    .map(|d| (d.https_proxy, d.no_proxy));
                (display_name(n), engine)
            })
            .collect();
        let nodes = records
            .into_iter()
            .map(|n| {
                let online = state.hub.status(&n.id).online;
                let name = display_name(&n);
                (n.id, name, online)
            })
            .collect();
        Ok((airgap, api_host, release, nodes, engine_proxies))
    })
    .await?;
    Ok(network::report(Inputs {
        console_port: network::port_of(&state.base_url, 8800),
        cluster_port: network::port_of(&state.cluster_url, 9879),
        airgap,
        api_host,
        release,
        nodes,
        engine_proxies,
        hub: &state.hub,
        recorder: state.upstream.recorder(),
    })
    .await)
}

fn display_name(node: &crate::store::NodeRecord) -> String {
    if node.hostname.is_empty() {
        node.id.clone()
    } else {
        node.hostname.clone()
    }
}

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (AdminHandler,), Error = Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    warp::path!("network")
        .and(warp::get())
        .and(with_state)
        .map(|state: Arc<AppState>| {
            admin(move |_: AdminSession| async move { json(&report(&state).await?) })
        })
}
