//! The imperative half of a snapshot: reading the managed directory,
//! rtorrent and the disk. Every decision about what was read is the
//! planner's.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::bigfile::{is_complete, DiskKind, FileState};
use super::snapshot::{CorruptTorrent, Loaded, ManagedTorrent, Snapshot};
use crate::process::{self, RunSpec};
use crate::rtorrent::download::{download_from_row, file_from_row, DOWNLOAD_FIELDS, FILE_FIELDS};
use crate::rtorrent::xmlrpc::Value;
use crate::rtorrent::{Call, Client, Download, RpcError, TorrentFile};
use crate::torrent::{InfoHash, Metainfo};

/// Reads every `*.torrent` directly in `dir`. A file that does not parse is
/// returned as corrupt with its reason, never stopping the run; an
/// unreadable directory is an error.
pub fn managed_torrents(dir: &Path) -> Result<(Vec<ManagedTorrent>, Vec<CorruptTorrent>), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot read the managed torrents directory {}: {e}",
            dir.display()
        )
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "torrent") && p.is_file())
        .collect();
    paths.sort();
    let mut managed = Vec::new();
    let mut corrupt = Vec::new();
    for path in paths {
        match Metainfo::from_file(&path) {
            Ok(meta) => managed.push(managed_from(&path, &meta)),
            Err(e) => corrupt.push(CorruptTorrent {
                file: path,
                error: e.to_string(),
            }),
        }
    }
    // Two files of the same torrent: manage it once, under the first name.
    let mut seen = std::collections::HashSet::new();
    managed.retain(|t: &ManagedTorrent| seen.insert(t.info_hash));
    Ok((managed, corrupt))
}

fn managed_from(path: &Path, meta: &Metainfo) -> ManagedTorrent {
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
    }
}

/// Maps rtorrent's downloads; one with an unreadable hash is skipped with
/// a warning (it cannot be one of ours).
pub fn loaded_from(downloads: &[Download]) -> Vec<Loaded> {
    downloads
        .iter()
        .filter_map(|d| match InfoHash::from_hex(&d.hash) {
            Ok(info_hash) => Some(Loaded {
                info_hash,
                name: d.name.clone(),
                size: d.size_bytes,
                completed: d.completed_bytes,
                complete: d.complete,
                ratio_milli: i64::try_from(d.ratio_permille).unwrap_or(i64::MAX),
                started: d.started,
                base_path: PathBuf::from(&d.base_path),
                finished_at: d.finished_at.unwrap_or(0),
            }),
            Err(e) => {
                log::warn!(
                    "rtorrent reported a download with hash {:?} ({e}); ignored",
                    d.hash
                );
                None
            }
        })
        .collect()
}

/// The calls that tell where rtorrent puts new downloads: its
/// `directory.default` as written in its rc, plus its working directory
/// and HOME to make that absolute (`~/download` and `./download` are the
/// usual forms, and rtorrent hands them back unexpanded).
fn directory_calls() -> [Call; 3] {
    [
        Call::new("directory.default", vec![]),
        Call::new("system.cwd", vec![]),
        Call::new("system.env", vec![Value::str(""), Value::str("HOME")]),
    ]
}

fn directory_from_results(
    results: &mut impl Iterator<Item = Result<Value, RpcError>>,
) -> Result<PathBuf, String> {
    let text = |r: Option<Result<Value, RpcError>>| -> Option<String> {
        r.and_then(|v| v.ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .filter(|s| !s.is_empty())
    };
    let raw = match results.next() {
        Some(Ok(v)) => v.as_str().unwrap_or_default().to_string(),
        Some(Err(e)) => return Err(e.to_string()),
        None => String::new(),
    };
    let cwd = text(results.next());
    let home = text(results.next());
    resolve_download_directory(&raw, cwd.as_deref(), home.as_deref())
}

/// Makes rtorrent's `directory.default` absolute the way rtorrent does:
/// `~` is rtorrent's HOME, a relative path is relative to its working
/// directory. Pure, so every form is tested.
pub fn resolve_download_directory(
    raw: &str,
    cwd: Option<&str>,
    home: Option<&str>,
) -> Result<PathBuf, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(
            "rtorrent has no directory.default; set directory.default.set in its rc".into(),
        );
    }
    if raw == "~" || raw.starts_with("~/") {
        let home = home.ok_or_else(|| {
            format!(
                "rtorrent's directory.default is {raw:?} and rtorrent does not tell its HOME; \
                 write an absolute path in its rc"
            )
        })?;
        return Ok(Path::new(home).join(raw.trim_start_matches('~').trim_start_matches('/')));
    }
    let path = Path::new(raw);
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = cwd.ok_or_else(|| {
        format!(
            "rtorrent's directory.default is the relative path {raw:?} and rtorrent does not \
             tell its working directory; write an absolute path in its rc"
        )
    })?;
    Ok(Path::new(cwd).join(path))
}

