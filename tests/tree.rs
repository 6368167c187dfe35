//! `lowspace tree` through the real binary, checked by independent tools:
//! libtorrent reads every torrent and hash-checks the data, mktorrent makes
//! the same torrent and must get the same info-hash.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::libtorrent;
use support::tempdir::TempDir;
use support::{require_program, run_lowspace};

const TRACKER: &str = "http://127.0.0.1:9/announce";

/// Bytes that differ per `seed`, without a random-number dependency.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn put(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn tree(home: &Path, source: &Path, output: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["tree", source.to_str().unwrap(), output.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_lowspace(home, &args, &[])
}

fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// index.txt as decoded relative path -> info-hash.
fn index(output: &Path) -> BTreeMap<String, String> {
    let text = fs::read_to_string(output.join("index.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (path, hash) = l.split_once(' ').unwrap();
            assert!(path.is_ascii() && !path.contains(' '), "{l}");
            assert_eq!(hash.len(), 40, "{l}");
            (percent_decode(path), hash.to_string())
        })
        .collect()
}

fn mktorrent_hash(file: &Path, log2_piece: u32, private: bool, dir: &Path) -> String {
    let out_path = dir.join(format!("mk-{}.torrent", file.file_name().unwrap().len()));
    let _ = fs::remove_file(&out_path);
    let mut cmd = Command::new(require_program("mktorrent"));
    cmd.args(["-d", "-l", &log2_piece.to_string(), "-a", TRACKER, "-o"])
        .arg(&out_path);
    if private {
        cmd.arg("-p");
    }
    let out = cmd.arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    libtorrent::check(&out_path, dir).str("info_hash")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct Library {
    _dir: TempDir,
    home: PathBuf,
    source: PathBuf,
    output: PathBuf,
    scratch: PathBuf,
}

fn library(label: &str) -> Library {
    let dir = TempDir::new(label);
    let (home, source, output, scratch) = (
        dir.join("home"),
        dir.join("source"),
        dir.join("output"),
        dir.join("scratch"),
    );
    for d in [&home, &source, &scratch] {
        fs::create_dir_all(d).unwrap();
    }
    Library {
        _dir: dir,
        home,
        source,
        output,
        scratch,
    }
}

#[test]
fn every_file_gets_a_torrent_libtorrent_verifies_and_mktorrent_agrees_with() {
    let lib = library("tree-verify");
    const PIECE: usize = 32 << 10;
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("Música/canción número 1.flac", data(3 * PIECE + 123, 1)),
        ("two pieces exactly.bin", data(2 * PIECE, 2)),
        ("deep/a/b/one byte over.bin", data(PIECE + 1, 3)),
        ("tiny", data(1, 4)),
        ("日本語 ファイル.txt", data(PIECE - 1, 5)),
    ];
    for (rel, bytes) in &files {
        put(&lib.source.join(rel), bytes);
    }
    put(&lib.source.join("empty.bin"), b"");
    std::os::unix::fs::symlink(lib.source.join("tiny"), lib.source.join("link")).unwrap();
    let out = tree(
        &lib.home,
        &lib.source,
        &lib.output,
        &[
            "--tracker",
            TRACKER,
            "--tracker",
            "udp://127.0.0.1:9",
            "--webseed",
            "http://127.0.0.1:9/files/",
            "--piece-size",
            "32KiB",
            "--comment",
            "from the tests",
        ],
    );
    assert_ok(&out);
    let listed = index(&lib.output);
    let want: Vec<String> = files
        .iter()
        .map(|(rel, _)| format!("{rel}.torrent"))
        .collect();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(listed.keys().cloned().collect::<Vec<_>>(), want_sorted);
    assert!(!lib.output.join("empty.bin.torrent").exists());
    assert!(!lib.output.join("link.torrent").exists());
    for (rel, bytes) in &files {
        let source_file = lib.source.join(rel);
        let torrent = lib.output.join(format!("{rel}.torrent"));
        let report = libtorrent::check(&torrent, source_file.parent().unwrap());
        assert_eq!(
            report.str("info_hash"),
            listed[&format!("{rel}.torrent")],
            "{rel}"
        );
        assert!(
            report.bool("checked") && report.bool("is_seeding"),
            "{rel}: {:?}",
            report.0
        );
        assert_eq!(report.u64("total_size"), bytes.len() as u64);
        assert_eq!(report.u64("piece_length"), PIECE as u64);
        assert_eq!(report.str("name"), *rel.rsplit('/').next().unwrap());
        assert_eq!(report.strings("trackers"), [TRACKER, "udp://127.0.0.1:9"]);
        let encoded: String = rel
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        assert_eq!(
            report.strings("web_seeds"),
            [format!("http://127.0.0.1:9/files/{encoded}")]
        );
        assert_eq!(report.str("comment"), "from the tests");
        assert_eq!(report.str("creator"), "lowspace");
        assert!(!report.bool("priv"));
        assert_eq!(
            mktorrent_hash(&source_file, 15, false, &lib.scratch),
            report.str("info_hash"),
            "mktorrent disagrees on {rel}"
        );
    }
}

