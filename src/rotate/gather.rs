//! The imperative half of a snapshot: reading the managed directory,
//! rtorrent and the disk. Every decision about what was read is the
//! planner's.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::bigfile::{is_complete, DiskKind, FileState, Skipped};
use super::error::{DiskSpaceError, GatherError};
use super::scan_cache::{cacheable, Parsed, ScanCache, Stamp};
use super::snapshot::{CorruptTorrent, Loaded, ManagedTorrent, Snapshot};
use crate::client::{
    ClientError, ClientState, SkippedFileWrites, Torrent, TorrentClient, TorrentFile,
};
use crate::process::{self, RunSpec};
use crate::relpath::RelPath;
use crate::torrent::{InfoHash, Metainfo};

/// Reads every `*.torrent` directly in `dir`. A file that does not parse is
/// returned as corrupt with its reason, never stopping the run; an
/// unreadable directory is an error. Reads every file (no cache).
pub fn managed_torrents(
    dir: &Path,
) -> Result<(Vec<ManagedTorrent>, Vec<CorruptTorrent>), GatherError> {
    let scan = scan_managed(dir, &ScanCache::new(dir), now_ns())?;
    Ok((scan.managed, scan.corrupt))
}

/// One look at the managed directory.
pub struct Scan {
    pub managed: Vec<ManagedTorrent>,
    pub corrupt: Vec<CorruptTorrent>,
    /// What to remember for the next run.
    pub cache: ScanCache,
    /// The cache to remember differs from the one given.
    pub changed: bool,
    /// .torrent files seen, and how many of them were read (not cached).
    pub files: usize,
    pub read: usize,
    pub read_bytes: u64,
}

/// Like [`managed_torrents`], taking from `cache` every file whose size,
/// modification time and inode are unchanged instead of reading it.
pub fn scan_managed(dir: &Path, cache: &ScanCache, now_ns: i64) -> Result<Scan, GatherError> {
    let entries = std::fs::read_dir(dir).map_err(|source| GatherError::ManagedDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "torrent"))
        .collect();
    paths.sort();
    let mut scan = Scan {
        managed: Vec::new(),
        corrupt: Vec::new(),
        cache: ScanCache::new(dir),
        changed: false,
        files: 0,
        read: 0,
        read_bytes: 0,
    };
    for path in paths {
        // Gone or not a file since the listing: not a managed torrent.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        scan.files += 1;
        let stamp = Stamp::of(&meta);
        // A name that is not UTF-8 is read every time rather than keyed lossily.
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string);
        let cached = name.as_deref().and_then(|n| cache.get(n, stamp)).cloned();
        let parsed = match cached {
            Some(parsed) => parsed,
            None => {
                scan.read += 1;
                scan.read_bytes += stamp.size;
                scan.changed = true;
                match Metainfo::from_file(&path) {
                    Ok(meta) => Parsed::Torrent(managed_from(&path, &meta, stamp.size)),
                    Err(e) => Parsed::Corrupt(CorruptTorrent {
                        file: path.clone(),
                        error: e.to_string(),
                    }),
                }
            }
        };
        if let Some(name) = name.filter(|_| cacheable(stamp, now_ns)) {
            scan.cache.entries.insert(name, (stamp, parsed.clone()));
        }
        match parsed {
            Parsed::Torrent(t) => scan.managed.push(t),
            Parsed::Corrupt(c) => scan.corrupt.push(c),
        }
    }
    if scan.cache.entries.len() != cache.entries.len() {
        scan.changed = true;
    }
    // Two files of the same torrent: manage it once, under the first name.
    let mut seen = std::collections::HashSet::new();
    scan.managed
        .retain(|t: &ManagedTorrent| seen.insert(t.info_hash));
    Ok(scan)
}

/// Nanoseconds since the epoch.
fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn managed_from(path: &Path, meta: &Metainfo, file_bytes: u64) -> ManagedTorrent {
    let single_file = meta.is_single_file();
    let files = meta
        .files()
        .iter()
        .map(|f| {
            // Paths relative to the data path: a multi-file torrent's files
            // start with its directory name, which the planner takes from
            // where rtorrent put the data instead.
            let rel = if single_file {
                f.path.clone()
            } else {
                f.path.iter().skip(1).cloned().collect()
            };
            (rel, f.length)
        })
        .collect();
    ManagedTorrent {
        file: path.to_path_buf(),
        info_hash: meta.info_hash(),
        name: meta.name().to_string(),
        total_size: meta.total_size(),
        files,
        single_file,
        piece_length: meta.piece_length(),
        file_bytes,
    }
}

