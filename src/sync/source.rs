//! The local side of a sync: which regular files, of which sizes, lie under
//! the paths to copy. This list is what the remote must later show before
//! anything local may be deleted.
//!
//! Symlinks are refused rather than copied: a link inside a torrent's data
//! can point anywhere on the machine, copying its target would copy files
//! lowspace does not own, and copying the link itself would leave the remote
//! with a dangling reference once the local data is gone.

use std::fs;
use std::path::Path;

use super::error::{FailureKind, SyncError};
use super::RelPath;

/// The regular files (with sizes) under each of `paths` in `local_root`,
/// sorted by path.
pub fn scan(local_root: &Path, paths: &[RelPath]) -> Result<Vec<(RelPath, u64)>, SyncError> {
    let mut out = Vec::new();
    for rel in paths {
        check_no_symlink_on_the_way(local_root, rel)?;
        walk(local_root, rel, &mut out)?;
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn local_error(message: String) -> SyncError {
    SyncError::new(FailureKind::LocalSource, message)
}

fn check_no_symlink_on_the_way(local_root: &Path, rel: &RelPath) -> Result<(), SyncError> {
    let mut here = local_root.to_path_buf();
    let mut so_far: Option<RelPath> = None;
    for component in rel.as_str().split('/') {
        here.push(component);
        let next = match &so_far {
            None => RelPath::new(component),
            Some(p) => RelPath::new(&format!("{p}/{component}")),
        }
        .map_err(|e| local_error(e.to_string()))?;
        let meta = fs::symlink_metadata(&here).map_err(|e| {
            local_error(format!(
                "{} cannot be read: {} (was the torrent's data moved or deleted?)",
                here.display(),
                e
            ))
        })?;
        if meta.file_type().is_symlink() {
            return Err(symlink_refused(&here));
        }
        so_far = Some(next);
    }
    Ok(())
}

fn symlink_refused(path: &Path) -> SyncError {
    local_error(format!(
        "{} is a symbolic link; lowspace copies only regular files and directories, because a \
         link can point outside the torrent's data (replace it with the file it points to)",
        path.display()
    ))
}

fn walk(local_root: &Path, rel: &RelPath, out: &mut Vec<(RelPath, u64)>) -> Result<(), SyncError> {
    let path = local_root.join(rel);
    let meta = fs::symlink_metadata(&path)
        .map_err(|e| local_error(format!("{} cannot be read: {e}", path.display())))?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(symlink_refused(&path));
    }
    if kind.is_file() {
        out.push((rel.clone(), meta.len()));
        return Ok(());
    }
    if !kind.is_dir() {
        return Err(local_error(format!(
            "{} is neither a regular file nor a directory (a device, socket or pipe); \
             it cannot be copied",
            path.display()
        )));
    }
    let entries = fs::read_dir(&path)
        .map_err(|e| local_error(format!("cannot list {}: {e}", path.display())))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| local_error(format!("cannot list {}: {e}", path.display())))?;
        let name = entry.file_name();
        let child = RelPath::from_path(Path::new(&name))
            .map_err(|e| local_error(format!("in {}: {e}", path.display())))?;
        walk(local_root, &rel.join(&child), out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(label: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lowspace-source-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    #[test]
    fn lists_files_of_a_tree_and_of_a_single_file() {
        let root = tmp("tree");
        fs::create_dir_all(root.join("T/sub/empty")).unwrap();
        fs::write(root.join("T/a"), b"12345").unwrap();
        fs::write(root.join("T/sub/b c"), b"").unwrap();
        fs::write(root.join("single.iso"), b"xy").unwrap();
        let got = scan(&root, &[p("T"), p("single.iso")]).unwrap();
        let _ = fs::remove_dir_all(&root);
        assert_eq!(
            got,
            vec![(p("T/a"), 5), (p("T/sub/b c"), 0), (p("single.iso"), 2)]
        );
    }

    #[test]
    fn refuses_symlinks_inside_and_on_the_way() {
        let root = tmp("links");
        fs::create_dir_all(root.join("T")).unwrap();
        fs::write(root.join("T/a"), b"1").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("T/link")).unwrap();
        std::os::unix::fs::symlink(root.join("T"), root.join("L")).unwrap();
        let inside = scan(&root, &[p("T")]).unwrap_err();
        let on_the_way = scan(&root, &[p("L/a")]).unwrap_err();
        let missing = scan(&root, &[p("nope")]).unwrap_err();
        let _ = fs::remove_dir_all(&root);
        assert_eq!(inside.kind, FailureKind::LocalSource);
        assert!(
            inside.message.contains("T/link is a symbolic link"),
            "{}",
            inside.message
        );
        assert!(
            on_the_way.message.contains("L is a symbolic link"),
            "{}",
            on_the_way.message
        );
        assert!(
            missing.message.contains("cannot be read"),
            "{}",
            missing.message
        );
    }
}
