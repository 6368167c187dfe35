//! What each managed .torrent parsed to, remembered between runs in
//! `scan.json` next to the journal, so a steady run reads only the files
//! that changed: 5,000 real .torrent files are 200 MB to read on every run
//! otherwise, slow and wearing on an SD card.
//!
//! A file is taken from the cache only when its size, modification time
//! (nanoseconds) and inode are all what they were when it was parsed. A
//! file changed within [`RACY_NS`] of the scan is not remembered: a file
//! system that keeps times in 2-second steps (FAT on an SD card) could
//! otherwise hide a rewrite of the same size in the same step. The cache
//! is only ever a shortcut: unreadable, damaged or written for another
//! directory, it is ignored with a warning and every file is read again.
//!
//! Rows are JSON arrays rather than objects (5,000 rows of keys would
//! double its size), and a single-file torrent's file list, and a name
//! that is the file's name without `.torrent`, are left out and rebuilt.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::snapshot::{CorruptTorrent, ManagedTorrent};
use crate::fsutil::write_atomic;
use crate::torrent::{InfoHash, InfoHashError};

const VERSION: u32 = 1;

/// A change this close to the scan (2 s FAT steps, with margin) is not
/// trusted to show in the modification time yet.
pub const RACY_NS: i64 = 3_000_000_000;

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    pub inode: u64,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            size: meta.len(),
            mtime_ns: meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec(),
            inode: meta.ino(),
        }
    }
}

/// What one file parsed to.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Torrent(ManagedTorrent),
    Corrupt(CorruptTorrent),
}

/// The cache of one managed directory, by file name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScanCache {
    pub dir: PathBuf,
    pub entries: HashMap<String, (Stamp, Parsed)>,
}

#[derive(Serialize, Deserialize)]
struct FileForm {
    version: u32,
    dir: PathBuf,
    rows: Vec<Row>,
}

/// File name, size, mtime (ns), inode, what it parsed to.
#[derive(Serialize, Deserialize)]
struct Row(String, u64, i64, u64, RowParsed);

#[derive(Serialize, Deserialize)]
enum RowParsed {
    /// info-hash (hex), name (None: the file name without `.torrent`),
    /// total size, piece length, files (None: single-file).
    #[serde(rename = "t")]
    Torrent(
        String,
        Option<String>,
        u64,
        u64,
        Option<Vec<(Vec<String>, u64)>>,
    ),
    /// Why it did not parse.
    #[serde(rename = "e")]
    Corrupt(String),
}

fn stem(file_name: &str) -> &str {
    file_name.strip_suffix(".torrent").unwrap_or(file_name)
}

/// Why a cache file cannot be used (the run then reads every .torrent).
#[derive(Debug)]
pub enum ScanCacheError {
    Json(serde_json::Error),
    Version(u32),
    InfoHash {
        name: String,
        hash: String,
        source: InfoHashError,
    },
    /// A row's file sizes do not add up to its total.
    Sizes {
        name: String,
        sum: Option<u64>,
        total: u64,
    },
    Twice(String),
}

impl fmt::Display for ScanCacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanCacheError::Json(e) => write!(f, "{e}"),
            ScanCacheError::Version(found) => {
                write!(f, "version {found}, this lowspace writes version {VERSION}")
            }
            ScanCacheError::InfoHash { name, hash, source } => {
                write!(f, "{name}: info-hash {hash:?}: {source}")
            }
            ScanCacheError::Sizes { name, sum, total } => write!(
                f,
                "{name}: the files add up to {sum:?}, not the total {total}"
            ),
            ScanCacheError::Twice(name) => write!(f, "{name} is listed twice"),
        }
    }
}

impl std::error::Error for ScanCacheError {}

impl ScanCache {
    pub fn new(dir: &Path) -> ScanCache {
        ScanCache {
            dir: dir.to_path_buf(),
            entries: HashMap::new(),
        }
    }

    /// What `name` parsed to, if it is the same file as then.
    pub fn get(&self, name: &str, stamp: Stamp) -> Option<&Parsed> {
        self.entries
            .get(name)
            .filter(|(s, _)| *s == stamp)
            .map(|(_, p)| p)
    }

