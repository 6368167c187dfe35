//! What `rotate` needs from a torrent client, in the client's neutral
//! terms, so that rtorrent ([`crate::rtorrent::Client`]) is one
//! implementation among possible others (Transmission, qBittorrent,
//! Deluge) and tests can run a rotation against an in-memory double.
//!
//! Each method is one request to the client (rtorrent: one round trip,
//! its reads and writes batched), because a run on a busy Pi is paid per
//! round trip.
//!
//! What `follow` asks of a client is the smaller trait in [`follow`],
//! implemented next to each client's connection code: [`rtorrent`],
//! `transmission::follow`, `qbittorrent::follow`, `deluge::follow`.

use std::fmt;
use std::path::PathBuf;

use crate::torrent::InfoHash;

pub mod deluge;
#[cfg(test)]
pub mod fake;
pub mod follow;
pub mod qbittorrent;
pub mod rtorrent;
pub mod transmission;

/// The label (rtorrent `d.custom1`, qBittorrent tag, Transmission and
/// Deluge label) lowspace puts on the torrents `rotate` loads, so they can
/// be told apart in the client's front ends. `follow` must use another
/// (the configuration refuses this one for it).
pub const ROTATE_LABEL: &str = "lowspace";

/// A torrent as the client reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torrent {
    /// Info-hash as the client spells it (hex); one that does not parse
    /// cannot be ours and is left alone.
    pub hash: String,
    pub name: String,
    /// Bytes of the whole torrent.
    pub size: u64,
    /// Bytes on disk and checked.
    pub done: u64,
    /// Every wanted piece is there (a file turned off does not count).
    pub complete: bool,
    /// Upload ratio × 1000.
    pub ratio_permille: u64,
    /// Started by the user; may still be paused.
    pub started: bool,
    /// Where the data is: the file of a single-file torrent, the directory
    /// of a multi-file one; empty until the client has opened it.
    pub data_path: PathBuf,
    pub label: String,
    /// When it finished downloading (seconds since the epoch), if it has.
    pub finished_at: Option<u64>,
}

/// Everything a run reads from the client, in one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientState {
    pub torrents: Vec<Torrent>,
    /// Where new torrents' data goes, absolute.
    pub download_dir: PathBuf,
    /// The most bytes one request may take (for rtorrent, see
    /// [`crate::rtorrent::limit::request_limit`]).
    pub request_limit: usize,
}

/// Whether a file is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilePriority {
    Off = 0,
    Normal = 1,
    High = 2,
}

impl FilePriority {
    pub fn from_level(n: u8) -> FilePriority {
        match n {
            0 => FilePriority::Off,
            1 => FilePriority::Normal,
            _ => FilePriority::High,
        }
    }
}

/// One file of a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentFile {
    /// Position in the torrent.
    pub index: usize,
    /// Path inside the torrent, `/`-separated (without the torrent's own
    /// directory).
    pub path: String,
    pub size: u64,
    /// Pieces touching the file that the client has, and their number.
    pub done_pieces: u64,
    pub pieces: u64,
    pub priority: FilePriority,
}

/// One torrent's files, and where they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentFiles {
    /// As [`Torrent::data_path`]; empty until the client opened it.
    pub data_path: PathBuf,
    /// The directory the client puts it in (the torrent's own directory
    /// for a multi-file one, the one holding the file otherwise); empty
    /// when not known.
    pub directory: PathBuf,
    pub files: Vec<TorrentFile>,
}

/// A .torrent to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTorrent {
    /// The .torrent file's bytes (sent over the connection: the client may
    /// not see our files).
    pub metainfo: Vec<u8>,
    pub start: bool,
    pub label: String,
}

/// What a file-priority change is followed by, in the same request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThenDo {
    /// Check the data against the piece hashes again.
    pub check_hash: bool,
    pub start: bool,
}

/// What a client writes for a file it was told to skip (priority 0) when
/// a piece it fetches for a neighbouring file covers part of it, as
/// measured on the real clients (see `rotate::bigfile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkippedFileWrites {
    /// Into the skipped file itself, sparse where the file system has
    /// holes; a file not yet complete may be named with `incomplete_suffix`
    /// (Transmission's `rename-partial-files`, on by default).
    InFile {
        incomplete_suffix: Option<&'static str>,
    },
    /// libtorrent 2.0: into `.<info-hash>.parts` in the save path while
    /// the file does not exist, into the file once it does.
    PartFile,
}

