//! The crash-point sweep: a rotation covering load, sync, verify, erase,
//! delete, file-by-file selection, file sync, truncation and leaving file
//! mode is aborted (`std::process::abort`, in a child process: no clean
//! return, no destructor) at each journal save and outside step in turn;
//! then normal runs finish it, and what a user would check is checked:
//! every byte on the remote identical to the swarm's, no local file gone
//! before the remote held it, no file fetched twice.
//!
//! The torrent client is the in-memory double ([`FakeClient`]), whose state
//! is a file, so it outlives the aborted process; the remote is a real
//! local directory.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::client::fake::FakeClient;
use crate::rotate::execute::Checkpoint;
use crate::rotate::run::rotate_with;

const KIB: usize = 1024;
const PIECE: usize = 16 * KIB;
const ENV_DIR: &str = "LOWSPACE_CRASH_SWEEP_DIR";
const ENV_AT: &str = "LOWSPACE_CRASH_SWEEP_AT";

/// (torrent name, files inside it; a single file when the list is one
/// entry named like the torrent).
fn torrents() -> Vec<(&'static str, Vec<(&'static str, usize)>)> {
    vec![
        ("alpha.bin", vec![("alpha.bin", 40 * KIB + 7)]),
        (
            "beta",
            vec![("one.bin", 20 * KIB), ("sub/two.bin", 30 * KIB + 1)],
        ),
        (
            "gamma",
            vec![
                ("a.bin", 48 * KIB),
                ("b.bin", 40 * KIB + 5),
                ("d/c.bin", 64 * KIB),
                ("e.bin", 32 * KIB + 100),
                ("f.txt", 3 * KIB),
            ],
        ),
    ]
}

