//! API keys and URLs made safe to show: a key is never printed, logged or stored, and a URL
//! is shown without user info or query string (where credentials sometimes hide).

use std::fmt;

/// An API key read from the environment variable a backend names.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Reads the key from `var`; `None` when unset or empty.
    pub fn from_env(var: &str) -> Option<ApiKey> {
        std::env::var(var)
            .ok()
            .and_then(|key| ApiKey::from_value(&key))
    }

    /// A key given as text (a variable read elsewhere); `None` when empty.
    pub fn from_value(key: &str) -> Option<ApiKey> {
        let key = key.trim();
        (!key.is_empty()).then(|| ApiKey(key.into()))
    }

    /// The key itself, only for the request header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with the key replaced by `<redacted>`: servers and proxies sometimes echo the
    /// key they were sent in their error messages.
    pub fn redact_in(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        text.replace(&self.0, "<redacted>")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// A URL without user info and query string.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let rest = match rest.split_once('/') {
        Some((authority, path)) => {
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{host}/{path}")
        }
        None => rest
            .rsplit_once('@')
            .map_or(rest, |(_, host)| host)
            .to_string(),
    };
    if scheme.is_empty() {
        rest
    } else {
        format!("{scheme}://{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_survive_redaction() {
        assert_eq!(
            redact_url("https://user:sk-123@host:1/v1?key=sk-456"),
            "https://host:1/v1"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:11438/v1"),
            "http://127.0.0.1:11438/v1"
        );
    }

    #[test]
    fn a_key_debug_prints_redacted() {
        assert_eq!(
            format!("{:?}", ApiKey("sk-secret".into())),
            "ApiKey(<redacted>)"
        );
    }
}
