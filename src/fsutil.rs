//! File-system helpers shared by every job: state files are replaced
//! atomically (write a temporary, fsync it, rename over, fsync the directory)
//! so a crash or power loss leaves either the old or the new file, never a
//! torn one; and one run at a time of a job is ensured with an exclusive
//! flock(2) ([`try_lock`]). cron users need no lckdo: a run that finds the
//! lock taken says so and leaves, and the kernel drops the lock when a run
//! dies, so a crash never leaves a stale lock behind.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replaces `path` with `contents` atomically and durably.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |file| file.write_all(contents))
}

/// As [`write_atomic`], the contents written by `write` (streaming: a
/// large file need not be built in memory first).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = parent_dir(path);
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no file name", path.display()),
        )
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        write(&mut file)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Makes a rename, an unlink or a new entry in `dir` durable: until the
/// directory itself is fsynced, a power cut may bring back a removed name
/// or lose a new one, whatever was fsynced inside the files.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The directory holding `path` (`.` for a bare name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Removes a file and makes the removal durable.
pub fn remove_file_durable(path: &Path) -> io::Result<()> {
    fs::remove_file(path)?;
    sync_dir(&parent_dir(path))
}

/// Creates `dir` and its missing parents, each new directory made durable
/// in its parent, so a file later fsynced inside them cannot be lost with
/// a directory entry a power cut dropped.
pub fn create_dir_all_durable(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut current = dir;
    loop {
        match fs::metadata(current) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a directory", current.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(current);
                match current.parent() {
                    Some(p) if !p.as_os_str().is_empty() => current = p,
                    _ => break,
                }
            }
            Err(e) => return Err(e),
        }
    }
    for new in missing.into_iter().rev() {
        match fs::create_dir(new) {
            Ok(()) => {}
            // Another process made it meanwhile: still to be made durable.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && new.is_dir() => {}
            Err(e) => return Err(e),
        }
        sync_dir(&parent_dir(new))?;
    }
    Ok(())
}

/// Held for the whole run; released when dropped or when the process ends.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Takes the lock at `path` (created if missing), or returns None when
/// another run holds it.
pub fn try_lock(path: &Path) -> io::Result<Option<RunLock>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(RunLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("lowspace-fsutil-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn durable_directories_and_removals() {
        let dir = std::env::temp_dir().join(format!("lowspace-fsutil-d-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let deep = dir.join("a/b/c");
        create_dir_all_durable(&deep).unwrap();
        assert!(deep.is_dir());
        create_dir_all_durable(&deep).unwrap();
        fs::write(dir.join("a/file"), b"x").unwrap();
        assert!(create_dir_all_durable(&dir.join("a/file/d")).is_err());
        let err = create_dir_all_durable(&dir.join("a/file")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
        remove_file_durable(&dir.join("a/file")).unwrap();
        assert!(!dir.join("a/file").exists());
        assert_eq!(
            remove_file_durable(&dir.join("a/file")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_directory_is_an_error_not_a_panic() {
        let err = write_atomic(Path::new("/nonexistent-lowspace-dir/x"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn second_holder_is_refused_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("lowspace-fsutil-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rotate.lock");
        let first = try_lock(&path).unwrap().expect("first run gets the lock");
        assert!(
            try_lock(&path).unwrap().is_none(),
            "a second run must be refused"
        );
        drop(first);
        assert!(try_lock(&path).unwrap().is_some(), "the lock is free again");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
