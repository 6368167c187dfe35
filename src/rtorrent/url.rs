//! `socket_url` from the configuration, turned into a [`Transport`]. The
//! forms are those of the original driver plus HTTP(S), which is how many
//! commercial seedboxes expose rtorrent (behind basic auth).

use std::fmt;
use std::path::PathBuf;

use crate::http::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// SCGI over a Unix socket (`scgi:///path.sock` or a bare absolute path).
    Unix(PathBuf),
    /// SCGI over TCP (`scgi://host:port`).
    Tcp { host: String, port: u16 },
    /// XML-RPC over HTTP(S), usually a web server's `scgi_pass` to rtorrent.
    Http(Url),
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Unix(path) => write!(f, "SCGI socket {}", path.display()),
            Transport::Tcp { host, port } => write!(f, "scgi://{host}:{port}"),
            Transport::Http(url) => write!(f, "{url}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketUrlError {
    pub socket_url: String,
    pub reason: String,
}

impl fmt::Display for SocketUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "socket_url {:?}: {} (expected scgi:///path/to/rtorrent.sock, scgi://host:port, \
             /path/to/rtorrent.sock or http(s)://[user:pass@]host[:port]/RPC2)",
            self.socket_url, self.reason
        )
    }
}

impl std::error::Error for SocketUrlError {}

pub fn parse_socket_url(text: &str) -> Result<Transport, SocketUrlError> {
    let err = |reason: &str| SocketUrlError {
        socket_url: crate::http::url::redact(text),
        reason: reason.to_string(),
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(err("is empty"));
    }
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Url::parse(text)
            .map(Transport::Http)
            .map_err(|e| err(&e.reason));
    }
    if let Some(rest) = strip_prefix_ignore_case(text, "scgi://") {
        if rest.starts_with('/') {
            return Ok(Transport::Unix(PathBuf::from(rest)));
        }
        let hostport = rest.strip_suffix('/').unwrap_or(rest);
        if hostport.contains('/') {
            return Err(err(
                "a TCP address takes no path; for a Unix socket use three slashes: scgi:///path",
            ));
        }
        let (host, port) = if let Some(after) = hostport.strip_prefix('[') {
            let (h, p) = after
                .split_once("]:")
                .ok_or_else(|| err("IPv6 address needs the form [addr]:port"))?;
            (h, p)
        } else {
            hostport
                .rsplit_once(':')
                .ok_or_else(|| err("a TCP address needs a port: scgi://host:port"))?
        };
        if host.is_empty() {
            return Err(err("no host before the port"));
        }
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(err("the port must be a number from 1 to 65535")),
        };
        return Ok(Transport::Tcp {
            host: host.to_string(),
            port,
        });
    }
    if text.starts_with('/') {
        return Ok(Transport::Unix(PathBuf::from(text)));
    }
    if text.contains("://") {
        return Err(err("unknown scheme"));
    }
    Err(err("a socket path must be absolute"))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        assert_eq!(
            parse_socket_url("scgi:///home/u/.rtorrent.sock").unwrap(),
            Transport::Unix("/home/u/.rtorrent.sock".into())
        );
        assert_eq!(
            parse_socket_url("/run/rt.sock").unwrap(),
            Transport::Unix("/run/rt.sock".into())
        );
        assert_eq!(
            parse_socket_url("scgi://127.0.0.1:5000").unwrap(),
            Transport::Tcp {
                host: "127.0.0.1".into(),
                port: 5000
            }
        );
        assert_eq!(
            parse_socket_url("SCGI://[::1]:5000/").unwrap(),
            Transport::Tcp {
                host: "::1".into(),
                port: 5000
            }
        );
        let Transport::Http(url) = parse_socket_url("https://me:pw@box.example.com/RPC2").unwrap()
        else {
            panic!()
        };
        assert_eq!(url.password.as_deref(), Some("pw"));
        assert_eq!(url.path_and_query, "/RPC2");
    }

    #[test]
    fn refused_forms_say_why() {
        for (bad, why) in [
            ("", "empty"),
            ("rt.sock", "absolute"),
            ("scgi://localhost", "port"),
            ("scgi://localhost:0", "port"),
            ("scgi://:5000", "host"),
            ("scgi://host:5000/x", "three slashes"),
            ("unix:///x", "scheme"),
            ("http://", "host"),
        ] {
            let e = parse_socket_url(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let e = parse_socket_url("https://me:topsecret@:0/").unwrap_err();
        assert!(!e.to_string().contains("topsecret"));
    }
}
