//! The crate's one bencode decoder and encoder: .torrent files
//! ([`super::metainfo`], [`super::create`]), BEP 10 extension handshakes,
//! BEP 9 ut_metadata messages, tracker responses and DHT (KRPC) packets.
//!
//! Tolerant on purpose: dictionaries are kept in the order received,
//! sorted or not. Peers, trackers and DHT nodes in the wild send unsorted
//! dictionaries, and so do some old .torrent files that rtorrent and
//! libtorrent load; refusing them would cut us off. Nothing is lost by
//! tolerance, because nothing is re-encoded: the info-hash is taken over
//! the bytes as they came.
//!
//! Bounds, so hostile input costs little: nesting depth is capped, every
//! length is checked against the bytes actually there (no allocation is
//! sized from a length prefix), and integers must fit an `i64`.

use std::fmt;

/// Deep enough for every real message and torrent (KRPC is three levels,
/// `info.files[i].path[j]` five), shallow enough that recursion on hostile
/// input cannot exhaust a small stack.
pub const MAX_DEPTH: usize = 32;

/// One decoded value, borrowing strings from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    List(Vec<Value<'a>>),
    /// Pairs in the order received; a repeated key keeps its first value
    /// for [`Value::get`].
    Dict(Vec<(&'a [u8], Value<'a>)>),
}

/// Why bytes are not a bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BencodeError {
    /// The input ends inside a value.
    Truncated,
    /// A byte that cannot start or continue a value, at this offset.
    Unexpected { offset: usize, byte: u8 },
    /// An integer or string length that is malformed or out of range.
    BadNumber { offset: usize },
    /// Dictionary key that is not a string.
    KeyNotString { offset: usize },
    /// Lists or dictionaries nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Bytes after a complete value where none were expected.
    Trailing { offset: usize },
}

impl fmt::Display for BencodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BencodeError::Truncated => f.write_str("bencode truncated"),
            BencodeError::Unexpected { offset, byte } => {
                write!(f, "unexpected byte 0x{byte:02x} at offset {offset}")
            }
            BencodeError::BadNumber { offset } => {
                write!(f, "bad integer or string length at offset {offset}")
            }
            BencodeError::KeyNotString { offset } => {
                write!(f, "dictionary key at offset {offset} is not a string")
            }
            BencodeError::TooDeep => write!(f, "nested more than {MAX_DEPTH} levels"),
            BencodeError::Trailing { offset } => {
                write!(f, "unexpected bytes after the value at offset {offset}")
            }
        }
    }
}

impl std::error::Error for BencodeError {}

impl<'a> Value<'a> {
    /// The value of `key` in a dictionary (first one if repeated).
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        match self {
            Value::Dict(pairs) => pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_dict(&self) -> bool {
        matches!(self, Value::Dict(_))
    }

    /// A short name of the kind, for errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Int(_) => "an integer",
            Value::Bytes(_) => "a string",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dictionary",
        }
    }
}

/// Decodes exactly one value filling all of `input`.
pub fn decode(input: &[u8]) -> Result<Value<'_>, BencodeError> {
    let (value, used) = decode_prefix(input)?;
    if used < input.len() {
        return Err(BencodeError::Trailing { offset: used });
    }
    Ok(value)
}

/// Decodes one value at the start of `input` and says how many bytes it
/// took: a ut_metadata `data` message is a dictionary followed by raw bytes.
pub fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, usize), BencodeError> {
    let mut parser = Parser { input, pos: 0 };
    let value = parser.value(0)?;
    Ok((value, parser.pos))
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Result<u8, BencodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(BencodeError::Truncated)
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, BencodeError> {
        if depth > MAX_DEPTH {
            return Err(BencodeError::TooDeep);
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let n = self.integer_until(b'e')?;
                Ok(Value::Int(n))
            }
            b'0'..=b'9' => self.bytes().map(Value::Bytes),
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.pos += 1;
                let mut pairs = Vec::new();
                while self.peek()? != b'e' {
                    let at = self.pos;
                    if !self.peek()?.is_ascii_digit() {
                        return Err(BencodeError::KeyNotString { offset: at });
                    }
                    let key = self.bytes()?;
                    let value = self.value(depth + 1)?;
                    pairs.push((key, value));
                }
                self.pos += 1;
                Ok(Value::Dict(pairs))
            }
            byte => Err(BencodeError::Unexpected {
                offset: self.pos,
                byte,
            }),
        }
    }

    /// Digits (with an optional leading minus) up to `end`, consumed.
    fn integer_until(&mut self, end: u8) -> Result<i64, BencodeError> {
        let start = self.pos;
        let rest = self.input.get(start..).ok_or(BencodeError::Truncated)?;
        let len = rest
            .iter()
            .position(|&b| b == end)
            .ok_or(BencodeError::Truncated)?;
        let digits = rest.get(..len).ok_or(BencodeError::Truncated)?;
        let bad = BencodeError::BadNumber { offset: start };
        let text = std::str::from_utf8(digits).map_err(|_| bad.clone())?;
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad);
        }
        let n = text.parse::<i64>().map_err(|_| bad)?;
        self.pos = start + len + 1;
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], BencodeError> {
        let at = self.pos;
        let len = self.integer_until(b':')?;
        let len = usize::try_from(len).map_err(|_| BencodeError::BadNumber { offset: at })?;
        let end = self.pos.checked_add(len).ok_or(BencodeError::Truncated)?;
        let bytes = self
            .input
            .get(self.pos..end)
            .ok_or(BencodeError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }
}

