//! Console configuration: a pure function of its sources — flags, `OUTPOST_*` environment
//! variables and an optional TOML file, in that order of precedence. Every bad value is
//! reported in one pass, before anything binds a port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::auth::SessionPolicy;

/// Where the data dir is unless told otherwise.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/outpost";
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8800";
pub const DEFAULT_CLUSTER_LISTEN: &str = "0.0.0.0:9879";

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// The resolved configuration of `outpost-console serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Address and port of the agent channel (mutual TLS).
    pub cluster_listen: SocketAddr,
    /// The host name or address printed in the console URL and setup link.
    pub advertise_host: Option<String>,
    pub log_format: LogFormat,
    /// A tracing filter (`info`, `outpost_console=debug,warn`, ...).
    pub log_level: String,
    pub session: SessionPolicy,
    /// A PEM file of CA certificates trusted for the api host, besides the system's.
    pub api_host_ca: Option<PathBuf>,
    /// The outbound log keeps entries this many days.
    pub outbound_log_days: u32,
    /// `HTTPS_PROXY` / `NO_PROXY` of the console's environment, used for the api host
    /// while the console setting names no proxy.
    pub environment_proxy: Option<crate::upstream::ProxyConfig>,
}

/// One setting as given, before validation: a value per source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSettings {
    pub values: BTreeMap<&'static str, String>,
}

/// Every setting: its key (file and flag name) and its environment variable.
pub const SETTINGS: &[(&str, &str)] = &[
    ("data_dir", "OUTPOST_DATA_DIR"),
    ("listen", "OUTPOST_LISTEN"),
    ("cluster_listen", "OUTPOST_CLUSTER_LISTEN"),
    ("advertise_host", "OUTPOST_ADVERTISE_HOST"),
    ("log_format", "OUTPOST_LOG_FORMAT"),
    ("log_level", "OUTPOST_LOG_LEVEL"),
    ("session_idle_timeout", "OUTPOST_SESSION_IDLE_TIMEOUT"),
    ("session_max_age", "OUTPOST_SESSION_MAX_AGE"),
    ("api_host_ca", "OUTPOST_API_HOST_CA"),
    ("outbound_log_days", "OUTPOST_OUTBOUND_LOG_DAYS"),
];

/// Environment variables that are ours but are not settings of `serve`.
const OTHER_KNOWN_ENV: &[&str] = &["OUTPOST_CONFIG"];

/// Everything wrong with the configuration, all at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the configuration has {} problem(s):\n  - {}", .0.len(), .0.join("\n  - "))]
pub struct ConfigErrors(pub Vec<String>);

/// The sources, already read from the outside world.
#[derive(Debug, Clone, Default)]
pub struct Sources<'a> {
    /// Values given as flags, by setting key.
    pub flags: RawSettings,
    /// The process environment.
    pub env: Vec<(String, String)>,
    /// The config file's path and text, if one was named.
    pub file: Option<(&'a Path, &'a str)>,
}

/// A value and where it came from, for error messages.
struct Given {
    value: String,
    origin: String,
}

impl ServeConfig {
    /// Resolves the configuration. Returns warnings (e.g. unknown `OUTPOST_*` variables)
    /// with it, or every error found.
    pub fn resolve(sources: &Sources<'_>) -> Result<(ServeConfig, Vec<String>), ConfigErrors> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();

        let mut from_file: BTreeMap<String, Given> = BTreeMap::new();
        if let Some((path, text)) = sources.file {
            match text.parse::<toml::Table>() {
                Ok(table) => {
                    for (key, value) in table {
                        if !SETTINGS.iter().any(|(k, _)| *k == key) {
                            errors.push(format!(
                                "{}: unknown setting `{key}` (known: {})",
                                path.display(),
                                SETTINGS
                                    .iter()
                                    .map(|(k, _)| *k)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ));
                            continue;
                        }
                        let value = match value {
                            toml::Value::String(s) => s,
                            toml::Value::Integer(i) => i.to_string(),
                            other => {
                                errors.push(format!(
                                    "{}: `{key}` must be a string, not {}",
                                    path.display(),
                                    other.type_str()
                                ));
                                continue;
                            }
                        };
                        let origin = format!("{} `{key}`", path.display());
                        from_file.insert(key, Given { value, origin });
                    }
                }
                Err(e) => errors.push(format!("{}: not valid TOML: {e}", path.display())),
            }
        }

        for (name, _) in &sources.env {
            if name.starts_with("OUTPOST_")
                && !SETTINGS.iter().any(|(_, env)| env == name)
                && !OTHER_KNOWN_ENV.contains(&name.as_str())
            {
                warnings.push(format!("ignoring unknown environment variable {name}"));
            }
        }

        let lookup = |key: &'static str| -> Option<Given> {
            if let Some(value) = sources.flags.values.get(key) {
                return Some(Given {
                    value: value.clone(),
                    origin: format!("--{}", key.replace('_', "-")),
                });
            }
            let env_name = SETTINGS.iter().find(|(k, _)| *k == key).map(|(_, e)| *e)?;
            if let Some((_, value)) = sources.env.iter().find(|(name, _)| name == env_name) {
                return Some(Given {
                    value: value.clone(),
                    origin: env_name.to_owned(),
                });
            }
            from_file.get(key).map(|g| Given {
                value: g.value.clone(),
                origin: g.origin.clone(),
            })
        };

