//! Resolving image references to manifest digests, from a registry (distribution API,
//! with credentials) or from the local Docker engine where the vendor built the image.
//!
//! A release pins every image to the digest `docker pull name@digest` uses: the digest of
//! the top-level manifest (an index or manifest list when the image is multi-platform),
//! with the platform chosen from it recorded beside it. Mirror rules let a vendor resolve
//! through another registry (`docker.io=127.0.0.1:5101`, `quay.io/acme=registry.corp/acme`)
//! while the pinned reference stays the original normalised name.
//!
//! Transport rules: HTTPS everywhere, with a per-host CA that then is the only CA that host
//! is trusted with; plain HTTP only for loopback hosts that have no CA configured. Every
//! request has a timeout and every body a size limit. Passwords and tokens live in
//! [`Secret`], which never prints, and never appear in an error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use sha2::{Digest, Sha256, Sha512};

use crate::app::reference::{ImageRef, DOCKER_HUB, DOCKER_HUB_HOST};
use crate::release::ImagePin;

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list (schema 2).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest (schema 2).
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The `Accept` header of every manifest request: the four manifest types we read.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// How many redirects a request may follow.
const MAX_REDIRECTS: usize = 5;
/// How much of an error body is read for its message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Why an image could not be resolved. Every variant names the image (its normalised
/// reference) and where it was looked for; none carries a password or token.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidSetting {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("{image}: the registry {registry} refused access: {detail}")]
    Unauthorized {
        image: String,
        registry: String,
        detail: String,
    },
    #[error("{image}: the registry {registry} denied access (403): {detail}")]
    Denied {
        image: String,
        registry: String,
        detail: String,
    },
    #[error("{image}: not found in the registry {registry}: {detail}")]
    NotFound {
        image: String,
        registry: String,
        detail: String,
    },
    #[error("{image}: TLS with {registry} failed: {detail}")]
    Tls {
        image: String,
        registry: String,
        detail: String,
    },
    #[error("{image}: {registry} did not answer within {seconds} seconds")]
    Timeout {
        image: String,
        registry: String,
        seconds: u64,
    },
    #[error("{image}: cannot reach {registry}: {detail}")]
    Connect {
        image: String,
        registry: String,
        detail: String,
    },
    #[error("{image}: the registry {registry} answered HTTP {status}: {detail}")]
    Status {
        image: String,
        registry: String,
        status: u16,
        detail: String,
    },
    #[error(
        "{image}: the {what} from the registry {registry} has digest {actual}, expected {expected}"
    )]
    BadDigest {
        image: String,
        registry: String,
        what: &'static str,
        expected: String,
        actual: String,
    },
    #[error("{image}: the {what} from the registry {registry} is larger than {limit} bytes")]
    TooLarge {
        image: String,
        registry: String,
        what: &'static str,
        limit: usize,
    },
    #[error("{image}: the registry {registry} sent a manifest of unsupported type {media_type:?} (supported: OCI index and manifest, Docker manifest list and manifest v2)")]
    UnsupportedManifest {
        image: String,
        registry: String,
        media_type: String,
    },
    #[error("{image}: the registry {registry} sent an invalid {what}: {reason}")]
    InvalidManifest {
        image: String,
        registry: String,
        what: &'static str,
        reason: String,
    },
    #[error("{image}: the registry {registry} has no {platform} image (it has: {available})")]
    NoPlatform {
        image: String,
        registry: String,
        platform: String,
        available: String,
    },
    #[error("{image}: the image in {registry} is for {found}, not {platform}")]
    PlatformMismatch {
        image: String,
        registry: String,
        platform: String,
        found: String,
    },
    #[error(
        "{image}: refusing plain HTTP to {url}: only loopback hosts may be reached without TLS"
    )]
    PlainHttp { image: String, url: String },
    #[error("{image}: the local Docker engine: {detail}")]
    Docker { image: String, detail: String },
    #[error("{image}: the local Docker image has no digest for {wanted} (it has: {found}); push it to that registry first")]
    NotPushed {
        image: String,
        wanted: String,
        found: String,
    },
}

/// A platform: `os/architecture[/variant]`, e.g. `linux/amd64`, `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl Platform {
    /// Whether an image for `os/architecture[/variant]` runs here. A platform without a
    /// variant accepts any variant of its architecture.
    pub fn accepts(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        self.os == os
            && self.architecture == architecture
            && match &self.variant {
                None => true,
                Some(wanted) => variant == Some(wanted.as_str()),
            }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            platform_label(&self.os, &self.architecture, self.variant.as_deref())
        )
    }
}

impl FromStr for Platform {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let plain = |p: &&str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(plain) {
            return Err(RegistryError::InvalidSetting {
                what: "platform",
                value: s.to_owned(),
                reason: "expected os/architecture[/variant], e.g. linux/amd64".into(),
            });
        }
        Ok(Platform {
            os: parts[0].to_owned(),
            architecture: parts[1].to_owned(),
            variant: parts.get(2).map(|v| (*v).to_owned()),
        })
    }
}

/// A mirror or rewrite rule, `FROM=TO`. `FROM` is a registry (`docker.io`) or a
/// registry and path prefix (`quay.io/acme`), matched on whole path components; the
/// longest matching rule replaces that prefix with `TO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorRule {
    from: String,
    to: String,
}

impl MirrorRule {
    pub fn new(from: &str, to: &str) -> Result<MirrorRule, RegistryError> {
        let text = format!("{from}={to}");
        let invalid = |reason: &str| RegistryError::InvalidSetting {
            what: "mirror rule",
            value: text.clone(),
            reason: reason.to_owned(),
        };
        for side in [from, to] {
            let (host, path) = side.split_once('/').unwrap_or((side, ""));
            if side.contains("://") {
                return Err(invalid(
                    "no scheme: name a registry host, e.g. docker.io=127.0.0.1:5101",
                ));
            }
            if !is_registry_host(host) {
                return Err(invalid(
                    "each side starts with a registry host (with a '.' or ':' or localhost)",
                ));
            }
            if !path.is_empty() && !is_repository_path(path) {
                return Err(invalid("the path prefix must be lower-case components"));
            }
        }
        Ok(MirrorRule {
            from: from.to_owned(),
            to: to.to_owned(),
        })
    }