/// The source of a [`ClientError`].
pub type Source = Box<dyn std::error::Error + Send + Sync>;

/// A client call that failed; the kind decides what the caller does next.
#[derive(Debug)]
pub enum ClientError {
    /// The client could not be reached or did not answer (down, socket
    /// missing, timeout, permission on the socket).
    Unreachable(Source),
    /// The client answered that it will not do it.
    Refused(Source),
    /// The client does not have the torrent.
    UnknownTorrent(Source),
    /// The answer could not be understood.
    Protocol(Source),
}

impl ClientError {
    pub fn is_unknown_torrent(&self) -> bool {
        matches!(self, ClientError::UnknownTorrent(_))
    }

    fn source_ref(&self) -> &Source {
        match self {
            ClientError::Unreachable(s)
            | ClientError::Refused(s)
            | ClientError::UnknownTorrent(s)
            | ClientError::Protocol(s) => s,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The source is worded for the user already.
        write!(f, "{}", self.source_ref())
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source_ref().as_ref())
    }
}

/// A message as an error source (for answers that are not an error value
/// of their own, e.g. a reply of the wrong shape).
#[derive(Debug)]
pub struct Message(pub String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

/// What `rotate` asks of a torrent client.
pub trait TorrentClient {
    /// "rtorrent", for messages.
    fn kind(&self) -> &'static str;

    /// Every torrent, the download directory and the request size limit.
    fn state(&self) -> Result<ClientState, ClientError>;

    /// Adds torrents, in one request. The outer error is the request's;
    /// each inner result is that torrent's.
    fn add(&self, torrents: &[NewTorrent]) -> Result<Vec<Result<(), ClientError>>, ClientError>;

    /// Whether the client has the torrent (it may add one a moment after
    /// answering the add).
    fn has(&self, hash: &InfoHash) -> Result<bool, ClientError>;

    /// Removes the torrent from the client; its data stays on disk.
    fn erase(&self, hash: &InfoHash) -> Result<(), ClientError>;

    fn start(&self, hash: &InfoHash) -> Result<(), ClientError>;

    /// Stops the torrent and closes its files, so none changes (or stays
    /// mapped) while lowspace copies or truncates them.
    fn stop(&self, hash: &InfoHash) -> Result<(), ClientError>;

    /// The torrent's files with their priority and completion; with
    /// `stop_first`, stops and closes it first in the same request.
    fn files(&self, hash: &InfoHash, stop_first: bool) -> Result<TorrentFiles, ClientError>;

    /// Sets file priorities and applies them, then `then`, in one request.
    fn set_file_priorities(
        &self,
        hash: &InfoHash,
        priorities: &[(usize, FilePriority)],
        then: ThenDo,
    ) -> Result<(), ClientError>;

    /// Checks the torrent's data against its piece hashes again.
    fn check_hash(&self, hash: &InfoHash) -> Result<(), ClientError>;

    /// `then` as separate requests, for clients that cannot fold it into
    /// the priority request (all but rtorrent).
    fn then_do(&self, hash: &InfoHash, then: ThenDo) -> Result<(), ClientError> {
        if then.check_hash {
            self.check_hash(hash)?;
        }
        if then.start {
            self.start(hash)?;
        }
        Ok(())
    }

    /// The client's name and version as `check` shows them, with its
    /// API's version where it has its own (`v4.5.2, WebUI API 2.8.19`).
    /// Logs in first, so a wrong password fails here.
    fn about(&self) -> Result<String, ClientError> {
        self.state().map(|_| "version not reported".to_string())
    }

    /// Where the client puts a skipped file's part of a shared piece.
    fn skipped_file_writes(&self) -> SkippedFileWrites {
        SkippedFileWrites::InFile {
            incomplete_suffix: None,
        }
    }

    /// Requests made so far, and bytes of the answers (for reports).
    fn requests(&self) -> u64 {
        0
    }
    fn bytes_received(&self) -> u64 {
        0
    }
}