#[test]
fn hashes_are_deterministic_and_auto_piece_size_follows_the_rule() {
    let lib = library("tree-determinism");
    let big = data(20 << 20, 7);
    put(&lib.source.join("big.bin"), &big);
    put(&lib.source.join("small.bin"), &data(1000, 8));
    let copy = lib.scratch.join("copy");
    put(&copy.join("big.bin"), &big);
    put(&copy.join("small.bin"), &data(1000, 8));
    let second_output = lib.scratch.join("out2");
    assert_ok(&tree(
        &lib.home,
        &lib.source,
        &lib.output,
        &["--tracker", TRACKER, "--threads", "1"],
    ));
    assert_ok(&tree(
        &lib.home,
        &copy,
        &second_output,
        &["--tracker", TRACKER, "--threads", "2"],
    ));
    for name in ["big.bin.torrent", "small.bin.torrent"] {
        assert_eq!(
            fs::read(lib.output.join(name)).unwrap(),
            fs::read(second_output.join(name)).unwrap(),
            "{name} differs between two copies of the same files"
        );
    }
    assert_eq!(
        fs::read(lib.output.join("index.txt")).unwrap(),
        fs::read(second_output.join("index.txt")).unwrap()
    );
    // Documented rule: size / 1024 rounded up to a power of two, 16 KiB..16 MiB.
    let report = libtorrent::check(&lib.output.join("big.bin.torrent"), &lib.source);
    assert_eq!(report.u64("piece_length"), 32 << 10);
    assert!(report.bool("is_seeding"));
    let report = libtorrent::check(&lib.output.join("small.bin.torrent"), &lib.source);
    assert_eq!(report.u64("piece_length"), 16 << 10);
    assert!(report.bool("is_seeding"));
    assert_eq!(
        mktorrent_hash(&lib.source.join("big.bin"), 15, false, &lib.scratch),
        index(&lib.output)["big.bin.torrent"]
    );
}

