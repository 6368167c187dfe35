//! The shared frame of the `rotate` tests on a real torrent client
//! (qBittorrent, Transmission, Deluge): generated torrents in a managed
//! directory, a config pointing at a local remote, lowspace run until the
//! managed directory is empty with the disk sampled against the limit each
//! run, and the checks a user would make afterwards. What differs per
//! client (starting it, listing its torrents, its own API checks) stays in
//! each test file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lowspace::client::{NewTorrent, TorrentClient};

use super::files::{files_under, sha1_of};
use super::run_lowspace;
use super::seeder::MadeTorrent;

/// The torrent the user added to the client themselves: lowspace must
/// leave it (and its data) alone.
pub const UNMANAGED: &str = "unmanaged.bin";

/// Three torrents (one of them a directory) whose total exceeds an
/// 800 KiB limit, plus the user's own torrent.
pub const THREE_AND_UNMANAGED: &[(&str, usize)] = &[
    ("alpha.bin", 300 * 1024),
    ("beta/one.dat", 200 * 1024),
    ("beta/two.dat", 250 * 1024),
    ("gamma.iso", 500 * 1024),
    (UNMANAGED, 100 * 1024),
];

/// One torrent of three files each more than half of a 500 KiB limit
/// (boundaries inside 32 KiB pieces), plus the user's own torrent.
pub const BIG_AND_UNMANAGED: &[(&str, usize)] = &[
    ("big/a.bin", 300 * 1024 + 5000),
    ("big/b.bin", 280 * 1024 + 7000),
    ("big/c.bin", 260 * 1024 + 3000),
    (UNMANAGED, 100 * 1024),
];

/// Asserts that `b` holds the same files as `a`, byte for byte, and that
/// `a` is not empty (an empty tree would match anything).
pub fn same_tree(a: &Path, b: &Path) {
    let files = files_under(a);
    assert!(!files.is_empty(), "{} is empty", a.display());
    assert_eq!(files, files_under(b), "{} vs {}", a.display(), b.display());
    for rel in files {
        assert_eq!(
            sha1_of(&a.join(&rel)),
            sha1_of(&b.join(&rel)),
            "{}",
            rel.display()
        );
    }
}

/// The user's own torrent among `made`.
pub fn unmanaged(made: &[MadeTorrent]) -> &MadeTorrent {
    made.iter().find(|t| t.name == UNMANAGED).unwrap()
}

/// The torrents lowspace is to rotate: all of `made` but the user's own.
pub fn managed_torrents(made: &[MadeTorrent]) -> Vec<&MadeTorrent> {
    made.iter().filter(|t| t.name != UNMANAGED).collect()
}

/// Adds the user's own torrent to `client` without lowspace's label and
/// asserts the client took it.
pub fn add_unmanaged(client: &impl TorrentClient, made: &[MadeTorrent]) {
    let added = client
        .add(&[NewTorrent {
            metainfo: std::fs::read(&unmanaged(made).file).unwrap(),
            start: true,
            label: String::new(),
        }])
        .unwrap();
    assert!(added[0].is_ok(), "{:?}", added[0]);
}

/// The directories lowspace works with in one test.
pub struct Directories {
    /// Where the user drops .torrent files for lowspace to rotate.
    pub managed: PathBuf,
    /// The local remote the data goes to.
    pub remote: PathBuf,
}

/// Makes `managed` and `remote` under `tmp` and copies the .torrent files
/// of `torrents` into `managed`.
pub fn stage(tmp: &Path, torrents: &[&MadeTorrent]) -> Directories {
    let managed = tmp.join("managed");
    let remote = tmp.join("remote");
    std::fs::create_dir_all(&managed).unwrap();
    std::fs::create_dir_all(&remote).unwrap();
    for t in torrents {
        std::fs::copy(&t.file, managed.join(t.file.file_name().unwrap())).unwrap();
    }
    Directories { managed, remote }
}

/// Writes `tmp/lowspace.toml`: debug logs, the `[client]` section whose
/// body is `client` (kind, url, login), rotation of `dirs.managed` within
/// `limit` bytes with no ratio to reach, and `dirs.remote` as a local
/// remote. Returns its path.
pub fn write_config(tmp: &Path, client: &str, dirs: &Directories, limit: u64) -> PathBuf {
    let config = tmp.join("lowspace.toml");
    std::fs::write(
        &config,
        format!(
            "log_level = \"debug\"\n\n[client]\n{client}\n\n[rotate]\n\
             managed_torrents_directory = \"{}\"\nspace_limit = {limit}\nrequired_ratio = 0.0\n\n\
             [remote]\nservice = \"local\"\npath = \"{}\"\n",
            dirs.managed.display(),
            dirs.remote.display()
        ),
    )
    .unwrap();
    config
}

/// How a rotation went, for the test's own checks and its report.
pub struct RotationReport {
    /// How many times lowspace ran.
    pub runs: u32,
    /// The most bytes seen on the local disk after a run.
    pub peak_bytes: u64,
    /// Everything lowspace logged, run after run.
    pub logs: String,
}

impl RotationReport {
    /// The last `chars` characters of the logs.
    pub fn tail(&self, chars: usize) -> String {
        let skip = self.logs.chars().count().saturating_sub(chars);
        self.logs.chars().skip(skip).collect()
    }
}

