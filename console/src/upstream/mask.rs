//! What the outbound log may show of a request: secrets masked in headers, fields and
//! URLs. Pure functions; the recorder applies them to every entry before it is written.

use serde_json::{Map, Value};

/// What replaces a secret value.
pub const MASK: &str = "****";

/// Words that make a header, field or query parameter a secret wherever they appear in
/// its name (compared without case, `-` and `_`).
const SECRET_WORDS: &[&str] = &[
    "authorization",
    "password",
    "passwd",
    "token",
    "secret",
    "cookie",
    "apikey",
    "credential",
    "privatekey",
];

/// Whether a header, field or parameter called `name` carries a secret.
pub fn is_secret_name(name: &str) -> bool {
    let plain: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_WORDS.iter().any(|word| plain.contains(word))
}

/// A header's value as the log shows it: `Authorization` keeps its scheme only
/// (`Bearer ****`), any other secret header becomes `****`.
pub fn header_value(name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("proxy-authorization")
    {
        return match value.trim().split_once(' ') {
            Some((scheme, _)) if !scheme.is_empty() => format!("{scheme} {MASK}"),
            _ => MASK.to_owned(),
        };
    }
    if is_secret_name(name) {
        MASK.to_owned()
    } else {
        value.to_owned()
    }
}

/// The headers as a JSON object (name → masked value), in the order given.
pub fn headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Object(
        headers
            .into_iter()
            .map(|(name, value)| (name.to_owned(), Value::String(header_value(name, value))))
            .collect(),
    )
}

/// `fields` with the value of every secret-named key masked, at any depth.
pub fn fields(fields: &Map<String, Value>) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(name, value)| {
                let shown = if is_secret_name(name) && !value.is_null() {
                    Value::String(MASK.to_owned())
                } else {
                    match value {
                        Value::Object(inner) => self::fields(inner),
                        Value::Array(items) => Value::Array(
                            items
                                .iter()
                                .map(|item| match item {
                                    Value::Object(inner) => self::fields(inner),
                                    other => other.clone(),
                                })
                                .collect(),
                        ),
                        other => other.clone(),
                    }
                };
                (name.clone(), shown)
            })
            .collect(),
    )
}

/// The URL as the log shows it: a password in it, and the values of secret-named query
/// parameters, masked.
pub fn url(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some(MASK));
    }
    if shown.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if is_secret_name(&name) {
                    MASK.to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secret_names() {
        for secret in [
            "Authorization",
            "X-Auth-Token",
            "password",
            "db_password",
            "X-Api-Key",
            "api_key",
            "Client-Secret",
            "Cookie",
            "Set-Cookie",
            "refresh_token",
            "private_key",
        ] {
            assert!(is_secret_name(secret), "{secret} should be masked");
        }
        for plain in [
            "X-Outpost-Instance",
            "X-Outpost-Console-Version",
            "X-Outpost-App-Sequence",
            "X-Outpost-Node-Count",
            "Accept",
            "channel",
            "sequence",
        ] {
            assert!(!is_secret_name(plain), "{plain} should be shown");
        }
    }

    #[test]
    fn authorization_keeps_its_scheme_only() {
        assert_eq!(
            header_value("Authorization", "Bearer lic-1234"),
            "Bearer ****"
        );
        assert_eq!(header_value("authorization", "lic-1234"), "****");
        assert_eq!(
            header_value("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
            "Basic ****"
        );
        assert_eq!(header_value("X-Registry-Token", "abc"), "****");
        assert_eq!(header_value("X-Outpost-Node-Count", "3"), "3");
    }

    #[test]
    fn headers_become_a_masked_object() {
        let shown = headers([
            ("Authorization", "Bearer lic-secret-id"),
            ("X-Outpost-Instance", "abcd"),
        ]);
        assert_eq!(
            shown,
            json!({"Authorization": "Bearer ****", "X-Outpost-Instance": "abcd"})
        );
        assert!(!shown.to_string().contains("lic-secret-id"));
    }

    #[test]
    fn fields_are_masked_at_any_depth() {
        let given = json!({
            "channel": "stable",
            "password": "hunter2",
            "registry": {"username": "pull", "password": "s3cret", "token": null},
            "items": [{"client_secret": "x"}, "plain"],
        });
        let shown = fields(given.as_object().unwrap());
        assert_eq!(
            shown,
            json!({
                "channel": "stable",
                "password": "****",
                "registry": {"username": "pull", "password": "****", "token": null},
                "items": [{"client_secret": "****"}, "plain"],
            })
        );
    }

    #[test]
    fn urls_lose_passwords_and_secret_parameters() {
        let given =
            reqwest::Url::parse("https://user:pw@api.example/v1/x?token=abc&channel=stable")
                .unwrap();
        let shown = url(&given);
        assert_eq!(
            shown,
            "https://user:****@api.example/v1/x?token=****&channel=stable"
        );
        let plain = reqwest::Url::parse("https://api.example/v1/channels/stable/index").unwrap();
        assert_eq!(url(&plain), "https://api.example/v1/channels/stable/index");
    }
}
