//! Standard base64 (RFC 4648, with padding): XML-RPC `<base64>` values and
//! HTTP basic authentication need it, and one small codec here is cheaper
//! than a dependency.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes bytes with `=` padding.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let symbols = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for (i, s) in symbols.iter().enumerate() {
            // `s` is six bits: always an index into the 64 symbols.
            match ALPHABET.get(*s as usize) {
                Some(&c) if i <= chunk.len() => out.push(char::from(c)),
                _ => out.push('='),
            }
        }
    }
    out
}

/// Why a base64 text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset of the offending character in the input.
    pub offset: usize,
    pub reason: &'static str,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid base64 at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for DecodeError {}

fn symbol_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes base64, ignoring ASCII whitespace (XML-RPC servers wrap lines).
/// Padding is optional; data after padding is an error.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut padding_seen = false;
    for (offset, &c) in input.iter().enumerate() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            padding_seen = true;
            continue;
        }
        if padding_seen {
            return Err(DecodeError {
                offset,
                reason: "data after '=' padding",
            });
        }
        let v = symbol_value(c).ok_or(DecodeError {
            offset,
            reason: "not a base64 character",
        })?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 {
        return Err(DecodeError {
            offset: input.len(),
            reason: "truncated: a lone trailing character",
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        let cases: [(&str, &str); 7] = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in cases {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode(coded.as_bytes()).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn all_bytes_round_trip_and_whitespace_is_ignored() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        let coded = encode(&bytes);
        let wrapped: String = coded
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(decode(wrapped.as_bytes()).unwrap(), bytes);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(decode(b"Zm9v!").unwrap_err().offset, 4);
        assert!(decode(b"Zg==Zg").is_err());
        assert!(decode(b"Z").is_err());
    }
}
