//! The typed view of a .torrent file (BEP 3, with BEP 12 tracker tiers,
//! BEP 19 web seeds, BEP 27 private flag and BEP 47 padding files), v1,
//! v2 (BEP 52) or hybrid.
//!
//! v2: the `file tree` gives each file its merkle `pieces root`; `piece
//! layers` (outside the info dictionary) gives the layer whose nodes cover
//! a piece each. A layer that is given is checked against its root; a
//! torrent without `piece layers` at all is accepted (one made from
//! metadata fetched with a magnet link has none; clients fetch them from
//! peers). A hybrid's v1 files (padding left out) must be its v2 files.
//!
//! The bytes are decoded with the crate's one bencode decoder
//! ([`super::bencode`]); nothing is re-encoded. The info dictionary is kept
//! as the exact bytes found in the file, because the info-hash is defined
//! over those bytes and the metadata peer hands them out unchanged (BEP 9);
//! the piece hashes are a range inside that copy, so what is kept stays
//! about the size of the file.

use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::bencode::{self, BencodeError, Value, MAX_DEPTH};
use super::create::{truncate_v2, v2_root_from_layer, BLOCK_SIZE, V2_HASH_LEN};
use sha2::{Digest, Sha256};

use super::error::{LoadError, MetainfoError};
use super::info_hash::InfoHash;

/// The largest .torrent file `from_file` reads. The biggest public torrents
/// (hundreds of thousands of files) stay well under it; anything larger is
/// almost surely not a torrent, and a Raspberry Pi should not slurp it.
pub const MAX_TORRENT_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Length of one SHA-1 piece hash.
pub const PIECE_HASH_LEN: usize = 20;

/// One file of the torrent, as it lies in the download directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the download directory, one component per element.
    /// A single-file torrent's only file is `[name]`; a multi-file torrent's
    /// files start with the torrent's name (its directory). Every component
    /// is checked: no `..`, `.`, empty part, `/` or NUL.
    pub path: Vec<String>,
    /// Size in bytes.
    pub length: u64,
    /// Where the file starts in the torrent's data (all files end to end);
    /// pieces are cut from that stream.
    pub offset: u64,
    /// A BEP 47 padding file (`attr` contains `p`): not real content, so
    /// clients may skip writing it.
    pub padding: bool,
    /// v2 (BEP 52): the root of the file's merkle tree; none for v1-only
    /// torrents, empty files and padding.
    pub pieces_root: Option<[u8; 32]>,
}

impl FileEntry {
    /// The path joined with `/`, for people and logs.
    pub fn display_path(&self) -> String {
        self.path.join("/")
    }

    /// The path as a relative filesystem path.
    pub fn relative_path(&self) -> PathBuf {
        self.path.iter().collect()
    }
}

/// Which BitTorrent versions a torrent holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TorrentVersion {
    V1,
    V2,
    /// v1 `pieces` and a v2 `file tree` over the same files.
    Hybrid,
}

impl std::fmt::Display for TorrentVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TorrentVersion::V1 => "v1",
            TorrentVersion::V2 => "v2",
            TorrentVersion::Hybrid => "hybrid (v1 and v2)",
        })
    }
}

/// A parsed, validated .torrent file. Build it with [`Metainfo::from_bytes`]
/// or [`Metainfo::from_file`]; every accessor then returns checked data.
#[derive(Debug, Clone)]
pub struct Metainfo {
    info_bytes: Vec<u8>,
    info_offset: usize,
    info_hash: InfoHash,
    info_hash_v2: Option<[u8; 32]>,
    version: TorrentVersion,
    /// `piece layers` as given: (pieces root, layer); each checked.
    piece_layers: Vec<PieceLayer>,
    v2_piece_count: usize,
    pieces: Range<usize>,
    name: String,
    piece_length: u64,
    files: Vec<FileEntry>,
    single_file: bool,
    total_size: u64,
    private: bool,
    tracker_tiers: Vec<Vec<String>>,
    web_seeds: Vec<String>,
    comment: Option<String>,
    created_by: Option<String>,
    creation_date: Option<i64>,
}

