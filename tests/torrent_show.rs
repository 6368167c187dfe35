//! `lowspace show` and `lowspace magnet` on torrents made by the real
//! mktorrent, checked against what real libtorrent reads from the same file.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::libtorrent_info;
use support::mktorrent;
use support::{run_lowspace, tempdir::TempDir};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn lowspace(home: &Path, args: &[&str]) -> Run {
    let out = run_lowspace(home, args, &[]);
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn show_json(home: &Path, torrent: &Path) -> Value {
    let run = lowspace(home, &["show", "--json", &torrent.to_string_lossy()]);
    assert_eq!(run.code, Some(0), "show --json failed: {}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1, "one JSON object on one line");
    serde_json::from_str(&run.stdout).expect("show --json prints JSON")
}

/// Our file list and sizes against libtorrent's.
fn assert_same_as_libtorrent(ours: &Value, theirs: &Value) {
    assert_eq!(ours["info_hash"], theirs["info_hash"]);
    assert_eq!(ours["name"], theirs["name"]);
    assert_eq!(ours["total_size"], theirs["total_size"]);
    assert_eq!(ours["piece_length"], theirs["piece_length"]);
    assert_eq!(ours["piece_count"], theirs["num_pieces"]);
    assert_eq!(ours["private"], theirs["private"]);
    let our_files: Vec<(String, u64)> = ours["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["length"].as_u64().unwrap(),
            )
        })
        .collect();
    let their_files: Vec<(String, u64)> = theirs["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(our_files, their_files);
    // libtorrent lists trackers flat with a tier number; ours are nested.
    let their_tiers: Vec<(String, u64)> = theirs["trackers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["url"].as_str().unwrap().to_string(),
                t["tier"].as_u64().unwrap(),
            )
        })
        .collect();
    let our_tiers: Vec<(String, u64)> = ours["trackers"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .flat_map(|(tier, urls)| {
            urls.as_array()
                .unwrap()
                .iter()
                .map(move |u| (u.as_str().unwrap().to_string(), tier as u64))
        })
        .collect();
    // BEP 12: libtorrent shuffles trackers within a tier, so compare each
    // tier as a set, tiers in order.
    let (mut our_tiers, mut their_tiers) = (our_tiers, their_tiers);
    our_tiers.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    their_tiers.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    assert_eq!(our_tiers, their_tiers);
    assert_eq!(ours["web_seeds"], theirs["web_seeds"]);
}

/// A multi-file torrent with nested directories, a name with spaces and
/// non-ASCII letters, two tracker tiers, two web seeds, private, comment.
fn multi_file_torrent(dir: &TempDir) -> PathBuf {
    let root = dir.join("Ünïcødé album 日本");
    mktorrent::write_data(&root.join("01 first track.flac"), 300_000, 1);
    mktorrent::write_data(&root.join("cover.jpg"), 12_345, 2);
    mktorrent::write_data(&root.join("extras/deep/zz"), 70_001, 3);
    mktorrent::write_data(&root.join("extras/notes é.txt"), 17, 4);
    mktorrent::make(
        dir.path(),
        "Ünïcødé album 日本",
        "album.torrent",
        &[
            "-l",
            "15",
            "-a",
            "http://127.0.0.1:6969/announce,http://127.0.0.1:6970/announce",
            "-a",
            "udp://127.0.0.1:6971/announce",
            "-w",
            "http://127.0.0.1:8080/files/",
            "-w",
            "http://127.0.0.1:8081/mirror/",
            "-c",
            "a comment: ✓",
            "-p",
        ],
    )
}

fn single_file_torrent(dir: &TempDir) -> PathBuf {
    mktorrent::write_data(&dir.join("disc image.iso"), 1_000_003, 9);
    mktorrent::make(
        dir.path(),
        "disc image.iso",
        "single.torrent",
        &["-l", "16", "-a", "http://127.0.0.1:6969/announce"],
    )
}

