//! Torrent files, info-hashes and magnet links: reading them, and building
//! single-file v1, v2 and hybrid torrents ([`create`], used by `tree`).
//!
//! Every other module that touches a torrent goes through here, so there is
//! one bencode walk and one set of safety checks:
//!
//! - [`Metainfo::from_bytes`]`(&[u8])` and [`Metainfo::from_file`]`(&Path)`
//!   parse and validate a .torrent. Errors are typed ([`MetainfoError`],
//!   [`LoadError`]) and name the field (`info.files[2].path`), and for files
//!   the path; bad input never panics.
//! - [`Metainfo::info_hash`] is the SHA-1 of the info dictionary's bytes
//!   *exactly as they are in the file*; [`Metainfo::info_bytes`] gives those
//!   bytes (what a BEP 9 metadata peer serves).
//! - [`Metainfo::files`] is the same for single- and multi-file torrents:
//!   paths relative to the download directory, starting with the torrent's
//!   name, already checked for `..`, `.`, empty parts, `/` and NUL, so a
//!   caller may join them under a directory without escaping it.
//! - [`Metainfo::total_size`], [`Metainfo::piece_length`],
//!   [`Metainfo::piece_count`], [`Metainfo::piece_hash`],
//!   [`Metainfo::tracker_tiers`], [`Metainfo::web_seeds`],
//!   [`Metainfo::is_private`].
//! - [`MagnetLink::for_torrent`] / [`MagnetLink::to_uri`] build a magnet;
//!   [`MagnetLink::parse`] reads one (hex or base32 info-hash).
//!
//! Limits, on purpose: a dictionary key may not repeat (clients disagree
//! on which value wins; unsorted keys are fine, as in rtorrent), the
//! `name.utf-8` / `path.utf-8` variants are not consulted (rtorrent names
//! files from `name`/`path`, and we must find what it wrote), names and
//! paths must be UTF-8. v2 (BEP 52) and hybrid torrents are read with
//! their file tree and piece layers checked ([`Metainfo::version`],
//! [`Metainfo::info_hash_v2`]); a v2-only torrent's [`Metainfo::info_hash`]
//! is its v2 hash cut to 20 bytes, the form trackers and the DHT use.
//!
//! Writing torrents lives in `create` (owned by the tree builder); this
//! module only reads.

pub mod bencode;
pub mod create;
mod error;
mod info_hash;
mod magnet;
mod metainfo;

pub use error::{LoadError, MagnetError, MetainfoError};
pub use info_hash::{InfoHash, InfoHashError};
pub use magnet::{percent_decode, percent_encode, percent_encode_into, MagnetLink};
pub use metainfo::{FileEntry, Metainfo, TorrentVersion, MAX_TORRENT_FILE_SIZE, PIECE_HASH_LEN};

#[cfg(test)]
mod tests;