    /// The cache for `dir` from the bytes of a cache file.
    pub fn parse(bytes: &[u8]) -> Result<ScanCache, ScanCacheError> {
        let form: FileForm = serde_json::from_slice(bytes).map_err(ScanCacheError::Json)?;
        if form.version != VERSION {
            return Err(ScanCacheError::Version(form.version));
        }
        let mut entries = HashMap::with_capacity(form.rows.len());
        for Row(name, size, mtime_ns, inode, parsed) in form.rows {
            let file = form.dir.join(&name);
            let parsed = match parsed {
                RowParsed::Torrent(hash, torrent_name, total_size, piece_length, files) => {
                    let info_hash =
                        InfoHash::from_hex(&hash).map_err(|source| ScanCacheError::InfoHash {
                            name: name.clone(),
                            hash: hash.clone(),
                            source,
                        })?;
                    let torrent_name = torrent_name.unwrap_or_else(|| stem(&name).to_string());
                    let single_file = files.is_none();
                    let files =
                        files.unwrap_or_else(|| vec![(vec![torrent_name.clone()], total_size)]);
                    let sum = files
                        .iter()
                        .try_fold(0u64, |sum, (_, len)| sum.checked_add(*len));
                    if sum != Some(total_size) {
                        return Err(ScanCacheError::Sizes {
                            name,
                            sum,
                            total: total_size,
                        });
                    }
                    Parsed::Torrent(ManagedTorrent {
                        file,
                        info_hash,
                        name: torrent_name,
                        total_size,
                        files,
                        single_file,
                        piece_length,
                        file_bytes: size,
                    })
                }
                RowParsed::Corrupt(error) => Parsed::Corrupt(CorruptTorrent { file, error }),
            };
            let stamp = Stamp {
                size,
                mtime_ns,
                inode,
            };
            if entries.insert(name.clone(), (stamp, parsed)).is_some() {
                return Err(ScanCacheError::Twice(name));
            }
        }
        Ok(ScanCache {
            dir: form.dir,
            entries,
        })
    }

    /// The bytes of the cache file, rows in name order.
    pub fn render(&self) -> Vec<u8> {
        let mut names: Vec<&String> = self.entries.keys().collect();
        names.sort();
        let rows = names
            .into_iter()
            .filter_map(|name| {
                let (stamp, parsed) = self.entries.get(name)?;
                let parsed = match parsed {
                    Parsed::Torrent(t) => RowParsed::Torrent(
                        t.info_hash.to_hex(),
                        (t.name != stem(name)).then(|| t.name.clone()),
                        t.total_size,
                        t.piece_length,
                        (!t.single_file).then(|| t.files.clone()),
                    ),
                    Parsed::Corrupt(c) => RowParsed::Corrupt(c.error.clone()),
                };
                Some(Row(
                    name.clone(),
                    stamp.size,
                    stamp.mtime_ns,
                    stamp.inode,
                    parsed,
                ))
            })
            .collect();
        let form = FileForm {
            version: VERSION,
            dir: self.dir.clone(),
            rows,
        };
        // Plain data of strings and numbers: encoding cannot fail.
        let mut out = serde_json::to_vec(&form).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// The cache file for `dir`, or an empty cache: missing is a first
    /// run; unreadable, damaged or for another directory is a warning and
    /// a full read, never a failure. Also returns its size in bytes.
    pub fn load(path: &Path, dir: &Path) -> (ScanCache, u64) {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (ScanCache::new(dir), 0),
            Err(e) => {
                log::warn!(
                    "cannot read {} ({e}); reading every .torrent file again",
                    path.display()
                );
                return (ScanCache::new(dir), 0);
            }
        };
        let len = bytes.len() as u64;
        match ScanCache::parse(&bytes) {
            Ok(cache) if cache.dir == dir => (cache, len),
            Ok(cache) => {
                log::info!(
                    "{} is for {}, not {}; reading every .torrent file again",
                    path.display(),
                    cache.dir.display(),
                    dir.display()
                );
                (ScanCache::new(dir), len)
            }
            Err(e) => {
                log::warn!(
                    "{} is damaged ({e}); reading every .torrent file again",
                    path.display()
                );
                (ScanCache::new(dir), len)
            }
        }
    }

    /// Replaces the cache file atomically (write, fsync, rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        write_atomic(path, &self.render())
    }
}

