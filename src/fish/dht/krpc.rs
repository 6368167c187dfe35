//! KRPC (BEP 5): the bencoded dictionaries DHT nodes exchange over UDP.
//! Queries (ping, find_node, get_peers, announce_peer), responses and
//! errors, decoded with the tolerant bencode reader (nodes in the wild send
//! unsorted keys) and encoded with sorted keys. IPv6 (BEP 32): `nodes6`,
//! 18-byte `values`, `want`; BEP 42: the `ip` a reply says it saw us at.
//! No I/O here; fuzzed.

use std::fmt;
use std::net::SocketAddr;

use super::node_id::{
    decode_nodes, decode_peer, encode_nodes, encode_peer, NodeId, NodeInfo, COMPACT_NODE6_LEN,
    COMPACT_NODE_LEN, COMPACT_PEER6_LEN, COMPACT_PEER_LEN,
};
use crate::torrent::bencode::{self, BencodeError, Encoder, Value};
use crate::torrent::InfoHash;

/// Longest transaction id or token we keep (ours are 2 and 8 bytes; a
/// longer one is a hostile or broken node).
pub const MAX_OPAQUE_LEN: usize = 64;
/// Peers we read from one `values` list, at most.
pub const MAX_VALUES: usize = 200;

/// KRPC error codes (BEP 5).
pub const ERROR_GENERIC: i64 = 201;
pub const ERROR_PROTOCOL: i64 = 203;
pub const ERROR_METHOD_UNKNOWN: i64 = 204;

/// One KRPC message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `t`: the querier's transaction id, echoed in the answer.
    pub transaction: Vec<u8>,
    pub body: Body,
    /// `ip` (BEP 42): the address the sender saw this message's receiver
    /// at, in replies; how a node behind NAT learns its external address.
    pub ip: Option<SocketAddr>,
}

/// `want` (BEP 32): the families of nodes a find_node or get_peers asker
/// wants back; neither set means it did not say (its own family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Want {
    pub n4: bool,
    pub n6: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Query(Query),
    Response(Response),
    Error { code: i64, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Ping {
        id: NodeId,
    },
    FindNode {
        id: NodeId,
        target: NodeId,
        want: Want,
    },
    GetPeers {
        id: NodeId,
        info_hash: InfoHash,
        want: Want,
    },
    AnnouncePeer {
        id: NodeId,
        info_hash: InfoHash,
        port: u16,
        token: Vec<u8>,
        /// Use the packet's source port instead of `port` (NAT).
        implied_port: bool,
    },
    /// A method we do not serve (answered with error 204).
    Unknown {
        id: NodeId,
        method: String,
    },
}

impl Query {
    /// The querying node's id.
    pub fn sender(&self) -> NodeId {
        match self {
            Query::Ping { id }
            | Query::FindNode { id, .. }
            | Query::GetPeers { id, .. }
            | Query::AnnouncePeer { id, .. }
            | Query::Unknown { id, .. } => *id,
        }
    }

    pub fn method(&self) -> &str {
        match self {
            Query::Ping { .. } => "ping",
            Query::FindNode { .. } => "find_node",
            Query::GetPeers { .. } => "get_peers",
            Query::AnnouncePeer { .. } => "announce_peer",
            Query::Unknown { method, .. } => method,
        }
    }
}

/// Every response shape in one: ping and announce_peer carry only `id`,
/// find_node adds `nodes` (and/or `nodes6`), get_peers adds `token` and
/// `values` or nodes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub id: Option<NodeId>,
    /// IPv4 nodes (`nodes`).
    pub nodes: Vec<NodeInfo>,
    /// IPv6 nodes (`nodes6`, BEP 32).
    pub nodes6: Vec<NodeInfo>,
    /// Peers of either family (6- or 18-byte strings).
    pub values: Vec<SocketAddr>,
    pub token: Option<Vec<u8>>,
}

