//! Building single-file metainfo with the crate's bencode encoder
//! ([`super::bencode::Encoder`]): BitTorrent v1 (BEP 3), v2 (BEP 52) or
//! hybrid (both in one info dictionary).
//!
//! Why a hand-ordered encoder instead of a generic map: bencode dictionaries
//! must have their keys in byte order, and the info-hash is the SHA-1 of the
//! exact bytes of the info dictionary, so the same file and options must give
//! the same bytes on every machine. The keys below are written in that
//! order, and a unit test decodes the output and checks it.
//!
//! Only the fields that define the content go into the info dictionary
//! (`length`, `name`, `piece length`, `pieces`, `private`), encoded the way
//! mktorrent and libtorrent encode them, so their info-hash for the same file
//! and piece length matches ours. Trackers, web seeds, the comment and "created
//! by" live outside it: they can change without changing the info-hash.
//!
//! v2 (BEP 52) hashes each file as a SHA-256 merkle tree over 16 KiB
//! blocks: the info dictionary holds the tree's root (`pieces root` in the
//! `file tree`), and the layer of the tree whose nodes cover one piece each
//! goes outside it (`piece layers`). A hybrid holds the v1 `length` and
//! `pieces` next to the v2 `file tree`; with one file per torrent there is
//! no file boundary to pad (BEP 47), so a hybrid has no padding file, as
//! libtorrent's `create_torrent` makes it. The layout and the hashes are
//! checked against libtorrent in tests/tree.rs.
//!
//! SHA-256 comes from the `sha2` crate (accepted for v2 torrents) because
//! it uses the CPU's SHA extensions (x86 SHA-NI, detected at run time),
//! several times faster than portable code on the hot loop of `tree
//! --format v2|hybrid`; like `sha1`, it is built at opt-level 3 in the
//! size-optimised release profile. On ARM its hardware path needs the
//! `asm` feature, which brings the `sha2-asm` crate and a C toolchain into
//! the static cross builds, so it is left off (and the Pi 4's Cortex-A72
//! has no crypto extensions to use).

use std::fmt;

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::bencode::Encoder;

/// Length of one SHA-1 piece hash.
pub const PIECE_HASH_LEN: usize = 20;

/// "created by" written into every torrent: no version number, so the bytes
/// of a torrent do not change when lowspace is upgraded.
pub const CREATED_BY: &str = "lowspace";

/// The info dictionary of a single-file v1 torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleFileInfo {
    /// The file name (last path component), UTF-8.
    pub name: String,
    /// File size in bytes; more than zero (libtorrent refuses empty torrents).
    pub length: u64,
    /// Piece length in bytes.
    pub piece_length: u64,
    /// Concatenated SHA-1 hashes of the pieces, 20 bytes each.
    pub pieces: Vec<u8>,
    /// BEP 27 private flag: peers only from the trackers.
    pub private: bool,
}

/// What goes around the info dictionary; none of it changes the info-hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Announce URLs; the first is `announce`, all of them form
    /// `announce-list` (one tier each, tried in the given order) when there
    /// are several.
    pub trackers: Vec<String>,
    /// BEP 19 web seed URLs (`url-list`).
    pub web_seeds: Vec<String>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    /// Seconds since the Unix epoch; absent unless asked for, so torrents
    /// are byte-for-byte reproducible.
    pub creation_date: Option<i64>,
}

/// The torrent could not be built from what was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateError(String);

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CreateError {}

/// Length of one SHA-256 hash (v2 piece layer node, pieces root).
pub const V2_HASH_LEN: usize = 32;

/// The v2 merkle tree's leaves each cover this many bytes (BEP 52).
pub const BLOCK_SIZE: u64 = 16 << 10;

/// Which BitTorrent version a torrent is made for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// BEP 3 only: every client reads it.
    #[default]
    V1,
    /// BEP 52 only: per-file SHA-256 merkle trees; libtorrent 2 clients.
    V2,
    /// Both in one info dictionary: v1 clients see a v1 torrent, v2 clients
    /// a v2 one, and the two swarms are one.
    Hybrid,
}

