//! Writing an adopted torrent: the .torrent bytes (the trackers the magnet
//! named and the info dictionary exactly as fetched) and a file name in
//! the load path that is safe and takes no other file's place.

use std::path::{Path, PathBuf};

use crate::torrent::bencode::{self, Encoder, Value};
use crate::torrent::InfoHash;

/// Longest file name stem we make (file systems allow 255 bytes; room is
/// left for the hash and `.torrent`).
const MAX_STEM: usize = 150;

/// `d announce [announce-list] info e`, keys sorted as BEP 3 asks:
/// `announce` is the first tracker, `announce-list` (BEP 12, one tier per
/// tracker, as the magnet gives no tiers) only when there is more than one,
/// and `info` is `info_bytes` unchanged: they are what hashes to the
/// info-hash.
pub fn torrent_bytes(trackers: &[String], info_bytes: &[u8]) -> Vec<u8> {
    let mut e = Encoder::new();
    e.begin_dict();
    if let Some(first) = trackers.first() {
        e.bytes(b"announce").bytes(first.as_bytes());
    }
    if trackers.len() > 1 {
        e.bytes(b"announce-list").begin_list();
        for tracker in trackers {
            e.begin_list().bytes(tracker.as_bytes()).end();
        }
        e.end();
    }
    e.bytes(b"info").raw(info_bytes).end();
    e.finish()
}

/// The torrent's `name` made into a file name stem: no `/`, `\` or control
/// characters, not `.`/`..` or hidden, bounded. None when nothing usable
/// is left (the caller falls back to the info-hash).
pub fn safe_stem(info_bytes: &[u8]) -> Option<String> {
    let value = bencode::decode(info_bytes).ok()?;
    let name = value.get(b"name").and_then(Value::as_bytes)?;
    let name = String::from_utf8_lossy(name);
    let mut stem: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = stem.trim().trim_start_matches('.').to_owned();
    stem = trimmed;
    if stem.len() > MAX_STEM {
        let mut end = MAX_STEM;
        while !stem.is_char_boundary(end) {
            end -= 1;
        }
        stem.truncate(end);
    }
    let stem = stem.trim().to_owned();
    (!stem.is_empty()).then_some(stem)
}

/// Where to write the adopted torrent in `dir`: `NAME.torrent`, else
/// `NAME.HASH.torrent` when that is taken, else `HASH.torrent`; None when
/// every candidate is taken (we never overwrite another file).
pub fn choose_path(
    dir: &Path,
    stem: Option<&str>,
    info_hash: &InfoHash,
    exists: &dyn Fn(&Path) -> bool,
) -> Option<PathBuf> {
    let hex = info_hash.to_hex();
    let mut candidates = Vec::new();
    if let Some(stem) = stem {
        candidates.push(format!("{stem}.torrent"));
        candidates.push(format!("{stem}.{hex}.torrent"));
    }
    candidates.push(format!("{hex}.torrent"));
    candidates
        .into_iter()
        .map(|name| dir.join(name))
        .find(|path| !exists(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::torrent::Metainfo;

    const INFO: &[u8] =
        b"d6:lengthi5e4:name5:a.bin12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae";

    #[test]
    fn torrent_keeps_info_bytes_and_reads_back() {
        let one = torrent_bytes(&["http://t/a".into()], INFO);
        let mut want = b"d8:announce10:http://t/a4:info".to_vec();
        want.extend_from_slice(INFO);
        want.push(b'e');
        assert_eq!(one, want);
        let meta = Metainfo::from_bytes(&one).unwrap();
        assert_eq!(meta.info_bytes(), INFO);
        assert_eq!(meta.info_hash(), InfoHash::of_info_bytes(INFO));

        let two = torrent_bytes(&["http://t/a".into(), "udp://u:1".into()], INFO);
        let meta = Metainfo::from_bytes(&two).unwrap();
        assert_eq!(
            meta.tracker_tiers(),
            &[
                vec!["http://t/a".to_string()],
                vec!["udp://u:1".to_string()]
            ]
        );
        let none = torrent_bytes(&[], INFO);
        assert!(none.starts_with(b"d4:info"));
        assert!(Metainfo::from_bytes(&none).unwrap().trackers().is_empty());
    }

    #[test]
    fn stems_are_safe() {
        let info = |name: &[u8]| {
            let mut v = format!("d4:name{}:", name.len()).into_bytes();
            v.extend_from_slice(name);
            v.push(b'e');
            v
        };
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"Ubuntu 24.04.iso", Some("Ubuntu 24.04.iso")),
            (b"../../etc/passwd", Some("_.._etc_passwd")),
            (b"..", None),
            (b".", None),
            (b"", None),
            (b"  ", None),
            (b".hidden", Some("hidden")),
            (b"a/b\\c\nd\x00e", Some("a_b_c_d_e")),
            (b"caf\xc3\xa9", Some("caf\u{e9}")),
            (b"\xff", Some("\u{fffd}")),
        ];
        for (name, want) in cases {
            assert_eq!(
                safe_stem(&info(name)).as_deref(),
                *want,
                "{}",
                String::from_utf8_lossy(name)
            );
        }
        assert_eq!(safe_stem(b"not bencode"), None);
        assert_eq!(safe_stem(b"d4:namei5ee"), None);
        let long = "\u{e9}".repeat(200);
        let stem = safe_stem(&info(long.as_bytes())).unwrap();
        assert!(stem.len() <= MAX_STEM && stem.chars().all(|c| c == '\u{e9}'));
    }

    #[test]
    fn never_takes_another_files_place() {
        let dir = Path::new("/load");
        let hash = InfoHash::from_bytes([0xab; 20]);
        let hex = hash.to_hex();
        let taken = |names: &'static [&'static str]| {
            move |p: &Path| names.iter().any(|n| p == Path::new("/load").join(n))
        };
        let pick = |stem, exists: &dyn Fn(&Path) -> bool| choose_path(dir, stem, &hash, exists);
        assert_eq!(pick(Some("a"), &taken(&[])), Some(dir.join("a.torrent")));
        assert_eq!(
            pick(Some("a"), &taken(&["a.torrent"])),
            Some(dir.join(format!("a.{hex}.torrent")))
        );
        assert_eq!(
            pick(None, &taken(&[])),
            Some(dir.join(format!("{hex}.torrent")))
        );
        assert_eq!(pick(None, &|_: &Path| true), None);
    }
}
