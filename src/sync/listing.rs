//! Where a remote listing goes as it is read: entry by entry into a
//! [`ListingSink`], never held whole. Verification's sink ([`super::Tally`])
//! keeps only the sizes of the paths it expects, so a torrent of 100,000
//! files verifies in memory proportional to the torrent, not to the text of
//! its listing.

use std::collections::BTreeMap;
use std::fmt;
use std::io;

use super::RelPath;

/// Receives the regular files of a listing, by path from the remote root.
pub trait ListingSink {
    fn file(&mut self, path: RelPath, size: u64);
    /// Forgets what an earlier, failed attempt at listing `root` reported,
    /// so a retry starts clean.
    fn restart(&mut self, root: &RelPath);
}

/// Every file, for callers that want the whole listing (tests, tools).
impl ListingSink for BTreeMap<RelPath, u64> {
    fn file(&mut self, path: RelPath, size: u64) {
        self.insert(path, size);
    }

    fn restart(&mut self, root: &RelPath) {
        self.retain(|path, _| !path.starts_with(root));
    }
}

/// Why a listing could not be read. One entry with a name lowspace cannot
/// use is not an error (it is skipped and logged: it cannot stand for an
/// expected file anyway); output that is not a listing at all is.
#[derive(Debug)]
pub enum ListingError {
    /// Reading the program's output failed (it was killed, say).
    Read(io::Error),
    /// A line that is not an entry of the expected shape.
    Line { line: u64, why: String },
    /// A line longer than any entry can be.
    LineTooLong { line: u64, limit: usize },
    /// JSON that is not an rclone lsjson array.
    Json(String),
}

impl fmt::Display for ListingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListingError::Read(e) => write!(f, "cannot read the listing: {e}"),
            ListingError::Line { line, why } => write!(f, "line {line}: {why}"),
            ListingError::LineTooLong { line, limit } => {
                write!(f, "line {line} is longer than {limit} bytes")
            }
            ListingError::Json(why) => write!(f, "not rclone lsjson output: {why}"),
        }
    }
}

impl std::error::Error for ListingError {}

/// Logs a listed name lowspace will not use; it cannot be an expected file.
pub(crate) fn skip_unusable(name: &str, why: &dyn fmt::Display) {
    log::warn!("ignoring remote entry {name:?}: {why}");
}