/// Whether a file stamped `stamp` may be remembered at `now_ns`.
pub fn cacheable(stamp: Stamp, now_ns: i64) -> bool {
    now_ns.saturating_sub(stamp.mtime_ns) >= RACY_NS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn torrent(dir: &Path, file: &str, name: &str, single: bool, bytes: u64) -> Parsed {
        let files = if single {
            vec![(vec![name.to_string()], 7)]
        } else {
            vec![(vec!["a ☃".into(), "b".into()], 3), (vec!["c".into()], 4)]
        };
        Parsed::Torrent(ManagedTorrent {
            file: dir.join(file),
            info_hash: InfoHash::from_hex(&"ab".repeat(20)).unwrap(),
            name: name.into(),
            total_size: 7,
            files,
            single_file: single,
            piece_length: 16384,
            file_bytes: bytes,
        })
    }

    fn stamp(n: u64) -> Stamp {
        Stamp {
            size: n,
            mtime_ns: 1_700_000_000_123_456_789,
            inode: 42,
        }
    }

    #[test]
    fn render_and_parse_round_trip() {
        let dir = Path::new("/m");
        let mut cache = ScanCache::new(dir);
        let rows = [
            (
                "one.bin.torrent",
                torrent(dir, "one.bin.torrent", "one.bin", true, 0),
            ),
            ("x.torrent", torrent(dir, "x.torrent", "Łódź dir", false, 1)),
            (
                "bad.torrent",
                Parsed::Corrupt(CorruptTorrent {
                    file: dir.join("bad.torrent"),
                    error: "not bencode".into(),
                }),
            ),
        ];
        for (i, (name, parsed)) in rows.into_iter().enumerate() {
            cache.entries.insert(name.into(), (stamp(i as u64), parsed));
        }
        let bytes = cache.render();
        assert_eq!(ScanCache::parse(&bytes).unwrap(), cache);
        // The name equal to the file's stem and the single file list are
        // left out.
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("\"one.bin\""), "{text}");
    }

    #[test]
    fn a_changed_stamp_misses() {
        let dir = Path::new("/m");
        let mut cache = ScanCache::new(dir);
        cache.entries.insert(
            "a.torrent".into(),
            (stamp(5), torrent(dir, "a.torrent", "a", true, 5)),
        );
        assert!(cache.get("a.torrent", stamp(5)).is_some());
        assert!(cache.get("a.torrent", stamp(6)).is_none(), "size");
        let later = Stamp {
            mtime_ns: stamp(5).mtime_ns + 1,
            ..stamp(5)
        };
        assert!(cache.get("a.torrent", later).is_none(), "mtime");
        let other = Stamp {
            inode: 43,
            ..stamp(5)
        };
        assert!(cache.get("a.torrent", other).is_none(), "inode");
        assert!(cache.get("b.torrent", stamp(5)).is_none());
    }

    #[test]
    fn damaged_caches_are_errors_not_panics() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "EOF"),
            (b"{\"version\":1,\"dir\":\"/m\",\"rows\":[", "EOF"),
            (b"{\"version\":2,\"dir\":\"/m\",\"rows\":[]}", "version 2"),
            (
                b"{\"version\":1,\"dir\":\"/m\",\"rows\":[[\"a.torrent\",1,2,3,{\"t\":[\"zz\",null,7,1,null]}]]}",
                "info-hash",
            ),
            (
                b"{\"version\":1,\"dir\":\"/m\",\"rows\":[[\"a.torrent\",1,2,3,{\"t\":[\"abababababababababababababababababababab\",null,7,1,[[[\"x\"],3]]]}]]}",
                "add up",
            ),
            (
                b"{\"version\":1,\"dir\":\"/m\",\"rows\":[[\"a.torrent\",1,2,3,{\"e\":\"x\"}],[\"a.torrent\",1,2,3,{\"e\":\"x\"}]]}",
                "twice",
            ),
        ];
        for (bytes, want) in cases {
            let err = ScanCache::parse(bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should say {want}");
        }
    }

    #[test]
    fn racy_files_are_not_remembered() {
        let s = stamp(1);
        assert!(!cacheable(s, s.mtime_ns));
        assert!(!cacheable(s, s.mtime_ns + RACY_NS - 1));
        assert!(cacheable(s, s.mtime_ns + RACY_NS));
        // A clock behind the file's time: not trusted either.
        assert!(!cacheable(s, s.mtime_ns - 10));
    }
}