/// Maps the client's torrents; one with an unreadable hash is skipped
/// with a warning (it cannot be one of ours).
pub fn loaded_from(torrents: &[Torrent]) -> Vec<Loaded> {
    torrents
        .iter()
        .filter_map(|d| match InfoHash::from_hex(&d.hash) {
            Ok(info_hash) => Some(Loaded {
                info_hash,
                name: d.name.clone(),
                size: d.size,
                completed: d.done,
                complete: d.complete,
                ratio_milli: i64::try_from(d.ratio_permille).unwrap_or(i64::MAX),
                started: d.started,
                base_path: d.data_path.clone(),
                finished_at: d.finished_at.unwrap_or(0),
            }),
            Err(e) => {
                log::warn!(
                    "the client reported a torrent with hash {:?} ({e}); ignored",
                    d.hash
                );
                None
            }
        })
        .collect()
}

/// The torrent in file-by-file mode as the client has it, in one request:
/// where its data is and its files. With `stop`, the same request stops
/// and closes it first, so no file changes while complete ones are copied.
pub fn file_mode_files(
    client: &dyn TorrentClient,
    hash: &InfoHash,
    name: &str,
    single_file: bool,
    stop: bool,
) -> Result<(PathBuf, Vec<TorrentFile>), ClientError> {
    let got = client.files(hash, stop)?;
    Ok((
        data_path(&got.data_path, &got.directory, name, single_file),
        got.files,
    ))
}

/// Where a torrent's data is: the client's data path, empty until it opens
/// the torrent, else from its directory (the torrent's directory for a
/// multi-file one, the one holding its file otherwise).
fn data_path(data_path: &Path, directory: &Path, name: &str, single_file: bool) -> PathBuf {
    if !data_path.as_os_str().is_empty() {
        data_path.to_path_buf()
    } else if directory.as_os_str().is_empty() {
        PathBuf::new()
    } else if single_file {
        directory.join(name)
    } else {
        directory.to_path_buf()
    }
}

/// Each file's state for the file-by-file planner: the client's view plus
/// the bytes it really takes on disk (allocated blocks, not the length:
/// rtorrent writing a shared piece leaves a sparse file of full length),
/// counting the file's unfinished name too (`incomplete_suffix`,
/// Transmission's `.part`).
pub fn file_states(
    base_path: &Path,
    single_file: bool,
    files: &[TorrentFile],
    incomplete_suffix: Option<&str>,
) -> Vec<FileState> {
    let blocks = |path: &Path| {
        std::fs::symlink_metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| std::os::unix::fs::MetadataExt::blocks(&m) * 512)
            .unwrap_or(0)
    };
    files
        .iter()
        .map(|f| {
            let path: Vec<String> = f.path.split('/').map(str::to_string).collect();
            // Built like every other path to a torrent's file, so a name
            // from rtorrent with `..` is not even looked at (it counts as
            // taking nothing, and the guard refuses it later).
            let local = match (base_path.parent(), base_path.file_name()) {
                (Some(parent), Some(top)) => top
                    .to_str()
                    .and_then(|top| RelPath::for_torrent_file(top, single_file, &path).ok())
                    .map(|rel| parent.join(rel)),
                _ => None,
            };
            let on_disk = local
                .map(|local| {
                    let unfinished = incomplete_suffix.map(|suffix| {
                        let mut name = local.clone().into_os_string();
                        name.push(suffix);
                        blocks(Path::new(&name))
                    });
                    blocks(&local).saturating_add(unfinished.unwrap_or(0))
                })
                .unwrap_or(0);
            FileState {
                index: f.index,
                path,
                size: f.size,
                complete: is_complete(f.size, f.done_pieces, f.pieces),
                priority: f.priority as u8,
                on_disk,
            }
        })
        .collect()
}

/// The suffix a client gives files not yet complete, if any.
pub fn incomplete_suffix(writes: SkippedFileWrites) -> Option<&'static str> {
    match writes {
        SkippedFileWrites::InFile { incomplete_suffix } => incomplete_suffix,
        SkippedFileWrites::PartFile => None,
    }
}

/// The name of libtorrent's parts file of a torrent, in its save path.
pub fn parts_file_name(hash: &InfoHash) -> String {
    format!(".{}.parts", hash.to_hex().to_ascii_lowercase())
}

