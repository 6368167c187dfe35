//! Copying finished torrents to big storage, and checking the copy.
//!
//! Three backends share one contract ([`Remote`]): rsync over SSH, rclone,
//! and a mounted directory. Every call copies or lists *relative paths*
//! ([`RelPath`]) between a local root and the remote root, so the same call
//! covers both ways the rotate job works:
//! - a whole torrent: local root = the download directory, paths =
//!   `["Torrent Name"]` (a directory or a single file), landing at
//!   `<remote>/Torrent Name`;
//! - file by file: paths = `["Torrent Name/disc 1/track.flac"]`, landing at
//!   `<remote>/Torrent Name/disc 1/track.flac`.
//!
//! The data-safety rule lives in the split between `push` and `verify`:
//! pushing never proves anything; only [`Remote::verify`], which lists the
//! remote and compares (path, size) pairs ([`Tally`]), says a local copy
//! may go. Listings are streamed from the tool into the tally as they are
//! read ([`ListingSink`]), so their length is not limited by memory. Each call is bounded: `SyncSettings.retries` attempts with
//! back-off ([`retry`]), each attempt bounded by `SyncSettings.timeout` and
//! a wall cap, failures classified into kinds with a message that says what
//! to do ([`error`]).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::{RemoteSettings, SyncSettings, VerifyMode};

pub mod error;
pub mod hash;
pub mod listing;
mod local;
pub mod rclone;
pub mod retry;
pub mod rsync;
pub mod source;
mod verify;

pub use crate::relpath::{RelPath, RelPathError};
pub use error::{classify_failure, FailureKind, Scope, SyncError, Tool};
pub use hash::{ContentVerification, RemoteDigests};
pub use listing::{ListingError, ListingSink};
pub use retry::{backoff_delay, RealSleeper, Sleeper};
pub use verify::{compare, Tally, Verification, WrongSize};

/// What the rotate job needs from a place with space.
pub trait Remote {
    /// Names the remote for logs and messages ("rsync to nas:/srv/torrents").
    fn describe(&self) -> String;

    /// Copies each of `paths` (files or directory trees under `local_root`)
    /// to the same relative path under the remote root. Does not delete
    /// anything anywhere and proves nothing: call [`Remote::verify`].
    fn push(&self, local_root: &Path, paths: &[RelPath]) -> Result<(), SyncError>;

    /// Streams the regular files (with sizes) the remote has at or under
    /// `path` into `sink`, by their path from the remote root. A path the
    /// remote does not have lists nothing.
    fn list_into(&self, path: &RelPath, sink: &mut dyn ListingSink) -> Result<(), SyncError>;

    /// The whole listing of `path` (see [`Remote::list_into`]).
    fn list(&self, path: &RelPath) -> Result<BTreeMap<RelPath, u64>, SyncError> {
        let mut listing = BTreeMap::new();
        self.list_into(path, &mut listing)?;
        Ok(listing)
    }

    /// Lists the remote and compares it with `expected`, keeping only the
    /// expected files' sizes.
    fn verify(&self, expected: &[(RelPath, u64)]) -> Result<Verification, SyncError> {
        let mut tally = Tally::new(expected);
        for root in listing_roots(expected) {
            self.list_into(&root, &mut tally)?;
        }
        Ok(tally.finish())
    }

    /// Writes and removes a small file at the remote root: is the remote
    /// reachable, are the tools installed, may we write there?
    fn probe(&self) -> Result<(), SyncError>;

    /// What proves a copy besides [`Remote::verify`]: with
    /// [`VerifyMode::Hash`] the caller must also pass
    /// [`Remote::verify_content`] before deleting anything.
    fn verify_mode(&self) -> VerifyMode;

    /// Compares the SHA-1 of every expected file under `local_root` with
    /// the SHA-1 the remote computes of its copy. Reads every byte on both
    /// sides.
    fn verify_content(
        &self,
        local_root: &Path,
        expected: &[(RelPath, u64)],
    ) -> Result<ContentVerification, SyncError>;
}