impl Metainfo {
    /// Parses the bytes of a .torrent file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
        parse(bytes)
    }

    /// Reads and parses a .torrent file; errors name the file.
    pub fn from_file(path: &Path) -> Result<Metainfo, LoadError> {
        let read_error = |source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let mut bytes = Vec::new();
        file.take(MAX_TORRENT_FILE_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > MAX_TORRENT_FILE_SIZE {
            return Err(LoadError::TooLarge {
                path: path.to_path_buf(),
                limit: MAX_TORRENT_FILE_SIZE,
            });
        }
        Metainfo::from_bytes(&bytes).map_err(|error| LoadError::Invalid {
            path: path.to_path_buf(),
            error,
        })
    }

    /// The 20-byte info-hash trackers, the DHT and peers use: SHA-1 of
    /// the info dictionary exactly as it is in the file, or for a v2-only
    /// torrent its SHA-256 cut to 20 bytes (BEP 52).
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// The v2 info-hash (SHA-256 of the info dictionary) of a v2 or hybrid
    /// torrent.
    pub fn info_hash_v2(&self) -> Option<[u8; 32]> {
        self.info_hash_v2
    }

    /// v1, v2 or hybrid.
    pub fn version(&self) -> TorrentVersion {
        self.version
    }

    /// The piece layer of the file whose `pieces root` is `root`, checked
    /// against it; `None` when the torrent does not give it (a file of one
    /// piece has none).
    pub fn piece_layer(&self, root: &[u8; 32]) -> Option<&[u8]> {
        self.piece_layers
            .iter()
            .find(|(r, _)| r == root)
            .map(|(_, layer)| layer.as_slice())
    }

    /// The raw bencoded info dictionary, byte for byte as in the file: what a
    /// metadata peer sends (BEP 9) and what the info-hash is computed over.
    pub fn info_bytes(&self) -> &[u8] {
        &self.info_bytes
    }

    /// Where the info dictionary starts in the bytes this was parsed from
    /// (the .torrent file): the metadata peer reads `info_bytes().len()`
    /// bytes from there on request instead of keeping them in memory.
    pub fn info_offset(&self) -> usize {
        self.info_offset
    }

    /// `info.name`: the file name of a single-file torrent, the directory
    /// name of a multi-file one.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes per piece (the last piece may be shorter).
    pub fn piece_length(&self) -> u64 {
        self.piece_length
    }

    /// Number of pieces: of the v1 data when there is v1, else the sum of
    /// every file's v2 pieces (v2 starts each file on a piece).
    pub fn piece_count(&self) -> usize {
        if self.version == TorrentVersion::V2 {
            self.v2_piece_count
        } else {
            self.pieces.len() / PIECE_HASH_LEN
        }
    }

    /// All v1 piece hashes end to end (20 bytes each); empty for v2 only.
    pub fn pieces(&self) -> &[u8] {
        self.info_bytes.get(self.pieces.clone()).unwrap_or(&[])
    }

    /// The SHA-1 of piece `index`, if there is such a piece.
    pub fn piece_hash(&self, index: usize) -> Option<[u8; 20]> {
        let start = index.checked_mul(PIECE_HASH_LEN)?;
        let hash = self
            .pieces()
            .get(start..start.checked_add(PIECE_HASH_LEN)?)?;
        hash.try_into().ok()
    }

    /// The size of v1 piece `index` (the last one holds what is left).
    pub fn piece_size(&self, index: usize) -> Option<u64> {
        if index >= self.pieces.len() / PIECE_HASH_LEN {
            return None;
        }
        let start = (index as u64).checked_mul(self.piece_length)?;
        Some(self.piece_length.min(self.total_size.saturating_sub(start)))
    }

    /// Every file, in torrent order, with paths relative to the download
    /// directory (see [`FileEntry::path`]). Single-file torrents yield one.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// True when the torrent is one file (`info.length`), not a directory.
    pub fn is_single_file(&self) -> bool {
        self.single_file
    }

    /// Sum of all file lengths, padding files included (they are pieces too).
    pub fn total_size(&self) -> u64 {
        self.total_size
    }

    /// BEP 27: peers only from the torrent's trackers, no DHT or PEX.
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// Trackers by tier (BEP 12): `announce-list` when it has any, else the
    /// single `announce`. Empty tiers and empty addresses are left out.
    pub fn tracker_tiers(&self) -> &[Vec<String>] {
        &self.tracker_tiers
    }

    /// Every tracker once, tier order kept.
    pub fn trackers(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for url in self.tracker_tiers.iter().flatten() {
            if !seen.contains(&url.as_str()) {
                seen.push(url);
            }
        }
        seen
    }

    /// BEP 19 web seeds (`url-list`), each once, order kept.
    pub fn web_seeds(&self) -> &[String] {
        &self.web_seeds
    }

    /// The free-text `comment`, if any (lossy UTF-8).
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The `created by` program, if any (lossy UTF-8).
    pub fn created_by(&self) -> Option<&str> {
        self.created_by.as_deref()
    }

    /// `creation date` in seconds since 1970 (UTC), if any.
    pub fn creation_date(&self) -> Option<i64> {
        self.creation_date
    }
}