    pub fn from(&self) -> &str {
        &self.from
    }

    pub fn to(&self) -> &str {
        &self.to
    }

    /// `registry/repository` rewritten, when this rule matches it.
    fn apply(&self, name: &str) -> Option<String> {
        let rest = name.strip_prefix(&self.from)?;
        if rest.is_empty() || rest.starts_with('/') {
            Some(format!("{}{rest}", self.to))
        } else {
            None
        }
    }
}

impl FromStr for MirrorRule {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (from, to) = s
            .split_once('=')
            .ok_or_else(|| RegistryError::InvalidSetting {
                what: "mirror rule",
                value: s.to_owned(),
                reason: "expected FROM=TO, e.g. docker.io=127.0.0.1:5101".into(),
            })?;
        MirrorRule::new(from.trim(), to.trim())
    }
}

impl fmt::Display for MirrorRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.from, self.to)
    }
}

/// A secret string (password, token). It never prints: `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A user name and password for one registry (Basic auth, or the token service's login).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

/// Bounds on every request.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Default 10 s.
    pub connect_timeout: Duration,
    /// The whole request, body included. Default 60 s.
    pub request_timeout: Duration,
    /// Default 4 MiB, as distribution's own limit.
    pub max_manifest_bytes: usize,
    /// An image configuration blob, read for its platform. Default 4 MiB.
    pub max_config_bytes: usize,
    /// A token service answer. Default 256 KiB.
    pub max_token_bytes: usize,
    /// `docker image inspect`, output and run time. Default 1 MiB and 60 s.
    pub max_docker_output_bytes: usize,
    pub docker_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_manifest_bytes: 4 * 1024 * 1024,
            max_config_bytes: 4 * 1024 * 1024,
            max_token_bytes: 256 * 1024,
            max_docker_output_bytes: 1024 * 1024,
            docker_timeout: Duration::from_secs(60),
        }
    }
}

/// How images are resolved.
#[derive(Debug, Clone, Default)]
pub struct ResolverConfig {
    /// Mirror and rewrite rules, applied before anything else.
    pub mirrors: Vec<MirrorRule>,
    /// Credentials by the registry host actually contacted, after the mirror rules
    /// (`127.0.0.1:5103`, `docker.io`). Never sent to any other host but that registry's
    /// token service.
    pub credentials: BTreeMap<String, Credentials>,
    /// PEM CA certificates by registry host (after the mirror rules). A host with a CA
    /// trusts only that CA, and is reached over HTTPS even on loopback.
    pub ca_pems: BTreeMap<String, Vec<u8>>,
    /// The platform picked from multi-platform images. Default `linux/amd64`.
    pub platform: Platform,
    pub limits: Limits,
    /// The Docker CLI for [`Source::Docker`]. Default `docker` on `PATH`.
    pub docker_cli: Option<std::path::PathBuf>,
}

/// Where a digest comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// The registry's manifest (the distribution API). The default.
    #[default]
    Registry,
    /// `docker image inspect`'s `RepoDigests`: for images the vendor built and pushed.
    Docker,
}

/// A resolved image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The original normalised reference (`docker.io/outpost-samples/web:1.0.0`).
    pub reference: String,
    /// The top-level manifest digest (`sha256:<hex>`), what `docker pull name@digest` uses.
    pub digest: String,
    /// The platform picked or found (`linux/amd64`).
    pub platform: String,
    /// The top-level manifest's media type (empty when resolved from the Docker engine).
    pub media_type: String,
    /// Where it was resolved: `127.0.0.1:5101/outpost-samples/web:1.0.0`, or
    /// `docker engine (...)`.
    pub resolved_from: String,
}

impl Resolved {
    /// The release's pin for this image.
    pub fn pin(&self) -> ImagePin {
        ImagePin {
            reference: self.reference.clone(),
            digest: self.digest.clone(),
            platform: self.platform.clone(),
        }
    }
}

/// Resolves image names to digests. Build it once; it holds the HTTP clients.
pub struct Resolver {
    config: ResolverConfig,
    /// For public HTTPS hosts (web PKI roots, the environment's proxy).
    public: reqwest::Client,
    /// For loopback hosts without a CA (plain HTTP, no proxy).
    loopback: reqwest::Client,
    /// For each host with its own CA.
    with_ca: BTreeMap<String, reqwest::Client>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("mirrors", &self.config.mirrors)
            .field(
                "credentials_for",
                &self.config.credentials.keys().collect::<Vec<_>>(),
            )
            .field("ca_for", &self.config.ca_pems.keys().collect::<Vec<_>>())
            .field("platform", &self.config.platform.to_string())
            .finish()
    }
}

impl Resolver {
    /// Builds the clients; fails on a CA that is not PEM certificates.
    pub fn new(config: ResolverConfig) -> Result<Resolver, RegistryError> {
        let limits = &config.limits;
        let public = client_builder(limits)
            .build()
            .map_err(|e| setting_error("HTTP client", "", &e))?;
        let loopback = client_builder(limits)
            .no_proxy()
            .build()
            .map_err(|e| setting_error("HTTP client", "", &e))?;
        let mut with_ca = BTreeMap::new();
        for (host, pem) in &config.ca_pems {
            let invalid = |reason: String| RegistryError::InvalidSetting {
                what: "registry CA",
                value: host.clone(),
                reason,
            };
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| invalid(format!("not PEM certificates: {}", error_chain(&e))))?;
            if certificates.is_empty() {
                return Err(invalid("no certificate in the PEM file".into()));
            }
            let mut builder = client_builder(limits).tls_built_in_root_certs(false);
            if is_loopback(host) {
                builder = builder.no_proxy();
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
            let client = builder
                .build()
                .map_err(|e| invalid(format!("cannot use it: {}", error_chain(&e))))?;
            with_ca.insert(host.clone(), client);
        }
        Ok(Resolver {
            config,
            public,
            loopback,
            with_ca,
        })
    }

    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    /// Resolves `image` from `source`.
    pub async fn resolve(
        &self,
        image: &ImageRef,
        source: Source,
    ) -> Result<Resolved, RegistryError> {
        match source {
            Source::Registry => self.resolve_in_registry(image).await,
            Source::Docker => self.resolve_in_docker(image).await,
        }
    }