#[test]
fn single_file_torrent_matches_libtorrent() {
    let dir = TempDir::new("torrent-show");
    let torrent = single_file_torrent(&dir);
    let ours = show_json(dir.path(), &torrent);
    let theirs = libtorrent_info::torrent_info(&torrent);
    assert_same_as_libtorrent(&ours, &theirs);
    assert_eq!(ours["single_file"], true);
    assert_eq!(ours["total_size"], 1_000_003);
    assert_eq!(ours["files"][0]["path"], "disc image.iso");
    assert_eq!(ours["created_by"], theirs["creator"]);
}

#[test]
fn multi_file_private_torrent_matches_libtorrent() {
    let dir = TempDir::new("torrent-show");
    let torrent = multi_file_torrent(&dir);
    let ours = show_json(dir.path(), &torrent);
    let theirs = libtorrent_info::torrent_info(&torrent);
    assert_same_as_libtorrent(&ours, &theirs);
    assert_eq!(ours["private"], true);
    assert_eq!(ours["files"].as_array().unwrap().len(), 4);
    assert_eq!(ours["trackers"].as_array().unwrap().len(), 2);
    assert_eq!(ours["comment"], theirs["comment"]);
    assert_eq!(ours["comment"], "a comment: ✓");
}

#[test]
fn text_report_is_utf8_under_lang_c() {
    let dir = TempDir::new("torrent-show");
    let torrent = multi_file_torrent(&dir);
    let theirs = libtorrent_info::torrent_info(&torrent);
    // run_lowspace sets LANG=C; `lowspace()` insists the output is UTF-8.
    let run = lowspace(dir.path(), &["show", &torrent.to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let text = run.stdout;
    assert!(text.contains("Name:       Ünïcødé album 日本\n"), "{text}");
    assert!(
        text.contains(&format!(
            "Info hash:  {}\n",
            theirs["info_hash"].as_str().unwrap()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("({} bytes)", theirs["total_size"])),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} pieces", theirs["num_pieces"])),
        "{text}"
    );
    assert!(text.contains("Private:    yes\n"), "{text}");
    assert!(
        text.contains("  Tier 2:\n    udp://127.0.0.1:6971/announce\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "Web seeds:\n  http://127.0.0.1:8080/files/\n  http://127.0.0.1:8081/mirror/\n"
        ),
        "{text}"
    );
    for file in theirs["files"].as_array().unwrap() {
        let line = format!("  {} (", file["path"].as_str().unwrap());
        assert!(text.contains(&line), "{line:?} missing in\n{text}");
    }
    assert!(text.contains("Comment:    a comment: ✓\n"), "{text}");
}

#[test]
fn magnet_is_read_back_by_libtorrent() {
    let dir = TempDir::new("torrent-magnet");
    let torrent = multi_file_torrent(&dir);
    let theirs = libtorrent_info::torrent_info(&torrent);
    let run = lowspace(
        dir.path(),
        &[
            "magnet",
            &torrent.to_string_lossy(),
            "--webseed",
            "https://127.0.0.1:8443/extra seed/?a=1&b=2",
            "--webseed",
            "http://127.0.0.1:8080/files/",
        ],
    );
    // A space in a --webseed is refused: it is a usage error.
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("--webseed"), "{}", run.stderr);

    let extra = "https://127.0.0.1:8443/extra%20seed/?a=1&b=2";
    let run = lowspace(
        dir.path(),
        &[
            "magnet",
            &torrent.to_string_lossy(),
            "--webseed",
            extra,
            "--webseed",
            "http://127.0.0.1:8080/files/",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1);
    let uri = run.stdout.trim_end();
    assert!(uri.starts_with("magnet:?xt=urn:btih:"), "{uri}");
    let parsed = libtorrent_info::parse_magnet(uri);
    assert_eq!(parsed["info_hash"], theirs["info_hash"]);
    assert_eq!(parsed["name"], theirs["name"]);
    // Every tracker once; libtorrent shuffles within a tier, so compare as
    // sets, and check the second tier's tracker comes after the first tier's.
    let mut trackers: Vec<&str> = theirs["trackers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["url"].as_str().unwrap())
        .collect();
    trackers.sort();
    let mut in_magnet: Vec<&str> = parsed["trackers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(in_magnet.last(), Some(&"udp://127.0.0.1:6971/announce"));
    in_magnet.sort();
    assert_eq!(in_magnet, trackers);
    // The torrent's url-list, then the extra seed; the repeated one once.
    assert_eq!(
        parsed["web_seeds"],
        serde_json::json!([
            "http://127.0.0.1:8080/files/",
            "http://127.0.0.1:8081/mirror/",
            extra
        ])
    );
}

/// Runs `show` on a broken file and returns the error line.
fn show_error(home: &Path, file: &Path) -> String {
    for args in [vec!["show"], vec!["show", "--json"], vec!["magnet"]] {
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(file.to_string_lossy().into_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = lowspace(home, &args);
        assert_eq!(run.code, Some(1), "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    }
    let run = lowspace(home, &["show", &file.to_string_lossy()]);
    run.stderr.trim_end().to_string()
}

fn replace_once(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "keep the length so offsets hold");
    let hits: Vec<usize> = bytes
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| *w == from)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{:?} must occur once",
        String::from_utf8_lossy(from)
    );
    let mut out = bytes.to_vec();
    out[hits[0]..hits[0] + to.len()].copy_from_slice(to);
    out
}

#[test]
fn broken_torrents_exit_1_naming_file_and_field() {
    let dir = TempDir::new("torrent-bad");
    let good = std::fs::read(multi_file_torrent(&dir)).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.torrent",
            good[..good.len() - 100].to_vec(),
            "info: truncated",
        ),
        (
            "page.torrent",
            b"<html><body>404 Not Found</body></html>\n".to_vec(),
            "torrent: not valid bencode",
        ),
        (
            "noinfo.torrent",
            // "infp" still sorts before "url-list", so only the info is gone.
            replace_once(&good, b"4:infod", b"4:infpd"),
            "info: missing",
        ),
        (
            "escape.torrent",
            replace_once(&good, b"2:zz", b"2:.."),
            "info.files[2].path: unsafe file path \"extras/deep/..\"",
        ),
        (
            "pieces.torrent",
            replace_once(&good, b"12:piece lengthi32768e", b"12:piece lengthi65536e"),
            "info.pieces: ",
        ),
        (
            "garbage.torrent",
            [good.as_slice(), b"trailing"].concat(),
            "8 unexpected bytes after the end of the torrent",
        ),
        ("empty.torrent", Vec::new(), "the file is empty"),
    ];
    for (name, bytes, message) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let error = show_error(dir.path(), &path);
        let expected = format!("lowspace: {}: {message}", path.display());
        assert!(
            error.starts_with(&expected),
            "{name}: got {error:?}, want {expected:?}"
        );
    }
    let missing = dir.join("absent.torrent");
    let error = show_error(dir.path(), &missing);
    assert!(
        error.starts_with(&format!("lowspace: {}: cannot read", missing.display())),
        "{error}"
    );
}

#[test]
fn crafted_escape_torrent_is_otherwise_valid_for_libtorrent() {
    // The escape test above is only meaningful if the crafted file is
    // otherwise well-formed: libtorrent reads it and sanitizes the "..".
    let dir = TempDir::new("torrent-bad");
    let good = std::fs::read(multi_file_torrent(&dir)).unwrap();
    let path = dir.join("escape.torrent");
    std::fs::write(&path, replace_once(&good, b"2:zz", b"2:..")).unwrap();
    let theirs = libtorrent_info::torrent_info(&path);
    let paths: Vec<&str> = theirs["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(!paths.iter().any(|p| p.ends_with("/deep/..")), "{paths:?}");
}

/// libtorrent makes a v2-only and a hybrid torrent of `dir`/`name` (a
/// hybrid of several files has BEP 47 padding files in its v1 part) and
/// reports what it reads from each, and from the magnet link given for it.
const LT_V2_SCRIPT: &str = r#"
import hashlib, json, os, sys
import libtorrent as lt
root, name, magnets = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
out = {}
for fmt, flags in [('v2', lt.create_torrent.v2_only), ('hybrid', 0)]:
    fs = lt.file_storage()
    lt.add_files(fs, os.path.join(root, name))
    ct = lt.create_torrent(fs, 32768, flags=flags)
    ct.add_tracker('http://127.0.0.1:6969/announce')
    lt.set_piece_hashes(ct, root)
    path = os.path.join(root, fmt + '.torrent')
    with open(path, 'wb') as f:
        f.write(lt.bencode(ct.generate()))
    ti = lt.torrent_info(path)
    h = ti.info_hashes()
    files = ti.files()
    out[fmt] = {
        'torrent': path,
        'v1': str(h.v1) if h.has_v1() else None,
        'v2': str(h.v2) if h.has_v2() else None,
        'num_pieces': ti.num_pieces(),
        'files': [[files.file_path(i), files.file_size(i)] for i in range(files.num_files())
                  if not files.file_flags(i) & lt.file_storage.flag_pad_file],
    }
for fmt, uri in magnets.items():
    p = lt.parse_magnet_uri(uri)
    h = p.info_hashes
    out['magnet ' + fmt] = {
        'v1': str(h.v1) if h.has_v1() else None,
        'v2': str(h.v2) if h.has_v2() else None,
    }
print(json.dumps(out))
"#;

fn lt_v2(root: &Path, name: &str, magnets: &serde_json::Value) -> Value {
    let out = std::process::Command::new(support::require_program("python3"))
        .args(["-c", LT_V2_SCRIPT])
        .arg(root)
        .arg(name)
        .arg(magnets.to_string())
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn v2_and_hybrid_torrents_from_libtorrent_are_shown_and_made_into_magnets() {
    let dir = TempDir::new("torrent-show-v2");
    let root = dir.join("v2 album");
    mktorrent::write_data(&root.join("01 first.flac"), 100_000, 1);
    mktorrent::write_data(&root.join("cover.jpg"), 12_345, 2);
    mktorrent::write_data(&root.join("extras/deep/zz"), 70_001, 3);
    let theirs = lt_v2(dir.path(), "v2 album", &serde_json::json!({}));
    let mut magnets = serde_json::Map::new();
    for format in ["v2", "hybrid"] {
        let lt = &theirs[format];
        let torrent = lt["torrent"].as_str().unwrap();
        let ours = show_json(dir.path(), Path::new(torrent));
        assert_eq!(ours["version"], format, "{ours}");
        assert_eq!(ours["info_hash_v2"], lt["v2"], "{format}");
        let wire = match lt["v1"].as_str() {
            Some(v1) => v1.to_string(),
            None => lt["v2"].as_str().unwrap()[..40].to_string(),
        };
        assert_eq!(ours["info_hash"], wire.as_str(), "{format}");
        assert_eq!(ours["piece_count"], lt["num_pieces"], "{format}");
        let our_files: Vec<Value> = ours["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["padding"] == false)
            .map(|f| serde_json::json!([f["path"], f["length"]]))
            .collect();
        assert_eq!(Value::from(our_files), lt["files"], "{format}");
        assert!(ours["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["padding"] == true || f["pieces_root"].is_string()));

        let text = lowspace(dir.path(), &["show", torrent]);
        assert_eq!(text.code, Some(0), "{}", text.stderr);
        assert!(
            text.stdout
                .contains(&format!("v2 hash:    {}\n", lt["v2"].as_str().unwrap())),
            "{}",
            text.stdout
        );
        let run = lowspace(dir.path(), &["magnet", torrent]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let uri = run.stdout.trim_end().to_string();
        let btmh = format!("xt=urn:btmh:1220{}", lt["v2"].as_str().unwrap());
        assert!(uri.contains(&btmh), "{uri}");
        assert_eq!(uri.contains("xt=urn:btih:"), format == "hybrid", "{uri}");
        magnets.insert(format.to_string(), uri.into());
    }
    // libtorrent reads both hashes back from our links.
    let read = lt_v2(dir.path(), "v2 album", &Value::Object(magnets));
    for format in ["v2", "hybrid"] {
        assert_eq!(read[format!("magnet {format}")]["v2"], theirs[format]["v2"]);
        assert_eq!(read[format!("magnet {format}")]["v1"], theirs[format]["v1"]);
    }
}
