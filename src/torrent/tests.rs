//! Table tests for the parser and magnet links, on bencode written by hand
//! so every byte of each case is visible.

use super::*;
use sha1::{Digest, Sha1};

/// A bencode string: `<byte length>:<bytes>`.
fn s(text: &str) -> String {
    format!("{}:{}", text.len(), text)
}

/// `n` fake piece hashes, each 20 bytes.
fn hashes(n: usize) -> Vec<u8> {
    (0..n * 20).map(|i| (i % 251) as u8).collect()
}

/// Assembles a torrent: the top-level keys sorting before `info`, the info
/// dictionary's inside, then keys sorting after `info`.
fn torrent(before: &str, info_inner: &[u8], after: &str) -> Vec<u8> {
    let mut out = format!("d{before}4:infod").into_bytes();
    out.extend_from_slice(info_inner);
    out.extend_from_slice(format!("e{after}e").as_bytes());
    out
}

/// The inside of a single-file info dictionary.
fn single_info(name: &str, length: u64, piece_length: u64, pieces: usize) -> Vec<u8> {
    let mut out = format!(
        "6:lengthi{length}e4:name{}12:piece lengthi{piece_length}e6:pieces{}:",
        s(name),
        pieces * 20
    )
    .into_bytes();
    out.extend_from_slice(&hashes(pieces));
    out
}

fn single(name: &str) -> Vec<u8> {
    torrent(
        &format!("8:announce{}", s("http://t.example/announce")),
        &single_info(name, 100, 32, 4),
        "",
    )
}

/// The inside of a multi-file info dictionary with the given `files` list
/// body (`l...e` without the outer brackets).
fn multi_info(name: &str, files: &str, piece_length: u64, pieces: usize) -> Vec<u8> {
    let mut out = format!(
        "5:filesl{files}e4:name{}12:piece lengthi{piece_length}e6:pieces{}:",
        s(name),
        pieces * 20
    )
    .into_bytes();
    out.extend_from_slice(&hashes(pieces));
    out
}

fn file(length: i64, path: &[&str]) -> String {
    let parts: String = path.iter().map(|p| s(p)).collect();
    format!("d6:lengthi{length}e4:pathl{parts}ee")
}

fn parse_err(bytes: &[u8]) -> MetainfoError {
    match Metainfo::from_bytes(bytes) {
        Ok(m) => panic!("parsed, expected an error: {m:?}"),
        Err(e) => e,
    }
}

fn info_slice(bytes: &[u8]) -> &[u8] {
    let start = bytes.windows(6).position(|w| w == b"4:info").unwrap() + 6;
    &bytes[start..]
}

#[test]
fn single_file_torrent() {
    let bytes = single("disc.iso");
    let m = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(m.name(), "disc.iso");
    assert!(m.is_single_file());
    assert_eq!(m.total_size(), 100);
    assert_eq!(m.piece_length(), 32);
    assert_eq!(m.piece_count(), 4);
    assert_eq!(m.files().len(), 1);
    assert_eq!(m.files()[0].path, vec!["disc.iso".to_string()]);
    assert_eq!(m.files()[0].length, 100);
    assert_eq!(
        m.tracker_tiers(),
        &[vec!["http://t.example/announce".to_string()]]
    );
    assert!(!m.is_private());
    assert_eq!(m.web_seeds(), &[] as &[String]);
    assert_eq!(m.comment(), None);
    // The info dictionary is everything after "4:info" but the final "e".
    let info = info_slice(&bytes);
    let info = &info[..info.len() - 1];
    assert_eq!(m.info_bytes(), info);
    let expected: [u8; 20] = Sha1::digest(info).into();
    assert_eq!(m.info_hash().as_bytes(), &expected);
    assert_eq!(m.pieces(), &hashes(4)[..]);
}

#[test]
fn info_hash_covers_unknown_keys_as_found() {
    // A key lowspace does not know must still be hashed (no re-encoding from
    // the known fields): adding one changes the hash.
    let plain = Metainfo::from_bytes(&single("a")).unwrap();
    let mut inner = single_info("a", 100, 32, 4);
    inner.extend_from_slice(b"7:x-extrai1e");
    let extra = Metainfo::from_bytes(&torrent("", &inner, "")).unwrap();
    assert_ne!(plain.info_hash(), extra.info_hash());
    assert!(extra.info_bytes().ends_with(b"7:x-extrai1ee"));
}

#[test]
fn piece_hashes_and_sizes() {
    let m = Metainfo::from_bytes(&single("a")).unwrap();
    assert_eq!(m.piece_hash(0).unwrap().as_slice(), &hashes(4)[..20]);
    assert_eq!(m.piece_hash(3).unwrap().as_slice(), &hashes(4)[60..80]);
    assert_eq!(m.piece_hash(4), None);
    assert_eq!(m.piece_hash(usize::MAX), None);
    assert_eq!(m.piece_size(0), Some(32));
    assert_eq!(m.piece_size(3), Some(4)); // 100 - 3 * 32
    assert_eq!(m.piece_size(4), None);
}