/// Where a value sits in the torrent, rendered as `info.files[3].path` for
/// errors. A stack-allocated chain, so naming costs nothing until an error
/// is actually reported.
#[derive(Clone, Copy)]
struct Field<'a> {
    parent: Option<&'a Field<'a>>,
    part: Part<'a>,
}

#[derive(Clone, Copy)]
enum Part<'a> {
    Key(&'a str),
    Index(usize),
}

impl<'a> Field<'a> {
    const fn top(key: &'a str) -> Field<'a> {
        Field {
            parent: None,
            part: Part::Key(key),
        }
    }

    fn key(&'a self, key: &'a str) -> Field<'a> {
        Field {
            parent: Some(self),
            part: Part::Key(key),
        }
    }

    fn index(&'a self, index: usize) -> Field<'a> {
        Field {
            parent: Some(self),
            part: Part::Index(index),
        }
    }

    fn name(&self) -> String {
        self.to_string()
    }
}

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(parent) = self.parent {
            parent.fmt(f)?;
            if let Part::Key(key) = self.part {
                write!(f, ".{key}")?;
            }
        } else if let Part::Key(key) = self.part {
            f.write_str(key)?;
        }
        if let Part::Index(index) = self.part {
            write!(f, "[{index}]")?;
        }
        Ok(())
    }
}

/// The name errors about the whole file use.
const TOP: Field<'static> = Field::top("torrent");

fn bencode_error(field: Field, error: BencodeError) -> MetainfoError {
    let detail = match error {
        BencodeError::Truncated => {
            return MetainfoError::Truncated {
                field: field.name(),
            }
        }
        BencodeError::TooDeep => format!("values nested more than {MAX_DEPTH} levels deep"),
        other => other.to_string(),
    };
    MetainfoError::NotBencode {
        field: field.name(),
        detail,
    }
}

fn wrong_type(field: Field, expected: &'static str, value: &Value) -> MetainfoError {
    MetainfoError::WrongType {
        field: field.name(),
        expected,
        found: value.kind(),
    }
}

fn missing(field: Field) -> MetainfoError {
    MetainfoError::Missing {
        field: field.name(),
    }
}

fn take_bytes<'s>(field: Field, value: &Value<'s>) -> Result<&'s [u8], MetainfoError> {
    value
        .as_bytes()
        .ok_or_else(|| wrong_type(field, "a string", value))
}

fn take_text<'s>(field: Field, value: &Value<'s>) -> Result<&'s str, MetainfoError> {
    let bytes = take_bytes(field, value)?;
    std::str::from_utf8(bytes).map_err(|_| MetainfoError::NotUtf8 {
        field: field.name(),
    })
}

fn take_integer(field: Field, value: &Value) -> Result<i64, MetainfoError> {
    value
        .as_int()
        .ok_or_else(|| wrong_type(field, "an integer", value))
}

/// A size: zero or more.
fn take_length(field: Field, value: &Value) -> Result<u64, MetainfoError> {
    let number = take_integer(field, value)?;
    u64::try_from(number).map_err(|_| MetainfoError::BadInteger {
        field: field.name(),
        value: number.to_string(),
        reason: "negative",
    })
}

fn take_list<'v, 's>(field: Field, value: &'v Value<'s>) -> Result<&'v [Value<'s>], MetainfoError> {
    value
        .as_list()
        .ok_or_else(|| wrong_type(field, "a list", value))
}

/// A dictionary's pairs. A key that repeats is refused: clients disagree
/// on which value wins, so the torrent would mean different things to
/// different programs. (Unsorted keys are accepted, as rtorrent and
/// libtorrent accept them; the info-hash is over the bytes as they are.)
fn take_dict<'v, 's>(
    field: Field,
    value: &'v Value<'s>,
) -> Result<&'v [(&'s [u8], Value<'s>)], MetainfoError> {
    let Value::Dict(pairs) = value else {
        return Err(wrong_type(field, "a dictionary", value));
    };
    for (index, (key, _)) in pairs.iter().enumerate() {
        if pairs.iter().skip(index + 1).any(|(other, _)| other == key) {
            return Err(MetainfoError::NotBencode {
                field: field.name(),
                detail: format!(
                    "the dictionary key \"{}\" repeats",
                    String::from_utf8_lossy(key)
                ),
            });
        }
    }
    Ok(pairs)
}