    /// The registry and repository `image` is fetched from, after the mirror rules.
    pub fn rewrite(&self, image: &ImageRef) -> (String, String) {
        rewrite(&self.config.mirrors, image)
    }

    /// Resolves through the distribution API.
    pub async fn resolve_in_registry(&self, image: &ImageRef) -> Result<Resolved, RegistryError> {
        let (host, repository) = self.rewrite(image);
        let label = if host == image.registry() {
            host.clone()
        } else {
            format!("{host} (mirror of {})", image.registry())
        };
        let ctx = Ctx {
            image: image.to_string(),
            registry: label,
            limits: self.config.limits.clone(),
        };
        let base = self.base_url(&host, &ctx)?;
        let mut session = Session {
            resolver: self,
            ctx,
            host: host.clone(),
            repository: repository.clone(),
            base,
            authorization: None,
        };

        let manifest = session.get_manifest(manifest_reference(image)).await?;
        let ctx = &session.ctx;
        let digest = sha256_digest(&manifest.body);
        if let Some(header) = &manifest.header_digest {
            check_header_digest(ctx, "manifest", header, &manifest.body)?;
        }
        if let Some(wanted) = image.digest() {
            if wanted != digest {
                return Err(ctx.bad_digest("manifest", wanted, &digest));
            }
        }
        let document: ManifestDocument = serde_json::from_slice(&manifest.body)
            .map_err(|e| ctx.invalid("manifest", e.to_string()))?;
        let media_type = classify(ctx, manifest.content_type.as_deref(), &document)?;
        let wanted = &self.config.platform;

        let platform = if media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST {
            let child = pick_platform(ctx, wanted, document.manifests.as_deref().unwrap_or(&[]))?;
            let label = child
                .platform
                .as_ref()
                .map(|p| platform_label(&p.os, &p.architecture, p.variant.as_deref()))
                .unwrap_or_default();
            session.check_child(&child.digest, &label).await?;
            label
        } else {
            let config = document
                .config
                .as_ref()
                .ok_or_else(|| ctx.invalid("manifest", "no config descriptor".into()))?;
            let image_config = session.get_config(config).await?;
            let ctx = &session.ctx;
            let found = platform_label(
                &image_config.os,
                &image_config.architecture,
                image_config.variant.as_deref(),
            );
            if !wanted.accepts(
                &image_config.os,
                &image_config.architecture,
                image_config.variant.as_deref(),
            ) {
                return Err(RegistryError::PlatformMismatch {
                    image: ctx.image.clone(),
                    registry: ctx.registry.clone(),
                    platform: wanted.to_string(),
                    found,
                });
            }
            found
        };

        let mut resolved_from = format!("{host}/{repository}");
        if let Some(tag) = image.tag() {
            resolved_from.push(':');
            resolved_from.push_str(tag);
        }
        Ok(Resolved {
            reference: image.to_string(),
            digest,
            platform,
            media_type: media_type.to_owned(),
            resolved_from,
        })
    }

    /// Resolves through the local Docker engine: `docker image inspect` of the image (by
    /// its name, then by its mirrored name) and the `RepoDigests` entry for the registry
    /// it is fetched from, which exists once the image was pushed or pulled there.
    pub async fn resolve_in_docker(&self, image: &ImageRef) -> Result<Resolved, RegistryError> {
        let (host, repository) = self.rewrite(image);
        let rewritten = format!("{host}/{repository}");
        let original = format!("{}/{}", image.registry(), image.repository());
        let suffix = match image.digest() {
            Some(digest) => format!("@{digest}"),
            None => format!(":{}", manifest_reference(image)),
        };
        let mut names = vec![format!("{original}{suffix}")];
        if rewritten != original {
            names.push(format!("{rewritten}{suffix}"));
        }

        let mut failures = Vec::new();
        let mut inspected = None;
        for name in &names {
            match self.docker_inspect(image, name).await? {
                Ok(inspect) => {
                    inspected = Some(inspect);
                    break;
                }
                Err(why) => failures.push(format!("{name}: {why}")),
            }
        }
        let Some(inspect) = inspected else {
            return Err(RegistryError::Docker {
                image: image.to_string(),
                detail: failures.join("; "),
            });
        };

        // The digest the registry we resolve from knows; the original name's as a fallback
        // (an image pulled from its own registry).
        let digests_for = |repo: &str| -> BTreeSet<String> {
            inspect
                .repo_digests
                .iter()
                .filter_map(|entry| {
                    let (name, digest) = entry.split_once('@')?;
                    (normalise_docker_repo(name).as_deref() == Some(repo)
                        && is_sha256_digest(digest))
                    .then(|| digest.to_owned())
                })
                .collect()
        };
        let mut digests = digests_for(&rewritten);
        if digests.is_empty() {
            digests = digests_for(&original);
        }
        let digest = match digests.len() {
            1 => digests.into_iter().next().expect("one digest"),
            0 => {
                return Err(RegistryError::NotPushed {
                    image: image.to_string(),
                    wanted: rewritten,
                    found: if inspect.repo_digests.is_empty() {
                        "no RepoDigests".into()
                    } else {
                        inspect.repo_digests.join(", ")
                    },
                })
            }
            _ => {
                return Err(RegistryError::Docker {
                    image: image.to_string(),
                    detail: format!(
                        "the local image has several digests for {rewritten} ({}); resolve it from the registry instead",
                        digests.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                })
            }
        };
        if let Some(wanted) = image.digest() {
            if wanted != digest {
                return Err(RegistryError::Docker {
                    image: image.to_string(),
                    detail: format!("the local image has digest {digest}, not {wanted}"),
                });
            }
        }
        let variant = inspect.variant.as_deref().filter(|v| !v.is_empty());
        let found = platform_label(&inspect.os, &inspect.architecture, variant);
        let wanted = &self.config.platform;
        if !wanted.accepts(&inspect.os, &inspect.architecture, variant) {
            return Err(RegistryError::PlatformMismatch {
                image: image.to_string(),
                registry: "the local Docker engine".into(),
                platform: wanted.to_string(),
                found,
            });
        }
        Ok(Resolved {
            reference: image.to_string(),
            digest,
            platform: found,
            media_type: String::new(),
            resolved_from: format!("docker engine ({rewritten})"),
        })
    }

    /// `docker image inspect NAME`: the outer error when Docker cannot be used at all, the
    /// inner one when this name is not a local image.
    async fn docker_inspect(
        &self,
        image: &ImageRef,
        name: &str,
    ) -> Result<Result<DockerInspect, String>, RegistryError> {
        let docker_error = |detail: String| RegistryError::Docker {
            image: image.to_string(),
            detail,
        };
        let program = self
            .config
            .docker_cli
            .clone()
            .unwrap_or_else(|| "docker".into());
        let limits = &self.config.limits;
        let child = tokio::process::Command::new(&program)
            .args(["image", "inspect", "--format", "{{json .}}", "--", name])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(limits.docker_timeout, child)
            .await
            .map_err(|_| {
                docker_error(format!(
                    "`docker image inspect` did not finish within {} seconds",
                    limits.docker_timeout.as_secs()
                ))
            })?
            .map_err(|e| docker_error(format!("cannot run {}: {e}", program.display())))?;
        if output.stdout.len() > limits.max_docker_output_bytes {
            return Err(docker_error(format!(
                "`docker image inspect` wrote more than {} bytes",
                limits.max_docker_output_bytes
            )));
        }
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let message = printable(stderr.trim(), 300);
            if message.contains("No such image") || message.contains("No such object") {
                return Ok(Err("no such local image".into()));
            }
            return Err(docker_error(if message.is_empty() {
                format!("`docker image inspect` failed ({})", output.status)
            } else {
                message
            }));
        }
        serde_json::from_slice::<DockerInspect>(&output.stdout)
            .map(Ok)
            .map_err(|e| docker_error(format!("cannot read `docker image inspect` output: {e}")))
    }

