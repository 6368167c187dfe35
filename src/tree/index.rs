//! OUTPUT_DIR/index.txt: the listing `follow` reads.
//!
//! Format (one torrent a line, sorted by path, no date so an unchanged tree
//! gives an unchanged file):
//!
//! ```text
//! # lowspace tree index v2
//! # <relative URL of the .torrent> <info-hash, 40 lower-case hex>
//! movies/a%20b.mkv.torrent 0123456789abcdef0123456789abcdef01234567
//! copies/a%20b.mkv.torrent 0123456789abcdef0123456789abcdef01234567
//! # end of index: 2 entries
//! ```
//!
//! The closing line counts the entry lines above it, so a reader knows an
//! index that was cut (by a proxy, a half-finished copy) from a whole one,
//! whatever the transport said; an index without it (v1, older lowspace)
//! is read as possibly incomplete.
//!
//! For v2 and hybrid torrents a comment line after the entry gives the v2
//! info-hash as it appears in a magnet link, with the path again so the
//! line stands alone:
//!
//! ```text
//! movies/a%20b.mkv.torrent 0123456789abcdef0123456789abcdef01234567
//! # btmh movies/a%20b.mkv.torrent 1220<64 hex digits>
//! ```
//!
//! A comment, because followers already deployed refuse an entry line with
//! a third field and skip comments; the 40-hex field stays the hash
//! trackers and the DHT use: the v1 info-hash, or for a v2-only torrent
//! its v2 hash cut to 20 bytes (BEP 52). One info-hash on several lines stands
//! for several paths: identical files (same name and bytes: the info
//! dictionary holds only the base name) in different directories make the
//! same torrent, and a follower must hold the data at each of those paths.
//!
//! Paths are '/' separated and percent-encoded as URL paths: every byte but
//! ASCII letters, digits, `-._~` and the '/' separators is written `%XX` (so
//! spaces and non-ASCII UTF-8 names become plain ASCII tokens). Each path is
//! therefore a relative URL reference that `follow` resolves against the
//! listing's own URL, and a line splits on its single space.

use super::manifest::Manifest;

/// Header line that names the format.
pub const INDEX_HEADER: &str = "# lowspace tree index v2";
/// File name of the index inside the output directory.
pub const INDEX_NAME: &str = "index.txt";
/// Starts the comment line that gives an entry's v2 info-hash.
pub const V2_PREFIX: &str = "# btmh ";

/// Percent-encodes a relative path for a URL, keeping the '/' separators.
pub fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    crate::torrent::percent_encode_into(&mut out, path.as_bytes(), b"/");
    out
}

/// The index text for every torrent in the manifest.
pub fn render(manifest: &Manifest) -> String {
    let mut text = format!("{INDEX_HEADER}\n# <relative URL of the .torrent> <info-hash>\n");
    for (rel, entry) in &manifest.files {
        let path = percent_encode_path(&format!("{rel}.torrent"));
        text.push_str(&format!("{path} {}\n", entry.info_hash));
        if let Some(v2) = &entry.info_hash_v2 {
            text.push_str(&format!("{V2_PREFIX}{path} 1220{v2}\n"));
        }
    }
    text.push_str(&format!(
        "{} {} entries\n",
        crate::follow::listing::CLOSING_PREFIX,
        manifest.files.len()
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::torrent::create::Format;
    use crate::tree::manifest::Entry;

    #[test]
    fn encodes_spaces_and_unicode_but_not_separators() {
        assert_eq!(percent_encode_path("a b/ü~x-1_.y"), "a%20b/%C3%BC~x-1_.y");
        assert_eq!(percent_encode_path("100%#?"), "100%25%23%3F");
        assert_eq!(percent_encode_path("line\nbreak"), "line%0Abreak");
    }

    #[test]
    fn one_sorted_line_per_torrent() {
        let mut manifest = Manifest::new();
        for (rel, hash) in [("z", "1".repeat(40)), ("a b/c", "2".repeat(40))] {
            manifest.files.insert(
                rel.into(),
                Entry {
                    size: 1,
                    mtime_ns: 0,
                    piece_length: 16384,
                    format: Format::V1,
                    private: false,
                    metadata: String::new(),
                    info_hash: hash,
                    info_hash_v2: None,
                },
            );
        }
        let text = render(&manifest);
        let lines: Vec<_> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                format!("a%20b/c.torrent {}", "2".repeat(40)),
                format!("z.torrent {}", "1".repeat(40))
            ]
        );
        assert!(text.starts_with(INDEX_HEADER));
        assert!(text.ends_with("\n# end of index: 2 entries\n"), "{text}");
    }

    #[test]
    fn v2_hashes_are_comments_a_follower_reads_past() {
        let mut manifest = Manifest::new();
        for (rel, format, v2) in [
            ("a", Format::V1, None),
            ("b c", Format::Hybrid, Some("e".repeat(64))),
        ] {
            manifest.files.insert(
                rel.into(),
                Entry {
                    size: 1,
                    mtime_ns: 0,
                    piece_length: 16384,
                    format,
                    private: false,
                    metadata: String::new(),
                    info_hash: "1".repeat(40),
                    info_hash_v2: v2,
                },
            );
        }
        let text = render(&manifest);
        assert!(
            text.contains(&format!(
                "\nb%20c.torrent {}\n# btmh b%20c.torrent 1220{}\n",
                "1".repeat(40),
                "e".repeat(64)
            )),
            "{text}"
        );
        let listing = crate::follow::listing::parse(text.as_bytes()).unwrap();
        assert_eq!(listing.entries.len(), 2);
        assert_eq!(listing.end, crate::follow::listing::ListingEnd::Closed);
    }
}
