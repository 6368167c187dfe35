//! The BitTorrent handshake (BEP 3): `19 "BitTorrent protocol"`, eight
//! reserved bytes (feature bits), the info-hash and the peer id: 68 bytes.

use super::WireError;
use crate::torrent::InfoHash;

/// Length of a handshake on the wire.
pub const HANDSHAKE_LEN: usize = 68;

/// The first 20 bytes of every handshake.
const PROTOCOL: &[u8; 20] = b"\x13BitTorrent protocol";

/// BEP 10: the extension protocol, bit 20 from the right (reserved[5] & 0x10).
const EXTENSION_BYTE: usize = 5;
const EXTENSION_BIT: u8 = 0x10;
/// BEP 6: the fast extension (reserved[7] & 0x04).
const FAST_BYTE: usize = 7;
const FAST_BIT: u8 = 0x04;
/// BEP 5: the peer runs a DHT node and will send a PORT message.
const DHT_BIT: u8 = 0x01;

/// What a handshake says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    pub reserved: [u8; 8],
    pub info_hash: InfoHash,
    pub peer_id: [u8; 20],
}

/// Reserved bytes, info hash and peer id of a whole handshake (after the
/// 20 protocol bytes); None until all of its 68 bytes are there.
fn fields(buf: &[u8]) -> Option<(&[u8; 8], &[u8; 20], &[u8; 20])> {
    let (_protocol, rest) = buf.split_first_chunk::<20>()?;
    let (reserved, rest) = rest.split_first_chunk::<8>()?;
    let (hash, rest) = rest.split_first_chunk::<20>()?;
    let (peer_id, _) = rest.split_first_chunk::<20>()?;
    Some((reserved, hash, peer_id))
}

impl Handshake {
    /// Our handshake: extension protocol and fast extension always, the DHT
    /// bit when we run a node.
    pub fn ours(info_hash: InfoHash, peer_id: [u8; 20], dht: bool) -> Handshake {
        let mut reserved = [0u8; 8];
        reserved[EXTENSION_BYTE] |= EXTENSION_BIT;
        reserved[FAST_BYTE] |= FAST_BIT;
        if dht {
            reserved[FAST_BYTE] |= DHT_BIT;
        }
        Handshake {
            reserved,
            info_hash,
            peer_id,
        }
    }

    pub fn supports_extensions(&self) -> bool {
        self.reserved[EXTENSION_BYTE] & EXTENSION_BIT != 0
    }

    pub fn supports_fast(&self) -> bool {
        self.reserved[FAST_BYTE] & FAST_BIT != 0
    }

    pub fn supports_dht(&self) -> bool {
        self.reserved[FAST_BYTE] & DHT_BIT != 0
    }

    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        out[..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&self.reserved);
        out[28..48].copy_from_slice(self.info_hash.as_bytes());
        out[48..68].copy_from_slice(&self.peer_id);
        out
    }

    /// Reads a handshake from the start of `buf`: `Ok(None)` while fewer
    /// than 68 bytes are there. A wrong protocol string is refused as soon
    /// as its first differing byte arrives, so garbage costs nothing.
    pub fn decode(buf: &[u8]) -> Result<Option<Handshake>, WireError> {
        let seen = buf.len().min(PROTOCOL.len());
        if buf.get(..seen) != PROTOCOL.get(..seen) {
            return Err(WireError::NotBitTorrent);
        }
        let Some((reserved, hash, peer_id)) = fields(buf) else {
            return Ok(None);
        };
        Ok(Some(Handshake {
            reserved: *reserved,
            info_hash: InfoHash::from_bytes(*hash),
            peer_id: *peer_id,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_feature_bits() {
        let ours = Handshake::ours(InfoHash::from_bytes([7; 20]), [9; 20], false);
        let bytes = ours.encode();
        assert_eq!(&bytes[..20], b"\x13BitTorrent protocol");
        assert_eq!(bytes[25], 0x10);
        assert_eq!(bytes[27], 0x04);
        let back = Handshake::decode(&bytes).unwrap().unwrap();
        assert_eq!(back, ours);
        assert!(back.supports_extensions() && back.supports_fast() && !back.supports_dht());
        assert!(Handshake::ours(InfoHash::from_bytes([0; 20]), [0; 20], true).supports_dht());
    }

    #[test]
    fn partial_and_garbage() {
        let bytes = Handshake::ours(InfoHash::from_bytes([1; 20]), [2; 20], false).encode();
        for cut in 0..HANDSHAKE_LEN {
            assert_eq!(Handshake::decode(&bytes[..cut]), Ok(None), "{cut}");
        }
        assert_eq!(
            Handshake::decode(b"GET / HTTP/1.1\r\n"),
            Err(WireError::NotBitTorrent)
        );
        assert_eq!(Handshake::decode(b"\x13Bit"), Ok(None));
        assert_eq!(Handshake::decode(b"\x13Bix"), Err(WireError::NotBitTorrent));
    }
}