/// Why a path component cannot be used as a file name, if it cannot.
fn unsafe_component(component: &str) -> Option<&'static str> {
    use crate::relpath::{component_fault, ComponentFault};
    component_fault(component).map(|fault| match fault {
        ComponentFault::Empty => "an empty component",
        ComponentFault::Dot => "a '.' component",
        ComponentFault::DotDot => "a '..' component would climb out of the download directory",
        ComponentFault::Slash => "a '/' inside a component (absolute or smuggled sub-path)",
        ComponentFault::Nul => "a NUL byte",
    })
}

fn check_path(field: Field, components: &[String]) -> Result<(), MetainfoError> {
    let reason = if components.is_empty() {
        Some("no components")
    } else {
        components.iter().find_map(|c| unsafe_component(c))
    };
    match reason {
        Some(reason) => Err(MetainfoError::UnsafePath {
            field: field.name(),
            path: components.join("/"),
            reason,
        }),
        None => Ok(()),
    }
}

fn parse_path(field: Field, value: &Value) -> Result<Vec<String>, MetainfoError> {
    let list = take_list(field, value)?;
    let mut components = Vec::with_capacity(list.len());
    for (index, item) in list.iter().enumerate() {
        components.push(take_text(field.index(index), item)?.to_owned());
    }
    check_path(field, &components)?;
    Ok(components)
}

/// One entry of `info.files`, path not yet prefixed with the torrent name.
fn parse_file_entry(field: Field, value: &Value) -> Result<FileEntry, MetainfoError> {
    let (mut length, mut path, mut padding) = (None, None, false);
    for (key, value) in take_dict(field, value)? {
        match *key {
            b"length" => length = Some(take_length(field.key("length"), value)?),
            b"path" => path = Some(parse_path(field.key("path"), value)?),
            b"attr" => padding = take_bytes(field.key("attr"), value)?.contains(&b'p'),
            _ => {}
        }
    }
    Ok(FileEntry {
        length: length.ok_or_else(|| missing(field.key("length")))?,
        path: path.ok_or_else(|| missing(field.key("path")))?,
        offset: 0,
        padding,
        pieces_root: None,
    })
}

fn parse_files(field: Field, value: &Value) -> Result<Vec<FileEntry>, MetainfoError> {
    let list = take_list(field, value)?;
    let mut files = Vec::with_capacity(list.len());
    for (index, item) in list.iter().enumerate() {
        files.push(parse_file_entry(field.index(index), item)?);
    }
    Ok(files)
}

/// The info dictionary's fields as found, before cross-checks.
#[derive(Default)]
struct InfoFields<'s> {
    name: Option<&'s str>,
    piece_length: Option<u64>,
    pieces: Option<&'s [u8]>,
    length: Option<u64>,
    files: Option<Vec<FileEntry>>,
    private: bool,
    meta_version: Option<i64>,
    /// v2 files in tree order: path below the name, length, pieces root.
    file_tree: Option<Vec<TreeFile>>,
}

/// A v2 file as its tree gives it: the path below the torrent's name, the
/// length and (unless empty) the pieces root.
type TreeFile = (Vec<String>, u64, Option<[u8; 32]>);

/// A pieces root and its file's piece layer.
type PieceLayer = ([u8; 32], Vec<u8>);

/// A 32-byte SHA-256.
fn take_hash32(field: Field, value: &Value) -> Result<[u8; 32], MetainfoError> {
    let bytes = take_bytes(field, value)?;
    bytes.try_into().map_err(|_| MetainfoError::BadHashLength {
        field: field.name(),
        length: bytes.len(),
        expected: V2_HASH_LEN,
    })
}

