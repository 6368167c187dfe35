//! BEP 10 extension handshake and BEP 9 ut_metadata messages: how peers
//! that know only an info-hash get the info dictionary from us.
//!
//! The metadata is cut into 16 KiB pieces; a peer asks for piece `n`
//! (`msg_type` 0), we answer with `msg_type` 1, the piece's bytes after the
//! bencoded dictionary, or refuse with `msg_type` 2.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use super::WireError;
use crate::torrent::bencode::{self, Encoder, Value};

/// The id under which we receive ut_metadata messages (ours to choose;
/// the peer tells us its own in its handshake).
pub const OUR_UT_METADATA_ID: u8 = 3;

/// BEP 9 piece size.
pub const METADATA_PIECE_LEN: u32 = 16 * 1024;

/// The largest metadata we accept from a swarm when adopting a magnet
/// (and announce, when serving): real info dictionaries stay far below.
pub const MAX_METADATA_SIZE: u32 = 32 * 1024 * 1024;

/// What a peer's extension handshake tells us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtensionHandshake {
    /// The peer's id for ut_metadata messages; None when it has none or
    /// disabled it (id 0).
    pub ut_metadata: Option<u8>,
    /// The size of the info dictionary, when the peer has it.
    pub metadata_size: Option<u32>,
    /// The client name (`v`), for logs.
    pub client: Option<String>,
    /// `yourip`: the address the peer sees us at (a vote for our
    /// external address, BEP 42's DHT node id is bound to it).
    pub yourip: Option<IpAddr>,
}

/// Our extension handshake payload (after the extended id 0).
pub fn encode_extension_handshake(metadata_size: Option<u32>, listen_port: u16) -> Vec<u8> {
    let mut e = Encoder::new();
    e.begin_dict();
    e.bytes(b"m")
        .begin_dict()
        .bytes(b"ut_metadata")
        .int(i64::from(OUR_UT_METADATA_ID))
        .end();
    if let Some(size) = metadata_size {
        e.bytes(b"metadata_size").int(i64::from(size));
    }
    if listen_port != 0 {
        e.bytes(b"p").int(i64::from(listen_port));
    }
    e.bytes(b"reqq").int(16);
    e.bytes(b"v")
        .bytes(concat!("lowspace ", env!("CARGO_PKG_VERSION")).as_bytes());
    e.end();
    e.finish()
}

fn bad_extension(reason: impl Into<String>) -> WireError {
    WireError::BadExtensionHandshake(reason.into())
}

/// Reads a peer's extension handshake; unknown keys are ignored, a wrong
/// type where we look is an error.
pub fn decode_extension_handshake(payload: &[u8]) -> Result<ExtensionHandshake, WireError> {
    let value = bencode::decode(payload).map_err(|e| bad_extension(e.to_string()))?;
    if !value.is_dict() {
        return Err(bad_extension(format!("{}, not a dictionary", value.kind())));
    }
    let mut out = ExtensionHandshake::default();
    if let Some(m) = value.get(b"m") {
        if !m.is_dict() {
            return Err(bad_extension(format!("m is {}", m.kind())));
        }
        if let Some(id) = m.get(b"ut_metadata") {
            let id = id
                .as_int()
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| bad_extension("m.ut_metadata is not an id from 0 to 255"))?;
            out.ut_metadata = (id != 0).then_some(id);
        }
    }
    if let Some(size) = value.get(b"metadata_size") {
        let size = size
            .as_int()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n > 0 && n <= MAX_METADATA_SIZE)
            .ok_or_else(|| bad_extension("metadata_size out of range"))?;
        out.metadata_size = Some(size);
    }
    if let Some(v) = value.get(b"v").and_then(Value::as_bytes) {
        out.client = Some(String::from_utf8_lossy(v).chars().take(64).collect());
    }
    // Advice only: a malformed one is ignored, not a reason to hang up.
    out.yourip = value
        .get(b"yourip")
        .and_then(Value::as_bytes)
        .and_then(|b| match b.len() {
            4 => <[u8; 4]>::try_from(b)
                .ok()
                .map(|o| IpAddr::V4(Ipv4Addr::from(o))),
            16 => <[u8; 16]>::try_from(b)
                .ok()
                .map(|o| IpAddr::V6(Ipv6Addr::from(o))),
            _ => None,
        });
    Ok(out)
}

/// One ut_metadata message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataMessage<'a> {
    Request {
        piece: u32,
    },
    Data {
        piece: u32,
        total_size: u32,
        data: &'a [u8],
    },
    Reject {
        piece: u32,
    },
}

fn bad_metadata(reason: impl Into<String>) -> WireError {
    WireError::BadMetadataMessage(reason.into())
}

/// Reads a ut_metadata message (the extended payload after its id).
pub fn decode_metadata_message(payload: &[u8]) -> Result<MetadataMessage<'_>, WireError> {
    let (dict, used) = bencode::decode_prefix(payload).map_err(|e| bad_metadata(e.to_string()))?;
    let int = |key: &str| {
        dict.get(key.as_bytes())
            .and_then(Value::as_int)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad_metadata(format!("{key} missing or out of range")))
    };
    let msg_type = int("msg_type")?;
    let piece = int("piece")?;
    let trailer = payload.get(used..).unwrap_or(&[]);
    match msg_type {
        0 | 2 if !trailer.is_empty() => Err(bad_metadata("bytes after a request or reject")),
        0 => Ok(MetadataMessage::Request { piece }),
        2 => Ok(MetadataMessage::Reject { piece }),
        1 => Ok(MetadataMessage::Data {
            piece,
            total_size: int("total_size")?,
            data: trailer,
        }),
        other => Err(bad_metadata(format!("unknown msg_type {other}"))),
    }
}

