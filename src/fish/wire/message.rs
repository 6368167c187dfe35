//! Length-prefixed peer messages (BEP 3, BEP 6 fast extension, BEP 10
//! extended messages): decoding from a receive buffer and encoding.
//!
//! A message is `<u32 length><u8 id><payload>`; length 0 is a keep-alive.
//! The decoder never allocates from a length prefix: a message we must
//! read is at most [`MAX_MESSAGE_LEN`]; longer bitfields, pieces and
//! extended messages (which we never need) are reported as [`Frame::Skip`]
//! so the caller discards them as they stream by; anything longer than
//! [`MAX_SKIP_LEN`] (a 4 GB prefix, garbage) is an error.

use super::WireError;

/// The longest message kept in memory whole: a BEP 9 data message is a
/// small dictionary plus 16 KiB of metadata.
pub const MAX_MESSAGE_LEN: usize = 16 * 1024 + 1024;

/// The longest message discarded in passing: a bitfield for 16 million
/// pieces. Longer prefixes are not BitTorrent.
pub const MAX_SKIP_LEN: usize = 2 * 1024 * 1024;

pub const CHOKE: u8 = 0;
pub const UNCHOKE: u8 = 1;
pub const INTERESTED: u8 = 2;
pub const NOT_INTERESTED: u8 = 3;
pub const HAVE: u8 = 4;
pub const BITFIELD: u8 = 5;
pub const REQUEST: u8 = 6;
pub const PIECE: u8 = 7;
pub const CANCEL: u8 = 8;
pub const PORT: u8 = 9;
pub const SUGGEST_PIECE: u8 = 0x0d;
pub const HAVE_ALL: u8 = 0x0e;
pub const HAVE_NONE: u8 = 0x0f;
pub const REJECT_REQUEST: u8 = 0x10;
pub const ALLOWED_FAST: u8 = 0x11;
pub const EXTENDED: u8 = 20;

/// A block of a piece, as requested, cancelled or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub index: u32,
    pub begin: u32,
    pub length: u32,
}

/// One decoded message; payloads borrow from the receive buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have(u32),
    Bitfield(&'a [u8]),
    Request(Block),
    Piece {
        index: u32,
        begin: u32,
        data: &'a [u8],
    },
    Cancel(Block),
    Port(u16),
    SuggestPiece(u32),
    HaveAll,
    HaveNone,
    RejectRequest(Block),
    AllowedFast(u32),
    Extended {
        id: u8,
        payload: &'a [u8],
    },
    /// An id this peer does not know; BEP 3 says ignore it.
    Unknown {
        id: u8,
    },
}

/// What the start of a receive buffer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Not a whole message yet.
    Incomplete,
    /// A message and the number of bytes it took.
    Message(Message<'a>, usize),
    /// A message too long to keep that we do not need: discard `len`
    /// bytes (prefix included) as they arrive.
    Skip { id: u8, len: usize },
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = bytes.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_be_bytes(b)
}

/// Decodes the message at the start of `buf`.
pub fn decode_frame(buf: &[u8]) -> Result<Frame<'_>, WireError> {
    if buf.len() < 4 {
        return Ok(Frame::Incomplete);
    }
    let len = u32_at(buf, 0) as usize;
    if len == 0 {
        return Ok(Frame::Message(Message::KeepAlive, 4));
    }
    let Some(&id) = buf.get(4) else {
        return Ok(Frame::Incomplete);
    };
    if len > MAX_MESSAGE_LEN {
        let skippable = matches!(id, BITFIELD | PIECE | EXTENDED);
        return if skippable && len <= MAX_SKIP_LEN {
            Ok(Frame::Skip { id, len: len + 4 })
        } else {
            Err(WireError::TooLong { id, len })
        };
    }
    let Some(body) = buf.get(5..4 + len) else {
        return Ok(Frame::Incomplete);
    };
    let fixed = |want: usize| {
        if body.len() == want {
            Ok(())
        } else {
            Err(WireError::BadLength { id, len })
        }
    };
    let block = || Block {
        index: u32_at(body, 0),
        begin: u32_at(body, 4),
        length: u32_at(body, 8),
    };
    let message = match id {
        CHOKE | UNCHOKE | INTERESTED | NOT_INTERESTED | HAVE_ALL | HAVE_NONE => {
            fixed(0)?;
            match id {
                CHOKE => Message::Choke,
                UNCHOKE => Message::Unchoke,
                INTERESTED => Message::Interested,
                NOT_INTERESTED => Message::NotInterested,
                HAVE_ALL => Message::HaveAll,
                _ => Message::HaveNone,
            }
        }
        HAVE | SUGGEST_PIECE | ALLOWED_FAST => {
            fixed(4)?;
            let index = u32_at(body, 0);
            match id {
                HAVE => Message::Have(index),
                SUGGEST_PIECE => Message::SuggestPiece(index),
                _ => Message::AllowedFast(index),
            }
        }
        REQUEST | CANCEL | REJECT_REQUEST => {
            fixed(12)?;
            match id {
                REQUEST => Message::Request(block()),
                CANCEL => Message::Cancel(block()),
                _ => Message::RejectRequest(block()),
            }
        }
        PORT => {
            let [hi, lo] = *body else {
                return Err(WireError::BadLength { id, len });
            };
            Message::Port(u16::from_be_bytes([hi, lo]))
        }
        BITFIELD => Message::Bitfield(body),
        PIECE => {
            let Some((head, data)) = body.split_at_checked(8) else {
                return Err(WireError::BadLength { id, len });
            };
            Message::Piece {
                index: u32_at(head, 0),
                begin: u32_at(head, 4),
                data,
            }
        }
        EXTENDED => {
            let Some((&ext, payload)) = body.split_first() else {
                return Err(WireError::BadLength { id, len });
            };
            Message::Extended { id: ext, payload }
        }
        other => Message::Unknown { id: other },
    };
    Ok(Frame::Message(message, 4 + len))
}

