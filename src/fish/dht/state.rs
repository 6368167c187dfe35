//! The DHT's memory across restarts, STATE_DIR/dht.json: our node id
//! (other nodes know us by it; a new id each start would throw away our
//! place in their tables) and the nodes that answered us last time, so a
//! restart rejoins without the bootstrap routers.
//!
//! A missing file is a first start; an unreadable or corrupt one is a
//! warning and a fresh start, never a stop.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::node_id::{NodeId, NodeInfo};

/// Nodes saved, at most (the closest-to-full table is 160×8; the
/// freshest few hundred are plenty to rejoin).
pub const MAX_SAVED_NODES: usize = 300;

#[derive(Debug, Serialize, Deserialize)]
struct File {
    /// Hex node id.
    id: String,
    nodes: Vec<SavedNode>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedNode {
    id: String,
    addr: String,
}

/// What a state file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhtState {
    pub id: NodeId,
    pub nodes: Vec<NodeInfo>,
}

/// Reads the state; Ok(None) when there is none yet; Err says why the
/// file is unusable (the caller warns and starts fresh).
pub fn load(path: &Path) -> Result<Option<DhtState>, String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    parse(&text)
        .map(Some)
        .map_err(|why| format!("{}: {why}", path.display()))
}

/// The file's bytes to a state (a bad node entry is skipped; a bad id
/// makes the whole file unusable).
pub fn parse(text: &[u8]) -> Result<DhtState, String> {
    let file: File = serde_json::from_slice(text).map_err(|e| format!("not DHT state: {e}"))?;
    let id = NodeId::from_hex(&file.id)
        .ok_or_else(|| format!("id {:?} is not 40 hex digits", file.id))?;
    let nodes = file
        .nodes
        .iter()
        .take(MAX_SAVED_NODES)
        .filter_map(|n| {
            Some(NodeInfo {
                id: NodeId::from_hex(&n.id)?,
                addr: n.addr.parse::<SocketAddr>().ok()?,
            })
        })
        .collect();
    Ok(DhtState { id, nodes })
}

pub fn render(state: &DhtState) -> Vec<u8> {
    let file = File {
        id: state.id.to_hex(),
        nodes: state
            .nodes
            .iter()
            .take(MAX_SAVED_NODES)
            .map(|n| SavedNode {
                id: n.id.to_hex(),
                addr: n.addr.to_string(),
            })
            .collect(),
    };
    let mut out = serde_json::to_vec_pretty(&file).unwrap_or_default();
    out.push(b'\n');
    out
}

pub fn save(path: &Path, state: &DhtState) -> std::io::Result<()> {
    crate::fsutil::write_atomic(path, &render(state))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn round_trips_and_skips_bad_nodes() {
        let state = DhtState {
            id: NodeId([7; 20]),
            nodes: vec![NodeInfo {
                id: NodeId([8; 20]),
                addr: SocketAddr::new(Ipv4Addr::new(127, 0, 0, 1).into(), 6881),
            }],
        };
        assert_eq!(parse(&render(&state)).unwrap(), state);
        // The IPv6 node's dht6.json: addresses in brackets.
        let six = DhtState {
            id: NodeId([9; 20]),
            nodes: vec![NodeInfo {
                id: NodeId([8; 20]),
                addr: "[2001:db8::1]:6881".parse().unwrap(),
            }],
        };
        assert!(String::from_utf8_lossy(&render(&six)).contains("[2001:db8::1]:6881"));
        assert_eq!(parse(&render(&six)).unwrap(), six);
        let text = br#"{"id":"0707070707070707070707070707070707070707","nodes":[{"id":"xx","addr":"1.2.3.4:5"},{"id":"0808080808080808080808080808080808080808","addr":"nope"}]}"#;
        assert_eq!(parse(text).unwrap().nodes, vec![]);
    }

    #[test]
    fn corrupt_files_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            br#"{"id":"12","nodes":[]}"#,
            b"\xff\xfe",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let dir = std::env::temp_dir().join(format!("lowspace-dht-state-{}", std::process::id()));
        assert_eq!(load(&dir.join("missing.json")), Ok(None));
    }
}
