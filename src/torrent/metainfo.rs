//! The typed view of a .torrent file (BEP 3, with BEP 12 tracker tiers,
//! BEP 19 web seeds, BEP 27 private flag and BEP 47 padding files).
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

/// A parsed, validated .torrent file. Build it with [`Metainfo::from_bytes`]
/// or [`Metainfo::from_file`]; every accessor then returns checked data.
#[derive(Debug, Clone)]
pub struct Metainfo {
    info_bytes: Vec<u8>,
    info_offset: usize,
    info_hash: InfoHash,
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

    /// SHA-1 of the info dictionary exactly as it is in the file.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
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

    /// Number of pieces.
    pub fn piece_count(&self) -> usize {
        self.pieces.len() / PIECE_HASH_LEN
    }

    /// All piece hashes end to end (20 bytes each).
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

    /// The size of piece `index` (the last one holds what is left).
    pub fn piece_size(&self, index: usize) -> Option<u64> {
        if index >= self.piece_count() {
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
    v2_file_tree: bool,
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
            b"file tree" => info.v2_file_tree = true,
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
    let pieces = match info.pieces {
        Some(pieces) => pieces,
        None if info.v2_file_tree => return Err(MetainfoError::V2Only),
        None => return Err(missing(info_field.key("pieces"))),
    };

    let (single_file, mut files) = match (info.length, info.files) {
        (Some(_), Some(_)) => return Err(MetainfoError::BothLengthAndFiles),
        (Some(length), None) => (
            true,
            vec![FileEntry {
                path: vec![name.to_owned()],
                length,
                offset: 0,
                padding: false,
            }],
        ),
        (None, Some(mut files)) => {
            for file in &mut files {
                file.path.insert(0, name.to_owned());
            }
            (false, files)
        }
        (None, None) => return Err(missing(info_field.key("files"))),
    };

    let mut total_size: u64 = 0;
    for (index, file) in files.iter_mut().enumerate() {
        file.offset = total_size;
        total_size =
            total_size
                .checked_add(file.length)
                .ok_or_else(|| MetainfoError::BadInteger {
                    field: format!("info.files[{index}].length"),
                    value: file.length.to_string(),
                    reason: "too large: the total size overflows",
                })?;
    }
    if total_size == 0 {
        return Err(MetainfoError::NoData);
    }
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
    // `pieces` borrows from inside `info_raw`; keep its position so the one
    // copy of the info dictionary serves both.
    let start = (pieces.as_ptr() as usize).saturating_sub(info_raw.as_ptr() as usize);
    let pieces_range = start..start + pieces.len();
    debug_assert_eq!(info_raw.get(pieces_range.clone()), Some(pieces));

    let tracker_tiers = if fields.announce_list.is_empty() {
        fields.announce.into_iter().map(|url| vec![url]).collect()
    } else {
        fields.announce_list
    };

    Ok(Metainfo {
        info_hash: InfoHash::of_info_bytes(info_raw),
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
