//! The deploy plan: release + config + online nodes + registry settings → what each node must do,
//! in order. Pure: no I/O and no clock, so the same input always gives the same plan.
//!
//! The native scheduler is deliberately simple (DESIGN.md, "Scale"): a replica goes to a node whose
//! labels satisfy the service's constraints, replicas are spread round-robin over those nodes
//! (fewest replicas of that service first, ties by node id), and published host ports may not
//! clash on a node. Nothing is moved, balanced or rescheduled later; bigger installs use an
//! orchestrator instead.
//!
//! The app's services share one bridge network per node (`{app}`, each container aliased by its
//! service name), so services reach each other by name only on the same node. Services without
//! constraints therefore stay together on the first node by id rather than being spread out.
//!
//! How a plan runs: services go one at a time in [`Plan::services_in_order`]. A node's
//! [`NodePlan::steps`] are already in that order (network, volumes, pulls, then containers), so a
//! node with every service can run its steps one after another; a dependency on another node is
//! met by running each service on all its nodes and waiting as its [`Wait`] says before starting
//! the next service.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use outpost_agent::protocol::ContainerSpec;
use outpost_airgap::app::{
    App, Condition, HealthTest, ItemKind, ReferenceError, Service, ValueError, VarError,
};
use outpost_airgap::release::Release;
use sha2::{Digest, Sha256};

mod images;
mod placement;
mod spec;

pub use images::{ImageSource, InternalRegistry, PlannedImage, RegistrySettings};
pub use placement::PlanNode;

/// Where each service's image comes from under `settings`, by service name, for the
/// services that run with `profiles` (for the network report: which registries the
/// release makes nodes contact). Services whose image cannot be planned are left out.
pub fn service_images(
    release: &Release,
    app: &outpost_airgap::app::App,
    profiles: &BTreeSet<String>,
    settings: &RegistrySettings,
) -> Vec<(String, PlannedImage)> {
    let pins = images::pins(release);
    app.compose
        .services
        .iter()
        // Only the services that run: replicas, and an enabled profile (or none).
        .filter(|(_, service)| service.replicas > 0)
        .filter(|(_, service)| {
            service.profiles.is_empty() || service.profiles.iter().any(|p| profiles.contains(p))
        })
        .filter_map(|(name, service)| {
            images::plan_image(name, &service.image, &pins, settings)
                .ok()
                .map(|image| (name.to_string(), image))
        })
        .collect()
}

/// Label naming the app a container, network or volume belongs to.
pub const LABEL_APP: &str = "outpost.app";
/// Label naming the release sequence a container was deployed from.
pub const LABEL_RELEASE: &str = "outpost.release";
/// Label naming the Compose service a container runs.
pub const LABEL_SERVICE: &str = "outpost.service";
/// Label numbering a service's replicas from 1.
pub const LABEL_REPLICA: &str = "outpost.replica";
/// Label holding [`Plan::config_hash`].
pub const LABEL_CONFIG_HASH: &str = "outpost.config-hash";

/// What [`Plan::redacted`] writes in place of a secret.
pub const MASK: &str = "********";

/// Everything a plan is made from. No `Debug`: `config` holds secrets in clear.
#[derive(Clone)]
pub struct PlanInput<'a> {
    /// The installed app; the release and its `outpost.yaml` must name the same one.
    pub app_id: &'a str,
    pub release: &'a Release,
    /// The app parsed from `release.files`.
    pub app: &'a App,
    /// The admin's values by config item. An absent or empty value takes the item's default.
    pub config: &'a BTreeMap<String, String>,
    /// The online nodes.
    pub nodes: Vec<PlanNode>,
    pub registry: &'a RegistrySettings,
}

/// What every node does for one deploy. Holds config values in clear (secrets too, since the
/// containers need them): show or log it only as `{:?}` or [`Plan::redacted`], both of which mask
/// the values of password items.
#[derive(Clone, PartialEq, Eq)]
pub struct Plan {
    pub release_sequence: u64,
    /// The Compose project: the app id. Names the network, volumes and containers.
    pub project: String,
    /// Hex SHA-256 of the effective config values (see [`config_hash`]); every container carries
    /// it as [`LABEL_CONFIG_HASH`], and the caller keeps it in the deploy history.
    pub config_hash: String,
    /// The services that run, dependencies first; services that do not depend on each other
    /// go by name.
    pub services_in_order: Vec<String>,
    /// Only the nodes that run something, by node id.
    pub nodes: BTreeMap<String, NodePlan>,
    /// Every image the plan pulls, once each, by reference.
    pub images: Vec<PlannedImage>,
    /// The non-empty values of password items, longest first: what `redacted` masks.
    secrets: Vec<String>,
}

