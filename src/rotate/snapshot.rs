//! What one rotation run knows about the world, gathered before any decision
//! is taken: the managed .torrent files, what rtorrent holds, the disk and
//! the journal. The planner is a pure function of this.

use std::path::PathBuf;

use super::bigfile::{DiskKind, FileState, Skipped};
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
    /// Bytes of the .torrent file: loading sends them to rtorrent, whose
    /// request size limit they may pass.
    pub file_bytes: u64,
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

impl Loaded {
    /// Whether the whole torrent is on disk: see [`whole_torrent_complete`].
    pub fn is_complete(&self) -> bool {
        whole_torrent_complete(self.complete, self.completed, self.size)
    }
}

/// A whole torrent is complete when rtorrent says so (`d.complete`) *and*
/// every byte is there. `d.complete` alone counts only the wanted chunks:
/// with a file set to "off" it reads 1 while that file is missing, and
/// copying such a torrent would put a partial copy on the remote and then
/// delete what the local disk had.
pub fn whole_torrent_complete(complete: bool, completed: u64, size: u64) -> bool {
    complete && completed == size
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
    /// The most bytes one request to rtorrent may take; None when unknown
    /// (nothing is then refused for its size in advance).
    pub request_limit: Option<usize>,
    /// The file system of the download directory: with sparse files, a
    /// neighbour rtorrent writes one piece into takes only that piece.
    pub download_fs: DiskKind,
    /// Where the client writes skipped files' parts of shared pieces, with
    /// what the file-by-file torrent's parts file holds.
    pub skipped: Skipped,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_means_rtorrent_says_so_and_every_byte_is_there() {
        // (d.complete, completed bytes, size, complete)
        let cases = [
            (true, 100, 100, true),
            (true, 0, 0, true),
            (false, 100, 100, false),
            (false, 40, 100, false),
            // A file set to "off": rtorrent's flag is up, bytes are missing.
            (true, 60, 100, false),
            (true, 101, 100, false),
            (true, u64::MAX, u64::MAX, true),
        ];
        for (flag, completed, size, want) in cases {
            assert_eq!(
                whole_torrent_complete(flag, completed, size),
                want,
                "{flag} {completed}/{size}"
            );
        }
    }

    /// The planner uses the rule: a torrent rtorrent calls complete with a
    /// file missing is downloading, not synced, and its missing bytes are
    /// still to come.
    #[test]
    fn the_planner_does_not_sync_a_torrent_with_bytes_missing() {
        use crate::rotate::journal::Journal;
        use crate::rotate::plan::{plan, Policy, TorrentState};
        use crate::torrent::InfoHash;
        let hash = InfoHash::from_hex(&"ab".repeat(20)).unwrap();
        let size = 10 << 20;
        let managed = ManagedTorrent {
            file: PathBuf::from("/managed/t.torrent"),
            info_hash: hash,
            name: "t".into(),
            total_size: size,
            files: vec![
                (vec!["t".into(), "a".into()], size / 2),
                (vec!["t".into(), "b".into()], size / 2),
            ],
            single_file: false,
            piece_length: 256 * 1024,
            file_bytes: 1000,
        };
        let policy = Policy {
            space_limit: 1 << 40,
            required_ratio_milli: 0,
            min_seed_time: None,
            max_seed_time: None,
            reserve: 0,
        };
        for (completed, syncs) in [(size / 2, false), (size, true)] {
            let snapshot = Snapshot {
                managed: vec![managed.clone()],
                loaded: vec![Loaded {
                    info_hash: hash,
                    name: "t".into(),
                    size,
                    completed,
                    complete: true,
                    ratio_milli: 5000,
                    started: true,
                    base_path: PathBuf::from("/data/t"),
                    finished_at: 1_700_000_000,
                }],
                disk_free: 1 << 40,
                now: 1_800_000_000,
                ..Snapshot::default()
            };
            let p = plan(&snapshot, &policy, &Journal::default());
            assert_eq!(p.sync.len() == 1, syncs, "{completed}: {:#?}", p.reasons);
            if !syncs {
                assert!(
                    matches!(p.states[0].2, TorrentState::Downloading { completed: c, .. } if c == completed),
                    "{:?}",
                    p.states
                );
                assert_eq!(p.budget.still_to_download, size / 2);
            }
        }
    }
}
