//! The `--magnets FILE` list: one magnet link per line. Blank lines and
//! lines starting with `#` are skipped; a line that is not a magnet link is
//! a warning naming its line, not a stop (one typo must not keep the other
//! torrents from being adopted); the same info-hash twice is one magnet
//! with the trackers of both lines.

use std::fmt;

use crate::torrent::MagnetLink;

/// The largest magnets file read (about 100 000 links): a bound on memory
/// for a file that is not what the user meant.
pub const MAX_MAGNETS_FILE: u64 = 16 * 1024 * 1024;

/// A line that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineWarning {
    /// 1-based, as editors count.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for LineWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// What a magnets file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MagnetList {
    /// Each info-hash once, in the order first seen.
    pub magnets: Vec<MagnetLink>,
    pub warnings: Vec<LineWarning>,
}

/// Reads a magnets file's text (bytes that are not UTF-8 make only their
/// line fail).
pub fn parse_magnets(text: &[u8]) -> MagnetList {
    let mut list = MagnetList::default();
    for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            list.warnings.push(LineWarning {
                line,
                reason: "not UTF-8 text; skipped".into(),
            });
            continue;
        };
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        match MagnetLink::parse(text) {
            Ok(magnet) => {
                let known = list
                    .magnets
                    .iter_mut()
                    .find(|m| m.info_hash == magnet.info_hash);
                match known {
                    Some(first) => {
                        for tracker in &magnet.trackers {
                            first.add_tracker(tracker);
                        }
                        if first.display_name.is_none() {
                            first.display_name = magnet.display_name;
                        }
                    }
                    None => list.magnets.push(magnet),
                }
            }
            Err(e) => list.warnings.push(LineWarning {
                line,
                reason: format!("{e}; skipped"),
            }),
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef0123456789abcdef01234567";
    const B: &str = "89abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn links_comments_blanks_and_duplicates() {
        let text = format!(
            "# my magnets\n\nmagnet:?xt=urn:btih:{A}&tr=http://t1/a\r\n  \
             magnet:?xt=urn:btih:{B}\nmagnet:?xt=urn:btih:{}&tr=http://t2/a&tr=http://t1/a&dn=x\n",
            A.to_uppercase()
        );
        let list = parse_magnets(text.as_bytes());
        assert_eq!(list.warnings, vec![]);
        assert_eq!(list.magnets.len(), 2);
        assert_eq!(list.magnets[0].info_hash.to_hex(), A);
        assert_eq!(list.magnets[0].trackers, vec!["http://t1/a", "http://t2/a"]);
        assert_eq!(list.magnets[0].display_name.as_deref(), Some("x"));
        assert_eq!(list.magnets[1].info_hash.to_hex(), B);
        assert!(list.magnets[1].trackers.is_empty());
    }

    #[test]
    fn bad_lines_are_warnings_with_their_line_number() {
        let mut text = format!("magnet:?xt=urn:btih:{A}\nhttp://not-a-magnet\n").into_bytes();
        text.extend_from_slice(b"magnet:?dn=nohash\nmagnet:?xt=urn:btih:123\n\xff\xfe\n");
        text.extend_from_slice(b"magnet:?xt=urn:btmh:1220aa\n");
        let list = parse_magnets(&text);
        assert_eq!(list.magnets.len(), 1);
        let lines: Vec<usize> = list.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6]);
        assert!(list.warnings[0]
            .to_string()
            .starts_with("line 2: not a magnet link"));
        assert!(list.warnings[3].reason.contains("UTF-8"));
        assert!(
            list.warnings[4].reason.contains("v2"),
            "{}",
            list.warnings[4]
        );
    }

    #[test]
    fn empty_file() {
        assert_eq!(parse_magnets(b""), MagnetList::default());
        assert_eq!(
            parse_magnets(b"\n# only a comment\n"),
            MagnetList::default()
        );
    }
}
