//! The torrents the peer serves: for each, where its .torrent file is and
//! where the info dictionary sits inside it. The metadata itself is never
//! kept: a BEP 9 request reads its 16 KiB straight from the file, so
//! memory does not grow with the size of the torrents' metadata.
//!
//! Sized for archives of 100,000 torrents in a few tens of MiB: one entry
//! is about 100 bytes plus its file name. Entries sit in a Vec sorted by
//! info-hash (binary search, no hash-table slack); directories and tracker
//! lists are interned, since most torrents share them; the torrent's name
//! is not kept (it is in the file). A scan walks the tree streaming, so it
//! never holds a second copy of every path.
//!
//! A hybrid torrent (BEP 52) is served under both hashes: its v1 info-hash
//! and its v2 hash cut to 20 bytes, which v2 peers use in the handshake.
//!
//! A file that changed since it was loaded (size or mtime) is not served
//! from stale offsets; the next rescan reloads it.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::discovery::Tiers;
use super::wire::metadata::{piece_range, MAX_METADATA_SIZE};
use super::wire::Swarms;
use crate::torrent::create::truncate_v2;
use crate::torrent::{InfoHash, Metainfo, TorrentVersion};

/// How deep a load path is walked: enough for any tree of torrents, and a
/// stop for symlink loops.
const MAX_SCAN_DEPTH: usize = 16;

/// One torrent we serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentEntry {
    pub info_hash: InfoHash,
    /// Length of the info dictionary (the metadata size).
    pub info_len: u32,
    /// Byte offset of the info dictionary in the file (a .torrent is at
    /// most 64 MiB).
    info_offset: u32,
    /// Index of the file's directory in the registry's interned list.
    dir: u32,
    file: Box<OsStr>,
    /// Trackers by tier (BEP 12), shared with every torrent that has the
    /// same list.
    pub trackers: Tiers,
    /// The size of the torrent's content.
    pub total_size: u64,
    /// What the file looked like when loaded.
    pub stamp: FileStamp,
    /// BEP 27: no DHT for this one.
    pub private: bool,
    /// A hybrid torrent: also served and announced under its v2 hash cut
    /// to 20 bytes (BEP 52).
    pub v2_alias: bool,
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

/// What a scan does with one file it found, from what is known of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    /// Loaded and unchanged: nothing to do.
    Keep,
    /// New, or broken before and changed since: load it.
    Load,
    /// Loaded, but changed: drop the entry and load it again.
    Reload,
    /// Broken and unchanged: not read again (nor reported again).
    SkipBroken,
}

/// Decides what a scan does with a file found with stamp `found`: a file
/// whose size and mtime are unchanged is not read again; a broken file is
/// only retried once it changes.
pub fn decide(known: Option<FileStamp>, broken: Option<FileStamp>, found: FileStamp) -> FileAction {
    match (known, broken) {
        (Some(stamp), _) if stamp == found => FileAction::Keep,
        (Some(_), _) => FileAction::Reload,
        (None, Some(stamp)) if stamp == found => FileAction::SkipBroken,
        (None, _) => FileAction::Load,
    }
}

/// Every torrent found under the load path.
#[derive(Debug, Default)]
pub struct Registry {
    /// Sorted by info-hash.
    entries: Vec<TorrentEntry>,
    /// v2 hashes (cut to 20 bytes) of hybrid torrents → their v1 hash,
    /// sorted by the first.
    aliases: Vec<(InfoHash, InfoHash)>,
    /// The same pairs the other way round (v1 → v2), sorted by v1.
    aliases_by_v1: Vec<(InfoHash, InfoHash)>,
    dirs: Vec<Box<Path>>,
    dir_ids: HashMap<Box<Path>, u32>,
    trackers: HashSet<Tiers>,
    /// Files that failed, with their stamp, so a broken file is reported
    /// once, not at every scan.
    broken: HashMap<PathBuf, FileStamp>,
}

/// A torrent just loaded, before it is placed in the registry.
struct Loaded {
    entry: TorrentEntry,
    v2: Option<InfoHash>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn index_of(&self, info_hash: &InfoHash) -> Option<usize> {
        let v1 = match self.aliases.binary_search_by(|(a, _)| a.cmp(info_hash)) {
            Ok(i) => self.aliases.get(i).map(|(_, v1)| *v1)?,
            Err(_) => *info_hash,
        };
        self.entries.binary_search_by(|e| e.info_hash.cmp(&v1)).ok()
    }

    /// The torrent known by `info_hash`: its own, or for a hybrid its v2
    /// hash cut to 20 bytes.
    pub fn get(&self, info_hash: &InfoHash) -> Option<&TorrentEntry> {
        self.index_of(info_hash).and_then(|i| self.entries.get(i))
    }

    pub fn entries(&self) -> impl Iterator<Item = &TorrentEntry> {
        self.entries.iter()
    }

