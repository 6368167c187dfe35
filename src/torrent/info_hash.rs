//! The 20-byte SHA-1 that names a (v1) torrent everywhere: trackers, peers,
//! magnet links, rtorrent's `d.hash`.

use std::fmt;
use std::str::FromStr;

use sha1::{Digest, Sha1};

/// SHA-1 of the exact bytes of a torrent's info dictionary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash([u8; 20]);

/// Why text could not be read as an info-hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoHashError {
    /// The text that was given (cut to a sane length).
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for InfoHashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad info-hash {:?}: {}", self.value, self.reason)
    }
}

impl std::error::Error for InfoHashError {}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

impl InfoHash {
    /// Wraps 20 raw bytes (from the wire or a tracker response).
    pub const fn from_bytes(bytes: [u8; 20]) -> InfoHash {
        InfoHash(bytes)
    }

    /// Hashes an info dictionary's bytes as they are.
    pub fn of_info_bytes(info: &[u8]) -> InfoHash {
        InfoHash(Sha1::digest(info).into())
    }

    /// The raw 20 bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// Lower-case hex, the form in magnet links and most logs.
    pub fn to_hex(&self) -> String {
        self.hex_with(HEX_LOWER)
    }

    /// Upper-case hex, the form rtorrent's `d.hash` returns.
    pub fn to_hex_upper(&self) -> String {
        self.hex_with(HEX_UPPER)
    }

    fn hex_with(&self, digits: &[u8; 16]) -> String {
        let mut out = String::with_capacity(40);
        for byte in self.0 {
            push_hex(&mut out, byte, digits);
        }
        out
    }

    /// Reads 40 hex digits, either case.
    pub fn from_hex(text: &str) -> Result<InfoHash, InfoHashError> {
        let bytes = text.as_bytes();
        if bytes.len() != 40 {
            return Err(error(
                text,
                format!(
                    "{} characters, 40 hex digits expected",
                    text.chars().count()
                ),
            ));
        }
        let mut out = [0u8; 20];
        for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (Some(high), Some(low)) = (
                pair.first().copied().and_then(hex_value),
                pair.get(1).copied().and_then(hex_value),
            ) else {
                return Err(error(text, "contains a character that is not a hex digit"));
            };
            *slot = (high << 4) | low;
        }
        Ok(InfoHash(out))
    }

    /// Reads 32 base32 characters (RFC 4648 alphabet, either case), the
    /// older magnet link form.
    pub fn from_base32(text: &str) -> Result<InfoHash, InfoHashError> {
        let bytes = text.as_bytes();
        if bytes.len() != 32 {
            return Err(error(
                text,
                format!(
                    "{} characters, 32 base32 characters expected",
                    text.chars().count()
                ),
            ));
        }
        let mut out = [0u8; 20];
        let mut acc: u64 = 0;
        let mut bits = 0u32;
        let mut next = 0usize;
        for &c in bytes {
            let upper = c.to_ascii_uppercase();
            let Some(value) = BASE32_ALPHABET.iter().position(|&a| a == upper) else {
                return Err(error(
                    text,
                    "contains a character outside the base32 alphabet",
                ));
            };
            acc = (acc << 5) | value as u64;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                if let Some(slot) = out.get_mut(next) {
                    *slot = (acc >> bits) as u8;
                }
                next += 1;
                acc &= (1u64 << bits) - 1;
            }
        }
        Ok(InfoHash(out))
    }

    /// Base32 (upper case), for magnet links that want it.
    pub fn to_base32(&self) -> String {
        let mut out = String::with_capacity(32);
        let mut acc: u64 = 0;
        let mut bits = 0u32;
        for byte in self.0 {
            acc = (acc << 8) | u64::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                // Masked to 5 bits: below 32, the alphabet's length.
                #[allow(clippy::indexing_slicing)]
                let digit = BASE32_ALPHABET[((acc >> bits) & 31) as usize];
                out.push(char::from(digit));
            }
            acc &= (1u64 << bits) - 1;
        }
        out
    }
}