/// One level of a v2 `file tree`: names map to directories, and a
/// directory holding only the key "" is a file, whose dictionary has its
/// `length` and, unless empty, its `pieces root`.
fn parse_file_tree(
    field: Field,
    value: &Value,
    prefix: &mut Vec<String>,
    out: &mut Vec<TreeFile>,
) -> Result<(), MetainfoError> {
    let pairs = take_dict(field, value)?;
    if pairs.is_empty() {
        return Err(MetainfoError::BadFileTree {
            field: field.name(),
            reason: "an empty directory",
        });
    }
    for (key, value) in pairs {
        if key.is_empty() {
            if prefix.is_empty() {
                return Err(MetainfoError::BadFileTree {
                    field: field.name(),
                    reason: "a file without a name",
                });
            }
            if pairs.len() > 1 {
                return Err(MetainfoError::BadFileTree {
                    field: field.name(),
                    reason: "both a file and a directory",
                });
            }
            let leaf = field.key("");
            let (mut length, mut root) = (None, None);
            for (key, value) in take_dict(leaf, value)? {
                match *key {
                    b"length" => length = Some(take_length(leaf.key("length"), value)?),
                    b"pieces root" => root = Some(take_hash32(leaf.key("pieces root"), value)?),
                    _ => {}
                }
            }
            let length = length.ok_or_else(|| missing(leaf.key("length")))?;
            if length > 0 && root.is_none() {
                return Err(missing(leaf.key("pieces root")));
            }
            out.push((prefix.clone(), length, root.filter(|_| length > 0)));
            continue;
        }
        let name = std::str::from_utf8(key).map_err(|_| MetainfoError::NotUtf8 {
            field: field.name(),
        })?;
        let child = field.key(name);
        if let Some(reason) = unsafe_component(name) {
            return Err(MetainfoError::UnsafePath {
                field: child.name(),
                path: name.to_owned(),
                reason,
            });
        }
        prefix.push(name.to_owned());
        parse_file_tree(child, value, prefix, out)?;
        prefix.pop();
    }
    Ok(())
}

/// `piece layers`: pieces root to the layer of that file's tree whose
/// nodes cover a piece each.
fn parse_piece_layers(field: Field, value: &Value) -> Result<Vec<PieceLayer>, MetainfoError> {
    let mut layers = Vec::new();
    for (index, (key, value)) in take_dict(field, value)?.iter().enumerate() {
        let key_field = field.index(index);
        let root: [u8; 32] = (*key)
            .try_into()
            .map_err(|_| MetainfoError::BadHashLength {
                field: key_field.name(),
                length: key.len(),
                expected: V2_HASH_LEN,
            })?;
        layers.push((root, take_bytes(key_field, value)?.to_vec()));
    }
    Ok(layers)
}

/// Reads the info dictionary's fields.
fn parse_info<'s>(field: Field, value: &Value<'s>) -> Result<InfoFields<'s>, MetainfoError> {
    let mut info = InfoFields::default();
    for (key, value) in take_dict(field, value)? {
        match *key {
            b"name" => info.name = Some(take_text(field.key("name"), value)?),
            b"piece length" => {
                let f = field.key("piece length");
                let length = take_length(f, value)?;
                if length == 0 {
                    return Err(MetainfoError::BadInteger {
                        field: f.name(),
                        value: "0".into(),
                        reason: "zero; pieces must hold at least one byte",
                    });
                }
                info.piece_length = Some(length);
            }
            b"pieces" => info.pieces = Some(take_bytes(field.key("pieces"), value)?),
            b"length" => info.length = Some(take_length(field.key("length"), value)?),
            b"files" => info.files = Some(parse_files(field.key("files"), value)?),
            b"private" => info.private = take_integer(field.key("private"), value)? == 1,
            b"meta version" => {
                info.meta_version = Some(take_integer(field.key("meta version"), value)?)
            }
            b"file tree" => {
                let mut files = Vec::new();
                parse_file_tree(field.key("file tree"), value, &mut Vec::new(), &mut files)?;
                info.file_tree = Some(files);
            }
            _ => {}
        }
    }
    Ok(info)
}

/// BEP 12 tiers: a list of lists of tracker addresses.
fn parse_tiers(field: Field, value: &Value) -> Result<Vec<Vec<String>>, MetainfoError> {
    let mut tiers = Vec::new();
    for (index, item) in take_list(field, value)?.iter().enumerate() {
        let tier_field = field.index(index);
        let mut urls: Vec<String> = Vec::new();
        for (url_index, url) in take_list(tier_field, item)?.iter().enumerate() {
            let url = take_text(tier_field.index(url_index), url)?.trim();
            if !url.is_empty() && !urls.iter().any(|u| u == url) {
                urls.push(url.to_owned());
            }
        }
        if !urls.is_empty() {
            tiers.push(urls);
        }
    }
    Ok(tiers)
}