#[test]
fn multi_file_torrent_with_nested_dirs_and_padding() {
    let files = format!(
        "{}{}{}",
        file(10, &["a.txt"]),
        "d4:attr1:p6:lengthi6e4:pathl4:.pad1:6ee",
        file(50, &["sub", "deeper", "b.bin"])
    );
    let m = Metainfo::from_bytes(&torrent("", &multi_info("album", &files, 16, 5), "")).unwrap();
    assert!(!m.is_single_file());
    assert_eq!(m.total_size(), 66);
    let paths: Vec<String> = m.files().iter().map(FileEntry::display_path).collect();
    assert_eq!(
        paths,
        ["album/a.txt", "album/.pad/6", "album/sub/deeper/b.bin"]
    );
    let offsets: Vec<u64> = m.files().iter().map(|f| f.offset).collect();
    assert_eq!(offsets, [0, 10, 16]);
    let padding: Vec<bool> = m.files().iter().map(|f| f.padding).collect();
    assert_eq!(padding, [false, true, false]);
    assert_eq!(
        m.files()[2].relative_path(),
        std::path::Path::new("album/sub/deeper/b.bin")
    );
}

#[test]
fn non_ascii_names_and_paths() {
    let files = file(3, &["Ünïcødé dir", "日本語 file.txt"]);
    let m = Metainfo::from_bytes(&torrent("", &multi_info("Café ☕", &files, 16, 1), "")).unwrap();
    assert_eq!(m.name(), "Café ☕");
    assert_eq!(
        m.files()[0].path,
        ["Café ☕", "Ünïcødé dir", "日本語 file.txt"]
    );
}

#[test]
fn tracker_tiers_follow_bep12() {
    let only_announce = Metainfo::from_bytes(&single("a")).unwrap();
    assert_eq!(only_announce.trackers(), ["http://t.example/announce"]);

    // announce-list wins over announce; empty tiers and addresses drop out;
    // a tracker in two tiers is listed once by trackers().
    let before = format!(
        "8:announce{}13:announce-listl{}l{}{}el{}e{}e",
        s("http://ignored/announce"),
        format_args!("l{}{}e", s("http://a/announce"), s("udp://b:80")),
        s("http://c/announce"),
        s("http://a/announce"),
        s(""),
        "le"
    );
    let m = Metainfo::from_bytes(&torrent(&before, &single_info("a", 1, 16, 1), "")).unwrap();
    assert_eq!(
        m.tracker_tiers(),
        &[
            vec!["http://a/announce".to_string(), "udp://b:80".to_string()],
            vec![
                "http://c/announce".to_string(),
                "http://a/announce".to_string()
            ],
        ]
    );
    assert_eq!(
        m.trackers(),
        ["http://a/announce", "udp://b:80", "http://c/announce"]
    );
}

#[test]
fn url_list_as_string_or_list() {
    let one = torrent(
        "",
        &single_info("a", 1, 16, 1),
        &format!("8:url-list{}", s("http://w/a")),
    );
    assert_eq!(
        Metainfo::from_bytes(&one).unwrap().web_seeds(),
        ["http://w/a"]
    );
    let many = torrent(
        "",
        &single_info("a", 1, 16, 1),
        &format!(
            "8:url-listl{}{}{}{}e",
            s("http://w/a"),
            s(""),
            s("http://x/"),
            s("http://w/a")
        ),
    );
    assert_eq!(
        Metainfo::from_bytes(&many).unwrap().web_seeds(),
        ["http://w/a", "http://x/"]
    );
    let empty = torrent("", &single_info("a", 1, 16, 1), "8:url-list0:");
    assert!(Metainfo::from_bytes(&empty).unwrap().web_seeds().is_empty());
}

#[test]
fn private_comment_creator_and_date() {
    let mut inner = single_info("a", 1, 16, 1);
    inner.extend_from_slice(b"7:privatei1e");
    let before = format!(
        "7:comment{}10:created by{}13:creation datei1700000000e",
        s("hi ✓"),
        s("mktorrent 1.1")
    );
    let m = Metainfo::from_bytes(&torrent(&before, &inner, "")).unwrap();
    assert!(m.is_private());
    assert_eq!(m.comment(), Some("hi ✓"));
    assert_eq!(m.created_by(), Some("mktorrent 1.1"));
    assert_eq!(m.creation_date(), Some(1_700_000_000));

    let mut inner = single_info("a", 1, 16, 1);
    inner.extend_from_slice(b"7:privatei0e");
    assert!(!Metainfo::from_bytes(&torrent("", &inner, ""))
        .unwrap()
        .is_private());
}

#[test]
fn informational_fields_of_the_wrong_type_are_ignored() {
    let before = "7:commenti5e10:created byle13:creation date3:now";
    let m = Metainfo::from_bytes(&torrent(before, &single_info("a", 1, 16, 1), "")).unwrap();
    assert_eq!(
        (m.comment(), m.created_by(), m.creation_date()),
        (None, None, None)
    );
    // Non-UTF-8 comment is shown lossily rather than refused.
    let mut bytes = b"d7:comment2:\xff\xfe4:infod".to_vec();
    bytes.extend_from_slice(&single_info("a", 1, 16, 1));
    bytes.extend_from_slice(b"ee");
    assert_eq!(
        Metainfo::from_bytes(&bytes).unwrap().comment(),
        Some("\u{fffd}\u{fffd}")
    );
}

// ---- errors, one case each, checking the message a user sees ----

fn assert_message(bytes: &[u8], expected: MetainfoError, text: &str) {
    let error = parse_err(bytes);
    assert_eq!(error, expected);
    assert!(error.to_string().contains(text), "{error} lacks {text:?}");
}

#[test]
fn empty_input() {
    assert_message(b"", MetainfoError::Empty, "empty");
}

#[test]
fn every_truncation_is_an_error_and_most_say_truncated() {
    let bytes = single("name");
    for cut in 1..bytes.len() {
        let error = parse_err(&bytes[..cut]);
        // Cutting inside "4:info" leaves a valid-looking key with no value,
        // still truncation; all cuts must be reported as truncated.
        assert!(
            matches!(error, MetainfoError::Truncated { .. }),
            "cut at {cut}: {error}"
        );
    }
    // A cut inside the piece hashes names the info dictionary.
    let error = parse_err(&bytes[..bytes.len() - 10]);
    assert_eq!(
        error.to_string(),
        "info: truncated (the data ends before this value does)"
    );
}

