//! Docker image references: the grammar of `distribution/reference` and Docker's normalisation
//! (`nginx` → `docker.io/library/nginx:latest`), as docs/FORMAT.md describes them.
//!
//! Grammar: `[registry[:port]/]path[:tag][@sha256:<64 hex>]`. Where this deliberately differs from
//! Docker, it is stricter, following docs/FORMAT.md: the first component is a registry only when it
//! has a `.` or `:` or is `localhost` (Docker also takes an upper-case first component as a host;
//! here `UPPER/x` is refused as an upper-case path); a lone `localhost:5000` or
//! `registry.example.com` names a registry without a repository and is refused (Docker reads it
//! as a Docker Hub library image with a tag); the only digest algorithm is `sha256`; and the legacy
//! Hub host `registry-1.docker.io`, like `index.docker.io`, normalises to `docker.io`.

use std::fmt;
use std::str::FromStr;

/// Docker Hub as references name it.
pub const DOCKER_HUB: &str = "docker.io";
/// The host actually contacted for Docker Hub.
pub const DOCKER_HUB_HOST: &str = "registry-1.docker.io";
/// Longest `registry/repository` name, as Docker counts it (after normalisation).
pub const MAX_NAME_LEN: usize = 255;

/// A parsed, normalised image reference. Built only by [`ImageRef::parse`], so every value is valid.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a reference was refused; each variant names the reference as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("empty image reference")]
    Empty,
    #[error("invalid image reference {0:?}: contains whitespace or control characters")]
    Whitespace(String),
    #[error("invalid image reference {0:?}: a 64-character hex string is an image id, not a repository name")]
    HexName(String),
    #[error("invalid image reference {reference:?}: digest {digest:?} is not sha256: and 64 lower-case hex digits")]
    InvalidDigest { reference: String, digest: String },
    #[error("invalid image reference {reference:?}: tag {tag:?} must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'")]
    InvalidTag { reference: String, tag: String },
    #[error("invalid image reference {reference:?}: registry {registry:?} is not a host name or [IPv6] address with an optional :port")]
    InvalidRegistry { reference: String, registry: String },
    #[error("invalid image reference {reference:?}: repository name must be lowercase")]
    Uppercase { reference: String },
    #[error("invalid image reference {reference:?}: repository path {path:?} must be components of lower-case letters and digits (separated by '.', '_', '__' or '-') joined by '/'")]
    InvalidPath { reference: String, path: String },
    #[error("invalid image reference {0:?}: names a registry but no repository")]
    NoRepository(String),
    #[error("invalid image reference {reference:?}: the name is {len} characters, more than {MAX_NAME_LEN}")]
    NameTooLong { reference: String, len: usize },
}

impl ImageRef {
    /// Parses and normalises a reference as Docker does: the default registry is `docker.io`, a
    /// one-component Docker Hub path gets `library/`, and no tag and no digest means `:latest`.
    pub fn parse(reference: &str) -> Result<ImageRef, ReferenceError> {
        let owned = || reference.to_string();
        if reference.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if reference
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ReferenceError::Whitespace(owned()));
        }
        if reference.len() == 64 && is_lower_hex(reference) {
            return Err(ReferenceError::HexName(owned()));
        }

        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(|()| ReferenceError::InvalidDigest {
                    reference: owned(),
                    digest: digest.to_string(),
                })?;
                (rest, Some(digest.to_string()))
            }
            None => (reference, None),
        };

        // A `:` after the last `/` starts the tag; one before it belongs to `host:port`.
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            if !is_tag(tag) {
                return Err(ReferenceError::InvalidTag {
                    reference: owned(),
                    tag: tag.to_string(),
                });
            }
        }

        let (registry, path) = match name.split_once('/') {
            Some((first, remainder)) if first.contains(['.', ':']) || first == "localhost" => {
                (first, remainder)
            }
            _ => {
                if !name.contains('/') && (name == "localhost" || name.contains('.')) {
                    return Err(ReferenceError::NoRepository(owned()));
                }
                (DOCKER_HUB, name)
            }
        };
        let registry = match registry {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB,
            other => other,
        };
        if !is_registry(registry) {
            return Err(ReferenceError::InvalidRegistry {
                reference: owned(),
                registry: registry.to_string(),
            });
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase { reference: owned() });
        }
        if !path.split('/').all(is_path_component) {
            return Err(ReferenceError::InvalidPath {
                reference: owned(),
                path: path.to_string(),
            });
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        let len = registry.len() + 1 + repository.len();
        if len > MAX_NAME_LEN {
            return Err(ReferenceError::NameTooLong {
                reference: owned(),
                len,
            });
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (tag, _) => tag.map(str::to_string),
        };
        Ok(ImageRef {
            registry: registry.to_string(),
            repository,
            tag,
            digest,
        })
    }

    /// The registry as the reference names it (`docker.io`, `quay.io`, `host:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host (and port) to contact: `registry-1.docker.io` for Docker Hub.
    pub fn registry_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_HOST
        } else {
            &self.registry
        }
    }

    /// The repository path inside the registry (`library/nginx`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag; `latest` when the reference had neither tag nor digest.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`sha256:<64 hex>`), if the reference is pinned.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same reference pinned to `digest` (the tag is kept, as Docker keeps `name:tag@digest`).
    pub fn with_digest(&self, digest: &str) -> Result<ImageRef, ReferenceError> {
        check_digest(digest).map_err(|()| ReferenceError::InvalidDigest {
            reference: self.to_string(),
            digest: digest.to_string(),
        })?;
        Ok(ImageRef {
            digest: Some(digest.to_string()),
            ..self.clone()
        })
    }

    /// The short form Docker shows (`nginx:latest`, `org/app:1`, `quay.io/org/img:1`).
    pub fn familiar(&self) -> String {
        let mut out = if self.registry == DOCKER_HUB {
            match self.repository.strip_prefix("library/") {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.repository.clone(),
            }
        } else {
            self.name()
        };
        self.push_suffix(&mut out);
        out
    }

    fn push_suffix(&self, out: &mut String) {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
    }
}