/// BEP 19 `url-list`: one address, or a list of them.
fn parse_url_list(field: Field, value: &Value) -> Result<Vec<String>, MetainfoError> {
    let mut urls: Vec<String> = Vec::new();
    let mut add = |url: &str| {
        let url = url.trim();
        if !url.is_empty() && !urls.iter().any(|u| u == url) {
            urls.push(url.to_owned());
        }
    };
    match value {
        Value::Bytes(_) => add(take_text(field, value)?),
        Value::List(list) => {
            for (index, item) in list.iter().enumerate() {
                add(take_text(field.index(index), item)?);
            }
        }
        other => return Err(wrong_type(field, "a string or a list of strings", other)),
    }
    Ok(urls)
}

/// Informational text (comment, created by): shown, never acted on, so a
/// wrong type is ignored rather than refusing a torrent every client loads.
fn informational_text(value: &Value) -> Option<String> {
    value
        .as_bytes()
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
}

#[derive(Default)]
struct TopFields<'s> {
    announce: Option<String>,
    announce_list: Vec<Vec<String>>,
    web_seeds: Vec<String>,
    comment: Option<String>,
    created_by: Option<String>,
    creation_date: Option<i64>,
    /// The info dictionary's fields and its exact bytes.
    info: Option<(InfoFields<'s>, &'s [u8])>,
    piece_layers: Option<Vec<PieceLayer>>,
}

/// The top-level dictionary is walked one value at a time (rather than
/// decoded whole) for one reason: the info dictionary's exact bytes, its
/// offset in the file, are then simply where its value starts and ends.
fn parse(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
    if bytes.is_empty() {
        return Err(MetainfoError::Empty);
    }
    if bytes.first() != Some(&b'd') {
        return Err(match bencode::decode_prefix(bytes) {
            Ok((value, _)) => wrong_type(TOP, "a dictionary", &value),
            Err(e) => bencode_error(TOP, e),
        });
    }
    let mut fields = TopFields::default();
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut info_offset = 0;
    let mut pos = 1;
    loop {
        let rest = bytes.get(pos..).unwrap_or_default();
        match rest.first() {
            None => return Err(bencode_error(TOP, BencodeError::Truncated)),
            Some(b'e') => {
                pos += 1;
                break;
            }
            Some(b'0'..=b'9') => {}
            Some(_) => {
                return Err(bencode_error(
                    TOP,
                    BencodeError::KeyNotString { offset: pos },
                ))
            }
        }
        let (key, used) = bencode::decode_prefix(rest).map_err(|e| bencode_error(TOP, e))?;
        let key = key.as_bytes().unwrap_or_default();
        pos += used;
        let key_text = String::from_utf8_lossy(key);
        let field = Field::top(&key_text);
        let rest = bytes.get(pos..).unwrap_or_default();
        let (value, used) = bencode::decode_prefix(rest).map_err(|e| bencode_error(field, e))?;
        let raw = rest.get(..used).unwrap_or_default();
        if seen.contains(&key) {
            return Err(MetainfoError::NotBencode {
                field: TOP.name(),
                detail: format!("the dictionary key \"{key_text}\" repeats"),
            });
        }
        seen.push(key);
        match key {
            b"announce" => {
                let url = take_text(field, &value)?.trim();
                fields.announce = (!url.is_empty()).then(|| url.to_owned());
            }
            b"announce-list" => fields.announce_list = parse_tiers(field, &value)?,
            b"url-list" => fields.web_seeds = parse_url_list(field, &value)?,
            b"piece layers" => fields.piece_layers = Some(parse_piece_layers(field, &value)?),
            b"comment" => fields.comment = informational_text(&value),
            b"created by" => fields.created_by = informational_text(&value),
            b"creation date" => fields.creation_date = value.as_int(),
            b"info" => {
                info_offset = pos;
                fields.info = Some((parse_info(field, &value)?, raw));
            }
            _ => {}
        }
        pos += used;
    }
    if pos < bytes.len() {
        return Err(MetainfoError::TrailingData {
            offset: pos,
            extra: bytes.len() - pos,
        });
    }
    assemble(fields, info_offset)
}