#[test]
fn not_bencode() {
    let error = parse_err(b"<html>not found</html>");
    assert!(
        matches!(&error, MetainfoError::NotBencode { field, .. } if field == "torrent"),
        "{error}"
    );
    assert!(
        error.to_string().starts_with("torrent: not valid bencode"),
        "{error}"
    );
    // A broken integer inside info.
    let mut inner = single_info("a", 1, 16, 1);
    inner.extend_from_slice(b"7:privatei0x1e");
    let error = parse_err(&torrent("", &inner, ""));
    assert!(
        matches!(&error, MetainfoError::NotBencode { field, .. } if field == "info"),
        "{error}"
    );
}

#[test]
fn top_level_must_be_a_dictionary() {
    assert_message(
        b"li1ee",
        MetainfoError::WrongType {
            field: "torrent".into(),
            expected: "a dictionary",
            found: "a list",
        },
        "torrent: expected a dictionary, found a list",
    );
}

#[test]
fn trailing_garbage() {
    let mut bytes = single("a");
    let len = bytes.len();
    bytes.extend_from_slice(b"junk");
    assert_message(
        &bytes,
        MetainfoError::TrailingData {
            offset: len,
            extra: 4,
        },
        "4 unexpected bytes",
    );
    // A stray end marker is trailing data too.
    let mut bytes = single("a");
    bytes.push(b'e');
    assert!(matches!(
        parse_err(&bytes),
        MetainfoError::TrailingData { extra: 1, .. }
    ));
}

/// Unsorted keys are read, as rtorrent and libtorrent read them, and the
/// info-hash is over the bytes as they are; a repeated key is refused,
/// because clients disagree on which of its values counts.
#[test]
fn unsorted_keys_are_read_repeated_keys_refused() {
    let info = format!(
        "d4:name1:a6:pieces20:{}12:piece lengthi16e6:lengthi1ee",
        "h".repeat(20)
    );
    let bytes = format!("d4:info{info}8:announce9:http://t/e");
    let meta = Metainfo::from_bytes(bytes.as_bytes()).unwrap();
    assert_eq!(meta.info_bytes(), info.as_bytes());
    let expected: [u8; 20] = Sha1::digest(info.as_bytes()).into();
    assert_eq!(meta.info_hash().as_bytes(), &expected);
    assert_eq!(meta.trackers(), vec!["http://t/"]);

    let error = parse_err(b"d4:infod4:name1:a4:name1:b6:lengthi1eee");
    assert!(
        matches!(&error, MetainfoError::NotBencode { field, detail } if field == "info" && detail.contains("\"name\" repeats")),
        "{error}"
    );
    let error = parse_err(b"d1:ai1e1:ai2ee");
    assert!(
        matches!(&error, MetainfoError::NotBencode { field, detail } if field == "torrent" && detail.contains("\"a\" repeats")),
        "{error}"
    );
}

#[test]
fn nesting_too_deep() {
    let mut bytes = b"d1:x".to_vec();
    bytes.extend(std::iter::repeat_n(b'l', 1000));
    bytes.extend(std::iter::repeat_n(b'e', 1000));
    bytes.push(b'e');
    let error = parse_err(&bytes);
    assert!(
        matches!(&error, MetainfoError::NotBencode { detail, .. } if detail.contains("nested")),
        "{error}"
    );
}

#[test]
fn missing_fields() {
    let no_info = format!("d8:announce{}e", s("http://t/"));
    assert_message(
        no_info.as_bytes(),
        MetainfoError::Missing {
            field: "info".into(),
        },
        "info: missing",
    );
    let cases: &[(&str, &str)] = &[
        (
            "6:lengthi1e12:piece lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaa",
            "info.name",
        ),
        (
            "6:lengthi1e4:name1:a6:pieces20:aaaaaaaaaaaaaaaaaaaa",
            "info.piece length",
        ),
        ("6:lengthi1e4:name1:a12:piece lengthi16e", "info.pieces"),
        (
            "4:name1:a12:piece lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaa",
            "info.files",
        ),
        (
            "5:filesld4:pathl1:xeee4:name1:a12:piece lengthi16e6:pieces0:",
            "info.files[0].length",
        ),
        (
            "5:filesld6:lengthi1eee4:name1:a12:piece lengthi16e6:pieces0:",
            "info.files[0].path",
        ),
    ];
    for (inner, field) in cases {
        let error = parse_err(&torrent("", inner.as_bytes(), ""));
        assert_eq!(
            error,
            MetainfoError::Missing {
                field: field.to_string()
            },
            "{inner}"
        );
        assert_eq!(error.to_string(), format!("{field}: missing"));
    }
}

