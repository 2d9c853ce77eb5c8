//! `outpost-airgap release create`: checks an app folder, pins every image it runs to a
//! manifest digest (from a registry, or from the local Docker engine), and signs the release.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};

use super::{now, printable};
use crate::app::{App, ImageRef};
use crate::document::{seal, Document, SCHEMA};
use crate::keys::SigningKey;
use crate::registry::{
    Credentials, MirrorRule, Platform, RegistryError, Resolved, Resolver, ResolverConfig, Secret,
    Source,
};
use crate::release::Release;
use crate::vendor::write_atomic;

/// The largest password file, CA file and notes file read.
const MAX_PASSWORD_FILE_BYTES: u64 = 4096;
const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;
const MAX_NOTES_FILE_BYTES: u64 = 256 * 1024;

/// Arguments of `release create`. Holds no secret: passwords are named by file or variable.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The app folder (compose.yaml + outpost.yaml).
    #[arg(long, value_name = "DIR")]
    pub app: PathBuf,
    /// The channel the release is for (e.g. stable).
    #[arg(long, value_name = "CHANNEL")]
    pub channel: String,
    /// The release's sequence: higher is newer, one per release of the app.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub sequence: u64,
    /// The vendor's private key.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Where to write the signed release (replaced atomically if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Resolve images through a mirror: FROM is a registry (docker.io=127.0.0.1:5101) or a
    /// registry and path prefix (quay.io/acme=registry.corp/acme). The release keeps the
    /// original names. Repeat for more; the longest matching FROM wins.
    #[arg(long = "registry-mirror", value_name = "FROM=TO")]
    pub registry_mirrors: Vec<MirrorRule>,
    /// Credentials for a registry, HOST=USER:PASSWORD_FILE or HOST=USER:env:VARIABLE. HOST is
    /// the registry contacted, after the mirror rules (127.0.0.1:5103, docker.io).
    #[arg(long = "registry-auth", value_name = "HOST=USER:SOURCE", value_parser = parse_auth)]
    pub registry_auth: Vec<RegistryAuth>,
    /// A PEM CA file for a registry, HOST=FILE: that host is then trusted through this CA
    /// only, and reached over HTTPS even on loopback. HOST is after the mirror rules.
    #[arg(long = "registry-ca", value_name = "HOST=FILE", value_parser = parse_ca)]
    pub registry_ca: Vec<(String, PathBuf)>,
    /// Where digests come from: the registry's manifests, or the local Docker engine's
    /// RepoDigests (for images built and pushed on this machine).
    #[arg(long, value_enum, default_value_t = ResolveFrom::Registry)]
    pub resolve: ResolveFrom,
    /// The platform picked from multi-platform images, os/arch[/variant].
    #[arg(long, value_name = "PLATFORM", default_value = "linux/amd64")]
    pub platform: Platform,
    /// Mark the release required: updates cannot skip it.
    #[arg(long)]
    pub required: bool,
    /// Release notes (markdown) from this file instead of outpost.yaml's `notes`.
    #[arg(long, value_name = "FILE")]
    pub notes_file: Option<PathBuf>,
}

/// Where `release create` takes digests from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ResolveFrom {
    /// The registry (through the mirror rules), by the distribution API.
    Registry,
    /// `docker image inspect` RepoDigests on this machine.
    Docker,
}

/// `--registry-auth`: a user and where the password is, never the password itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    pub host: String,
    pub username: String,
    pub password: PasswordSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    File(PathBuf),
    Env(String),
}

