//! Host facts the agent reports to the console (`Hello`, `Facts`): name, OS, kernel,
//! CPUs, memory, the disks Docker and the agent write to, the engine, addresses, and the
//! ports already taken. The text formats (`/etc/os-release`, `/proc/meminfo`,
//! `/proc/net/{tcp,tcp6,udp,udp6}`) are parsed by pure functions; [`collect`] reads the
//! host and never fails: a fact it cannot read is left empty.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::engine::EngineInfo;
use crate::protocol::{DiskFacts, Facts, ListeningPort};

/// Most listening sockets reported (the lowest ports are kept), so that a host with very
/// many cannot push the facts message over the size limit.
pub const MAX_LISTENING_PORTS: usize = 4096;

/// A `/proc/net` socket table: which protocol and address family its lines are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketTable {
    Tcp,
    Tcp6,
    Udp,
    Udp6,
}

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
        listening_ports: host_listening_ports(),
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

/// The socket holding a port on one line of a `/proc/net` table, if the line is one: a TCP
/// socket in LISTEN, or a UDP socket that is bound but not connected (a connected one is a
/// client on a port the kernel picked). Header lines and other sockets give `None`.
///
/// The kernel prints each 32-bit word of an address as a number in this host's byte order,
/// so the words are turned back into bytes in native order: the parse is exact on the host
/// that wrote the text.
pub fn parse_socket_line(line: &str, table: SocketTable) -> Option<ListeningPort> {
    // `sl local_address rem_address st ...`, e.g. `0: 0100007F:13ED 00000000:0000 0A ...`.
    let mut fields = line.split_whitespace();
    let local = fields.nth(1)?;
    let state = u8::from_str_radix(fields.nth(1)?, 16).ok()?;
    let (address, port) = local.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok().filter(|&p| p != 0)?;
    let (protocol, wanted) = match table {
        SocketTable::Tcp | SocketTable::Tcp6 => ("tcp", TCP_LISTEN),
        SocketTable::Udp | SocketTable::Udp6 => ("udp", UDP_UNCONNECTED),
    };
    if state != wanted {
        return None;
    }
    let address = match table {
        SocketTable::Tcp | SocketTable::Udp => {
            let mut bytes = [0; 4];
            native_words(address, &mut bytes)?;
            IpAddr::V4(Ipv4Addr::from(bytes))
        }
        SocketTable::Tcp6 | SocketTable::Udp6 => {
            let mut bytes = [0; 16];
            native_words(address, &mut bytes)?;
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
    };
    Some(ListeningPort {
        port,
        protocol: protocol.to_string(),
        address: address.to_string(),
    })
}

/// Every socket holding a port in one `/proc/net` table's text (see [`parse_socket_line`]).
pub fn parse_socket_table(text: &str, table: SocketTable) -> Vec<ListeningPort> {
    text.lines()
        .filter_map(|line| parse_socket_line(line, table))
        .collect()
}

/// Sorted (by port, protocol, address), each once, at most [`MAX_LISTENING_PORTS`] (the
/// lowest). Memory stays bounded however many there are.
pub fn bound_listening_ports(ports: impl IntoIterator<Item = ListeningPort>) -> Vec<ListeningPort> {
    let mut kept = BTreeSet::new();
    for port in ports {
        kept.insert(port);
        if kept.len() > MAX_LISTENING_PORTS {
            kept.pop_last();
        }
    }
    kept.into_iter().collect()
}

/// `TCP_LISTEN` and `TCP_CLOSE` from the kernel's `tcp_states.h`; an unconnected UDP
/// socket shows as the latter.
const TCP_LISTEN: u8 = 0x0A;
const UDP_UNCONNECTED: u8 = 0x07;

/// Fills `bytes` from eight-digit hex words, each a `u32` in native byte order; `None`
/// unless `hex` is exactly that many words.
fn native_words(hex: &str, bytes: &mut [u8]) -> Option<()> {
    if !hex.is_ascii() || hex.len() != bytes.len() * 2 {
        return None;
    }
    for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
        let word = u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).ok()?;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    Some(())
}