/// Why a packet is not a KRPC message we accept, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KrpcError {
    Bencode(BencodeError),
    NotADictionary,
    Missing(&'static str),
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    BadLength {
        field: &'static str,
        len: usize,
    },
    /// `y` is none of q, r, e.
    UnknownKind(String),
    /// A port outside 1..=65535 (without implied_port).
    BadPort(i64),
}

impl fmt::Display for KrpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KrpcError::Bencode(e) => write!(f, "not bencode: {e}"),
            KrpcError::NotADictionary => f.write_str("not a dictionary"),
            KrpcError::Missing(field) => write!(f, "field {field} missing"),
            KrpcError::WrongType { field, expected } => {
                write!(f, "field {field} is not {expected}")
            }
            KrpcError::BadLength { field, len } => {
                write!(f, "field {field} has an impossible length {len}")
            }
            KrpcError::UnknownKind(y) => write!(f, "field y is {y:?}, not q, r or e"),
            KrpcError::BadPort(p) => write!(f, "field port is {p}, not a port"),
        }
    }
}

impl std::error::Error for KrpcError {}

/// Reads one UDP payload.
pub fn decode(packet: &[u8]) -> Result<Message, KrpcError> {
    let root = bencode::decode(packet).map_err(KrpcError::Bencode)?;
    if !root.is_dict() {
        return Err(KrpcError::NotADictionary);
    }
    let transaction = opaque(&root, "t", b"t")?.to_vec();
    let kind = bytes(&root, "y", b"y")?;
    let body = match kind {
        b"q" => Body::Query(query(&root)?),
        b"r" => Body::Response(response(&root)?),
        b"e" => error_body(&root)?,
        other => {
            return Err(KrpcError::UnknownKind(
                String::from_utf8_lossy(other.get(..16).unwrap_or(other)).into_owned(),
            ))
        }
    };
    // A malformed `ip` is ignored, not a reason to drop the answer: it
    // is advice, and the answer is still good. Only replies carry it.
    let ip = match body {
        Body::Response(_) => root
            .get(b"ip")
            .and_then(Value::as_bytes)
            .and_then(decode_peer),
        Body::Query(_) | Body::Error { .. } => None,
    };
    Ok(Message {
        transaction,
        body,
        ip,
    })
}

fn want(args: &Value<'_>) -> Result<Want, KrpcError> {
    let Some(v) = args.get(b"want") else {
        return Ok(Want::default());
    };
    let items = v.as_list().ok_or(KrpcError::WrongType {
        field: "a.want",
        expected: "a list",
    })?;
    let mut out = Want::default();
    for item in items {
        match item.as_bytes() {
            Some(b"n4") => out.n4 = true,
            Some(b"n6") => out.n6 = true,
            // Families we do not know (BEP 32 leaves room for more).
            Some(_) => {}
            None => {
                return Err(KrpcError::WrongType {
                    field: "a.want",
                    expected: "a list of strings",
                })
            }
        }
    }
    Ok(out)
}

fn field<'v, 'a>(
    dict: &'v Value<'a>,
    name: &'static str,
    key: &[u8],
) -> Result<&'v Value<'a>, KrpcError> {
    dict.get(key).ok_or(KrpcError::Missing(name))
}

fn bytes<'a>(dict: &Value<'a>, name: &'static str, key: &[u8]) -> Result<&'a [u8], KrpcError> {
    field(dict, name, key)?
        .as_bytes()
        .ok_or(KrpcError::WrongType {
            field: name,
            expected: "a string",
        })
}

fn opaque<'a>(dict: &Value<'a>, name: &'static str, key: &[u8]) -> Result<&'a [u8], KrpcError> {
    let b = bytes(dict, name, key)?;
    if b.len() > MAX_OPAQUE_LEN {
        return Err(KrpcError::BadLength {
            field: name,
            len: b.len(),
        });
    }
    Ok(b)
}

fn id20(dict: &Value<'_>, name: &'static str, key: &[u8]) -> Result<[u8; 20], KrpcError> {
    let b = bytes(dict, name, key)?;
    <[u8; 20]>::try_from(b).map_err(|_| KrpcError::BadLength {
        field: name,
        len: b.len(),
    })
}

