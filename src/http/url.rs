//! `http://` and `https://` URLs split into what a request needs. Only the
//! forms lowspace meets are accepted (no relative URLs, no IDNA); anything
//! else is an error naming the problem. Credentials in the userinfo are kept
//! for basic authentication but never shown by `Display`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: Scheme,
    /// Host name or IP address, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// Path plus `?query`, never empty (at least `/`); the fragment is dropped.
    pub path_and_query: String,
    /// Percent-decoded user name from `user:pass@`.
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad URL {:?}: {}", self.url, self.reason)
    }
}

impl std::error::Error for UrlError {}

impl Url {
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        let err = |reason: &str| UrlError {
            url: redact(text),
            reason: reason.to_string(),
        };
        let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(text, "http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(text, "https://") {
            (Scheme::Https, rest)
        } else {
            return Err(err("only http:// and https:// URLs are supported"));
        };
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("contains whitespace or control characters"));
        }
        let rest = rest.split('#').next().unwrap_or("");
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let path_and_query = if path.is_empty() {
            "/".to_string()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, pass) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                let user = percent_decode(user).ok_or_else(|| err("bad %-escape in user name"))?;
                let pass = match pass {
                    Some(p) => {
                        Some(percent_decode(p).ok_or_else(|| err("bad %-escape in password"))?)
                    }
                    None => None,
                };
                (Some(user), pass)
            }
        };
        let (host, port_text) = if let Some(after) = hostport.strip_prefix('[') {
            let close = after
                .find(']')
                .ok_or_else(|| err("IPv6 address without closing ']'"))?;
            let host = &after[..close];
            let tail = &after[close + 1..];
            let port = match tail.strip_prefix(':') {
                Some(p) => Some(p),
                None if tail.is_empty() => None,
                None => return Err(err("unexpected text after IPv6 address")),
            };
            (host, port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(err("no host"));
        }
        let port = match port_text {
            None | Some("") => scheme.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(err("port must be a number from 1 to 65535")),
                Ok(n) => n,
            },
        };
        Ok(Url {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path_and_query,
            username,
            password,
        })
    }

    /// `host[:port]` as the Host header wants it (port only when not default).
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Resolves a `Location` header against this URL: absolute URLs,
    /// scheme-relative `//host/path`, and absolute paths.
    pub fn join(&self, location: &str) -> Result<Url, UrlError> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Url::parse(location);
        }
        if let Some(rest) = location.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", self.scheme.as_str()));
        }
        let mut joined = Url {
            username: None,
            password: None,
            ..self.clone()
        };
        if location.starts_with('/') {
            joined.path_and_query = location.to_string();
        } else {
            let base = self.path_and_query.split('?').next().unwrap_or("/");
            let dir = &base[..base.rfind('/').map(|i| i + 1).unwrap_or(0)];
            joined.path_and_query = format!("{dir}{location}");
        }
        Ok(joined)
    }
}

impl fmt::Display for Url {
    /// Never shows the password: URLs end up in logs and error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if let Some(user) = &self.username {
            write!(f, "{user}@")?;
        }
        write!(f, "{}{}", self.host_header(), self.path_and_query)
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Url({self})")
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

/// A URL for messages: the password in `user:pass@` is replaced by `***`.
pub fn redact(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_string();
    };
    let after = &text[scheme_end + 3..];
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = &after[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let user = authority[..at].split(':').next().unwrap_or("");
            format!(
                "{}{}:***@{}",
                &text[..scheme_end + 3],
                user,
                &after[at + 1..]
            )
        }
        None => text.to_string(),
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let mut rest = text.as_bytes();
    let mut out = Vec::with_capacity(rest.len());
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let (hex, after) = tail.split_at_checked(2)?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            rest = after;
        } else {
            out.push(b);
            rest = tail;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_lowspace_meets() {
        let u = Url::parse("https://user:p%40ss@seedbox.example:8443/RPC2?x=1#frag").unwrap();
        assert_eq!(u.scheme, Scheme::Https);
        assert_eq!(u.host, "seedbox.example");
        assert_eq!(u.port, 8443);
        assert_eq!(u.path_and_query, "/RPC2?x=1");
        assert_eq!(u.username.as_deref(), Some("user"));
        assert_eq!(u.password.as_deref(), Some("p@ss"));
        assert_eq!(u.to_string(), "https://user@seedbox.example:8443/RPC2?x=1");

        let u = Url::parse("http://127.0.0.1").unwrap();
        assert_eq!((u.port, u.path_and_query.as_str()), (80, "/"));
        let u = Url::parse("http://[::1]:81/a").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 81));
        assert_eq!(u.host_header(), "[::1]:81");
    }

    #[test]
    fn refuses_bad_urls_with_a_reason() {
        for bad in [
            "ftp://x/",
            "http://",
            "http://host:0/",
            "http://host:99999/",
            "http://host:abc/",
            "http://[::1/",
            "http://ho st/",
            "http://u:%zz@h/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
        let e = Url::parse("ftp://u:secret@h/").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn joins_redirect_locations() {
        let base = Url::parse("https://u:p@a.example/dir/list.json").unwrap();
        assert_eq!(
            base.join("other.json").unwrap().to_string(),
            "https://a.example/dir/other.json"
        );
        assert_eq!(base.join("/x").unwrap().path_and_query, "/x");
        assert_eq!(base.join("http://b/y").unwrap().host, "b");
        assert_eq!(base.join("//c/z").unwrap().scheme, Scheme::Https);
    }
}