#[test]
fn a_second_run_hashes_only_the_changed_file_and_metadata_changes_only_rewrite() {
    let lib = library("tree-incremental");
    for (i, name) in ["a.bin", "b.bin", "dir/c.bin"].iter().enumerate() {
        put(&lib.source.join(name), &data(50_000, i as u64));
    }
    let opts = ["--tracker", TRACKER, "--piece-size", "32KiB"];
    assert_ok(&tree(&lib.home, &lib.source, &lib.output, &opts));
    let before = index(&lib.output);
    let b_torrent_time = fs::metadata(lib.output.join("b.bin.torrent"))
        .unwrap()
        .modified()
        .unwrap();

    // Same size, new content.
    std::thread::sleep(std::time::Duration::from_millis(20));
    put(&lib.source.join("a.bin"), &data(50_000, 99));
    let out = tree(&lib.home, &lib.source, &lib.output, &opts);
    assert_ok(&out);
    assert!(stderr(&out).contains("tree: 1 hashed"), "{}", stderr(&out));
    assert!(stderr(&out).contains("2 unchanged"), "{}", stderr(&out));
    let after = index(&lib.output);
    assert_ne!(after["a.bin.torrent"], before["a.bin.torrent"]);
    assert_eq!(after["b.bin.torrent"], before["b.bin.torrent"]);
    assert_eq!(after["dir/c.bin.torrent"], before["dir/c.bin.torrent"]);
    assert_eq!(
        fs::metadata(lib.output.join("b.bin.torrent"))
            .unwrap()
            .modified()
            .unwrap(),
        b_torrent_time,
        "an unchanged torrent was rewritten"
    );
    let report = libtorrent::check(&lib.output.join("a.bin.torrent"), &lib.source);
    assert_eq!(report.str("info_hash"), after["a.bin.torrent"]);
    assert!(report.bool("is_seeding"));

    // A new tracker: no hashing, same info-hashes, torrents name the tracker.
    let out = tree(
        &lib.home,
        &lib.source,
        &lib.output,
        &[
            "--tracker",
            "http://127.0.0.1:10/announce",
            "--piece-size",
            "32KiB",
        ],
    );
    assert_ok(&out);
    assert!(
        stderr(&out).contains("0 hashed") && stderr(&out).contains("3 rewritten"),
        "{}",
        stderr(&out)
    );
    assert_eq!(index(&lib.output), after);
    let report = libtorrent::check(
        &lib.output.join("dir/c.bin.torrent"),
        &lib.source.join("dir"),
    );
    assert_eq!(report.strings("trackers"), ["http://127.0.0.1:10/announce"]);
    assert!(report.bool("is_seeding"));

    // Private: a new info-hash, still without reading the data again, and
    // still what mktorrent -p makes.
    let out = tree(
        &lib.home,
        &lib.source,
        &lib.output,
        &["--tracker", TRACKER, "--piece-size", "32KiB", "--private"],
    );
    assert_ok(&out);
    assert!(
        stderr(&out).contains("0 hashed") && stderr(&out).contains("3 rewritten"),
        "{}",
        stderr(&out)
    );
    let private = index(&lib.output);
    assert_ne!(private["b.bin.torrent"], after["b.bin.torrent"]);
    let report = libtorrent::check(&lib.output.join("b.bin.torrent"), &lib.source);
    assert!(report.bool("priv") && report.bool("is_seeding"));
    assert_eq!(report.str("info_hash"), private["b.bin.torrent"]);
    assert_eq!(
        mktorrent_hash(&lib.source.join("b.bin"), 15, true, &lib.scratch),
        private["b.bin.torrent"]
    );

    // A deleted torrent is made again.
    fs::remove_file(lib.output.join("dir/c.bin.torrent")).unwrap();
    let out = tree(
        &lib.home,
        &lib.source,
        &lib.output,
        &["--tracker", TRACKER, "--piece-size", "32KiB", "--private"],
    );
    assert_ok(&out);
    assert!(stderr(&out).contains("tree: 1 hashed"), "{}", stderr(&out));
    assert_eq!(index(&lib.output), private);
}

