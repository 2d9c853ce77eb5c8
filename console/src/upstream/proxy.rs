//! The proxy outbound requests go through: the console setting when the admin set one,
//! else `HTTPS_PROXY` / `NO_PROXY` from the console's environment. One matcher decides
//! both where a request goes and what the outbound log says about it.

use std::net::IpAddr;

use reqwest::Url;

use super::mask;

/// The longest proxy URL or `NO_PROXY` list accepted.
const MAX_SETTING_BYTES: usize = 4096;

/// Where the proxy configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxySource {
    /// The console setting (`PUT /api/v1/settings/outbound`).
    Setting,
    /// An environment variable of the console process (its name).
    Environment(&'static str),
}

impl ProxySource {
    pub fn describe(&self) -> String {
        match self {
            ProxySource::Setting => "the console setting".into(),
            ProxySource::Environment(name) => format!("the environment ({name})"),
        }
    }
}

/// An HTTP CONNECT proxy and the hosts that bypass it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    pub url: Url,
    pub bypass: NoProxy,
    pub source: ProxySource,
}

impl ProxyConfig {
    /// Parses a proxy URL (`http://[user:password@]host:port`) and a `NO_PROXY` list.
    pub fn parse(url: &str, no_proxy: &str, source: ProxySource) -> Result<ProxyConfig, String> {
        Ok(ProxyConfig {
            url: parse_proxy_url(url)?,
            bypass: no_proxy.parse()?,
            source,
        })
    }

    /// The proxy a request to `url` goes through, or `None` when `NO_PROXY` exempts it.
    pub fn for_url(&self, url: &Url) -> Option<&Url> {
        (!self.bypass.matches(url)).then_some(&self.url)
    }

    /// The proxy URL as logs and answers show it: a password masked.
    pub fn shown(&self) -> String {
        mask::url(&self.url)
    }
}

/// The proxy from the environment of the console process, as curl and Docker read it:
/// `HTTPS_PROXY` (or `https_proxy`) and `NO_PROXY` (or `no_proxy`); `env` looks a
/// variable up.
pub fn from_environment(
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<ProxyConfig>, String> {
    let read = |upper: &'static str, lower: &'static str| {
        env(upper)
            .map(|v| (upper, v))
            .or_else(|| env(lower).map(|v| (lower, v)))
            .filter(|(_, v)| !v.trim().is_empty())
    };
    let Some((name, url)) = read("HTTPS_PROXY", "https_proxy") else {
        return Ok(None);
    };
    let no_proxy = read("NO_PROXY", "no_proxy")
        .map(|(_, v)| v)
        .unwrap_or_default();
    ProxyConfig::parse(&url, &no_proxy, ProxySource::Environment(name))
        .map(Some)
        .map_err(|e| format!("{name}: {e}"))
}

/// A proxy URL as the console accepts it: `http://` or `https://`, a host, a port, no
/// path. A URL without a scheme (`proxy.corp:3128`) is taken as `http://`.
pub fn parse_proxy_url(text: &str) -> Result<Url, String> {
    let text = text.trim();
    if text.len() > MAX_SETTING_BYTES {
        return Err(format!(
            "the proxy URL is longer than {MAX_SETTING_BYTES} bytes"
        ));
    }
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    // The text is not echoed: it may hold a password.
    let url = Url::parse(&with_scheme)
        .map_err(|e| format!("not a proxy URL such as http://proxy.corp:3128 ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the proxy URL must be http:// or https://, not {}://",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the proxy URL names no host".into());
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("the proxy URL is a host and port only, with no path".into());
    }
    Ok(url)
}

/// The hosts that bypass the proxy, as `NO_PROXY` lists them: `*` (all), host names
/// (which also match their subdomains; a leading `.` or `*.` is the same), IP addresses,
/// CIDR ranges (`10.0.0.0/8`), each optionally with `:port`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    entries: Vec<Entry>,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Domain { name: String, port: Option<u16> },
    Address { ip: IpAddr, port: Option<u16> },
    Range { network: IpAddr, prefix: u8 },
}

impl std::str::FromStr for NoProxy {
    type Err = String;

    fn from_str(text: &str) -> Result<NoProxy, String> {
        if text.len() > MAX_SETTING_BYTES {
            return Err(format!("NO_PROXY is longer than {MAX_SETTING_BYTES} bytes"));
        }
        let mut list = NoProxy {
            text: text.trim().to_owned(),
            ..NoProxy::default()
        };
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item == "*" {
                list.all = true;
                continue;
            }
            list.entries.push(parse_entry(item)?);
        }
        Ok(list)
    }
}

