//! Deleting a finished torrent's local data, and nothing else: the one
//! guarded way to delete or truncate, used by rotate, file-by-file mode and
//! follow.
//!
//! Only the torrent's own files are removed, one by one, from the list that
//! was verified on the remote; then the directories they leave empty. The
//! data must lie inside rtorrent's download directory, and no directory on
//! the way may be a symlink, so a hostile or mistaken link cannot lead the
//! deletion outside. A file the user added to the torrent's directory is
//! left, and so is the directory holding it. File paths arrive as
//! [`RelPath`]s, so a `..`, absolute or NUL-bearing name was refused where
//! it was read and cannot reach here.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::relpath::RelPath;

/// The directories a torrent's data may be deleted from: rtorrent's
/// download directory, and where rtorrent moves finished downloads when
/// the user said so (`[rotate] completed_directory`).
#[derive(Debug, Clone, PartialEq)]
pub struct DataRoots {
    pub download_dir: PathBuf,
    pub completed_dir: Option<PathBuf>,
}

impl DataRoots {
    fn all(&self) -> impl Iterator<Item = &Path> {
        std::iter::once(self.download_dir.as_path()).chain(self.completed_dir.as_deref())
    }
}

/// Why some data was not deleted.
#[derive(Debug)]
pub enum DeleteError {
    /// The data path is not under the download directory (nor the
    /// configured completed directory).
    OutsideDownloadDirectory {
        path: PathBuf,
        download_dir: PathBuf,
        completed_dir: Option<PathBuf>,
    },
    /// rtorrent's data path for the torrent is empty, relative or has no
    /// parent directory, so where its files are is not known.
    NoDataPath {
        path: PathBuf,
    },
    /// A directory on the way is a symlink, or a listed file is not a
    /// regular file.
    Unsafe {
        path: PathBuf,
        why: String,
    },
    Io {
        path: PathBuf,
        error: io::Error,
    },
}