#[test]
fn prune_removes_torrents_of_deleted_files_only_when_asked() {
    let lib = library("tree-prune");
    put(&lib.source.join("keep.bin"), &data(100, 1));
    put(&lib.source.join("old/gone.bin"), &data(100, 2));
    let opts = ["--tracker", TRACKER];
    assert_ok(&tree(&lib.home, &lib.source, &lib.output, &opts));
    fs::remove_dir_all(lib.source.join("old")).unwrap();

    let out = tree(&lib.home, &lib.source, &lib.output, &opts);
    assert_ok(&out);
    assert!(stderr(&out).contains("--prune"), "{}", stderr(&out));
    assert!(lib.output.join("old/gone.bin.torrent").exists());
    assert!(index(&lib.output).contains_key("old/gone.bin.torrent"));

    let out = tree(
        &lib.home,
        &lib.source,
        &lib.output,
        &["--tracker", TRACKER, "--prune"],
    );
    assert_ok(&out);
    assert!(!lib.output.join("old/gone.bin.torrent").exists());
    assert!(
        !lib.output.join("old").exists(),
        "the emptied directory stays"
    );
    assert_eq!(
        index(&lib.output).keys().collect::<Vec<_>>(),
        ["keep.bin.torrent"]
    );

    // A source that looks empty (an unmounted disk) is not pruned away.
    fs::remove_file(lib.source.join("keep.bin")).unwrap();
    let out = tree(
        &lib.home,
        &lib.source,
        &lib.output,
        &["--tracker", TRACKER, "--prune"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("not pruning"), "{}", stderr(&out));
    assert!(lib.output.join("keep.bin.torrent").exists());
}

#[test]
fn an_unreadable_file_fails_alone_and_the_run_exits_1() {
    let lib = library("tree-unreadable");
    require_program("setpriv");
    put(&lib.source.join("a.bin"), &data(70_000, 1));
    put(&lib.source.join("locked.bin"), &data(70_000, 2));
    put(&lib.source.join("z.bin"), &data(70_000, 3));
    fs::create_dir_all(&lib.output).unwrap();
    use std::os::unix::fs::PermissionsExt;
    // Root reads everything, so run as nobody, for whom mode 000 means no.
    for dir in [lib._dir.path(), &lib.source, &lib.home] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(&lib.output, fs::Permissions::from_mode(0o777)).unwrap();
    fs::set_permissions(
        lib.source.join("locked.bin"),
        fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let out = Command::new(require_program("setpriv"))
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(support::lowspace_bin())
        .args([
            "tree",
            lib.source.to_str().unwrap(),
            lib.output.to_str().unwrap(),
            "--tracker",
            TRACKER,
        ])
        .env_clear()
        .env("HOME", &lib.home)
        .env("LANG", "C")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("locked.bin"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Permission denied"),
        "{}",
        stderr(&out)
    );
    let listed = index(&lib.output);
    assert_eq!(
        listed.keys().collect::<Vec<_>>(),
        ["a.bin.torrent", "z.bin.torrent"]
    );
    for name in ["a.bin", "z.bin"] {
        let report = libtorrent::check(&lib.output.join(format!("{name}.torrent")), &lib.source);
        assert!(report.bool("is_seeding"), "{name}");
    }
    // Readable again: the next run adds it and keeps the others.
    fs::set_permissions(
        lib.source.join("locked.bin"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = tree(&lib.home, &lib.source, &lib.output, &["--tracker", TRACKER]);
    assert_ok(&out);
    assert!(stderr(&out).contains("tree: 1 hashed"), "{}", stderr(&out));
    assert_eq!(index(&lib.output).len(), 3);
}

#[test]
fn dry_run_writes_nothing_and_bad_options_are_usage_errors() {
    let lib = library("tree-dry");
    put(&lib.source.join("x y.bin"), &data(10, 1));
    let out = tree(
        &lib.home,
        &lib.source,
        &lib.output,
        &["--tracker", TRACKER, "--dry-run"],
    );
    assert_ok(&out);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("hash     x y.bin (new file"), "{report}");
    assert!(!lib.output.exists());

    let out = tree(
        &lib.home,
        &lib.source,
        &lib.output,
        &["--piece-size", "1000"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--piece-size"), "{}", stderr(&out));
    let out = tree(
        &lib.home,
        &lib.source.join("missing"),
        &lib.output,
        &["--tracker", TRACKER],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing"), "{}", stderr(&out));
    let out = run_lowspace(&lib.home, &["tree", "--help"], &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Examples:"));
}

#[test]
fn output_inside_the_source_is_not_scanned_and_hidden_files_are_opt_in() {
    let lib = library("tree-inside");
    put(&lib.source.join("a.bin"), &data(100, 1));
    put(&lib.source.join(".secret/b.bin"), &data(100, 2));
    let inside = lib.source.join("torrents");
    assert_ok(&tree(
        &lib.home,
        &lib.source,
        &inside,
        &["--tracker", TRACKER],
    ));
    assert_ok(&tree(
        &lib.home,
        &lib.source,
        &inside,
        &["--tracker", TRACKER],
    ));
    assert_eq!(index(&inside).keys().collect::<Vec<_>>(), ["a.bin.torrent"]);
    let out = tree(
        &lib.home,
        &lib.source,
        &inside,
        &["--tracker", TRACKER, "--hidden"],
    );
    assert_ok(&out);
    assert_eq!(
        index(&inside).keys().collect::<Vec<_>>(),
        [".secret/b.bin.torrent", "a.bin.torrent"]
    );
    let report = libtorrent::check(
        &inside.join(".secret/b.bin.torrent"),
        &lib.source.join(".secret"),
    );
    assert!(report.bool("is_seeding"));
    let out = tree(&lib.home, &lib.source, &lib.source, &["--tracker", TRACKER]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn options_come_from_the_tree_section_and_the_command_line_wins() {
    let lib = library("tree-config");
    put(&lib.source.join("a.bin"), &data(40_000, 7));
    let config_dir = lib.home.join(".config/lowspace");
    fs::create_dir_all(&config_dir).unwrap();
    fs::write(
        config_dir.join("config.toml"),
        "[tree]\ntrackers = [\"http://configured.example/announce\", \"udp://second.example:6969\"]\nwebseed = \"https://files.example/lib\"\nprivate = true\n",
    )
    .unwrap();
    assert_ok(&tree(&lib.home, &lib.source, &lib.output, &[]));
    let torrent = lib.output.join("a.bin.torrent");
    let shown = run_lowspace(
        &lib.home,
        &["show", "--json", torrent.to_str().unwrap()],
        &[],
    );
    assert_ok(&shown);
    let json: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let text = json.to_string();
    assert!(
        text.contains("http://configured.example/announce")
            && text.contains("udp://second.example:6969"),
        "{text}"
    );
    assert!(text.contains("https://files.example/lib/a.bin"), "{text}");
    assert_eq!(json["private"], serde_json::json!(true), "{text}");

    // A tracker on the command line replaces the configured list.
    fs::remove_dir_all(&lib.output).unwrap();
    assert_ok(&tree(
        &lib.home,
        &lib.source,
        &lib.output,
        &["--tracker", "http://cli.example/announce"],
    ));
    let shown = run_lowspace(
        &lib.home,
        &["show", "--json", torrent.to_str().unwrap()],
        &[],
    );
    let text = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(
        text.contains("http://cli.example/announce") && !text.contains("configured.example"),
        "{text}"
    );

    // A broken [tree] section is a configuration error, exit 2.
    fs::write(
        config_dir.join("config.toml"),
        "[tree]\nprivate = \"yes\"\n",
    )
    .unwrap();
    let out = tree(&lib.home, &lib.source, &lib.output, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("private: expected true or false"),
        "{}",
        stderr(&out)
    );
}

/// Two runs on one output directory: while another run holds the lock
/// (here this test process, with flock(2) as lowspace takes it), a run
/// leaves without writing anything and exits 0; once it is free, a run
/// works.
#[test]
fn a_second_run_on_the_same_output_leaves_it_to_the_first() {
    let lib = library("tree-lock");
    put(&lib.source.join("a.bin"), &data(100_000, 7));
    fs::create_dir_all(&lib.output).unwrap();
    let holder = fs::File::create(lib.output.join(".lowspace-tree.lock")).unwrap();
    holder.try_lock().unwrap();
    let out = tree(&lib.home, &lib.source, &lib.output, &[]);
    assert_ok(&out);
    assert!(
        stderr(&out).contains("another tree run holds"),
        "{}",
        stderr(&out)
    );
    assert!(!lib.output.join("a.bin.torrent").exists());
    assert!(!lib.output.join("index.txt").exists());

    drop(holder);
    let out = tree(&lib.home, &lib.source, &lib.output, &[]);
    assert_ok(&out);
    assert!(lib.output.join("a.bin.torrent").exists());
    assert_eq!(index(&lib.output).len(), 1);
}
