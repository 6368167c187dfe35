//! The journal: what rotation has done to each torrent that must survive a
//! crash. It is the only memory between runs; everything else is read
//! afresh from rtorrent and the disk.
//!
//! A torrent enters the journal when its sync starts and leaves it when its
//! .torrent file is gone. Its phase only moves forward, and each phase names
//! the one thing that is known to be true:
//!
//! - `Syncing`: a copy was started; nothing is known about the remote.
//!   A run that finds this redoes the sync and verifies again.
//! - `Verified`: every file is on the remote with its size. From here on
//!   local data may be deleted, and the torrent is never loaded again.
//! - `Erased`: rtorrent no longer has it.
//! - `DataDeleted`: its local files are gone; only the .torrent remains.
//!
//! The file is replaced atomically after every change (write, fsync,
//! rename), so a SIGKILL or power loss leaves the old or the new journal.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil::write_atomic;

/// How far finishing a torrent has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Syncing,
    Verified,
    Erased,
    DataDeleted,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Syncing => "syncing",
            Phase::Verified => "verified on the remote",
            Phase::Erased => "erased from rtorrent",
            Phase::DataDeleted => "local data deleted",
        })
    }
}

/// One torrent being finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub phase: Phase,
    /// The managed .torrent file.
    pub torrent_file: PathBuf,
    /// Where rtorrent kept the data (file or directory), recorded before
    /// rtorrent forgets it on erase.
    pub base_path: PathBuf,
    /// Bytes the torrent takes, so the space it frees is known after erase.
    pub size: u64,
    /// The torrent's files relative to `base_path`'s parent, with sizes:
    /// what was verified on the remote and what may be deleted locally,
    /// kept here so removal never depends on the .torrent file still
    /// being there.
    pub files: Vec<(Vec<String>, u64)>,
    /// Seconds since the epoch of the last change.
    pub updated: u64,
}

/// Every torrent in the middle of being finished, by info-hash (hex).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    pub torrents: BTreeMap<String, Entry>,
}

/// The journal file could not be read or written.
#[derive(Debug)]
pub struct JournalError(pub String);

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JournalError {}

const VERSION: u32 = 1;

impl Journal {
    /// Reads the journal; a missing file is an empty journal (first run).
    /// A journal that cannot be parsed stops the run: guessing could delete
    /// data whose copy was never verified.
    pub fn load(path: &Path) -> Result<Journal, JournalError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Journal {
                    version: VERSION,
                    torrents: BTreeMap::new(),
                })
            }
            Err(e) => {
                return Err(JournalError(format!(
                    "cannot read journal {}: {e}",
                    path.display()
                )))
            }
        };
        let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| {
            JournalError(format!(
                "journal {} is damaged ({e}); move it aside to start over (torrents already verified would then be synced again, nothing is lost)",
                path.display()
            ))
        })?;
        if journal.version != VERSION {
            return Err(JournalError(format!(
                "journal {} has version {}, this lowspace knows version {VERSION}",
                path.display(),
                journal.version
            )));
        }
        Ok(journal)
    }

    /// Replaces the journal file atomically and durably.
    pub fn save(&self, path: &Path) -> Result<(), JournalError> {
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| JournalError(format!("cannot encode journal: {e}")))?;
        bytes.push(b'\n');
        write_atomic(path, &bytes)
            .map_err(|e| JournalError(format!("cannot write journal {}: {e}", path.display())))
    }

    /// The phase of a torrent, if it is being finished.
    pub fn phase(&self, info_hash_hex: &str) -> Option<Phase> {
        self.torrents.get(info_hash_hex).map(|e| e.phase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_file() {
        let dir = std::env::temp_dir().join(format!("lowspace-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal.json");
        assert_eq!(Journal::load(&path).unwrap().torrents.len(), 0);
        let mut j = Journal {
            version: VERSION,
            torrents: BTreeMap::new(),
        };
        j.torrents.insert(
            "AB".repeat(20),
            Entry {
                name: "Łódź ☃".into(),
                phase: Phase::Verified,
                torrent_file: "/m/x.torrent".into(),
                base_path: "/d/Łódź ☃".into(),
                size: 5,
                files: vec![(vec!["Łódź ☃".into(), "a b".into()], 5)],
                updated: 7,
            },
        );
        j.save(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap(), j);
        std::fs::write(&path, b"{\"version\":1,\"torrents\":{").unwrap();
        let err = Journal::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("is damaged") && err.contains("journal.json"),
            "{err}"
        );
        std::fs::write(&path, b"{\"version\":9,\"torrents\":{}}").unwrap();
        assert!(Journal::load(&path)
            .unwrap_err()
            .to_string()
            .contains("version 9"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