/// How often to run lowspace, and what to measure each time.
pub struct Rotation<'a> {
    /// HOME for lowspace (the test's temp dir).
    pub home: &'a Path,
    pub config: &'a Path,
    /// Done when no .torrent file is left here.
    pub managed: &'a Path,
    /// The space limit: no run may leave more bytes on disk.
    pub limit: u64,
    pub max_runs: u32,
    /// The wait between two runs, for the client to download.
    pub pause: Duration,
}

/// Runs `lowspace rotate` until the managed directory has no .torrent file
/// left, asserting that every run succeeds and that `on_disk()` (the
/// bytes the rotated torrents take locally) stays within the limit after
/// each one. Panics with the logs' tail when `max_runs` are not enough.
pub fn rotate_until_done(rotation: &Rotation, mut on_disk: impl FnMut() -> u64) -> RotationReport {
    let config_arg = rotation.config.display().to_string();
    let limit = rotation.limit;
    let mut report = RotationReport {
        runs: 0,
        peak_bytes: 0,
        logs: String::new(),
    };
    for run in 1..=rotation.max_runs {
        report.runs = run;
        let out = run_lowspace(rotation.home, &["--config", &config_arg, "rotate"], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "run {run} failed:\n{stderr}");
        report.logs.push_str(&stderr);
        let bytes = on_disk();
        report.peak_bytes = report.peak_bytes.max(bytes);
        assert!(
            bytes <= limit,
            "run {run}: {bytes} bytes on disk, over {limit}"
        );
        if torrent_files_in(rotation.managed) == 0 {
            return report;
        }
        std::thread::sleep(rotation.pause);
    }
    panic!("rotation not finished:\n{}", report.tail(6000));
}

fn torrent_files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".torrent"))
        .count()
}

/// The bytes `torrents` take under the client's `download_dir`.
pub fn bytes_of(download_dir: &Path, torrents: &[&MadeTorrent]) -> u64 {
    torrents
        .iter()
        .map(|t| super::disk::bytes_under(&download_dir.join(&t.name)))
        .sum()
}

/// What a user checks once the managed directory is empty: every rotated
/// torrent is byte-identical on the remote and gone from the local disk,
/// the client lists only the user's own torrent (`left_in_client`), which
/// did not go to the remote and whose data is complete and intact.
pub fn assert_rotation_complete(
    source: &Path,
    remote: &Path,
    download_dir: &Path,
    rotated: &[&MadeTorrent],
    left_in_client: &[String],
) {
    for t in rotated {
        let src = source.join(&t.name);
        let dst = remote.join(&t.name);
        if src.is_dir() {
            same_tree(&src, &dst);
        } else {
            assert_eq!(sha1_of(&src), sha1_of(&dst), "{}", t.name);
        }
        assert!(
            !download_dir.join(&t.name).exists(),
            "{} still on the local disk",
            t.name
        );
    }
    assert_eq!(
        left_in_client,
        [UNMANAGED],
        "only the user's torrent is left"
    );
    assert!(!remote.join(UNMANAGED).exists());
    super::wait_until("the unmanaged torrent", Duration::from_secs(30), || {
        download_dir.join(UNMANAGED).exists()
            && sha1_of(&download_dir.join(UNMANAGED)) == sha1_of(&source.join(UNMANAGED))
    });
}

/// What a file-by-file rotation on a real client needs from its test.
pub struct FileByFile<'a> {
    pub rotation: Rotation<'a>,
    /// The client's download directory.
    pub download_dir: &'a Path,
    /// The big torrent.
    pub torrent: &'a MadeTorrent,
}

/// Runs `rotate` until the big torrent is done, sampling every 20 ms (and
/// after each run) what its data and libtorrent's parts file really take
/// (allocated blocks, which is what fills a disk), and asserts it never
/// exceeded the limit. Returns the report and the sampled peak.
pub fn rotate_file_by_file(run: &FileByFile) -> (RotationReport, u64) {
    let hash = lowspace::torrent::Metainfo::from_file(&run.torrent.file)
        .unwrap()
        .info_hash();
    let watched = vec![
        run.torrent.name.clone(),
        format!(".{}.parts", hash.to_hex().to_ascii_lowercase()),
    ];
    let watch = super::disk::DiskWatch::start_with(
        run.download_dir.to_path_buf(),
        watched.clone(),
        super::disk::allocated_under,
    );
    let report = rotate_until_done(&run.rotation, || {
        watched
            .iter()
            .map(|n| super::disk::allocated_under(&run.download_dir.join(n)))
            .sum()
    });
    let peak = watch.peak();
    drop(watch);
    assert!(
        peak <= run.rotation.limit,
        "sampled {peak} bytes on disk, over the limit {}\n{}",
        run.rotation.limit,
        report.tail(6000)
    );
    (report, peak)
}

/// What a user checks after a file-by-file rotation: the big torrent is
/// byte-identical on the remote, the client lists only the user's own
/// torrent (`left_in_client`), whose data is intact, and nothing else is
/// left in the download directory (no parts file, no `.part`).
pub fn assert_file_by_file_complete(
    source: &Path,
    remote: &Path,
    download_dir: &Path,
    torrent: &MadeTorrent,
    left_in_client: &[String],
) {
    assert_rotation_complete(source, remote, download_dir, &[torrent], left_in_client);
    let left: Vec<PathBuf> = super::neighbours::on_disk(download_dir)
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(
        left,
        [PathBuf::from(UNMANAGED)],
        "only the user's torrent is left locally"
    );
}