impl fmt::Display for DeleteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteError::OutsideDownloadDirectory {
                path,
                download_dir,
                completed_dir: None,
            } => write!(
                f,
                "refusing to delete {}: it is not inside rtorrent's download directory {}; \
                 if rtorrent moves finished downloads out of it, set [rotate] \
                 completed_directory to where it moves them (here {})",
                path.display(),
                download_dir.display(),
                path.parent().unwrap_or(path).display()
            ),
            DeleteError::OutsideDownloadDirectory {
                path,
                download_dir,
                completed_dir: Some(completed),
            } => write!(
                f,
                "refusing to delete {}: it is neither inside rtorrent's download directory {} \
                 nor inside [rotate] completed_directory {}",
                path.display(),
                download_dir.display(),
                completed.display()
            ),
            DeleteError::NoDataPath { path } => write!(
                f,
                "refusing to delete: rtorrent's data path \"{}\" is not an absolute path \
                 with a parent directory",
                path.display()
            ),
            DeleteError::Unsafe { path, why } => {
                write!(f, "refusing to delete {}: {why}", path.display())
            }
            DeleteError::Io { path, error } => {
                write!(f, "cannot delete {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for DeleteError {}

/// What a deletion did.
#[derive(Debug, Default, PartialEq)]
pub struct Deleted {
    pub files: usize,
    pub bytes: u64,
    /// Directories left because something else is in them.
    pub kept_dirs: Vec<PathBuf>,
}

/// What [`check_deletable`] found: where the files are, and the real
/// directories on the way to them.
#[derive(Debug)]
pub struct Deletable {
    /// Each file that exists, with the directories on the way.
    files: Vec<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

/// Whether the data of a torrent whose data path is `base_path` may be
/// deleted, touching nothing: the path is absolute with a parent, that
/// parent lies inside one of `roots`, no
/// directory on the way is a symlink, and no listed file is a directory.
/// [`delete_torrent_files`] runs exactly this check first, so a torrent
/// that passes it before being erased from rtorrent cannot be refused
/// afterwards for a reason of the guard's. Files already gone are fine.
pub fn check_deletable(
    roots: &DataRoots,
    base_path: &Path,
    files: &[RelPath],
) -> Result<Deletable, DeleteError> {
    let root = match base_path.parent() {
        Some(p) if base_path.is_absolute() && !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => {
            return Err(DeleteError::NoDataPath {
                path: base_path.to_path_buf(),
            })
        }
    };
    if !roots.all().any(|dir| is_inside(&root, dir)) {
        return Err(DeleteError::OutsideDownloadDirectory {
            path: base_path.to_path_buf(),
            download_dir: roots.download_dir.clone(),
            completed_dir: roots.completed_dir.clone(),
        });
    }
    let mut found = Vec::new();
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for rel in files {
        let walked = walk_to(&root, rel)?;
        dirs.extend(walked.dirs);
        if !walked.reachable {
            continue;
        }
        match std::fs::symlink_metadata(&walked.path) {
            Ok(meta) if meta.is_dir() => {
                return Err(DeleteError::Unsafe {
                    path: walked.path,
                    why: "the torrent lists it as a file but it is a directory".into(),
                })
            }
            Ok(_) => found.push(walked.path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(DeleteError::Io {
                    path: walked.path,
                    error,
                })
            }
        }
    }
    Ok(Deletable { files: found, dirs })
}

/// Deletes `files` (paths relative to the parent of `base_path`, the
/// torrent's data path) and the directories they leave empty, after
/// [`check_deletable`] passed. Files already gone are fine: a run that
/// died half-way through deleting continues here.
pub fn delete_torrent_files(
    roots: &DataRoots,
    base_path: &Path,
    files: &[RelPath],
) -> Result<Deleted, DeleteError> {
    let checked = check_deletable(roots, base_path, files)?;
    let mut done = Deleted::default();
    for path in checked.files {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) => {
                std::fs::remove_file(&path).map_err(|error| DeleteError::Io {
                    path: path.clone(),
                    error,
                })?;
                done.files += 1;
                if !meta.file_type().is_symlink() {
                    done.bytes += meta.len();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(DeleteError::Io { path, error }),
        }
    }
    let dirs = checked.dirs;
    // Deepest first, so parents empty out after their children.
    let mut dirs: Vec<PathBuf> = dirs.into_iter().collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for dir in dirs {
        match std::fs::remove_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) => done.kept_dirs.push(dir),
        }
    }
    Ok(done)
}

/// Empties one file of a torrent in file-by-file mode (its copy on the
/// remote is verified), keeping it as a zero-length file: rtorrent still
/// has the file open and in its list, and an empty file with its chunks
/// marked done is not fetched again. Same rules as deletion: inside the
/// download directory, no symlink on the way, a missing file is fine.
/// Returns the bytes the file took on disk.
pub fn truncate_torrent_file(
    download_dir: &Path,
    root: &Path,
    rel: &RelPath,
) -> Result<u64, DeleteError> {
    ensure_inside(download_dir, root)?;
    let walked = walk_to(root, rel)?;
    if !walked.reachable {
        return Ok(0);
    }
    let path = walked.path;
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(DeleteError::Io { path, error }),
    };
    if !meta.file_type().is_file() {
        return Err(DeleteError::Unsafe {
            path,
            why: "it is not a regular file".into(),
        });
    }
    let used = std::os::unix::fs::MetadataExt::blocks(&meta) * 512;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(0))
        .map_err(|error| DeleteError::Io {
            path: path.clone(),
            error,
        })?;
    Ok(used)
}

/// `root` must lie inside the download directory.
fn ensure_inside(download_dir: &Path, root: &Path) -> Result<(), DeleteError> {
    if is_inside(root, download_dir) {
        Ok(())
    } else {
        Err(DeleteError::OutsideDownloadDirectory {
            path: root.to_path_buf(),
            download_dir: download_dir.to_path_buf(),
            completed_dir: None,
        })
    }
}