/// Creates a signed release file.
pub fn create(args: CreateArgs) -> anyhow::Result<()> {
    // Everything local first, so a typo fails before any network request.
    let key = SigningKey::read(&args.key)?;
    let app = App::load(&args.app)
        .map_err(|errors| anyhow!("{} is not a valid app:\n{errors}", args.app.display()))?;
    let notes = match &args.notes_file {
        Some(path) => read_text(path, MAX_NOTES_FILE_BYTES, "notes file")?,
        None => app.outpost.notes.clone(),
    };
    let resolver = Arc::new(Resolver::new(resolver_config(&args)?)?);
    let source = match args.resolve {
        ResolveFrom::Registry => Source::Registry,
        ResolveFrom::Docker => Source::Docker,
    };

    let images = app.images();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let results = runtime.block_on(resolve_all(&resolver, &images, source));
    let mut pinned = Vec::new();
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(resolved) => pinned.push(resolved),
            Err(error) => failures.push(with_hint(&error)),
        }
    }
    if !failures.is_empty() {
        bail!(
            "cannot pin {} of {} images:\n  {}",
            failures.len(),
            images.len(),
            failures.join("\n  ")
        );
    }

    let created_at = now();
    let release = Release {
        schema: SCHEMA,
        app_id: app.outpost.app.clone(),
        channel: args.channel.clone(),
        sequence: args.sequence,
        version: app.outpost.version.clone(),
        notes,
        required: args.required,
        created_at,
        files: app.files.clone(),
        images: pinned.iter().map(Resolved::pin).collect(),
    };
    release
        .check(created_at)
        .context("the release would not verify")?;
    let envelope = seal(&release, &key);
    write_atomic(&args.out, &envelope.to_bytes(), 0o644)?;

    print_summary(&release, &pinned, &key, &args.out);
    Ok(())
}

/// Resolves every image at once; results in the images' order.
async fn resolve_all(
    resolver: &Arc<Resolver>,
    images: &[ImageRef],
    source: Source,
) -> Vec<Result<Resolved, RegistryError>> {
    let tasks: Vec<_> = images
        .iter()
        .map(|image| {
            let resolver = resolver.clone();
            let image = image.clone();
            tokio::spawn(async move { resolver.resolve(&image, source).await })
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("a resolve task does not panic"));
    }
    results
}

/// The resolver's settings from the flags, reading password and CA files.
fn resolver_config(args: &CreateArgs) -> anyhow::Result<ResolverConfig> {
    let mut credentials = BTreeMap::new();
    for auth in &args.registry_auth {
        let password = match &auth.password {
            PasswordSource::File(path) => {
                let text = read_text(path, MAX_PASSWORD_FILE_BYTES, "password file")?;
                text.strip_suffix('\n')
                    .map(|t| t.strip_suffix('\r').unwrap_or(t))
                    .unwrap_or(&text)
                    .to_owned()
            }
            PasswordSource::Env(name) => std::env::var(name).map_err(|_| {
                anyhow!(
                    "--registry-auth {}: the environment variable {name} is not set",
                    auth.host
                )
            })?,
        };
        if password.is_empty() {
            bail!("--registry-auth {}: the password is empty", auth.host);
        }
        let previous = credentials.insert(
            auth.host.clone(),
            Credentials {
                username: auth.username.clone(),
                password: Secret::new(password),
            },
        );
        if previous.is_some() {
            bail!("--registry-auth {} is given twice", auth.host);
        }
    }
    let mut ca_pems = BTreeMap::new();
    for (host, path) in &args.registry_ca {
        let pem = read_text(path, MAX_CA_FILE_BYTES, "CA file")?;
        if ca_pems.insert(host.clone(), pem.into_bytes()).is_some() {
            bail!("--registry-ca {host} is given twice");
        }
    }
    Ok(ResolverConfig {
        mirrors: args.registry_mirrors.clone(),
        credentials,
        ca_pems,
        platform: args.platform.clone(),
        ..ResolverConfig::default()
    })
}

/// The error, with the flag that would fix it when there is one.
fn with_hint(error: &RegistryError) -> String {
    let hint = match error {
        RegistryError::Unauthorized { detail, .. } if detail.contains("none") => {
            " (give credentials with --registry-auth HOST=USER:PASSWORD_FILE)"
        }
        RegistryError::Tls { .. } => " (is --registry-ca HOST=FILE the registry's CA?)",
        RegistryError::Status { detail, .. } if detail.contains("configure its CA") => {
            " (--registry-ca HOST=FILE)"
        }
        RegistryError::NotPushed { .. } => " (or use --resolve registry)",
        _ => "",
    };
    format!("{error}{hint}")
}

