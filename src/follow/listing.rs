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
//!
//! The same info-hash may be listed on several lines: identical files
//! (same name and bytes) in different directories of the main box make
//! the same torrent, which is downloaded once and placed at every path.
//!
//! `tree` ends its index with `# end of index: N entries`; [`ListingEnd`]
//! says whether that line came and matched, so a listing cut anywhere
//! (by a proxy, a full disk, a half-written copy) is known to be cut.

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
    /// The directory, under the download root, where its data belongs: the
    /// directory of its listed path; the root for a URL or magnet link.
    pub fn dir(&self) -> Result<super::place::RelDir, super::place::PlaceError> {
        match &self.source {
            TorrentSource::Relative { segments, .. } => {
                super::place::RelDir::of_listed_path(segments)
            }
            TorrentSource::Url(_) | TorrentSource::Magnet(_) => Ok(super::place::RelDir::root()),
        }
    }

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

/// The first words of the closing line `tree` writes.
pub const CLOSING_PREFIX: &str = "# end of index:";
/// The start of `tree`'s header line; the version number follows.
pub const HEADER_PREFIX: &str = "# lowspace tree index v";

/// Whether the listing proves it is whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingEnd {
    /// The closing line came last and its count matched.
    Closed,
    /// No closing line. `tree_version`: the version on `tree`'s header
    /// line, when there is one (1: written before the closing line
    /// existed).
    Open { tree_version: Option<u32> },
}

/// A parsed listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub entries: Vec<ListedTorrent>,
    pub end: ListingEnd,
}

/// The count on a closing line, or why the line is not one.
pub fn parse_closing_line(text: &str) -> Result<usize, String> {
    let rest = text
        .strip_prefix(CLOSING_PREFIX)
        .ok_or_else(|| format!("a closing line starts with \"{CLOSING_PREFIX}\""))?
        .trim();
    let (number, word) = rest.split_once(' ').ok_or_else(|| {
        format!(
            "expected \"{CLOSING_PREFIX} <N> entries\", found {:?}",
            shorten(text)
        )
    })?;
    if word.trim() != "entries" && word.trim() != "entry" {
        return Err(format!(
            "expected \"{CLOSING_PREFIX} <N> entries\", found {:?}",
            shorten(text)
        ));
    }
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "bad entry count {:?} on the closing line",
            shorten(number)
        ));
    }
    number
        .parse::<usize>()
        .map_err(|_| format!("entry count {:?} is too large", shorten(number)))
}

/// Parses the listing's bytes. Empty lines and `#` comments are skipped;
/// a listing with no torrent at all parses to an empty list (the caller
/// decides whether that is allowed).
pub fn parse(bytes: &[u8]) -> Result<Listing, ListingError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
        ListingError {
            line: 1 + valid.iter().filter(|b| **b == b'\n').count(),
            reason: "not UTF-8 text".into(),
        }
    })?;
    let mut out = Vec::new();
    let mut tree_version = None;
    let mut closed_at: Option<usize> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(first) = closed_at {
            return Err(ListingError {
                line,
                reason: format!("text after the closing line (line {first})"),
            });
        }
        if trimmed.starts_with(CLOSING_PREFIX) {
            let count =
                parse_closing_line(trimmed).map_err(|reason| ListingError { line, reason })?;
            if count != out.len() {
                return Err(ListingError {
                    line,
                    reason: format!(
                        "the closing line says {count} entries but {} are listed above it: the index was cut or altered",
                        out.len()
                    ),
                });
            }
            closed_at = Some(line);
            continue;
        }
        if let Some(version) = trimmed.strip_prefix(HEADER_PREFIX) {
            if tree_version.is_none() {
                tree_version = version.trim().parse::<u32>().ok();
            }
            continue;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        out.push(parse_line(line, trimmed)?);
    }
    let end = match closed_at {
        Some(_) => ListingEnd::Closed,
        None => ListingEnd::Open { tree_version },
    };
    Ok(Listing { entries: out, end })
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
                    format: Default::default(),
                    private: false,
                    metadata: String::new(),
                    info_hash: hash.into(),
                    info_hash_v2: None,
                },
            );
        }
        let text = crate::tree::index::render(&manifest);
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.end, ListingEnd::Closed);
        let listed = parsed.entries;
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
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.end, ListingEnd::Open { tree_version: None });
        let listed = parsed.entries;
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
        assert_eq!(parse(b"").unwrap().entries, vec![]);
        let old = parse(b"# lowspace tree index v1\n\n").unwrap();
        assert_eq!(old.entries, vec![]);
        assert_eq!(
            old.end,
            ListingEnd::Open {
                tree_version: Some(1)
            }
        );
        let closed = parse(b"# lowspace tree index v2\n# end of index: 0 entries\n").unwrap();
        assert_eq!(closed.end, ListingEnd::Closed);
    }

    #[test]
    fn the_same_hash_may_stand_for_several_paths() {
        let text =
            format!("a/x.bin.torrent {H1}\nb/x.bin.torrent {H1}\n# end of index: 2 entries\n");
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.entries[1].info_hash, parsed.entries[0].info_hash);
    }

    #[test]
    fn closing_lines() {
        for (line, want) in [
            ("# end of index: 0 entries", Ok(0)),
            ("# end of index: 1234 entries", Ok(1234)),
            ("# end of index: 1 entry", Ok(1)),
            ("# end of index:  7 entries ", Ok(7)),
            ("# end of index: entries", Err("expected")),
            ("# end of index: 12", Err("expected")),
            ("# end of index: -1 entries", Err("bad entry count")),
            ("# end of index: 1e3 entries", Err("bad entry count")),
            (
                "# end of index: 99999999999999999999999 entries",
                Err("too large"),
            ),
            ("# end of index: 3 bananas", Err("expected")),
            ("# the end", Err("starts with")),
        ] {
            match (parse_closing_line(line), want) {
                (Ok(n), Ok(w)) => assert_eq!(n, w, "{line}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{line}: {e}"),
                (got, want) => panic!("{line}: got {got:?}, want {want:?}"),
            }
        }
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
            (
                format!("a {H1}\n# end of index: 2 entries\n"),
                2,
                "says 2 entries but 1 are listed",
            ),
            (
                format!("a {H1}\n# end of index: 1 entries\nb {H2}\n"),
                3,
                "after the closing line (line 2)",
            ),
            (
                format!("a {H1}\n# end of index: one entries\n"),
                2,
                "bad entry count",
            ),
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