    /// `scheme://authority` of a registry host.
    fn base_url(&self, host: &str, ctx: &Ctx) -> Result<Url, RegistryError> {
        let authority = if host == DOCKER_HUB {
            DOCKER_HUB_HOST
        } else {
            host
        };
        let scheme = if is_loopback(host) && !self.config.ca_pems.contains_key(host) {
            "http"
        } else {
            "https"
        };
        Url::parse(&format!("{scheme}://{authority}/")).map_err(|e| RegistryError::Connect {
            image: ctx.image.clone(),
            registry: ctx.registry.clone(),
            detail: format!("bad registry address: {e}"),
        })
    }

    /// The client for a host: its own CA's, the loopback one, or the public one.
    fn client_for(&self, host: &str) -> &reqwest::Client {
        if let Some(client) = self.with_ca.get(host) {
            client
        } else if is_loopback(host) {
            &self.loopback
        } else {
            &self.public
        }
    }
}

/// Rewrites `image` by the longest matching mirror rule: `(registry, repository)`.
pub fn rewrite(rules: &[MirrorRule], image: &ImageRef) -> (String, String) {
    let name = format!("{}/{}", image.registry(), image.repository());
    let best = rules
        .iter()
        .filter_map(|rule| {
            rule.apply(&name)
                .map(|rewritten| (rule.from.len(), rewritten))
        })
        .max_by_key(|(length, _)| *length);
    let rewritten = best.map(|(_, rewritten)| rewritten).unwrap_or(name);
    let (registry, repository) = rewritten
        .split_once('/')
        .expect("a rewritten name keeps its registry and repository");
    (registry.to_owned(), repository.to_owned())
}

// ---------------------------------------------------------------------------------------
// The distribution API conversation.

/// What errors need to say where they happened.
struct Ctx {
    image: String,
    registry: String,
    limits: Limits,
}

impl Ctx {
    fn invalid(&self, what: &'static str, reason: String) -> RegistryError {
        RegistryError::InvalidManifest {
            image: self.image.clone(),
            registry: self.registry.clone(),
            what,
            reason,
        }
    }

    fn bad_digest(&self, what: &'static str, expected: &str, actual: &str) -> RegistryError {
        RegistryError::BadDigest {
            image: self.image.clone(),
            registry: self.registry.clone(),
            what,
            expected: expected.to_owned(),
            actual: actual.to_owned(),
        }
    }

    fn unauthorized(&self, detail: String) -> RegistryError {
        RegistryError::Unauthorized {
            image: self.image.clone(),
            registry: self.registry.clone(),
            detail,
        }
    }

    fn too_large(&self, what: &'static str, limit: usize) -> RegistryError {
        RegistryError::TooLarge {
            image: self.image.clone(),
            registry: self.registry.clone(),
            what,
            limit,
        }
    }

    /// A transport failure, sorted into timeout, TLS and connection errors.
    fn transport(&self, error: &reqwest::Error, peer: &str) -> RegistryError {
        let (image, registry) = (self.image.clone(), self.registry.clone());
        let registry = if peer.is_empty() {
            registry
        } else {
            format!("{registry} (at {peer})")
        };
        if error.is_timeout() {
            return RegistryError::Timeout {
                image,
                registry,
                seconds: self.limits.request_timeout.as_secs(),
            };
        }
        let detail = error_chain(error);
        if is_tls_error(error) {
            RegistryError::Tls {
                image,
                registry,
                detail,
            }
        } else {
            RegistryError::Connect {
                image,
                registry,
                detail,
            }
        }
    }
}

/// One image's conversation with one registry; keeps the authorization it earned.
struct Session<'a> {
    resolver: &'a Resolver,
    ctx: Ctx,
    /// The registry host after the mirror rules: the key for credentials and CAs.
    host: String,
    repository: String,
    base: Url,
    /// The `Authorization` header value earned by the challenge (secret).
    authorization: Option<Secret>,
}

struct FetchedManifest {
    body: Vec<u8>,
    content_type: Option<String>,
    header_digest: Option<String>,
}

