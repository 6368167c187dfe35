//! Where a listed torrent's data belongs on the follower: the directory of
//! its listed path, under the download root, so the follower holds the
//! main box's files in the same structure and can become the main box.
//!
//! Pure: the listed path's parts in, a checked relative directory out. The
//! listing parser already refuses `..` and absolute paths; this is checked
//! again here because these parts become directories the client writes to.

use std::fmt;
use std::path::{Path, PathBuf};

/// A directory under the download root, as checked path parts; no parts
/// is the root itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelDir(Vec<String>);

/// Why a listed path cannot give a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceError {
    /// The listed path has no parts at all.
    Empty,
    /// A part that would leave the root or name nothing ("", ".", "..").
    Escapes(String),
    /// A part holding '/', '\\' or NUL, which no single name may.
    BadName(String),
}

impl fmt::Display for PlaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlaceError::Empty => f.write_str("the listed path is empty"),
            PlaceError::Escapes(part) => write!(
                f,
                "the listed path has the part {part:?}, which could place data outside the download directory"
            ),
            PlaceError::BadName(part) => {
                write!(f, "the listed path has a part with '/', '\\\\' or NUL: {part:?}")
            }
        }
    }
}

impl std::error::Error for PlaceError {}

impl RelDir {
    /// The root of the download directory.
    pub fn root() -> RelDir {
        RelDir(Vec::new())
    }

    /// The directory of a listed path (its parts, the last one the
    /// .torrent's own name, which is dropped).
    pub fn of_listed_path(parts: &[String]) -> Result<RelDir, PlaceError> {
        let Some((_name, dirs)) = parts.split_last() else {
            return Err(PlaceError::Empty);
        };
        for part in parts {
            if part.is_empty() || part == "." || part == ".." {
                return Err(PlaceError::Escapes(part.clone()));
            }
            if part.contains(['/', '\\', '\0']) {
                return Err(PlaceError::BadName(part.clone()));
            }
        }
        Ok(RelDir(dirs.to_vec()))
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The absolute directory under `root`.
    pub fn under(&self, root: &Path) -> PathBuf {
        let mut path = root.to_path_buf();
        path.extend(&self.0);
        path
    }
}

impl fmt::Display for RelDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str(".")
        } else {
            f.write_str(&self.0.join("/"))
        }
    }
}

/// Two directories name the same place (a client may report a trailing
/// '/' or a doubled one; `Path` equality compares components).
pub fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(p: &str) -> Vec<String> {
        p.split('/').map(str::to_string).collect()
    }

    #[test]
    fn the_listed_path_gives_its_directory() {
        let root = Path::new("/srv/data");
        for (listed, dir, abs) in [
            ("a.bin.torrent", ".", "/srv/data"),
            ("sub ü/ß.bin.torrent", "sub ü", "/srv/data/sub ü"),
            ("x/y/z/f.torrent", "x/y/z", "/srv/data/x/y/z"),
        ] {
            let got = RelDir::of_listed_path(&parts(listed)).unwrap();
            assert_eq!(got.to_string(), dir, "{listed}");
            assert_eq!(got.under(root), Path::new(abs), "{listed}");
        }
        assert!(RelDir::of_listed_path(&parts("f.torrent"))
            .unwrap()
            .is_root());
    }

    #[test]
    fn paths_that_could_escape_are_refused() {
        let cases: Vec<(Vec<String>, PlaceError)> = vec![
            (vec![], PlaceError::Empty),
            (parts("../f.torrent"), PlaceError::Escapes("..".into())),
            (parts("a/../../f.torrent"), PlaceError::Escapes("..".into())),
            (parts("./f.torrent"), PlaceError::Escapes(".".into())),
            // An absolute path splits into an empty first part.
            (parts("/etc/f.torrent"), PlaceError::Escapes("".into())),
            (parts("a//f.torrent"), PlaceError::Escapes("".into())),
            (
                vec!["a\0b".into(), "f".into()],
                PlaceError::BadName("a\0b".into()),
            ),
            (
                vec!["a/b".into(), "f".into()],
                PlaceError::BadName("a/b".into()),
            ),
            (
                vec!["a\\..".into(), "f".into()],
                PlaceError::BadName("a\\..".into()),
            ),
            (
                vec!["d".into(), "..".into()],
                PlaceError::Escapes("..".into()),
            ),
        ];
        for (listed, want) in cases {
            assert_eq!(
                RelDir::of_listed_path(&listed),
                Err(want.clone()),
                "{listed:?}"
            );
            assert!(!want.to_string().is_empty());
        }
    }

    #[test]
    fn directories_compare_by_components() {
        assert!(same_dir(Path::new("/a/b/"), Path::new("/a/b")));
        assert!(same_dir(Path::new("/a//b"), Path::new("/a/b")));
        assert!(!same_dir(Path::new("/a/b"), Path::new("/a/b/c")));
    }
}
