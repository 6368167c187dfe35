//! Why a .torrent file or a magnet link was refused.
//!
//! Every variant names the field it is about in the dotted form a user can
//! find in the file (`info.files[3].path`), so a bad torrent out of a
//! listing of thousands can be found and reported upstream without a hex
//! editor.

use std::fmt;
use std::path::PathBuf;

/// Why the bytes of a torrent could not be read as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetainfoError {
    /// Zero bytes: usually a download that failed half way.
    Empty,
    /// The bytes end inside `field` (a dictionary, list or string).
    Truncated { field: String },
    /// The bytes are not bencode at all, or break its rules (a bad integer,
    /// unsorted or repeated dictionary keys, nesting too deep).
    NotBencode { field: String, detail: String },
    /// More bytes follow the end of the torrent dictionary.
    TrailingData { offset: usize, extra: usize },
    /// A field the torrent needs is absent.
    Missing { field: String },
    /// A field holds another kind of value than the one it must hold.
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    /// An integer that is negative, zero or too big where that makes no sense.
    BadInteger {
        field: String,
        value: String,
        reason: &'static str,
    },
    /// Text that must be UTF-8 (names, paths, tracker addresses) is not.
    NotUtf8 { field: String },
    /// A file name that would escape the download directory or cannot be a
    /// file name: `..`, `.`, an empty part, a `/` inside a part, a NUL.
    UnsafePath {
        field: String,
        path: String,
        reason: &'static str,
    },
    /// `info.pieces` is not a whole number of 20-byte SHA-1 hashes.
    PiecesNotWhole { length: usize },
    /// The number of piece hashes does not fit the total size.
    PieceCountMismatch {
        found: u64,
        expected: u64,
        total_size: u64,
        piece_length: u64,
    },
    /// Both `info.length` and `info.files`: single- or multi-file is unclear.
    BothLengthAndFiles,
    /// Every file is empty, so there is nothing to download or seed.
    NoData,
    /// `info.meta version` is not 2, the only v2 version there is.
    MetaVersion { value: i64 },
    /// A v2 `file tree` that does not describe files.
    BadFileTree { field: String, reason: &'static str },
    /// A SHA-256 (pieces root, piece layers key) of the wrong length.
    BadHashLength {
        field: String,
        length: usize,
        expected: usize,
    },
    /// A hybrid whose v1 and v2 parts describe different files.
    HybridMismatch { detail: String },
    /// `piece layers` is given but lacks a file's layer.
    MissingPieceLayer { path: String },
    /// A file's piece layer is the wrong length or does not hash to its root.
    BadPieceLayer { path: String, reason: String },
}

impl fmt::Display for MetainfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetainfoError::Empty => f.write_str("the file is empty, not a torrent"),
            MetainfoError::Truncated { field } => {
                write!(
                    f,
                    "{field}: truncated (the data ends before this value does)"
                )
            }
            MetainfoError::NotBencode { field, detail } => {
                write!(f, "{field}: not valid bencode: {detail}")
            }
            MetainfoError::TrailingData { offset, extra } => write!(
                f,
                "{extra} unexpected bytes after the end of the torrent at offset {offset}"
            ),
            MetainfoError::Missing { field } => write!(f, "{field}: missing"),
            MetainfoError::WrongType {
                field,
                expected,
                found,
            } => write!(f, "{field}: expected {expected}, found {found}"),
            MetainfoError::BadInteger {
                field,
                value,
                reason,
            } => write!(f, "{field}: {value} is {reason}"),
            MetainfoError::NotUtf8 { field } => write!(f, "{field}: not valid UTF-8 text"),
            MetainfoError::UnsafePath {
                field,
                path,
                reason,
            } => write!(f, "{field}: unsafe file path {path:?}: {reason}"),
            MetainfoError::PiecesNotWhole { length } => write!(
                f,
                "info.pieces: {length} bytes is not a whole number of 20-byte hashes"
            ),
            MetainfoError::PieceCountMismatch {
                found,
                expected,
                total_size,
                piece_length,
            } => write!(
                f,
                "info.pieces: {found} piece hashes, but {total_size} bytes in pieces of \
                 {piece_length} bytes need {expected}"
            ),
            MetainfoError::BothLengthAndFiles => {
                f.write_str("info: has both 'length' (single file) and 'files' (several files)")
            }
            MetainfoError::NoData => {
                f.write_str("info: every file is empty, the torrent holds no data")
            }
            MetainfoError::MetaVersion { value } => write!(
                f,
                "info.meta version: {value} is not 2, the only BitTorrent v2 version"
            ),
            MetainfoError::BadFileTree { field, reason } => {
                write!(f, "{field}: not a v2 file tree: {reason}")
            }
            MetainfoError::BadHashLength {
                field,
                length,
                expected,
            } => write!(
                f,
                "{field}: {length} bytes, a {expected}-byte SHA-256 expected"
            ),
            MetainfoError::HybridMismatch { detail } => write!(
                f,
                "info: the v1 and v2 parts of this hybrid torrent differ: {detail}"
            ),
            MetainfoError::MissingPieceLayer { path } => {
                write!(f, "piece layers: no layer for {path}")
            }
            MetainfoError::BadPieceLayer { path, reason } => {
                write!(f, "piece layers: the layer of {path}: {reason}")
            }
        }
    }
}