/// The fewest listings that cover every expected path: one per top-level
/// name (a torrent), so a file-by-file verify lists the torrent's directory
/// once rather than once per file.
pub fn listing_roots(expected: &[(RelPath, u64)]) -> Vec<RelPath> {
    let tops: BTreeSet<&str> = expected.iter().map(|(p, _)| p.first_component()).collect();
    tops.into_iter()
        .filter_map(|t| RelPath::new(t).ok())
        .collect()
}

/// The external programs a backend runs; tests point them elsewhere.
#[derive(Debug, Clone)]
pub struct Programs {
    pub rsync: OsString,
    pub rclone: OsString,
}

impl Default for Programs {
    fn default() -> Self {
        Programs {
            rsync: "rsync".into(),
            rclone: "rclone".into(),
        }
    }
}

/// Bounds shared by every backend call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Idle/no-progress timeout handed to the tools and to listings; also
    /// the wall cap of short remote commands (mkdir, probe).
    pub timeout: Duration,
}

/// Slowest average rate a transfer may have before its wall cap kills it.
/// The tools' own idle timeouts catch stalls; this only bounds a transfer
/// that trickles forever.
pub const MIN_TRANSFER_RATE: u64 = 32 * 1024;

/// The wall-clock cap of one transfer of `bytes`: twice the timeout for
/// connecting and listing, plus the time at [`MIN_TRANSFER_RATE`].
pub fn transfer_wall_cap(bytes: u64, timeout: Duration) -> Duration {
    timeout
        .saturating_mul(2)
        .saturating_add(Duration::from_secs(bytes / MIN_TRANSFER_RATE))
}

/// The wall-clock cap of one listing. Its stalls are caught by the idle
/// timeout; this only bounds a remote that trickles forever. Four times the
/// timeout leaves room for walking a tree of 100,000 files on a slow disk.
pub fn listing_wall_cap(timeout: Duration) -> Duration {
    timeout.saturating_mul(4)
}

/// One backend's single attempts; [`Syncer`] adds retries and checks.
pub(crate) trait Backend: Send + Sync {
    fn describe(&self) -> String;
    fn push_once(
        &self,
        local_root: &Path,
        paths: &[RelPath],
        files: &[(RelPath, u64)],
    ) -> Result<(), SyncError>;
    fn list_once(&self, path: &RelPath, sink: &mut dyn ListingSink) -> Result<(), SyncError>;
    /// Has the remote compute the SHA-1 of each of `files` (distinct
    /// paths from the remote root) into `digests`.
    fn hash_once(
        &self,
        files: &[(RelPath, u64)],
        digests: &mut RemoteDigests<'_>,
    ) -> Result<(), SyncError>;
    fn probe_once(&self) -> Result<(), SyncError>;
}

/// The configured remote, with retries and back-off around each call.
pub struct Syncer {
    backend: Box<dyn Backend>,
    attempts: u32,
    sleeper: Box<dyn Sleeper>,
    verify: VerifyMode,
}

impl Syncer {
    /// The remote the configuration describes.
    pub fn new(remote: &RemoteSettings, sync: &SyncSettings) -> Syncer {
        Syncer::with_programs(remote, sync, Programs::default())
    }

    /// Same, running the given programs instead of the ones on PATH.
    pub fn with_programs(
        remote: &RemoteSettings,
        sync: &SyncSettings,
        programs: Programs,
    ) -> Syncer {
        let limits = Limits {
            timeout: sync.timeout.max(Duration::from_secs(1)),
        };
        let backend: Box<dyn Backend> =
            match remote {
                RemoteSettings::Rsync {
                    host,
                    path,
                    ssh_command,
                } => Box::new(rsync::RsyncRemote::new(
                    host,
                    path,
                    ssh_command.as_deref(),
                    programs.rsync,
                    limits,
                )),
                RemoteSettings::Rclone { remote, path, env } => Box::new(
                    rclone::RcloneRemote::new(remote, path, env.clone(), programs.rclone, limits),
                ),
                RemoteSettings::Local { path } => Box::new(local::LocalRemote::new(path.clone())),
            };
        Syncer {
            backend,
            attempts: sync.retries.max(1),
            sleeper: Box::new(RealSleeper),
            verify: sync.verify,
        }
    }

    /// Replaces the pause between attempts (tests use one that returns at once).
    pub fn with_sleeper(mut self, sleeper: Box<dyn Sleeper>) -> Syncer {
        self.sleeper = sleeper;
        self
    }