impl Format {
    /// "v1", "v2" or "hybrid".
    pub fn parse(text: &str) -> Result<Format, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "v1" => Ok(Format::V1),
            "v2" => Ok(Format::V2),
            "hybrid" => Ok(Format::Hybrid),
            other => Err(format!("format \"{other}\" must be v1, v2 or hybrid")),
        }
    }

    /// Whether SHA-1 `pieces` are part of it.
    pub fn has_v1(self) -> bool {
        matches!(self, Format::V1 | Format::Hybrid)
    }

    /// Whether a v2 `file tree` is part of it.
    pub fn has_v2(self) -> bool {
        matches!(self, Format::V2 | Format::Hybrid)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::V1 => "v1",
            Format::V2 => "v2",
            Format::Hybrid => "hybrid",
        })
    }
}

/// A merkle tree node: SHA-256 of its two children side by side.
fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of a merkle tree `width` leaves wide (a power of two) whose
/// first leaves are `leaves` and the rest `pad`. Padding subtrees are
/// hashed once per level, not once per missing leaf.
pub fn merkle_root(leaves: &[[u8; 32]], width: usize, pad: [u8; 32]) -> [u8; 32] {
    let mut layer = leaves.to_vec();
    let mut pad = pad;
    let mut width = width.max(1).next_power_of_two();
    while width > 1 {
        let next: Vec<[u8; 32]> = layer
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => node(left, right),
                [left] => node(left, &pad),
                _ => pad,
            })
            .collect();
        layer = next;
        pad = node(&pad, &pad);
        width /= 2;
    }
    layer.first().copied().unwrap_or(pad)
}

/// The v2 hash of one piece from the SHA-256 of its 16 KiB blocks. A piece
/// of a file that has several is a subtree as wide as a whole piece (its
/// last piece padded with zero leaves); the only piece of a smaller file
/// is the whole file's tree, as wide as its blocks rounded up to a power of
/// two (BEP 52: the tree of a file is no wider than the file needs).
pub fn v2_piece_hash(blocks: &[[u8; 32]], piece_length: u64, only_piece: bool) -> [u8; 32] {
    let width = if only_piece {
        blocks.len().max(1).next_power_of_two()
    } else {
        (piece_length / BLOCK_SIZE).max(1) as usize
    };
    merkle_root(blocks, width, [0; 32])
}

/// A file's `pieces root` from its piece layer (the v2 hashes of its
/// pieces, in order). One piece is the root itself; more are padded with
/// the hash of a piece of zeros up to a power of two.
pub fn v2_root_from_layer(layer: &[[u8; 32]], piece_length: u64) -> [u8; 32] {
    match layer {
        [only] => *only,
        _ => {
            let blocks_per_piece = (piece_length / BLOCK_SIZE).max(1) as usize;
            let zero_piece = merkle_root(&[], blocks_per_piece, [0; 32]);
            merkle_root(layer, layer.len().next_power_of_two(), zero_piece)
        }
    }
}

/// The v2 hashes of one file (BEP 52).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Hashes {
    /// The root of the file's merkle tree (`pieces root`).
    pub pieces_root: [u8; 32],
    /// The piece layer, 32 bytes a piece; empty when the file has one
    /// piece (its root is then its only piece's hash, and BEP 52 leaves
    /// such files out of `piece layers`).
    pub piece_layer: Vec<u8>,
}

impl V2Hashes {
    /// Builds them from the hashes of every piece (see [`v2_piece_hash`]).
    pub fn from_piece_hashes(pieces: &[[u8; 32]], piece_length: u64) -> V2Hashes {
        V2Hashes {
            pieces_root: v2_root_from_layer(pieces, piece_length),
            piece_layer: if pieces.len() > 1 {
                pieces.concat()
            } else {
                Vec::new()
            },
        }
    }
}

/// The info-hashes of a torrent: SHA-1 of the info dictionary for v1 and
/// hybrid, SHA-256 of the same bytes for v2 and hybrid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoHashes {
    pub v1: Option<[u8; 20]>,
    pub v2: Option<[u8; 32]>,
}

impl InfoHashes {
    /// The 20 bytes that name the torrent wherever v1 sizes rule
    /// (trackers, DHT, handshake, `tree`'s index): the v1 hash, or for v2
    /// only the v2 hash cut to 20 bytes (BEP 52).
    pub fn wire(&self) -> [u8; 20] {
        match (self.v1, self.v2) {
            (Some(v1), _) => v1,
            (None, Some(v2)) => truncate_v2(&v2),
            (None, None) => [0; 20],
        }
    }
}

