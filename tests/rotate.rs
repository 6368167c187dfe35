//! `lowspace rotate` end to end, driven like a user drives it: a real
//! rtorrent downloads from a real libtorrent seeder on 127.0.0.1, and the
//! binary is run again and again (as cron would) until every managed
//! torrent has moved to the remote. After every run the managed data in
//! rtorrent's download directory must fit the space limit; at the end the
//! remote holds the seeder's bytes (sha1), and nothing of it is left
//! locally, in the managed directory or in the journal.
//!
//! Remotes: a local directory, rsync over a real sshd, rclone sftp over the
//! same kind of sshd. Faults: remote refusing, remote full, rsync missing,
//! rtorrent down, a corrupt .torrent, two runs at once, SIGKILL during a
//! sync and during the removal. The ratio test uses a third client that
//! downloads from the managed rtorrent.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use lowspace::rtorrent::xmlrpc::Value;
use lowspace::rtorrent::Client;
use support::disk::{bytes_under, DiskWatch};
use support::files::{files_under, sha1_of};
use support::rtorrent::{Rtorrent, RtorrentOptions};
use support::seeder::{generate, MadeTorrent, Peer};
use support::sshd::{fake_slow_ssh, Sshd};
use support::tempdir::TempDir;
use support::tmpfs::Tmpfs;
use support::{lowspace_command, run_lowspace, wait_until};

const KIB: usize = 1024;
/// Runs before a test gives up (about one second apart).
const MAX_RUNS: usize = 60;

/// Names that need more than ASCII and a shell-safe world, checked with LANG=C.
const ODD_DIR: &str = "Ünïcödé dïr – ファイル";
const ODD_FILE: &str = "spaced name ☃.bin";

/// A sandbox: rtorrent, the seeder, the managed directory, a config.
struct Rig {
    tmp: TempDir,
    rtorrent: Rtorrent,
    seeder: Peer,
    source: PathBuf,
    managed: PathBuf,
    remote_dir: PathBuf,
    torrents: Vec<MadeTorrent>,
    config: PathBuf,
    limit: u64,
    envs: Vec<(String, String)>,
    /// The most the managed data ever took, sampled every 20 ms.
    peak: DiskWatch,
}

impl Rig {
    /// Generates `files`, one torrent per top-level name, starts rtorrent
    /// and a seeder for them, and puts the .torrent files in the managed
    /// directory.
    fn new(label: &str, files: &[(&str, usize)]) -> Rig {
        Rig::with_rtorrent(label, files, RtorrentOptions::default())
    }

    fn with_rtorrent(label: &str, files: &[(&str, usize)], options: RtorrentOptions) -> Rig {
        let tmp = TempDir::new(label);
        let source = tmp.join("seeder-data");
        let torrents = generate(&source, &tmp.join("torrents"), files);
        let rtorrent = Rtorrent::start_with(&tmp.join("rtorrent"), options);
        let files: Vec<PathBuf> = torrents.iter().map(|t| t.file.clone()).collect();
        let seeder = Peer::seed(&source, &files, &[rtorrent.port]);
        let managed = tmp.join("managed");
        std::fs::create_dir_all(&managed).unwrap();
        for t in &torrents {
            std::fs::copy(&t.file, managed.join(t.file.file_name().unwrap())).unwrap();
        }
        let remote_dir = tmp.join("remote");
        std::fs::create_dir_all(&remote_dir).unwrap();
        let config = tmp.join("lowspace.toml");
        let peak = DiskWatch::start(
            rtorrent.data_dir.clone(),
            torrents.iter().map(|t| t.name.clone()).collect(),
        );
        Rig {
            tmp,
            rtorrent,
            seeder,
            source,
            managed,
            remote_dir,
            torrents,
            config,
            limit: 0,
            envs: Vec::new(),
            peak,
        }
    }

    fn total(&self) -> u64 {
        self.torrents.iter().map(|t| t.size).sum()
    }

    /// Writes the config: `[rotate]` with the limit and ratio, and `remote`
    /// as the `[remote]` section's body.
    fn configure(&mut self, limit: u64, required_ratio: f64, remote: &str) {
        self.limit = limit;
        let text = format!(
            "log_level = \"debug\"\n\n[rtorrent]\nsocket_url = \"{}\"\n\n[rotate]\n\
             managed_torrents_directory = \"{}\"\nspace_limit = {limit}\nrequired_ratio = {required_ratio}\n\n\
             [remote]\n{remote}\n",
            self.rtorrent.socket_url(),
            self.managed.display(),
        );
        std::fs::write(&self.config, text).unwrap();
    }

    fn local_remote(&self) -> String {
        format!(
            "service = \"local\"\npath = \"{}\"",
            self.remote_dir.display()
        )
    }

    fn lowspace(&self, args: &[&str]) -> Output {
        self.lowspace_with(args, &[])
    }

    fn lowspace_with(&self, args: &[&str], extra_envs: &[(&str, &str)]) -> Output {
        let config = self.config.display().to_string();
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        let mut envs: Vec<(&str, &str)> = self
            .envs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        envs.extend_from_slice(extra_envs);
        run_lowspace(self.tmp.path(), &all, &envs)
    }

    fn rotate(&self) -> Output {
        let out = self.lowspace(&["rotate"]);
        self.assert_within_limit();
        out
    }

    /// The bytes the managed torrents' data takes in the download directory.
    fn managed_bytes_on_disk(&self) -> u64 {
        self.torrents
            .iter()
            .map(|t| bytes_under(&self.rtorrent.data_dir.join(&t.name)))
            .sum()
    }

    fn assert_within_limit(&self) {
        let used = self.managed_bytes_on_disk().max(self.peak.peak());
        assert!(
            used <= self.limit,
            "managed data took {used} bytes, over the space limit {}",
            self.limit
        );
    }