/// The wire payload of a ut_metadata message (to send under the peer's id).
pub fn encode_metadata_message(message: &MetadataMessage) -> Vec<u8> {
    let mut e = Encoder::new();
    let (msg_type, piece) = match message {
        MetadataMessage::Request { piece } => (0, piece),
        MetadataMessage::Data { piece, .. } => (1, piece),
        MetadataMessage::Reject { piece } => (2, piece),
    };
    e.begin_dict()
        .bytes(b"msg_type")
        .int(msg_type)
        .bytes(b"piece")
        .int(i64::from(*piece));
    if let MetadataMessage::Data {
        total_size, data, ..
    } = message
    {
        e.bytes(b"total_size").int(i64::from(*total_size)).end();
        e.raw(data);
    } else {
        e.end();
    }
    e.finish()
}

/// How many 16 KiB pieces metadata of `size` bytes has.
pub fn piece_count(size: u32) -> u32 {
    size.div_ceil(METADATA_PIECE_LEN)
}

/// The byte range of metadata piece `piece`, or None past the end.
pub fn piece_range(size: u32, piece: u32) -> Option<Range<u32>> {
    let start = piece.checked_mul(METADATA_PIECE_LEN)?;
    if start >= size {
        return None;
    }
    Some(start..size.min(start.saturating_add(METADATA_PIECE_LEN)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_handshake_reads_back() {
        let payload = encode_extension_handshake(Some(40000), 6881);
        let hs = decode_extension_handshake(&payload).unwrap();
        assert_eq!(hs.ut_metadata, Some(OUR_UT_METADATA_ID));
        assert_eq!(hs.metadata_size, Some(40000));
        assert!(hs.client.unwrap().starts_with("lowspace"));
        assert_eq!(
            decode_extension_handshake(&encode_extension_handshake(None, 0))
                .unwrap()
                .metadata_size,
            None
        );
    }

    #[test]
    fn peer_handshakes_tolerated_and_refused() {
        // Unsorted keys, extra keys, ut_metadata 0 (disabled).
        let hs = decode_extension_handshake(b"d1:v2:xx1:md6:ut_pexi1e11:ut_metadatai0eee").unwrap();
        assert_eq!(hs.ut_metadata, None);
        assert_eq!(hs.client.as_deref(), Some("xx"));
        assert_eq!(hs.yourip, None);
        // yourip (BEP 10), 4 or 16 bytes; any other length is ignored.
        let hs = decode_extension_handshake(b"d6:yourip4:\x51\x02\x03\x04e").unwrap();
        assert_eq!(hs.yourip, Some("81.2.3.4".parse().unwrap()));
        let hs =
            decode_extension_handshake(b"d6:yourip16:\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01e")
                .unwrap();
        assert_eq!(hs.yourip, Some("2001:db8::1".parse().unwrap()));
        let hs = decode_extension_handshake(b"d6:yourip3:abce").unwrap();
        assert_eq!(hs.yourip, None);
        for bad in [
            &b"le"[..],
            b"d1:mi1ee",
            b"d1:md11:ut_metadatai300eee",
            b"d13:metadata_sizei-1ee",
            b"d13:metadata_sizei0ee",
            b"d13:metadata_sizei99999999999ee",
            b"d1:m",
        ] {
            assert!(
                matches!(
                    decode_extension_handshake(bad),
                    Err(WireError::BadExtensionHandshake(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn metadata_messages_round_trip() {
        for m in [
            MetadataMessage::Request { piece: 2 },
            MetadataMessage::Reject { piece: 0 },
            MetadataMessage::Data {
                piece: 1,
                total_size: 16390,
                data: b"d4:infoe",
            },
        ] {
            assert_eq!(
                decode_metadata_message(&encode_metadata_message(&m)).unwrap(),
                m
            );
        }
        assert_eq!(
            encode_metadata_message(&MetadataMessage::Request { piece: 0 }),
            b"d8:msg_typei0e5:piecei0ee"
        );
    }

    #[test]
    fn bad_metadata_messages() {
        for bad in [
            &b"d5:piecei0ee"[..],
            b"d8:msg_typei0ee",
            b"d8:msg_typei7e5:piecei0ee",
            b"d8:msg_typei0e5:piecei-1ee",
            b"d8:msg_typei0e5:piecei0eeXX",
            b"d8:msg_typei1e5:piecei0ee",
            b"x",
        ] {
            assert!(
                matches!(
                    decode_metadata_message(bad),
                    Err(WireError::BadMetadataMessage(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn pieces() {
        assert_eq!(piece_count(1), 1);
        assert_eq!(piece_count(16384), 1);
        assert_eq!(piece_count(16385), 2);
        assert_eq!(piece_range(16385, 1), Some(16384..16385));
        assert_eq!(piece_range(16384, 1), None);
        assert_eq!(piece_range(100, u32::MAX), None);
    }
}