/// rtorrent's download directory, absolute, in one round trip.
pub fn download_directory(client: &Client) -> Result<PathBuf, String> {
    let mut results = client
        .multicall(&directory_calls())
        .map_err(|e| e.to_string())?
        .into_iter();
    directory_from_results(&mut results)
}

/// Every download and the download directory in one round trip
/// (`system.multicall` of `d.multicall2` and the directory calls), so a
/// run's reading costs the same with ten torrents or ten thousand.
pub fn rtorrent_state(client: &Client) -> Result<(Vec<Download>, PathBuf), String> {
    let mut params = vec![Value::str(""), Value::str("main")];
    params.extend(DOWNLOAD_FIELDS.iter().map(|f| Value::str(*f)));
    let mut calls = vec![Call::new("d.multicall2", params)];
    calls.extend(directory_calls());
    let mut results = client
        .multicall(&calls)
        .map_err(|e| e.to_string())?
        .into_iter();
    let downloads = results
        .next()
        .ok_or("system.multicall gave no result for d.multicall2")?
        .map_err(|e| e.to_string())?;
    let rows = downloads.as_array().ok_or_else(|| {
        format!(
            "rtorrent's d.multicall2 answered a {}, not an array of rows",
            downloads.type_name()
        )
    })?;
    let downloads = rows
        .iter()
        .map(|row| download_from_row(row).map_err(|e| format!("rtorrent's d.multicall2: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((downloads, directory_from_results(&mut results)?))
}

/// The torrent in file-by-file mode as rtorrent has it, in one round trip:
/// where its data is and its files. With `stop`, the same round trip stops
/// it first, so no file changes while complete ones are copied.
pub fn file_mode_files(
    client: &Client,
    hash_upper: &str,
    name: &str,
    single_file: bool,
    stop: bool,
) -> Result<(PathBuf, Vec<TorrentFile>), String> {
    let mut calls = Vec::new();
    if stop {
        // Closed, not only stopped: rtorrent maps the data into memory, and
        // a file truncated under a live mapping crashes it (SIGBUS) or
        // leaves it believing in bytes that are gone. d.start reopens it.
        calls.push(Call::new("d.stop", vec![Value::str(hash_upper)]));
        calls.push(Call::new("d.close", vec![Value::str(hash_upper)]));
    }
    calls.push(Call::new("d.base_path", vec![Value::str(hash_upper)]));
    calls.push(Call::new("d.directory", vec![Value::str(hash_upper)]));
    let mut params = vec![Value::str(hash_upper), Value::str("")];
    params.extend(FILE_FIELDS.iter().map(|f| Value::str(*f)));
    calls.push(Call::new("f.multicall", params));
    let mut results = client
        .multicall(&calls)
        .map_err(|e| e.to_string())?
        .into_iter();
    let mut next = |what: &str| {
        results
            .next()
            .ok_or_else(|| format!("system.multicall gave no result for {what}"))?
            .map_err(|e| e.to_string())
    };
    if stop {
        next("d.stop")?;
        next("d.close")?;
    }
    let base = next("d.base_path")?;
    let directory = next("d.directory")?;
    let rows = next("f.multicall")?;
    let base = base.as_str().unwrap_or_default();
    let directory = directory.as_str().unwrap_or_default();
    // d.base_path is empty until rtorrent opens the download; d.directory
    // is the torrent's directory (multi-file) or the one holding its file.
    let base_path = if !base.is_empty() {
        PathBuf::from(base)
    } else if directory.is_empty() {
        PathBuf::new()
    } else if single_file {
        Path::new(directory).join(name)
    } else {
        PathBuf::from(directory)
    };
    let rows = rows.as_array().ok_or_else(|| {
        format!(
            "rtorrent's f.multicall answered a {}, not an array of rows",
            rows.type_name()
        )
    })?;
    let files = rows
        .iter()
        .enumerate()
        .map(|(i, row)| file_from_row(i, row).map_err(|e| format!("rtorrent's f.multicall: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((base_path, files))
}

/// Each file's state for the file-by-file planner: rtorrent's view plus
/// the bytes it really takes on disk (allocated blocks, not the length:
/// rtorrent writing a shared piece leaves a sparse file of full length).
pub fn file_states(base_path: &Path, single_file: bool, files: &[TorrentFile]) -> Vec<FileState> {
    files
        .iter()
        .map(|f| {
            let path: Vec<String> = f.path.split('/').map(str::to_string).collect();
            let local = if single_file {
                base_path.to_path_buf()
            } else {
                path.iter().fold(base_path.to_path_buf(), |p, c| p.join(c))
            };
            let on_disk = if base_path.as_os_str().is_empty() {
                0
            } else {
                std::fs::symlink_metadata(&local)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| std::os::unix::fs::MetadataExt::blocks(&m) * 512)
                    .unwrap_or(0)
            };
            FileState {
                index: f.index,
                path,
                size: f.size_bytes,
                complete: is_complete(f.size_bytes, f.completed_chunks, f.size_chunks),
                priority: f.priority as u8,
                on_disk,
            }
        })
        .collect()
}

/// Space on the file system holding `dir`, from `df` (std has no statvfs;
/// `df -P -k` is POSIX and busybox understands it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    pub total: u64,
    pub free: u64,
}

pub fn disk_space(dir: &Path) -> Result<DiskSpace, String> {
    let spec = RunSpec::new("df", Duration::from_secs(30))
        .args(["-P", "-k"])
        .arg(dir);
    let out = process::run(&spec)
        .map_err(|e| format!("cannot measure free space of {}: {e}", dir.display()))?;
    if !out.success() {
        return Err(format!(
            "df {} failed: {}",
            dir.display(),
            out.stderr_text().trim()
        ));
    }
    parse_df(&String::from_utf8_lossy(&out.stdout))
        .map_err(|e| format!("df {}: {e}", dir.display()))
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
        let s = fields[i];
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
    /// Downloads rtorrent has that lowspace does not manage.
    pub unmanaged: Vec<Download>,
}

pub fn gather(managed_dir: &Path, client: &Client) -> Result<Gathered, String> {
    let (managed, corrupt) = managed_torrents(managed_dir)?;
    for c in &corrupt {
        log::warn!("skipping {}: {}", c.file.display(), c.error);
    }
    let (downloads, download_dir) = rtorrent_state(client)?;
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
            download_fs,
        },
        download_dir,
        disk,
        unmanaged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn download_directory_forms() {
        let r = |raw, cwd, home| resolve_download_directory(raw, cwd, home);
        assert_eq!(r("/srv/dl/", None, None), Ok(PathBuf::from("/srv/dl/")));
        assert_eq!(
            r("~/download/", Some("/"), Some("/home/pi")),
            Ok(PathBuf::from("/home/pi/download/"))
        );
        assert_eq!(
            r("~", None, Some("/home/pi")),
            Ok(PathBuf::from("/home/pi"))
        );
        assert_eq!(
            r("./download", Some("/home/pi"), None),
            Ok(PathBuf::from("/home/pi/./download"))
        );
        assert!(r("~/d", Some("/"), None).unwrap_err().contains("HOME"));
        assert!(r("d", None, None)
            .unwrap_err()
            .contains("working directory"));
        assert!(r("  ", None, None)
            .unwrap_err()
            .contains("directory.default.set"));
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
