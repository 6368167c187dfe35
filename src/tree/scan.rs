//! Walking the source directory: every regular file, with its size and
//! modification time, in a stable order.
//!
//! Symbolic links are not followed (a link could lead out of the tree or
//! make a file appear twice) and special files (FIFOs, sockets, devices) have
//! no content to hash: both are skipped with a note. Names that are not
//! UTF-8 are skipped too, because a torrent name, the index and a web seed
//! URL all need text. A directory that cannot be read is reported, and the
//! caller must not prune anything beneath it: its files are not gone, only
//! unseen.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// A regular file under the source directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to the source directory, '/' separated.
    pub rel: String,
    /// Where to read it.
    pub path: PathBuf,
    pub size: u64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i64,
}

/// Something under the source directory that gets no torrent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub rel: String,
    pub why: &'static str,
}

/// A directory (or file) whose listing or metadata could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    pub rel: String,
    pub error: String,
}

/// Everything the walk found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Sorted by `rel`.
    pub files: Vec<SourceFile>,
    pub skipped: Vec<Skipped>,
    pub errors: Vec<ScanError>,
}

/// Modification time of `meta` in nanoseconds.
pub fn mtime_ns(meta: &fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// Walks `root`. `exclude` (the output directory, when it lies inside the
/// source) is not entered; hidden entries (names starting with '.') are
/// skipped unless `include_hidden`.
pub fn scan(root: &Path, exclude: Option<&Path>, include_hidden: bool) -> Scan {
    let mut result = Scan::default();
    // (directory path, its relative path with a trailing '/' or "")
    let mut pending: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                result.errors.push(ScanError {
                    rel: display_rel(&prefix),
                    error: e.to_string(),
                });
                continue;
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => names.push(entry.file_name()),
                Err(e) => result.errors.push(ScanError {
                    rel: display_rel(&prefix),
                    error: e.to_string(),
                }),
            }
        }
        names.sort();
        let mut subdirs = Vec::new();
        for name in names {
            let path = dir.join(&name);
            let Some(name) = name.to_str() else {
                result.skipped.push(Skipped {
                    rel: format!("{prefix}{}", name.to_string_lossy()),
                    why: "name is not UTF-8",
                });
                continue;
            };
            let rel = format!("{prefix}{name}");
            if name.starts_with('.') && !include_hidden {
                result.skipped.push(Skipped {
                    rel,
                    why: "hidden (use --hidden to include)",
                });
                continue;
            }
            let meta = match fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) => {
                    result.errors.push(ScanError {
                        rel,
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            let kind = meta.file_type();
            if kind.is_dir() {
                if exclude == Some(path.as_path()) {
                    result.skipped.push(Skipped {
                        rel,
                        why: "the output directory",
                    });
                } else {
                    subdirs.push((path, format!("{rel}/")));
                }
            } else if kind.is_file() {
                result.files.push(SourceFile {
                    rel,
                    path,
                    size: meta.len(),
                    mtime_ns: mtime_ns(&meta),
                });
            } else if kind.is_symlink() {
                result.skipped.push(Skipped {
                    rel,
                    why: "symbolic link (not followed)",
                });
            } else {
                let why = if kind.is_fifo() {
                    "FIFO"
                } else if kind.is_socket() {
                    "socket"
                } else {
                    "device or other special file"
                };
                result.skipped.push(Skipped { rel, why });
            }
        }
        // Reverse so the stack pops them in name order.
        pending.extend(subdirs.into_iter().rev());
    }
    result.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    result
}

fn display_rel(prefix: &str) -> String {
    if prefix.is_empty() {
        ".".into()
    } else {
        prefix.trim_end_matches('/').into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_regular_files_and_skips_the_rest() {
        let root = std::env::temp_dir().join(format!("lowspace-scan-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::create_dir_all(root.join("out")).unwrap();
        fs::create_dir_all(root.join(".hid")).unwrap();
        fs::write(root.join("a/b/x y.bin"), b"123").unwrap();
        fs::write(root.join("a/ü.txt"), b"1").unwrap();
        fs::write(root.join("top"), b"").unwrap();
        fs::write(root.join("out/old.torrent"), b"1").unwrap();
        fs::write(root.join(".hid/f"), b"1").unwrap();
        std::os::unix::fs::symlink(root.join("top"), root.join("link")).unwrap();
        let scan = scan(&root, Some(&root.join("out")), false);
        let rels: Vec<_> = scan.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["a/b/x y.bin", "a/ü.txt", "top"]);
        assert_eq!(scan.files[0].size, 3);
        let skipped: Vec<_> = scan.skipped.iter().map(|s| s.rel.as_str()).collect();
        assert_eq!(skipped, [".hid", "link", "out"]);
        assert!(scan.errors.is_empty());
        let with_hidden = super::scan(&root, Some(&root.join("out")), true);
        assert!(with_hidden.files.iter().any(|f| f.rel == ".hid/f"));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_root_is_an_error_not_a_panic() {
        let scan = scan(Path::new("/nonexistent-lowspace-scan"), None, false);
        assert!(scan.files.is_empty());
        assert_eq!(scan.errors.len(), 1);
        assert_eq!(scan.errors[0].rel, ".");
    }
}
