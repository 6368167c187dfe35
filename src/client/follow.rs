//! The few things `follow` asks of a torrent client, so its executor is
//! the same for all four: rtorrent ([`super::rtorrent`]), Transmission
//! ([`super::transmission::follow`]), qBittorrent
//! ([`super::qbittorrent::follow`]) and Deluge ([`super::deluge::follow`]).
//! Each is a thin layer over the same connection code `rotate` uses, with
//! follow's own label (never rotate's) and the directory each torrent goes
//! into.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::torrent::InfoHash;

/// A torrent as the client holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTorrent {
    pub info_hash: InfoHash,
    pub name: String,
    /// Carries our label, so `follow` owns it and may remove it.
    pub labelled: bool,
    /// The directory holding its data (the file of a single-file torrent
    /// is `dir/name`), as the client reports it; None when it does not.
    pub dir: Option<PathBuf>,
    /// Every wanted piece is there.
    pub complete: bool,
}

/// A client call that failed, worded for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowError(pub String);

impl fmt::Display for FollowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FollowError {}

/// What happened to an add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// New, with our label.
    Added,
    /// The client already had it (added by someone in the meantime); it
    /// was not labelled, so it stays someone else's.
    AlreadyThere,
}

pub trait FollowClient {
    /// "transmission", "rtorrent", "qbittorrent" or "deluge", for messages.
    fn kind(&self) -> &'static str;
    /// Every torrent, labelled or not.
    fn torrents(&self) -> Result<Vec<ClientTorrent>, FollowError>;
    /// The absolute directory the listed directories are under: the
    /// configured download_dir, else the client's own default.
    fn download_root(&self) -> Result<PathBuf, FollowError>;
    /// Adds a .torrent's bytes, started, with our label, downloading into `dir`.
    fn add_metainfo(
        &self,
        metainfo: &[u8],
        info_hash: InfoHash,
        dir: &Path,
    ) -> Result<Added, FollowError>;
    /// Adds a magnet link, started, with our label, downloading into `dir`.
    fn add_magnet(&self, uri: &str, info_hash: InfoHash, dir: &Path) -> Result<Added, FollowError>;
    /// Moves the torrent's data into `dir` with the client's own call, so
    /// nothing is downloaded again.
    fn relocate(&self, torrent: &ClientTorrent, dir: &Path) -> Result<(), FollowError>;
    /// Removes the torrent and deletes its data.
    fn remove_with_data(&self, torrent: &ClientTorrent) -> Result<(), FollowError>;
}

/// The directory listed paths are placed under: the one configured in
/// `[follow]`, else the one the client reports (`what` names it in the
/// error), which must be absolute: placing "under" a relative directory
/// would depend on the client's working directory.
pub fn configured_or_reported(
    configured: Option<&Path>,
    what: &str,
    reported: impl FnOnce() -> Result<PathBuf, FollowError>,
) -> Result<PathBuf, FollowError> {
    if let Some(dir) = configured {
        return Ok(dir.to_path_buf());
    }
    let dir = reported()?;
    if dir.is_absolute() {
        Ok(dir)
    } else {
        Err(FollowError(format!(
            "{what} is {}, not absolute; set download_dir in [follow]",
            dir.display()
        )))
    }
}
