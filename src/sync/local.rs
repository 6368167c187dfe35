//! A mounted directory (USB disk, NFS share) as the remote.
//!
//! Each file is written to `.NAME.lowspace-tmp` beside its destination,
//! fsynced, renamed over the final name and the directory fsynced, so the
//! final name only ever holds a complete copy, even across a power cut;
//! directories it creates are fsynced into their parents too, so a
//! verified file cannot vanish with a directory entry the cut dropped.
//! The base directory must already exist: lowspace never creates it,
//! because an unmounted disk leaves an empty mount point behind, and
//! filling that would put the "copy" back on the small disk.
//!
//! Copies run in this process and are not time-bounded: a hung NFS server
//! blocks the kernel call itself (mount NFS with `soft,timeo=` to bound it).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::error::{explain, FailureKind, SyncError};
use super::hash::{hash_file, RemoteDigests};
use super::{probe_name, Backend, ListingSink, RelPath};
use crate::fsutil::{create_dir_all_durable, sync_dir};

pub(crate) struct LocalRemote {
    base: PathBuf,
}

impl LocalRemote {
    pub fn new(base: PathBuf) -> LocalRemote {
        LocalRemote { base }
    }

    fn check_base(&self) -> Result<(), SyncError> {
        match fs::metadata(&self.base) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(SyncError::new(
                FailureKind::Misconfigured,
                format!(
                    "{} is not a directory: point the local remote at the directory of the mounted disk",
                    self.base.display()
                ),
            )),
            Err(e) => Err(SyncError::new(
                FailureKind::Misconfigured,
                format!(
                    "{} cannot be used ({e}): mount the disk or create the directory \
                     (lowspace does not create it, so an unmounted disk is never mistaken for it)",
                    self.base.display()
                ),
            )),
        }
    }

    fn io_failure(&self, doing: &str, path: &Path, error: &io::Error) -> SyncError {
        let kind = io_kind(error);
        let detail = format!("{doing} {}: {error}", path.display());
        SyncError::new(kind, explain(kind, &self.describe(), &detail))
    }

    fn copy_one(&self, local_root: &Path, rel: &RelPath, size: u64) -> Result<(), SyncError> {
        let source = local_root.join(rel);
        let dest = self.base.join(rel);
        let dir = dest.parent().unwrap_or(&self.base).to_path_buf();
        let src_meta = fs::symlink_metadata(&source).map_err(|e| {
            SyncError::new(
                FailureKind::LocalSource,
                format!("{} cannot be read: {e}", source.display()),
            )
        })?;
        if let Ok(existing) = fs::symlink_metadata(&dest) {
            let same_mtime = existing.modified().ok() == src_meta.modified().ok();
            if existing.is_file() && existing.len() == size && same_mtime {
                log::debug!(
                    "{} is already there with the same size and time",
                    dest.display()
                );
                return Ok(());
            }
        }
        create_dir_all_durable(&dir).map_err(|e| self.io_failure("creating", &dir, &e))?;
        let tmp = dir.join(temporary_name(rel.file_name()));
        let result = (|| -> Result<(), SyncError> {
            let mut input = File::open(&source).map_err(|e| {
                SyncError::new(
                    FailureKind::LocalSource,
                    format!("{} cannot be read: {e}", source.display()),
                )
            })?;
            let mut output = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)
                .map_err(|e| self.io_failure("creating", &tmp, &e))?;
            io::copy(&mut input, &mut output).map_err(|e| self.io_failure("writing", &tmp, &e))?;
            if let Ok(mtime) = src_meta.modified() {
                // Lets the next push skip a file already copied.
                let _ = output.set_modified(mtime);
            }
            output
                .sync_all()
                .map_err(|e| self.io_failure("writing", &tmp, &e))?;
            drop(output);
            fs::rename(&tmp, &dest).map_err(|e| self.io_failure("renaming", &tmp, &e))?;
            sync_dir(&dir).map_err(|e| self.io_failure("syncing", &dir, &e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

impl Backend for LocalRemote {
    fn describe(&self) -> String {
        format!("the directory {}", self.base.display())
    }

    fn push_once(
        &self,
        local_root: &Path,
        _paths: &[RelPath],
        files: &[(RelPath, u64)],
    ) -> Result<(), SyncError> {
        self.check_base()?;
        for (rel, size) in files {
            self.copy_one(local_root, rel, *size)?;
        }
        Ok(())
    }

    fn list_once(&self, path: &RelPath, sink: &mut dyn ListingSink) -> Result<(), SyncError> {
        self.check_base()?;
        self.walk(path, sink)
    }

    fn hash_once(
        &self,
        files: &[(RelPath, u64)],
        digests: &mut RemoteDigests<'_>,
    ) -> Result<(), SyncError> {
        self.check_base()?;
        for (number, (rel, _)) in (1u64..).zip(files) {
            let path = self.base.join(rel);
            match hash_file(&path) {
                Ok(digest) => digests
                    .record(number, rel.as_str(), digest)
                    .map_err(|e| SyncError::new(FailureKind::Other, e.to_string()))?,
                // Gone since the listing: the verdict names it.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.io_failure("hashing", &path, &e)),
            }
        }
        Ok(())
    }

    fn probe_once(&self) -> Result<(), SyncError> {
        self.check_base()?;
        let probe = self.base.join(probe_name());
        let result = fs::write(&probe, b"lowspace probe\n")
            .and_then(|()| File::open(&probe)?.sync_all())
            .map_err(|e| self.io_failure("writing", &probe, &e));
        let removed = fs::remove_file(&probe);
        result?;
        removed.map_err(|e| self.io_failure("removing", &probe, &e))
    }
}

impl LocalRemote {
    fn walk(&self, rel: &RelPath, out: &mut dyn ListingSink) -> Result<(), SyncError> {
        let path = self.base.join(rel);
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.io_failure("reading", &path, &e)),
        };
        if meta.is_file() {
            out.file(rel.clone(), meta.len());
        } else if meta.is_dir() {
            let entries = fs::read_dir(&path).map_err(|e| self.io_failure("listing", &path, &e))?;
            for entry in entries {
                let entry = entry.map_err(|e| self.io_failure("listing", &path, &e))?;
                // Names lowspace cannot have written are not expected anyway.
                if let Ok(child) = RelPath::from_path(Path::new(&entry.file_name())) {
                    self.walk(&rel.join(&child), out)?;
                }
            }
        }
        Ok(())
    }
}

/// `.NAME.lowspace-tmp`: hidden, and never the name of a finished file.
pub fn temporary_name(file_name: &str) -> String {
    format!(".{file_name}.lowspace-tmp")
}

/// The failure kind of a local I/O error.
pub fn io_kind(error: &io::Error) -> FailureKind {
    // ENOSPC 28, EDQUOT 122, EACCES 13, EPERM 1, EROFS 30; EFBIG 27,
    // EINVAL 22, ENAMETOOLONG 36, EILSEQ 84 (Linux numbers).
    match (error.kind(), error.raw_os_error()) {
        (io::ErrorKind::StorageFull, _) | (_, Some(28 | 122)) => FailureKind::RemoteFull,
        (io::ErrorKind::PermissionDenied, _) | (_, Some(1 | 13 | 30)) => {
            FailureKind::PermissionDenied
        }
        (_, Some(22 | 27 | 36 | 84)) => FailureKind::FileRefused,
        _ => FailureKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_hidden() {
        assert_eq!(temporary_name("a b.mkv"), ".a b.mkv.lowspace-tmp");
    }

    #[test]
    fn io_errors_map_to_kinds() {
        for (code, kind) in [
            (28, FailureKind::RemoteFull),
            (122, FailureKind::RemoteFull),
            (13, FailureKind::PermissionDenied),
            (30, FailureKind::PermissionDenied),
            (27, FailureKind::FileRefused),
            (22, FailureKind::FileRefused),
            (5, FailureKind::Other),
        ] {
            assert_eq!(io_kind(&io::Error::from_raw_os_error(code)), kind, "{code}");
        }
    }
}