/// One node's part of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    /// The app's network on this node (`{app}`).
    pub network: String,
    /// The named volumes its containers mount (`{app}_{volume}`), sorted.
    pub volumes: Vec<String>,
    /// The images it pulls ([`PlannedImage::pull_as`]), sorted.
    pub pulls: Vec<String>,
    /// In order: the network, the volumes, the pulls, then the containers in dependency order.
    pub steps: Vec<Step>,
}

/// One thing a node does; each maps onto one agent command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    EnsureNetwork {
        name: String,
        labels: BTreeMap<String, String>,
    },
    EnsureVolume {
        name: String,
        labels: BTreeMap<String, String>,
    },
    /// Pull `image` with the credentials the registry settings hold for `auth_host`, if any;
    /// or, when `local` (airgap mode), check it is on the node, pulling nothing.
    Pull {
        image: String,
        auth_host: Option<String>,
        local: bool,
    },
    /// Create and start a container, then wait until it is as `wait` says before going on.
    Run {
        spec: Box<ContainerSpec>,
        wait: Wait,
    },
}

/// How far a container must get before the deploy goes on. Ordered by strength: when several
/// reasons apply, the strongest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Wait {
    /// Running.
    Started,
    /// Its healthcheck passes: for a service with a healthcheck test (the deploy's result and
    /// the app's status rest on it), or one a dependent needs `service_healthy`.
    Healthy,
    /// Exited with status 0: a dependent needs `service_completed_successfully`.
    Completed,
}

/// Why no plan could be made. Each message names what is wrong and what to do; none contains a
/// config value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("release {release_app:?} (outpost.yaml: {outpost_app:?}) is not for the installed app {app_id:?}: load a release of {app_id:?}")]
    AppMismatch {
        app_id: String,
        release_app: String,
        outpost_app: String,
    },
    #[error("config item {item:?} ({title}) is required and has no value: set it on the Config page, then deploy again")]
    MissingConfig { item: String, title: String },
    #[error("config item {item:?} ({title}): {reason}: correct it on the Config page, then deploy again")]
    InvalidConfig {
        item: String,
        title: String,
        reason: ValueError,
    },
    #[error("every service is switched off by its profile: turn on one of the config items {items:?} on the Config page")]
    NothingToRun { items: Vec<String> },
    #[error("service {service:?} depends on {dependency:?}, whose profile {profiles:?} is off: turn on config item {items:?} on the Config page")]
    DependencyProfileOff {
        service: String,
        dependency: String,
        profiles: Vec<String>,
        items: Vec<String>,
    },
    #[error("service {service:?} depends on {dependency:?}, which has deploy.replicas: 0: this release cannot run; ask the vendor for a corrected release")]
    DependencyNoReplicas { service: String, dependency: String },
    #[error("service {service:?} depends on {dependency:?}, which the release does not define: this release cannot run; ask the vendor for a corrected release")]
    UnknownDependency { service: String, dependency: String },
    #[error("the services {services:?} depend on each other in a cycle: this release cannot run; ask the vendor for a corrected release")]
    DependencyCycle { services: Vec<String> },
    #[error("service {service:?}: image {image:?}: {reason}: this release cannot run; ask the vendor for a corrected release")]
    InvalidImage {
        service: String,
        image: String,
        reason: ReferenceError,
    },
    #[error("service {service:?}: the release pins no digest for image {image:?}: ask the vendor for a release made with `outpost-airgap release create`, which pins every image")]
    ImageNotPinned { service: String, image: String },
    #[error("image {image:?} would be pulled as {pull_as:?}, which is not a valid image reference ({reason}): correct the registry rewrite rules or the internal registry address")]
    InvalidPullReference {
        image: String,
        pull_as: String,
        reason: ReferenceError,
    },
    #[error("service {service:?}: {field}: {reason}: this release cannot run; ask the vendor for a corrected release")]
    InvalidCommand {
        service: String,
        field: &'static str,
        reason: String,
    },
    #[error("service {service:?}: {field}: {reason}: this release cannot run; ask the vendor for a corrected release")]
    Variable {
        service: String,
        field: String,
        reason: VarError,
    },
    #[error("no node is online: start the agent on a node (or join one on the Nodes page), then deploy again")]
    NoNodes,
    #[error("node {node:?} is listed twice: list each online node once")]
    DuplicateNode { node: String },
    #[error("service {service:?} may only run on a node with {constraints:?}, and no online node has those labels: label a node on the Nodes page or bring one online, then deploy again")]
    NoNodeFor {
        service: String,
        constraints: Vec<String>,
    },
    #[error("service {service:?} publishes host ports {ports:?}, so each of its {replicas} replicas needs its own node, but only {} online node(s) fit its placement ({eligible:?}): add nodes (labelled to fit) on the Nodes page, then deploy again", eligible.len())]
    NotEnoughNodes {
        service: String,
        replicas: u32,
        ports: Vec<String>,
        eligible: Vec<String>,
    },
    #[error("service {service:?}: replica {replica} needs host ports {ports:?}, but each node it may run on has one taken ({taken:?}): add a node (labelled to fit) on the Nodes page, then deploy again")]
    PortTaken {
        service: String,
        replica: u32,
        ports: Vec<String>,
        /// `node: port by service`, for each node it may run on.
        taken: Vec<String>,
    },
}

