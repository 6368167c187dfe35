//! File-by-file mode end to end: one multi-file torrent bigger than the
//! space limit goes through a real rtorrent, fed by a real libtorrent
//! seeder on 127.0.0.1, a few files at a time, by repeated `lowspace
//! rotate` runs (as cron would), to a remote over rsync+sshd or rclone
//! sftp. After every run, and every 20 ms in between, the bytes the torrent
//! really takes on the local disk (allocated blocks) stay within the
//! limit; at the end the remote holds the seeder's bytes and nothing is
//! left locally. Also: a file bigger than the limit, and SIGKILL in the
//! middle of a file's sync.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use lowspace::rtorrent::Client;
use support::disk::{allocated_under, DiskWatch};
use support::files::{files_under, sha1_of};
use support::mktorrent::make;
use support::rtorrent::Rtorrent;
use support::seeder::{generate, MadeTorrent, Peer};
use support::sshd::{fake_slow_ssh, Sshd};
use support::tempdir::TempDir;
use support::{lowspace_command, run_lowspace, wait_until};

const KIB: usize = 1024;
const MAX_RUNS: usize = 80;
const NAME: &str = "Großes Paket ☃";

struct Rig {
    tmp: TempDir,
    rtorrent: Rtorrent,
    _seeder: Peer,
    source: PathBuf,
    managed: PathBuf,
    remote_dir: PathBuf,
    torrent: MadeTorrent,
    config: PathBuf,
    limit: u64,
    peak: DiskWatch,
}

/// Seven files of mixed sizes in nested directories, non-ASCII names;
/// about 850 KiB in all, the largest 300 KiB.
fn big_torrent_files() -> Vec<(String, usize)> {
    vec![
        (format!("{NAME}/a.bin"), 20 * KIB),
        (format!("{NAME}/disc 1/b – ü.bin"), 60 * KIB + 11),
        (format!("{NAME}/disc 1/deep/c.bin"), 110 * KIB),
        (format!("{NAME}/disc 2/ファイル.bin"), 150 * KIB + 5),
        (format!("{NAME}/d.bin"), 200 * KIB),
        (format!("{NAME}/e/f.bin"), 300 * KIB),
        (format!("{NAME}/notes.txt"), 5 * KIB + 3),
    ]
}

impl Rig {
    fn new(label: &str, files: &[(String, usize)]) -> Rig {
        Rig::with(label, files, None, |tmp| {
            Rtorrent::start(&tmp.join("rtorrent"))
        })
    }

    /// With pieces of 2^`piece_log2` bytes (mktorrent -l) and an rtorrent
    /// made by `start` (its data directory on another file system, say).
    fn with(
        label: &str,
        files: &[(String, usize)],
        piece_log2: Option<u32>,
        start: impl FnOnce(&TempDir) -> Rtorrent,
    ) -> Rig {
        let tmp = TempDir::new(label);
        let source = tmp.join("seeder-data");
        let refs: Vec<(&str, usize)> = files.iter().map(|(p, s)| (p.as_str(), *s)).collect();
        let mut torrents = generate(&source, &tmp.join("torrents"), &refs);
        assert_eq!(torrents.len(), 1);
        let mut torrent = torrents.remove(0);
        if let Some(log2) = piece_log2 {
            let out = tmp
                .join("torrents")
                .join(format!("{}.torrent", torrent.name));
            std::fs::remove_file(&out).unwrap();
            torrent.file = make(
                &source,
                &torrent.name,
                &out.display().to_string(),
                &["-a", "http://127.0.0.1:9/announce", "-l", &log2.to_string()],
            );
        }
        let rtorrent = start(&tmp);
        let seeder = Peer::seed(
            &source,
            std::slice::from_ref(&torrent.file),
            &[rtorrent.port],
        );
        let managed = tmp.join("managed");
        std::fs::create_dir_all(&managed).unwrap();
        std::fs::copy(
            &torrent.file,
            managed.join(torrent.file.file_name().unwrap()),
        )
        .unwrap();
        let remote_dir = tmp.join("remote");
        std::fs::create_dir_all(&remote_dir).unwrap();
        let peak = DiskWatch::start_with(
            rtorrent.data_dir.clone(),
            vec![torrent.name.clone()],
            allocated_under,
        );
        Rig {
            config: tmp.join("lowspace.toml"),
            tmp,
            rtorrent,
            _seeder: seeder,
            source,
            managed,
            remote_dir,
            torrent,
            limit: 0,
            peak,
        }
    }