impl Session<'_> {
    fn url(&self, kind: &str, reference: &str) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!("/v2/{}/{kind}/{reference}", self.repository));
        url
    }

    async fn get_manifest(&mut self, reference: &str) -> Result<FetchedManifest, RegistryError> {
        let url = self.url("manifests", reference);
        let response = self.send(Method::GET, url, MANIFEST_ACCEPT).await?;
        let response = self.expect_success(response, "manifest").await?;
        let content_type = header_string(response.headers(), CONTENT_TYPE.as_str())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_owned());
        let header_digest = header_string(response.headers(), "docker-content-digest");
        let limit = self.ctx.limits.max_manifest_bytes;
        let body = read_limited(response, limit)
            .await
            .map_err(|e| self.read_error(e, "manifest", limit))?;
        Ok(FetchedManifest {
            body,
            content_type,
            header_digest,
        })
    }

    /// Checks the platform's manifest named by an index exists (HEAD), so a release never
    /// pins an index whose chosen image a mirror lacks.
    async fn check_child(&mut self, digest: &str, platform: &str) -> Result<(), RegistryError> {
        let url = self.url("manifests", digest);
        let response = self.send(Method::HEAD, url, MANIFEST_ACCEPT).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::NotFound {
                image: self.ctx.image.clone(),
                registry: self.ctx.registry.clone(),
                detail: format!("the index names {digest} for {platform}, but the registry does not have that manifest"),
            });
        }
        let response = self.expect_success(response, "manifest").await?;
        if let Some(header) = header_string(response.headers(), "docker-content-digest") {
            if header != digest {
                return Err(self.ctx.bad_digest("platform manifest", digest, &header));
            }
        }
        Ok(())
    }

    async fn get_config(&mut self, descriptor: &Descriptor) -> Result<ImageConfig, RegistryError> {
        let limit = self.ctx.limits.max_config_bytes;
        if !is_sha256_digest(&descriptor.digest) {
            return Err(self.ctx.invalid(
                "manifest",
                format!(
                    "config digest {:?} is not sha256:<hex>",
                    printable(&descriptor.digest, 80)
                ),
            ));
        }
        if descriptor.size > limit as u64 {
            return Err(self.ctx.too_large("image configuration", limit));
        }
        let url = self.url("blobs", &descriptor.digest);
        let response = self.send(Method::GET, url, "*/*").await?;
        let response = self.expect_success(response, "image configuration").await?;
        let body = read_limited(response, limit)
            .await
            .map_err(|e| self.read_error(e, "image configuration", limit))?;
        let actual = sha256_digest(&body);
        if actual != descriptor.digest {
            return Err(self
                .ctx
                .bad_digest("image configuration", &descriptor.digest, &actual));
        }
        serde_json::from_slice(&body)
            .map_err(|e| self.ctx.invalid("image configuration", e.to_string()))
    }

    /// Sends a request, answering one authentication challenge (Basic or Bearer).
    async fn send(
        &mut self,
        method: Method,
        url: Url,
        accept: &str,
    ) -> Result<reqwest::Response, RegistryError> {
        let client = self.resolver.client_for(&self.host);
        let mut challenged = false;
        loop {
            let mut request = client
                .request(method.clone(), url.clone())
                .header(ACCEPT, accept);
            if let Some(authorization) = &self.authorization {
                request = request.header(AUTHORIZATION, authorization.expose());
            }
            let response = request
                .send()
                .await
                .map_err(|e| self.ctx.transport(&e, ""))?;
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
            if challenged {
                let message = error_message(response).await;
                return Err(self.ctx.unauthorized(self.refused_detail(&message)));
            }
            challenged = true;
            let challenges: Vec<Challenge> = response
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(parse_challenges)
                .collect();
            self.authorization = Some(self.answer(&challenges).await?);
        }
    }

    /// Earns an `Authorization` value for the first challenge we can answer.
    async fn answer(&self, challenges: &[Challenge]) -> Result<Secret, RegistryError> {
        let credentials = self.resolver.config.credentials.get(&self.host);
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            return self.bearer_token(bearer, credentials).await;
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            let Some(credentials) = credentials else {
                return Err(self.ctx.unauthorized(format!(
                    "the registry requires a user name and password, and none is configured for {}",
                    self.host
                )));
            };
            return Ok(basic_authorization(credentials));
        }
        Err(self.ctx.unauthorized(
            "the registry asks for authentication without a Basic or Bearer challenge".into(),
        ))
    }

    /// The token flow: GET realm?service=..&scope=.. (with the credentials as Basic when
    /// there are any), then `Authorization: Bearer <token>`.
    async fn bearer_token(
        &self,
        challenge: &Challenge,
        credentials: Option<&Credentials>,
    ) -> Result<Secret, RegistryError> {
        let realm = challenge.params.get("realm").ok_or_else(|| {
            self.ctx
                .unauthorized("the Bearer challenge has no realm".into())
        })?;
        let mut url = Url::parse(realm).map_err(|e| {
            self.ctx.unauthorized(format!(
                "the Bearer challenge's realm {:?} is not a URL: {e}",
                printable(realm, 200)
            ))
        })?;
        let realm_host = url_authority(&url);
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&realm_host) => {}
            _ => {
                return Err(RegistryError::PlainHttp {
                    image: self.ctx.image.clone(),
                    url: printable(realm, 200),
                })
            }
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = challenge.params.get("service") {
                query.append_pair("service", service);
            }
            match challenge.params.get("scope") {
                Some(scope) => {
                    for scope in scope.split(' ').filter(|s| !s.is_empty()) {
                        query.append_pair("scope", scope);
                    }
                }
                None => {
                    query.append_pair("scope", &format!("repository:{}:pull", self.repository));
                }
            }
        }
        let client = self.resolver.client_for(&realm_host);
        let mut request = client.get(url).header(ACCEPT, "application/json");
        if let Some(credentials) = credentials {
            request = request.header(AUTHORIZATION, basic_authorization(credentials).expose());
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.ctx.transport(&e, &realm_host))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let message = error_message(response).await;
            return Err(self.ctx.unauthorized(match credentials {
                Some(c) => format!(
                    "the token service {realm_host} rejected the credentials of user {:?}{}",
                    c.username,
                    suffix(&message)
                ),
                None => format!(
                    "the token service {realm_host} refused an anonymous token and no credentials are configured for {}{}",
                    self.host,
                    suffix(&message)
                ),
            }));
        }
        if !status.is_success() {
            let message = error_message(response).await;
            return Err(RegistryError::Status {
                image: self.ctx.image.clone(),
                registry: format!("{} (token service {realm_host})", self.ctx.registry),
                status: status.as_u16(),
                detail: message,
            });
        }
        let limit = self.ctx.limits.max_token_bytes;
        let body = read_limited(response, limit)
            .await
            .map_err(|e| self.read_error(e, "token answer", limit))?;
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            self.ctx.unauthorized(format!(
                "the token service {realm_host} answered something that is not a token: {e}"
            ))
        })?;
        let token = answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                self.ctx
                    .unauthorized(format!("the token service {realm_host} answered no token"))
            })?;
        if !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(self.ctx.unauthorized(format!(
                "the token service {realm_host} answered a token with invalid characters"
            )));
        }
        Ok(Secret::new(format!("Bearer {token}")))
    }

    /// What to say when the registry still answers 401 after our answer to its challenge.
    fn refused_detail(&self, message: &str) -> String {
        match self.resolver.config.credentials.get(&self.host) {
            Some(c) => format!(
                "the credentials of user {:?} were rejected{}",
                c.username,
                suffix(message)
            ),
            None => format!(
                "the registry requires credentials and none are configured for {}{}",
                self.host,
                suffix(message)
            ),
        }
    }

    /// Turns a non-success status into its error.
    async fn expect_success(
        &self,
        response: reqwest::Response,
        what: &'static str,
    ) -> Result<reqwest::Response, RegistryError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let (image, registry) = (self.ctx.image.clone(), self.ctx.registry.clone());
        let message = error_message(response).await;
        Err(match status {
            StatusCode::NOT_FOUND => RegistryError::NotFound {
                image,
                registry,
                detail: if message.is_empty() {
                    format!("no such {what}")
                } else {
                    message
                },
            },
            StatusCode::FORBIDDEN => RegistryError::Denied {
                image,
                registry,
                detail: message,
            },
            StatusCode::BAD_REQUEST if message.contains("HTTP request to an HTTPS server") => {
                RegistryError::Status {
                    image,
                    registry,
                    status: status.as_u16(),
                    detail: format!(
                        "{message}; the registry speaks HTTPS: configure its CA for {}",
                        self.host
                    ),
                }
            }
            _ => RegistryError::Status {
                image,
                registry,
                status: status.as_u16(),
                detail: if message.is_empty() {
                    status
                        .canonical_reason()
                        .unwrap_or("unexpected status")
                        .to_owned()
                } else {
                    message
                },
            },
        })
    }

    fn read_error(&self, error: ReadError, what: &'static str, limit: usize) -> RegistryError {
        match error {
            ReadError::TooLarge => self.ctx.too_large(what, limit),
            ReadError::Transport(e) => self.ctx.transport(&e, ""),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Manifests.

#[derive(Debug, Deserialize)]
struct ManifestDocument {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<u32>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    manifests: Option<Vec<Descriptor>>,
    config: Option<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    platform: Option<DescriptorPlatform>,
}

#[derive(Debug, Deserialize)]
struct DescriptorPlatform {
    os: String,
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ImageConfig {
    os: String,
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    token: Option<String>,
    access_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DockerInspect {
    #[serde(rename = "RepoDigests", default)]
    repo_digests: Vec<String>,
    #[serde(rename = "Os", default)]
    os: String,
    #[serde(rename = "Architecture", default)]
    architecture: String,
    #[serde(rename = "Variant", default)]
    variant: Option<String>,
}

/// The manifest's media type: the `Content-Type`, else the body's `mediaType`, else its
/// shape (OCI allows leaving `mediaType` out).
fn classify(
    ctx: &Ctx,
    content_type: Option<&str>,
    document: &ManifestDocument,
) -> Result<&'static str, RegistryError> {
    const KNOWN: [&str; 4] = [
        OCI_INDEX,
        DOCKER_MANIFEST_LIST,
        OCI_MANIFEST,
        DOCKER_MANIFEST,
    ];
    let known = |t: &str| KNOWN.iter().copied().find(|k| *k == t);
    let unsupported = |media_type: &str| RegistryError::UnsupportedManifest {
        image: ctx.image.clone(),
        registry: ctx.registry.clone(),
        media_type: printable(media_type, 120),
    };
    if document.schema_version == Some(1) {
        return Err(unsupported(
            content_type.unwrap_or("application/vnd.docker.distribution.manifest.v1+json"),
        ));
    }
    let declared = content_type
        .filter(|t| !matches!(*t, "" | "application/json" | "application/octet-stream"))
        .or(document.media_type.as_deref());
    let media_type = match declared {
        Some(t) => known(t).ok_or_else(|| unsupported(t))?,
        None if document.manifests.is_some() => OCI_INDEX,
        None if document.config.is_some() => OCI_MANIFEST,
        None => return Err(ctx.invalid("manifest", "neither an index nor a manifest".into())),
    };
    let is_index = media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST;
    if is_index && document.manifests.is_none() {
        return Err(ctx.invalid("manifest", format!("a {media_type} without manifests")));
    }
    if !is_index && document.config.is_none() {
        return Err(ctx.invalid("manifest", format!("a {media_type} without config")));
    }
    Ok(media_type)
}

/// The index entry for `wanted`: the first that accepts it, preferring no variant.
fn pick_platform<'d>(
    ctx: &Ctx,
    wanted: &Platform,
    manifests: &'d [Descriptor],
) -> Result<&'d Descriptor, RegistryError> {
    let candidates: Vec<&Descriptor> = manifests
        .iter()
        .filter(|d| {
            let nested_index = matches!(
                d.media_type.as_deref(),
                Some(OCI_INDEX) | Some(DOCKER_MANIFEST_LIST)
            );
            !nested_index
                && d.platform
                    .as_ref()
                    .is_some_and(|p| wanted.accepts(&p.os, &p.architecture, p.variant.as_deref()))
        })
        .collect();
    let chosen = candidates
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| p.variant.is_none()))
        .or(candidates.first())
        .copied();
    match chosen {
        Some(descriptor) if is_sha256_digest(&descriptor.digest) => Ok(descriptor),
        Some(descriptor) => Err(ctx.invalid(
            "index",
            format!(
                "the {wanted} entry's digest {:?} is not sha256:<hex>",
                printable(&descriptor.digest, 80)
            ),
        )),
        None => {
            let available: BTreeSet<String> = manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .filter(|p| p.os != "unknown")
                .map(|p| platform_label(&p.os, &p.architecture, p.variant.as_deref()))
                .collect();
            Err(RegistryError::NoPlatform {
                image: ctx.image.clone(),
                registry: ctx.registry.clone(),
                platform: wanted.to_string(),
                available: if available.is_empty() {
                    "no platforms".into()
                } else {
                    available.into_iter().collect::<Vec<_>>().join(", ")
                },
            })
        }
    }
}

