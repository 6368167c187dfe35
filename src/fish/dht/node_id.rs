//! Node ids, XOR distance and the 26-byte compact node info (BEP 5).
//!
//! The DHT places nodes and info-hashes in one 160-bit space; "close"
//! means a small XOR of the two. Everything here is pure.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

/// Bytes of compact node info: 20 of id, 4 of IPv4, 2 of port.
pub const COMPACT_NODE_LEN: usize = 26;
/// Bytes of a compact peer: 4 of IPv4, 2 of port.
pub const COMPACT_PEER_LEN: usize = 6;

/// A DHT node id (or an info-hash seen as a point of the same space).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; 20]);

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl NodeId {
    /// A fresh random id (from the kernel; a hash of the clock and PID
    /// if /dev/urandom cannot be read: ids need spread, not secrecy).
    pub fn random() -> NodeId {
        NodeId(crate::sys::random_bytes())
    }

    /// XOR distance to `other`.
    pub fn distance(&self, other: &[u8; 20]) -> [u8; 20] {
        let mut d = [0u8; 20];
        for ((slot, a), b) in d.iter_mut().zip(self.0).zip(other) {
            *slot = a ^ b;
        }
        d
    }

    /// How many leading bits `other` shares with us: the k-bucket it
    /// belongs in (0 = the far half of the space). None for our own id.
    pub fn shared_prefix_bits(&self, other: &[u8; 20]) -> Option<usize> {
        let mut bits = 0;
        for byte in self.distance(other) {
            if byte == 0 {
                bits += 8;
            } else {
                return Some(bits + byte.leading_zeros() as usize);
            }
        }
        None
    }

    /// A random id sharing exactly `bits` leading bits with us (the
    /// target of a bucket refresh).
    pub fn random_in_bucket(&self, bits: usize) -> NodeId {
        let mut out = crate::sys::random_bytes();
        for i in 0..160usize.min(bits + 1) {
            let byte = i / 8;
            let mask = 0x80u8 >> (i % 8);
            let ours = self.0.get(byte).copied().unwrap_or(0) & mask;
            let want = if i == bits { ours ^ mask } else { ours };
            if let Some(slot) = out.get_mut(byte) {
                *slot = (*slot & !mask) | want;
            }
        }
        NodeId(out)
    }

    pub fn to_hex(&self) -> String {
        crate::torrent::InfoHash::from_bytes(self.0).to_hex()
    }

    /// 40 hex digits, either case.
    pub fn from_hex(text: &str) -> Option<NodeId> {
        crate::torrent::InfoHash::from_hex(text)
            .ok()
            .map(|h| NodeId(*h.as_bytes()))
    }

    pub fn from_slice(bytes: &[u8]) -> Option<NodeId> {
        <[u8; 20]>::try_from(bytes).ok().map(NodeId)
    }
}

/// A node as the DHT passes it around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeInfo {
    pub id: NodeId,
    pub addr: SocketAddrV4,
}

/// Compact node info for a `nodes` field.
pub fn encode_nodes(nodes: &[NodeInfo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nodes.len() * COMPACT_NODE_LEN);
    for node in nodes {
        out.extend_from_slice(&node.id.0);
        out.extend_from_slice(&encode_peer(&node.addr));
    }
    out
}

/// A compact peer for a `values` entry.
pub fn encode_peer(addr: &SocketAddrV4) -> [u8; COMPACT_PEER_LEN] {
    let [a, b, c, d] = addr.ip().octets();
    let [p, q] = addr.port().to_be_bytes();
    [a, b, c, d, p, q]
}

/// Reads a 6-byte compact peer (None for any other length).
pub fn decode_peer(bytes: &[u8]) -> Option<SocketAddrV4> {
    match bytes {
        [a, b, c, d, p, q] => Some(SocketAddrV4::new(
            Ipv4Addr::new(*a, *b, *c, *d),
            u16::from_be_bytes([*p, *q]),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(first: u8) -> NodeId {
        let mut b = [0u8; 20];
        b[0] = first;
        NodeId(b)
    }

    #[test]
    fn shared_prefix_is_the_bucket() {
        let me = id(0);
        assert_eq!(me.shared_prefix_bits(&id(0x80).0), Some(0));
        assert_eq!(me.shared_prefix_bits(&id(0x40).0), Some(1));
        assert_eq!(me.shared_prefix_bits(&id(0x01).0), Some(7));
        let mut last = [0u8; 20];
        last[19] = 1;
        assert_eq!(me.shared_prefix_bits(&last), Some(159));
        assert_eq!(me.shared_prefix_bits(&me.0), None);
    }

    #[test]
    fn random_in_bucket_lands_in_that_bucket() {
        let me = NodeId::random();
        for bits in [0, 1, 7, 8, 9, 100, 159] {
            let target = me.random_in_bucket(bits);
            assert_eq!(me.shared_prefix_bits(&target.0), Some(bits), "{bits}");
        }
    }

    #[test]
    fn compact_round_trip() {
        let addr = SocketAddrV4::new(Ipv4Addr::new(10, 1, 2, 3), 6881);
        assert_eq!(decode_peer(&encode_peer(&addr)), Some(addr));
        assert_eq!(decode_peer(&[1, 2, 3]), None);
        let node = NodeInfo { id: id(7), addr };
        assert_eq!(encode_nodes(&[node]).len(), COMPACT_NODE_LEN);
    }

    #[test]
    fn hex_round_trip() {
        let me = NodeId::random();
        assert_eq!(NodeId::from_hex(&me.to_hex()), Some(me));
        assert_eq!(NodeId::from_hex("zz"), None);
    }
}