/// Where a torrent's file is, and the real directories on the way to it.
struct Walked {
    path: PathBuf,
    /// The directories between root and the file that exist.
    dirs: Vec<PathBuf>,
    /// False when a directory on the way is gone (so is the file).
    reachable: bool,
}

/// Joins `rel` under `root` and checks every directory on the way is a
/// real directory, not a symlink that could lead outside.
fn walk_to(root: &Path, rel: &RelPath) -> Result<Walked, DeleteError> {
    let path = root.join(rel);
    let mut dirs = Vec::new();
    let mut dir = root.to_path_buf();
    let parents = rel.components().count().saturating_sub(1);
    for component in rel.components().take(parents) {
        dir.push(component);
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(DeleteError::Unsafe {
                    path: dir,
                    why: "it is a symlink; links are not followed".into(),
                })
            }
            Ok(_) => dirs.push(dir.clone()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Walked {
                    path,
                    dirs,
                    reachable: false,
                })
            }
            Err(error) => return Err(DeleteError::Io { path: dir, error }),
        }
    }
    Ok(Walked {
        path,
        dirs,
        reachable: true,
    })
}

/// Lexical containment after resolving both paths' real directories (the
/// download directory itself may legitimately be a symlink, e.g. to a USB
/// disk; what lies below it may not).
fn is_inside(path: &Path, dir: &Path) -> bool {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    path.starts_with(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tmp(label: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lowspace-guard-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn roots(dl: &Path) -> DataRoots {
        DataRoots {
            download_dir: dl.to_path_buf(),
            completed_dir: None,
        }
    }

    fn v(path: &str) -> RelPath {
        RelPath::new(path).unwrap()
    }

    #[test]
    fn truncation_empties_the_file_and_keeps_it() {
        let dl = tmp("truncate");
        fs::create_dir_all(dl.join("T/sub")).unwrap();
        fs::write(dl.join("T/sub/b.bin"), vec![7u8; 20_000]).unwrap();
        let freed = truncate_torrent_file(&dl, &dl, &v("T/sub/b.bin")).unwrap();
        assert!(freed >= 20_000, "{freed}");
        assert_eq!(fs::metadata(dl.join("T/sub/b.bin")).unwrap().len(), 0);
        assert_eq!(
            truncate_torrent_file(&dl, &dl, &v("T/gone.bin")).unwrap(),
            0
        );
        let outside = tmp("truncate-outside");
        fs::write(outside.join("x"), b"keep").unwrap();
        std::os::unix::fs::symlink(&outside, dl.join("T/link")).unwrap();
        assert!(truncate_torrent_file(&dl, &dl, &v("T/link/x")).is_err());
        assert!(truncate_torrent_file(&dl, &outside, &v("x")).is_err());
        assert_eq!(fs::read(outside.join("x")).unwrap(), b"keep");
        fs::remove_dir_all(&dl).unwrap();
        fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn deletes_only_the_torrents_files_and_emptied_dirs() {
        let dl = tmp("own");
        fs::create_dir_all(dl.join("T/sub")).unwrap();
        fs::write(dl.join("T/a.bin"), b"aaaa").unwrap();
        fs::write(dl.join("T/sub/b.bin"), b"bb").unwrap();
        fs::write(dl.join("neighbour.iso"), b"keep").unwrap();
        let done = delete_torrent_files(
            &roots(&dl),
            &dl.join("T"),
            &[v("T/a.bin"), v("T/sub/b.bin")],
        )
        .unwrap();
        assert_eq!((done.files, done.bytes), (2, 6));
        assert!(!dl.join("T").exists());
        assert_eq!(fs::read(dl.join("neighbour.iso")).unwrap(), b"keep");
        // Again: everything already gone is not an error (crash recovery).
        assert_eq!(
            delete_torrent_files(&roots(&dl), &dl.join("T"), &[v("T/a.bin")])
                .unwrap()
                .files,
            0
        );
        fs::remove_dir_all(&dl).unwrap();
    }

    #[test]
    fn a_users_extra_file_keeps_its_directory() {
        let dl = tmp("extra");
        fs::create_dir_all(dl.join("T")).unwrap();
        fs::write(dl.join("T/a.bin"), b"a").unwrap();
        fs::write(dl.join("T/notes.txt"), b"mine").unwrap();
        let done = delete_torrent_files(&roots(&dl), &dl.join("T"), &[v("T/a.bin")]).unwrap();
        assert_eq!(done.kept_dirs, vec![dl.join("T")]);
        assert!(dl.join("T/notes.txt").exists());
        fs::remove_dir_all(&dl).unwrap();
    }

    #[test]
    fn symlinked_directories_are_not_followed_out() {
        let dl = tmp("link");
        let outside = tmp("link-outside");
        fs::write(outside.join("precious"), b"x").unwrap();
        std::os::unix::fs::symlink(&outside, dl.join("T")).unwrap();
        let err = delete_torrent_files(&roots(&dl), &dl.join("T"), &[v("T/precious")]).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(outside.join("precious").exists());
        fs::remove_dir_all(&dl).unwrap();
        fs::remove_dir_all(&outside).unwrap();
    }

    /// The guard takes only [`RelPath`]s: each unsafe shape is refused
    /// where a path becomes one, so it cannot be handed to a deletion.
    #[test]
    fn hostile_names_cannot_become_paths_to_delete() {
        for (parts, why) in [
            (vec!["..", "x"], "'..'"),
            (vec!["T", "..", "..", "etc"], "'..'"),
            (vec!["/etc", "passwd"], "'/'"),
            (vec!["T", "a\0b"], "NUL"),
            (vec!["T", ""], "empty"),
            (vec!["T", "a/b"], "'/'"),
        ] {
            let err = RelPath::from_components(&parts).unwrap_err();
            assert!(err.to_string().contains(why), "{parts:?}: {err}");
        }
        for (text, why) in [
            ("../x", "'..'"),
            ("/etc/passwd", "absolute"),
            ("T/a\0b", "NUL"),
        ] {
            let err = RelPath::new(text).unwrap_err();
            assert!(err.to_string().contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_symlinked_parent_is_refused_and_nothing_behind_it_touched() {
        let dl = tmp("parent-link");
        let outside = tmp("parent-link-outside");
        fs::create_dir_all(dl.join("T")).unwrap();
        fs::write(outside.join("precious"), b"keep").unwrap();
        fs::write(dl.join("T/a.bin"), b"a").unwrap();
        std::os::unix::fs::symlink(&outside, dl.join("T/sub")).unwrap();
        let files = [v("T/a.bin"), v("T/sub/precious")];
        let err = check_deletable(&roots(&dl), &dl.join("T"), &files).unwrap_err();
        assert!(
            matches!(&err, DeleteError::Unsafe { path, .. } if path == &dl.join("T/sub")),
            "{err}"
        );
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(delete_torrent_files(&roots(&dl), &dl.join("T"), &files).is_err());
        assert!(truncate_torrent_file(&dl, &dl, &files[1]).is_err());
        // Refused as a whole: not even the torrent's own file went.
        assert_eq!(fs::read(dl.join("T/a.bin")).unwrap(), b"a");
        assert_eq!(fs::read(outside.join("precious")).unwrap(), b"keep");
        fs::remove_dir_all(&dl).unwrap();
        fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn data_outside_the_roots_is_refused() {
        let dl = tmp("outside");
        let other = tmp("outside-other");
        fs::write(other.join("x"), b"keep").unwrap();
        let err = delete_torrent_files(&roots(&dl), &other.join("x"), &[v("x")]).unwrap_err();
        assert!(
            matches!(err, DeleteError::OutsideDownloadDirectory { .. }),
            "{err}"
        );
        let err = truncate_torrent_file(&dl, &other, &v("x")).unwrap_err();
        assert!(
            matches!(err, DeleteError::OutsideDownloadDirectory { .. }),
            "{err}"
        );
        assert_eq!(fs::read(other.join("x")).unwrap(), b"keep");
        fs::remove_dir_all(&dl).unwrap();
        fs::remove_dir_all(&other).unwrap();
    }

    #[test]
    fn a_listed_file_that_is_a_directory_is_refused() {
        let dl = tmp("is-dir");
        fs::create_dir_all(dl.join("T/a.bin")).unwrap();
        fs::write(dl.join("T/a.bin/inner"), b"keep").unwrap();
        let err = delete_torrent_files(&roots(&dl), &dl.join("T"), &[v("T/a.bin")]).unwrap_err();
        assert!(err.to_string().contains("it is a directory"), "{err}");
        let err = truncate_torrent_file(&dl, &dl, &v("T/a.bin")).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert_eq!(fs::read(dl.join("T/a.bin/inner")).unwrap(), b"keep");
        fs::remove_dir_all(&dl).unwrap();
    }

    #[test]
    fn the_check_touches_nothing_and_agrees_with_the_deletion() {
        let dl = tmp("check");
        let done_dir = tmp("check-completed");
        let elsewhere = tmp("check-elsewhere");
        for dir in [&dl, &done_dir, &elsewhere] {
            fs::create_dir_all(dir.join("T/sub")).unwrap();
            fs::write(dir.join("T/a.bin"), b"aaaa").unwrap();
            fs::write(dir.join("T/sub/b.bin"), b"bb").unwrap();
        }
        let files = [v("T/a.bin"), v("T/sub/b.bin")];
        let with_completed = DataRoots {
            download_dir: dl.clone(),
            completed_dir: Some(done_dir.clone()),
        };
        // (roots, base path, passes)
        let cases: Vec<(DataRoots, PathBuf, bool)> = vec![
            (roots(&dl), dl.join("T"), true),
            (roots(&dl), done_dir.join("T"), false),
            (with_completed.clone(), done_dir.join("T"), true),
            (with_completed.clone(), elsewhere.join("T"), false),
            (roots(&dl), PathBuf::from("T"), false),
            (roots(&dl), PathBuf::from(""), false),
            (roots(&dl), PathBuf::from("/"), false),
        ];
        for (r, base, passes) in &cases {
            let checked = check_deletable(r, base, &files);
            assert_eq!(checked.is_ok(), *passes, "{base:?}: {checked:?}");
            // Nothing was touched by the check.
            for dir in [&dl, &done_dir, &elsewhere] {
                assert_eq!(fs::read(dir.join("T/a.bin")).unwrap(), b"aaaa");
            }
            // The deletion refuses exactly what the check refuses.
            if !passes {
                assert!(delete_torrent_files(r, base, &files).is_err(), "{base:?}");
            }
        }
        let err = check_deletable(&roots(&dl), &done_dir.join("T"), &files).unwrap_err();
        assert!(
            err.to_string().contains("[rotate] completed_directory"),
            "{err}"
        );
        let err = check_deletable(&roots(&dl), Path::new("T"), &files).unwrap_err();
        assert!(matches!(err, DeleteError::NoDataPath { .. }), "{err}");
        let done = delete_torrent_files(&with_completed, &done_dir.join("T"), &files).unwrap();
        assert_eq!((done.files, done.bytes), (2, 6));
        assert!(!done_dir.join("T").exists());
        for dir in [&dl, &elsewhere] {
            assert_eq!(fs::read(dir.join("T/sub/b.bin")).unwrap(), b"bb");
        }
        for dir in [dl, done_dir, elsewhere] {
            fs::remove_dir_all(dir).unwrap();
        }
    }
}