fn error(text: &str, reason: impl Into<String>) -> InfoHashError {
    InfoHashError {
        value: text.chars().take(80).collect(),
        reason: reason.into(),
    }
}

/// The value of one hex digit, either case.
pub(crate) fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({})", self.to_hex())
    }
}

/// Accepts 40 hex digits or 32 base32 characters.
impl FromStr for InfoHash {
    type Err = InfoHashError;
    fn from_str(text: &str) -> Result<InfoHash, InfoHashError> {
        if text.len() == 32 {
            InfoHash::from_base32(text)
        } else {
            InfoHash::from_hex(text)
        }
    }
}

/// Lower-case hex digits.
pub const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
/// Upper-case hex digits.
pub const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends the two hex digits of `byte`, taken from `digits`: the one hex
/// writer behind info-hashes, `show`, and percent-encoding.
pub fn push_hex(out: &mut String, byte: u8, digits: &[u8; 16]) {
    // Each nibble is below 16, the table's length.
    #[allow(clippy::indexing_slicing)]
    let (high, low) = (
        digits[usize::from(byte >> 4)],
        digits[usize::from(byte & 0x0f)],
    );
    out.push(char::from(high));
    out.push(char::from(low));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_of_known_input() {
        // SHA-1("abc") from FIPS 180-1, appendix A.
        let hash = InfoHash::of_info_bytes(b"abc");
        assert_eq!(hash.to_hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            hash.to_hex_upper(),
            "A9993E364706816ABA3E25717850C26C9CD0D89D"
        );
        assert_eq!(hash.to_string(), hash.to_hex());
    }

    #[test]
    fn hex_round_trip_either_case() {
        let hash = InfoHash::of_info_bytes(b"lowspace");
        assert_eq!(InfoHash::from_hex(&hash.to_hex()), Ok(hash));
        assert_eq!(InfoHash::from_hex(&hash.to_hex_upper()), Ok(hash));
        assert_eq!(hash.to_hex().parse::<InfoHash>(), Ok(hash));
    }

    #[test]
    fn base32_known_value_and_round_trip() {
        // RFC 4648 test vector: "foobar" → MZXW6YTBOI======; here a full
        // 20-byte value: twenty 0xff bytes are 32 '7's.
        let all_ones = InfoHash::from_bytes([0xff; 20]);
        assert_eq!(all_ones.to_base32(), "7".repeat(32));
        let hash = InfoHash::of_info_bytes(b"round trip");
        assert_eq!(InfoHash::from_base32(&hash.to_base32()), Ok(hash));
        assert_eq!(
            InfoHash::from_base32(&hash.to_base32().to_lowercase()),
            Ok(hash)
        );
        assert_eq!(hash.to_base32().parse::<InfoHash>(), Ok(hash));
    }

    #[test]
    fn bad_hex_is_refused_with_a_reason() {
        let short = InfoHash::from_hex("abc").unwrap_err();
        assert!(short.to_string().contains("40 hex digits"), "{short}");
        let not_hex = InfoHash::from_hex(&"g".repeat(40)).unwrap_err();
        assert!(not_hex.to_string().contains("not a hex digit"), "{not_hex}");
        // Multi-byte characters must not be split into bogus digits.
        let wide = InfoHash::from_hex(&"é".repeat(20)).unwrap_err();
        assert!(wide.to_string().contains("not a hex digit"), "{wide}");
    }

    #[test]
    fn bad_base32_is_refused_with_a_reason() {
        let bad = InfoHash::from_base32(&"1".repeat(32)).unwrap_err();
        assert!(bad.to_string().contains("base32"), "{bad}");
        let short = InfoHash::from_base32("ABC").unwrap_err();
        assert!(short.to_string().contains("32 base32"), "{short}");
    }
}