/// Checks a `Docker-Content-Digest` header against the body (sha256 or sha512).
fn check_header_digest(
    ctx: &Ctx,
    what: &'static str,
    header: &str,
    body: &[u8],
) -> Result<(), RegistryError> {
    let actual = match header.split_once(':') {
        Some(("sha256", _)) => sha256_digest(body),
        Some(("sha512", _)) => format!("sha512:{}", hex::encode(Sha512::digest(body))),
        _ => {
            return Err(ctx.invalid(
                what,
                format!(
                    "Docker-Content-Digest {:?} is not a sha256 or sha512 digest",
                    printable(header, 100)
                ),
            ))
        }
    };
    if actual == header {
        Ok(())
    } else {
        Err(ctx.bad_digest(what, &printable(header, 140), &actual))
    }
}

// ---------------------------------------------------------------------------------------
// Authentication challenges.

/// One `WWW-Authenticate` challenge: a scheme (lower-case) and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Challenge {
    scheme: String,
    params: BTreeMap<String, String>,
}

/// Parses a `WWW-Authenticate` value (RFC 7235): `Scheme k=v, k="quoted \" v", Other ...`.
fn parse_challenges(header: &str) -> Vec<Challenge> {
    let chars: Vec<char> = header.chars().collect();
    let mut i = 0;
    let mut out: Vec<Challenge> = Vec::new();
    let is_token = |c: char| !c.is_whitespace() && !matches!(c, ',' | '=' | '"');
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let start = i;
        while i < chars.len() && is_token(chars[i]) {
            i += 1;
        }
        if start == i {
            // A stray character: skip it.
            i += 1;
            continue;
        }
        let word: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        let is_param = j < chars.len() && chars[j] == '=' && !out.is_empty();
        if !is_param {
            out.push(Challenge {
                scheme: word.to_ascii_lowercase(),
                params: BTreeMap::new(),
            });
            continue;
        }
        i = j + 1;
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        let mut value = String::new();
        if i < chars.len() && chars[i] == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                value.push(chars[i]);
                i += 1;
            }
            i += 1;
        } else {
            while i < chars.len() && chars[i] != ',' && !chars[i].is_whitespace() {
                value.push(chars[i]);
                i += 1;
            }
        }
        if let Some(challenge) = out.last_mut() {
            challenge.params.insert(word.to_ascii_lowercase(), value);
        }
    }
    out
}