fn print_summary(release: &Release, pinned: &[Resolved], key: &SigningKey, out: &Path) {
    println!(
        "release {} {} (sequence {}, channel {}{}), signed by key {}",
        printable(&release.app_id),
        printable(&release.version),
        release.sequence,
        printable(&release.channel),
        if release.required { ", required" } else { "" },
        key.public().keyid()
    );
    let width = pinned.iter().map(|p| p.reference.len()).max().unwrap_or(0);
    for resolved in pinned {
        println!(
            "  {:width$}  {}  {}  (from {})",
            resolved.reference, resolved.digest, resolved.platform, resolved.resolved_from
        );
    }
    println!("wrote {}", out.display());
}

/// Reads a small text file, refusing one over `limit` bytes.
fn read_text(path: &Path, limit: u64, what: &str) -> anyhow::Result<String> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!("the {what} {} is larger than {limit} bytes", path.display());
    }
    String::from_utf8(bytes).map_err(|_| anyhow!("the {what} {} is not UTF-8", path.display()))
}

/// `HOST=USER:PASSWORD_FILE` or `HOST=USER:env:VARIABLE`.
fn parse_auth(text: &str) -> Result<RegistryAuth, String> {
    let usage = "expected HOST=USER:PASSWORD_FILE or HOST=USER:env:VARIABLE";
    let (host, rest) = text.split_once('=').ok_or(usage)?;
    let (username, source) = rest.split_once(':').ok_or(usage)?;
    if host.is_empty() || username.is_empty() || source.is_empty() {
        return Err(usage.into());
    }
    let password = match source.strip_prefix("env:") {
        Some("") => return Err(usage.into()),
        Some(name) => PasswordSource::Env(name.to_owned()),
        None => PasswordSource::File(PathBuf::from(source)),
    };
    Ok(RegistryAuth {
        host: host.to_owned(),
        username: username.to_owned(),
        password,
    })
}

/// `HOST=FILE`.
fn parse_ca(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((host, file)) if !host.is_empty() && !file.is_empty() => {
            Ok((host.to_owned(), PathBuf::from(file)))
        }
        _ => Err("expected HOST=FILE".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_flags_name_a_password_source_never_a_password() {
        assert_eq!(
            parse_auth("127.0.0.1:5103=vendor:/run/secrets/pw").unwrap(),
            RegistryAuth {
                host: "127.0.0.1:5103".into(),
                username: "vendor".into(),
                password: PasswordSource::File("/run/secrets/pw".into()),
            }
        );
        assert_eq!(
            parse_auth("docker.io=robot:env:HUB_TOKEN")
                .unwrap()
                .password,
            PasswordSource::Env("HUB_TOKEN".into())
        );
        for bad in [
            "docker.io",
            "docker.io=robot",
            "=u:f",
            "h=:f",
            "h=u:",
            "h=u:env:",
        ] {
            assert!(parse_auth(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ca_flags() {
        assert_eq!(
            parse_ca("127.0.0.1:5103=ca.crt").unwrap(),
            ("127.0.0.1:5103".to_owned(), PathBuf::from("ca.crt"))
        );
        assert!(parse_ca("ca.crt").is_err());
        assert!(parse_ca("h=").is_err());
    }

    #[test]
    fn a_password_file_loses_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "pa ss\n").unwrap();
        let args = CreateArgs {
            app: "app".into(),
            channel: "stable".into(),
            sequence: 1,
            key: "k".into(),
            out: "o".into(),
            registry_mirrors: vec![],
            registry_auth: vec![parse_auth(&format!("h:1=u:{}", path.display())).unwrap()],
            registry_ca: vec![],
            resolve: ResolveFrom::Registry,
            platform: Platform::default(),
            required: false,
            notes_file: None,
        };
        let config = resolver_config(&args).unwrap();
        assert_eq!(config.credentials["h:1"].password.expose(), "pa ss");
        assert!(!format!("{config:?}").contains("pa ss"));
    }
}
