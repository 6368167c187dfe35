//! A path relative to a root (the sync root, rtorrent's download
//! directory), checked once so neither a backend nor the deletion guard can
//! be made to reach outside it: relative, `/`-separated, no `.` or `..`, no
//! empty component (so no leading or trailing `/`), no NUL, valid UTF-8
//! (torrent names come from rtorrent as UTF-8 text, and rclone speaks
//! UTF-8). [`component_fault`] is the one rule for a single component; the
//! .torrent parser applies it too, so a name it accepts is always a
//! valid [`RelPath`] component.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why one path component cannot be used as a file name. A backslash is
/// allowed: it is an ordinary character in a Unix file name, and real
/// torrents carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentFault {
    Empty,
    Dot,
    DotDot,
    /// A `/` inside one component: an absolute or smuggled sub-path.
    Slash,
    Nul,
}

/// The fault of `component`, if it has one.
pub fn component_fault(component: &str) -> Option<ComponentFault> {
    if component.is_empty() {
        Some(ComponentFault::Empty)
    } else if component == "." {
        Some(ComponentFault::Dot)
    } else if component == ".." {
        Some(ComponentFault::DotDot)
    } else if component.contains('/') {
        Some(ComponentFault::Slash)
    } else if component.contains('\0') {
        Some(ComponentFault::Nul)
    } else {
        None
    }
}

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
            match component_fault(component) {
                Some(ComponentFault::Empty) => {
                    return fail("it has an empty component (a doubled or trailing '/')")
                }
                Some(ComponentFault::Dot) => return fail("it has a '.' component"),
                Some(ComponentFault::DotDot) => return fail("it has a '..' component"),
                // Split on '/' and checked for NUL above.
                Some(ComponentFault::Slash | ComponentFault::Nul) | None => {}
            }
        }
        Ok(RelPath(text.to_string()))
    }

    /// Checks a path given one component per element (as in a .torrent):
    /// each must be a plain name, so a `/` inside one cannot smuggle in a
    /// sub-path.
    pub fn from_components<S: AsRef<str>>(parts: &[S]) -> Result<RelPath, RelPathError> {
        let text = parts
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join("/");
        if parts.iter().any(|p| p.as_ref().contains('/')) {
            return Err(RelPathError {
                path: text,
                reason: "a component contains a '/'",
            });
        }
        RelPath::new(&text)
    }

    /// Where a torrent's file lies relative to the parent of its data path:
    /// `top` (the data path's own name, which rtorrent may have chosen
    /// instead of the .torrent's name), then for a multi-file torrent the
    /// file's path inside it (`inner`, without the torrent's directory).
    /// The file of a single-file torrent is `top` itself.
    pub fn for_torrent_file<S: AsRef<str>>(
        top: &str,
        single_file: bool,
        inner: &[S],
    ) -> Result<RelPath, RelPathError> {
        let mut parts = vec![top];
        if !single_file {
            parts.extend(inner.iter().map(AsRef::as_ref));
        }
        RelPath::from_components(&parts)
    }

    /// The components, in order.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
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
    fn components_are_checked_one_by_one() {
        assert_eq!(
            RelPath::from_components(&["T", "a b", "c"])
                .unwrap()
                .as_str(),
            "T/a b/c"
        );
        assert_eq!(
            RelPath::from_components(&["T", "a/b"]).unwrap_err().reason,
            "a component contains a '/'"
        );
        assert_eq!(
            RelPath::from_components(&["/etc"]).unwrap_err().reason,
            "a component contains a '/'"
        );
        assert!(RelPath::from_components::<&str>(&[]).is_err());
        assert!(RelPath::from_components(&["T", ".."]).is_err());
        assert!(RelPath::from_components(&["T", "a\0"]).is_err());
    }

    #[test]
    fn torrent_files_start_with_the_data_paths_name() {
        let f = |top, single, inner: &[&str]| {
            RelPath::for_torrent_file(top, single, inner).map(|p| p.to_string())
        };
        assert_eq!(f("T", false, &["sub", "a"]).unwrap(), "T/sub/a");
        assert_eq!(f("renamed.iso", true, &["x.iso"]).unwrap(), "renamed.iso");
        assert!(f("T", false, &["..", "x"]).is_err());
        assert!(f("..", true, &[]).is_err());
    }

    #[test]
    fn component_faults() {
        for (c, fault) in [
            ("", Some(ComponentFault::Empty)),
            (".", Some(ComponentFault::Dot)),
            ("..", Some(ComponentFault::DotDot)),
            ("a/b", Some(ComponentFault::Slash)),
            ("a\0", Some(ComponentFault::Nul)),
            ("a\\b", None),
            ("...", None),
        ] {
            assert_eq!(component_fault(c), fault, "{c:?}");
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