fn basic_authorization(credentials: &Credentials) -> Secret {
    let pair = format!("{}:{}", credentials.username, credentials.password.expose());
    Secret::new(format!("Basic {}", STANDARD.encode(pair)))
}

// ---------------------------------------------------------------------------------------
// Small helpers.

fn client_builder(limits: &Limits) -> reqwest::ClientBuilder {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if attempt.url().scheme() != "https" && !is_loopback(&url_authority(attempt.url())) {
            attempt.error("refusing a redirect to plain HTTP on a non-loopback host")
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.request_timeout)
        .redirect(policy)
        .user_agent(concat!("outpost-airgap/", env!("CARGO_PKG_VERSION")))
}

fn setting_error(what: &'static str, value: &str, error: &reqwest::Error) -> RegistryError {
    RegistryError::InvalidSetting {
        what,
        value: value.to_owned(),
        reason: error_chain(error),
    }
}

enum ReadError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads a body of at most `limit` bytes, stopping as soon as it is over.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, ReadError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The message of an error answer: distribution's `{"errors":[{"code","message"}]}`, or
/// the start of the text. Bounded, printable, and empty when there is nothing useful.
async fn error_message(response: reqwest::Response) -> String {
    let Ok(body) = read_limited(response, MAX_ERROR_BODY_BYTES).await else {
        return String::new();
    };
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(errors) = serde_json::from_slice::<Errors>(&body) {
        if let Some(first) = errors.errors.first() {
            let text = match (first.code.is_empty(), first.message.is_empty()) {
                (false, false) => format!("{}: {}", first.code, first.message),
                (false, true) => first.code.clone(),
                _ => first.message.clone(),
            };
            return printable(&text, 200);
        }
    }
    printable(String::from_utf8_lossy(&body).trim(), 200)
}

fn suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(" ({message})")
    }
}

fn header_string(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `sha256:<hex>` of bytes.
fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn is_sha256_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

fn platform_label(os: &str, architecture: &str, variant: Option<&str>) -> String {
    match variant {
        Some(variant) if !variant.is_empty() => format!("{os}/{architecture}/{variant}"),
        _ => format!("{os}/{architecture}"),
    }
}

/// Whether `path` is a repository path: `/`-separated components of lower-case letters
/// and digits, with `.`, `_` or `-` only between them (so never `.` or `..`).
fn is_repository_path(path: &str) -> bool {
    path.split('/').all(|component| {
        let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        component.starts_with(alphanumeric)
            && component.ends_with(alphanumeric)
            && component
                .chars()
                .all(|c| alphanumeric(c) || "._-".contains(c))
    })
}

/// Whether a name's first component is a registry host, as Docker decides.
fn is_registry_host(host: &str) -> bool {
    !host.is_empty()
        && (host.contains('.') || host.contains(':') || host == "localhost")
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
}

/// Whether `host[:port]` is a loopback address or `localhost`.
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => host,
        }
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `host[:port]` of a URL, as registry hosts are written.
fn url_authority(url: &Url) -> String {
    // `host_str` keeps the brackets of an IPv6 address, as `host:port` needs.
    let host = url.host_str().unwrap_or_default().to_owned();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// A Docker `RepoDigests` name (`busybox`, `outpost-samples/web`, `127.0.0.1:5101/a/b`)
/// as `registry/repository`; `None` when it does not parse.
fn normalise_docker_repo(name: &str) -> Option<String> {
    ImageRef::parse(name).ok().map(|reference| reference.name())
}

/// What goes after `/manifests/`: the digest when there is one, else the tag.
fn manifest_reference(image: &ImageRef) -> &str {
    image.digest().or(image.tag()).unwrap_or("latest")
}

/// An error and its causes in one line (`a: b: c`), repeated causes dropped.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    printable(&parts.join(": "), 400)
}