/// Makes the plan for `input`. Fails, changing nothing, on the first problem found; problems are
/// looked for in a fixed order (app, config, services, images, nodes, placement), so the same
/// input always gives the same error.
pub fn build(input: &PlanInput<'_>) -> Result<Plan, PlanError> {
    let app = input.app;
    let app_id = input.app_id;
    if input.release.app_id != app_id || app.outpost.app != app_id {
        return Err(PlanError::AppMismatch {
            app_id: app_id.to_string(),
            release_app: input.release.app_id.clone(),
            outpost_app: app.outpost.app.clone(),
        });
    }

    let values = effective_values(app, input.config)?;
    let config_hash = config_hash(&values);
    let running = running_services(app, &values)?;
    let services_in_order = dependency_order(&running)?;
    let waits = waits(&running);

    // Images, once each, and which one each service runs.
    let pins = images::pins(input.release);
    let mut image_of: BTreeMap<&str, String> = BTreeMap::new();
    let mut planned: BTreeMap<String, PlannedImage> = BTreeMap::new();
    for name in &services_in_order {
        let service = running[name.as_str()];
        let image = images::plan_image(name, &service.image, &pins, input.registry)?;
        image_of.insert(name, image.pull_as.clone());
        planned.entry(image.reference.clone()).or_insert(image);
    }

    let demands: Vec<placement::Demand<'_>> = services_in_order
        .iter()
        .map(|name| {
            let service = running[name.as_str()];
            placement::Demand {
                service: name,
                replicas: service.replicas,
                constraints: &service.placement,
                ports: &service.ports,
            }
        })
        .collect();
    let placed = placement::place(&demands, &input.nodes)?;

    let context = spec::Context {
        app: app_id,
        sequence: input.release.sequence,
        config_hash: &config_hash,
        values: &values,
    };
    let mut nodes: BTreeMap<String, NodePlan> = BTreeMap::new();
    for name in &services_in_order {
        let service = running[name.as_str()];
        let template = spec::service_spec(&context, name, service, &image_of[name.as_str()])?;
        for (index, node) in placed[name.as_str()].iter().enumerate() {
            let replica = index as u32 + 1;
            let node_plan = nodes.entry(node.clone()).or_insert_with(|| NodePlan {
                network: app_id.to_string(),
                volumes: Vec::new(),
                pulls: Vec::new(),
                steps: Vec::new(),
            });
            for mount in &service.volumes {
                node_plan.volumes.push(volume_name(app_id, &mount.source));
            }
            node_plan.pulls.push(image_of[name.as_str()].clone());
            node_plan.steps.push(Step::Run {
                spec: Box::new(spec::replica(&template, app_id, name, replica)),
                wait: waits[name.as_str()],
            });
        }
    }
    for node_plan in nodes.values_mut() {
        finish_node(node_plan, app_id, &planned);
    }

    let mut secrets: Vec<String> = app
        .outpost
        .items()
        .filter(|item| item.kind.is_secret())
        .filter_map(|item| values.get(&item.name))
        .filter(|value| !value.is_empty())
        .cloned()
        .collect();
    secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    secrets.dedup();

    Ok(Plan {
        release_sequence: input.release.sequence,
        project: app_id.to_string(),
        config_hash,
        services_in_order,
        nodes,
        images: planned.into_values().collect(),
        secrets,
    })
}

