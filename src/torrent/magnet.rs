//! Magnet links (BEP 9): `magnet:?xt=urn:btih:<hash>&dn=<name>&tr=<tracker>
//! &ws=<web seed>`, and for BitTorrent v2 (BEP 52) `xt=urn:btmh:1220<SHA-256
//! in hex>`: alone for a v2-only torrent, next to `urn:btih:` for a hybrid. Built from a torrent for `lowspace magnet`, and parsed
//! for the metadata peer, which starts from a magnet to fetch the info
//! dictionary.

use std::fmt;

use super::error::MagnetError;
use super::info_hash::InfoHash;
use super::metainfo::Metainfo;

/// What a magnet link says: enough to find peers and fetch the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MagnetLink {
    /// The 20-byte hash peers and trackers use: the v1 info-hash, or for a
    /// v2-only torrent the v2 one cut to 20 bytes (then not written as
    /// `urn:btih:`, which would claim a v1 torrent).
    pub info_hash: InfoHash,
    /// The v2 info-hash (`urn:btmh:`), for v2 and hybrid torrents.
    pub info_hash_v2: Option<[u8; 32]>,
    /// `dn`: the name to show until the metadata arrives.
    pub display_name: Option<String>,
    /// `tr`: every tracker, each once, in the order given.
    pub trackers: Vec<String>,
    /// `ws`: BEP 19 web seeds, each once, in the order given.
    pub web_seeds: Vec<String>,
}

impl MagnetLink {
    /// A magnet with only an info-hash.
    pub fn new(info_hash: InfoHash) -> MagnetLink {
        MagnetLink {
            info_hash,
            info_hash_v2: None,
            display_name: None,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
        }
    }

    /// The magnet for a torrent: its name, every tracker of every tier
    /// (tier order kept, repeats dropped) and its web seeds.
    pub fn for_torrent(torrent: &Metainfo) -> MagnetLink {
        let mut magnet = MagnetLink::new(torrent.info_hash());
        magnet.info_hash_v2 = torrent.info_hash_v2();
        magnet.display_name = Some(torrent.name().to_owned());
        for tracker in torrent.trackers() {
            magnet.add_tracker(tracker);
        }
        for seed in torrent.web_seeds() {
            magnet.add_web_seed(seed);
        }
        magnet
    }

    /// Adds a tracker unless it is already there or empty.
    pub fn add_tracker(&mut self, url: &str) {
        push_unique(&mut self.trackers, url);
    }

    /// Adds a web seed unless it is already there or empty.
    pub fn add_web_seed(&mut self, url: &str) {
        push_unique(&mut self.web_seeds, url);
    }

    /// The `magnet:?` link, every value percent-encoded.
    pub fn to_uri(&self) -> String {
        let v2_only = self
            .info_hash_v2
            .is_some_and(|v2| super::create::truncate_v2(&v2) == *self.info_hash.as_bytes());
        let mut uri = String::from("magnet:?");
        if !v2_only {
            uri.push_str("xt=urn:btih:");
            uri.push_str(&self.info_hash.to_hex());
        }
        if let Some(v2) = &self.info_hash_v2 {
            if !v2_only {
                uri.push('&');
            }
            uri.push_str("xt=urn:btmh:1220");
            uri.push_str(&super::create::hex(v2));
        }
        if let Some(name) = &self.display_name {
            uri.push_str("&dn=");
            percent_encode_into(&mut uri, name.as_bytes(), b"");
        }
        for tracker in &self.trackers {
            uri.push_str("&tr=");
            percent_encode_into(&mut uri, tracker.as_bytes(), b"");
        }
        for seed in &self.web_seeds {
            uri.push_str("&ws=");
            percent_encode_into(&mut uri, seed.as_bytes(), b"");
        }
        uri
    }