#[test]
fn wrong_types_name_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "6:lengthi1e4:name1:a12:piece length2:166:pieces20:aaaaaaaaaaaaaaaaaaaa",
            "info.piece length: expected an integer, found a string",
            "",
        ),
        (
            "6:lengthi1e4:namei5e12:piece lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaa",
            "info.name: expected a string, found an integer",
            "",
        ),
        (
            "6:lengthi1e4:name1:a12:piece lengthi16e6:piecesle",
            "info.pieces: expected a string, found a list",
            "",
        ),
        (
            "5:filesd1:xi1ee4:name1:a12:piece lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaa",
            "info.files: expected a list, found a dictionary",
            "",
        ),
        (
            "5:filesli1ee4:name1:a12:piece lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaa",
            "info.files[0]: expected a dictionary, found an integer",
            "",
        ),
        (
            "5:filesld6:lengthi1e4:pathli7eeee4:name1:a12:piece lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaa",
            "info.files[0].path[0]: expected a string, found an integer",
            "",
        ),
        (
            "6:lengthi1e4:name1:a12:piece lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaa7:private1:1",
            "info.private: expected an integer, found a string",
            "",
        ),
        (
            "6:lengthi1e4:name1:a12:piece lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaa",
            "announce: expected a string, found a list",
            "8:announcele",
        ),
        (
            "6:lengthi1e4:name1:a12:piece lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaa",
            "announce-list[1]: expected a list, found a string",
            "13:announce-listlle1:xe",
        ),
    ];
    for (inner, message, before) in cases {
        let error = parse_err(&torrent(before, inner.as_bytes(), ""));
        assert!(matches!(error, MetainfoError::WrongType { .. }), "{error}");
        assert_eq!(&error.to_string(), message);
    }
    let url_list = torrent(
        "",
        b"6:lengthi1e4:name1:a12:piece lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaa",
        "8:url-listi1e",
    );
    assert_eq!(
        parse_err(&url_list).to_string(),
        "url-list: expected a string or a list of strings, found an integer"
    );
    let info_not_dict = b"d4:info4:nopee";
    assert_eq!(
        parse_err(info_not_dict).to_string(),
        "info: expected a dictionary, found a string"
    );
}

#[test]
fn bad_integers() {
    let negative = single_info("a", 1, 16, 1);
    let negative = String::from_utf8_lossy(&negative).replace("6:lengthi1e", "6:lengthi-5e");
    assert_message(
        &torrent("", negative.as_bytes(), ""),
        MetainfoError::BadInteger {
            field: "info.length".into(),
            value: "-5".into(),
            reason: "negative",
        },
        "info.length: -5 is negative",
    );
    let negative_file = multi_info("d", &file(-1, &["x"]), 16, 1);
    assert!(matches!(
        parse_err(&torrent("", &negative_file, "")),
        MetainfoError::BadInteger { field, .. } if field == "info.files[0].length"
    ));
    // Beyond i64: the decoder refuses it, naming the dictionary and offset.
    let huge = "6:lengthi99999999999999999999999e4:name1:a12:piece lengthi16e6:pieces0:";
    let error = parse_err(&torrent("", huge.as_bytes(), ""));
    assert!(
        matches!(&error, MetainfoError::NotBencode { field, detail } if field == "info" && detail.contains("bad integer")),
        "{error}"
    );
    let zero = "6:lengthi1e4:name1:a12:piece lengthi0e6:pieces20:aaaaaaaaaaaaaaaaaaaa";
    let error = parse_err(&torrent("", zero.as_bytes(), ""));
    assert!(
        error
            .to_string()
            .starts_with("info.piece length: 0 is zero"),
        "{error}"
    );
    let overflow = multi_info(
        "d",
        &format!(
            "{}{}{}",
            file(i64::MAX, &["x"]),
            file(i64::MAX, &["y"]),
            file(i64::MAX, &["z"])
        ),
        1 << 40,
        1,
    );
    assert!(matches!(
        parse_err(&torrent("", &overflow, "")),
        MetainfoError::BadInteger { field, .. } if field == "info.files[2].length"
    ));
}

#[test]
fn names_and_paths_must_be_utf8() {
    let mut inner = b"6:lengthi1e4:name2:\xff\xfe12:piece lengthi16e6:pieces20:".to_vec();
    inner.extend_from_slice(&hashes(1));
    assert_message(
        &torrent("", &inner, ""),
        MetainfoError::NotUtf8 {
            field: "info.name".into(),
        },
        "info.name: not valid UTF-8",
    );
    let mut inner =
        b"5:filesld6:lengthi1e4:pathl1:a1:\xffeee4:name1:d12:piece lengthi16e6:pieces20:".to_vec();
    inner.extend_from_slice(&hashes(1));
    assert_eq!(
        parse_err(&torrent("", &inner, "")),
        MetainfoError::NotUtf8 {
            field: "info.files[0].path[1]".into()
        }
    );
}

#[test]
fn unsafe_paths_are_refused() {
    let cases: &[(&[&str], &str)] = &[
        (&["..", "etc", "passwd"], "'..'"),
        (&["a", "..", "b"], "'..'"),
        (&[".", "a"], "'.'"),
        (&["a", "", "b"], "empty component"),
        (&["/etc", "passwd"], "'/'"),
        (&["a/../../b"], "'/'"),
        (&["a\0b"], "NUL"),
        (&[], "no components"),
    ];
    for (path, reason) in cases {
        let info = multi_info(
            "d",
            &format!("{}{}", file(1, &["ok"]), file(1, path)),
            16,
            1,
        );
        let error = parse_err(&torrent("", &info, ""));
        let MetainfoError::UnsafePath {
            field, path: shown, ..
        } = &error
        else {
            panic!("{path:?}: {error}");
        };
        assert_eq!(field, "info.files[1].path");
        assert_eq!(shown, &path.join("/"));
        let text = error.to_string();
        assert!(
            text.contains(reason) && text.starts_with("info.files[1].path: unsafe file path"),
            "{text}"
        );
    }
    for name in ["..", ".", "", "a/b", "/abs"] {
        let error = parse_err(&torrent("", &single_info(name, 1, 16, 1), ""));
        assert!(
            matches!(&error, MetainfoError::UnsafePath { field, .. } if field == "info.name"),
            "{name:?}: {error}"
        );
    }
}

