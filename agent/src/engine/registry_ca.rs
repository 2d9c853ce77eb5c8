//! Trusting a registry's CA: Docker reads `/etc/docker/certs.d/<host:port>/ca.crt` on
//! each pull, so trusting the internal registry (`HOST:9874`) is writing that file. The
//! host becomes a directory name, so it is checked strictly first; the file is replaced
//! atomically, so a pull never reads half a certificate.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use x509_parser::pem::Pem;

use super::EngineError;

/// Where Docker looks for per-registry certificates.
pub const DEFAULT_CERTS_DIR: &str = "/etc/docker/certs.d";
/// The largest CA bundle accepted.
pub const MAX_CA_PEM_BYTES: usize = 64 * 1024;

/// Checks `host` is `name:port`, `ipv4:port` or `[ipv6]:port` with a port in 1..=65535.
pub fn validate_registry_host(host: &str) -> Result<(), EngineError> {
    let refuse = |reason: &str| EngineError::InvalidRegistryHost {
        host: host.to_string(),
        reason: reason.to_string(),
    };
    let (name, port) = host
        .rsplit_once(':')
        .ok_or_else(|| refuse("expected host:port"))?;
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse("the port must be a number"));
    }
    match port.parse::<u32>() {
        Ok(1..=65535) => {}
        _ => return Err(refuse("the port must be between 1 and 65535")),
    }
    if let Some(v6) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return v6
            .parse::<Ipv6Addr>()
            .map(drop)
            .map_err(|_| refuse("not an IPv6 address"));
    }
    if name.parse::<Ipv4Addr>().is_ok() {
        return Ok(());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(refuse("not a host name, IPv4 address or [IPv6] address"));
    }
    Ok(())
}

/// Validates and writes `<certs_dir>/<host>/ca.crt` (0644) atomically; returns its path.
pub(crate) fn write_registry_ca(
    certs_dir: &Path,
    host: &str,
    ca_pem: &str,
) -> Result<PathBuf, EngineError> {
    validate_registry_host(host)?;
    validate_ca_pem(host, ca_pem)?;
    let dir = certs_dir.join(host);
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EngineError::Io { path, source }
    };
    fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    let target = dir.join("ca.crt");
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let temp = dir.join(format!(
        ".ca.crt.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&temp)?;
        file.write_all(ca_pem.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temp, &target)?;
        File::open(&dir)?.sync_all()
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&temp);
        return Err(io_error(&target)(source));
    }
    Ok(target)
}

/// One or more PEM certificates that parse as X.509, and nothing else.
pub(crate) fn validate_ca_pem(host: &str, ca_pem: &str) -> Result<(), EngineError> {
    let refuse = |reason: String| EngineError::InvalidCa {
        host: host.to_string(),
        reason,
    };
    if ca_pem.len() > MAX_CA_PEM_BYTES {
        return Err(refuse(format!(
            "{} bytes is over the {MAX_CA_PEM_BYTES}-byte limit",
            ca_pem.len()
        )));
    }
    let mut count = 0;
    for pem in Pem::iter_from_buffer(ca_pem.as_bytes()) {
        let pem = pem.map_err(|e| refuse(format!("not PEM: {e}")))?;
        if pem.label != "CERTIFICATE" {
            return Err(refuse(format!(
                "a {:?} block where a CERTIFICATE was expected",
                pem.label
            )));
        }
        pem.parse_x509()
            .map_err(|e| refuse(format!("certificate {} does not parse: {e}", count + 1)))?;
        count += 1;
    }
    if count == 0 {
        return Err(refuse("no PEM certificate found".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_hosts() {
        for good in [
            "10.0.0.5:9874",
            "console.internal:9874",
            "a:1",
            "[::1]:9874",
            "outpost-1.example.com:65535",
        ] {
            assert!(validate_registry_host(good).is_ok(), "{good}");
        }
        for bad in [
            "console.internal",
            "console.internal:",
            "console.internal:0",
            "console.internal:65536",
            "console.internal:+80",
            ":9874",
            "../etc:9874",
            "a/b:9874",
            "-a.example:9874",
            "a..b:9874",
            "[::1:9874",
            "[zz]:9874",
            "host name:9874",
        ] {
            assert!(
                matches!(
                    validate_registry_host(bad),
                    Err(EngineError::InvalidRegistryHost { .. })
                ),
                "{bad}"
            );
        }
    }

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["registry.test".into()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn the_ca_is_written_atomically_into_the_host_dir() {
        let dir = tempfile::tempdir().unwrap();
        let pem = ca_pem();
        let path = write_registry_ca(dir.path(), "10.0.0.5:9874", &pem).unwrap();
        assert_eq!(path, dir.path().join("10.0.0.5:9874/ca.crt"));
        assert_eq!(fs::read_to_string(&path).unwrap(), pem);
        // Replacing it leaves exactly the new file and no temporary behind.
        let newer = ca_pem();
        write_registry_ca(dir.path(), "10.0.0.5:9874", &newer).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), newer);
        let names: Vec<_> = fs::read_dir(dir.path().join("10.0.0.5:9874"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["ca.crt"]);
    }

    #[test]
    fn bad_input_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let pem = ca_pem();
        let cases: [(&str, String, &str); 5] = [
            ("../../etc:9874", pem.clone(), "invalid registry host"),
            ("h:9874", String::new(), "no PEM certificate"),
            ("h:9874", "hello".into(), "no PEM certificate"),
            (
                "h:9874",
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(),
                "PRIVATE KEY",
            ),
            ("h:9874", "x".repeat(MAX_CA_PEM_BYTES + 1), "limit"),
        ];
        for (host, pem, want) in cases {
            let err = write_registry_ca(dir.path(), host, &pem).unwrap_err();
            assert!(err.to_string().contains(want), "{err} lacks {want}");
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
