//! What trackers answer to an announce, decoded without I/O so it can be
//! fuzzed: HTTP trackers' bencoded dictionaries (BEP 3, compact peers
//! BEP 23, IPv6 peers BEP 7) and UDP trackers' packets (BEP 15).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::torrent::bencode::{self, Value};

/// Peers kept from one response at most (a tracker cannot make us hold
/// more than this).
pub const MAX_PEERS: usize = 500;

/// A successful announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceReply {
    pub interval: Duration,
    pub min_interval: Option<Duration>,
    pub peers: Vec<SocketAddr>,
    pub warning: Option<String>,
}

/// Why a tracker response is not a successful announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    /// The tracker refused: its `failure reason` or UDP error message.
    Refused(String),
    /// Not bencode, or not a dictionary.
    NotBencode(String),
    /// A field of the wrong type or size.
    BadField { field: &'static str, detail: String },
    /// A UDP packet too short, or for another transaction or action.
    BadPacket(String),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Refused(why) => write!(f, "tracker refused: {why}"),
            ResponseError::NotBencode(why) => write!(f, "response is not bencode: {why}"),
            ResponseError::BadField { field, detail } => {
                write!(f, "response field {field}: {detail}")
            }
            ResponseError::BadPacket(why) => write!(f, "bad UDP tracker packet: {why}"),
        }
    }
}

impl std::error::Error for ResponseError {}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(200).collect()
}

/// Peers in the compact forms: 6 bytes (IPv4 + port) or 18 (IPv6 + port).
pub fn compact_peers(bytes: &[u8], v6: bool, out: &mut Vec<SocketAddr>) -> Result<(), String> {
    let size = if v6 { 18 } else { 6 };
    if !bytes.len().is_multiple_of(size) {
        return Err(format!("{} bytes, not a multiple of {size}", bytes.len()));
    }
    for chunk in bytes.chunks_exact(size) {
        if out.len() >= MAX_PEERS {
            break;
        }
        let (ip, port) = chunk.split_at(size - 2);
        let ip = if v6 {
            let mut b = [0u8; 16];
            b.copy_from_slice(ip);
            IpAddr::V6(Ipv6Addr::from(b))
        } else {
            let mut b = [0u8; 4];
            b.copy_from_slice(ip);
            IpAddr::V4(Ipv4Addr::from(b))
        };
        let port = u16::from_be_bytes([
            port.first().copied().unwrap_or(0),
            port.get(1).copied().unwrap_or(0),
        ]);
        out.push(SocketAddr::new(ip, port));
    }
    Ok(())
}

fn seconds(field: &'static str, value: &Value) -> Result<Duration, ResponseError> {
    value
        .as_int()
        .and_then(|n| u64::try_from(n).ok())
        .map(Duration::from_secs)
        .ok_or_else(|| ResponseError::BadField {
            field,
            detail: format!(
                "{} where a positive number of seconds belongs",
                value.kind()
            ),
        })
}