/// Bytes the parts file of a torrent whose data path is `base_path` takes
/// (0 when there is none, or the client keeps none).
pub fn parts_file_bytes(base_path: &Path, hash: &InfoHash) -> u64 {
    base_path
        .parent()
        .and_then(|save| std::fs::symlink_metadata(save.join(parts_file_name(hash))).ok())
        .filter(|m| m.is_file())
        .map(|m| std::os::unix::fs::MetadataExt::blocks(&m) * 512)
        .unwrap_or(0)
}

/// Space on the file system holding `dir`, from `df` (std has no statvfs;
/// `df -P -k` is POSIX and busybox understands it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    pub total: u64,
    pub free: u64,
}

pub fn disk_space(dir: &Path) -> Result<DiskSpace, DiskSpaceError> {
    let spec = RunSpec::new("df", Duration::from_secs(30))
        .args(["-P", "-k"])
        .arg(dir);
    let out = process::run(&spec).map_err(|source| DiskSpaceError::Run {
        dir: dir.to_path_buf(),
        source,
    })?;
    if !out.success() {
        return Err(DiskSpaceError::Failed {
            dir: dir.to_path_buf(),
            stderr: out.stderr_text().trim().to_string(),
        });
    }
    parse_df(&String::from_utf8_lossy(&out.stdout)).map_err(|message| DiskSpaceError::Parse {
        dir: dir.to_path_buf(),
        message,
    })
}

/// Parses `df -P -k` output: a header line, then `fs 1024-blocks used
/// available capacity mountpoint`. The file system name and the mount point
/// may both hold spaces, so the fields are found around the capacity
/// column, the first `N%` after the name.
pub fn parse_df(text: &str) -> Result<DiskSpace, String> {
    let line = text.lines().nth(1).ok_or("no data line in df output")?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let is_capacity = |f: &&str| {
        f.strip_suffix('%')
            .is_some_and(|n| n.parse::<u32>().is_ok())
    };
    let capacity = fields
        .iter()
        .enumerate()
        .skip(4)
        .find(|(_, f)| is_capacity(f))
        .map(|(i, _)| i)
        .ok_or_else(|| {
            format!("expected \"fs size used available N% mount\" in df output, found {line:?}")
        })?;
    let number = |i: usize, what: &str| {
        let s = fields.get(i).copied().unwrap_or_default();
        s.parse::<u64>()
            .map_err(|_| format!("df {what} is {s:?}, not a number"))
            .map(|k| k.saturating_mul(1024))
    };
    Ok(DiskSpace {
        total: number(capacity - 3, "size")?,
        free: number(capacity - 1, "available")?,
    })
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Everything the planner needs, in one round trip to rtorrent whatever
/// the number of torrents.
pub struct Gathered {
    pub snapshot: Snapshot,
    pub download_dir: PathBuf,
    pub disk: DiskSpace,
    /// Torrents the client has that lowspace does not manage.
    pub unmanaged: Vec<Torrent>,
    /// The most bytes one request to rtorrent may take.
    pub request_limit: usize,
}

/// Where the scan cache lives, and whether this run may rewrite it
/// (`status` and `--dry-run` only read it).
pub struct CacheFile<'a> {
    pub path: &'a Path,
    pub write: bool,
}

/// Scans the managed directory through the cache, and saves the cache
/// when it changed. Saving failing is a warning: the next run reads more.
fn scan_with_cache(managed_dir: &Path, cache_file: &CacheFile) -> Result<Scan, GatherError> {
    let (cache, cache_bytes) = ScanCache::load(cache_file.path, managed_dir);
    let scan = scan_managed(managed_dir, &cache, now_ns())?;
    log::debug!(
        "managed directory: {} .torrent files, {} read ({} bytes), {} from {} ({cache_bytes} bytes)",
        scan.files,
        scan.read,
        scan.read_bytes,
        scan.files - scan.read,
        cache_file.path.display()
    );
    if cache_file.write && scan.changed {
        if let Err(e) = scan.cache.save(cache_file.path) {
            log::warn!(
                "cannot write {} ({e}); the next run reads every .torrent file again",
                cache_file.path.display()
            );
        }
    }
    Ok(scan)
}