    fn local_remote(&self) -> String {
        format!(
            "service = \"local\"\npath = \"{}\"",
            self.remote_dir.display()
        )
    }

    fn configure(&mut self, limit: u64, remote: &str) {
        self.limit = limit;
        std::fs::write(
            &self.config,
            format!(
                "log_level = \"debug\"\n\n[rtorrent]\nsocket_url = \"{}\"\n\n[rotate]\n\
                 managed_torrents_directory = \"{}\"\nspace_limit = {limit}\nrequired_ratio = 0\n\n\
                 [remote]\n{remote}\n",
                self.rtorrent.socket_url(),
                self.managed.display(),
            ),
        )
        .unwrap();
    }

    fn lowspace(&self, args: &[&str]) -> Output {
        let config = self.config.display().to_string();
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        run_lowspace(self.tmp.path(), &all, &[])
    }

    /// What the torrent takes on the local disk now (allocated blocks).
    fn local_bytes(&self) -> u64 {
        allocated_under(&self.rtorrent.data_dir.join(&self.torrent.name))
    }

    fn assert_within_limit(&self, run: usize) {
        let used = self.local_bytes().max(self.peak.peak());
        assert!(
            used <= self.limit,
            "after run {run}: the torrent took {used} bytes on disk (now {}), over the limit {}; files (length, allocated):\n{}\nstatus:\n{}",
            self.local_bytes(),
            self.limit,
            self.local_listing(),
            String::from_utf8_lossy(&self.lowspace(&["status"]).stdout),
        );
    }

    fn local_listing(&self) -> String {
        let root = self.rtorrent.data_dir.join(&self.torrent.name);
        if !root.exists() {
            return String::new();
        }
        files_under(&root)
            .iter()
            .map(|rel| {
                let m = std::fs::metadata(root.join(rel)).unwrap();
                let bytes = std::fs::read(root.join(rel)).unwrap_or_default();
                let nonzero = bytes.iter().filter(|b| **b != 0).count();
                format!(
                    "  {} {} {} (non-zero bytes {nonzero})\n",
                    m.len(),
                    std::os::unix::fs::MetadataExt::blocks(&m) * 512,
                    rel.display()
                )
            })
            .collect()
    }

    fn rotate(&self, run: usize) -> Output {
        if std::env::var_os("BIGFILE_TRACE").is_some() {
            eprintln!("--- before run {run}:\n{}", self.local_listing());
        }
        let out = self.lowspace(&["rotate"]);
        if self.local_bytes().max(self.peak.peak()) > self.limit {
            eprintln!("run {run} said:\n{}", stderr(&out));
        }
        self.assert_within_limit(run);
        out
    }

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