/// The first 20 bytes of a v2 info-hash (BEP 52).
pub fn truncate_v2(v2: &[u8; 32]) -> [u8; 20] {
    let mut out = [0u8; 20];
    out.copy_from_slice(&v2[..20]);
    out
}

/// A single-file torrent of any format: the v1 shape and pieces, and the
/// v2 hashes when the format has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTorrent {
    pub format: Format,
    /// Name, length, piece length, private; `pieces` empty for v2 only.
    pub info: SingleFileInfo,
    /// Present exactly when the format has v2.
    pub v2: Option<V2Hashes>,
}

impl FileTorrent {
    /// What a client would refuse, for every part the format has.
    pub fn validate(&self) -> Result<(), CreateError> {
        let info = &self.info;
        if self.format.has_v1() {
            info.validate()?;
        } else {
            info.validate_shape()?;
            if !info.pieces.is_empty() {
                return Err(CreateError("a v2-only torrent has no v1 pieces".into()));
            }
        }
        match (&self.v2, self.format.has_v2()) {
            (None, false) => Ok(()),
            (Some(_), false) => Err(CreateError("a v1 torrent has no v2 hashes".into())),
            (None, true) => Err(CreateError(format!(
                "\"{}\": a {} torrent needs the v2 hashes",
                info.name, self.format
            ))),
            (Some(v2), true) => {
                if !info.piece_length.is_power_of_two() || info.piece_length < BLOCK_SIZE {
                    return Err(CreateError(format!(
                        "piece length {} is not a power of two of at least 16 KiB (BEP 52)",
                        info.piece_length
                    )));
                }
                let pieces = piece_count(info.length, info.piece_length) as usize;
                let want = if pieces > 1 { pieces * V2_HASH_LEN } else { 0 };
                if v2.piece_layer.len() != want {
                    return Err(CreateError(format!(
                        "\"{}\" needs {want} bytes of piece layer, got {}",
                        info.name,
                        v2.piece_layer.len()
                    )));
                }
                Ok(())
            }
        }
    }

    /// The bencoded info dictionary.
    pub fn encode_info(&self) -> Result<Vec<u8>, CreateError> {
        self.validate()?;
        let mut encoder = Encoder::new();
        self.emit_info(&mut encoder);
        Ok(encoder.finish())
    }

    /// The info-hashes the format has, over the encoded info dictionary.
    pub fn info_hashes(&self) -> Result<InfoHashes, CreateError> {
        let bytes = self.encode_info()?;
        Ok(InfoHashes {
            v1: self.format.has_v1().then(|| Sha1::digest(&bytes).into()),
            v2: self.format.has_v2().then(|| Sha256::digest(&bytes).into()),
        })
    }

    fn emit_info(&self, e: &mut Encoder) {
        let info = &self.info;
        let Some(v2) = self.v2.as_ref().filter(|_| self.format.has_v2()) else {
            info.emit(e);
            return;
        };
        // Keys in byte order: "file tree" < "length" < "meta version" <
        // "name" < "piece length" < "pieces" < "private".
        e.begin_dict();
        e.bytes(b"file tree").begin_dict();
        e.bytes(info.name.as_bytes()).begin_dict();
        e.bytes(b"").begin_dict();
        e.bytes(b"length").int(int(info.length));
        e.bytes(b"pieces root").bytes(&v2.pieces_root);
        e.end().end().end();
        if self.format.has_v1() {
            e.bytes(b"length").int(int(info.length));
        }
        e.bytes(b"meta version").int(2);
        e.bytes(b"name").bytes(info.name.as_bytes());
        e.bytes(b"piece length").int(int(info.piece_length));
        if self.format.has_v1() {
            e.bytes(b"pieces").bytes(&info.pieces);
        }
        if info.private {
            e.bytes(b"private").int(1);
        }
        e.end();
    }

    /// The whole .torrent file.
    pub fn encode(&self, meta: &Metadata) -> Result<Vec<u8>, CreateError> {
        self.validate()?;
        Ok(encode_with(meta, |e| {
            self.emit_info(e);
            if let Some(v2) = self.v2.as_ref().filter(|_| self.format.has_v2()) {
                // Written even when empty, as libtorrent writes it: a v2
                // reader looks for the key.
                e.bytes(b"piece layers").begin_dict();
                if !v2.piece_layer.is_empty() {
                    e.bytes(&v2.pieces_root).bytes(&v2.piece_layer);
                }
                e.end();
            }
        }))
    }
}