fn query(root: &Value<'_>) -> Result<Query, KrpcError> {
    let method = bytes(root, "q", b"q")?;
    let args = field(root, "a", b"a")?;
    if !args.is_dict() {
        return Err(KrpcError::WrongType {
            field: "a",
            expected: "a dictionary",
        });
    }
    let id = NodeId(id20(args, "a.id", b"id")?);
    Ok(match method {
        b"ping" => Query::Ping { id },
        b"find_node" => Query::FindNode {
            id,
            target: NodeId(id20(args, "a.target", b"target")?),
            want: want(args)?,
        },
        b"get_peers" => Query::GetPeers {
            id,
            info_hash: InfoHash::from_bytes(id20(args, "a.info_hash", b"info_hash")?),
            want: want(args)?,
        },
        b"announce_peer" => {
            let implied_port = match args.get(b"implied_port") {
                None => false,
                Some(v) => {
                    v.as_int().ok_or(KrpcError::WrongType {
                        field: "a.implied_port",
                        expected: "an integer",
                    })? != 0
                }
            };
            let port = match args.get(b"port") {
                None if implied_port => 0,
                None => return Err(KrpcError::Missing("a.port")),
                Some(v) => {
                    let n = v.as_int().ok_or(KrpcError::WrongType {
                        field: "a.port",
                        expected: "an integer",
                    })?;
                    match u16::try_from(n) {
                        Ok(p) if p != 0 || implied_port => p,
                        _ if implied_port => 0,
                        _ => return Err(KrpcError::BadPort(n)),
                    }
                }
            };
            Query::AnnouncePeer {
                id,
                info_hash: InfoHash::from_bytes(id20(args, "a.info_hash", b"info_hash")?),
                port,
                token: opaque(args, "a.token", b"token")?.to_vec(),
                implied_port,
            }
        }
        other => Query::Unknown {
            id,
            method: String::from_utf8_lossy(other.get(..32).unwrap_or(other)).into_owned(),
        },
    })
}

fn response(root: &Value<'_>) -> Result<Response, KrpcError> {
    let r = field(root, "r", b"r")?;
    if !r.is_dict() {
        return Err(KrpcError::WrongType {
            field: "r",
            expected: "a dictionary",
        });
    }
    let id = Some(NodeId(id20(r, "r.id", b"id")?));
    let nodes = nodes_field(r, "r.nodes", b"nodes", COMPACT_NODE_LEN)?;
    let nodes6 = nodes_field(r, "r.nodes6", b"nodes6", COMPACT_NODE6_LEN)?;
    let values = match r.get(b"values") {
        None => Vec::new(),
        Some(v) => {
            let items = v.as_list().ok_or(KrpcError::WrongType {
                field: "r.values",
                expected: "a list",
            })?;
            let mut peers = Vec::new();
            for item in items.iter().take(MAX_VALUES) {
                let b = item.as_bytes().ok_or(KrpcError::WrongType {
                    field: "r.values",
                    expected: "a list of strings",
                })?;
                match b.len() {
                    COMPACT_PEER_LEN | COMPACT_PEER6_LEN => peers.extend(decode_peer(b)),
                    len => {
                        return Err(KrpcError::BadLength {
                            field: "r.values",
                            len,
                        })
                    }
                }
            }
            peers
        }
    };
    let token = match r.get(b"token") {
        None => None,
        Some(_) => Some(opaque(r, "r.token", b"token")?.to_vec()),
    };
    Ok(Response {
        id,
        nodes,
        nodes6,
        values,
        token,
    })
}

fn nodes_field(
    r: &Value<'_>,
    name: &'static str,
    key: &[u8],
    entry: usize,
) -> Result<Vec<NodeInfo>, KrpcError> {
    let Some(v) = r.get(key) else {
        return Ok(Vec::new());
    };
    let b = v.as_bytes().ok_or(KrpcError::WrongType {
        field: name,
        expected: "a string",
    })?;
    decode_nodes(b, entry).ok_or(KrpcError::BadLength {
        field: name,
        len: b.len(),
    })
}