impl std::error::Error for MetainfoError {}

/// Why a .torrent file on disk could not be loaded. Display starts with the
/// file's path, as every message about a file must.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be opened or read.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is bigger than any sane torrent; refusing protects a small
    /// box from reading a disc image named `.torrent` into memory.
    TooLarge { path: PathBuf, limit: u64 },
    /// The bytes are not a valid torrent.
    Invalid { path: PathBuf, error: MetainfoError },
}

impl LoadError {
    /// The parse error, when the file was read but is not a valid torrent.
    pub fn metainfo_error(&self) -> Option<&MetainfoError> {
        match self {
            LoadError::Invalid { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { path, source } => {
                write!(f, "{}: cannot read: {source}", path.display())
            }
            LoadError::TooLarge { path, limit } => write!(
                f,
                "{}: larger than {limit} bytes, not a torrent file",
                path.display()
            ),
            LoadError::Invalid { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Read { source, .. } => Some(source),
            LoadError::Invalid { error, .. } => Some(error),
            LoadError::TooLarge { .. } => None,
        }
    }
}

/// Why a magnet link was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MagnetError {
    /// It does not start with `magnet:?`.
    NotMagnet,
    /// No `xt=urn:btih:` parameter.
    NoInfoHash,
    /// Only a BitTorrent v2 (`urn:btmh:`) hash, which lowspace does not speak.
    OnlyV2,
    /// The `urn:btih:` value is neither 40 hex nor 32 base32 characters.
    BadInfoHash { value: String, reason: String },
    /// A `%` not followed by two hex digits.
    BadPercentEncoding { parameter: String },
    /// A tracker or web seed address that is not UTF-8 once decoded.
    NotUtf8 { parameter: String },
}

impl fmt::Display for MagnetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MagnetError::NotMagnet => f.write_str("not a magnet link: it must start with magnet:?"),
            MagnetError::NoInfoHash => {
                f.write_str("magnet link: no xt=urn:btih:<info-hash> parameter")
            }
            MagnetError::OnlyV2 => f.write_str(
                "magnet link: only a BitTorrent v2 hash (urn:btmh:); a v1 urn:btih: hash is needed",
            ),
            MagnetError::BadInfoHash { value, reason } => {
                write!(f, "magnet link: xt: bad info-hash {value:?}: {reason}")
            }
            MagnetError::BadPercentEncoding { parameter } => write!(
                f,
                "magnet link: {parameter}: '%' must be followed by two hex digits"
            ),
            MagnetError::NotUtf8 { parameter } => {
                write!(f, "magnet link: {parameter}: not valid UTF-8 once decoded")
            }
        }
    }
}

impl std::error::Error for MagnetError {}
