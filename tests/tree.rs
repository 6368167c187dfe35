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

/// A large file, in the page cache, is cut to nothing while `tree` hashes
/// it. Its hashing threads read it through a memory mapping, where the
/// cut makes the next read fault with SIGBUS (seen on every run here):
/// the run must not die of it, but fail that file alone and finish the
/// others.
#[test]
fn a_file_cut_while_it_is_hashed_fails_alone() {
    let lib = library("tree-cut");
    // Hashed first (names in order), for longer than the cut takes to come.
    let big = lib.source.join("big.bin");
    let block = data(1 << 20, 7);
    let mut bytes = Vec::with_capacity(192 << 20);
    for _ in 0..192 {
        bytes.extend_from_slice(&block);
    }
    put(&big, &bytes);
    drop(bytes);
    put(&lib.source.join("c.bin"), &data(3 << 20, 8));
    put(&lib.source.join("d.bin"), &data(70_000, 9));
    let child = support::lowspace_command(
        &lib.home,
        &[
            "tree",
            lib.source.to_str().unwrap(),
            lib.output.to_str().unwrap(),
            "--tracker",
            TRACKER,
        ],
        &[],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // Cut it once tree has it open (the scan is over, so tree expects
    // the whole file), and hashing has begun.
    let fds = PathBuf::from(format!("/proc/{}/fd", child.id()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let is_open = || {
        fs::read_dir(&fds)
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == big))
    };
    while !is_open() {
        assert!(
            std::time::Instant::now() < deadline,
            "tree never opened big.bin"
        );
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    std::thread::sleep(std::time::Duration::from_millis(5));
    fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(0)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{:?}: {}",
        out.status,
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("big.bin")
            && stderr(&out)
                .contains("became shorter than 201326592 bytes while it was being hashed"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("1 failed"), "{}", stderr(&out));
    assert_eq!(
        index(&lib.output).keys().collect::<Vec<_>>(),
        ["c.bin.torrent", "d.bin.torrent"]
    );
    for name in ["c.bin", "d.bin"] {
        let report = libtorrent::check(&lib.output.join(format!("{name}.torrent")), &lib.source);
        assert!(report.bool("is_seeding"), "{name}");
    }
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
        "[tree]\ntrackers = [\"http://configured.example/announce\", \"udp://second.example:6969\"]\nwebseed = \"https://files.example/lib\"\nprivate = true\nformat = \"hybrid\"\n",
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
    assert_eq!(json["version"], "hybrid", "{text}");

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

    // A format that is not one is a usage error, exit 2.
    fs::write(config_dir.join("config.toml"), "[tree]\nformat = \"v3\"\n").unwrap();
    let out = tree(&lib.home, &lib.source, &lib.output, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("\"v3\" must be v1, v2 or hybrid"),
        "{}",
        stderr(&out)
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

/// For each job (file, piece length, format, our .torrent), libtorrent's
/// own `create_torrent` makes the torrent of the same file, and libtorrent
/// loads ours and hash-checks the file with it in a session. Prints one
/// JSON object per job: the info-hashes of both, and whether it seeds.
const LT_V2_SCRIPT: &str = r#"
import hashlib, json, os, sys, time
import libtorrent as lt
ses = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False,
                  'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False})
out = []
for job in json.loads(sys.argv[1]):
    path, piece, fmt, ours = job['path'], job['piece'], job['format'], job['torrent']
    fs = lt.file_storage()
    lt.add_files(fs, path)
    flags = {'v1': lt.create_torrent.v1_only, 'v2': lt.create_torrent.v2_only, 'hybrid': 0}[fmt]
    ct = lt.create_torrent(fs, piece, flags=flags)
    lt.set_piece_hashes(ct, os.path.dirname(path))
    info = lt.bencode(ct.generate()[b'info'])
    ti = lt.torrent_info(ours)
    hashes = ti.info_hashes()
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = os.path.dirname(path)
    h = ses.add_torrent(atp)
    deadline = time.time() + 30
    while time.time() < deadline and not h.status().is_seeding:
        time.sleep(0.05)
    out.append({
        'lt_v1': hashlib.sha1(info).hexdigest() if fmt != 'v2' else None,
        'lt_v2': hashlib.sha256(info).hexdigest() if fmt != 'v1' else None,
        'ours_v1': str(hashes.v1) if hashes.has_v1() else None,
        'ours_v2': str(hashes.v2) if hashes.has_v2() else None,
        'seeding': h.status().is_seeding,
    })
    ses.remove_torrent(h)
print(json.dumps(out))
"#;

/// The `# btmh <path> 1220<hex>` comment lines of index.txt: decoded
/// relative path -> v2 info-hash.
fn index_v2(output: &Path) -> BTreeMap<String, String> {
    let text = fs::read_to_string(output.join("index.txt")).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("# btmh "))
        .map(|l| {
            let (path, hash) = l.split_once(' ').unwrap();
            let hash = hash.strip_prefix("1220").unwrap();
            assert_eq!(hash.len(), 64, "{l}");
            (percent_decode(path), hash.to_string())
        })
        .collect()
}

#[test]
fn v2_and_hybrid_info_hashes_equal_libtorrents_and_libtorrent_seeds_from_them() {
    let python = require_program("python3");
    let lib = library("tree-v2");
    const PIECE: usize = 64 << 10;
    // One block, a partial block, exactly one block, exactly a piece, a
    // piece and a byte, several pieces ending in a partial block, and one
    // file with the automatic piece length (16 KiB: one block a piece).
    let files: Vec<(&str, Vec<u8>, &str)> = vec![
        ("one byte", data(1, 11), "64KiB"),
        ("sub/part block.bin", data(10_000, 12), "64KiB"),
        ("one block.bin", data(16 << 10, 13), "64KiB"),
        ("exact piece.bin", data(PIECE, 14), "64KiB"),
        ("piece and a byte.bin", data(PIECE + 1, 15), "64KiB"),
        ("odd/size ü.bin", data(5 * PIECE + 20_000, 16), "64KiB"),
        ("auto/nine mib.bin", data(9 * (1 << 20) + 7, 17), "auto"),
    ];
    put(&lib.source.join("empty.bin"), b"");
    let mut jobs = Vec::new();
    let mut expected_index = Vec::new();
    for format in ["v1", "v2", "hybrid"] {
        for (rel, bytes, piece) in &files {
            let source = lib.source.join(format).join(piece).join(rel);
            put(&source, bytes);
        }
        put(&lib.source.join(format).join("64KiB/empty.bin"), b"");
        for piece in ["64KiB", "auto"] {
            let source = lib.source.join(format).join(piece);
            let output = lib.output.join(format).join(piece);
            let out = tree(
                &lib.home,
                &source,
                &output,
                &["--format", format, "--piece-size", piece],
            );
            assert_ok(&out);
            // libtorrent refuses an empty torrent of any format; so does tree.
            assert!(!output.join("empty.bin.torrent").exists());
            let listed = index(&output);
            let listed_v2 = index_v2(&output);
            for (rel, bytes, file_piece) in &files {
                if file_piece != &piece {
                    continue;
                }
                let piece_length = if piece == "auto" { 16 << 10 } else { PIECE };
                let torrent = output.join(format!("{rel}.torrent"));
                jobs.push(serde_json::json!({
                    "path": source.join(rel),
                    "piece": piece_length,
                    "format": format,
                    "torrent": torrent,
                }));
                expected_index.push((
                    format!("{format} {rel} ({} bytes)", bytes.len()),
                    listed.get(&format!("{rel}.torrent")).cloned(),
                    listed_v2.get(&format!("{rel}.torrent")).cloned(),
                ));
            }
        }
    }
    let out = Command::new(python)
        .arg("-c")
        .arg(LT_V2_SCRIPT)
        .arg(serde_json::Value::from(jobs).to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let reports: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports.len(), expected_index.len());
    for (report, (what, listed, listed_v2)) in reports.iter().zip(&expected_index) {
        let lt_v1 = report["lt_v1"].as_str().map(String::from);
        let lt_v2 = report["lt_v2"].as_str().map(String::from);
        assert_eq!(
            report["ours_v1"].as_str().map(String::from),
            lt_v1,
            "{what}"
        );
        assert_eq!(
            report["ours_v2"].as_str().map(String::from),
            lt_v2,
            "{what}"
        );
        assert_eq!(report["seeding"], true, "libtorrent does not seed {what}");
        // The index lists the v1 hash, or for v2 only the v2 hash cut to
        // 20 bytes, and the v2 hash on its comment line.
        let wire = lt_v1
            .clone()
            .or_else(|| lt_v2.as_ref().map(|h| h[..40].to_string()));
        assert_eq!(listed, &wire, "{what}");
        assert_eq!(listed_v2, &lt_v2, "{what}");
    }
}

#[test]
fn format_changes_rehash_and_v2_torrents_rewrite_from_their_own_hashes() {
    let lib = library("tree-v2-incremental");
    put(&lib.source.join("big.bin"), &data(200_000, 21));
    put(&lib.source.join("dir/small.bin"), &data(5_000, 22));
    let run = |extra: &[&str]| {
        let mut args = vec!["--piece-size", "32KiB"];
        args.extend_from_slice(extra);
        let out = tree(&lib.home, &lib.source, &lib.output, &args);
        assert_ok(&out);
        stderr(&out)
    };
    let check = |rel: &str, dir: &Path| {
        let report = libtorrent::check(&lib.output.join(format!("{rel}.torrent")), dir);
        assert!(report.bool("is_seeding"), "{rel}: {:?}", report.0);
        report
    };
    run(&["--tracker", TRACKER]);
    let v1 = index(&lib.output);
    assert!(index_v2(&lib.output).is_empty());

    let log = run(&["--tracker", TRACKER, "--format", "hybrid"]);
    assert!(log.contains("tree: 2 hashed"), "{log}");
    let hybrid = index(&lib.output);
    let hybrid_v2 = index_v2(&lib.output);
    assert_ne!(hybrid["big.bin.torrent"], v1["big.bin.torrent"]);
    assert_eq!(hybrid_v2.len(), 2);
    check("big.bin", &lib.source);

    let log = run(&["--tracker", TRACKER, "--format", "hybrid"]);
    assert!(
        log.contains("0 hashed") && log.contains("2 unchanged"),
        "{log}"
    );

    // Trackers and the private flag: no reading, the hashes come back out
    // of the torrents written before (piece layer included).
    let log = run(&[
        "--tracker",
        "http://127.0.0.1:10/announce",
        "--format",
        "hybrid",
    ]);
    assert!(
        log.contains("0 hashed") && log.contains("2 rewritten"),
        "{log}"
    );
    assert_eq!(
        (index(&lib.output), index_v2(&lib.output)),
        (hybrid.clone(), hybrid_v2.clone())
    );
    let report = check("big.bin", &lib.source);
    assert_eq!(report.strings("trackers"), ["http://127.0.0.1:10/announce"]);
    let log = run(&["--format", "hybrid", "--private"]);
    assert!(
        log.contains("0 hashed") && log.contains("2 rewritten"),
        "{log}"
    );
    assert_ne!(index_v2(&lib.output), hybrid_v2);
    assert!(check("dir/small.bin", &lib.source.join("dir")).bool("priv"));

    let log = run(&["--format", "v2", "--private"]);
    assert!(log.contains("tree: 2 hashed"), "{log}");
    let v2 = index(&lib.output);
    let v2_hashes = index_v2(&lib.output);
    for (path, hash) in &v2 {
        assert_eq!(hash, &v2_hashes[path][..40], "{path}");
    }
    let log = run(&["--format", "v2", "--comment", "now with a comment"]);
    assert!(
        log.contains("0 hashed") && log.contains("2 rewritten"),
        "{log}"
    );
    assert_ne!(index_v2(&lib.output), v2_hashes, "the private flag went");
    let log = run(&["--format", "v2", "--comment", "another", "--private"]);
    assert!(
        log.contains("0 hashed") && log.contains("2 rewritten"),
        "{log}"
    );
    assert_eq!(index_v2(&lib.output), v2_hashes);
    check("big.bin", &lib.source);
}

/// fish serves a hybrid torrent `tree` made (its info dictionary as it is
/// in the file), and a libtorrent client holding only the magnet link
/// `lowspace magnet` prints for it (urn:btih and urn:btmh) gets the
/// metadata, with both hashes.
#[test]
fn fish_serves_the_metadata_of_a_hybrid_tree_torrent() {
    use support::fish::Fish;
    use support::free_port;
    use support::lt_client::{self, ClientSetup};
    let lib = library("tree-v2-fish");
    put(&lib.source.join("movie.mkv"), &data(3 << 20, 31));
    assert_ok(&tree(
        &lib.home,
        &lib.source,
        &lib.output,
        &["--format", "hybrid"],
    ));
    let torrent = lib.output.join("movie.mkv.torrent");
    let magnet = run_lowspace(&lib.home, &["magnet", torrent.to_str().unwrap()], &[]);
    assert_ok(&magnet);
    let magnet = String::from_utf8(magnet.stdout).unwrap();
    let magnet = magnet.trim();
    assert!(magnet.contains("xt=urn:btmh:1220"), "{magnet}");
    let v1 = index(&lib.output)["movie.mkv.torrent"].clone();
    let mut fish = Fish::start(&lib.home, &lib.output, &["--no-dht"]);
    let report = lt_client::fetch_metadata(&ClientSetup {
        magnet,
        listen_port: free_port(),
        connect: vec![fish.port],
        dht_bootstrap: None,
        timeout_secs: 60,
        save_path: &lib.scratch,
    });
    assert!(report.has_metadata, "no metadata: {:?}", report.raw);
    // libtorrent names a torrent it knows to be v2 by its v2 hash (cut
    // to 20 bytes); the metadata it accepted is ours either way.
    let v2 = index_v2(&lib.output)["movie.mkv.torrent"].clone();
    assert!(
        report.info_hash == v2[..40] || report.info_hash == v1,
        "{} is neither {v1} nor {v2}",
        report.info_hash
    );
    assert_eq!(report.name, "movie.mkv");
    assert!(fish.terminate().success());
}

/// A run killed while it replaces torrents leaves a manifest that vouches
/// only for torrents still as it recorded them: after a v1 run, a hybrid
/// run killed half way, and a v1 run again, every torrent is v1 (without
/// the write-ahead the last run would keep the hybrids as they were,
/// trusting the v1 entries), and the info-hashes are the first run's.
#[test]
fn a_run_killed_while_replacing_torrents_leaves_nothing_stale() {
    let lib = library("tree-killed");
    let count = 150;
    for i in 0..count {
        put(
            &lib.source.join(format!("d{}/f{i}.bin", i % 7)),
            &data(512 << 10, i),
        );
    }
    let opts = ["--tracker", TRACKER, "--threads", "1"];
    assert_ok(&tree(&lib.home, &lib.source, &lib.output, &opts));
    let first = index(&lib.output);
    assert_eq!(first.len(), count as usize);

    let is_hybrid = |rel: &str| {
        fs::read(lib.output.join(rel))
            .map(|b| b.windows(12).any(|w| w == b"meta version"))
            .unwrap_or(false)
    };
    let mut child = support::lowspace_command(
        &lib.home,
        &[
            "tree",
            lib.source.to_str().unwrap(),
            lib.output.to_str().unwrap(),
            "--format",
            "hybrid",
            "--threads",
            "1",
        ],
        &[],
    )
    .spawn()
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut replaced = 0;
    while std::time::Instant::now() < deadline && replaced == 0 {
        replaced = first.keys().filter(|rel| is_hybrid(rel)).count();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let replaced = first.keys().filter(|rel| is_hybrid(rel)).count();
    assert!(
        replaced > 0 && replaced < count as usize,
        "the kill should land half way, {replaced} of {count} were replaced"
    );

    let out = tree(&lib.home, &lib.source, &lib.output, &opts);
    assert_ok(&out);
    assert!(
        stderr(&out).contains(&format!("tree: {count} hashed")),
        "{}",
        stderr(&out)
    );
    assert_eq!(first.keys().filter(|rel| is_hybrid(rel)).count(), 0);
    assert_eq!(index(&lib.output), first);
}