    fn retrying<T>(
        &self,
        what: &str,
        attempt: impl FnMut() -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        let label = format!("{what} ({})", self.backend.describe());
        retry::with_retries(&label, self.attempts, self.sleeper.as_ref(), attempt)
    }
}

impl Remote for Syncer {
    fn describe(&self) -> String {
        self.backend.describe()
    }

    fn push(&self, local_root: &Path, paths: &[RelPath]) -> Result<(), SyncError> {
        let files = source::scan(local_root, paths)?;
        let bytes: u64 = files.iter().map(|(_, n)| n).sum();
        // The caller logs the one "copying" line a person reads.
        log::debug!(
            "push {} to {}: files {}, bytes {}",
            paths
                .iter()
                .map(RelPath::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            self.describe(),
            files.len(),
            bytes
        );
        self.retrying("push", || self.backend.push_once(local_root, paths, &files))
    }

    fn list_into(&self, path: &RelPath, sink: &mut dyn ListingSink) -> Result<(), SyncError> {
        self.retrying("list", || {
            sink.restart(path);
            self.backend.list_once(path, sink)
        })
    }

    fn probe(&self) -> Result<(), SyncError> {
        self.retrying("probe", || self.backend.probe_once())
    }

    fn verify_mode(&self) -> VerifyMode {
        self.verify
    }

    fn verify_content(
        &self,
        local_root: &Path,
        expected: &[(RelPath, u64)],
    ) -> Result<ContentVerification, SyncError> {
        let unique: BTreeMap<&RelPath, u64> = expected.iter().map(|(p, n)| (p, *n)).collect();
        let files: Vec<(RelPath, u64)> = unique.into_iter().map(|(p, n)| (p.clone(), n)).collect();
        let started = Instant::now();
        // Both sides read every byte; they read different disks, so at
        // the same time.
        let (local, remote) = std::thread::scope(|scope| {
            let local = scope.spawn(|| hash_local(local_root, &files));
            let mut digests = RemoteDigests::new(&files);
            let remote = self.retrying("hash", || {
                digests.clear();
                self.backend.hash_once(&files, &mut digests)
            });
            let local = local.join().unwrap_or_else(|_| {
                Err(SyncError::new(
                    FailureKind::Other,
                    "hashing the local files failed unexpectedly",
                ))
            });
            (local, remote.map(|()| digests))
        });
        let remote = remote?;
        let local = local?;
        let mut verdict = hash::compare_digests(&files, &local, &remote);
        verdict.elapsed = started.elapsed();
        Ok(verdict)
    }
}

/// The SHA-1 of each of `files` under `local_root`.
fn hash_local<'a>(
    local_root: &Path,
    files: &'a [(RelPath, u64)],
) -> Result<BTreeMap<&'a str, hash::Digest>, SyncError> {
    let mut out = BTreeMap::new();
    for (rel, _) in files {
        let path = local_root.join(rel);
        let digest = hash::hash_file(&path).map_err(|e| {
            SyncError::new(
                FailureKind::LocalSource,
                format!("{} cannot be read to hash it: {e}", path.display()),
            )
        })?;
        out.insert(rel.as_str(), digest);
    }
    Ok(out)
}

/// A probe file name no torrent uses, unique per process.
pub(crate) fn probe_name() -> String {
    format!(".lowspace-probe-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    #[test]
    fn listing_roots_are_the_top_level_names() {
        let expected = [
            (p("T/a"), 1),
            (p("T/sub/b"), 2),
            (p("single.iso"), 3),
            (p("U/x"), 4),
        ];
        assert_eq!(
            listing_roots(&expected),
            vec![p("T"), p("U"), p("single.iso")]
        );
        assert!(listing_roots(&[]).is_empty());
    }

    #[test]
    fn wall_cap_grows_with_size() {
        let t = Duration::from_secs(10);
        assert_eq!(transfer_wall_cap(0, t), Duration::from_secs(20));
        assert_eq!(
            transfer_wall_cap(MIN_TRANSFER_RATE * 100, t),
            Duration::from_secs(120)
        );
        assert!(transfer_wall_cap(u64::MAX, Duration::MAX) > Duration::from_secs(1));
    }
}