    /// Reads a magnet link. The info-hash may be 40 hex or 32 base32
    /// characters; `tr.1=`-style numbered keys count as `tr=`; parameters
    /// lowspace does not use are ignored.
    pub fn parse(text: &str) -> Result<MagnetLink, MagnetError> {
        let text = text.trim();
        let query = match text.get(..8) {
            Some(prefix) if prefix.eq_ignore_ascii_case("magnet:?") => text.get(8..).unwrap_or(""),
            _ => return Err(MagnetError::NotMagnet),
        };
        let query = query.split('#').next().unwrap_or("");
        let mut info_hash = None;
        let mut info_hash_v2 = None;
        let mut saw_v2 = false;
        let mut display_name = None;
        let (mut trackers, mut web_seeds) = (Vec::new(), Vec::new());
        for parameter in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw_value) = parameter.split_once('=').unwrap_or((parameter, ""));
            let key = key.to_ascii_lowercase();
            // "tr.1", "xt.2": numbered repeats of the same parameter.
            let base = key.split('.').next().unwrap_or("");
            match base {
                "xt" => {
                    let value = decode_text(base, raw_value, false)?;
                    if let Some(hash) = strip_prefix_ignore_case(&value, "urn:btih:") {
                        if info_hash.is_none() {
                            info_hash = Some(hash.parse::<InfoHash>().map_err(|e| {
                                MagnetError::BadInfoHash {
                                    value: e.value,
                                    reason: e.reason,
                                }
                            })?);
                        }
                    } else if let Some(multihash) = strip_prefix_ignore_case(&value, "urn:btmh:") {
                        saw_v2 = true;
                        if info_hash_v2.is_none() {
                            info_hash_v2 = Some(parse_btmh(multihash)?);
                        }
                    }
                }
                "dn" => {
                    let bytes = percent_decode(base, raw_value, true)?;
                    display_name = Some(String::from_utf8_lossy(&bytes).into_owned());
                }
                "tr" => push_unique(&mut trackers, &decode_text(base, raw_value, false)?),
                "ws" => push_unique(&mut web_seeds, &decode_text(base, raw_value, false)?),
                _ => {}
            }
        }
        let info_hash = match info_hash {
            Some(hash) => hash,
            None if saw_v2 => return Err(MagnetError::OnlyV2),
            None => return Err(MagnetError::NoInfoHash),
        };
        Ok(MagnetLink {
            info_hash,
            info_hash_v2,
            display_name,
            trackers,
            web_seeds,
        })
    }
}

impl fmt::Display for MagnetLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_uri())
    }
}

/// A `urn:btmh:` multihash: 0x12 (SHA-256), 0x20 (32 bytes), the hash.
fn parse_btmh(text: &str) -> Result<[u8; 32], MagnetError> {
    let bad = |reason: &str| MagnetError::BadInfoHash {
        value: text.chars().take(80).collect(),
        reason: reason.into(),
    };
    let Some(hex) = strip_prefix_ignore_case(text, "1220") else {
        return Err(bad("a v2 hash must start with 1220 (SHA-256, 32 bytes)"));
    };
    if hex.len() != 64 {
        return Err(bad("a v2 hash is 1220 and 64 hex digits"));
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let (Some(high), Some(low)) = (
            pair.first().copied().and_then(super::info_hash::hex_value),
            pair.get(1).copied().and_then(super::info_hash::hex_value),
        ) else {
            return Err(bad(
                "a v2 hash contains a character that is not a hex digit",
            ));
        };
        *slot = (high << 4) | low;
    }
    Ok(out)
}

fn push_unique(list: &mut Vec<String>, value: &str) {
    let value = value.trim();
    if !value.is_empty() && !list.iter().any(|v| v == value) {
        list.push(value.to_owned());
    }
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

/// Percent-encodes everything but RFC 3986's unreserved characters (and
/// the bytes in `also_keep`, such as `/` in a path), so a value can never
/// be mistaken for a separator (`&`, `=`, `#`, `+`). Raw bytes too: an
/// info-hash or peer id in a tracker query.
pub fn percent_encode_into(out: &mut String, value: &[u8], also_keep: &[u8]) {
    for &byte in value {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'.' | b'_' | b'~')
            || also_keep.contains(&byte)
        {
            out.push(char::from(byte));
        } else {
            out.push('%');
            super::info_hash::push_hex(out, byte, super::info_hash::HEX_UPPER);
        }
    }
}

/// Percent-encodes a value (see [`percent_encode_into`]).
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    percent_encode_into(&mut out, value.as_bytes(), b"");
    out
}

/// Undoes percent-encoding; `+` means a space only where asked (names,
/// as web forms write them), never in addresses where `+` is literal.
pub fn percent_decode(
    parameter: &str,
    value: &str,
    plus_is_space: bool,
) -> Result<Vec<u8>, MagnetError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'%' => {
                let high = bytes
                    .get(index + 1)
                    .and_then(|&c| super::info_hash::hex_value(c));
                let low = bytes
                    .get(index + 2)
                    .and_then(|&c| super::info_hash::hex_value(c));
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(MagnetError::BadPercentEncoding {
                        parameter: parameter.to_owned(),
                    });
                };
                out.push((high << 4) | low);
                index += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                index += 1;
            }
            other => {
                out.push(other);
                index += 1;
            }
        }
    }
    Ok(out)
}

fn decode_text(parameter: &str, value: &str, plus_is_space: bool) -> Result<String, MagnetError> {
    let bytes = percent_decode(parameter, value, plus_is_space)?;
    String::from_utf8(bytes).map_err(|_| MagnetError::NotUtf8 {
        parameter: parameter.to_owned(),
    })
}
