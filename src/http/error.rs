//! Errors of the HTTP client, worded for the user: each names the URL
//! (without its password) and what to check.

use std::fmt;

use super::response::ResponseError;
use super::url::UrlError;

#[derive(Debug)]
pub enum HttpError {
    Url(UrlError),
    /// The host name did not resolve.
    Resolve {
        url: String,
        source: std::io::Error,
    },
    /// Every address refused or failed the TCP connection.
    Connect {
        url: String,
        source: std::io::Error,
    },
    /// No TCP connection within the connect timeout.
    ConnectTimeout {
        url: String,
        seconds: u64,
    },
    /// No bytes for longer than the read timeout, or the whole exchange took
    /// longer than the total timeout.
    Timeout {
        url: String,
        seconds: u64,
    },
    /// Reading or writing failed after the connection was made.
    Io {
        url: String,
        source: std::io::Error,
    },
    /// The TLS setup (CA file, client certificate) could not be loaded.
    TlsSetup(String),
    /// The TLS handshake or session failed (unknown CA, wrong host name...).
    Tls {
        url: String,
        message: String,
    },
    Response {
        url: String,
        source: ResponseError,
    },
    TooManyRedirects {
        url: String,
        limit: u8,
    },
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Url(e) => write!(f, "{e}"),
            HttpError::Resolve { url, source } => {
                write!(f, "cannot resolve the host of {url}: {source}")
            }
            HttpError::Connect { url, source } => {
                if source.kind() == std::io::ErrorKind::ConnectionRefused {
                    write!(f, "connection to {url} refused: is the server running and listening on that port?")
                } else {
                    write!(f, "cannot connect to {url}: {source}")
                }
            }
            HttpError::ConnectTimeout { url, seconds } => {
                write!(
                    f,
                    "no connection to {url} within {seconds} s: is the host reachable (firewall)?"
                )
            }
            HttpError::Timeout { url, seconds } => {
                write!(f, "{url} did not answer within {seconds} s")
            }
            HttpError::Io { url, source } => write!(f, "talking to {url} failed: {source}"),
            HttpError::TlsSetup(msg) => write!(f, "TLS setup: {msg}"),
            HttpError::Tls { url, message } => {
                write!(f, "TLS with {url} failed: {message}")?;
                if message.contains("UnknownIssuer") || message.contains("certificate") {
                    write!(
                        f,
                        " (if the server uses its own CA, give its certificate as the CA file)"
                    )?;
                }
                Ok(())
            }
            HttpError::Response { url, source } => write!(f, "{url}: {source}"),
            HttpError::TooManyRedirects { url, limit } => {
                write!(f, "{url} redirected more than {limit} times")
            }
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpError::Resolve { source, .. }
            | HttpError::Connect { source, .. }
            | HttpError::Io { source, .. } => Some(source),
            HttpError::Response { source, .. } => Some(source),
            HttpError::Url(e) => Some(e),
            _ => None,
        }
    }
}