        let mut setting =
            |key: &'static str, default: &str, parse: &dyn Fn(&str) -> Result<(), String>| {
                let given = lookup(key);
                let (value, origin) = match given {
                    Some(g) => (g.value, g.origin),
                    None => (default.to_owned(), format!("default {key}")),
                };
                if let Err(why) = parse(&value) {
                    errors.push(format!("{origin}: {why} (got {value:?})"));
                }
                value
            };

        let data_dir = setting("data_dir", DEFAULT_DATA_DIR, &|v| {
            if v.is_empty() {
                Err("must not be empty".into())
            } else {
                Ok(())
            }
        });
        let listen = setting("listen", DEFAULT_LISTEN, &|v| {
            v.parse::<SocketAddr>()
                .map(drop)
                .map_err(|_| "must be an address and port, like 0.0.0.0:8800".into())
        });
        let cluster_listen = setting("cluster_listen", DEFAULT_CLUSTER_LISTEN, &|v| {
            v.parse::<SocketAddr>()
                .map(drop)
                .map_err(|_| "must be an address and port, like 0.0.0.0:9879".into())
        });
        let advertise_host = setting("advertise_host", "", &|v| {
            if v.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            {
                Ok(())
            } else {
                Err("must be a host name or an IP address".into())
            }
        });
        let log_format = setting("log_format", "human", &|v| match v {
            "human" | "json" => Ok(()),
            _ => Err("must be `human` or `json`".into()),
        });
        let log_level = setting("log_level", "info", &|v| {
            tracing_subscriber::EnvFilter::try_new(v)
                .map(drop)
                .map_err(|e| format!("not a log filter: {e}"))
        });
        let idle = setting("session_idle_timeout", "30m", &|v| {
            parse_duration(v).map(drop)
        });
        let max_age = setting("session_max_age", "12h", &|v| parse_duration(v).map(drop));
        // The file itself is read when the console starts (before it binds any port).
        let api_host_ca = setting("api_host_ca", "", &|_| Ok(()));
        let outbound_log_days = setting(
            "outbound_log_days",
            &crate::upstream::DEFAULT_OUTBOUND_LOG_DAYS.to_string(),
            &|v| parse_days(v).map(drop),
        );

        if let (Ok(idle), Ok(max_age)) = (parse_duration(&idle), parse_duration(&max_age)) {
            if idle > max_age {
                errors.push(format!(
                    "session_idle_timeout ({idle:?}) must not exceed session_max_age ({max_age:?})"
                ));
            }
        }

        let environment_proxy = crate::upstream::proxy::from_environment(|name| {
            sources
                .env
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(|e| {
            errors.push(e);
            None
        });

        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        let config = ServeConfig {
            data_dir: PathBuf::from(data_dir),
            listen: listen.parse().expect("validated above"),
            cluster_listen: cluster_listen.parse().expect("validated above"),
            advertise_host: (!advertise_host.is_empty()).then_some(advertise_host),
            log_format: if log_format == "json" {
                LogFormat::Json
            } else {
                LogFormat::Human
            },
            log_level,
            session: SessionPolicy {
                idle_timeout: parse_duration(&idle).expect("validated above"),
                max_age: parse_duration(&max_age).expect("validated above"),
            },
            api_host_ca: (!api_host_ca.is_empty()).then(|| PathBuf::from(api_host_ca)),
            outbound_log_days: parse_days(&outbound_log_days).expect("validated above"),
            environment_proxy,
        };
        Ok((config, warnings))
    }
}

/// Parses `90s`, `30m`, `12h`, `7d` (a whole number and one unit), at least one second.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| "needs a unit: s, m, h or d (like 30m)".to_owned())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| "must start with a whole number, like 30m".to_owned())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err("the unit must be s, m, h or d".into()),
    };
    let secs = number
        .checked_mul(unit_secs)
        .filter(|s| *s > 0 && *s <= 365 * 86_400)
        .ok_or_else(|| "must be between 1s and 365d".to_owned())?;
    Ok(Duration::from_secs(secs))
}

