//! A path relative to a sync root, checked once so no backend can be made to
//! write outside its root: relative, `/`-separated, no `.` or `..`, no empty
//! component (so no leading or trailing `/`), no NUL, valid UTF-8 (torrent
//! names come from rtorrent as UTF-8 text, and rclone speaks UTF-8).

use std::fmt;
use std::path::{Path, PathBuf};

/// A checked relative path such as `Some Torrent/disc 1/track.flac`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(String);

/// Why a string is not a usable relative path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelPathError {
    pub path: String,
    pub reason: &'static str,
}

impl fmt::Display for RelPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refusing path {:?}: {} (only relative paths inside the sync root are copied)",
            self.path, self.reason
        )
    }
}

impl std::error::Error for RelPathError {}

impl RelPath {
    /// Checks `text` and wraps it.
    pub fn new(text: &str) -> Result<RelPath, RelPathError> {
        let fail = |reason| {
            Err(RelPathError {
                path: text.to_string(),
                reason,
            })
        };
        if text.is_empty() {
            return fail("it is empty");
        }
        if text.contains('\0') {
            return fail("it contains a NUL byte");
        }
        if text.starts_with('/') {
            return fail("it is absolute");
        }
        for component in text.split('/') {
            match component {
                "" => return fail("it has an empty component (a doubled or trailing '/')"),
                "." => return fail("it has a '.' component"),
                ".." => return fail("it has a '..' component"),
                _ => {}
            }
        }
        Ok(RelPath(text.to_string()))
    }

    /// Checks a file-system path (which must be UTF-8).
    pub fn from_path(path: &Path) -> Result<RelPath, RelPathError> {
        match path.to_str() {
            Some(text) => RelPath::new(text),
            None => Err(RelPathError {
                path: path.to_string_lossy().into_owned(),
                reason: "it is not valid UTF-8",
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn to_path_buf(&self) -> PathBuf {
        PathBuf::from(&self.0)
    }

    /// `self/child`.
    pub fn join(&self, child: &RelPath) -> RelPath {
        RelPath(format!("{}/{}", self.0, child.0))
    }

    /// The first component: the torrent's name when the path is inside one.
    pub fn first_component(&self) -> &str {
        self.0.split('/').next().unwrap_or(&self.0)
    }

    /// The last component (the file name).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The path without its last component, or `None` at the top.
    pub fn parent(&self) -> Option<RelPath> {
        self.0.rfind('/').map(|i| RelPath(self.0[..i].to_string()))
    }

    /// True when `self` is `other` or lies inside it.
    pub fn starts_with(&self, other: &RelPath) -> bool {
        self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<Path> for RelPath {
    fn as_ref(&self) -> &Path {
        Path::new(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_paths() {
        for ok in [
            "a",
            "Some Torrent",
            "Some Torrent/disc 1/track 01.flac",
            "Ünïcödé ファイル/x",
            ".hidden/..dots../...",
            "a\\b",
        ] {
            assert_eq!(RelPath::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_each_unsafe_shape_with_its_reason() {
        for (bad, reason) in [
            ("", "it is empty"),
            ("/etc/passwd", "it is absolute"),
            ("/", "it is absolute"),
            ("..", "it has a '..' component"),
            ("a/../../b", "it has a '..' component"),
            ("a/..", "it has a '..' component"),
            ("./a", "it has a '.' component"),
            (
                "a//b",
                "it has an empty component (a doubled or trailing '/')",
            ),
            (
                "a/",
                "it has an empty component (a doubled or trailing '/')",
            ),
            ("a\0b", "it contains a NUL byte"),
        ] {
            let err = RelPath::new(bad).unwrap_err();
            assert_eq!(err.reason, reason, "{bad:?}");
            assert!(err.to_string().contains("refusing path"));
        }
    }

    #[test]
    fn refuses_non_utf8_file_names() {
        use std::os::unix::ffi::OsStrExt;
        let path = Path::new(std::ffi::OsStr::from_bytes(b"bad\xff"));
        assert_eq!(
            RelPath::from_path(path).unwrap_err().reason,
            "it is not valid UTF-8"
        );
    }

    #[test]
    fn parts_and_prefixes() {
        let p = RelPath::new("T/sub/f.bin").unwrap();
        assert_eq!(p.first_component(), "T");
        assert_eq!(p.file_name(), "f.bin");
        assert_eq!(p.parent(), Some(RelPath::new("T/sub").unwrap()));
        assert_eq!(RelPath::new("T").unwrap().parent(), None);
        assert!(p.starts_with(&RelPath::new("T").unwrap()));
        assert!(p.starts_with(&p));
        assert!(!p.starts_with(&RelPath::new("T/su").unwrap()));
        assert_eq!(
            RelPath::new("T")
                .unwrap()
                .join(&RelPath::new("x/y").unwrap()),
            RelPath::new("T/x/y").unwrap()
        );
    }
}
