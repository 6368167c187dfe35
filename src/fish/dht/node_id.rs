//! Node ids, XOR distance, compact node info (26 bytes, BEP 5; 38 for
//! IPv6, BEP 32) and ids bound to an address (BEP 42).
//!
//! The DHT places nodes and info-hashes in one 160-bit space; "close"
//! means a small XOR of the two. Everything here is pure.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Bytes of compact node info: 20 of id, 4 of IPv4, 2 of port.
pub const COMPACT_NODE_LEN: usize = 26;
/// Bytes of IPv6 compact node info (BEP 32): 20 of id, 16 of IPv6, 2 of port.
pub const COMPACT_NODE6_LEN: usize = 38;
/// Bytes of a compact peer: 4 of IPv4, 2 of port.
pub const COMPACT_PEER_LEN: usize = 6;
/// Bytes of an IPv6 compact peer: 16 of IPv6, 2 of port.
pub const COMPACT_PEER6_LEN: usize = 18;

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
    pub addr: SocketAddr,
}

/// Compact node info of the nodes of one family: `nodes` (IPv4, `v6`
/// false) or `nodes6` (IPv6); nodes of the other family are left out.
pub fn encode_nodes(nodes: &[NodeInfo], v6: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for node in nodes.iter().filter(|n| n.addr.is_ipv6() == v6) {
        out.extend_from_slice(&node.id.0);
        out.extend_from_slice(&encode_peer(&node.addr));
    }
    out
}

/// Reads a `nodes` (26-byte entries) or `nodes6` (38-byte) string; None
/// when its length is not a multiple of `entry`.
pub fn decode_nodes(bytes: &[u8], entry: usize) -> Option<Vec<NodeInfo>> {
    if entry <= 20 || !bytes.len().is_multiple_of(entry) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(entry)
            .filter_map(|chunk| {
                let (id, addr) = chunk.split_at(20);
                Some(NodeInfo {
                    id: NodeId::from_slice(id)?,
                    addr: decode_peer(addr)?,
                })
            })
            .collect(),
    )
}

/// A compact peer for a `values` entry: 6 bytes for IPv4, 18 for IPv6.
pub fn encode_peer(addr: &SocketAddr) -> Vec<u8> {
    let mut out = match addr.ip() {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    out.extend_from_slice(&addr.port().to_be_bytes());
    out
}

/// Reads a 6-byte (IPv4) or 18-byte (IPv6) compact peer (None for any
/// other length).
pub fn decode_peer(bytes: &[u8]) -> Option<SocketAddr> {
    let (ip, port) = bytes.split_at_checked(bytes.len().checked_sub(2)?)?;
    let port = u16::from_be_bytes(<[u8; 2]>::try_from(port).ok()?);
    match ip.len() {
        4 => {
            let octets = <[u8; 4]>::try_from(ip).ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(octets),
                port,
            )))
        }
        16 => {
            let octets = <[u8; 16]>::try_from(ip).ok()?;
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(octets),
                port,
                0,
                0,
            )))
        }
        _ => None,
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 one it is (a dual-stack
/// socket reports IPv4 senders that way).
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, a.port())),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// CRC-32C (Castagnoli), the checksum BEP 42 ids are made of; bitwise,
/// as it runs a few times per node answer, never on bulk data.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82f6_3b78 & mask);
        }
    }
    !crc
}

/// The BEP 42 checksum of `ip` with the 3 random bits `r`: its first 21
/// bits are the first 21 bits of every id valid for that address.
fn bep42_crc(ip: IpAddr, r: u8) -> u32 {
    let r = r & 7;
    match ip {
        IpAddr::V4(ip) => {
            let masked = (u32::from(ip) & 0x030f_3fff) | (u32::from(r) << 29);
            crc32c(&masked.to_be_bytes())
        }
        IpAddr::V6(ip) => {
            const MASK: [u8; 8] = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];
            let mut high = [0u8; 8];
            for ((slot, byte), mask) in high.iter_mut().zip(ip.octets()).zip(MASK) {
                *slot = byte & mask;
            }
            if let Some(first) = high.first_mut() {
                *first |= r << 5;
            }
            crc32c(&high)
        }
    }
}

/// Addresses BEP 42 does not bind ids to: local networks, where many
/// nodes share an address space nobody outside can reach.
pub fn bep42_exempt(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            ip.is_private() || ip.is_loopback() || ip.is_link_local() || ip.is_unspecified()
        }
        IpAddr::V6(ip) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_unique_local()
                || ip.is_unicast_link_local()
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| bep42_exempt(IpAddr::V4(v4)))
        }
    }
}

/// A BEP 42 id for `ip`: the checksum's first 21 bits, then `random`,
/// the last byte being `rand` (whose low 3 bits salted the checksum).
pub fn bep42_id(ip: IpAddr, rand: u8, random: [u8; 20]) -> NodeId {
    let crc = bep42_crc(ip, rand).to_be_bytes();
    let mut id = random;
    id[0] = crc[0];
    id[1] = crc[1];
    id[2] = (crc[2] & 0xf8) | (random[2] & 0x07);
    id[19] = rand;
    NodeId(id)
}