/// Writes bencode by hand-sized pieces. Dictionaries are written in the
/// order the caller gives: callers list keys sorted, as BEP 3 asks.
#[derive(Default)]
pub struct Encoder {
    out: Vec<u8>,
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder::default()
    }

    pub fn int(&mut self, n: i64) -> &mut Self {
        self.out.push(b'i');
        self.out.extend_from_slice(n.to_string().as_bytes());
        self.out.push(b'e');
        self
    }

    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.out.extend_from_slice(b.len().to_string().as_bytes());
        self.out.push(b':');
        self.out.extend_from_slice(b);
        self
    }

    /// Already-encoded bencode, inserted as is (an info dictionary).
    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.out.extend_from_slice(b);
        self
    }

    pub fn begin_dict(&mut self) -> &mut Self {
        self.out.push(b'd');
        self
    }

    pub fn begin_list(&mut self) -> &mut Self {
        self.out.push(b'l');
        self
    }

    pub fn end(&mut self) -> &mut Self {
        self.out.push(b'e');
        self
    }

    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_kind_and_keeps_unsorted_keys() {
        let v = decode(b"d1:bi-3e1:al2:xye1:dd0:0:ee").unwrap();
        assert_eq!(v.get(b"b").and_then(Value::as_int), Some(-3));
        assert_eq!(
            v.get(b"a").and_then(Value::as_list),
            Some(&[Value::Bytes(b"xy")][..])
        );
        assert_eq!(v.get(b"d").unwrap().get(b""), Some(&Value::Bytes(b"")));
    }

    #[test]
    fn prefix_reports_bytes_used() {
        let (v, used) = decode_prefix(b"d1:xi1eeRAW").unwrap();
        assert!(v.is_dict());
        assert_eq!(used, 8);
    }

    #[test]
    fn errors() {
        let cases: &[(&[u8], BencodeError)] = &[
            (b"", BencodeError::Truncated),
            (b"i12", BencodeError::Truncated),
            (b"5:ab", BencodeError::Truncated),
            (b"l", BencodeError::Truncated),
            (
                b"x",
                BencodeError::Unexpected {
                    offset: 0,
                    byte: b'x',
                },
            ),
            (b"ie", BencodeError::BadNumber { offset: 1 }),
            (b"i-e", BencodeError::BadNumber { offset: 1 }),
            (b"i1x2e", BencodeError::BadNumber { offset: 1 }),
            (
                b"i99999999999999999999e",
                BencodeError::BadNumber { offset: 1 },
            ),
            (
                b"-1:a",
                BencodeError::Unexpected {
                    offset: 0,
                    byte: b'-',
                },
            ),
            (b"di1ei2ee", BencodeError::KeyNotString { offset: 1 }),
            (b"i1ei2e", BencodeError::Trailing { offset: 3 }),
            (
                b"99999999999999999999:a",
                BencodeError::BadNumber { offset: 0 },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                decode(input).unwrap_err(),
                *want,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        let deep = vec![b'l'; MAX_DEPTH + 2];
        assert_eq!(decode(&deep).unwrap_err(), BencodeError::TooDeep);
    }

    #[test]
    fn encoder_round_trips() {
        let bytes = Encoder::new()
            .begin_dict()
            .bytes(b"a")
            .int(7)
            .bytes(b"b")
            .begin_list()
            .bytes(b"x")
            .end()
            .end()
            .finish();
        assert_eq!(bytes, b"d1:ai7e1:bl1:xee");
        assert_eq!(decode(&bytes).unwrap().get(b"a"), Some(&Value::Int(7)));
    }
}