/// Hex SHA-256 over the effective config values sorted by item name, each name and value framed
/// by its length (8 bytes, big-endian), so that no two different configs hash alike.
pub fn config_hash(values: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, value) in values {
        for part in [name, value] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hex::encode(hasher.finalize())
}

/// The name of the app's named volume `volume` on every node.
pub fn volume_name(app_id: &str, volume: &str) -> String {
    format!("{app_id}_{volume}")
}

/// The name of a service's container, replicas numbered from 1.
pub fn container_name(app_id: &str, service: &str, replica: u32) -> String {
    format!("{app_id}-{service}-{replica}")
}

impl Plan {
    /// The plan with every occurrence of a password item's value masked ([`MASK`]) in the
    /// containers' environment, command, entrypoint and healthcheck: safe to show or log.
    pub fn redacted(&self) -> Plan {
        let mut plan = self.clone();
        let mask = |text: &mut String| {
            for secret in &self.secrets {
                if text.contains(secret.as_str()) {
                    *text = text.replace(secret.as_str(), MASK);
                }
            }
        };
        for node in plan.nodes.values_mut() {
            for step in &mut node.steps {
                let Step::Run { spec, .. } = step else {
                    continue;
                };
                spec.env.values_mut().for_each(mask);
                spec.command.iter_mut().flatten().for_each(mask);
                spec.entrypoint.iter_mut().flatten().for_each(mask);
                if let Some(check) = &mut spec.healthcheck {
                    check.test.iter_mut().for_each(mask);
                }
            }
        }
        plan
    }
}

impl fmt::Debug for Plan {
    /// The redacted plan: no password item's value appears.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = self.redacted();
        f.debug_struct("Plan")
            .field("release_sequence", &plan.release_sequence)
            .field("project", &plan.project)
            .field("config_hash", &plan.config_hash)
            .field("services_in_order", &plan.services_in_order)
            .field("nodes", &plan.nodes)
            .field("images", &plan.images)
            .finish_non_exhaustive()
    }
}

/// Every config item's value: the admin's, else the default, else empty (`false` for a bool).
/// Items the app does not define are left out.
fn effective_values(
    app: &App,
    config: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, PlanError> {
    let mut values = BTreeMap::new();
    for item in app.outpost.items() {
        let given = config.get(&item.name).filter(|v| !v.is_empty());
        let value = match (given.or(item.default.as_ref()), &item.kind) {
            (Some(value), _) => value.clone(),
            (None, ItemKind::Bool) if !item.required => "false".to_string(),
            (None, _) => String::new(),
        };
        if value.is_empty() && item.required {
            return Err(PlanError::MissingConfig {
                item: item.name.clone(),
                title: item.title.clone(),
            });
        }
        item.check_value(&value)
            .map_err(|reason| PlanError::InvalidConfig {
                item: item.name.clone(),
                title: item.title.clone(),
                reason,
            })?;
        values.insert(item.name.clone(), value);
    }
    Ok(values)
}

/// The services that run with these values (profile on, at least one replica), each of whose
/// dependencies runs too.
fn running_services<'a>(
    app: &'a App,
    values: &BTreeMap<String, String>,
) -> Result<BTreeMap<&'a str, &'a Service>, PlanError> {
    let on = app.profiles_for(values);
    let profile_on = |service: &Service| {
        service.profiles.is_empty() || service.profiles.iter().any(|p| on.contains(p))
    };
    let items_for = |profiles: &[String]| -> Vec<String> {
        app.outpost
            .items()
            .filter(|item| item.profile.as_ref().is_some_and(|p| profiles.contains(p)))
            .map(|item| item.name.clone())
            .collect()
    };
    let services = &app.compose.services;
    let running: BTreeMap<&str, &Service> = services
        .iter()
        .filter(|(_, s)| profile_on(s) && s.replicas > 0)
        .map(|(name, s)| (name.as_str(), s))
        .collect();
    if running.is_empty() {
        let profiles: Vec<String> = app
            .compose
            .profiles()
            .into_iter()
            .map(str::to_string)
            .collect();
        return Err(PlanError::NothingToRun {
            items: items_for(&profiles),
        });
    }
    for (name, service) in &running {
        for dependency in service.depends_on.keys() {
            if running.contains_key(dependency.as_str()) {
                continue;
            }
            let Some(target) = services.get(dependency) else {
                // The app was checked, so this is not reached; refuse rather than guess.
                return Err(PlanError::UnknownDependency {
                    service: name.to_string(),
                    dependency: dependency.clone(),
                });
            };
            return Err(if profile_on(target) {
                PlanError::DependencyNoReplicas {
                    service: name.to_string(),
                    dependency: dependency.clone(),
                }
            } else {
                PlanError::DependencyProfileOff {
                    service: name.to_string(),
                    dependency: dependency.clone(),
                    profiles: target.profiles.clone(),
                    items: items_for(&target.profiles),
                }
            });
        }
    }
    Ok(running)
}

