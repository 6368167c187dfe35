//! The torrents the peer serves: for each, where its .torrent file is and
//! where the info dictionary sits inside it. The metadata itself is never
//! kept: a BEP 9 request reads its 16 KiB straight from the file, so
//! memory does not grow with the size of the torrents' metadata.
//!
//! A file that changed since it was loaded (size or mtime) is not served
//! from stale offsets; the next rescan reloads it.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::wire::metadata::{piece_range, MAX_METADATA_SIZE};
use super::wire::Swarms;
use crate::torrent::{InfoHash, Metainfo};

/// How deep a load path is walked: enough for any tree of torrents, and a
/// stop for symlink loops.
const MAX_SCAN_DEPTH: usize = 16;

/// One torrent we serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentEntry {
    pub path: PathBuf,
    pub info_hash: InfoHash,
    pub name: String,
    /// Byte offset of the info dictionary in the file.
    pub info_offset: u64,
    /// Length of the info dictionary (the metadata size).
    pub info_len: u32,
    /// Trackers by tier (BEP 12).
    pub tracker_tiers: Vec<Vec<String>>,
    /// BEP 27: no DHT for this one.
    pub private: bool,
    /// The size of the torrent's content.
    pub total_size: u64,
    /// What the file looked like when loaded.
    pub stamp: FileStamp,
}

/// Size and modification time: enough to notice a replaced file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub len: u64,
    pub modified: Option<SystemTime>,
}

impl FileStamp {
    pub fn of(metadata: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            len: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

/// What a scan changed.
#[derive(Debug, Default)]
pub struct ScanReport {
    pub added: Vec<InfoHash>,
    pub removed: Vec<InfoHash>,
    /// Files that could not be loaded, with the reason (warnings).
    pub failed: Vec<(PathBuf, String)>,
}

/// Why a metadata piece could not be read.
#[derive(Debug)]
pub enum ServeError {
    NotHeld,
    OutOfRange,
    Changed(PathBuf),
    Io(PathBuf, std::io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::NotHeld => f.write_str("torrent not held"),
            ServeError::OutOfRange => f.write_str("metadata piece out of range"),
            ServeError::Changed(p) => {
                write!(
                    f,
                    "{} changed on disk; it is reloaded at the next scan",
                    p.display()
                )
            }
            ServeError::Io(p, e) => write!(f, "cannot read {}: {e}", p.display()),
        }
    }
}

/// Every torrent found under the load path.
#[derive(Debug, Default)]
pub struct Registry {
    by_hash: HashMap<InfoHash, TorrentEntry>,
    by_path: HashMap<PathBuf, InfoHash>,
    /// Files that failed, with their stamp, so a broken file is reported
    /// once, not at every scan.
    broken: HashMap<PathBuf, FileStamp>,
}

/// A .torrent file found by a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub stamp: FileStamp,
}

/// What a scan must do, decided from what is known and what was found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ScanPlan {
    /// New or changed files to (re)load.
    pub load: Vec<PathBuf>,
    /// Known files that are gone or changed.
    pub drop: Vec<PathBuf>,
}

/// Decides which files to load and which entries to drop. A file whose
/// size and mtime are unchanged is not read again; a broken file is only
/// retried once it changes.
pub fn plan_scan(
    known: &HashMap<PathBuf, FileStamp>,
    broken: &HashMap<PathBuf, FileStamp>,
    found: &[Found],
) -> ScanPlan {
    let mut plan = ScanPlan::default();
    let mut seen: std::collections::HashSet<&Path> = std::collections::HashSet::new();
    for file in found {
        seen.insert(&file.path);
        match known.get(&file.path) {
            Some(stamp) if *stamp == file.stamp => {}
            Some(_) => {
                plan.drop.push(file.path.clone());
                plan.load.push(file.path.clone());
            }
            None if broken.get(&file.path) == Some(&file.stamp) => {}
            None => plan.load.push(file.path.clone()),
        }
    }
    let mut gone: Vec<PathBuf> = known
        .keys()
        .filter(|p| !seen.contains(p.as_path()))
        .cloned()
        .collect();
    gone.sort();
    plan.drop.extend(gone);
    plan
}