/// Number of pieces a file of `length` bytes has.
pub fn piece_count(length: u64, piece_length: u64) -> u64 {
    if piece_length == 0 {
        return 0;
    }
    length.div_ceil(piece_length)
}

impl SingleFileInfo {
    /// Checks what a client would refuse: an empty file, a zero piece length,
    /// a wrong number of piece hashes, a name that is a path.
    pub fn validate(&self) -> Result<(), CreateError> {
        self.validate_shape()?;
        let want = piece_count(self.length, self.piece_length) as usize * PIECE_HASH_LEN;
        if self.pieces.len() != want {
            return Err(CreateError(format!(
                "\"{}\" needs {} bytes of piece hashes, got {}",
                self.name,
                want,
                self.pieces.len()
            )));
        }
        Ok(())
    }

    /// The checks apart from the pieces: length, piece length, name.
    fn validate_shape(&self) -> Result<(), CreateError> {
        if self.length == 0 {
            return Err(CreateError(format!(
                "\"{}\" is empty; a v1 torrent of 0 bytes is refused by clients",
                self.name
            )));
        }
        if self.piece_length == 0 {
            return Err(CreateError("piece length must be more than 0".into()));
        }
        if self.name.is_empty() || self.name.contains('/') || self.name == "." || self.name == ".."
        {
            return Err(CreateError(format!(
                "\"{}\" is not a plain file name",
                self.name
            )));
        }
        Ok(())
    }

    /// The bencoded info dictionary: the bytes the info-hash is taken over.
    pub fn encode(&self) -> Result<Vec<u8>, CreateError> {
        self.validate()?;
        let mut encoder = Encoder::new();
        self.emit(&mut encoder);
        Ok(encoder.finish())
    }

    /// SHA-1 of the encoded info dictionary.
    pub fn info_hash(&self) -> Result<[u8; 20], CreateError> {
        Ok(Sha1::digest(self.encode()?).into())
    }

    fn emit(&self, e: &mut Encoder) {
        // Keys in byte order: "piece length" sorts before "pieces" (' ' < 's').
        e.begin_dict();
        e.bytes(b"length").int(int(self.length));
        e.bytes(b"name").bytes(self.name.as_bytes());
        e.bytes(b"piece length").int(int(self.piece_length));
        e.bytes(b"pieces").bytes(&self.pieces);
        if self.private {
            e.bytes(b"private").int(1);
        }
        e.end();
    }
}

/// Sizes are u64 here and i64 in bencode; no file is 2^63 bytes.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The whole .torrent file: metadata around the info dictionary, keys in
/// byte order.
pub fn encode_metainfo(info: &SingleFileInfo, meta: &Metadata) -> Result<Vec<u8>, CreateError> {
    info.validate()?;
    Ok(encode_with(meta, |e| info.emit(e)))
}

/// The metainfo dictionary around what `middle` writes: the `info` value
/// and, for v2, `piece layers` (both sort between "creation date" and
/// "url-list").
fn encode_with(meta: &Metadata, middle: impl FnOnce(&mut Encoder)) -> Vec<u8> {
    let mut e = Encoder::new();
    e.begin_dict();
    if let Some(first) = meta.trackers.first() {
        e.bytes(b"announce").bytes(first.as_bytes());
    }
    if meta.trackers.len() > 1 {
        e.bytes(b"announce-list").begin_list();
        for tracker in &meta.trackers {
            e.begin_list().bytes(tracker.as_bytes()).end();
        }
        e.end();
    }
    if let Some(comment) = &meta.comment {
        e.bytes(b"comment").bytes(comment.as_bytes());
    }
    if let Some(created_by) = &meta.created_by {
        e.bytes(b"created by").bytes(created_by.as_bytes());
    }
    if let Some(date) = meta.creation_date {
        e.bytes(b"creation date").int(date);
    }
    e.bytes(b"info");
    middle(&mut e);
    if !meta.web_seeds.is_empty() {
        e.bytes(b"url-list").begin_list();
        for url in &meta.web_seeds {
            e.bytes(url.as_bytes());
        }
        e.end();
    }
    e.end();
    e.finish()
}