/// Whether a transport error comes from TLS (certificate, handshake).
fn is_tls_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
            {
                return true;
            }
        }
        current = e.source();
    }
    let text = error_chain(error).to_ascii_lowercase();
    text.contains("certificate") || text.contains("tls handshake")
}

/// Text from the other side, made safe to print: control characters replaced, bounded.
fn printable(text: &str, max_chars: usize) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    if text.chars().count() > max_chars {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> ImageRef {
        ImageRef::parse(text).unwrap()
    }

    #[test]
    fn mirror_rules_rewrite_by_the_longest_whole_component_prefix() {
        let rules: Vec<MirrorRule> = [
            "docker.io=127.0.0.1:5101",
            "quay.io/acme=registry.corp/acme-mirror",
            "quay.io=127.0.0.1:5102",
        ]
        .iter()
        .map(|r| r.parse().unwrap())
        .collect();
        for (image, registry, repository) in [
            (
                "docker.io/outpost-samples/web:1",
                "127.0.0.1:5101",
                "outpost-samples/web",
            ),
            ("quay.io/acme/api:1", "registry.corp", "acme-mirror/api"),
            ("quay.io/acmex/api:1", "127.0.0.1:5102", "acmex/api"),
            ("ghcr.io/x/y:1", "ghcr.io", "x/y"),
        ] {
            assert_eq!(
                rewrite(&rules, &name(image)),
                (registry.to_owned(), repository.to_owned()),
                "{image}"
            );
        }
        for bad in [
            "docker.io",
            "=x.io",
            "docker.io=",
            "https://docker.io=x.io",
            "nginx=x.io",
        ] {
            assert!(bad.parse::<MirrorRule>().is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn challenges_parse_like_registries_send_them() {
        let parsed = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
        );
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].scheme, "bearer");
        assert_eq!(parsed[0].params["realm"], "https://auth.docker.io/token");
        assert_eq!(parsed[0].params["service"], "registry.docker.io");
        assert_eq!(parsed[0].params["scope"], "repository:library/nginx:pull");

        let parsed = parse_challenges(r#"Basic realm="basic \"realm\"", Bearer realm=x"#);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].scheme, "basic");
        assert_eq!(parsed[0].params["realm"], "basic \"realm\"");
        assert_eq!(parsed[1].scheme, "bearer");
        assert_eq!(parsed[1].params["realm"], "x");

        assert!(parse_challenges("").is_empty());
        assert_eq!(parse_challenges("Basic")[0].scheme, "basic");
    }

    #[test]
    fn platforms_parse_and_match() {
        let amd64: Platform = "linux/amd64".parse().unwrap();
        assert_eq!(amd64, Platform::default());
        assert!(amd64.accepts("linux", "amd64", None));
        assert!(amd64.accepts("linux", "amd64", Some("v2")));
        assert!(!amd64.accepts("linux", "arm64", None));
        let v7: Platform = "linux/arm/v7".parse().unwrap();
        assert_eq!(v7.to_string(), "linux/arm/v7");
        assert!(v7.accepts("linux", "arm", Some("v7")));
        assert!(!v7.accepts("linux", "arm", Some("v6")));
        assert!(!v7.accepts("linux", "arm", None));
        for bad in ["linux", "linux/", "Linux/amd64", "a/b/c/d"] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_hosts() {
        for (host, loopback) in [
            ("127.0.0.1:5101", true),
            ("127.1.2.3", true),
            ("localhost:5000", true),
            ("[::1]:5000", true),
            ("registry.corp:5000", false),
            ("10.0.0.1:5000", false),
            ("docker.io", false),
            ("localhost.evil.com", false),
        ] {
            assert_eq!(is_loopback(host), loopback, "{host}");
        }
    }

    #[test]
    fn docker_repo_digest_names_normalise() {
        for (name, normalised) in [
            ("busybox", "docker.io/library/busybox"),
            ("outpost-samples/web", "docker.io/outpost-samples/web"),
            (
                "127.0.0.1:5101/outpost-samples/web",
                "127.0.0.1:5101/outpost-samples/web",
            ),
            ("quay.io/a/b", "quay.io/a/b"),
            ("localhost/a", "localhost/a"),
        ] {
            assert_eq!(
                normalise_docker_repo(name).as_deref(),
                Some(normalised),
                "{name}"
            );
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let credentials = Credentials {
            username: "vendor".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{credentials:?}").contains("hunter2"));
        assert!(!format!("{:?}", basic_authorization(&credentials)).contains("Basic"));
    }

    #[test]
    fn index_entries_are_picked_by_platform() {
        let ctx = Ctx {
            image: "docker.io/library/x:1".into(),
            registry: "docker.io".into(),
            limits: Limits::default(),
        };
        let entry = |arch: &str, variant: Option<&str>, fill: char| Descriptor {
            media_type: Some(OCI_MANIFEST.into()),
            digest: format!("sha256:{}", fill.to_string().repeat(64)),
            size: 1,
            platform: Some(DescriptorPlatform {
                os: "linux".into(),
                architecture: arch.into(),
                variant: variant.map(Into::into),
            }),
        };
        let index = vec![
            entry("arm64", Some("v8"), 'a'),
            entry("amd64", Some("v3"), 'b'),
            entry("amd64", None, 'c'),
        ];
        let pick =
            |p: &str| pick_platform(&ctx, &p.parse().unwrap(), &index).map(|d| d.digest.clone());
        assert!(pick("linux/amd64").unwrap().ends_with('c'));
        assert!(pick("linux/amd64/v3").unwrap().ends_with('b'));
        assert!(pick("linux/arm64").unwrap().ends_with('a'));
        match pick("linux/s390x") {
            Err(RegistryError::NoPlatform { available, .. }) => {
                assert_eq!(available, "linux/amd64, linux/amd64/v3, linux/arm64/v8")
            }
            other => panic!("{other:?}"),
        }
    }
}