/// Decodes an HTTP tracker's announce response body.
pub fn parse_http_announce(body: &[u8]) -> Result<AnnounceReply, ResponseError> {
    // Trailing whitespace after the dictionary is common; tolerate it.
    let (value, _) =
        bencode::decode_prefix(body).map_err(|e| ResponseError::NotBencode(e.to_string()))?;
    if !value.is_dict() {
        return Err(ResponseError::NotBencode(format!(
            "{}, not a dictionary",
            value.kind()
        )));
    }
    if let Some(reason) = value.get(b"failure reason") {
        return Err(ResponseError::Refused(
            reason
                .as_bytes()
                .map(text)
                .unwrap_or_else(|| "(no text)".into()),
        ));
    }
    let interval = match value.get(b"interval") {
        Some(v) => seconds("interval", v)?,
        None => {
            return Err(ResponseError::BadField {
                field: "interval",
                detail: "missing".into(),
            })
        }
    };
    let min_interval = value
        .get(b"min interval")
        .map(|v| seconds("min interval", v))
        .transpose()?;
    let mut peers = Vec::new();
    match value.get(b"peers") {
        Some(Value::Bytes(b)) => {
            compact_peers(b, false, &mut peers).map_err(|detail| ResponseError::BadField {
                field: "peers",
                detail,
            })?
        }
        Some(Value::List(items)) => {
            // The original dictionary model: {ip, port, peer id}; entries
            // that do not make an address are skipped.
            for item in items.iter().take(MAX_PEERS) {
                let ip = item
                    .get(b"ip")
                    .and_then(Value::as_bytes)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .and_then(|s| s.parse::<IpAddr>().ok());
                let port = item
                    .get(b"port")
                    .and_then(Value::as_int)
                    .and_then(|p| u16::try_from(p).ok());
                if let (Some(ip), Some(port)) = (ip, port) {
                    peers.push(SocketAddr::new(ip, port));
                }
            }
        }
        Some(other) => {
            return Err(ResponseError::BadField {
                field: "peers",
                detail: format!("{}, not a string or a list", other.kind()),
            })
        }
        None => {}
    }
    if let Some(v6) = value.get(b"peers6") {
        let bytes = v6.as_bytes().ok_or_else(|| ResponseError::BadField {
            field: "peers6",
            detail: format!("{}, not a string", v6.kind()),
        })?;
        compact_peers(bytes, true, &mut peers).map_err(|detail| ResponseError::BadField {
            field: "peers6",
            detail,
        })?;
    }
    Ok(AnnounceReply {
        interval,
        min_interval,
        peers,
        warning: value
            .get(b"warning message")
            .and_then(Value::as_bytes)
            .map(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_dictionary_peers() {
        let mut body =
            b"d8:completei1e10:incompletei0e8:intervali1800e12:min intervali900e5:peers12:"
                .to_vec();
        body.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80]);
        body.extend_from_slice(b"6:peers618:");
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 81]);
        body.extend_from_slice(b"e\n");
        let reply = parse_http_announce(&body).unwrap();
        assert_eq!(reply.interval, Duration::from_secs(1800));
        assert_eq!(reply.min_interval, Some(Duration::from_secs(900)));
        let want: Vec<SocketAddr> = vec![
            "127.0.0.1:6881".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
            "[::1]:81".parse().unwrap(),
        ];
        assert_eq!(reply.peers, want);

        // Unsorted keys, dictionary peers with a bad entry skipped.
        let reply = parse_http_announce(
            b"d5:peersld2:ip9:127.0.0.24:porti7eed2:ip3:bad4:porti1eee8:intervali60ee",
        )
        .unwrap();
        assert_eq!(
            reply.peers,
            vec!["127.0.0.2:7".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn errors_are_named() {
        assert_eq!(
            parse_http_announce(b"d14:failure reason9:not found").unwrap_err(),
            ResponseError::NotBencode("bencode truncated".into())
        );
        assert_eq!(
            parse_http_announce(b"d14:failure reason17:torrent not founde").unwrap_err(),
            ResponseError::Refused("torrent not found".into())
        );
        assert!(matches!(
            parse_http_announce(b"<html>").unwrap_err(),
            ResponseError::NotBencode(_)
        ));
        assert!(matches!(
            parse_http_announce(b"le").unwrap_err(),
            ResponseError::NotBencode(_)
        ));
        assert!(matches!(
            parse_http_announce(b"d5:peers0:e").unwrap_err(),
            ResponseError::BadField {
                field: "interval",
                ..
            }
        ));
        assert!(matches!(
            parse_http_announce(b"d8:intervali-5ee").unwrap_err(),
            ResponseError::BadField {
                field: "interval",
                ..
            }
        ));
        assert!(matches!(
            parse_http_announce(b"d8:intervali5e5:peers5:abcdee").unwrap_err(),
            ResponseError::BadField { field: "peers", .. }
        ));
        assert!(matches!(
            parse_http_announce(b"d8:intervali5e5:peersi1ee").unwrap_err(),
            ResponseError::BadField { field: "peers", .. }
        ));
        assert!(matches!(
            parse_http_announce(b"d8:intervali5e6:peers6i1ee").unwrap_err(),
            ResponseError::BadField {
                field: "peers6",
                ..
            }
        ));
    }

    #[test]
    fn peers_are_capped() {
        let mut body = format!("d8:intervali5e5:peers{}:", 6 * (MAX_PEERS + 10)).into_bytes();
        body.extend(std::iter::repeat_n(1u8, 6 * (MAX_PEERS + 10)));
        body.push(b'e');
        assert_eq!(parse_http_announce(&body).unwrap().peers.len(), MAX_PEERS);
    }
}
