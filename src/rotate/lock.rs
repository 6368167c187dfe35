//! One rotation at a time: an exclusive flock(2) on a lock file next to the
//! journal. cron users need no lckdo; a run that finds the lock taken says
//! so and leaves quietly, and the kernel drops the lock when a run dies, so
//! a crash never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Held for the whole run; released when dropped or when the process ends.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the lock, or returns None when another run holds it.
pub fn try_lock(path: &Path) -> io::Result<Option<RunLock>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(RunLock {
            _file: file,
            path: path.to_path_buf(),
        })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("lowspace-lock-{}", std::process::id()));
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
