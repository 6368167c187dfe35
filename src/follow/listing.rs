//! The listing `follow` mirrors, parsed without I/O.
//!
//! Two forms are read, line by line, and may even be mixed:
//!
//! - the `index.txt` that `lowspace tree` writes (see `crate::tree::index`):
//!   `#` comments, then `<percent-encoded relative .torrent path> <info-hash>`;
//!   the path is a relative URL reference resolved against the listing's own
//!   location, so it may not climb out with `..`;
//! - plain lines holding one torrent URL (`http://`, `https://`) or one
//!   magnet link, as a hand-written list would.
//!
//! Every error names the line, because a half-understood listing must stop
//! the run before anything is removed.

use std::collections::HashMap;
use std::fmt;

use crate::torrent::{percent_decode, InfoHash, MagnetLink};

/// Where one listed torrent comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TorrentSource {
    /// Relative to the listing: `encoded` as written (a URL reference),
    /// `segments` its decoded path parts (for a listing on the local disk).
    Relative {
        encoded: String,
        segments: Vec<String>,
    },
    /// An absolute `http://` or `https://` URL of a .torrent file.
    Url(String),
    /// A magnet link; the client fetches the metadata itself.
    Magnet(MagnetLink),
}

/// One torrent the listing wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTorrent {
    /// 1-based line in the listing, for messages.
    pub line: usize,
    pub source: TorrentSource,
    /// Known from the line (index form, magnet); a bare URL's hash is only
    /// known once its .torrent is fetched.
    pub info_hash: Option<InfoHash>,
}

impl ListedTorrent {
    /// How the torrent is named in reports: the path, URL or magnet.
    pub fn display(&self) -> String {
        match &self.source {
            TorrentSource::Relative { segments, .. } => segments.join("/"),
            TorrentSource::Url(url) => crate::http::url::redact(url),
            TorrentSource::Magnet(m) => m
                .display_name
                .clone()
                .unwrap_or_else(|| format!("magnet {}", m.info_hash.to_hex())),
        }
    }
}

/// Why the listing was refused: the line and what is wrong on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingError {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for ListingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ListingError {}

/// Parses the listing's bytes. Empty lines and `#` comments are skipped;
/// a listing with no torrent at all parses to an empty list (the caller
/// decides whether that is allowed).
pub fn parse(bytes: &[u8]) -> Result<Vec<ListedTorrent>, ListingError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
        ListingError {
            line: 1 + valid.iter().filter(|b| **b == b'\n').count(),
            reason: "not UTF-8 text".into(),
        }
    })?;
    let mut out = Vec::new();
    let mut seen: HashMap<InfoHash, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let entry = parse_line(line, trimmed)?;
        if let Some(hash) = entry.info_hash {
            if let Some(first) = seen.insert(hash, line) {
                return Err(ListingError {
                    line,
                    reason: format!(
                        "info-hash {} is already listed on line {first}",
                        hash.to_hex()
                    ),
                });
            }
        }
        out.push(entry);
    }
    Ok(out)
}

fn parse_line(line: usize, text: &str) -> Result<ListedTorrent, ListingError> {
    let err = |reason: String| ListingError { line, reason };
    let fields: Vec<&str> = text.split_whitespace().collect();
    let (reference, hash) = match fields.as_slice() {
        [one] => (*one, None),
        [reference, hash] => {
            let hash = InfoHash::from_hex(hash).map_err(|e| err(e.to_string()))?;
            (*reference, Some(hash))
        }
        _ => {
            return Err(err(format!(
                "expected \"<torrent path or URL> <info-hash>\", a torrent URL or a magnet link, found {} fields",
                fields.len()
            )))
        }
    };
    if starts_with_ignore_case(reference, "magnet:") {
        let magnet = MagnetLink::parse(reference).map_err(|e| err(e.to_string()))?;
        if let Some(hash) = hash {
            if hash != magnet.info_hash {
                return Err(err(format!(
                    "the magnet link is for {} but the line says {}",
                    magnet.info_hash.to_hex(),
                    hash.to_hex()
                )));
            }
        }
        return Ok(ListedTorrent {
            line,
            info_hash: Some(magnet.info_hash),
            source: TorrentSource::Magnet(magnet),
        });
    }
    if starts_with_ignore_case(reference, "http://")
        || starts_with_ignore_case(reference, "https://")
    {
        crate::http::Url::parse(reference).map_err(|e| err(e.to_string()))?;
        return Ok(ListedTorrent {
            line,
            info_hash: hash,
            source: TorrentSource::Url(reference.to_string()),
        });
    }
    if hash.is_none() {
        return Err(err(format!(
            "\"{}\" is neither a torrent URL nor a magnet link, and a relative path needs its info-hash after it",
            shorten(reference)
        )));
    }
    let segments = relative_segments(reference).map_err(err)?;
    Ok(ListedTorrent {
        line,
        info_hash: hash,
        source: TorrentSource::Relative {
            encoded: reference.to_string(),
            segments,
        },
    })
}

