//! What one rotation run knows about the world, gathered before any decision
//! is taken: the managed .torrent files, what rtorrent holds, the disk and
//! the journal. The planner is a pure function of this.

use std::path::PathBuf;

use super::bigfile::{DiskKind, FileState};
use crate::torrent::InfoHash;

/// A .torrent file in the managed directory that parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedTorrent {
    pub file: PathBuf,
    pub info_hash: InfoHash,
    pub name: String,
    pub total_size: u64,
    /// Every file of the torrent: path relative to the torrent's base path
    /// (for a single-file torrent, just its name) and size.
    pub files: Vec<(Vec<String>, u64)>,
    /// True when the torrent's data is one file rather than a directory.
    pub single_file: bool,
    /// Bytes per piece: in file-by-file mode a piece may straddle two
    /// files, so each selected file keeps one piece of margin.
    pub piece_length: u64,
}

/// A .torrent file in the managed directory that did not parse.
#[derive(Debug, Clone, PartialEq)]
pub struct CorruptTorrent {
    pub file: PathBuf,
    pub error: String,
}

/// A download as rtorrent reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub info_hash: InfoHash,
    pub name: String,
    pub size: u64,
    pub completed: u64,
    pub complete: bool,
    /// Upload ratio × 1000, as rtorrent keeps it.
    pub ratio_milli: i64,
    /// Started (1) or stopped (0).
    pub started: bool,
    /// Where the data is: the file of a single-file torrent, the directory
    /// of a multi-file one. Empty until rtorrent has opened the torrent.
    pub base_path: PathBuf,
    /// Seconds since the epoch when the download finished, 0 if it has not.
    pub finished_at: u64,
}

/// Everything the planner looks at.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub managed: Vec<ManagedTorrent>,
    pub corrupt: Vec<CorruptTorrent>,
    /// Every download in rtorrent, managed or not.
    pub loaded: Vec<Loaded>,
    /// Bytes free on the download directory's file system.
    pub disk_free: u64,
    /// Seconds since the epoch at the time of the snapshot.
    pub now: u64,
    /// The files of the torrent in file-by-file mode, when the journal has
    /// one and rtorrent holds it.
    pub file_mode_files: Option<Vec<FileState>>,
    /// The file system of the download directory: with sparse files, a
    /// neighbour rtorrent writes one piece into takes only that piece.
    pub download_fs: DiskKind,
}