/// Takes the piece hashes back out of a .torrent this module wrote earlier,
/// so that a change of trackers, web seed or comment rewrites the torrent
/// without reading the data again.
///
/// Not a general parser: `expected` (everything but the pieces) tells the
/// exact bytes the info dictionary must have around its pieces, and the
/// result is accepted only when the rebuilt info dictionary has
/// `expected_hash` as its SHA-1. Anything else (a torrent edited by hand,
/// from another tool, truncated) gives `None` and the caller hashes the file.
pub fn recover_pieces(
    torrent: &[u8],
    expected: &SingleFileInfo,
    expected_hash: &[u8; 20],
) -> Option<Vec<u8>> {
    let pieces_len = piece_count(expected.length, expected.piece_length)
        .checked_mul(PIECE_HASH_LEN as u64)
        .and_then(|n| usize::try_from(n).ok())?;
    if pieces_len > torrent.len() {
        return None;
    }
    let template = SingleFileInfo {
        pieces: vec![0; pieces_len],
        ..expected.clone()
    }
    .encode()
    .ok()?;
    let suffix_len: usize = if expected.private {
        b"7:privatei1ee".len()
    } else {
        b"e".len()
    };
    let prefix_len = template.len().checked_sub(pieces_len + suffix_len)?;
    let prefix = template.get(..prefix_len)?;
    let suffix = template.get(prefix_len + pieces_len..)?;
    let start = torrent
        .windows(prefix.len())
        .position(|window| window == prefix)?
        + prefix.len();
    let pieces = torrent.get(start..start.checked_add(pieces_len)?)?;
    let after = torrent.get(start + pieces_len..start + pieces_len + suffix.len())?;
    if after != suffix {
        return None;
    }
    let rebuilt = SingleFileInfo {
        pieces: pieces.to_vec(),
        ..expected.clone()
    };
    match rebuilt.info_hash() {
        Ok(hash) if &hash == expected_hash => Some(rebuilt.pieces),
        _ => None,
    }
}

