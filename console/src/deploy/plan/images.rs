//! Where each image is pulled from. Every image stays pinned to the digest the release names; only
//! the registry (and path) it is fetched from changes: the console's internal registry when it
//! holds the digest (images that arrived in an airgap bundle), else the admin's mirror/rewrite
//! rules, else the upstream registry the release names. Credentials go with the registry that is
//! actually contacted.

use std::collections::{BTreeMap, BTreeSet};

use outpost_agent::protocol::RegistryAuth;
use outpost_airgap::app::reference::{DOCKER_HUB, DOCKER_HUB_HOST};
use outpost_airgap::app::ImageRef;
use outpost_airgap::registry::{rewrite, MirrorRule};
use outpost_airgap::release::Release;

use super::PlanError;

/// The admin's registry settings, as the plan needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrySettings {
    /// Mirror/rewrite rules (`docker.io=mirror.corp:5000`, `quay.io/acme=registry.corp/acme`);
    /// the longest matching prefix wins.
    pub rules: Vec<MirrorRule>,
    /// Pull credentials by registry host as image references name it (`quay.io`, `host:5000`;
    /// Docker Hub as `docker.io` or `registry-1.docker.io`). The caller adds the license's
    /// credentials here under the vendor's registry host.
    pub credentials: BTreeMap<String, RegistryAuth>,
    /// The console's own registry, when it holds images.
    pub internal: Option<InternalRegistry>,
    /// Airgap mode: nodes pull nothing from outside; an image the internal registry does
    /// not hold must already be on the node.
    pub airgap: bool,
}

/// The console's internal registry (:9874). It serves images by digest; an image is pulled from it
/// as `{host}/{repository}@{digest}` (the repository as the release names it, without its
/// registry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InternalRegistry {
    /// `HOST:9874`, as nodes reach it.
    pub host: String,
    /// The manifest digests it holds (`sha256:<hex>`).
    pub images: BTreeSet<String>,
}

/// One image of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedImage {
    /// The release's pinned image: `registry/repository@digest`.
    pub reference: String,
    /// What nodes pull: the same digest, from where [`PlannedImage::source`] says.
    pub pull_as: String,
    pub source: ImageSource,
    /// The key of [`RegistrySettings::credentials`] to pull with; `None` pulls anonymously.
    pub auth_host: Option<String>,
}

/// Where an image is pulled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// The registry the release names.
    Upstream { registry: String },
    /// A registry (or path) a rewrite rule put in place of the one the release names (`of`).
    Mirror { registry: String, of: String },
    /// The console's internal registry.
    Internal { registry: String },
    /// Airgap mode: already on the node, as named after the rewrite rules; nothing is pulled.
    Node { registry: String },
}

impl ImageSource {
    /// The registry contacted.
    pub fn registry(&self) -> &str {
        match self {
            ImageSource::Upstream { registry }
            | ImageSource::Mirror { registry, .. }
            | ImageSource::Internal { registry }
            | ImageSource::Node { registry } => registry,
        }
    }
}

/// The release's digests by normalised reference. The first pin of a reference wins.
pub(super) fn pins(release: &Release) -> BTreeMap<String, String> {
    let mut pins = BTreeMap::new();
    for pin in &release.images {
        if let Ok(image) = ImageRef::parse(&pin.reference) {
            pins.entry(image.to_string())
                .or_insert_with(|| pin.digest.clone());
        }
    }
    pins
}

/// Plans the image `written` (as the compose file names it) of `service`.
pub(super) fn plan_image(
    service: &str,
    written: &str,
    pins: &BTreeMap<String, String>,
    settings: &RegistrySettings,
) -> Result<PlannedImage, PlanError> {
    let image = ImageRef::parse(written).map_err(|reason| PlanError::InvalidImage {
        service: service.to_string(),
        image: written.to_string(),
        reason,
    })?;
    // A reference written with a digest is pinned already.
    let digest = pins
        .get(&image.to_string())
        .map(String::as_str)
        .or(image.digest())
        .ok_or_else(|| PlanError::ImageNotPinned {
            service: service.to_string(),
            image: image.to_string(),
        })?;
    let reference = format!("{}@{digest}", image.name());

    let internal = settings
        .internal
        .as_ref()
        .filter(|internal| internal.images.contains(digest));
    let (source, pull_as) = if let Some(internal) = internal {
        let registry = internal.host.clone();
        let pull_as = format!("{registry}/{}@{digest}", image.repository());
        (ImageSource::Internal { registry }, pull_as)
    } else {
        let (registry, repository) = rewrite(&settings.rules, &image);
        let pull_as = format!("{registry}/{repository}@{digest}");
        if settings.airgap {
            (ImageSource::Node { registry }, pull_as)
        } else if registry == image.registry() && repository == image.repository() {
            (ImageSource::Upstream { registry }, pull_as)
        } else {
            let of = image.registry().to_string();
            (ImageSource::Mirror { registry, of }, pull_as)
        }
    };
    // A bad internal host or rule target must not reach a node as a pull.
    ImageRef::parse(&pull_as).map_err(|reason| PlanError::InvalidPullReference {
        image: reference.clone(),
        pull_as: pull_as.clone(),
        reason,
    })?;
    let auth_host = credentials_key(source.registry(), &settings.credentials);
    Ok(PlannedImage {
        reference,
        pull_as,
        source,
        auth_host,
    })
}

/// The credentials entry for `registry`; Docker Hub answers to its reference name and its host.
fn credentials_key(registry: &str, credentials: &BTreeMap<String, RegistryAuth>) -> Option<String> {
    let names: &[&str] = if registry == DOCKER_HUB {
        &[DOCKER_HUB, DOCKER_HUB_HOST]
    } else {
        &[registry]
    };
    names
        .iter()
        .find(|name| credentials.contains_key(**name))
        .map(|name| name.to_string())
}
