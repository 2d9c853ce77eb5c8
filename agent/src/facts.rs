//! Host facts the agent reports to the console (`Hello`, `Facts`): name, OS, kernel,
//! CPUs, memory, the disks Docker and the agent write to, the engine, and addresses.
//! The text formats (`/etc/os-release`, `/proc/meminfo`) are parsed by pure functions;
//! [`collect`] reads the host and never fails: a fact it cannot read is left empty.

use std::net::IpAddr;
use std::path::Path;

use crate::engine::EngineInfo;
use crate::protocol::{DiskFacts, Facts};

/// Reads this host's facts. `engine` is what the engine reported (`None` if it did not
/// answer); its root dir is the `docker` disk, `data_dir` the `data` disk. Blocking:
/// call it from `spawn_blocking` in async code.
pub fn collect(data_dir: &Path, engine: Option<&EngineInfo>) -> Facts {
    let os = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|text| parse_os_release(&text))
        .unwrap_or_default();
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| parse_meminfo_total(&text))
        .unwrap_or(0);
    let mut disks = Vec::new();
    if let Some(engine) = engine.filter(|e| !e.root_dir.as_os_str().is_empty()) {
        disks.extend(disk("docker", &engine.root_dir));
    }
    disks.extend(disk("data", data_dir));
    Facts {
        hostname: nix::unistd::gethostname()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
        os,
        kernel: nix::sys::utsname::uname()
            .map(|uts| uts.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        cpus: std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
            .unwrap_or(0),
        memory_bytes,
        disks,
        docker: engine.map(EngineInfo::docker_facts),
        addresses: addresses(),
    }
}

/// The OS's display name from os-release text: `PRETTY_NAME`, else `NAME`, else
/// `Linux` (the os-release default).
pub fn parse_os_release(text: &str) -> String {
    let value = |key: &str| {
        text.lines().find_map(|line| {
            let (k, v) = line.trim().split_once('=')?;
            (k == key).then(|| unquote(v))
        })
    };
    value("PRETTY_NAME")
        .or_else(|| value("NAME"))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "Linux".to_string())
}

/// `MemTotal` from `/proc/meminfo` text, in bytes.
pub fn parse_meminfo_total(text: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix("MemTotal:")?;
        let mut parts = rest.split_whitespace();
        let amount: u64 = parts.next()?.parse().ok()?;
        let scale = match parts.next() {
            Some("kB") => 1024,
            None => 1,
            Some(_) => return None,
        };
        amount.checked_mul(scale)
    })
}

/// An os-release value: shell-style quotes removed, backslash escapes in double quotes
/// resolved.
fn unquote(value: &str) -> String {
    let value = value.trim();
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_string();
    }
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

fn disk(role: &str, path: &Path) -> Option<DiskFacts> {
    match nix::sys::statvfs::statvfs(path) {
        Ok(stat) => {
            let fragment = to_u64(stat.fragment_size());
            Some(DiskFacts {
                role: role.to_string(),
                path: path.display().to_string(),
                // What an unprivileged writer can still use, as `df` reports it.
                free_bytes: to_u64(stat.blocks_available()).saturating_mul(fragment),
                total_bytes: to_u64(stat.blocks()).saturating_mul(fragment),
            })
        }
        Err(e) => {
            tracing::debug!(role, path = %path.display(), error = %e, "no disk facts");
            None
        }
    }
}

/// Non-loopback interface addresses, sorted; IPv6 link-local ones are left out (they
/// mean nothing without their interface).
fn addresses() -> Vec<String> {
    let mut addresses: Vec<String> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|iface| !iface.is_loopback())
        .map(|iface| iface.ip())
        .filter(|ip| !matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80))
        .map(|ip| ip.to_string())
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

fn to_u64<T: TryInto<u64>>(value: T) -> u64 {
    value.try_into().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn os_release_names() {
        let check = |text: &str, expected: &str| assert_eq!(parse_os_release(text), expected);
        check(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n",
            "Debian GNU/Linux 12 (bookworm)",
        );
        check("NAME=Fedora\nVERSION=\"39\"\n", "Fedora");
        check("PRETTY_NAME='Ubuntu 24.04 LTS'\n", "Ubuntu 24.04 LTS");
        check(
            "PRETTY_NAME=\"Say \\\"hi\\\" \\\\ OS\"\n",
            "Say \"hi\" \\ OS",
        );
        check("# a comment\nID=alpine\n", "Linux");
        check("PRETTY_NAME=\"\"\n", "Linux");
        check("", "Linux");
        check("  PRETTY_NAME=Arch  \n", "Arch");
    }

    #[test]
    fn meminfo_total() {
        let check = |text: &str, expected: Option<u64>| {
            assert_eq!(parse_meminfo_total(text), expected, "{text:?}")
        };
        check(
            "MemTotal:       16318412 kB\nMemFree:         1049876 kB\n",
            Some(16318412 * 1024),
        );
        check("MemFree: 1 kB\nMemTotal: 2 kB\n", Some(2048));
        check("MemTotal: 7\n", Some(7));
        check("MemTotal: lots kB\n", None);
        check("MemTotal: 1 MB\n", None);
        check("MemAvailable: 5 kB\n", None);
        check("", None);
    }

    #[test]
    fn this_host_has_facts() {
        let data = tempfile::tempdir().unwrap();
        let engine = EngineInfo {
            version: "20.10.24".into(),
            api_version: "1.41".into(),
            storage_driver: "overlay2".into(),
            root_dir: PathBuf::from("/"),
        };
        let facts = collect(data.path(), Some(&engine));
        assert!(!facts.hostname.is_empty());
        assert!(!facts.os.is_empty());
        assert!(!facts.kernel.is_empty());
        assert!(facts.cpus >= 1);
        assert!(facts.memory_bytes > 0);
        let roles: Vec<&str> = facts.disks.iter().map(|d| d.role.as_str()).collect();
        assert_eq!(roles, ["docker", "data"]);
        for disk in &facts.disks {
            assert!(
                disk.total_bytes > 0 && disk.free_bytes <= disk.total_bytes,
                "{disk:?}"
            );
        }
        assert_eq!(facts.docker.unwrap().api_version, "1.41");
        assert!(facts
            .addresses
            .iter()
            .all(|a| a != "127.0.0.1" && a != "::1"));

        let without_engine = collect(Path::new("/nonexistent/outpost"), None);
        assert!(without_engine.disks.is_empty());
        assert!(without_engine.docker.is_none());
    }
}