    /// Every hash a torrent is announced under (to trackers and the DHT),
    /// with its torrent: each one's info-hash, and a hybrid's v2 hash too.
    pub fn announce_hashes(&self) -> impl Iterator<Item = (InfoHash, &TorrentEntry)> {
        let own = self.entries.iter().map(|e| (e.info_hash, e));
        let v2 = self
            .aliases
            .iter()
            .filter_map(|(alias, v1)| self.get(v1).map(|e| (*alias, e)));
        own.chain(v2)
    }

    /// The v2 hash (cut to 20 bytes) a hybrid is also known by.
    pub fn v2_alias_of(&self, info_hash: &InfoHash) -> Option<InfoHash> {
        let at = self
            .aliases_by_v1
            .binary_search_by(|(v1, _)| v1.cmp(info_hash))
            .ok()?;
        self.aliases_by_v1.get(at).map(|(_, alias)| *alias)
    }

    /// The .torrent file of an entry.
    pub fn path_of(&self, entry: &TorrentEntry) -> PathBuf {
        match self.dirs.get(entry.dir as usize) {
            Some(dir) => dir.join(&*entry.file),
            None => PathBuf::from(&*entry.file),
        }
    }

    fn intern_dir(&mut self, dir: &Path) -> u32 {
        if let Some(id) = self.dir_ids.get(dir) {
            return *id;
        }
        let id = u32::try_from(self.dirs.len()).unwrap_or(u32::MAX);
        self.dirs.push(dir.into());
        self.dir_ids.insert(dir.into(), id);
        id
    }

    fn intern_trackers(&mut self, tiers: &[Vec<String>]) -> Tiers {
        let tiers = tiers.to_vec();
        if let Some(known) = self.trackers.get(&tiers) {
            return Arc::clone(known);
        }
        let tiers: Tiers = Arc::new(tiers);
        self.trackers.insert(Arc::clone(&tiers));
        tiers
    }

    /// Loads one .torrent file (the metadata is dropped again).
    fn load(
        &mut self,
        dir: u32,
        file: &OsStr,
        path: &Path,
        stamp: FileStamp,
    ) -> Result<Loaded, String> {
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
        let info_offset = u32::try_from(meta.info_offset())
            .map_err(|_| format!("{}: info dictionary beyond 4 GiB", path.display()))?;
        let v2 = match (meta.version(), meta.info_hash_v2()) {
            (TorrentVersion::Hybrid, Some(v2)) => Some(InfoHash::from_bytes(truncate_v2(&v2))),
            _ => None,
        };
        Ok(Loaded {
            entry: TorrentEntry {
                info_hash: meta.info_hash(),
                info_len,
                info_offset,
                dir,
                file: file.into(),
                trackers: self.intern_trackers(meta.tracker_tiers()),
                total_size: meta.total_size(),
                stamp,
                private: meta.is_private(),
                v2_alias: v2.is_some(),
            },
            v2,
        })
    }