impl NoProxy {
    /// The list as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a request to `url` bypasses the proxy.
    pub fn matches(&self, url: &Url) -> bool {
        if self.all {
            return true;
        }
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_or_known_default();
        let ip: Option<IpAddr> = host.parse().ok();
        let host = host.to_ascii_lowercase();
        self.entries.iter().any(|entry| match entry {
            Entry::Domain { name, port: want } => {
                want.is_none_or(|p| Some(p) == port)
                    && (host == *name || host.ends_with(&format!(".{name}")))
            }
            Entry::Address {
                ip: want,
                port: want_port,
            } => want_port.is_none_or(|p| Some(p) == port) && ip == Some(*want),
            Entry::Range { network, prefix } => {
                ip.is_some_and(|ip| in_range(ip, *network, *prefix))
            }
        })
    }
}

fn parse_entry(item: &str) -> Result<Entry, String> {
    let bad = || format!("NO_PROXY entry {item:?} is not a host, an IP address or a CIDR range");
    if let Some((network, prefix)) = item.split_once('/') {
        let network: IpAddr = network.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        if prefix > bits {
            return Err(bad());
        }
        return Ok(Entry::Range { network, prefix });
    }
    let unbracketed = item.trim_start_matches('[');
    let bare = unbracketed.strip_suffix(']').unwrap_or(item);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(Entry::Address { ip, port: None });
    }
    if let Some((address, port)) = unbracketed.rsplit_once("]:") {
        let ip = address.parse().map_err(|_| bad())?;
        return Ok(Entry::Address {
            ip,
            port: Some(port.parse().map_err(|_| bad())?),
        });
    }
    let (name, port) = match item.rsplit_once(':') {
        Some((name, port)) => (name, Some(port.parse::<u16>().map_err(|_| bad())?)),
        None => (item, None),
    };
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(Entry::Address { ip, port });
    }
    let name = name
        .trim_start_matches('*')
        .trim_start_matches('.')
        .to_ascii_lowercase();
    let plain = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !plain {
        return Err(bad());
    }
    Ok(Entry::Domain { name, port })
}

fn in_range(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn no_proxy_matches_hosts_domains_addresses_and_ranges() {
        let list: NoProxy = " localhost, .corp.example ,*.internal, 10.0.0.0/8, 192.168.1.5, \
                              api.example.com:8443, [::1], fd00::/8"
            .parse()
            .unwrap();
        for bypassed in [
            "https://localhost/",
            "https://a.corp.example/",
            "https://corp.example/",
            "https://x.y.internal/",
            "https://10.1.2.3/",
            "https://192.168.1.5:9000/",
            "https://api.example.com:8443/",
            "https://[::1]:8800/",
            "https://[fd00::1]/",
        ] {
            assert!(list.matches(&url(bypassed)), "{bypassed}");
        }
        for proxied in [
            "https://example.com/",
            "https://notcorp.example/",
            "https://api.example.com/",
            "https://11.0.0.1/",
            "https://192.168.1.6/",
            "https://[::2]/",
        ] {
            assert!(!list.matches(&url(proxied)), "{proxied}");
        }
        let all: NoProxy = "*".parse().unwrap();
        assert!(all.matches(&url("https://anything.example/")));
        let none: NoProxy = "".parse().unwrap();
        assert!(!none.matches(&url("https://localhost/")));
        for bad in ["a b", "10.0.0.0/33", "host:port", "1.2.3.4/x", "[::1]:x"] {
            assert!(bad.parse::<NoProxy>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn proxy_urls_are_checked_and_shown_without_their_password() {
        let config = ProxyConfig::parse(
            "http://user:s3cret@proxy.corp:3128",
            "",
            ProxySource::Setting,
        )
        .unwrap();
        assert!(!config.shown().contains("s3cret"), "{}", config.shown());
        assert_eq!(
            parse_proxy_url("proxy.corp:3128").unwrap().as_str(),
            "http://proxy.corp:3128/"
        );
        for bad in [
            "socks5://proxy:1080",
            "http://",
            "http://proxy:3128/path",
            "not a url",
        ] {
            assert!(parse_proxy_url(bad).is_err(), "{bad:?}");
        }
        let error = parse_proxy_url("ftp://user:s3cret@proxy:21").unwrap_err();
        assert!(!error.contains("s3cret"), "{error}");
        let config =
            ProxyConfig::parse("http://proxy:3128", "internal", ProxySource::Setting).unwrap();
        assert_eq!(config.for_url(&url("https://api.internal/")), None);
        assert_eq!(
            config
                .for_url(&url("https://api.example.com/"))
                .map(Url::as_str),
            Some("http://proxy:3128/")
        );
    }
}