    /// .torrent files still in the managed directory.
    fn managed_left(&self) -> Vec<String> {
        let mut left: Vec<String> = std::fs::read_dir(&self.managed)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".torrent"))
            .collect();
        left.sort();
        left
    }

    /// Runs rotate (about once a second) until only `keep` is left in the
    /// managed directory; every run must succeed and keep the limit.
    /// Returns how many runs it took and their logs.
    fn rotate_until_done(&self, keep: &[&str]) -> (usize, String) {
        let mut logs = String::new();
        for run in 1..=MAX_RUNS {
            let out = self.rotate();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(
                out.status.success(),
                "run {run} failed ({:?}):\n{stderr}",
                out.status
            );
            logs.push_str(&stderr);
            if self.managed_left() == keep {
                return (run, logs);
            }
            std::thread::sleep(Duration::from_millis(700));
        }
        panic!(
            "rotation not done after {MAX_RUNS} runs; left: {:?}\nstatus:\n{}\nlast logs:\n{}",
            self.managed_left(),
            String::from_utf8_lossy(&self.lowspace(&["status"]).stdout),
            tail(&logs, 4000)
        );
    }

    /// Runs until rtorrent has every managed torrent `n` complete (rotate
    /// loads them; `status --json` says when they are ready).
    fn wait_until_complete(&self, name: &str) {
        for _ in 0..MAX_RUNS {
            let status = self.status_json();
            let done = status["torrents"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == name && t["completed"] == t["size"]);
            if done {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("{name} never completed in rtorrent");
    }

    fn status_json(&self) -> serde_json::Value {
        let out = self.lowspace(&["status", "--json"]);
        assert!(
            out.status.success(),
            "status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn journal_path(&self) -> PathBuf {
        self.managed.join(".lowspace/journal.json")
    }

    fn journal(&self) -> serde_json::Value {
        match std::fs::read(self.journal_path()) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap(),
            Err(_) => serde_json::json!({"torrents": {}}),
        }
    }

    fn journal_phases(&self) -> Vec<String> {
        self.journal()["torrents"]
            .as_object()
            .map(|m| {
                m.values()
                    .map(|e| e["phase"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What a user checks at the end: every byte on the remote, nothing
    /// left locally, managed directory and journal empty.
    fn assert_rotation_complete(&self, keep: &[&str]) {
        self.assert_all_on_remote();
        for t in &self.torrents {
            assert!(
                std::fs::symlink_metadata(self.rtorrent.data_dir.join(&t.name)).is_err(),
                "{} is still in the download directory",
                t.name
            );
        }
        assert_eq!(self.managed_left(), keep);
        assert!(
            self.journal_phases().is_empty(),
            "journal not empty: {}",
            self.journal()
        );
        let client = Client::new(&self.rtorrent.socket_url()).unwrap();
        let names: Vec<String> = client
            .downloads()
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        for t in &self.torrents {
            assert!(!names.contains(&t.name), "{} still in rtorrent", t.name);
        }
    }

    fn assert_all_on_remote(&self) {
        for rel in files_under(&self.source) {
            let remote = self.remote_dir.join(&rel);
            assert!(remote.is_file(), "{} missing on the remote", rel.display());
            assert_eq!(
                sha1_of(&self.source.join(&rel)),
                sha1_of(&remote),
                "{} differs on the remote",
                rel.display()
            );
        }
    }

    /// Source files of one torrent are intact in the download directory.
    fn assert_local_copy_intact(&self, name: &str) {
        let local = self.rtorrent.data_dir.join(name);
        let source = self.source.join(name);
        for rel in files_under(&source) {
            assert_eq!(
                sha1_of(&join_rel(&source, &rel)),
                sha1_of(&join_rel(&local, &rel)),
                "local {name}/{} damaged",
                rel.display()
            );
        }
    }
}

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// `base/rel`, or `base` itself for the empty path (a single file).
fn join_rel(base: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(rel)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A handful of torrents, single- and multi-file, with odd names.
fn mixed_files() -> Vec<(String, usize)> {
    vec![
        ("small.bin".to_string(), 40 * KIB),
        (format!("{ODD_DIR}/disc 1/{ODD_FILE}"), 150 * KIB),
        (format!("{ODD_DIR}/notes – ü.txt"), 5 * KIB + 7),
        ("medium one.iso".to_string(), 260 * KIB),
        ("pack/a/b/c.bin".to_string(), 120 * KIB),
        ("pack/d.bin".to_string(), 90 * KIB),
        ("large.bin".to_string(), 400 * KIB),
    ]
}

fn as_refs(files: &[(String, usize)]) -> Vec<(&str, usize)> {
    files.iter().map(|(p, s)| (p.as_str(), *s)).collect()
}

// ------------------------------------------------------------------ e2e

#[test]
fn local_remote_with_odd_names_corrupt_file_and_an_unmanaged_torrent() {
    let files = mixed_files();
    let mut rig = Rig::new("rotate-local", &as_refs(&files));
    // Smaller than the total (about 1.1 MiB): several runs are needed.
    rig.configure(560 * 1024, 0.0, &rig.local_remote());
    assert!(rig.limit < rig.total());

    // A corrupt .torrent: a warning naming it, the run goes on.
    std::fs::write(rig.managed.join("broken.torrent"), b"d8:announce").unwrap();

    // An unmanaged torrent the user loaded into rtorrent directly.
    let stranger_dir = rig.tmp.join("stranger-src");
    let stranger = generate(
        &stranger_dir,
        &rig.tmp.join("stranger-torrent"),
        &[("not ours.bin", 64 * KIB)],
    );
    let mut stranger_seed = Peer::seed(
        &stranger_dir,
        &[stranger[0].file.clone()],
        &[rig.rtorrent.port],
    );
    let client = Client::new(&rig.rtorrent.socket_url()).unwrap();
    client
        .load_raw_start(&std::fs::read(&stranger[0].file).unwrap(), &[])
        .unwrap();
    wait_until(
        "the unmanaged torrent to download",
        Duration::from_secs(60),
        || {
            client
                .downloads()
                .unwrap()
                .iter()
                .any(|d| d.name == "not ours.bin" && d.complete)
        },
    );
    stranger_seed.stop();

    let first = rig.rotate();
    assert!(first.status.success(), "{}", stderr(&first));
    let log = stderr(&first);
    assert!(
        log.contains("broken.torrent"),
        "the corrupt file must be named: {log}"
    );

    let status = rig.lowspace(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(text.contains("unmanaged: 1 torrent in rtorrent"), "{text}");
    assert!(
        text.contains("corrupt:") && text.contains("broken.torrent"),
        "{text}"
    );
    assert!(text.contains(ODD_DIR), "{text}");

    let (runs, _) = rig.rotate_until_done(&["broken.torrent"]);
    assert!(
        runs >= 2,
        "the limit should force several runs, took {runs}"
    );
    rig.assert_rotation_complete(&["broken.torrent"]);

    // The unmanaged torrent is untouched, data and all.
    let downloads = client.downloads().unwrap();
    assert!(
        downloads.iter().any(|d| d.name == "not ours.bin"),
        "the unmanaged torrent was removed from rtorrent"
    );
    assert_eq!(
        sha1_of(&rig.rtorrent.data_dir.join("not ours.bin")),
        sha1_of(&stranger_dir.join("not ours.bin"))
    );
    assert!(!rig.remote_dir.join("not ours.bin").exists());
}

#[test]
fn rsync_over_a_real_sshd_with_a_home_relative_download_directory() {
    let files = mixed_files();
    // The common rc form: rtorrent answers directory.default with "~/data/"
    // and its downloads' paths expanded; rotation must see they agree.
    let options = RtorrentOptions {
        extra_rc: vec!["directory.default.set = ~/data/".into()],
        ..Default::default()
    };
    let mut rig = Rig::with_rtorrent("rotate-rsync", &as_refs(&files), options);
    let sshd = Sshd::start(&rig.tmp.join("sshd"));
    let remote = format!(
        "service = \"rsync\"\nhost = \"root@127.0.0.1\"\npath = \"{}\"\nssh_command = \"{}\"",
        rig.remote_dir.display(),
        sshd.ssh_command()
    );
    rig.configure(600 * 1024, 0.0, &remote);
    let check = rig.lowspace(&["check"]);
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        stderr(&check)
    );
    rig.rotate_until_done(&[]);
    rig.assert_rotation_complete(&[]);
}

/// Issue 13: a torrent of thousands of files never verified (its listing
/// was cut to 64 KiB) and was retried forever. One of 3,000 files in nested
/// non-ASCII directories goes through rtorrent, rsync over sshd (ssh_command
/// as a TOML list with a key path holding a space) and verification.
#[test]
fn rsync_rotates_a_torrent_of_3000_files() {
    let names = ["-leading dash.jpg", "it's quoted.jpg", " leading space.jpg"];
    let files: Vec<(String, usize)> = (0..3_000)
        .map(|i| {
            let name = match names.get(i) {
                Some(name) => name.to_string(),
                None => format!("IMG_{i:04} ü.jpg"),
            };
            (
                format!(
                    "Fotos Ünïcödé/{} Été/Tag {:02} – ファイル/{name}",
                    2015 + i / 600,
                    (i / 30) % 20 + 1
                ),
                1_000 + (i * 37) % 4_000,
            )
        })
        .collect();
    let mut rig = Rig::new("rotate-rsync-3000", &as_refs(&files));
    let sshd = Sshd::start(&rig.tmp.join("sshd"));
    let keys = rig.tmp.join("my keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(&sshd.key, keys.join("nas key")).unwrap();
    let remote = format!(
        "service = \"rsync\"\nhost = \"root@127.0.0.1\"\npath = \"{}\"\n\
         ssh_command = [\"ssh\", \"-p\", \"{}\", \"-i\", \"{}\", \"-o\", \"StrictHostKeyChecking=no\", \
         \"-o\", \"UserKnownHostsFile=/dev/null\", \"-o\", \"LogLevel=ERROR\"]",
        rig.remote_dir.display(),
        sshd.port,
        keys.join("nas key").display()
    );
    rig.configure(rig.total() * 2, 0.0, &remote);
    let check = rig.lowspace(&["check"]);
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        stderr(&check)
    );
    let (runs, logs) = rig.rotate_until_done(&[]);
    rig.assert_rotation_complete(&[]);
    assert_eq!(
        files_under(&rig.remote_dir.join("Fotos Ünïcödé")).len(),
        3_000
    );
    assert!(
        !logs.contains("unexpected listing"),
        "{}",
        tail(&logs, 4000)
    );
    eprintln!("rotated 3,000 files in {runs} runs");
}

#[test]
fn rclone_sftp_over_a_real_sshd() {
    let files = mixed_files();
    let mut rig = Rig::new("rotate-rclone", &as_refs(&files));
    let sshd = Sshd::start(&rig.tmp.join("sshd"));
    let conf = rig.tmp.join("rclone.conf");
    std::fs::write(&conf, "").unwrap();
    let remote = sshd.rclone_remote_toml(&rig.remote_dir, &conf);
    rig.configure(600 * 1024, 0.0, &remote);
    rig.rotate_until_done(&[]);
    rig.assert_rotation_complete(&[]);
}

// ---------------------------------------------------------------- ratio

#[test]
fn a_torrent_is_not_synced_before_a_third_client_brings_its_ratio_to_one() {
    let mut rig = Rig::new("rotate-ratio", &[("shared.bin", 200 * KIB)]);
    rig.configure(1024 * 1024, 1.0, &rig.local_remote());
    let first = rig.rotate();
    assert!(first.status.success(), "{}", stderr(&first));
    rig.wait_until_complete("shared.bin");
    // Nobody has downloaded from it: it must stay, seeding.
    for _ in 0..3 {
        let out = rig.rotate();
        assert!(out.status.success(), "{}", stderr(&out));
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        !rig.remote_dir.join("shared.bin").exists(),
        "synced before its ratio was reached"
    );
    assert_eq!(rig.managed_left(), vec!["shared.bin.torrent"]);
    let status = rig.status_json();
    assert_eq!(status["torrents"][0]["state"], "seeding", "{status}");

    // The seeder goes away, so the only source is the managed rtorrent.
    rig.seeder.stop();
    let third = Peer::leech(
        &rig.tmp.join("third-client"),
        &[rig.torrents[0].file.clone()],
        &[rig.rtorrent.port],
    );
    let (_, logs) = rig.rotate_until_done(&[]);
    assert!(
        logs.contains("shared.bin: complete and ratio 1.") && logs.contains("reached 1.00"),
        "{}",
        tail(&logs, 3000)
    );
    rig.assert_rotation_complete(&[]);
    // The third client really got the whole torrent from rtorrent.
    assert_eq!(
        sha1_of(&third.data.join("shared.bin")),
        sha1_of(&rig.source.join("shared.bin"))
    );
}

// ---------------------------------------------------------------- faults

fn rsync_remote(rig: &Rig, sshd: &Sshd, ssh_program: Option<&Path>, extra: &str) -> String {
    let ssh = match ssh_program {
        Some(p) => sshd
            .ssh_command()
            .replacen("ssh", &p.display().to_string(), 1),
        None => sshd.ssh_command(),
    };
    format!(
        "service = \"rsync\"\nhost = \"root@127.0.0.1\"\npath = \"{}\"\nssh_command = \"{ssh}\"\n{extra}",
        rig.remote_dir.display()
    )
}

#[test]
fn remote_refusing_keeps_the_data_until_it_is_back() {
    let mut rig = Rig::new(
        "rotate-refused",
        &[("one.bin", 120 * KIB), ("two/x.bin", 80 * KIB)],
    );
    let mut sshd = Sshd::start(&rig.tmp.join("sshd"));
    let remote = rsync_remote(&rig, &sshd, None, "timeout = \"5s\"\nretries = 1");
    rig.configure(1024 * 1024, 0.0, &remote);
    sshd.stop();

    let first = rig.rotate();
    assert!(
        first.status.success(),
        "loading needs no remote: {}",
        stderr(&first)
    );
    rig.wait_until_complete("one.bin");
    rig.wait_until_complete("two");
    let failed = rig.rotate();
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let log = stderr(&failed);
    eprintln!("the failed run said:\n{log}");
    assert!(log.contains("refused") || log.contains("connect"), "{log}");
    assert!(log.contains("local data kept"), "{log}");
    rig.assert_local_copy_intact("one.bin");
    rig.assert_local_copy_intact("two");
    assert_eq!(rig.managed_left().len(), 2);
    assert!(
        rig.journal_phases().is_empty(),
        "a failed sync verified nothing: {}",
        rig.journal()
    );
    let status = rig.status_json();
    assert_eq!(status["budget"]["used"], 200 * 1024, "{status}");

    sshd.restart_on_same_port();
    rig.rotate_until_done(&[]);
    rig.assert_rotation_complete(&[]);
}

#[test]
fn a_full_remote_fails_clearly_and_keeps_the_data() {
    let mut rig = Rig::new("rotate-full", &[("big.bin", 700 * KIB)]);
    rig.configure(1024 * 1024, 0.0, &rig.local_remote());
    let mut tiny = Tmpfs::mount(&rig.remote_dir, "512k");

    let first = rig.rotate();
    assert!(first.status.success(), "{}", stderr(&first));
    rig.wait_until_complete("big.bin");
    let failed = rig.rotate();
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let log = stderr(&failed);
    eprintln!("the failed run said:\n{log}");
    assert!(
        log.to_lowercase().contains("full") || log.contains("No space"),
        "{log}"
    );
    rig.assert_local_copy_intact("big.bin");
    assert_eq!(rig.managed_left(), vec!["big.bin.torrent"]);

    // A bigger remote: the plain directory under the tmpfs.
    tiny.unmount();
    rig.rotate_until_done(&[]);
    rig.assert_rotation_complete(&[]);
}

#[test]
fn rsync_missing_is_reported_and_nothing_is_deleted() {
    let mut rig = Rig::new("rotate-norsync", &[("one.bin", 100 * KIB)]);
    let sshd = Sshd::start(&rig.tmp.join("sshd"));
    let remote = rsync_remote(&rig, &sshd, None, "retries = 1");
    rig.configure(1024 * 1024, 0.0, &remote);
    let first = rig.rotate();
    assert!(first.status.success(), "{}", stderr(&first));
    rig.wait_until_complete("one.bin");

    // A PATH with what lowspace needs except rsync.
    let bin = rig.tmp.join("bin-without-rsync");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["df", "ssh", "sh"] {
        let real = support::require_program(tool);
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    let path = bin.display().to_string();
    let failed = rig.lowspace_with(&["rotate"], &[("PATH", &path)]);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let log = stderr(&failed);
    eprintln!("the failed run said:\n{log}");
    assert!(log.contains("rsync"), "{log}");
    assert!(
        log.contains("install"),
        "the message should say to install it: {log}"
    );
    rig.assert_local_copy_intact("one.bin");
    assert_eq!(rig.managed_left(), vec!["one.bin.torrent"]);

    rig.rotate_until_done(&[]);
    rig.assert_rotation_complete(&[]);
}

#[test]
fn rtorrent_down_fails_without_changing_anything_then_resumes() {
    let files = [
        ("a.bin", 100 * KIB),
        ("b.bin", 150 * KIB),
        ("c.bin", 200 * KIB),
    ];
    let mut rig = Rig::new("rotate-rtdown", &files);
    rig.configure(300 * 1024, 0.0, &rig.local_remote());
    let first = rig.rotate();
    assert!(first.status.success(), "{}", stderr(&first));

    let port = rig.rtorrent.port;
    rig.rtorrent.stop();
    let failed = rig.rotate();
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let log = stderr(&failed);
    eprintln!("the failed run said:\n{log}");
    assert!(
        log.contains("rt.sock"),
        "the message should name the socket: {log}"
    );
    let left = rig.managed_left();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(rig.journal_phases().is_empty());

    // The same rtorrent comes back with its session.
    let dir = rig.rtorrent.dir.clone();
    rig.rtorrent = Rtorrent::start_with(
        &dir,
        RtorrentOptions {
            port: Some(port),
            ..Default::default()
        },
    );
    rig.rotate_until_done(&[]);
    rig.assert_rotation_complete(&[]);
}

#[test]
fn a_second_run_leaves_at_once_while_the_first_holds_the_lock() {
    let mut rig = Rig::new("rotate-lock", &[("one.bin", 64 * KIB)]);
    rig.configure(1024 * 1024, 0.0, &rig.local_remote());
    let lock = rig.managed.join(".lowspace/rotate.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    // -o: the lock stays with flock itself, so killing it frees the lock.
    let mut holder = Command::new(support::require_program("flock"))
        .arg("-o")
        .arg(&lock)
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let started = Instant::now();
    let second = rig.rotate();
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        stderr(&second).contains("another rotate run holds"),
        "{}",
        stderr(&second)
    );
    let client = Client::new(&rig.rtorrent.socket_url()).unwrap();
    assert!(
        client.downloads().unwrap().is_empty(),
        "the refused run must not load anything"
    );

    let _ = holder.kill();
    let _ = holder.wait();
    rig.rotate_until_done(&[]);
    rig.assert_rotation_complete(&[]);
}

/// Starts `lowspace rotate` as a child, to be killed.
fn spawn_rotate(rig: &Rig) -> std::process::Child {
    let config = rig.config.display().to_string();
    lowspace_command(rig.tmp.path(), &["--config", &config, "rotate"], &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for_phase(rig: &Rig, phase: &str) {
    wait_until(
        &format!("journal phase {phase}"),
        Duration::from_secs(30),
        || rig.journal_phases().iter().any(|p| p == phase),
    );
}

fn kill(child: &mut std::process::Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[test]
fn sigkill_during_a_sync_then_a_normal_run_finishes_it() {
    let mut rig = Rig::new(
        "rotate-kill-sync",
        &[("disc/one.bin", 200 * KIB), ("disc/two.bin", 100 * KIB)],
    );
    let sshd = Sshd::start(&rig.tmp.join("sshd"));
    let slow = rig.tmp.join("slow-link");
    let ssh = fake_slow_ssh(rig.tmp.path(), &slow, 3.0);
    let remote = rsync_remote(&rig, &sshd, Some(&ssh), "");
    rig.configure(1024 * 1024, 0.0, &remote);
    let first = rig.rotate();
    assert!(first.status.success(), "{}", stderr(&first));
    rig.wait_until_complete("disc");

    std::fs::write(&slow, b"").unwrap();
    let mut run = spawn_rotate(&rig);
    wait_for_phase(&rig, "syncing");
    std::thread::sleep(Duration::from_millis(500));
    kill(&mut run);
    assert_eq!(rig.journal_phases(), vec!["syncing"]);
    rig.assert_local_copy_intact("disc");
    assert_eq!(rig.managed_left(), vec!["disc.torrent"]);

    std::fs::remove_file(&slow).unwrap();
    let (_, logs) = rig.rotate_until_done(&[]);
    assert!(logs.contains("interrupted"), "{}", tail(&logs, 3000));
    rig.assert_rotation_complete(&[]);
}

#[test]
fn sigkill_during_the_removal_then_a_normal_run_finishes_it() {
    let mut rig = Rig::new(
        "rotate-kill-remove",
        &[
            ("album/a.bin", 120 * KIB),
            ("album/b/c.bin", 90 * KIB),
            ("album/d.bin", 30 * KIB),
        ],
    );
    let sshd = Sshd::start(&rig.tmp.join("sshd"));
    let slow = rig.tmp.join("slow-link");
    let ssh = fake_slow_ssh(rig.tmp.path(), &slow, 2.0);
    let remote = rsync_remote(&rig, &sshd, Some(&ssh), "");
    rig.configure(1024 * 1024, 0.0, &remote);
    let first = rig.rotate();
    assert!(first.status.success(), "{}", stderr(&first));
    rig.wait_until_complete("album");

    // A real kill right after verification: rtorrent is frozen (SIGSTOP)
    // while the slow copy runs, so the run blocks on the erase call just
    // after the journal says "verified", and is killed there.
    std::fs::write(&slow, b"").unwrap();
    let mut run = spawn_rotate(&rig);
    wait_for_phase(&rig, "syncing");
    let rt_pid = rig.rtorrent.pid().to_string();
    assert!(Command::new(support::require_program("kill"))
        .args(["-STOP", &rt_pid])
        .status()
        .unwrap()
        .success());
    wait_for_phase(&rig, "verified");
    std::thread::sleep(Duration::from_millis(300));
    kill(&mut run);
    assert!(Command::new(support::require_program("kill"))
        .args(["-CONT", &rt_pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(rig.journal_phases(), vec!["verified"]);
    rig.assert_local_copy_intact("album");
    rig.assert_all_on_remote();
    std::fs::remove_file(&slow).unwrap();

    // Then the crash point inside the deletion itself: erased from
    // rtorrent, one file already deleted, the journal saying "erased".
    let client = Client::new(&rig.rtorrent.socket_url()).unwrap();
    let hash = client
        .downloads()
        .unwrap()
        .into_iter()
        .find(|d| d.name == "album")
        .map(|d| d.hash);
    if let Some(hash) = hash {
        client.erase(&hash).unwrap();
    }
    std::fs::remove_file(rig.rtorrent.data_dir.join("album/a.bin")).unwrap();
    let mut journal = rig.journal();
    for entry in journal["torrents"].as_object_mut().unwrap().values_mut() {
        entry["phase"] = serde_json::json!("erased");
    }
    std::fs::write(rig.journal_path(), serde_json::to_vec(&journal).unwrap()).unwrap();

    let (runs, _) = rig.rotate_until_done(&[]);
    assert_eq!(runs, 1, "finishing a removal takes one run");
    rig.assert_rotation_complete(&[]);
}

// ------------------------------------------------------------ isolation

/// The remote has every byte of `name` (a file or directory) and nothing of
/// it is left locally.
fn assert_moved(rig: &Rig, name: &str) {
    let source = rig.source.join(name);
    for rel in files_under(&source) {
        let remote = join_rel(&rig.remote_dir.join(name), &rel);
        assert!(
            remote.is_file(),
            "{} missing on the remote",
            remote.display()
        );
        assert_eq!(
            sha1_of(&join_rel(&source, &rel)),
            sha1_of(&remote),
            "{} differs on the remote",
            remote.display()
        );
    }
    assert!(
        std::fs::symlink_metadata(rig.rtorrent.data_dir.join(name)).is_err(),
        "{name} is still in the download directory"
    );
    assert!(
        !rig.managed_left().contains(&format!("{name}.torrent")),
        "{name}.torrent is still managed"
    );
}

fn status_of<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["torrents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in status: {status}"))
}

/// A torrent whose data lowspace refuses to copy (its file replaced by a
/// symlink) backs off; the two others rotate in the same run, and the next
/// run does not retry it before its back-off ends.
#[test]
fn a_refused_torrent_backs_off_and_the_others_rotate() {
    let mut rig = Rig::new(
        "rotate-isolate",
        &[
            ("refused.bin", 150 * KIB),
            ("first.bin", 100 * KIB),
            ("second/x.bin", 200 * KIB),
            ("second/y/z.bin", 30 * KIB),
        ],
    );
    rig.configure(2 * 1024 * 1024, 0.0, &rig.local_remote());
    let first = rig.rotate();
    assert!(first.status.success(), "{}", stderr(&first));
    for name in ["refused.bin", "first.bin", "second"] {
        rig.wait_until_complete(name);
    }
    // Same bytes, now behind a symlink: lowspace copies and deletes only
    // regular files, so this torrent cannot be synced.
    let data = rig.rtorrent.data_dir.join("refused.bin");
    let elsewhere = rig.tmp.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::rename(&data, elsewhere.join("refused.bin")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("refused.bin"), &data).unwrap();

    let run = rig.rotate();
    let log = stderr(&run);
    eprintln!("the run said:\n{log}");
    assert_eq!(run.status.code(), Some(1), "{log}");
    assert_moved(&rig, "first.bin");
    assert_moved(&rig, "second");
    assert!(log.contains("symbolic link"), "{log}");
    // One "copying" line per sync tried, and counts that read as words.
    assert_eq!(
        log.lines().filter(|l| l.contains(": copying ")).count(),
        3,
        "{log}"
    );
    assert!(
        log.contains("(1 file)") && log.contains("(2 files)"),
        "{log}"
    );
    assert!(!log.contains("(s)"), "{log}");
    assert!(
        log.contains("refused.bin") && log.contains("not tried again before"),
        "{log}"
    );
    assert!(!rig.remote_dir.join("refused.bin").exists());
    assert!(std::fs::symlink_metadata(&data)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        sha1_of(&elsewhere.join("refused.bin")),
        sha1_of(&rig.source.join("refused.bin"))
    );
    assert_eq!(rig.managed_left(), vec!["refused.bin.torrent"]);

    // status: the reason and when it is tried next.
    let text = String::from_utf8_lossy(&rig.lowspace(&["status"]).stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("refused.bin"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("sync failed (1 time), next try in ")
            && line.contains("UTC")
            && line.contains("symbolic link"),
        "{line}"
    );
    let status = rig.status_json();
    let t = status_of(&status, "refused.bin");
    assert_eq!(t["state"], "backed_off", "{t}");
    assert_eq!(t["failures"], 1, "{t}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let next = t["next_try"].as_u64().unwrap();
    assert!(next > now + 25 * 60 && next <= now + 30 * 60, "{t}");

    // The next run leaves it alone, and says why.
    let again = rig.rotate();
    let log = stderr(&again);
    assert!(again.status.success(), "{log}");
    assert!(
        log.contains("refused.bin: complete and")
            && log.contains("but its last sync failed")
            && log.contains("not tried again before"),
        "{log}"
    );
    assert!(!log.contains("refused.bin: copying"), "{log}");
    assert_eq!(rig.managed_left(), vec!["refused.bin.torrent"]);
    let failures: Vec<serde_json::Value> = rig.journal()["failures"]
        .as_object()
        .map(|m| m.values().cloned().collect())
        .unwrap_or_default();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["name"], "refused.bin");
    assert_eq!(failures[0]["count"], 1, "not retried: {failures:?}");
}

/// A remote with room for the small torrent but not the big one: the small
/// one goes, the big one stays whole, a bigger one is not even tried, and
/// the run fails naming the full remote. Full is the remote's state, not
/// the torrent's: with space back, the next run moves the rest.
#[test]
fn a_full_remote_still_takes_the_torrents_that_fit() {
    let mut rig = Rig::new(
        "rotate-full-small",
        &[
            ("small.bin", 100 * KIB),
            ("big.bin", 700 * KIB),
            ("bigger.bin", 800 * KIB),
        ],
    );
    rig.configure(2 * 1024 * 1024, 0.0, &rig.local_remote());
    let mut tiny = Tmpfs::mount(&rig.remote_dir, "512k");
    let first = rig.rotate();
    assert!(first.status.success(), "{}", stderr(&first));
    for name in ["small.bin", "big.bin", "bigger.bin"] {
        rig.wait_until_complete(name);
    }

    let run = rig.rotate();
    let log = stderr(&run);
    eprintln!("the run said:\n{log}");
    assert_eq!(run.status.code(), Some(1), "{log}");
    assert!(
        log.contains("the remote is full for the directory")
            && log.contains(&rig.remote_dir.display().to_string()),
        "{log}"
    );
    assert!(
        log.contains("bigger.bin: not synced this run: the remote had no room for 700"),
        "{log}"
    );
    assert!(!log.contains("bigger.bin: copying"), "{log}");
    assert_moved(&rig, "small.bin");
    rig.assert_local_copy_intact("big.bin");
    rig.assert_local_copy_intact("bigger.bin");
    assert_eq!(
        rig.managed_left(),
        vec!["big.bin.torrent", "bigger.bin.torrent"]
    );
    // Not backed off: full is the remote's state, the next run tries again.
    let status = rig.status_json();
    assert_eq!(
        status_of(&status, "big.bin")["state"],
        "syncing",
        "{status}"
    );

    // The tmpfs goes, and small.bin's copy with it: the plain directory
    // under it is the bigger remote.
    tiny.unmount();
    rig.rotate_until_done(&[]);
    assert_moved(&rig, "big.bin");
    assert_moved(&rig, "bigger.bin");
}

/// The remote down (sshd stopped) fails the sync, but a torrent waiting
/// for space that fits without that sync's space is loaded all the same.
#[test]
fn a_remote_that_is_down_does_not_stop_loads_that_fit() {
    let mut rig = Rig::new(
        "rotate-down-load",
        &[("done.bin", 120 * KIB), ("next.bin", 200 * KIB)],
    );
    let mut sshd = Sshd::start(&rig.tmp.join("sshd"));
    let remote = rsync_remote(&rig, &sshd, None, "timeout = \"5s\"\nretries = 1");
    rig.configure(1024 * 1024, 0.0, &remote);
    // next.bin arrives later, while the remote is down.
    let held = rig.tmp.join("next.bin.torrent");
    std::fs::rename(rig.managed.join("next.bin.torrent"), &held).unwrap();
    let first = rig.rotate();
    assert!(first.status.success(), "{}", stderr(&first));
    rig.wait_until_complete("done.bin");

    sshd.stop();
    std::fs::rename(&held, rig.managed.join("next.bin.torrent")).unwrap();
    let run = rig.rotate();
    let log = stderr(&run);
    eprintln!("the run said:\n{log}");
    assert_eq!(run.status.code(), Some(1), "{log}");
    assert!(log.contains("cannot reach the remote"), "{log}");
    assert!(log.contains("next.bin: loaded"), "{log}");
    rig.assert_local_copy_intact("done.bin");
    rig.wait_until_complete("next.bin");
    assert_eq!(
        rig.journal()["failures"],
        serde_json::Value::Null,
        "the remote's failure is not the torrent's: no back-off"
    );

    sshd.restart_on_same_port();
    rig.rotate_until_done(&[]);
    rig.assert_rotation_complete(&[]);
}

/// rotate without a remote is a configuration error before anything is
/// loaded; status and check still answer.
#[test]
fn rotate_without_a_remote_is_a_configuration_error() {
    let rig = Rig::new("rotate-noremote", &[("one.bin", 64 * KIB)]);
    let text = format!(
        "[rtorrent]\nsocket_url = \"{}\"\n\n[rotate]\nmanaged_torrents_directory = \"{}\"\nspace_limit = 1048576\n",
        rig.rtorrent.socket_url(),
        rig.managed.display(),
    );
    std::fs::write(&rig.config, text).unwrap();
    let run = rig.lowspace(&["rotate"]);
    let log = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{log}");
    assert!(
        log.contains("lowspace.toml has no remote") && log.contains("add a [remote] section"),
        "{log}"
    );
    let client = Client::new(&rig.rtorrent.socket_url()).unwrap();
    assert!(
        client.downloads().unwrap().is_empty(),
        "nothing may be loaded"
    );

    let status = rig.lowspace(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(
        text.contains("one.bin") && text.contains("loading"),
        "{text}"
    );

    let check = rig.lowspace(&["check"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        stderr(&check)
    );
    assert!(!check.status.success(), "{said}");
    assert!(said.contains("no remote configured"), "{said}");
}

// ------------------------------------------------- move on completion

/// The rtorrent download of `name`.
fn download_named(client: &Client, name: &str) -> lowspace::rtorrent::Download {
    client
        .downloads()
        .unwrap()
        .into_iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("{name} not in rtorrent"))
}

/// rtorrent's "move on completion": a finished torrent's data moved out of
/// the download directory (stopped, moved, `d.directory.set`, started
/// again). Without `[rotate] completed_directory` lowspace refuses before
/// copying or erasing anything, and says which key to set; the other
/// torrent rotates in the same run. With the key set it rotates fully.
#[test]
fn data_moved_on_completion_is_refused_until_completed_directory_is_set() {
    let mut rig = Rig::new(
        "rotate-moved",
        &[
            ("moved/x.bin", 300 * KIB),
            ("moved/y/z.bin", 50 * KIB + 3),
            ("plain.bin", 100 * KIB),
        ],
    );
    rig.configure(8 * 1024 * 1024, 0.0, &rig.local_remote());
    // A long min_seed_time holds the first runs back from syncing while
    // the data is moved.
    let text = std::fs::read_to_string(&rig.config).unwrap();
    let held = text.replace("[rotate]\n", "[rotate]\nmin_seed_time = \"1d\"\n");
    std::fs::write(&rig.config, &held).unwrap();
    let first = rig.rotate();
    assert!(first.status.success(), "{}", stderr(&first));
    rig.wait_until_complete("moved");
    rig.wait_until_complete("plain.bin");

    let client = Client::new(&rig.rtorrent.socket_url()).unwrap();
    let hash = download_named(&client, "moved").hash;
    let completed = rig.tmp.join("completed");
    std::fs::create_dir_all(&completed).unwrap();
    client.stop(&hash).unwrap();
    client.call("d.close", &[Value::str(&hash)]).unwrap();
    std::fs::rename(rig.rtorrent.data_dir.join("moved"), completed.join("moved")).unwrap();
    client
        .call(
            "d.directory.set",
            &[
                Value::str(&hash),
                Value::str(completed.display().to_string()),
            ],
        )
        .unwrap();
    client.start(&hash).unwrap();
    let moved_path = completed.join("moved");
    wait_until(
        "rtorrent to take the moved data",
        Duration::from_secs(30),
        || {
            let d = download_named(&client, "moved");
            d.complete && Path::new(&d.base_path) == moved_path
        },
    );

    std::fs::write(&rig.config, &text).unwrap();
    let run = rig.rotate();
    let log = stderr(&run);
    eprintln!("the run said:\n{log}");
    assert_eq!(run.status.code(), Some(1), "{log}");
    assert!(log.contains("[rotate] completed_directory"), "{log}");
    assert_moved(&rig, "plain.bin");
    // Refused before anything happened: still in rtorrent, data intact
    // where rtorrent put it, nothing copied, the .torrent still managed.
    let d = download_named(&client, "moved");
    assert!(d.complete && Path::new(&d.base_path) == moved_path, "{d:?}");
    for rel in files_under(&rig.source.join("moved")) {
        assert_eq!(
            sha1_of(&rig.source.join("moved").join(&rel)),
            sha1_of(&moved_path.join(&rel)),
            "{} damaged",
            rel.display()
        );
    }
    assert!(!rig.remote_dir.join("moved").exists());
    assert_eq!(rig.managed_left(), vec!["moved.torrent"]);
    assert!(rig.journal_phases().is_empty(), "{}", rig.journal());
    let status = rig.status_json();
    assert_eq!(status_of(&status, "moved")["state"], "backed_off");

    // The key set, and the back-off over (as if half an hour had passed).
    let with_key = text.replace(
        "[rotate]\n",
        &format!(
            "[rotate]\ncompleted_directory = \"{}\"\n",
            completed.display()
        ),
    );
    std::fs::write(&rig.config, with_key).unwrap();
    let mut journal = rig.journal();
    for record in journal["failures"].as_object_mut().unwrap().values_mut() {
        record["last"] = serde_json::json!(0);
    }
    std::fs::write(rig.journal_path(), journal.to_string()).unwrap();
    let (_, logs) = rig.rotate_until_done(&[]);
    assert!(logs.contains("moved: deleted 2 local files"), "{logs}");
    assert_moved(&rig, "moved");
    assert!(
        std::fs::symlink_metadata(&moved_path).is_err(),
        "the moved data is still in the completed directory"
    );
    assert_eq!(std::fs::read_dir(&completed).unwrap().count(), 0);
    rig.assert_rotation_complete(&[]);
}

/// `lowspace rotate` killed (SIGKILL) at pseudo-random moments, many
/// times, while rsync copies at a crawl (`--bwlimit` through a wrapper on
/// PATH), then left to finish: every byte on the remote, nothing left, no
/// torrent loaded twice, and rtorrent downloaded each byte once (its
/// global download total is the data's size, not more).
#[test]
fn sigkill_at_random_moments_during_slow_copies_then_it_finishes() {
    let mut rig = Rig::new(
        "rotate-kill-random",
        &[
            ("one/a.bin", 150 * KIB),
            ("one/b.bin", 90 * KIB + 3),
            ("two.bin", 220 * KIB + 1),
            ("three/c/d.bin", 180 * KIB),
        ],
    );
    let sshd = Sshd::start(&rig.tmp.join("sshd"));
    let bin = rig.tmp.join("slow-rsync-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let rsync = support::require_program("rsync");
    let wrapper = bin.join("rsync");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n# A slow link (tests only).\nexec '{}' --bwlimit=120 \"$@\"\n",
            rsync.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&wrapper, perms).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    rig.envs.push(("PATH".into(), path.clone()));
    let remote = rsync_remote(&rig, &sshd, None, "");
    rig.configure(4 * 1024 * 1024, 0.0, &remote);

    let config = rig.config.display().to_string();
    let logs_dir = rig.tmp.join("killed-runs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    // Moments spread over a copy of 1-2 s; the seed is printed so a
    // failure can be replayed.
    let mut x: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill moments seed {x}");
    let kills = 16;
    for k in 0..kills {
        let log = std::fs::File::create(logs_dir.join(format!("{k}.log"))).unwrap();
        let mut run = lowspace_command(
            rig.tmp.path(),
            &["--config", &config, "rotate"],
            &[("PATH", &path)],
        )
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::thread::sleep(Duration::from_millis(100 + x % 2400));
        kill(&mut run);
        rig.assert_within_limit();
    }
    let (_, logs) = rig.rotate_until_done(&[]);
    rig.assert_rotation_complete(&[]);

    let mut all = logs;
    let mut mid_copy = 0;
    for k in 0..kills {
        let log = std::fs::read_to_string(logs_dir.join(format!("{k}.log"))).unwrap();
        if log.matches(" verified on ").count() < log.matches(": copying ").count() {
            mid_copy += 1;
        }
        all.push_str(&log);
    }
    eprintln!("{mid_copy} of {kills} runs killed during a copy");
    // The sweep is only worth its time if kills land inside copies.
    assert!(mid_copy >= 2, "only {mid_copy} kills landed during a copy");
    for t in &rig.torrents {
        let loads = all
            .lines()
            .filter(|l| l.contains(&format!("{}: loaded (", t.name)))
            .count();
        assert!(
            loads <= 1,
            "{} loaded {loads} times:\n{}",
            t.name,
            tail(&all, 4000)
        );
    }
    let client = Client::new(&rig.rtorrent.socket_url()).unwrap();
    let down = client
        .call("throttle.global_down.total", &[])
        .unwrap()
        .as_i64()
        .unwrap() as u64;
    let total = rig.total();
    assert!(
        down >= total && down < total + total / 10,
        "rtorrent downloaded {down} bytes for {total} bytes of data"
    );
}

/// `verify = "hash"`: a stale copy on the remote with the same size and
/// time as the local data (so the copy step skips it and the size check
/// passes) differs in one byte. The content check catches it: that
/// torrent's data stays, it backs off with the file named, the other
/// torrent rotates.
#[test]
fn hash_verification_keeps_the_data_when_a_remote_byte_differs() {
    let mut rig = Rig::new(
        "rotate-hash",
        &[("stale.bin", 150 * KIB), ("good/a.bin", 100 * KIB)],
    );
    let remote = format!("{}\nverify = \"hash\"", rig.local_remote());
    rig.configure(2 * 1024 * 1024, 0.0, &remote);
    let first = rig.rotate();
    assert!(first.status.success(), "{}", stderr(&first));
    for name in ["stale.bin", "good"] {
        rig.wait_until_complete(name);
    }
    let local = rig.rtorrent.data_dir.join("stale.bin");
    let mut bytes = std::fs::read(&local).unwrap();
    bytes[77_777] ^= 0x80;
    let stale = rig.remote_dir.join("stale.bin");
    std::fs::write(&stale, &bytes).unwrap();
    let mtime = std::fs::metadata(&local).unwrap().modified().unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(mtime)
        .unwrap();

    let run = rig.rotate();
    let log = stderr(&run);
    eprintln!("the run said:\n{log}");
    assert_eq!(run.status.code(), Some(1), "{log}");
    assert_moved(&rig, "good");
    assert!(
        log.contains("hashed on each side"),
        "the cost is logged: {log}"
    );
    let failure = log
        .lines()
        .find(|l| l.contains("differs from the local data"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        failure.contains("stale.bin") && failure.contains("SHA-1"),
        "{failure}"
    );
    assert!(log.contains("not tried again before"), "{log}");
    // Nothing local was deleted; the torrent is still managed.
    rig.assert_local_copy_intact("stale.bin");
    assert_eq!(rig.managed_left(), vec!["stale.bin.torrent"]);
    let status = rig.status_json();
    let t = status_of(&status, "stale.bin");
    assert_eq!(t["state"], "backed_off", "{t}");
}
