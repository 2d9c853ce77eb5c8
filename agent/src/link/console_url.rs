//! The console's agent-channel address as the admin gives it: `https://HOST[:PORT]`.

use std::fmt;
use std::net::IpAddr;

use rustls::pki_types::ServerName;

/// The agent channel's port when the URL names none.
pub const DEFAULT_PORT: u16 = 9879;

/// An `https://` URL with a host, an optional port (default [`DEFAULT_PORT`]) and no path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUrl {
    /// A DNS name or IP address, without brackets.
    host: String,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url:?} is not a console address: {reason} (expected https://HOST:{DEFAULT_PORT})")]
pub struct ConsoleUrlError {
    pub url: String,
    pub reason: &'static str,
}

impl ConsoleUrl {
    pub fn parse(text: &str) -> Result<ConsoleUrl, ConsoleUrlError> {
        let error = |reason| ConsoleUrlError {
            url: text.chars().take(200).collect(),
            reason,
        };
        let text = text.trim();
        let uri: hyper::Uri = text.parse().map_err(|_| error("not a URL"))?;
        if uri.scheme_str() != Some("https") {
            return Err(error("the scheme must be https"));
        }
        let authority = uri.authority().ok_or_else(|| error("no host"))?;
        if authority.as_str().contains('@') {
            return Err(error("user information is not allowed"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(error("a path or query is not allowed"));
        }
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(error("no host"));
        }
        if host.parse::<IpAddr>().is_err() && ServerName::try_from(host.to_owned()).is_err() {
            return Err(error("the host is neither a DNS name nor an IP address"));
        }
        // What follows the host: nothing, or `:PORT` (`Authority::port` hides a bad one).
        let port = match authority.as_str().get(authority.host().len()..) {
            Some("") => DEFAULT_PORT,
            Some(rest) => match rest.strip_prefix(':').map(str::parse::<u16>) {
                Some(Ok(port)) if port != 0 => port,
                _ => return Err(error("the port must be 1-65535")),
            },
            None => return Err(error("no host")),
        };
        Ok(ConsoleUrl {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, with brackets around an IPv6 address: the HTTP `Host` header.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The name rustls is given (sent as SNI for a DNS name; the certificate's names are
    /// not checked, see `link::tls`).
    pub(crate) fn server_name(&self) -> ServerName<'static> {
        match self.host.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            // Checked in `parse`.
            Err(_) => ServerName::try_from(self.host.clone())
                .unwrap_or_else(|_| ServerName::IpAddress(IpAddr::from([127, 0, 0, 1]).into())),
        }
    }
}

impl fmt::Display for ConsoleUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "https://{}", self.authority())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<&str>) {
        match (ConsoleUrl::parse(input), expected) {
            (Ok(url), Some(expected)) => assert_eq!(url.to_string(), expected, "{input}"),
            (Err(_), None) => {}
            (got, expected) => panic!("{input}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn console_urls() {
        check(
            "https://console.local:9879",
            Some("https://console.local:9879"),
        );
        check(
            "https://Console.Local:9879/",
            Some("https://console.local:9879"),
        );
        check("https://10.0.0.5", Some("https://10.0.0.5:9879"));
        check("https://[::1]:1234", Some("https://[::1]:1234"));
        check(" https://h:1 ", Some("https://h:1"));
        check("http://console:9879", None);
        check("console:9879", None);
        check("https://", None);
        check("https://user:pw@console:9879", None);
        check("https://console:9879/v1/join", None);
        check("https://console:9879/?a=b", None);
        check("https://console:0", None);
        check("https://console:99999", None);
        check("https://console:", None);
        check("https://console:12x", None);
        check("https://bad_host!:9879", None);
    }

    #[test]
    fn authority_and_server_name() {
        let v6 = ConsoleUrl::parse("https://[fe80::1]:9").unwrap();
        assert_eq!(v6.authority(), "[fe80::1]:9");
        assert!(matches!(v6.server_name(), ServerName::IpAddress(_)));
        let dns = ConsoleUrl::parse("https://console.local").unwrap();
        assert!(matches!(dns.server_name(), ServerName::DnsName(_)));
    }
}