/// Appends the wire form of `message` to `out`.
pub fn encode(message: &Message, out: &mut Vec<u8>) {
    let mut frame = |id: u8, parts: &[&[u8]]| {
        let len: usize = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.push(id);
        for part in parts {
            out.extend_from_slice(part);
        }
    };
    let block = |b: &Block| {
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&b.index.to_be_bytes());
        bytes[4..8].copy_from_slice(&b.begin.to_be_bytes());
        bytes[8..].copy_from_slice(&b.length.to_be_bytes());
        bytes
    };
    match message {
        Message::KeepAlive => out.extend_from_slice(&[0, 0, 0, 0]),
        Message::Choke => frame(CHOKE, &[]),
        Message::Unchoke => frame(UNCHOKE, &[]),
        Message::Interested => frame(INTERESTED, &[]),
        Message::NotInterested => frame(NOT_INTERESTED, &[]),
        Message::Have(i) => frame(HAVE, &[&i.to_be_bytes()]),
        Message::Bitfield(bits) => frame(BITFIELD, &[bits]),
        Message::Request(b) => frame(REQUEST, &[&block(b)]),
        Message::Piece { index, begin, data } => {
            frame(PIECE, &[&index.to_be_bytes(), &begin.to_be_bytes(), data])
        }
        Message::Cancel(b) => frame(CANCEL, &[&block(b)]),
        Message::Port(p) => frame(PORT, &[&p.to_be_bytes()]),
        Message::SuggestPiece(i) => frame(SUGGEST_PIECE, &[&i.to_be_bytes()]),
        Message::HaveAll => frame(HAVE_ALL, &[]),
        Message::HaveNone => frame(HAVE_NONE, &[]),
        Message::RejectRequest(b) => frame(REJECT_REQUEST, &[&block(b)]),
        Message::AllowedFast(i) => frame(ALLOWED_FAST, &[&i.to_be_bytes()]),
        Message::Extended { id, payload } => frame(EXTENDED, &[&[*id], payload]),
        Message::Unknown { id } => frame(*id, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(message: Message) {
        let mut bytes = Vec::new();
        encode(&message, &mut bytes);
        assert_eq!(
            decode_frame(&bytes),
            Ok(Frame::Message(message.clone(), bytes.len()))
        );
        for cut in 0..bytes.len() {
            assert_eq!(decode_frame(&bytes[..cut]), Ok(Frame::Incomplete));
        }
    }

    #[test]
    fn every_message_round_trips() {
        let b = Block {
            index: 1,
            begin: 16384,
            length: 16384,
        };
        for m in [
            Message::KeepAlive,
            Message::Choke,
            Message::Unchoke,
            Message::Interested,
            Message::NotInterested,
            Message::Have(7),
            Message::Bitfield(&[0xff, 0x80]),
            Message::Request(b),
            Message::Piece {
                index: 2,
                begin: 0,
                data: b"abc",
            },
            Message::Cancel(b),
            Message::Port(6881),
            Message::SuggestPiece(3),
            Message::HaveAll,
            Message::HaveNone,
            Message::RejectRequest(b),
            Message::AllowedFast(4),
            Message::Extended {
                id: 0,
                payload: b"de",
            },
            Message::Unknown { id: 99 },
        ] {
            round_trip(m);
        }
    }

    #[test]
    fn wrong_fixed_lengths_are_errors() {
        assert_eq!(
            decode_frame(&[0, 0, 0, 2, HAVE, 0]),
            Err(WireError::BadLength { id: HAVE, len: 2 })
        );
        assert_eq!(
            decode_frame(&[0, 0, 0, 2, CHOKE, 0]),
            Err(WireError::BadLength { id: CHOKE, len: 2 })
        );
        assert_eq!(
            decode_frame(&[0, 0, 0, 1, EXTENDED]),
            Err(WireError::BadLength {
                id: EXTENDED,
                len: 1
            })
        );
        assert_eq!(
            decode_frame(&[0, 0, 0, 5, PIECE, 0, 0, 0, 0]),
            Err(WireError::BadLength { id: PIECE, len: 5 })
        );
    }

    #[test]
    fn huge_prefixes() {
        assert_eq!(
            decode_frame(&[0xff, 0xff, 0xff, 0xff, BITFIELD]),
            Err(WireError::TooLong {
                id: BITFIELD,
                len: u32::MAX as usize
            })
        );
        assert_eq!(
            decode_frame(&[0, 0, 0x50, 0, REQUEST]),
            Err(WireError::TooLong {
                id: REQUEST,
                len: 0x5000
            })
        );
        assert_eq!(
            decode_frame(&[0, 1, 0, 0, BITFIELD]),
            Ok(Frame::Skip {
                id: BITFIELD,
                len: 0x10004
            })
        );
        assert_eq!(
            decode_frame(&[0xff, 0xff, 0xff, 0xff]),
            Ok(Frame::Incomplete)
        );
    }
}