    fn status_json(&self) -> serde_json::Value {
        let out = self.lowspace(&["status", "--json"]);
        assert!(out.status.success(), "status: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn journal(&self) -> serde_json::Value {
        match std::fs::read(self.managed.join(".lowspace/journal.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap(),
            Err(_) => serde_json::json!({}),
        }
    }

    /// The state of each file in `status --json`, by path.
    fn file_states(&self) -> Vec<(String, String)> {
        let status = self.status_json();
        status["file_mode"]["files"]
            .as_array()
            .map(|files| {
                files
                    .iter()
                    .map(|f| {
                        (
                            f["path"].as_str().unwrap().to_string(),
                            f["state"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Runs rotate about once a second until `done` says so; every run
    /// must succeed and keep the limit. Returns the logs.
    fn rotate_until(&self, what: &str, mut done: impl FnMut(&Rig) -> bool) -> String {
        let mut logs = String::new();
        for run in 1..=MAX_RUNS {
            let out = self.rotate(run);
            let err = stderr(&out);
            assert!(
                out.status.success(),
                "run {run} failed (rtorrent {}):\n{err}",
                if self.rtorrent.is_running() {
                    "still running"
                } else {
                    "gone"
                }
            );
            logs.push_str(&err);
            if std::env::var_os("BIGFILE_TRACE").is_some() {
                eprintln!(
                    "=== run {run}\n{err}\n{}\n{}",
                    self.local_listing(),
                    String::from_utf8_lossy(&self.lowspace(&["status"]).stdout)
                );
            }
            if done(self) {
                eprintln!("{what} after {run} runs");
                return logs;
            }
            std::thread::sleep(Duration::from_millis(700));
        }
        panic!(
            "{what} not reached after {MAX_RUNS} runs\nstatus:\n{}\nlast logs:\n{}",
            String::from_utf8_lossy(&self.lowspace(&["status"]).stdout),
            tail(&logs, 4000)
        );
    }

    /// Every source file on the remote, byte for byte; nothing local.
    fn assert_complete_on_remote_and_gone_locally(&self) {
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
        assert!(
            std::fs::symlink_metadata(self.rtorrent.data_dir.join(&self.torrent.name)).is_err(),
            "the torrent's directory is still in the download directory"
        );
        assert!(self.managed_left().is_empty(), "{:?}", self.managed_left());
        let journal = self.journal();
        assert!(journal.get("file_mode").is_none(), "{journal}");
        assert!(
            journal["torrents"].as_object().is_none_or(|m| m.is_empty()),
            "{journal}"
        );
        let client = Client::new(&self.rtorrent.socket_url()).unwrap();
        assert!(
            client.downloads().unwrap().is_empty(),
            "the torrent is still in rtorrent"
        );
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn rsync_remote(rig: &Rig, sshd: &Sshd, ssh: Option<&Path>) -> String {
    let ssh = match ssh {
        Some(p) => sshd
            .ssh_command()
            .replacen("ssh", &p.display().to_string(), 1),
        None => sshd.ssh_command(),
    };
    format!(
        "service = \"rsync\"\nhost = \"root@127.0.0.1\"\npath = \"{}\"\nssh_command = \"{ssh}\"",
        rig.remote_dir.display()
    )
}

/// Over the costliest file with the files sharing its pieces (150 + 110 +
/// 300 KiB: rtorrent may allocate a piece's neighbours whole), well under
/// the torrent's 845 KiB.
const LIMIT: u64 = 600 * 1024;

/// The whole journey of the big torrent, whatever the remote.
fn run_to_the_end(rig: &Rig) {
    assert!(rig.torrent.size > rig.limit);
    // First run: file mode is entered, nothing fetched unasked.
    let first = rig.rotate(0);
    assert!(first.status.success(), "{}", stderr(&first));
    let log = stderr(&first);
    assert!(log.contains("file by file"), "{log}");
    let states = rig.file_states();
    assert_eq!(states.len(), 7, "{states:?}");
    assert!(
        states.iter().any(|(_, s)| s == "downloading")
            && states.iter().any(|(_, s)| s == "waiting"),
        "the smallest files are chosen, the rest wait: {states:?}"
    );
    assert_eq!(
        rig.journal()["file_mode"]["name"].as_str(),
        Some(NAME),
        "the journal records the torrent in file mode"
    );

    let mut seen_on_remote_mid_way = false;
    rig.rotate_until("the big torrent on the remote", |rig| {
        let states = rig.file_states();
        if states.iter().any(|(_, s)| s == "on_remote")
            && states.iter().any(|(_, s)| s != "on_remote")
        {
            seen_on_remote_mid_way = true;
        }
        rig.managed_left().is_empty()
    });
    assert!(
        seen_on_remote_mid_way,
        "status showed files on the remote along the way"
    );
    rig.assert_complete_on_remote_and_gone_locally();
    eprintln!(
        "peak local usage {} bytes for a limit of {} and a torrent of {}",
        rig.peak.peak(),
        rig.limit,
        rig.torrent.size
    );
}

#[test]
fn a_torrent_bigger_than_the_limit_goes_file_by_file_over_rsync() {
    let mut rig = Rig::new("bigfile-rsync", &big_torrent_files());
    let sshd = Sshd::start(&rig.tmp.join("sshd"));
    let remote = rsync_remote(&rig, &sshd, None);
    rig.configure(LIMIT, &remote);
    run_to_the_end(&rig);
}

#[test]
fn a_torrent_bigger_than_the_limit_goes_file_by_file_over_rclone() {
    let mut rig = Rig::new("bigfile-rclone", &big_torrent_files());
    let sshd = Sshd::start(&rig.tmp.join("sshd"));
    let conf = rig.tmp.join("rclone.conf");
    std::fs::write(&conf, "").unwrap();
    let remote = sshd.rclone_remote_toml(&rig.remote_dir, &conf);
    rig.configure(LIMIT, &remote);
    run_to_the_end(&rig);
}

#[test]
fn a_file_bigger_than_the_limit_is_skipped_and_the_torrent_kept_for_it() {
    let files = vec![
        (format!("{NAME}/small.bin"), 30 * KIB),
        (format!("{NAME}/sub/medium.bin"), 60 * KIB),
        // Piece-aligned (9 × 32 KiB), so its neighbour is not charged for it.
        (format!("{NAME}/huge.bin"), 288 * KIB),
    ];
    let mut rig = Rig::new("bigfile-toobig", &files);
    let remote = format!(
        "service = \"local\"\npath = \"{}\"",
        rig.remote_dir.display()
    );
    rig.configure(200 * 1024, &remote);
    let logs = rig.rotate_until("the fetchable files on the remote", |rig| {
        rig.journal()["partial"]
            .as_object()
            .is_some_and(|p| !p.is_empty())
    });
    assert!(
        logs.contains("huge.bin") && logs.contains("raise space_limit to at least"),
        "the warning names the file and the limit it needs: {}",
        tail(&logs, 3000)
    );
    for name in ["small.bin", "sub/medium.bin"] {
        assert_eq!(
            sha1_of(&rig.source.join(NAME).join(name)),
            sha1_of(&rig.remote_dir.join(NAME).join(name))
        );
    }
    assert!(!rig.remote_dir.join(NAME).join("huge.bin").exists());
    assert_eq!(
        rig.managed_left(),
        vec![format!("{NAME}.torrent")],
        "kept for the file left out"
    );
    // The files on the remote are gone locally; the one on no remote is
    // left as it is (never deleted unverified).
    let local = rig.rtorrent.data_dir.join(NAME);
    let left: Vec<String> = files_under(&local)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        left.iter().all(|p| p == "huge.bin"),
        "only huge.bin may stay: {left:?}"
    );
    let status = rig.status_json();
    let me = status["torrents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == NAME)
        .unwrap()
        .clone();
    assert_eq!(me["state"], "partial", "{status}");
    assert_eq!(me["files_too_big"], 1, "{status}");

    // Another run leaves it alone: not taken up again at the same limit.
    let again = rig.rotate(99);
    assert!(again.status.success(), "{}", stderr(&again));
    let client = Client::new(&rig.rtorrent.socket_url()).unwrap();
    assert!(client.downloads().unwrap().is_empty());
}

#[test]
fn sigkill_in_the_middle_of_a_file_sync_then_a_normal_run_goes_on() {
    let mut rig = Rig::new("bigfile-kill", &big_torrent_files());
    let sshd = Sshd::start(&rig.tmp.join("sshd"));
    let slow = rig.tmp.join("slow-link");
    let ssh = fake_slow_ssh(rig.tmp.path(), &slow, 3.0);
    let remote = rsync_remote(&rig, &sshd, Some(&ssh));
    rig.configure(LIMIT, &remote);

    // Until some file is downloaded and waits for its sync (status looks
    // between runs, for up to 3 s after each).
    rig.rotate_until("a file ready to sync", |rig| {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if rig.file_states().iter().any(|(_, s)| s == "downloaded") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    });
    let ready: Vec<String> = rig
        .file_states()
        .into_iter()
        .filter(|(_, s)| s == "downloaded")
        .map(|(p, _)| p)
        .collect();
    let on_remote_before = rig.journal()["file_mode"]["on_remote"].clone();

    std::fs::write(&slow, b"").unwrap();
    let calls = PathBuf::from(format!("{}.calls", slow.display()));
    let _ = std::fs::remove_file(&calls);
    let config = rig.config.display().to_string();
    let mut run = lowspace_command(rig.tmp.path(), &["--config", &config, "rotate"], &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The second connection is rsync's transfer (the first makes the
    // remote directory).
    wait_until("rsync's connection", Duration::from_secs(30), || {
        std::fs::read_to_string(&calls).is_ok_and(|c| c.lines().count() >= 2)
    });
    std::thread::sleep(Duration::from_millis(500));
    run.kill().unwrap(); // SIGKILL
    run.wait().unwrap();
    rig.assert_within_limit(0);

    // Nothing verified, so nothing truncated: the ready files are intact.
    assert_eq!(rig.journal()["file_mode"]["on_remote"], on_remote_before);
    for path in &ready {
        assert_eq!(
            sha1_of(&rig.source.join(NAME).join(path)),
            sha1_of(&rig.rtorrent.data_dir.join(NAME).join(path)),
            "{path} damaged by the killed run"
        );
    }

    std::fs::remove_file(&slow).unwrap();
    rig.rotate_until("the big torrent on the remote", |rig| {
        rig.managed_left().is_empty()
    });
    rig.assert_complete_on_remote_and_gone_locally();
}

/// Files each between a third and a half of the limit, none piece-aligned:
/// every file shares its first and last pieces. Charged the neighbours'
/// full sizes (3.5 + 3 + 4 MiB > 8 MiB) these were "too big" and the
/// torrent never finished.
fn neighbourly_files(name: &str) -> Vec<(String, usize)> {
    const MIB: usize = 1024 * 1024;
    vec![
        (format!("{name}/01.bin"), 3 * MIB + 1111),
        (format!("{name}/02.bin"), 3 * MIB + MIB / 2 + 333),
        (format!("{name}/03.bin"), 4 * MIB - 777),
        (format!("{name}/04.bin"), 3 * MIB + MIB / 5 + 5),
        (format!("{name}/05.bin"), 3 * MIB + 4 * MIB / 5 + 99),
    ]
}

const MIB: u64 = 1024 * 1024;

#[test]
fn files_sharing_pieces_with_their_neighbours_all_go_through_file_by_file() {
    let mut rig = Rig::with(
        "bigfile-neighbours",
        &neighbourly_files(NAME),
        Some(18),
        |tmp| Rtorrent::start(&tmp.join("rtorrent")),
    );
    let remote = rig.local_remote();
    rig.configure(8 * MIB, &remote);
    let logs = rig.rotate_until("the torrent on the remote", |rig| {
        rig.managed_left().is_empty()
    });
    assert!(
        !logs.contains("raise space_limit"),
        "no file is skipped: {}",
        tail(&logs, 3000)
    );
    rig.assert_complete_on_remote_and_gone_locally();
    eprintln!(
        "peak local usage {} bytes (blocks) for a limit of {} and a torrent of {}",
        rig.peak.peak(),
        rig.limit,
        rig.torrent.size
    );
}

/// An exFAT image (no sparse files) on a loop device, mounted through
/// FUSE with exfat-fuse as rtorrent's data directory (this kernel has no
/// vfat or exfat module; FUSE is what a Pi with an NTFS or exFAT USB disk
/// often uses too). Unmounted and its loop device freed on drop.
struct ExfatMount {
    dir: PathBuf,
    device: String,
}

impl ExfatMount {
    fn new(image: &Path, dir: &Path) -> ExfatMount {
        std::fs::create_dir_all(dir).unwrap();
        let f = std::fs::File::create(image).unwrap();
        f.set_len(64 * MIB).unwrap();
        let run = |program: &str, args: &[&std::ffi::OsStr]| {
            let out = std::process::Command::new(support::require_program(program))
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{program} (tests run as root): {}",
                stderr(&out)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        run("mkfs.exfat", &[image.as_os_str()]);
        let device = run(
            "losetup",
            &["-f".as_ref(), "--show".as_ref(), image.as_os_str()],
        );
        let mount = ExfatMount {
            dir: dir.to_path_buf(),
            device: device.clone(),
        };
        run("mount.exfat-fuse", &[device.as_ref(), dir.as_os_str()]);
        mount
    }
}

impl Drop for ExfatMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new(support::require_program("umount"))
            .arg(&self.dir)
            .status();
        let _ = std::process::Command::new(support::require_program("losetup"))
            .args(["-d", &self.device])
            .status();
    }
}

#[test]
fn without_sparse_files_neighbours_are_charged_whole_and_the_rest_still_finishes() {
    const KIB: usize = 1024;
    const M: usize = 1024 * KIB;
    // With whole neighbours (every boundary is inside a piece): a costs
    // 1.5 + 2 MiB, b 2 + 1.5 + 1.2, c 1.2 + 2 + 2.5, d 2.5 + 1.2 + 3,
    // g 2 + 3: all fit 7 MiB but f, which beside d and g costs 7.5 MiB
    // (on ext4 it would cost 3.5): exFAT skips it and says why.
    let files = vec![
        ("Paket/a.bin".to_string(), M + M / 2 + 7),
        ("Paket/b.bin".to_string(), 2 * M + 101),
        ("Paket/c.bin".to_string(), M + M / 5 + 3),
        ("Paket/d.bin".to_string(), 2 * M + M / 2 + 13),
        ("Paket/f.bin".to_string(), 3 * M + 11),
        ("Paket/g.bin".to_string(), 2 * M + 5),
    ];
    let mut mount = None;
    let mut rig = Rig::with("bigfile-exfat", &files, Some(18), |tmp| {
        let data = tmp.join("exfat");
        mount = Some(ExfatMount::new(&tmp.join("exfat.img"), &data));
        Rtorrent::start_with(
            &tmp.join("rtorrent"),
            support::rtorrent::RtorrentOptions {
                data_dir: Some(data),
                ..Default::default()
            },
        )
    });
    let remote = rig.local_remote();
    rig.configure(7 * MIB, &remote);
    let logs = rig.rotate_until("the fetchable files on the remote", |rig| {
        rig.journal()["partial"]
            .as_object()
            .is_some_and(|p| !p.is_empty())
    });
    assert!(
        logs.contains("is on a FUSE file system (ntfs-3g, exfat-fuse), which has no sparse files"),
        "{}",
        tail(&logs, 3000)
    );
    assert!(
        logs.contains("f.bin") && logs.contains("raise space_limit to at least"),
        "{}",
        tail(&logs, 3000)
    );
    for name in ["a.bin", "b.bin", "c.bin", "d.bin", "g.bin"] {
        assert_eq!(
            sha1_of(&rig.source.join("Paket").join(name)),
            sha1_of(&rig.remote_dir.join("Paket").join(name)),
            "{name}"
        );
    }
    assert!(!rig.remote_dir.join("Paket/f.bin").exists());
    eprintln!(
        "exFAT: peak local usage {} bytes (blocks) for a limit of {}",
        rig.peak.peak(),
        rig.limit
    );
    drop(rig);
    drop(mount);
}

#[test]
fn small_torrents_rotate_while_a_big_one_is_file_by_file() {
    let mut rig = Rig::with(
        "bigfile-beside",
        &neighbourly_files(NAME),
        Some(18),
        |tmp| Rtorrent::start(&tmp.join("rtorrent")),
    );
    let remote = rig.local_remote();
    rig.configure(8 * MIB, &remote);
    let first = rig.rotate(0);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(rig.journal()["file_mode"].is_object(), "{}", stderr(&first));

    // Two small torrents arrive while it is in file-by-file mode.
    let small_source = rig.tmp.join("small-data");
    let smalls = generate(
        &small_source,
        &rig.tmp.join("small-torrents"),
        &[("small one", 300 * 1024 + 7), ("small two", 200 * 1024 + 9)],
    );
    let _small_seeder = Peer::seed(
        &small_source,
        &smalls.iter().map(|t| t.file.clone()).collect::<Vec<_>>(),
        &[rig.rtorrent.port],
    );
    let mut names = vec![rig.torrent.name.clone()];
    for t in &smalls {
        std::fs::copy(&t.file, rig.managed.join(t.file.file_name().unwrap())).unwrap();
        names.push(t.name.clone());
    }
    let all = DiskWatch::start_with(rig.rtorrent.data_dir.clone(), names, allocated_under);
    let small_left = |rig: &Rig| {
        rig.managed_left()
            .iter()
            .filter(|n| n.starts_with("small"))
            .count()
    };
    let logs = rig.rotate_until("the small torrents on the remote", |rig| {
        small_left(rig) == 0
    });
    assert!(
        rig.journal()["file_mode"].is_object(),
        "the big torrent is still file by file when the small ones are done"
    );
    assert!(logs.contains("small one: loading"), "{}", tail(&logs, 3000));
    for t in &smalls {
        assert_eq!(
            sha1_of(&small_source.join(&t.name)),
            sha1_of(&rig.remote_dir.join(&t.name)),
            "{}",
            t.name
        );
        assert!(!rig.rtorrent.data_dir.join(&t.name).exists());
    }
    rig.rotate_until("the big torrent on the remote", |rig| {
        rig.managed_left().is_empty()
    });
    rig.assert_complete_on_remote_and_gone_locally();
    assert!(
        all.peak() <= rig.limit,
        "all torrents together took {} bytes, over the limit {}",
        all.peak(),
        rig.limit
    );
}

#[test]
fn a_downloaded_file_is_synced_not_deleted_when_the_limit_drops_below_it() {
    const KIB: usize = 1024;
    const M: usize = 1024 * KIB;
    // In torrent order (mktorrent sorts by name) a, b and two.bin end on
    // piece boundaries (256 KiB pieces), so two.bin shares no piece: the
    // runs are the same whatever the charging of neighbours, up to the
    // drop of the limit.
    let files = vec![
        (format!("{NAME}/1 a.bin"), 768 * KIB),
        (format!("{NAME}/2 b.bin"), M),
        (format!("{NAME}/3 two.bin"), 2 * M),
        (format!("{NAME}/4 c.bin"), 1100 * KIB + 1),
        (format!("{NAME}/5 later.bin"), 2 * M + 6 * M / 10),
    ];
    let mut rig = Rig::with("bigfile-shrink", &files, Some(18), |tmp| {
        Rtorrent::start(&tmp.join("rtorrent"))
    });
    let remote = rig.local_remote();
    rig.configure(3 * MIB + MIB / 2, &remote);
    rig.rotate_until("3 two.bin downloaded", |rig| {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if rig
                .file_states()
                .iter()
                .any(|(p, s)| p == "3 two.bin" && s == "downloaded")
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    });
    let local = rig.rtorrent.data_dir.join(NAME);
    let held_before: Vec<(String, u64)> = ["1 a.bin", "2 b.bin", "4 c.bin", "5 later.bin"]
        .iter()
        .map(|n| (n.to_string(), allocated_under(&local.join(n))))
        .collect();

    // The user lowers the limit below the downloaded file. What is on disk
    // stays checked against the old limit: the new one cannot hold until
    // the file is copied.
    let remote = rig.local_remote();
    rig.configure(3 * MIB / 2, &remote);
    rig.limit = 3 * MIB + MIB / 2;
    let logs = rig.rotate_until("the torrent out of file-by-file mode", |rig| {
        rig.journal().get("file_mode").is_none()
    });
    let two = rig.remote_dir.join(NAME).join("3 two.bin");
    assert!(
        two.exists(),
        "3 two.bin is not on the remote; on disk: {:?} bytes\n{}",
        std::fs::metadata(rig.rtorrent.data_dir.join(NAME).join("3 two.bin")).map(|m| m.len()),
        tail(&logs, 6000)
    );
    assert_eq!(
        sha1_of(&rig.source.join(NAME).join("3 two.bin")),
        sha1_of(&rig.remote_dir.join(NAME).join("3 two.bin")),
        "the downloaded file went to the remote first"
    );
    assert!(logs.contains("5 later.bin"), "{}", tail(&logs, 3000));
    // Whatever is not on the remote was not deleted.
    for (name, held) in held_before {
        let on_remote = rig.remote_dir.join(NAME).join(&name);
        if on_remote.exists() {
            assert_eq!(
                sha1_of(&rig.source.join(NAME).join(&name)),
                sha1_of(&on_remote),
                "{name}"
            );
        } else {
            assert!(
                local.join(&name).exists(),
                "{name} is on no remote and was deleted"
            );
            assert!(
                allocated_under(&local.join(&name)) >= held,
                "{name} lost bytes"
            );
        }
    }
    assert!(!rig.remote_dir.join(NAME).join("5 later.bin").exists());
    let partial = rig.journal()["partial"].clone();
    assert!(
        partial.to_string().contains("5 later.bin"),
        "the journal keeps the file left out: {partial}"
    );
}
