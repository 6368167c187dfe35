//! Errors talking to rtorrent, each worded so the user knows what to check.

use std::fmt;
use std::path::PathBuf;

use super::url::SocketUrlError;
use super::xmlrpc::DecodeError;
use crate::http::HttpError;

#[derive(Debug)]
pub enum RpcError {
    SocketUrl(SocketUrlError),
    /// The Unix socket file does not exist.
    SocketMissing {
        path: PathBuf,
    },
    PermissionDenied {
        target: String,
    },
    ConnectionRefused {
        target: String,
    },
    Timeout {
        target: String,
        seconds: u64,
    },
    Io {
        target: String,
        source: std::io::Error,
    },
    /// The SCGI reply was cut off or not SCGI.
    Framing {
        target: String,
        reason: String,
    },
    TooLarge {
        target: String,
        limit: usize,
    },
    Http(HttpError),
    HttpStatus {
        url: String,
        status: u16,
        reason: String,
    },
    Decode {
        method: String,
        source: DecodeError,
    },
    /// rtorrent answered with an XML-RPC fault.
    Fault {
        method: String,
        code: i64,
        message: String,
    },
    /// The answer decoded but is not what the method returns.
    Shape {
        method: String,
        reason: String,
    },
}

impl RpcError {
    /// True for "no such download" faults, which callers often tolerate.
    pub fn is_unknown_hash(&self) -> bool {
        matches!(self, RpcError::Fault { message, .. } if message.contains("Could not find info-hash"))
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcError::SocketUrl(e) => write!(f, "{e}"),
            RpcError::SocketMissing { path } => write!(
                f,
                "rtorrent's SCGI socket {} does not exist: is rtorrent running? \
                 does network.scgi.open_local match socket_url?",
                path.display()
            ),
            RpcError::PermissionDenied { target } => write!(
                f,
                "permission denied on {target}: run lowspace as the user rtorrent runs as, \
                 or make the socket writable for this user"
            ),
            RpcError::ConnectionRefused { target } => write!(
                f,
                "{target} refused the connection: rtorrent is not listening there \
                 (stopped, or a stale socket file left by a crash?)"
            ),
            RpcError::Timeout { target, seconds } => write!(
                f,
                "rtorrent at {target} did not answer within {seconds} s (busy hashing, or hung?)"
            ),
            RpcError::Io { target, source } => {
                write!(f, "talking to rtorrent at {target}: {source}")
            }
            RpcError::Framing { target, reason } => {
                write!(f, "bad SCGI reply from {target}: {reason}")
            }
            RpcError::TooLarge { target, limit } => write!(
                f,
                "the reply from {target} is larger than the {limit}-byte limit"
            ),
            RpcError::Http(e) => write!(f, "{e}"),
            RpcError::HttpStatus {
                url, status: 401, ..
            } => write!(
                f,
                "{url} refused the credentials (HTTP 401): check user:password in socket_url"
            ),
            RpcError::HttpStatus {
                url,
                status,
                reason,
            } => write!(f, "{url} answered HTTP {status} {reason}"),
            RpcError::Decode { method, source } => {
                write!(f, "rtorrent's reply to {method}: {source}")
            }
            RpcError::Fault {
                method,
                code,
                message,
            } => write!(f, "rtorrent refused {method}: {message} (fault {code})"),
            RpcError::Shape { method, reason } => {
                write!(f, "unexpected reply to {method}: {reason}")
            }
        }
    }
}

impl std::error::Error for RpcError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RpcError::Io { source, .. } => Some(source),
            RpcError::Http(e) => Some(e),
            RpcError::Decode { source, .. } => Some(source),
            RpcError::SocketUrl(e) => Some(e),
            _ => None,
        }
    }
}
