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
//! Two small records sit beside the phases: torrents whose sync failed for
//! a reason of their own (backing off, see `rotate::backoff`), and when
//! lowspace first saw each torrent complete (rtorrent's own finish time can
//! be 0, and seeding time must still be counted).
//!
//! The file is replaced atomically after every change (write, fsync,
//! rename), so a SIGKILL or power loss leaves the old or the new journal.

use std::collections::{BTreeMap, BTreeSet};
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
            Phase::Erased => "erased from the client",
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
    /// Leave the .torrent in the managed directory after the removal: a
    /// torrent finished file by file with files too big for the limit is
    /// not done, and its .torrent is what fetches the rest once the limit
    /// is raised (see [`Journal::partial`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_torrent_file: bool,
}

/// The torrent being downloaded file by file (see `rotate::bigfile`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FileModeEntry {
    /// Info-hash, hex.
    pub info_hash: String,
    pub name: String,
    pub torrent_file: PathBuf,
    /// Where rtorrent keeps the data (the torrent's directory, or its file);
    /// empty until rtorrent has said.
    #[serde(default)]
    pub base_path: PathBuf,
    /// File indexes verified on the remote (path and size): their local
    /// copies may be truncated, and they are never fetched again.
    #[serde(default)]
    pub on_remote: BTreeSet<usize>,
    /// File indexes bigger than the whole budget at the last run.
    #[serde(default)]
    pub too_big: BTreeSet<usize>,
    /// File indexes lowspace gave priority (downloading). rtorrent's own
    /// priorities are not trusted: a fresh load or a restart without its
    /// session sets every file to 1.
    #[serde(default)]
    pub selected: BTreeSet<usize>,
    /// Seconds since the epoch when the mode started and last changed.
    pub started: u64,
    pub updated: u64,
}

/// A torrent finished file by file except for files too big for the
/// space limit it ran under. Its .torrent stays managed; it is not taken
/// up again until the space limit changes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PartialEntry {
    pub name: String,
    /// The space limit it was finished under.
    pub space_limit: u64,
    /// File indexes on the remote, restored if the torrent is taken up
    /// again under a bigger limit.
    pub on_remote: BTreeSet<usize>,
    /// The files left out, with their sizes.
    pub too_big: Vec<(Vec<String>, u64)>,
    pub updated: u64,
}

/// A torrent whose last sync failed for a reason of its own (its data, a
/// file the remote refuses, a copy that did not verify): it is not tried
/// again until its back-off ends, so it cannot hold the others back.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FailureRecord {
    pub name: String,
    /// Failures in a row; the back-off doubles with each.
    pub count: u32,
    /// The last failure, in words, for `status`.
    pub reason: String,
    /// Seconds since the epoch of the last failure.
    pub last: u64,
}

/// Every torrent in the middle of being finished, by info-hash (hex).
/// Fields added after version 1 default to empty, so older journals load.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    pub torrents: BTreeMap<String, Entry>,
    /// The one torrent in file-by-file mode, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<FileModeEntry>,
    /// Torrents finished file by file but for files too big, by info-hash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub partial: BTreeMap<String, PartialEntry>,
    /// Torrents backing off after a failed sync, by info-hash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failures: BTreeMap<String, FailureRecord>,
    /// Seconds since the epoch when lowspace first saw each loaded torrent
    /// complete, by info-hash: the start of its seeding time when rtorrent
    /// reports no finish time (`d.timestamp.finished = 0`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub complete_since: BTreeMap<String, u64>,
    /// When each managed torrent not in rtorrent was first seen waiting
    /// (seconds since the epoch), by info-hash: the oldest big one goes
    /// before newer small ones.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub waiting_since: BTreeMap<String, u64>,
}

/// The journal file could not be read or written. Every kind stops the
/// run; the variants keep the path and the cause for the message.
#[derive(Debug)]
pub enum JournalError {
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not JSON of the journal's shape.
    Damaged {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// Written by a lowspace with another format.
    Version {
        path: PathBuf,
        found: u32,
    },
    Encode(serde_json::Error),
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::Read { path, source } => {
                write!(f, "cannot read journal {}: {source}", path.display())
            }
            JournalError::Damaged { path, source } => write!(
                f,
                "journal {} is damaged ({source}); move it aside to start over (torrents already verified would then be synced again, nothing is lost)",
                path.display()
            ),
            JournalError::Version { path, found } => write!(
                f,
                "journal {} has version {found}, this lowspace knows version {VERSION}",
                path.display()
            ),
            JournalError::Encode(source) => write!(f, "cannot encode journal: {source}"),
            JournalError::Write { path, source } => {
                write!(f, "cannot write journal {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JournalError::Read { source, .. } | JournalError::Write { source, .. } => Some(source),
            JournalError::Damaged { source, .. } | JournalError::Encode(source) => Some(source),
            JournalError::Version { .. } => None,
        }
    }
}

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
                    ..Journal::default()
                })
            }
            Err(source) => {
                return Err(JournalError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let journal: Journal =
            serde_json::from_slice(&bytes).map_err(|source| JournalError::Damaged {
                path: path.to_path_buf(),
                source,
            })?;
        if journal.version != VERSION {
            return Err(JournalError::Version {
                path: path.to_path_buf(),
                found: journal.version,
            });
        }
        Ok(journal)
    }

    /// Replaces the journal file atomically and durably.
    pub fn save(&self, path: &Path) -> Result<(), JournalError> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(JournalError::Encode)?;
        bytes.push(b'\n');
        write_atomic(path, &bytes).map_err(|source| JournalError::Write {
            path: path.to_path_buf(),
            source,
        })
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
            ..Journal::default()
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
                keep_torrent_file: false,
            },
        );
        j.save(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap(), j);
        j.file_mode = Some(FileModeEntry {
            info_hash: "CD".repeat(20),
            name: "big ☃".into(),
            torrent_file: "/m/big.torrent".into(),
            base_path: "/d/big ☃".into(),
            on_remote: [0, 3].into_iter().collect(),
            too_big: [5].into_iter().collect(),
            selected: [1].into_iter().collect(),
            started: 1,
            updated: 2,
        });
        j.save(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap(), j);
        j.failures.insert(
            "EF".repeat(20),
            FailureRecord {
                name: "odd ☃".into(),
                count: 3,
                reason: "a symbolic link".into(),
                last: 9,
            },
        );
        j.complete_since.insert("AB".repeat(20), 11);
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

    #[test]
    fn a_journal_written_before_file_mode_still_loads() {
        let dir = std::env::temp_dir().join(format!("lowspace-journal-old-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal.json");
        std::fs::write(
            &path,
            br#"{"version":1,"torrents":{"ab":{"name":"x","phase":"verified","torrent_file":"/m/x.torrent","base_path":"/d/x","size":1,"files":[[["x"],1]],"updated":3}}}"#,
        )
        .unwrap();
        let j = Journal::load(&path).unwrap();
        assert!(j.file_mode.is_none() && j.partial.is_empty());
        assert!(j.failures.is_empty() && j.complete_since.is_empty());
        assert!(!j.torrents["ab"].keep_torrent_file);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