impl fmt::Display for ImageRef {
    /// The normalised full form: `docker.io/library/nginx:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = self.name();
        self.push_suffix(&mut out);
        f.write_str(&out)
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn check_digest(digest: &str) -> Result<(), ()> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && is_lower_hex(hex) => Ok(()),
        _ => Err(()),
    }
}

/// `[\w][\w.-]{0,127}`
fn is_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes[1..]
            .iter()
            .all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn is_path_component(component: &str) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    // Between alphanumeric runs: exactly one of `.`, `_`, `__`, or any number of `-`.
    bytes
        .split(alnum)
        .filter(|sep| !sep.is_empty())
        .all(|sep| matches!(sep, b"." | b"_" | b"__") || sep.iter().all(|&b| b == b'-'))
}

/// `host[:port]`, where host is a domain name or a bracketed IPv6 address.
fn is_registry(registry: &str) -> bool {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return false;
        };
        if inside.is_empty() || !inside.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("", port),
                None => return false,
            },
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (host, port),
            None => (registry, "1"),
        }
    };
    let port_ok = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    let host_ok = host.is_empty() && registry.starts_with('[')
        || !host.is_empty() && host.split('.').all(is_domain_component);
    port_ok && host_ok
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn is_domain_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// `expected` is the normalised form, or `error: <fragment of the message>`.
    #[track_caller]
    fn check(input: &str, expected: &str) {
        let actual = match ImageRef::parse(input) {
            Ok(r) => r.to_string(),
            Err(e) => format!("error: {e}"),
        };
        if let Some(fragment) = expected.strip_prefix("error: ") {
            assert!(
                actual.starts_with("error: ") && actual.contains(fragment),
                "{input:?}: expected an error containing {fragment:?}, got {actual:?}"
            );
        } else {
            assert_eq!(actual, expected, "input {input:?}");
        }
    }

    #[test]
    fn normalisation() {
        check("nginx", "docker.io/library/nginx:latest");
        check("nginx:1.25", "docker.io/library/nginx:1.25");
        check("library/nginx", "docker.io/library/nginx:latest");
        check("org/app", "docker.io/org/app:latest");
        check("org/team/app:v2", "docker.io/org/team/app:v2");
        check("docker.io/nginx", "docker.io/library/nginx:latest");
        check("docker.io/library/nginx:1", "docker.io/library/nginx:1");
        check("index.docker.io/nginx", "docker.io/library/nginx:latest");
        check("registry-1.docker.io/org/app:1", "docker.io/org/app:1");
        check("quay.io/org/img", "quay.io/org/img:latest");
        check("quay.io/img", "quay.io/img:latest");
        check("localhost/x", "localhost/x:latest");
        check("localhost:5000/x:dev", "localhost:5000/x:dev");
        check("host:5000/a/b:tag", "host:5000/a/b:tag");
        check("myhost:5000", "docker.io/library/myhost:5000");
        check("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest");
        check("[::1]:5000/app:1", "[::1]:5000/app:1");
        check("[fe80::1]/app", "[fe80::1]/app:latest");
        check(
            "Registry.Example.com/app",
            "Registry.Example.com/app:latest",
        );
        check(
            "my-registry.example.com:443/team/app",
            "my-registry.example.com:443/team/app:latest",
        );
    }

    #[test]
    fn path_components() {
        check("a_b__c---d/e.f-g", "docker.io/a_b__c---d/e.f-g:latest");
        check("a0/1b", "docker.io/a0/1b:latest");
        check("org/a..b", "error: repository path");
        check("a___b", "error: repository path");
        check("org/a..b", "error: repository path");
        check("-a", "error: repository path");
        check("a-", "error: repository path");
        check("_a/b", "error: repository path");
        check("a/b.", "error: repository path");
    }

    #[test]
    fn tags_and_digests() {
        check(
            &format!("nginx@{D}"),
            &format!("docker.io/library/nginx@{D}"),
        );
        check(
            &format!("quay.io/org/img@{D}"),
            &format!("quay.io/org/img@{D}"),
        );
        check(
            &format!("nginx:1.25@{D}"),
            &format!("docker.io/library/nginx:1.25@{D}"),
        );
        check(&format!("host:5000/a@{D}"), &format!("host:5000/a@{D}"));
        check(
            "nginx:_under.score-1",
            "docker.io/library/nginx:_under.score-1",
        );
        check("nginx:UPPER", "docker.io/library/nginx:UPPER");
        check(
            &format!("nginx:{}", "t".repeat(128)),
            &format!("docker.io/library/nginx:{}", "t".repeat(128)),
        );
        check(&format!("nginx:{}", "t".repeat(129)), "error: tag");
        check("nginx:.hidden", "error: tag");
        check("nginx:-dash", "error: tag");
        check("nginx:", "error: tag");
        check("nginx:a+b", "error: tag");
        check("nginx@sha256:short", "error: digest");
        check(
            "nginx@sha256:ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
            "error: digest",
        );
        check(
            "nginx@md5:0123456789abcdef0123456789abcdef",
            "error: digest",
        );
        check(&format!("nginx@{D}@{D}"), "error: digest");
        check("nginx@", "error: digest");
    }

    #[test]
    fn invalid_forms() {
        check("", "error: empty image reference");
        check("UPPER/x", "error: must be lowercase");
        check("org/App", "error: must be lowercase");
        check("Nginx", "error: must be lowercase");
        check("a:b:c", "error: repository path");
        check(
            "localhost:5000",
            "error: names a registry but no repository",
        );
        check(
            "registry.example.com",
            "error: names a registry but no repository",
        );
        check(
            "registry.example.com:5000",
            "error: names a registry but no repository",
        );
        check("localhost", "error: names a registry but no repository");
        check("quay.io/", "error: repository path");
        check("org/app/", "error: repository path");
        check("org//app", "error: repository path");
        check("/app", "error: repository path");
        check(" nginx", "error: whitespace");
        check("nginx ", "error: whitespace");
        check("ng inx", "error: whitespace");
        check("nginx\n", "error: whitespace");
        check("host:port/app", "error: registry");
        check("-bad.example.com/app", "error: registry");
        check("bad-.example.com/app", "error: registry");
        check("a..example.com/app", "error: registry");
        check("[::1/app", "error: registry");
        check("[]:5000/app", "error: registry");
        check("host:/app", "error: registry");
        check(&"a".repeat(64).replace('a', "f"), "error: image id");
        check(
            &format!("quay.io/{}", "a".repeat(248)),
            "error: more than 255",
        );
        check(&format!("{}:1", "a".repeat(300)), "error: more than 255");
    }

    #[test]
    fn name_length_counts_the_normalised_name() {
        // docker.io/library/ + 237 = 255: the longest Docker Hub library name.
        let ok = "a".repeat(237);
        check(&ok, &format!("docker.io/library/{ok}:latest"));
        check(&"a".repeat(238), "error: more than 255");
        check(
            &format!("quay.io/{}", "a".repeat(247)),
            &format!("quay.io/{}:latest", "a".repeat(247)),
        );
    }

    #[test]
    fn accessors() {
        let r = ImageRef::parse("nginx:1.25").expect("valid");
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.registry_host(), "registry-1.docker.io");
        assert_eq!(r.repository(), "library/nginx");
        assert_eq!(r.tag(), Some("1.25"));
        assert_eq!(r.digest(), None);
        assert_eq!(r.familiar(), "nginx:1.25");
        let pinned = r.with_digest(D).expect("digest");
        assert_eq!(
            pinned.to_string(),
            format!("docker.io/library/nginx:1.25@{D}")
        );
        assert!(r.with_digest("sha256:nope").is_err());

        let q = ImageRef::parse("host:5000/a/b").expect("valid");
        assert_eq!(q.registry_host(), "host:5000");
        assert_eq!(q.familiar(), "host:5000/a/b:latest");
        assert_eq!(
            ImageRef::parse("org/app").expect("valid").familiar(),
            "org/app:latest"
        );
        assert_eq!(
            "nginx".parse::<ImageRef>(),
            ImageRef::parse("docker.io/library/nginx:latest")
        );
    }
}