/// A whole number of days for the outbound log's retention: 1 to 3650.
fn parse_days(text: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .ok()
        .filter(|days| (1..=3650).contains(days))
        .ok_or_else(|| "must be a whole number of days from 1 to 3650".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(pairs: &[(&'static str, &str)]) -> RawSettings {
        RawSettings {
            values: pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let (config, warnings) = ServeConfig::resolve(&Sources::default()).unwrap();
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(config.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(config.log_format, LogFormat::Human);
        assert_eq!(config.session, SessionPolicy::default());
        assert_eq!(config.api_host_ca, None);
        assert_eq!(config.outbound_log_days, 30);
        assert!(warnings.is_empty());
    }

    #[test]
    fn flags_beat_env_which_beats_the_file() {
        let path = Path::new("/etc/outpost.toml");
        let file = "listen = \"127.0.0.1:1\"\ndata_dir = \"/from/file\"\nlog_format = \"json\"\n";
        let sources = Sources {
            flags: flags(&[("listen", "127.0.0.1:3")]),
            env: env(&[
                ("OUTPOST_LISTEN", "127.0.0.1:2"),
                ("OUTPOST_DATA_DIR", "/from/env"),
            ]),
            file: Some((path, file)),
        };
        let (config, _) = ServeConfig::resolve(&sources).unwrap();
        assert_eq!(config.listen, "127.0.0.1:3".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("/from/env"));
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn every_bad_value_is_reported_in_one_pass() {
        let path = Path::new("/etc/outpost.toml");
        let sources = Sources {
            flags: flags(&[("listen", "nowhere"), ("log_format", "xml")]),
            env: env(&[("OUTPOST_SESSION_MAX_AGE", "forever")]),
            file: Some((path, "colour = \"blue\"\nsession_idle_timeout = \"0s\"\n")),
        };
        let errors = ServeConfig::resolve(&sources).unwrap_err().0;
        let joined = errors.join("\n");
        for expected in [
            "--listen",
            "--log-format",
            "OUTPOST_SESSION_MAX_AGE",
            "unknown setting `colour`",
            "session_idle_timeout",
        ] {
            assert!(
                joined.contains(expected),
                "{expected} missing from:\n{joined}"
            );
        }
        assert_eq!(errors.len(), 5, "{joined}");
    }

    #[test]
    fn the_api_host_ca_and_the_outbound_log_retention() {
        let path = Path::new("/etc/outpost.toml");
        let sources = Sources {
            env: env(&[("OUTPOST_API_HOST_CA", "/etc/outpost/vendor-ca.pem")]),
            file: Some((path, "outbound_log_days = 7\n")),
            ..Sources::default()
        };
        let (config, _) = ServeConfig::resolve(&sources).unwrap();
        assert_eq!(
            config.api_host_ca,
            Some(PathBuf::from("/etc/outpost/vendor-ca.pem"))
        );
        assert_eq!(config.outbound_log_days, 7);

        let sources = Sources {
            flags: flags(&[("outbound_log_days", "0")]),
            env: env(&[("OUTPOST_OUTBOUND_LOG_DAYS", "forever")]),
            ..Sources::default()
        };
        let errors = ServeConfig::resolve(&sources).unwrap_err().0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("--outbound-log-days"), "{errors:?}");
    }

    #[test]
    fn unknown_outpost_variables_warn_but_do_not_fail() {
        let sources = Sources {
            env: env(&[
                ("OUTPOST_LISTN", "x"),
                ("OUTPOST_CONFIG", "/x"),
                ("HOME", "/root"),
            ]),
            ..Sources::default()
        };
        let (_, warnings) = ServeConfig::resolve(&sources).unwrap();
        assert_eq!(
            warnings,
            ["ignoring unknown environment variable OUTPOST_LISTN"]
        );
    }

    #[test]
    fn a_malformed_file_is_an_error_not_a_panic() {
        let path = Path::new("/etc/outpost.toml");
        let sources = Sources {
            file: Some((path, "listen = [")),
            ..Sources::default()
        };
        let errors = ServeConfig::resolve(&sources).unwrap_err().0;
        assert!(errors[0].contains("not valid TOML"), "{errors:?}");
    }

    #[test]
    fn durations() {
        for (text, secs) in [("90s", 90), ("30m", 1800), ("12h", 43_200), ("7d", 604_800)] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        for bad in ["", "30", "m", "0s", "1w", "-1h", "1.5h", "400d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