#[test]
fn pieces_must_be_whole_hashes() {
    let mut inner = b"6:lengthi1e4:name1:a12:piece lengthi16e6:pieces19:".to_vec();
    inner.extend_from_slice(&[7; 19]);
    assert_message(
        &torrent("", &inner, ""),
        MetainfoError::PiecesNotWhole { length: 19 },
        "info.pieces: 19 bytes is not a whole number",
    );
}

#[test]
fn piece_count_must_fit_total_size() {
    // 100 bytes in 32-byte pieces need 4 hashes; 3 and 5 are wrong.
    for given in [3, 5] {
        assert_message(
            &torrent("", &single_info("a", 100, 32, given), ""),
            MetainfoError::PieceCountMismatch {
                found: given as u64,
                expected: 4,
                total_size: 100,
                piece_length: 32,
            },
            "need 4",
        );
    }
}

#[test]
fn both_length_and_files() {
    let inner = "5:filesld6:lengthi1e4:pathl1:xeee6:lengthi1e4:name1:a12:piece lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaa";
    assert_message(
        &torrent("", inner.as_bytes(), ""),
        MetainfoError::BothLengthAndFiles,
        "both",
    );
}

#[test]
fn no_data() {
    assert_message(
        &torrent("", &single_info("a", 0, 16, 0), ""),
        MetainfoError::NoData,
        "no data",
    );
    assert_message(
        &torrent("", &multi_info("d", "", 16, 0), ""),
        MetainfoError::NoData,
        "no data",
    );
}

// ---- v2 (BEP 52) and hybrid ----

use super::create::{FileTorrent, Format, Metadata, SingleFileInfo, V2Hashes};
use sha2::Sha256;

/// A v2 file leaf: `d0:d6:lengthi<L>e11:pieces root32:<root>ee`.
fn leaf(length: u64, root: Option<&[u8]>) -> Vec<u8> {
    let mut out = format!("d0:d6:lengthi{length}e").into_bytes();
    if let Some(root) = root {
        out.extend_from_slice(format!("11:pieces root{}:", root.len()).as_bytes());
        out.extend_from_slice(root);
    }
    out.extend_from_slice(b"ee");
    out
}

/// The inside of a v2-only info dictionary over `tree` (a whole bencoded
/// dictionary).
fn v2_info(tree: &[u8], meta_version: Option<i64>, name: &str, piece_length: u64) -> Vec<u8> {
    let mut out = b"9:file tree".to_vec();
    out.extend_from_slice(tree);
    if let Some(v) = meta_version {
        out.extend_from_slice(format!("12:meta versioni{v}e").as_bytes());
    }
    out.extend_from_slice(format!("4:name{}12:piece lengthi{piece_length}e", s(name)).as_bytes());
    out
}

/// `d<name>` + `value` + `e`.
fn dir(name: &str, value: &[u8]) -> Vec<u8> {
    let mut out = format!("d{}", s(name)).into_bytes();
    out.extend_from_slice(value);
    out.push(b'e');
    out
}

/// A real single-file torrent of `length` bytes of a pattern, as `tree`
/// writes it.
fn made(format: Format, length: u64, piece_length: u64) -> (Vec<u8>, FileTorrent) {
    let data: Vec<u8> = (0..length).map(|i| (i * 13) as u8).collect();
    let v1: Vec<u8> = data
        .chunks(piece_length as usize)
        .flat_map(|p| Sha1::digest(p).to_vec())
        .collect();
    let v2_pieces: Vec<[u8; 32]> = data
        .chunks(piece_length as usize)
        .map(|piece| {
            let blocks: Vec<[u8; 32]> = piece
                .chunks(16384)
                .map(|b| Sha256::digest(b).into())
                .collect();
            super::create::v2_piece_hash(&blocks, piece_length, data.len() as u64 <= piece_length)
        })
        .collect();
    let torrent = FileTorrent {
        format,
        info: SingleFileInfo {
            name: "f.bin".into(),
            length,
            piece_length,
            pieces: if format.has_v1() { v1 } else { Vec::new() },
            private: false,
        },
        v2: format
            .has_v2()
            .then(|| V2Hashes::from_piece_hashes(&v2_pieces, piece_length)),
    };
    (torrent.encode(&Metadata::default()).unwrap(), torrent)
}

#[test]
fn v2_and_hybrid_torrents_are_read_with_their_hashes() {
    for format in [Format::V2, Format::Hybrid] {
        let (bytes, made) = made(format, 3 * 16384 + 5, 16384);
        let m = Metainfo::from_bytes(&bytes).unwrap();
        let sha256: [u8; 32] = Sha256::digest(m.info_bytes()).into();
        assert_eq!(m.info_hash_v2(), Some(sha256));
        let v2 = made.v2.unwrap();
        assert_eq!(m.files().len(), 1);
        assert_eq!(m.files()[0].path, ["f.bin"]);
        assert_eq!(m.files()[0].pieces_root, Some(v2.pieces_root));
        assert_eq!(m.piece_layer(&v2.pieces_root), Some(&v2.piece_layer[..]));
        assert_eq!(m.piece_count(), 4);
        assert!(m.is_single_file());
        if format == Format::V2 {
            assert_eq!(m.version(), TorrentVersion::V2);
            assert_eq!(m.info_hash().as_bytes()[..], sha256[..20]);
            assert!(m.pieces().is_empty());
        } else {
            assert_eq!(m.version(), TorrentVersion::Hybrid);
            assert_eq!(m.info_hash(), InfoHash::of_info_bytes(m.info_bytes()));
            assert_eq!(m.pieces(), &made.info.pieces[..]);
        }
    }
}