fn encode_want(e: &mut Encoder, want: &Want) {
    if want.n4 || want.n6 {
        e.bytes(b"want").begin_list();
        if want.n4 {
            e.bytes(b"n4");
        }
        if want.n6 {
            e.bytes(b"n6");
        }
        e.end();
    }
}

fn error_body(root: &Value<'_>) -> Result<Body, KrpcError> {
    let items = field(root, "e", b"e")?
        .as_list()
        .ok_or(KrpcError::WrongType {
            field: "e",
            expected: "a list",
        })?;
    let code = items
        .first()
        .and_then(Value::as_int)
        .ok_or(KrpcError::WrongType {
            field: "e",
            expected: "a list of a code and a message",
        })?;
    let message = items
        .get(1)
        .and_then(Value::as_bytes)
        .map(|m| String::from_utf8_lossy(m.get(..200).unwrap_or(m)).into_owned())
        .unwrap_or_default();
    Ok(Body::Error { code, message })
}

/// Writes a message with sorted keys.
pub fn encode(message: &Message) -> Vec<u8> {
    let mut e = Encoder::new();
    e.begin_dict();
    match &message.body {
        Body::Query(q) => {
            e.bytes(b"a").begin_dict();
            e.bytes(b"id").bytes(&q.sender().0);
            match q {
                Query::Ping { .. } | Query::Unknown { .. } => {}
                Query::FindNode { target, want, .. } => {
                    e.bytes(b"target").bytes(&target.0);
                    encode_want(&mut e, want);
                }
                Query::GetPeers {
                    info_hash, want, ..
                } => {
                    e.bytes(b"info_hash").bytes(info_hash.as_bytes());
                    encode_want(&mut e, want);
                }
                Query::AnnouncePeer {
                    info_hash,
                    port,
                    token,
                    implied_port,
                    ..
                } => {
                    e.bytes(b"implied_port").int(i64::from(*implied_port));
                    e.bytes(b"info_hash").bytes(info_hash.as_bytes());
                    e.bytes(b"port").int(i64::from(*port));
                    e.bytes(b"token").bytes(token);
                }
            }
            e.end();
            e.bytes(b"q").bytes(q.method().as_bytes());
            e.bytes(b"t").bytes(&message.transaction);
            e.bytes(b"y").bytes(b"q");
        }
        Body::Response(r) => {
            if let Some(ip) = &message.ip {
                e.bytes(b"ip").bytes(&encode_peer(ip));
            }
            e.bytes(b"r").begin_dict();
            if let Some(id) = &r.id {
                e.bytes(b"id").bytes(&id.0);
            }
            let nodes = encode_nodes(&r.nodes, false);
            if !nodes.is_empty() {
                e.bytes(b"nodes").bytes(&nodes);
            }
            let nodes6 = encode_nodes(&r.nodes6, true);
            if !nodes6.is_empty() {
                e.bytes(b"nodes6").bytes(&nodes6);
            }
            if let Some(token) = &r.token {
                e.bytes(b"token").bytes(token);
            }
            if !r.values.is_empty() {
                e.bytes(b"values").begin_list();
                for peer in &r.values {
                    e.bytes(&encode_peer(peer));
                }
                e.end();
            }
            e.end();
            e.bytes(b"t").bytes(&message.transaction);
            e.bytes(b"y").bytes(b"r");
        }
        Body::Error {
            code,
            message: text,
        } => {
            e.bytes(b"e")
                .begin_list()
                .int(*code)
                .bytes(text.as_bytes())
                .end();
            e.bytes(b"t").bytes(&message.transaction);
            e.bytes(b"y").bytes(b"e");
        }
    }
    e.end();
    e.finish()
}

#[cfg(test)]
mod tests;