/// Cross-checks the fields and builds the validated [`Metainfo`].
fn assemble(fields: TopFields, info_offset: usize) -> Result<Metainfo, MetainfoError> {
    let info_field = Field::top("info");
    let Some((info, info_raw)) = fields.info else {
        return Err(missing(info_field));
    };
    let name = info.name.ok_or_else(|| missing(info_field.key("name")))?;
    if let Some(reason) = unsafe_component(name) {
        return Err(MetainfoError::UnsafePath {
            field: info_field.key("name").name(),
            path: name.to_owned(),
            reason,
        });
    }
    let piece_length = info
        .piece_length
        .ok_or_else(|| missing(info_field.key("piece length")))?;
    match (info.meta_version, &info.file_tree) {
        (Some(2), Some(_)) | (None, None) => {}
        (Some(2), None) => return Err(missing(info_field.key("file tree"))),
        (Some(other), _) => return Err(MetainfoError::MetaVersion { value: other }),
        (None, Some(_)) => return Err(missing(info_field.key("meta version"))),
    }
    let version = match (info.pieces.is_some(), info.file_tree.is_some()) {
        (true, false) => TorrentVersion::V1,
        (true, true) => TorrentVersion::Hybrid,
        (false, true) => TorrentVersion::V2,
        (false, false) => return Err(missing(info_field.key("pieces"))),
    };
    if version != TorrentVersion::V1
        && (!piece_length.is_power_of_two() || piece_length < BLOCK_SIZE)
    {
        return Err(MetainfoError::BadInteger {
            field: info_field.key("piece length").name(),
            value: piece_length.to_string(),
            reason: "not a power of two of at least 16 KiB, as v2 needs",
        });
    }

    // The v2 files with their paths from the download directory: a tree of
    // one file named as the torrent is a single-file torrent.
    let v2_files: Option<(bool, Vec<FileEntry>)> = info.file_tree.map(|tree| {
        let single = matches!(tree.as_slice(), [(path, _, _)] if path.len() == 1 && path.first().map(String::as_str) == Some(name));
        let files = tree
            .into_iter()
            .map(|(mut path, length, pieces_root)| {
                if !single {
                    path.insert(0, name.to_owned());
                }
                FileEntry {
                    path,
                    length,
                    offset: 0,
                    padding: false,
                    pieces_root,
                }
            })
            .collect();
        (single, files)
    });

    let v1_files = match (info.length, info.files) {
        (Some(_), Some(_)) => return Err(MetainfoError::BothLengthAndFiles),
        (Some(length), None) => Some((
            true,
            vec![FileEntry {
                path: vec![name.to_owned()],
                length,
                offset: 0,
                padding: false,
                pieces_root: None,
            }],
        )),
        (None, Some(mut files)) => {
            for file in &mut files {
                file.path.insert(0, name.to_owned());
            }
            Some((false, files))
        }
        (None, None) if version == TorrentVersion::V2 => None,
        (None, None) => return Err(missing(info_field.key("files"))),
    };

    let (single_file, mut files) = match (v1_files, v2_files) {
        (Some(v1), None) => v1,
        (None, Some(v2)) => v2,
        (Some((single, mut v1)), Some((_, v2))) => {
            match_hybrid(&mut v1, &v2)?;
            (single, v1)
        }
        (None, None) => return Err(missing(info_field.key("files"))),
    };

    // v1 lays the files end to end; v2 starts each one on a piece.
    let aligned = version == TorrentVersion::V2;
    let mut total_size: u64 = 0;
    let mut offset: u64 = 0;
    let mut v2_piece_count: u64 = 0;
    for (index, file) in files.iter_mut().enumerate() {
        file.offset = offset;
        let overflow = || MetainfoError::BadInteger {
            field: format!("info.files[{index}].length"),
            value: file.length.to_string(),
            reason: "too large: the total size overflows",
        };
        total_size = total_size.checked_add(file.length).ok_or_else(overflow)?;
        let pieces = file.length.div_ceil(piece_length);
        v2_piece_count = v2_piece_count.saturating_add(pieces);
        offset = if aligned {
            pieces
                .checked_mul(piece_length)
                .and_then(|span| offset.checked_add(span))
                .ok_or_else(overflow)?
        } else {
            total_size
        };
    }
    if total_size == 0 {
        return Err(MetainfoError::NoData);
    }
    let pieces = info.pieces.unwrap_or_default();
    if version != TorrentVersion::V2 {
        if pieces.len() % PIECE_HASH_LEN != 0 {
            return Err(MetainfoError::PiecesNotWhole {
                length: pieces.len(),
            });
        }
        let found = (pieces.len() / PIECE_HASH_LEN) as u64;
        let expected = total_size.div_ceil(piece_length);
        if found != expected {
            return Err(MetainfoError::PieceCountMismatch {
                found,
                expected,
                total_size,
                piece_length,
            });
        }
    }
    let piece_layers = match fields.piece_layers {
        Some(layers) if version != TorrentVersion::V1 => {
            check_piece_layers(&files, &layers, piece_length)?;
            layers
        }
        _ => Vec::new(),
    };
    // `pieces` borrows from inside `info_raw`; keep its position so the one
    // copy of the info dictionary serves both.
    let start = if pieces.is_empty() {
        0
    } else {
        (pieces.as_ptr() as usize).saturating_sub(info_raw.as_ptr() as usize)
    };
    let pieces_range = start..start + pieces.len();
    debug_assert_eq!(info_raw.get(pieces_range.clone()), Some(pieces));

    let tracker_tiers = if fields.announce_list.is_empty() {
        fields.announce.into_iter().map(|url| vec![url]).collect()
    } else {
        fields.announce_list
    };
    let info_hash_v2: Option<[u8; 32]> =
        (version != TorrentVersion::V1).then(|| Sha256::digest(info_raw).into());
    let info_hash = match info_hash_v2 {
        Some(v2) if version == TorrentVersion::V2 => InfoHash::from_bytes(truncate_v2(&v2)),
        _ => InfoHash::of_info_bytes(info_raw),
    };

    Ok(Metainfo {
        info_hash,
        info_hash_v2,
        version,
        piece_layers,
        v2_piece_count: usize::try_from(v2_piece_count).unwrap_or(usize::MAX),
        info_bytes: info_raw.to_vec(),
        info_offset,
        pieces: pieces_range,
        name: name.to_owned(),
        piece_length,
        files,
        single_file,
        total_size,
        private: info.private,
        tracker_tiers,
        web_seeds: fields.web_seeds,
        comment: fields.comment,
        created_by: fields.created_by,
        creation_date: fields.creation_date,
    })
}