#[test]
fn a_v2_torrent_without_piece_layers_is_read_as_from_a_magnet() {
    let (bytes, made) = made(Format::V2, 3 * 16384, 16384);
    let cut = bytes
        .windows(15)
        .position(|w| w == b"12:piece layers")
        .unwrap();
    let mut without = bytes[..cut].to_vec();
    without.push(b'e');
    let m = Metainfo::from_bytes(&without).unwrap();
    assert_eq!(m.piece_layer(&made.v2.unwrap().pieces_root), None);
}

#[test]
fn v2_multi_file_tree_paths_and_aligned_offsets() {
    let tree = {
        let mut t = b"d".to_vec();
        t.extend_from_slice(&s("a.txt").into_bytes());
        t.extend_from_slice(&leaf(5, Some(&[1; 32])));
        t.extend_from_slice(&s("empty").into_bytes());
        t.extend_from_slice(&leaf(0, None));
        t.extend_from_slice(&s("sub").into_bytes());
        t.extend_from_slice(&dir("b.bin", &leaf(16384, Some(&[2; 32]))));
        t.push(b'e');
        t
    };
    let bytes = torrent("", &v2_info(&tree, Some(2), "album", 16384), "");
    let m = Metainfo::from_bytes(&bytes).unwrap();
    let files: Vec<(String, u64, u64)> = m
        .files()
        .iter()
        .map(|f| (f.display_path(), f.length, f.offset))
        .collect();
    assert_eq!(
        files,
        [
            ("album/a.txt".to_string(), 5, 0),
            ("album/empty".to_string(), 0, 16384),
            ("album/sub/b.bin".to_string(), 16384, 16384),
        ]
    );
    assert!(!m.is_single_file());
    assert_eq!((m.total_size(), m.piece_count()), (16389, 2));
}

#[test]
fn v2_errors_name_their_field() {
    let one = dir("f", &leaf(5, Some(&[7; 32])));
    let good = torrent("", &v2_info(&one, Some(2), "f", 16384), "");
    assert!(Metainfo::from_bytes(&good).is_ok());
    let cases: Vec<(Vec<u8>, MetainfoError, &str)> = vec![
        (
            torrent("", &v2_info(&one, Some(3), "f", 16384), ""),
            MetainfoError::MetaVersion { value: 3 },
            "3 is not 2",
        ),
        (
            torrent("", &v2_info(&one, None, "f", 16384), ""),
            MetainfoError::Missing {
                field: "info.meta version".into(),
            },
            "info.meta version: missing",
        ),
        (
            torrent("", b"12:meta versioni2e4:name1:f12:piece lengthi16384e", ""),
            MetainfoError::Missing {
                field: "info.file tree".into(),
            },
            "info.file tree: missing",
        ),
        (
            torrent("", &v2_info(&one, Some(2), "f", 16383), ""),
            MetainfoError::BadInteger {
                field: "info.piece length".into(),
                value: "16383".into(),
                reason: "not a power of two of at least 16 KiB, as v2 needs",
            },
            "power of two",
        ),
        (
            torrent("", &v2_info(b"d1:fdee", Some(2), "f", 16384), ""),
            MetainfoError::BadFileTree {
                field: "info.file tree.f".into(),
                reason: "an empty directory",
            },
            "empty directory",
        ),
        (
            torrent(
                "",
                &v2_info(&leaf(5, Some(&[7; 32])), Some(2), "f", 16384),
                "",
            ),
            MetainfoError::BadFileTree {
                field: "info.file tree".into(),
                reason: "a file without a name",
            },
            "without a name",
        ),
        (
            torrent(
                "",
                &v2_info(
                    &dir(
                        "f",
                        &[
                            &leaf(5, Some(&[7; 32]))[..leaf(5, Some(&[7; 32])).len() - 1],
                            b"1:xd0:d6:lengthi0eeee",
                        ]
                        .concat(),
                    ),
                    Some(2),
                    "f",
                    16384,
                ),
                "",
            ),
            MetainfoError::BadFileTree {
                field: "info.file tree.f".into(),
                reason: "both a file and a directory",
            },
            "both a file and a directory",
        ),
        (
            torrent(
                "",
                &v2_info(&dir("f", &leaf(5, Some(&[7; 31]))), Some(2), "f", 16384),
                "",
            ),
            MetainfoError::BadHashLength {
                field: "info.file tree.f..pieces root".into(),
                length: 31,
                expected: 32,
            },
            "31 bytes, a 32-byte SHA-256 expected",
        ),
        (
            torrent(
                "",
                &v2_info(&dir("f", &leaf(5, None)), Some(2), "f", 16384),
                "",
            ),
            MetainfoError::Missing {
                field: "info.file tree.f..pieces root".into(),
            },
            "pieces root: missing",
        ),
        (
            torrent(
                "",
                &v2_info(&dir("..", &leaf(5, Some(&[7; 32]))), Some(2), "f", 16384),
                "",
            ),
            MetainfoError::UnsafePath {
                field: "info.file tree...".into(),
                path: "..".into(),
                reason: "a '..' component would climb out of the download directory",
            },
            "unsafe file path",
        ),
        (
            torrent(
                "",
                &v2_info(&one, Some(2), "f", 16384),
                "12:piece layersd3:abc0:e",
            ),
            MetainfoError::BadHashLength {
                field: "piece layers[0]".into(),
                length: 3,
                expected: 32,
            },
            "piece layers[0]: 3 bytes",
        ),
    ];
    for (bytes, expected, message) in cases {
        let error = parse_err(&bytes);
        assert_eq!(error, expected, "{}", String::from_utf8_lossy(&bytes));
        assert!(error.to_string().contains(message), "{error}");
    }
}