/// The ports held on this host, from the four `/proc/net` tables; a table that cannot be
/// read (no IPv6, say) adds nothing. Read line by line: on a busy host the tables also list
/// every connection.
pub fn host_listening_ports() -> Vec<ListeningPort> {
    let tables = [
        ("/proc/net/tcp", SocketTable::Tcp),
        ("/proc/net/tcp6", SocketTable::Tcp6),
        ("/proc/net/udp", SocketTable::Udp),
        ("/proc/net/udp6", SocketTable::Udp6),
    ];
    let ports = tables.into_iter().flat_map(|(path, table)| {
        let lines = match std::fs::File::open(path) {
            Ok(file) => Some(std::io::BufReader::new(file).lines()),
            Err(e) => {
                tracing::debug!(path, error = %e, "no socket table");
                None
            }
        };
        lines
            .into_iter()
            .flatten()
            .map_while(Result::ok)
            .filter_map(move |line| parse_socket_line(&line, table))
    });
    bound_listening_ports(ports)
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

    fn port(port: u16, protocol: &str, address: &str) -> ListeningPort {
        ListeningPort {
            port,
            protocol: protocol.into(),
            address: address.into(),
        }
    }

    // Samples as a little-endian host writes them (the kernel prints address words in host
    // byte order); a big-endian host writes other text for the same sockets.
    #[cfg(target_endian = "little")]
    #[test]
    fn socket_tables() {
        let check = |text: &str, table: SocketTable, expected: &[ListeningPort]| {
            assert_eq!(parse_socket_table(text, table), expected, "{text}")
        };
        check(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:13ED 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 157797 1 000000009e403798 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1062 1 00000000dda4e336 100 0 0 10 0
   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 1063 1 00000000dda4e337 20 4 30 10 -1
   3: 0F02000A:0016 0202000A:D431 06 00000000:00000000 03:00000D39 00000000     0        0 0 3 0000000000000000
",
            SocketTable::Tcp,
            &[port(5101, "tcp", "127.0.0.1"), port(8080, "tcp", "0.0.0.0")],
        );
        check(
            "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2055 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2056 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2057 1 0000000000000000 100 0 0 10 0
   3: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2058 1 0000000000000000 20 4 30 10 -1
",
            SocketTable::Tcp6,
            &[
                port(22, "tcp", "::"),
                port(631, "tcp", "::1"),
                port(8080, "tcp", "::ffff:127.0.0.1"),
            ],
        );
        check(
            "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 1710 2 0000000000000000 0
  456: 0F02000A:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1711 2 0000000000000000 0
  789: 0F02000A:A1B2 08080808:0035 01 00000000:00000000 00:00000000 00000000     0        0 1712 2 0000000000000000 0
",
            SocketTable::Udp,
            &[port(53, "udp", "127.0.0.53"), port(68, "udp", "10.0.2.15")],
        );
        check(
            "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3001 2 0000000000000000 0
",
            SocketTable::Udp6,
            &[port(5353, "udp", "::")],
        );
        // The state decides, not the table's name: a UDP line in LISTEN state is not one.
        check(
            "   0: 00000000:1F90 00000000:0000 0A 0 0 0 0 0 0\n",
            SocketTable::Udp,
            &[],
        );
    }

    #[test]
    fn socket_lines_that_are_not_sockets() {
        let check = |line: &str, table: SocketTable| {
            assert_eq!(parse_socket_line(line, table), None, "{line:?}")
        };
        check("", SocketTable::Tcp);
        check("garbage", SocketTable::Tcp);
        check("  sl  local_address rem_address   st", SocketTable::Tcp);
        // Port 0: bound to nothing yet.
        check("0: 00000000:0000 00000000:0000 0A", SocketTable::Tcp);
        // Addresses of the wrong length or not hex.
        check("0: 0000000:1F90 00000000:0000 0A", SocketTable::Tcp);
        check("0: 00000000:1F90 00000000:0000 0A", SocketTable::Tcp6);
        check("0: 0000000G:1F90 00000000:0000 0A", SocketTable::Tcp);
        check("0: 00000000\u{e9}:1F90 00000000:0000 0A", SocketTable::Tcp);
        check("0: 00000000:1F90Z 00000000:0000 0A", SocketTable::Tcp);
        check("0: 00000000:1F90 00000000:0000 XX", SocketTable::Tcp);
        check("0: 00000000:1F90 00000000:0000", SocketTable::Tcp);
        check("0: 000000001F90 00000000:0000 0A", SocketTable::Tcp);
    }

    #[test]
    fn listening_ports_are_sorted_unique_and_bounded() {
        let ports = [
            port(8080, "tcp", "0.0.0.0"),
            port(22, "tcp", "::"),
            port(8080, "tcp", "0.0.0.0"),
            port(53, "udp", "127.0.0.53"),
            port(53, "tcp", "127.0.0.53"),
        ];
        assert_eq!(
            bound_listening_ports(ports),
            [
                port(22, "tcp", "::"),
                port(53, "tcp", "127.0.0.53"),
                port(53, "udp", "127.0.0.53"),
                port(8080, "tcp", "0.0.0.0"),
            ]
        );
        // Many, in falling order: the lowest ports are the ones kept.
        let many = (1..=u16::MAX).rev().map(|p| port(p, "tcp", "0.0.0.0"));
        let kept = bound_listening_ports(many);
        assert_eq!(kept.len(), MAX_LISTENING_PORTS);
        assert_eq!(kept.first().map(|p| p.port), Some(1));
        assert_eq!(kept.last().map(|p| p.port), Some(4096));
    }

    #[test]
    fn this_hosts_listeners_are_reported() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let ports = host_listening_ports();
        let tcp_port = port(tcp.local_addr().unwrap().port(), "tcp", "127.0.0.1");
        let udp_port = port(udp.local_addr().unwrap().port(), "udp", "127.0.0.1");
        assert!(ports.contains(&tcp_port), "{tcp_port:?} not in {ports:?}");
        assert!(ports.contains(&udp_port), "{udp_port:?} not in {ports:?}");
        // A connected client socket holds no port worth reporting.
        let client = std::net::TcpStream::connect(tcp.local_addr().unwrap()).unwrap();
        let client_port = client.local_addr().unwrap().port();
        assert!(!host_listening_ports()
            .iter()
            .any(|p| p.port == client_port && p.protocol == "tcp"));
    }

    #[test]
    fn this_host_has_facts() {
        let data = tempfile::tempdir().unwrap();
        let engine = EngineInfo {
            version: "20.10.24".into(),
            api_version: "1.41".into(),
            storage_driver: "overlay2".into(),
            root_dir: PathBuf::from("/"),
            https_proxy: String::new(),
            no_proxy: String::new(),
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