pub fn gather(
    managed_dir: &Path,
    client: &dyn TorrentClient,
    cache_file: &CacheFile,
) -> Result<Gathered, GatherError> {
    let Scan {
        managed, corrupt, ..
    } = scan_with_cache(managed_dir, cache_file)?;
    for c in &corrupt {
        log::warn!("skipping {}: {}", c.file.display(), c.error);
    }
    let ClientState {
        torrents: downloads,
        download_dir,
        request_limit,
    } = client.state()?;
    let disk = disk_space(&download_dir)?;
    let download_fs = match crate::sys::file_system(&download_dir) {
        Ok((magic, block)) => DiskKind::from_statfs(magic, block),
        Err(e) => {
            log::warn!(
                "cannot tell the file system of {} ({e}); file-by-file mode charges neighbouring files whole",
                download_dir.display()
            );
            DiskKind::default()
        }
    };
    let ours: std::collections::HashSet<InfoHash> = managed.iter().map(|m| m.info_hash).collect();
    let loaded = loaded_from(&downloads);
    let unmanaged = downloads
        .into_iter()
        .filter(|d| {
            InfoHash::from_hex(&d.hash)
                .map(|h| !ours.contains(&h))
                .unwrap_or(true)
        })
        .collect();
    Ok(Gathered {
        snapshot: Snapshot {
            managed,
            corrupt,
            loaded,
            disk_free: disk.free,
            now: now(),
            file_mode_files: None,
            request_limit: Some(request_limit),
            download_fs,
            skipped: Skipped::for_client(client.skipped_file_writes()),
        },
        download_dir,
        disk,
        unmanaged,
        request_limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_states_measure_the_torrents_files_and_nothing_outside() {
        let dir = std::env::temp_dir().join(format!("lowspace-states-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("dl/T/sub")).unwrap();
        std::fs::write(dir.join("dl/T/sub/a.bin"), vec![1u8; 8192]).unwrap();
        std::fs::write(dir.join("dl/outside.bin"), vec![1u8; 8192]).unwrap();
        let file = |index, path: &str| TorrentFile {
            index,
            path: path.into(),
            size: 8192,
            done_pieces: 1,
            pieces: 1,
            priority: crate::client::FilePriority::Normal,
        };
        let files = [file(0, "sub/a.bin"), file(1, "../outside.bin")];
        let states = file_states(&dir.join("dl/T"), false, &files, None);
        assert!(states[0].on_disk >= 8192, "{:?}", states[0]);
        assert_eq!(states[1].on_disk, 0, "{:?}", states[1]);
        // A single file is the data path itself, whatever rtorrent calls it.
        let single = file_states(&dir.join("dl/outside.bin"), true, &[file(0, "x")], None);
        assert!(single[0].on_disk >= 8192);
        // Transmission's unfinished name counts, beside the file's own.
        std::fs::write(dir.join("dl/T/sub/a.bin.part"), vec![1u8; 8192]).unwrap();
        let states = file_states(&dir.join("dl/T"), false, &files, Some(".part"));
        assert!(states[0].on_disk >= 2 * 8192, "{:?}", states[0]);
        assert_eq!(states[1].on_disk, 0, "{:?}", states[1]);
        // libtorrent's parts file, in the save path, by its blocks.
        let hash = InfoHash::from_hex("10E54DB8B2CF5222A02F420DF8564990DF135F2F").unwrap();
        assert_eq!(parts_file_bytes(&dir.join("dl/T"), &hash), 0);
        std::fs::write(
            dir.join("dl/.10e54db8b2cf5222a02f420df8564990df135f2f.parts"),
            vec![1u8; 4096],
        )
        .unwrap();
        assert!(parts_file_bytes(&dir.join("dl/T"), &hash) >= 4096);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A single-file .torrent of `pieces` pieces named `name`.
    fn torrent_bytes(name: &str, pieces: usize) -> Vec<u8> {
        crate::torrent::bencode::Encoder::new()
            .begin_dict()
            .bytes(b"info")
            .begin_dict()
            .bytes(b"length")
            .int(pieces as i64 * 16384)
            .bytes(b"name")
            .bytes(name.as_bytes())
            .bytes(b"piece length")
            .int(16384)
            .bytes(b"pieces")
            .bytes(&vec![7u8; pieces * 20])
            .end()
            .end()
            .finish()
    }

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn temp_dir(label: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("lowspace-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    /// Later than any file written here, so every file may be cached.
    fn future() -> i64 {
        now_ns() + 3600 * 1_000_000_000
    }

    #[test]
    fn scan_cache_hit_change_removal() {
        let tmp = temp_dir("scan-cache");
        let dir = &tmp.0;
        for (name, pieces) in [("a.bin", 2000), ("b.bin", 2001), ("c.bin", 2002)] {
            std::fs::write(
                dir.join(format!("{name}.torrent")),
                torrent_bytes(name, pieces),
            )
            .unwrap();
        }
        std::fs::write(dir.join("broken.torrent"), b"d8:announce").unwrap();

        let first = scan_managed(dir, &ScanCache::new(dir), future()).unwrap();
        assert_eq!((first.files, first.read), (4, 4));
        assert!(first.changed);
        assert_eq!(first.managed.len(), 3);
        assert_eq!(first.corrupt.len(), 1);

        // Through the file, as the next run finds it.
        let path = dir.join(".scan.json");
        first.cache.save(&path).unwrap();
        let (cache, _) = ScanCache::load(&path, dir);
        let steady = scan_managed(dir, &cache, future()).unwrap();
        assert_eq!((steady.files, steady.read, steady.read_bytes), (4, 0, 0));
        assert!(!steady.changed);
        assert_eq!(steady.managed, first.managed);
        assert_eq!(steady.corrupt, first.corrupt);

        // A different size: read again, and the new content is what counts.
        std::fs::write(dir.join("a.bin.torrent"), torrent_bytes("a.bin", 3000)).unwrap();
        // The same size, only the modification time moved: read again.
        let b = std::fs::File::options()
            .write(true)
            .open(dir.join("b.bin.torrent"))
            .unwrap();
        b.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_000_000))
            .unwrap();
        drop(b);
        let changed = scan_managed(dir, &steady.cache, future()).unwrap();
        assert_eq!(changed.read, 2);
        assert!(changed.changed);
        let a = changed.managed.iter().find(|t| t.name == "a.bin").unwrap();
        assert_eq!(a.total_size, 3000 * 16384);

        // A removed file leaves the cache.
        std::fs::remove_file(dir.join("c.bin.torrent")).unwrap();
        let removed = scan_managed(dir, &changed.cache, future()).unwrap();
        assert_eq!((removed.files, removed.read), (3, 0));
        assert!(removed.changed);
        assert!(!removed.cache.entries.contains_key("c.bin.torrent"));
        assert_eq!(removed.cache.entries.len(), 3);
    }

    #[test]
    fn files_changed_just_now_are_not_remembered() {
        let tmp = temp_dir("scan-racy");
        let dir = &tmp.0;
        std::fs::write(dir.join("a.torrent"), torrent_bytes("a", 10)).unwrap();
        let scan = scan_managed(dir, &ScanCache::new(dir), now_ns()).unwrap();
        assert_eq!(scan.managed.len(), 1);
        assert!(scan.cache.entries.is_empty());
    }

    #[test]
    fn a_damaged_or_foreign_cache_means_reading_everything() {
        let tmp = temp_dir("scan-damaged");
        let dir = &tmp.0;
        std::fs::write(dir.join("a.torrent"), torrent_bytes("a", 10)).unwrap();
        let path = dir.join(".scan.json");
        let good = scan_managed(dir, &ScanCache::new(dir), future()).unwrap();
        good.cache.save(&path).unwrap();

        let text = std::fs::read(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        let (cache, len) = ScanCache::load(&path, dir);
        assert!(cache.entries.is_empty() && len > 0);
        let scan = scan_managed(dir, &cache, future()).unwrap();
        assert_eq!(scan.read, 1);
        assert_eq!(scan.managed, good.managed);

        // Written for another managed directory.
        good.cache.save(&path).unwrap();
        let (cache, _) = ScanCache::load(&path, Path::new("/elsewhere"));
        assert!(cache.entries.is_empty());

        // Unreadable (a directory where the file should be).
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        let (cache, _) = ScanCache::load(&path, dir);
        assert!(cache.entries.is_empty());
    }

    #[test]
    fn df_output_in_gnu_and_busybox_shapes() {
        let gnu = "Filesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/vda         263174212  11155940  241236040       5% /\n";
        assert_eq!(
            parse_df(gnu),
            Ok(DiskSpace {
                total: 263_174_212 * 1024,
                free: 241_236_040 * 1024
            })
        );
        let spaced = "Filesystem 1024-blocks Used Available Capacity Mounted on\nmy disk 100 40 60 40% /mnt/my disk 5%\n";
        assert_eq!(
            parse_df(spaced),
            Ok(DiskSpace {
                total: 100 * 1024,
                free: 60 * 1024
            })
        );
    }

    #[test]
    fn df_errors_name_the_field() {
        assert!(parse_df("").unwrap_err().contains("no data line"));
        assert!(parse_df("h\na b c\n")
            .unwrap_err()
            .contains("expected \"fs size"));
        assert!(parse_df("h\nfs x 1 2 3% /\n")
            .unwrap_err()
            .contains("size is \"x\""));
        assert!(parse_df("h\nfs 1 1 y 3% /\n")
            .unwrap_err()
            .contains("available is \"y\""));
    }
}