/// A hybrid's v1 files, padding left out, must be its v2 files, in the
/// same order with the same paths and lengths; each v1 file then takes its
/// v2 `pieces root`.
fn match_hybrid(v1: &mut [FileEntry], v2: &[FileEntry]) -> Result<(), MetainfoError> {
    let mut v2_files = v2.iter();
    for (index, file) in v1.iter_mut().enumerate().filter(|(_, f)| !f.padding) {
        let Some(other) = v2_files.next() else {
            return Err(MetainfoError::HybridMismatch {
                detail: format!(
                    "info.files[{index}] ({}) is not in the v2 file tree",
                    file.display_path()
                ),
            });
        };
        if other.path != file.path || other.length != file.length {
            return Err(MetainfoError::HybridMismatch {
                detail: format!(
                    "v1 file {} ({} bytes) but v2 file {} ({} bytes) in its place",
                    file.display_path(),
                    file.length,
                    other.display_path(),
                    other.length
                ),
            });
        }
        file.pieces_root = other.pieces_root;
    }
    if let Some(extra) = v2_files.next() {
        return Err(MetainfoError::HybridMismatch {
            detail: format!("v2 file {} is not among the v1 files", extra.display_path()),
        });
    }
    Ok(())
}

/// Every file of more than one piece has its layer, of the right length,
/// and the layer hashes up to the file's root.
fn check_piece_layers(
    files: &[FileEntry],
    layers: &[PieceLayer],
    piece_length: u64,
) -> Result<(), MetainfoError> {
    for file in files {
        let Some(root) = file.pieces_root else {
            continue;
        };
        if file.length <= piece_length {
            continue;
        }
        let path = file.display_path();
        let Some((_, layer)) = layers.iter().find(|(r, _)| *r == root) else {
            return Err(MetainfoError::MissingPieceLayer { path });
        };
        let pieces = file.length.div_ceil(piece_length);
        if layer.len() as u64 != pieces.saturating_mul(V2_HASH_LEN as u64) {
            return Err(MetainfoError::BadPieceLayer {
                path,
                reason: format!(
                    "{} bytes, but {pieces} pieces need {} bytes",
                    layer.len(),
                    pieces.saturating_mul(V2_HASH_LEN as u64)
                ),
            });
        }
        let nodes: Vec<[u8; 32]> = layer
            .chunks_exact(V2_HASH_LEN)
            .filter_map(|c| c.try_into().ok())
            .collect();
        if v2_root_from_layer(&nodes, piece_length) != root {
            return Err(MetainfoError::BadPieceLayer {
                path,
                reason: "its hashes do not lead to the file's pieces root".into(),
            });
        }
    }
    Ok(())
}