    /// Walks `root` (recursively, not following directory symlinks) and
    /// brings the registry in line with it.
    pub fn scan(&mut self, root: &Path) -> ScanReport {
        let mut report = ScanReport::default();
        // Entries by (directory, file name), to match what the walk finds;
        // 4 bytes a torrent, for the length of the scan.
        let mut by_file: Vec<u32> = (0..self.entries.len())
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        let key = |i: &u32| self.entries.get(*i as usize).map(|e| (e.dir, &*e.file));
        by_file.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
        let mut seen = vec![false; self.entries.len()];
        let mut broken = HashMap::new();
        let mut loaded: Vec<Loaded> = Vec::new();
        let mut stack = vec![(root.to_path_buf(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            let Ok(listing) = std::fs::read_dir(&dir) else {
                log::warn!("cannot read directory {}; skipped", dir.display());
                continue;
            };
            let dir_id = self.intern_dir(&dir);
            for item in listing.flatten() {
                let Ok(kind) = item.file_type() else {
                    continue;
                };
                let name: OsString = item.file_name();
                if kind.is_dir() {
                    if depth < MAX_SCAN_DEPTH {
                        stack.push((dir.join(&name), depth + 1));
                    }
                    continue;
                }
                if Path::new(&name).extension().is_none_or(|e| e != "torrent") {
                    continue;
                }
                let path = dir.join(&name);
                let Ok(metadata) = std::fs::metadata(&path) else {
                    continue;
                };
                if !metadata.is_file() {
                    continue;
                }
                let stamp = FileStamp::of(&metadata);
                let known = by_file
                    .binary_search_by(|i| match self.entries.get(*i as usize) {
                        Some(e) => (e.dir, &*e.file).cmp(&(dir_id, name.as_os_str())),
                        None => std::cmp::Ordering::Less,
                    })
                    .ok()
                    .and_then(|at| by_file.get(at))
                    .map(|i| *i as usize);
                let known_stamp = known.and_then(|i| self.entries.get(i)).map(|e| e.stamp);
                match decide(known_stamp, self.broken.get(&path).copied(), stamp) {
                    FileAction::Keep => {
                        if let Some(flag) = known.and_then(|i| seen.get_mut(i)) {
                            *flag = true;
                        }
                    }
                    FileAction::SkipBroken => {
                        broken.insert(path, stamp);
                    }
                    FileAction::Load | FileAction::Reload => {
                        match self.load(dir_id, &name, &path, stamp) {
                            Ok(entry) => loaded.push(entry),
                            Err(why) => {
                                report.failed.push((path.clone(), why));
                                broken.insert(path, stamp);
                            }
                        }
                    }
                }
            }
        }
        drop(by_file);
        self.broken = broken;
        // Gone or changed: dropped (a changed file comes back as loaded).
        let mut index = 0;
        self.entries.retain(|e| {
            let keep = seen.get(index).copied().unwrap_or(false);
            index += 1;
            if !keep {
                report.removed.push(e.info_hash);
            }
            keep
        });
        drop(seen);
        if !report.removed.is_empty() {
            let removed: HashSet<InfoHash> = report.removed.iter().copied().collect();
            self.aliases.retain(|(_, v1)| !removed.contains(v1));
            self.aliases_by_v1.retain(|(v1, _)| !removed.contains(v1));
        }
        self.place_all(loaded, &mut report);
        self.entries.shrink_to_fit();
        self.trackers.retain(|t| Arc::strong_count(t) > 1);
        report
    }

    /// Puts loaded torrents in their place (one sort, not one insert per
    /// torrent: a first scan brings 100,000), unless another file already
    /// serves the same torrent: of two copies, the one the walk met first
    /// is served.
    fn place_all(&mut self, mut loaded: Vec<Loaded>, report: &mut ScanReport) {
        if loaded.is_empty() {
            return;
        }
        // Stable: among copies, walk order is kept.
        loaded.sort_by_key(|l| l.entry.info_hash);
        let mut fresh: Vec<TorrentEntry> = Vec::with_capacity(loaded.len());
        let mut new_aliases = Vec::new();
        for item in loaded {
            let hash = item.entry.info_hash;
            let clash = match fresh.last() {
                Some(last) if last.info_hash == hash => Some(self.path_of(last)),
                _ => self
                    .get(&hash)
                    .or_else(|| item.v2.and_then(|v2| self.get(&v2)))
                    .map(|other| self.path_of(other)),
            };
            if let Some(other) = clash {
                let path = self.path_of(&item.entry);
                report.failed.push((
                    path.clone(),
                    format!("same torrent as {}; served from there", other.display()),
                ));
                self.broken.insert(path, item.entry.stamp);
                continue;
            }
            report.removed.retain(|h| *h != hash);
            report.added.push(hash);
            if let Some(v2) = item.v2 {
                new_aliases.push((v2, hash));
            }
            fresh.push(item.entry);
        }
        if self.entries.is_empty() {
            self.entries = fresh;
        } else {
            self.entries.extend(fresh);
            self.entries.sort_unstable_by_key(|e| e.info_hash);
        }
        if !new_aliases.is_empty() {
            self.aliases.extend(new_aliases);
            self.aliases.sort_unstable();
            self.aliases.dedup_by(|a, b| a.0 == b.0);
            self.aliases_by_v1 = self.aliases.iter().map(|(a, v1)| (*v1, *a)).collect();
            self.aliases_by_v1.sort_unstable();
        }
    }

    /// Reads metadata piece `piece` of a torrent from its file.
    pub fn read_metadata_piece(
        &self,
        info_hash: &InfoHash,
        piece: u32,
    ) -> Result<Vec<u8>, ServeError> {
        let entry = self.get(info_hash).ok_or(ServeError::NotHeld)?;
        let range = piece_range(entry.info_len, piece).ok_or(ServeError::OutOfRange)?;
        let path = self.path_of(entry);
        let io = |e| ServeError::Io(path.clone(), e);
        let mut file = File::open(&path).map_err(io)?;
        let metadata = file.metadata().map_err(io)?;
        if FileStamp::of(&metadata) != entry.stamp {
            return Err(ServeError::Changed(path.clone()));
        }
        file.seek(SeekFrom::Start(
            u64::from(entry.info_offset) + u64::from(range.start),
        ))
        .map_err(io)?;
        let mut data = vec![0u8; (range.end - range.start) as usize];
        file.read_exact(&mut data).map_err(io)?;
        Ok(data)
    }
}

impl Swarms for Registry {
    fn metadata_size(&self, info_hash: &InfoHash) -> Option<u32> {
        self.get(info_hash).map(|e| e.info_len)
    }
}

#[cfg(test)]
mod tests;
