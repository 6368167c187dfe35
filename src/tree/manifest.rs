//! The manifest: what the last run knew about every torrent it wrote, so the
//! next run re-hashes only files whose size or modification time changed.
//!
//! JSON in OUTPUT_DIR/.lowspace-tree.json, replaced atomically. Piece hashes
//! are not kept here (they are in the .torrent files, 20 bytes a piece, and a
//! library of large files would make this file as big as all its torrents);
//! when only trackers, web seed or comment change, the pieces are taken back
//! from the torrent written earlier (checked against the info-hash below).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fsutil::write_atomic;
use crate::torrent::create::Format;

/// File name of the manifest inside the output directory.
pub const MANIFEST_NAME: &str = ".lowspace-tree.json";

/// Format version; another number means "start afresh".
pub const MANIFEST_VERSION: u32 = 1;

/// What a torrent was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub size: u64,
    pub mtime_ns: i64,
    pub piece_length: u64,
    /// Absent in manifests older than v2 support: those are v1.
    #[serde(default)]
    pub format: Format,
    pub private: bool,
    /// Fingerprint of what lies outside the info dictionary (trackers, web
    /// seed, comment, creation date choice): a change rewrites the torrent
    /// without re-hashing.
    pub metadata: String,
    /// 40 lower-case hex digits: the v1 info-hash, or for v2 only the v2
    /// info-hash cut to 20 bytes (what trackers and the DHT use).
    pub info_hash: String,
    /// The v2 info-hash (SHA-256), 64 lower-case hex digits, for v2 and
    /// hybrid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info_hash_v2: Option<String>,
}

/// Every torrent by the relative path of its source file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub files: BTreeMap<String, Entry>,
}

/// Reading the manifest failed.
#[derive(Debug)]
pub enum LoadError {
    Io(io::Error),
    /// Not ours, or damaged; the message says where.
    Invalid(String),
}

impl Manifest {
    pub fn new() -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            files: BTreeMap::new(),
        }
    }

    /// Parses manifest text.
    pub fn parse(text: &[u8]) -> Result<Manifest, String> {
        let manifest: Manifest = serde_json::from_slice(text).map_err(|e| e.to_string())?;
        if manifest.version != MANIFEST_VERSION {
            return Err(format!(
                "version {} is not {MANIFEST_VERSION}",
                manifest.version
            ));
        }
        Ok(manifest)
    }

    /// Loads the manifest from `output_dir`; a missing one is an empty one.
    pub fn load(output_dir: &Path) -> Result<Manifest, LoadError> {
        match fs::read(output_dir.join(MANIFEST_NAME)) {
            Ok(bytes) => Manifest::parse(&bytes).map_err(LoadError::Invalid),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Manifest::new()),
            Err(e) => Err(LoadError::Io(e)),
        }
    }

    /// The manifest as it is written: pretty JSON, one key a line, so a
    /// person can read it and diffs stay small.
    pub fn to_bytes(&self) -> io::Result<Vec<u8>> {
        let mut text = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        text.push(b'\n');
        Ok(text)
    }

    /// Writes the manifest atomically into `output_dir`.
    pub fn save(&self, output_dir: &Path) -> io::Result<()> {
        write_atomic(&output_dir.join(MANIFEST_NAME), &self.to_bytes()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            size: 3,
            mtime_ns: -5,
            piece_length: 16384,
            format: Format::Hybrid,
            private: true,
            metadata: "m".into(),
            info_hash: "ab".repeat(20),
            info_hash_v2: Some("cd".repeat(32)),
        }
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = std::env::temp_dir().join(format!("lowspace-manifest-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        assert_eq!(Manifest::load(&dir).unwrap(), Manifest::new());
        let mut manifest = Manifest::new();
        manifest.files.insert("a/ü b".into(), entry());
        manifest.save(&dir).unwrap();
        assert_eq!(Manifest::load(&dir).unwrap(), manifest);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_manifests_are_errors() {
        for (text, fragment) in [
            (&b"{"[..], "EOF"),
            (b"[]", "invalid length 0"),
            (b"\"x\"", "invalid type"),
            (b"{\"version\":2,\"files\":{}}", "version 2"),
            (
                b"{\"version\":1,\"files\":{\"a\":{\"size\":-1}}}",
                "invalid value",
            ),
            (b"\xff", "expected value"),
        ] {
            let err = Manifest::parse(text).unwrap_err();
            assert!(err.contains(fragment), "{err}");
        }
    }
}
