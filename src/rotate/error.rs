//! Why one step of the executor failed. The variant decides what happens
//! next ([`RotateStepError::stops_run`], [`RotateStepError::scope`]); the
//! text is only built at the edge (log lines, `Outcome.failures`), from
//! `Display`, and reads as the messages always did.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::journal::JournalError;
use crate::client::ClientError;
use crate::guard::DeleteError;
use crate::process::RunError;
use crate::sync::{RelPathError, Scope, SyncError};

#[derive(Debug)]
pub enum RotateStepError {
    /// The journal could not be written: the run stops at once, since
    /// going on without a record could lose track of verified data.
    Journal(JournalError),
    /// A call to the torrent client failed; `what` says which call, in
    /// words ("cannot erase from rtorrent").
    Client { what: String, source: ClientError },
    /// The copy or its check; the kind's scope says whom it is about.
    Remote(SyncError),
    /// The deletion guard refused, or deleting failed.
    Guard(DeleteError),
    /// A path of the torrent's that is not a safe relative path.
    BadPath(RelPathError),
    /// A local file could not be read, written, moved or removed; `what`
    /// names the action and the path.
    Io { what: String, source: io::Error },
    /// The torrent's data was not deleted because of `source`; `then`
    /// says when it is tried again, if it backs off.
    DataKept {
        source: Box<RotateStepError>,
        then: Option<String>,
    },
    /// Anything else about this one torrent, in words.
    Torrent(String),
}

impl RotateStepError {
    /// The journal could not be written: nothing after this may run.
    pub fn stops_run(&self) -> bool {
        match self {
            RotateStepError::Journal(_) => true,
            RotateStepError::DataKept { source, .. } => source.stops_run(),
            _ => false,
        }
    }

    /// Whom the failure is about: the torrent (it backs off, the others go
    /// on), the remote's free space, or the remote as a whole (no further
    /// syncs this run).
    pub fn scope(&self) -> Scope {
        match self {
            RotateStepError::Remote(e) => e.kind.scope(),
            RotateStepError::DataKept { source, .. } => source.scope(),
            _ => Scope::Torrent,
        }
    }
}

impl fmt::Display for RotateStepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RotateStepError::Journal(e) => write!(f, "{e}"),
            RotateStepError::Client { what, source } => write!(f, "{what}: {source}"),
            RotateStepError::Remote(e) => write!(f, "{e}"),
            RotateStepError::Guard(e) => write!(f, "{e}"),
            RotateStepError::BadPath(e) => write!(f, "{e}"),
            RotateStepError::Io { what, source } => write!(f, "{what}: {source}"),
            RotateStepError::DataKept {
                source,
                then: Some(then),
            } => write!(
                f,
                "not erased from the client, its data is kept: {source}; {then}"
            ),
            RotateStepError::DataKept { source, then: None } => {
                write!(f, "its data is kept: {source}")
            }
            RotateStepError::Torrent(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for RotateStepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RotateStepError::Journal(e) => Some(e),
            RotateStepError::Client { source, .. } => Some(source),
            RotateStepError::Io { source, .. } => Some(source),
            RotateStepError::DataKept { source, .. } => Some(source.as_ref()),
            RotateStepError::Remote(_)
            | RotateStepError::Guard(_)
            | RotateStepError::BadPath(_)
            | RotateStepError::Torrent(_) => None,
        }
    }
}

impl From<JournalError> for RotateStepError {
    fn from(e: JournalError) -> Self {
        RotateStepError::Journal(e)
    }
}

impl From<SyncError> for RotateStepError {
    fn from(e: SyncError) -> Self {
        RotateStepError::Remote(e)
    }
}

impl From<DeleteError> for RotateStepError {
    fn from(e: DeleteError) -> Self {
        RotateStepError::Guard(e)
    }
}

impl From<RelPathError> for RotateStepError {
    fn from(e: RelPathError) -> Self {
        RotateStepError::BadPath(e)
    }
}

/// Reading the world before planning failed: no plan is made this run.
#[derive(Debug)]
pub enum GatherError {
    /// The managed torrents directory could not be listed.
    ManagedDir { path: PathBuf, source: io::Error },
    /// The torrent client did not give its state.
    Client(ClientError),
    /// The free space of the download directory is not known.
    Disk(DiskSpaceError),
}

impl fmt::Display for GatherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatherError::ManagedDir { path, source } => write!(
                f,
                "cannot read the managed torrents directory {}: {source}",
                path.display()
            ),
            GatherError::Client(e) => write!(f, "{e}"),
            GatherError::Disk(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for GatherError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GatherError::ManagedDir { source, .. } => Some(source),
            GatherError::Client(e) => Some(e),
            GatherError::Disk(e) => Some(e),
        }
    }
}

impl From<ClientError> for GatherError {
    fn from(e: ClientError) -> Self {
        GatherError::Client(e)
    }
}

impl From<DiskSpaceError> for GatherError {
    fn from(e: DiskSpaceError) -> Self {
        GatherError::Disk(e)
    }
}

/// `df` on the download directory did not give its free space.
#[derive(Debug)]
pub enum DiskSpaceError {
    /// `df` could not be run (missing, or past its time limit).
    Run { dir: PathBuf, source: RunError },
    /// `df` ran and failed; what it printed.
    Failed { dir: PathBuf, stderr: String },
    /// `df`'s output could not be read.
    Parse { dir: PathBuf, message: String },
}

impl fmt::Display for DiskSpaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskSpaceError::Run { dir, source } => write!(
                f,
                "cannot measure free space of {}: {source}",
                dir.display()
            ),
            DiskSpaceError::Failed { dir, stderr } => {
                write!(f, "df {} failed: {stderr}", dir.display())
            }
            DiskSpaceError::Parse { dir, message } => write!(f, "df {}: {message}", dir.display()),
        }
    }
}

impl std::error::Error for DiskSpaceError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::FailureKind;

    #[test]
    fn only_a_journal_failure_stops_the_run() {
        let journal = RotateStepError::Journal(JournalError::Write {
            path: "/state/journal.json".into(),
            source: io::Error::other("disk full"),
        });
        assert!(journal.stops_run());
        assert_eq!(
            journal.to_string(),
            "cannot write journal /state/journal.json: disk full"
        );
        let kept = RotateStepError::DataKept {
            source: Box::new(RotateStepError::Torrent("x".into())),
            then: None,
        };
        assert!(!kept.stops_run());
        assert_eq!(kept.to_string(), "its data is kept: x");
        let remote = RotateStepError::Remote(SyncError::new(FailureKind::NotVerified, "differs"));
        assert!(!remote.stops_run());
        assert_eq!(remote.scope(), FailureKind::NotVerified.scope());
    }
}