#[test]
fn v2_piece_layers_must_match_their_roots() {
    let (bytes, made) = made(Format::V2, 3 * 16384, 16384);
    let v2 = made.v2.unwrap();
    let at = bytes
        .windows(v2.piece_layer.len())
        .position(|w| w == v2.piece_layer)
        .unwrap();
    // A flipped byte in the layer.
    let mut flipped = bytes.clone();
    flipped[at] ^= 1;
    let error = parse_err(&flipped);
    assert_eq!(
        error,
        MetainfoError::BadPieceLayer {
            path: "f.bin".into(),
            reason: "its hashes do not lead to the file's pieces root".into()
        }
    );
    assert!(error
        .to_string()
        .contains("piece layers: the layer of f.bin"));
    // A layer one hash short.
    let head = &bytes[..at - 3];
    let mut short = head.to_vec();
    short.extend_from_slice(b"64:");
    short.extend_from_slice(&v2.piece_layer[..64]);
    short.extend_from_slice(&bytes[at + v2.piece_layer.len()..]);
    assert!(matches!(
        parse_err(&short),
        MetainfoError::BadPieceLayer { reason, .. } if reason.contains("64 bytes, but 3 pieces need 96 bytes")
    ));
    // `piece layers` given without this file's layer.
    let root_at = at - 3 - 35;
    let mut missing = bytes[..root_at].to_vec();
    missing.extend_from_slice(b"e");
    missing.extend_from_slice(&bytes[at + v2.piece_layer.len() + 1..]);
    let error = parse_err(&missing);
    assert_eq!(
        error,
        MetainfoError::MissingPieceLayer {
            path: "f.bin".into()
        }
    );
    assert!(error.to_string().contains("no layer for f.bin"));
}

#[test]
fn a_hybrid_whose_parts_differ_is_refused() {
    let (bytes, _) = made(Format::Hybrid, 100, 16384);
    // The v1 length says 99 while the tree says 100.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(text.contains("6:lengthi100e12:meta version"));
    let at = bytes
        .windows(26)
        .position(|w| w == b"6:lengthi100e12:meta versi")
        .unwrap();
    let mut changed = bytes.clone();
    changed[at + 9..at + 12].copy_from_slice(b"101");
    let error = parse_err(&changed);
    assert!(
        matches!(&error, MetainfoError::HybridMismatch { detail } if detail.contains("v1 file f.bin (101 bytes) but v2 file f.bin (100 bytes)")),
        "{error}"
    );
    assert!(error.to_string().contains("v1 and v2 parts"));
}