/// Deterministic bytes, different per file.
fn content(seed: &str, len: usize) -> Vec<u8> {
    let mut x: u64 = seed.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A v1 .torrent over `files` (relative to `source`), built by hand so
/// multi-file torrents need no outside tool.
fn make_torrent(source: &Path, name: &str, files: &[(&str, usize)]) -> Vec<u8> {
    use sha1::{Digest, Sha1};
    let single = files.len() == 1 && files[0].0 == name;
    let mut data = Vec::new();
    for (path, _) in files {
        let p = if single {
            source.join(name)
        } else {
            source.join(name).join(path)
        };
        data.extend(std::fs::read(p).unwrap());
    }
    let pieces: Vec<u8> = data
        .chunks(PIECE)
        .flat_map(|c| <[u8; 20]>::from(Sha1::digest(c)))
        .collect();
    let mut e = crate::torrent::bencode::Encoder::new();
    e.begin_dict().bytes(b"info").begin_dict();
    if single {
        e.bytes(b"length").int(files[0].1 as i64);
    } else {
        e.bytes(b"files").begin_list();
        for (path, size) in files {
            e.begin_dict().bytes(b"length").int(*size as i64);
            e.bytes(b"path").begin_list();
            for part in path.split('/') {
                e.bytes(part.as_bytes());
            }
            e.end().end();
        }
        e.end();
    }
    e.bytes(b"name").bytes(name.as_bytes());
    e.bytes(b"piece length").int(PIECE as i64);
    e.bytes(b"pieces").bytes(&pieces);
    e.end().end();
    e.finish()
}

struct Scenario {
    root: PathBuf,
}

impl Scenario {
    fn source(&self) -> PathBuf {
        self.root.join("swarm")
    }
    fn downloads(&self) -> PathBuf {
        self.root.join("downloads")
    }
    fn remote(&self) -> PathBuf {
        self.root.join("remote")
    }
    fn managed(&self) -> PathBuf {
        self.root.join("managed")
    }

    fn create(root: PathBuf) -> Scenario {
        let _ = std::fs::remove_dir_all(&root);
        let s = Scenario { root };
        for d in [s.source(), s.downloads(), s.remote(), s.managed()] {
            std::fs::create_dir_all(d).unwrap();
        }
        for (name, files) in torrents() {
            let single = files.len() == 1 && files[0].0 == name;
            for (path, size) in &files {
                let p = if single {
                    s.source().join(name)
                } else {
                    s.source().join(name).join(path)
                };
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, content(&format!("{name}/{path}"), *size)).unwrap();
            }
            std::fs::write(
                s.managed().join(format!("{name}.torrent")),
                make_torrent(&s.source(), name, &files),
            )
            .unwrap();
        }
        let config = format!(
            "[rtorrent]\nsocket_url = \"scgi://127.0.0.1:9\"\n\n[rotate]\n\
             managed_torrents_directory = \"{}\"\nspace_limit = {}\nrequired_ratio = 0\n\n\
             [remote]\nservice = \"local\"\npath = \"{}\"\n",
            s.managed().display(),
            130 * KIB,
            s.remote().display()
        );
        std::fs::write(s.root.join("lowspace.toml"), config).unwrap();
        s
    }

    fn client(&self) -> FakeClient {
        FakeClient::new(&self.root, &self.source(), &self.downloads())
    }

    fn config(&self) -> crate::config::Config {
        crate::config::load(&self.root.join("lowspace.toml")).unwrap()
    }

    /// Every file of every torrent, relative to the download directory.
    fn files(&self) -> Vec<String> {
        let mut all = Vec::new();
        for (name, files) in torrents() {
            let single = files.len() == 1 && files[0].0 == name;
            for (path, _) in files {
                all.push(if single {
                    name.to_string()
                } else {
                    format!("{name}/{path}")
                });
            }
        }
        all
    }

    /// No file fetched from the swarm is gone from the local disk (deleted
    /// or truncated) unless the remote holds it byte for byte.
    fn check_nothing_lost(&self) {
        let state = self.client().load();
        for rel in state.downloaded.keys() {
            let want = std::fs::read(self.source().join(rel)).unwrap();
            let local = std::fs::read(self.downloads().join(rel)).ok();
            if local.as_deref() == Some(&want[..]) {
                continue;
            }
            let remote = std::fs::read(self.remote().join(rel)).ok();
            assert!(
                remote.as_deref() == Some(&want[..]),
                "{rel} is gone locally ({:?} bytes left) but the remote has {:?} bytes of it, not a copy",
                local.map(|l| l.len()),
                remote.map(|r| r.len())
            );
        }
    }

    fn done(&self) -> bool {
        let torrents_left = std::fs::read_dir(self.managed())
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|x| x == "torrent"));
        !torrents_left && self.client().load().torrents.is_empty()
    }

    /// Rotations until everything is on the remote; each checkpoint calls
    /// `at`. Returns the number of runs.
    fn rotate_to_the_end(&self, at: &dyn Fn(Checkpoint)) -> usize {
        let config = self.config();
        let client = self.client();
        let mut errors = Vec::new();
        for run in 1..=40 {
            if self.done() {
                return run - 1;
            }
            // Failures of a run are allowed (the next one continues);
            // what counts is the state at the end.
            match rotate_with(&config, &client, at, false) {
                Err(e) => errors.push(e.to_string()),
                Ok(None) => errors.push("locked".into()),
                Ok(Some(r)) => {
                    errors.push(format!("{:?}", r.outcome.as_ref().map(|o| &o.failures)))
                }
            }
        }
        errors.dedup();
        panic!(
            "not done after 40 runs; errors: {errors:?}; client calls: {:?}",
            self.client().load().calls
        );
    }

    /// What a user checks at the end.
    fn check_end(&self) {
        let state = self.client().load();
        for rel in self.files() {
            let want = std::fs::read(self.source().join(&rel)).unwrap();
            let remote = std::fs::read(self.remote().join(&rel))
                .unwrap_or_else(|e| panic!("{rel} is not on the remote: {e}"));
            assert!(
                remote == want,
                "{rel} on the remote differs from the swarm's"
            );
            assert_eq!(
                state.downloaded.get(&rel).copied(),
                Some(want.len() as u64),
                "{rel} was fetched {:?} bytes for {} (fetched again after a crash?)",
                state.downloaded.get(&rel),
                want.len()
            );
        }
        let mut left = Vec::new();
        walk(&self.downloads(), &mut left);
        assert!(left.is_empty(), "local data left: {left:?}");
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn sweep_root() -> PathBuf {
    std::env::temp_dir().join(format!("lowspace-crash-sweep-{}", std::process::id()))
}

/// The child: runs the scenario and aborts at checkpoint N. Run only by
/// [`crash_at_every_point`] (it is ignored otherwise).
#[test]
#[ignore = "run by crash_at_every_point in a child process"]
fn crash_child() {
    let (Ok(dir), Ok(at)) = (std::env::var(ENV_DIR), std::env::var(ENV_AT)) else {
        return;
    };
    let at: usize = at.parse().unwrap();
    let s = Scenario {
        root: PathBuf::from(dir),
    };
    let count = Cell::new(0usize);
    let kinds = std::cell::RefCell::new(Vec::new());
    let hook = |point: Checkpoint| {
        s.check_nothing_lost();
        kinds.borrow_mut().push(format!("{point:?}"));
        count.set(count.get() + 1);
        if count.get() == at {
            std::process::abort();
        }
    };
    s.rotate_to_the_end(&hook);
    std::fs::write(s.root.join("completed"), kinds.borrow().join("\n")).unwrap();
}

/// The sweep and the journal test run one at a time: run side by side,
/// the journal test's later runs found its run lock held (about one run in
/// four, under load) though nothing of its own held it — a lock file
/// descriptor reaching one of the sweep's child processes between fork and
/// exec is the suspect, not confirmed. Serialised, neither can see the other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn crash_at_every_point() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let started = std::time::Instant::now();
    let exe = std::env::current_exe().unwrap();
    let test_name = format!(
        "{}::crash_child",
        module_path!().split_once("::").map_or("", |(_, p)| p)
    );
    let base = sweep_root();
    let mut crashes = 0;
    for at in 1.. {
        let s = Scenario::create(base.join(format!("at-{at}")));
        let out = Command::new(&exe)
            .args([&test_name, "--exact", "--ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(ENV_DIR, &s.root)
            .env(ENV_AT, at.to_string())
            .output()
            .unwrap();
        let completed = std::fs::read_to_string(s.root.join("completed")).ok();
        use std::os::unix::process::ExitStatusExt;
        if completed.is_none() {
            assert_eq!(
                out.status.signal(),
                Some(6),
                "crash point {at}: the child neither aborted nor completed: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout)
            );
            crashes += 1;
        }
        // After the crash, normal runs finish the work.
        s.check_nothing_lost();
        s.rotate_to_the_end(&|_| s.check_nothing_lost());
        s.check_end();
        let calls = s.client().load().calls;
        let _ = std::fs::remove_dir_all(&s.root);
        if let Some(kinds) = completed {
            // The uninterrupted run went through every kind of step,
            // file-by-file mode included.
            for kind in [
                "JournalSaved",
                "Client",
                "Pushed",
                "Verified",
                "Deleted",
                "Truncated",
                "Disposed",
            ] {
                assert!(kinds.lines().any(|k| k == kind), "no {kind} in {kinds}");
            }
            for call in ["add", "erase", "set_file_priorities", "files"] {
                assert!(
                    calls.iter().any(|c| c.split(' ').next() == Some(call)),
                    "no {call} in {calls:?}"
                );
            }
            assert_eq!(kinds.lines().count(), at - 1);
            break;
        }
    }
    let _ = std::fs::remove_dir_all(&base);
    eprintln!(
        "crash sweep: {crashes} crash points, each recovered, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        crashes > 50,
        "only {crashes} crash points: the scenario is too small"
    );
}

/// A journal that can no longer be written in the middle of a removal
/// stops the run with the journal's message, nothing more is copied, and
/// once it is writable again normal runs finish everything without loss.
#[test]
fn a_journal_write_failure_during_a_removal_stops_the_run() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Not under sweep_root(): the sweep removes that whole directory when
    // it ends.
    let s = Scenario::create(
        std::env::temp_dir().join(format!("lowspace-crash-journal-{}", std::process::id())),
    );
    let journal = s.managed().join(".lowspace").join("journal.json");
    let aside = journal.with_extension("aside");
    let broken = Cell::new(false);
    let remote_then = std::cell::RefCell::new(Vec::new());
    let hook = |c: Checkpoint| {
        if c == Checkpoint::Deleted && !broken.get() {
            broken.set(true);
            // A directory in its place: the new journal cannot be renamed
            // over it.
            std::fs::rename(&journal, &aside).unwrap();
            std::fs::create_dir_all(journal.join("x")).unwrap();
            walk(&s.remote(), &mut remote_then.borrow_mut());
        }
    };
    let config = s.config();
    let client = s.client();
    let mut result = None;
    for _ in 0..40 {
        let r = rotate_with(&config, &client, &hook, false);
        if broken.get() {
            result = Some(r);
            break;
        }
    }
    let err = match result {
        Some(Err(e)) => e.to_string(),
        Some(Ok(_)) => panic!("the run went on after the journal could not be written"),
        None => panic!("no removal in 40 runs"),
    };
    assert!(err.contains("cannot write journal"), "{err}");
    let mut remote_now = Vec::new();
    walk(&s.remote(), &mut remote_now);
    assert_eq!(
        remote_now,
        remote_then.take(),
        "copied to the remote after the journal failed"
    );
    s.check_nothing_lost();
    std::fs::remove_dir_all(&journal).unwrap();
    std::fs::rename(&aside, &journal).unwrap();
    s.rotate_to_the_end(&|_| s.check_nothing_lost());
    s.check_end();
    let _ = std::fs::remove_dir_all(&s.root);
}
