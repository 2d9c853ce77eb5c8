//! How figures read in preflight messages: sizes in binary units, seconds, plurals.

use outpost_airgap::app::Protocol;

/// A size in the largest binary unit it reaches, with at most one decimal, rounded down so
/// that a figure just under a threshold never reads as the threshold: `1.5 GiB`, `512 MiB`.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 6] = [
        ("EiB", 1 << 60),
        ("PiB", 1 << 50),
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, scale) in UNITS {
        if bytes >= scale {
            let tenths = u128::from(bytes) * 10 / u128::from(scale);
            return match tenths % 10 {
                0 => format!("{} {unit}", tenths / 10),
                d => format!("{}.{d} {unit}", tenths / 10),
            };
        }
    }
    plural(bytes, "byte")
}

/// Milliseconds as seconds, exact, without trailing zeros: `2.5 s`, `45 s`, `0.001 s`.
pub(crate) fn seconds(ms: u64) -> String {
    let (whole, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        return format!("{whole} s");
    }
    let frac = format!("{frac:03}");
    format!("{whole}.{} s", frac.trim_end_matches('0'))
}

/// `1 CPU`, `2 CPUs`.
pub(crate) fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `tcp` or `udp`, as `/proc/net` and the agent's facts spell them.
pub(crate) fn protocol(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}