#[test]
fn from_file_names_the_file() {
    let dir = std::env::temp_dir().join(format!("lowspace-unit-torrent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.torrent");
    std::fs::write(&good, single("a")).unwrap();
    assert_eq!(Metainfo::from_file(&good).unwrap().name(), "a");
    let bad = dir.join("bad.torrent");
    std::fs::write(&bad, b"d4:infod4:name2:..ee").unwrap();
    let error = Metainfo::from_file(&bad).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}: info", bad.display())),
        "{error}"
    );
    assert!(error.metainfo_error().is_some());
    let missing = Metainfo::from_file(&dir.join("nope.torrent")).unwrap_err();
    assert!(matches!(missing, LoadError::Read { .. }));
    assert!(
        missing.to_string().contains("nope.torrent: cannot read"),
        "{missing}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- magnet links ----

fn sample_magnet() -> MagnetLink {
    MagnetLink {
        info_hash: InfoHash::of_info_bytes(b"x"),
        info_hash_v2: None,
        display_name: Some("Café & Crème = 100% +1 / ☕".into()),
        trackers: vec!["http://t/announce?key=a&b=c".into(), "udp://u:6969".into()],
        web_seeds: vec!["https://w.example/files/".into()],
    }
}

#[test]
fn magnet_from_torrent_has_every_tracker_once_and_web_seeds() {
    let before = format!(
        "13:announce-listl{}{}e",
        format_args!("l{}{}e", s("http://a/announce"), s("udp://b:80")),
        format_args!("l{}{}e", s("http://c/announce"), s("http://a/announce")),
    );
    let bytes = torrent(
        &before,
        &single_info("Ünï name", 1, 16, 1),
        &format!("8:url-list{}", s("http://w/")),
    );
    let m = Metainfo::from_bytes(&bytes).unwrap();
    let magnet = MagnetLink::for_torrent(&m);
    assert_eq!(
        magnet.trackers,
        ["http://a/announce", "udp://b:80", "http://c/announce"]
    );
    let uri = magnet.to_uri();
    assert_eq!(
        uri,
        format!(
            "magnet:?xt=urn:btih:{}&dn=%C3%9Cn%C3%AF%20name\
             &tr=http%3A%2F%2Fa%2Fannounce&tr=udp%3A%2F%2Fb%3A80&tr=http%3A%2F%2Fc%2Fannounce\
             &ws=http%3A%2F%2Fw%2F",
            m.info_hash().to_hex()
        )
    );
    assert_eq!(MagnetLink::parse(&uri).unwrap(), magnet);
}

#[test]
fn magnet_round_trip_with_awkward_characters() {
    let magnet = sample_magnet();
    let uri = magnet.to_uri();
    assert!(uri.is_ascii());
    // No raw separator may survive inside a value.
    let values = uri.trim_start_matches("magnet:?");
    // xt, dn, two tr and one ws: five parameters.
    assert_eq!(values.matches('&').count(), 4);
    assert_eq!(values.matches('=').count(), 5);
    assert!(!uri.contains('+') && !uri.contains(' '));
    assert_eq!(MagnetLink::parse(&uri).unwrap(), magnet);
    assert_eq!(magnet.to_string(), uri);
}

#[test]
fn percent_encoding() {
    assert_eq!(percent_encode("aZ09-._~"), "aZ09-._~");
    assert_eq!(
        percent_encode("a b&c=d%e+f/g?h#"),
        "a%20b%26c%3Dd%25e%2Bf%2Fg%3Fh%23"
    );
    assert_eq!(percent_encode("é"), "%C3%A9");
    assert_eq!(
        percent_decode("dn", "a%20b+c%c3%a9", true).unwrap(),
        "a b cé".as_bytes()
    );
    assert_eq!(percent_decode("tr", "a+b", false).unwrap(), b"a+b");
}

#[test]
fn magnet_parse_forms() {
    let hash = InfoHash::of_info_bytes(b"y");
    let b32 = format!("magnet:?xt=urn:btih:{}&dn=two+words&tr.1=http%3A%2F%2Fa&tr.2=http://b&tr=http://a&x.pe=1.2.3.4:5", hash.to_base32().to_lowercase());
    let magnet = MagnetLink::parse(&b32).unwrap();
    assert_eq!(magnet.info_hash, hash);
    assert_eq!(magnet.display_name.as_deref(), Some("two words"));
    assert_eq!(magnet.trackers, ["http://a", "http://b"]);
    let upper = format!("MAGNET:?XT=urn:btih:{}", hash.to_hex_upper());
    assert_eq!(MagnetLink::parse(&upper).unwrap(), MagnetLink::new(hash));
    // Hybrid magnets carry both; the v1 hash names it on the wire.
    let hybrid = format!(
        "magnet:?xt=urn:btmh:1220{}&xt=urn:btih:{}",
        "ab".repeat(32),
        hash
    );
    let parsed = MagnetLink::parse(&hybrid).unwrap();
    assert_eq!(parsed.info_hash, hash);
    assert_eq!(parsed.info_hash_v2, Some([0xab; 32]));
    assert_eq!(
        parsed.to_uri(),
        format!(
            "magnet:?xt=urn:btih:{}&xt=urn:btmh:1220{}",
            hash,
            "ab".repeat(32)
        )
    );
}

#[test]
fn magnet_errors() {
    let hash = InfoHash::of_info_bytes(b"z");
    let cases: Vec<(String, MagnetError, &str)> = vec![
        (
            "http://x/".into(),
            MagnetError::NotMagnet,
            "must start with magnet:?",
        ),
        ("".into(), MagnetError::NotMagnet, "not a magnet"),
        (
            "magnet:?dn=x".into(),
            MagnetError::NoInfoHash,
            "no xt=urn:btih",
        ),
        (
            format!("magnet:?xt=urn:btmh:1220{}", "ab".repeat(32)),
            MagnetError::OnlyV2,
            "v2",
        ),
        (
            format!(
                "magnet:?xt=urn:btih:{hash}&xt=urn:btmh:1114{}",
                "ab".repeat(20)
            ),
            MagnetError::BadInfoHash {
                value: format!("1114{}", "ab".repeat(20)),
                reason: "a v2 hash must start with 1220 (SHA-256, 32 bytes)".into(),
            },
            "1220",
        ),
        (
            format!("magnet:?xt=urn:btih:{hash}&xt=urn:btmh:1220abcd"),
            MagnetError::BadInfoHash {
                value: "1220abcd".into(),
                reason: "a v2 hash is 1220 and 64 hex digits".into(),
            },
            "64 hex digits",
        ),
        (
            format!(
                "magnet:?xt=urn:btih:{hash}&xt=urn:btmh:1220{}",
                "zz".repeat(32)
            ),
            MagnetError::BadInfoHash {
                value: format!("1220{}", "zz".repeat(32)),
                reason: "a v2 hash contains a character that is not a hex digit".into(),
            },
            "not a hex digit",
        ),
        (
            "magnet:?xt=urn:btih:abc".into(),
            MagnetError::BadInfoHash {
                value: "abc".into(),
                reason: "3 characters, 40 hex digits expected".into(),
            },
            "bad info-hash",
        ),
        (
            format!("magnet:?xt=urn:btih:{hash}&tr=%zz"),
            MagnetError::BadPercentEncoding {
                parameter: "tr".into(),
            },
            "tr: '%'",
        ),
        (
            format!("magnet:?xt=urn:btih:{hash}&dn=%4"),
            MagnetError::BadPercentEncoding {
                parameter: "dn".into(),
            },
            "dn",
        ),
        (
            format!("magnet:?xt=urn:btih:{hash}&ws=%ff"),
            MagnetError::NotUtf8 {
                parameter: "ws".into(),
            },
            "ws: not valid UTF-8",
        ),
    ];
    for (text, expected, message) in cases {
        let error = MagnetLink::parse(&text).unwrap_err();
        assert_eq!(error, expected, "{text}");
        assert!(error.to_string().contains(message), "{error}");
    }
}

#[test]
fn info_offset_points_at_the_info_dictionary_in_the_file() {
    let bytes = torrent("8:announce9:http://t/", &single_info("a", 5, 16384, 1), "");
    let meta = Metainfo::from_bytes(&bytes).unwrap();
    let start = meta.info_offset();
    let end = start + meta.info_bytes().len();
    assert_eq!(&bytes[start..end], meta.info_bytes());
    assert_eq!(&bytes[start - 6..start], b"4:info");
}