/// True when `id` is one BEP 42 allows at `ip` (always for exempt
/// addresses).
pub fn bep42_valid(id: &NodeId, ip: IpAddr) -> bool {
    if bep42_exempt(ip) {
        return true;
    }
    let crc = bep42_crc(ip, id.0[19]).to_be_bytes();
    id.0[0] == crc[0] && id.0[1] == crc[1] && (id.0[2] & 0xf8) == (crc[2] & 0xf8)
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
        let addr: SocketAddr = "10.1.2.3:6881".parse().unwrap();
        let addr6: SocketAddr = "[2001:db8::7]:6881".parse().unwrap();
        assert_eq!(decode_peer(&encode_peer(&addr)), Some(addr));
        assert_eq!(decode_peer(&encode_peer(&addr6)), Some(addr6));
        assert_eq!(encode_peer(&addr6).len(), COMPACT_PEER6_LEN);
        assert_eq!(decode_peer(&[1, 2, 3]), None);
        assert_eq!(decode_peer(&[]), None);
        let node = NodeInfo { id: id(7), addr };
        let node6 = NodeInfo {
            id: id(8),
            addr: addr6,
        };
        let v4 = encode_nodes(&[node, node6], false);
        let v6 = encode_nodes(&[node, node6], true);
        assert_eq!(v4.len(), COMPACT_NODE_LEN);
        assert_eq!(v6.len(), COMPACT_NODE6_LEN);
        assert_eq!(decode_nodes(&v4, COMPACT_NODE_LEN), Some(vec![node]));
        assert_eq!(decode_nodes(&v6, COMPACT_NODE6_LEN), Some(vec![node6]));
        assert_eq!(decode_nodes(&v6, COMPACT_NODE_LEN), None);
        let mapped: SocketAddr = "[::ffff:1.2.3.4]:5".parse().unwrap();
        assert_eq!(canonical(mapped), "1.2.3.4:5".parse().unwrap());
        assert_eq!(canonical(addr6), addr6);
    }

    /// The examples of BEP 42: IP, rand, and the id prefix (the first 21
    /// bits are the checksum's; the rest of the third byte is random).
    #[test]
    fn bep42_ids_match_the_vectors_of_the_bep() {
        let vectors = [
            (
                "124.31.75.21",
                1,
                "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401",
            ),
            (
                "21.75.31.124",
                86,
                "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256",
            ),
            (
                "65.23.51.170",
                22,
                "a5d43220bc8f112a3d426c84764f8c2a1150e616",
            ),
            (
                "84.124.73.14",
                65,
                "1b0321dd1bb1fe518101ceef99462b947a01ff41",
            ),
            (
                "43.213.53.83",
                90,
                "e56f6cbf5b7c4be0237986d5243b87aa6d51305a",
            ),
        ];
        for (ip, rand, example) in vectors {
            let ip: IpAddr = ip.parse().unwrap();
            let example = NodeId::from_hex(example).unwrap();
            assert!(bep42_valid(&example, ip), "{ip}: the BEP's own id");
            let ours = bep42_id(ip, rand, [0x55; 20]);
            assert_eq!(ours.0[..2], example.0[..2], "{ip}");
            assert_eq!(ours.0[2] & 0xf8, example.0[2] & 0xf8, "{ip}");
            assert_eq!(ours.0[19], rand, "{ip}");
            assert!(bep42_valid(&ours, ip), "{ip}");
            // Another address, or a flipped bit in the prefix, is invalid.
            assert!(!bep42_valid(&example, "1.2.3.4".parse().unwrap()));
            let mut flipped = example;
            flipped.0[2] ^= 0x08;
            assert!(!bep42_valid(&flipped, ip), "{ip}");
        }
    }

    #[test]
    fn bep42_binds_ipv6_ids_too_and_exempts_local_addresses() {
        let ip: IpAddr = "2001:db8:85a3::8a2e:370:7334".parse().unwrap();
        let id = bep42_id(ip, 0x2b, NodeId::random().0);
        assert!(bep42_valid(&id, ip));
        assert!(!bep42_valid(&id, "2001:db9::1".parse().unwrap()));
        let random = NodeId([0xaa; 20]);
        for local in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.9",
            "::1",
            "fd00::1",
            "fe80::1",
        ] {
            let ip: IpAddr = local.parse().unwrap();
            assert!(bep42_exempt(ip), "{local}");
            assert!(bep42_valid(&random, ip), "{local}");
        }
        assert!(!bep42_exempt("8.8.8.8".parse().unwrap()));
        assert!(!bep42_exempt("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn hex_round_trip() {
        let me = NodeId::random();
        assert_eq!(NodeId::from_hex(&me.to_hex()), Some(me));
        assert_eq!(NodeId::from_hex("zz"), None);
    }
}