/// Lower-case hex, the form info-hashes are written in listings and logs.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        super::info_hash::push_hex(&mut out, b, super::info_hash::HEX_LOWER);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::torrent::bencode::{decode, Value};

    /// Every dictionary written has its keys in byte order (BEP 3), which
    /// is what makes our info-hash match mktorrent's and libtorrent's.
    #[test]
    fn keys_are_written_in_byte_order() {
        fn check(value: &Value) {
            match value {
                Value::Dict(pairs) => {
                    let keys: Vec<&[u8]> = pairs.iter().map(|(k, _)| *k).collect();
                    let mut sorted = keys.clone();
                    sorted.sort();
                    sorted.dedup();
                    assert_eq!(keys, sorted);
                    pairs.iter().for_each(|(_, v)| check(v));
                }
                Value::List(items) => items.iter().for_each(check),
                _ => {}
            }
        }
        let meta = Metadata {
            trackers: vec!["http://b/announce".into(), "udp://a:1".into()],
            web_seeds: vec!["https://w/".into()],
            comment: Some("c".into()),
            created_by: Some(CREATED_BY.into()),
            creation_date: Some(1),
        };
        for private in [false, true] {
            let bytes = encode_metainfo(&sample(private), &meta).unwrap();
            let value = decode(&bytes).unwrap();
            check(&value);
            assert_eq!(
                value.get(b"info").and_then(|i| i.get(b"private")).is_some(),
                private
            );
        }
    }

    fn sample(private: bool) -> SingleFileInfo {
        SingleFileInfo {
            name: "a b.bin".into(),
            length: 40_000,
            piece_length: 16_384,
            pieces: (0..60u8).collect(),
            private,
        }
    }

    #[test]
    fn info_dict_bytes_are_canonical() {
        let mut want = b"d6:lengthi40000e4:name7:a b.bin12:piece lengthi16384e6:pieces60:".to_vec();
        want.extend(0..60u8);
        want.extend_from_slice(b"7:privatei1ee");
        assert_eq!(sample(true).encode().unwrap(), want);
        let public = sample(false).encode().unwrap();
        assert!(public.ends_with(&[59, b'e']) && !public.windows(7).any(|w| w == b"private"));
    }

    #[test]
    fn metainfo_keys_are_sorted_and_info_is_embedded() {
        let info = sample(false);
        let meta = Metadata {
            trackers: vec!["http://t1/a".into(), "udp://t2:80".into()],
            web_seeds: vec!["http://w/a%20b.bin".into()],
            comment: Some("hi".into()),
            created_by: Some(CREATED_BY.into()),
            creation_date: Some(1_700_000_000),
        };
        let bytes = encode_metainfo(&info, &meta).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let keys = [
            "8:announce11:",
            "13:announce-listll11:http://t1/ael11:udp://t2:80ee",
            "7:comment2:hi",
            "10:created by8:lowspace",
            "13:creation datei1700000000e",
            "4:infod",
            "8:url-listl18:http://w/a%20b.bine",
        ];
        let mut last = 0;
        for key in keys {
            let at = text
                .find(key)
                .unwrap_or_else(|| panic!("{key} missing in {text}"));
            assert!(at >= last, "{key} out of order in {text}");
            last = at;
        }
        let info_bytes = info.encode().unwrap();
        assert!(bytes.windows(info_bytes.len()).any(|w| w == info_bytes));
    }

    #[test]
    fn single_tracker_has_no_announce_list_and_nothing_optional() {
        let bytes = encode_metainfo(
            &sample(false),
            &Metadata {
                trackers: vec!["http://t/a".into()],
                ..Metadata::default()
            },
        )
        .unwrap();
        assert!(bytes.starts_with(b"d8:announce10:http://t/a4:infod"));
        assert!(bytes.ends_with(b"ee"));
    }

    #[test]
    fn invalid_infos_are_errors() {
        let mut empty = sample(false);
        empty.length = 0;
        empty.pieces.clear();
        assert!(empty.encode().unwrap_err().to_string().contains("empty"));
        let mut short = sample(false);
        short.pieces.truncate(40);
        assert!(short.encode().unwrap_err().to_string().contains("60 bytes"));
        let mut path = sample(false);
        path.name = "a/b".into();
        assert!(path
            .encode()
            .unwrap_err()
            .to_string()
            .contains("plain file name"));
        let mut zero = sample(false);
        zero.piece_length = 0;
        assert!(zero.encode().is_err());
    }

    #[test]
    fn pieces_come_back_only_from_a_matching_torrent() {
        for private in [false, true] {
            let info = sample(private);
            let hash = info.info_hash().unwrap();
            let torrent = encode_metainfo(
                &info,
                &Metadata {
                    trackers: vec!["http://t/a".into()],
                    comment: Some("c".into()),
                    ..Metadata::default()
                },
            )
            .unwrap();
            let without = SingleFileInfo {
                pieces: Vec::new(),
                ..info.clone()
            };
            assert_eq!(
                recover_pieces(&torrent, &without, &hash),
                Some(info.pieces.clone())
            );
            // Wrong expected hash, a flipped piece byte, a truncated file.
            assert_eq!(recover_pieces(&torrent, &without, &[0; 20]), None);
            let mut flipped = torrent.clone();
            let at = flipped.len() - 20;
            flipped[at] ^= 1;
            assert_eq!(recover_pieces(&flipped, &without, &hash), None);
            assert_eq!(
                recover_pieces(&torrent[..torrent.len() / 2], &without, &hash),
                None
            );
            assert_eq!(recover_pieces(b"", &without, &hash), None);
        }
    }

    #[test]
    fn hex_and_piece_counts() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(piece_count(32_768, 16_384), 2);
        assert_eq!(piece_count(32_769, 16_384), 3);
        assert_eq!(piece_count(1, 16_384), 1);
        assert_eq!(piece_count(5, 0), 0);
    }

    fn v2_sample(format: Format, length: u64) -> FileTorrent {
        let pieces = piece_count(length, 16384) as usize;
        let hashes: Vec<[u8; 32]> = (0..pieces).map(|i| [i as u8; 32]).collect();
        FileTorrent {
            format,
            info: SingleFileInfo {
                name: "f".into(),
                length,
                piece_length: 16384,
                pieces: if format.has_v1() {
                    vec![7; pieces * PIECE_HASH_LEN]
                } else {
                    Vec::new()
                },
                private: true,
            },
            v2: format
                .has_v2()
                .then(|| V2Hashes::from_piece_hashes(&hashes, 16384)),
        }
    }

    #[test]
    fn merkle_roots_pad_with_zero_subtrees() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(merkle_root(&[a], 1, [0; 32]), a);
        assert_eq!(merkle_root(&[a, b], 2, [0; 32]), node(&a, &b));
        let zero_pair = node(&[0; 32], &[0; 32]);
        assert_eq!(
            merkle_root(&[a], 4, [0; 32]),
            node(&node(&a, &[0; 32]), &zero_pair)
        );
        assert_eq!(merkle_root(&[], 2, [0; 32]), zero_pair);
        // A file of one piece is its own root; more are padded with the
        // root of a piece of zero blocks.
        assert_eq!(v2_root_from_layer(&[a], 32768), a);
        let zero_piece = node(&[0; 32], &[0; 32]);
        assert_eq!(
            v2_root_from_layer(&[a, b, a], 32768),
            node(&node(&a, &b), &node(&a, &zero_piece))
        );
        // The only piece of a small file is as wide as its blocks need.
        assert_eq!(v2_piece_hash(&[a], 65536, true), a);
        assert_eq!(
            v2_piece_hash(&[a], 65536, false),
            node(&node(&a, &[0; 32]), &zero_pair)
        );
    }

    #[test]
    fn v2_info_dict_bytes_are_canonical() {
        let hybrid = v2_sample(Format::Hybrid, 100).encode_info().unwrap();
        let mut want = b"d9:file treed1:fd0:d6:lengthi100e11:pieces root32:".to_vec();
        want.extend_from_slice(&[0; 32]);
        want.extend_from_slice(
            b"eee6:lengthi100e12:meta versioni2e4:name1:f12:piece lengthi16384e6:pieces20:",
        );
        want.extend_from_slice(&[7; 20]);
        want.extend_from_slice(b"7:privatei1ee");
        assert_eq!(hybrid, want);
        let v2 = v2_sample(Format::V2, 100).encode_info().unwrap();
        let mut want = b"d9:file treed1:fd0:d6:lengthi100e11:pieces root32:".to_vec();
        want.extend_from_slice(&[0; 32]);
        want.extend_from_slice(
            b"eee12:meta versioni2e4:name1:f12:piece lengthi16384e7:privatei1ee",
        );
        assert_eq!(v2, want);
        let hashes = v2_sample(Format::V2, 100).info_hashes().unwrap();
        assert_eq!(hashes.v1, None);
        assert_eq!(hashes.wire(), truncate_v2(&hashes.v2.unwrap()));
        let hashes = v2_sample(Format::Hybrid, 100).info_hashes().unwrap();
        assert_eq!(Some(hashes.wire()), hashes.v1);
        // The whole file: piece layers after info, even when empty.
        let file = v2_sample(Format::V2, 40_000)
            .encode(&Metadata::default())
            .unwrap();
        let text = String::from_utf8_lossy(&file);
        assert!(text.contains("e12:piece layersd32:"), "{text}");
        let small = v2_sample(Format::V2, 100)
            .encode(&Metadata::default())
            .unwrap();
        assert!(small.ends_with(b"12:piece layersdee"));
    }

    #[test]
    fn inconsistent_file_torrents_are_errors() {
        let mut no_v2 = v2_sample(Format::Hybrid, 40_000);
        no_v2.v2 = None;
        assert!(no_v2
            .encode_info()
            .unwrap_err()
            .to_string()
            .contains("needs the v2 hashes"));
        let mut extra_v2 = v2_sample(Format::V1, 40_000);
        extra_v2.v2 = v2_sample(Format::V2, 40_000).v2;
        assert!(extra_v2
            .validate()
            .unwrap_err()
            .to_string()
            .contains("no v2 hashes"));
        let mut v1_in_v2 = v2_sample(Format::V2, 40_000);
        v1_in_v2.info.pieces = vec![0; 60];
        assert!(v1_in_v2
            .validate()
            .unwrap_err()
            .to_string()
            .contains("no v1 pieces"));
        let mut short_layer = v2_sample(Format::V2, 40_000);
        if let Some(v2) = &mut short_layer.v2 {
            v2.piece_layer.truncate(64);
        }
        assert!(short_layer
            .validate()
            .unwrap_err()
            .to_string()
            .contains("needs 96 bytes of piece layer, got 64"));
        let mut odd_piece = v2_sample(Format::V2, 40_000);
        odd_piece.info.piece_length = 24_576;
        assert!(odd_piece
            .validate()
            .unwrap_err()
            .to_string()
            .contains("power of two"));
        let mut empty = v2_sample(Format::V2, 40_000);
        empty.info.length = 0;
        assert!(empty.validate().unwrap_err().to_string().contains("empty"));
        assert_eq!(Format::parse(" Hybrid "), Ok(Format::Hybrid));
        assert!(Format::parse("v3")
            .unwrap_err()
            .contains("v1, v2 or hybrid"));
    }
}