/// Every `*.torrent` under `dir` (recursively, not following directory
/// symlinks), with its stamp. Unreadable directories are skipped.
pub fn walk(dir: &Path) -> Vec<Found> {
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            log::warn!("cannot read directory {}; skipped", dir.display());
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if depth < MAX_SCAN_DEPTH {
                    stack.push((path, depth + 1));
                }
            } else if path.extension().is_some_and(|e| e == "torrent") {
                if let Ok(metadata) = std::fs::metadata(&path) {
                    if metadata.is_file() {
                        found.push(Found {
                            path,
                            stamp: FileStamp::of(&metadata),
                        });
                    }
                }
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// Loads one .torrent file into an entry (the metadata is dropped again).
pub fn load_entry(path: &Path, stamp: FileStamp) -> Result<TorrentEntry, String> {
    let meta = Metainfo::from_file(path).map_err(|e| e.to_string())?;
    let info_len = u32::try_from(meta.info_bytes().len())
        .ok()
        .filter(|&n| n <= MAX_METADATA_SIZE)
        .ok_or_else(|| {
            format!(
                "{}: info dictionary of {} bytes is larger than the {} bytes peers accept",
                path.display(),
                meta.info_bytes().len(),
                MAX_METADATA_SIZE
            )
        })?;
    Ok(TorrentEntry {
        path: path.to_path_buf(),
        info_hash: meta.info_hash(),
        name: meta.name().to_owned(),
        info_offset: meta.info_offset() as u64,
        info_len,
        tracker_tiers: meta.tracker_tiers().to_vec(),
        private: meta.is_private(),
        total_size: meta.total_size(),
        stamp,
    })
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn get(&self, info_hash: &InfoHash) -> Option<&TorrentEntry> {
        self.by_hash.get(info_hash)
    }

    pub fn entries(&self) -> impl Iterator<Item = &TorrentEntry> {
        self.by_hash.values()
    }

    /// Walks `dir` and brings the registry in line with it.
    pub fn scan(&mut self, dir: &Path) -> ScanReport {
        let found = walk(dir);
        let known: HashMap<PathBuf, FileStamp> = self
            .by_path
            .iter()
            .filter_map(|(p, h)| self.by_hash.get(h).map(|e| (p.clone(), e.stamp)))
            .collect();
        let plan = plan_scan(&known, &self.broken, &found);
        let mut report = ScanReport::default();
        for path in &plan.drop {
            if let Some(hash) = self.by_path.remove(path) {
                self.by_hash.remove(&hash);
                report.removed.push(hash);
            }
        }
        let stamps: HashMap<&Path, FileStamp> =
            found.iter().map(|f| (f.path.as_path(), f.stamp)).collect();
        for path in plan.load {
            let Some(&stamp) = stamps.get(path.as_path()) else {
                continue;
            };
            match load_entry(&path, stamp) {
                Ok(entry) => {
                    self.broken.remove(&path);
                    if let Some(other) = self.by_hash.get(&entry.info_hash) {
                        report.failed.push((
                            path.clone(),
                            format!(
                                "same torrent as {}; served from there",
                                other.path.display()
                            ),
                        ));
                        self.broken.insert(path, stamp);
                        continue;
                    }
                    let hash = entry.info_hash;
                    report.removed.retain(|h| *h != hash);
                    report.added.push(hash);
                    self.by_path.insert(path, hash);
                    self.by_hash.insert(hash, entry);
                }
                Err(why) => {
                    report.failed.push((path.clone(), why));
                    self.broken.insert(path, stamp);
                }
            }
        }
        self.broken.retain(|p, _| stamps.contains_key(p.as_path()));
        report
    }

    /// Adds a torrent written by us (an adopted magnet) without a rescan.
    pub fn insert(&mut self, entry: TorrentEntry) {
        self.by_path.insert(entry.path.clone(), entry.info_hash);
        self.by_hash.insert(entry.info_hash, entry);
    }

    /// Reads metadata piece `piece` of a torrent from its file.
    pub fn read_metadata_piece(
        &self,
        info_hash: &InfoHash,
        piece: u32,
    ) -> Result<Vec<u8>, ServeError> {
        let entry = self.by_hash.get(info_hash).ok_or(ServeError::NotHeld)?;
        let range = piece_range(entry.info_len, piece).ok_or(ServeError::OutOfRange)?;
        let io = |e| ServeError::Io(entry.path.clone(), e);
        let mut file = File::open(&entry.path).map_err(io)?;
        let metadata = file.metadata().map_err(io)?;
        if FileStamp::of(&metadata) != entry.stamp {
            return Err(ServeError::Changed(entry.path.clone()));
        }
        file.seek(SeekFrom::Start(entry.info_offset + u64::from(range.start)))
            .map_err(io)?;
        let mut data = vec![0u8; (range.end - range.start) as usize];
        file.read_exact(&mut data).map_err(io)?;
        Ok(data)
    }
}

impl Swarms for Registry {
    fn metadata_size(&self, info_hash: &InfoHash) -> Option<u32> {
        self.by_hash.get(info_hash).map(|e| e.info_len)
    }
}

#[cfg(test)]
mod tests;
