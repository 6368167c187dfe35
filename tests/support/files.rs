//! Looking at files the way a user checks a copy: which files are there,
//! and are their bytes the same.

use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

/// Regular files under `root` (or `root` itself as "" when it is a file),
/// relative to `root`, sorted.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
        let path = root.join(rel);
        if path.is_dir() {
            for e in std::fs::read_dir(&path).unwrap() {
                walk(root, &rel.join(e.unwrap().file_name()), out);
            }
        } else {
            out.push(rel.to_path_buf());
        }
    }
    let mut out = Vec::new();
    walk(root, Path::new(""), &mut out);
    out.sort();
    out
}

/// SHA-1 of a file's bytes, lowercase hex.
pub fn sha1_of(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Sha1::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