/// Decodes a relative reference into plain path parts, refusing whatever
/// could leave the listing's directory or mean something else in a URL.
fn relative_segments(reference: &str) -> Result<Vec<String>, String> {
    let shown = shorten(reference);
    if reference.starts_with('/') {
        return Err(format!(
            "\"{shown}\" is an absolute path; index paths are relative to the listing"
        ));
    }
    if reference.contains(['?', '#', '\\']) || reference.contains(':') {
        return Err(format!(
            "\"{shown}\" is not a plain relative path (no ?, #, \\ or : unencoded)"
        ));
    }
    let mut segments = Vec::new();
    for part in reference.split('/') {
        let bytes = percent_decode("path", part, false)
            .map_err(|_| format!("\"{shown}\" has a bad %-escape"))?;
        let decoded = String::from_utf8(bytes)
            .map_err(|_| format!("\"{shown}\" does not decode to UTF-8"))?;
        if decoded.is_empty() || decoded == "." || decoded == ".." {
            return Err(format!(
                "\"{shown}\" has an empty, \".\" or \"..\" part; the listing may not point outside its directory"
            ));
        }
        if decoded.contains(['/', '\0']) {
            return Err(format!(
                "\"{shown}\" has an encoded '/' or NUL inside a name"
            ));
        }
        segments.push(decoded);
    }
    Ok(segments)
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// A reference cut for messages (a hostile listing may have huge lines).
fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(120).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "0123456789abcdef0123456789abcdef01234567";
    const H2: &str = "89abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn reads_the_index_tree_writes() {
        // Rendered by the tree module itself, so the two formats cannot drift.
        let mut manifest = crate::tree::manifest::Manifest::new();
        for (rel, hash) in [("a b/ü.bin", H1), ("z.iso", H2)] {
            manifest.files.insert(
                rel.into(),
                crate::tree::manifest::Entry {
                    size: 1,
                    mtime_ns: 0,
                    piece_length: 16384,
                    private: false,
                    metadata: String::new(),
                    info_hash: hash.into(),
                },
            );
        }
        let text = crate::tree::index::render(&manifest);
        let listed = parse(text.as_bytes()).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].line, 3);
        assert_eq!(
            listed[0].source,
            TorrentSource::Relative {
                encoded: "a%20b/%C3%BC.bin.torrent".into(),
                segments: vec!["a b".into(), "ü.bin.torrent".into()],
            }
        );
        assert_eq!(listed[0].info_hash.unwrap().to_hex(), H1);
        assert_eq!(listed[1].display(), "z.iso.torrent");
    }

    #[test]
    fn reads_plain_urls_and_magnets() {
        let text = format!(
            "\n  https://main.example/t/a.torrent  \r\nmagnet:?xt=urn:btih:{H2}&dn=Two\nhttp://h/b.torrent {H1}\n"
        );
        let listed = parse(text.as_bytes()).unwrap();
        assert_eq!(
            listed[0].source,
            TorrentSource::Url("https://main.example/t/a.torrent".into())
        );
        assert_eq!(listed[0].info_hash, None);
        assert_eq!(listed[1].info_hash.unwrap().to_hex(), H2);
        assert_eq!(listed[1].display(), "Two");
        assert_eq!(listed[2].info_hash.unwrap().to_hex(), H1);
    }

    #[test]
    fn empty_and_comment_only_listings_are_empty() {
        assert_eq!(parse(b"").unwrap(), vec![]);
        assert_eq!(parse(b"# lowspace tree index v1\n\n").unwrap(), vec![]);
    }

    #[test]
    fn each_error_names_its_line() {
        let cases: &[(String, usize, &str)] = &[
            (format!("# c\na.torrent {H1} extra\n"), 2, "found 3 fields"),
            ("a.torrent 1234\n".into(), 1, "bad info-hash"),
            (
                format!("a.torrent {}\n", "g".repeat(40)),
                1,
                "bad info-hash",
            ),
            ("a.torrent\n".into(), 1, "needs its info-hash"),
            (format!("../secret.torrent {H1}\n"), 1, "\"..\" part"),
            (format!("a/%2E%2E/b.torrent {H1}\n"), 1, "\"..\" part"),
            (format!("a//b.torrent {H1}\n"), 1, "empty"),
            (format!("/etc/passwd {H1}\n"), 1, "absolute path"),
            (format!("a%2Fb {H1}\n"), 1, "encoded '/'"),
            (format!("a%zz {H1}\n"), 1, "bad %-escape"),
            (format!("a%FF {H1}\n"), 1, "UTF-8"),
            (format!("a?x=1 {H1}\n"), 1, "not a plain relative path"),
            (format!("file:///x {H1}\n"), 1, "not a plain relative path"),
            ("magnet:?xt=urn:btih:zz\n".into(), 1, "magnet"),
            (
                format!("magnet:?xt=urn:btih:{H2} {H1}\n"),
                1,
                "the magnet link is for",
            ),
            ("https://[::1/x\n".into(), 1, "bad URL"),
            (format!("a {H1}\nb {H1}\n"), 2, "already listed on line 1"),
            ("ok\n\u{0}\n".into(), 1, "neither a torrent URL"),
        ];
        for (text, line, fragment) in cases {
            let err = parse(text.as_bytes()).expect_err(text);
            assert_eq!(err.line, *line, "{text:?}: {err}");
            assert!(err.to_string().contains(fragment), "{text:?}: {err}");
        }
        let err = parse(b"# ok\nx \xff\n").unwrap_err();
        assert_eq!((err.line, err.reason.as_str()), (2, "not UTF-8 text"));
    }
}