/// Dependencies first; among the services ready at each point, the first by name.
fn dependency_order(running: &BTreeMap<&str, &Service>) -> Result<Vec<String>, PlanError> {
    let mut waiting: BTreeMap<&str, BTreeSet<&str>> = running
        .iter()
        .map(|(name, service)| {
            let deps = service.depends_on.keys().map(String::as_str).collect();
            (*name, deps)
        })
        .collect();
    let mut order = Vec::with_capacity(waiting.len());
    while !waiting.is_empty() {
        let Some(next) = waiting
            .iter()
            .find(|(_, deps)| deps.is_empty())
            .map(|(name, _)| *name)
        else {
            return Err(PlanError::DependencyCycle {
                services: waiting.keys().map(|s| s.to_string()).collect(),
            });
        };
        waiting.remove(next);
        for deps in waiting.values_mut() {
            deps.remove(next);
        }
        order.push(next.to_string());
    }
    Ok(order)
}

/// What each service's containers must reach before the deploy goes on.
fn waits<'a>(running: &BTreeMap<&'a str, &Service>) -> BTreeMap<&'a str, Wait> {
    let mut waits: BTreeMap<&str, Wait> = running
        .iter()
        .map(|(name, service)| {
            let tested = service
                .healthcheck
                .as_ref()
                .and_then(|h| h.test.as_ref())
                .is_some_and(|test| !matches!(test, HealthTest::Disabled));
            (*name, if tested { Wait::Healthy } else { Wait::Started })
        })
        .collect();
    for service in running.values() {
        for (dependency, condition) in &service.depends_on {
            let needed = match condition {
                Condition::Started => Wait::Started,
                Condition::Healthy => Wait::Healthy,
                Condition::CompletedSuccessfully => Wait::Completed,
            };
            if let Some(wait) = waits.get_mut(dependency.as_str()) {
                *wait = (*wait).max(needed);
            }
        }
    }
    waits
}

/// Sorts and dedups a node's volumes and pulls and puts its network, volume and pull steps
/// before its containers.
fn finish_node(node: &mut NodePlan, app_id: &str, images: &BTreeMap<String, PlannedImage>) {
    node.volumes.sort();
    node.volumes.dedup();
    node.pulls.sort();
    node.pulls.dedup();
    let labels = BTreeMap::from([(LABEL_APP.to_string(), app_id.to_string())]);
    let mut steps = vec![Step::EnsureNetwork {
        name: node.network.clone(),
        labels: labels.clone(),
    }];
    steps.extend(node.volumes.iter().map(|name| Step::EnsureVolume {
        name: name.clone(),
        labels: labels.clone(),
    }));
    steps.extend(node.pulls.iter().map(|pull_as| {
        let image = images.values().find(|image| &image.pull_as == pull_as);
        Step::Pull {
            image: pull_as.clone(),
            auth_host: image.and_then(|image| image.auth_host.clone()),
            local: image.is_some_and(|image| matches!(image.source, ImageSource::Node { .. })),
        }
    }));
    steps.append(&mut node.steps);
    node.steps = steps;
}

#[cfg(test)]
mod tests;
