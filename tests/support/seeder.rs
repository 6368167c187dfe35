//! A real libtorrent peer (tests/support/lt_peer.py, run with
//! /usr/bin/python3) that seeds generated data to rtorrent on loopback, or
//! downloads from it (the "third client" of the ratio tests). It dials the
//! leecher's listen port itself every second, which is what makes a
//! loopback swarm reliable (see TESTBED.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::free_port;
use super::process::Daemon;
use super::rtorrent::make_torrent;

/// One torrent made from a top-level entry of the source directory.
#[derive(Debug, Clone)]
pub struct MadeTorrent {
    /// The .torrent file (outside the managed directory; tests copy it in).
    pub file: PathBuf,
    /// The top-level file or directory name: the torrent's name.
    pub name: String,
    pub size: u64,
}

/// Writes `files` (path relative to `source`, size) with bytes that differ
/// per file, then makes one torrent per top-level entry with real
/// mktorrent into `torrents_dir`. Returned smallest first.
pub fn generate(source: &Path, torrents_dir: &Path, files: &[(&str, usize)]) -> Vec<MadeTorrent> {
    std::fs::create_dir_all(torrents_dir).unwrap();
    for (i, (rel, size)) in files.iter().enumerate() {
        let path = source.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // A cheap generator (xorshift) so checksums catch any misplaced byte.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0x2545_F491);
        let bytes: Vec<u8> = (0..*size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(&path, bytes).unwrap();
    }
    let mut tops: Vec<String> = files
        .iter()
        .map(|(rel, _)| rel.split('/').next().unwrap().to_string())
        .collect();
    tops.sort();
    tops.dedup();
    let mut made: Vec<MadeTorrent> = tops
        .into_iter()
        .map(|name| {
            let size = files
                .iter()
                .filter(|(rel, _)| rel.split('/').next() == Some(name.as_str()))
                .map(|(_, s)| *s as u64)
                .sum();
            let file = make_torrent(
                &source.join(&name),
                &torrents_dir.join(format!("{name}.torrent")),
            );
            MadeTorrent { file, name, size }
        })
        .collect();
    made.sort_by_key(|t| t.size);
    made
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_peer.py")
}

fn python() -> PathBuf {
    let python = PathBuf::from("/usr/bin/python3");
    assert!(
        python.exists(),
        "/usr/bin/python3 with python3-libtorrent is needed: run scripts/test"
    );
    python
}

/// A running libtorrent peer, stopped by PID on drop.
pub struct Peer {
    pub port: u16,
    pub data: PathBuf,
    daemon: Daemon,
}

impl Peer {
    /// Seeds `torrents` from `data`, dialling `dial` (rtorrent's listen port).
    pub fn seed(data: &Path, torrents: &[PathBuf], dial: &[u16]) -> Peer {
        Peer::start(data, torrents, dial, false)
    }

    /// Downloads `torrents` into `data` from the peers at `dial` only.
    pub fn leech(data: &Path, torrents: &[PathBuf], dial: &[u16]) -> Peer {
        std::fs::create_dir_all(data).unwrap();
        Peer::start(data, torrents, dial, true)
    }

    fn start(data: &Path, torrents: &[PathBuf], dial: &[u16], leech: bool) -> Peer {
        let port = free_port();
        let dial: Vec<String> = dial.iter().map(u16::to_string).collect();
        let mut cmd = Command::new(python());
        cmd.arg(script())
            .arg("--port")
            .arg(port.to_string())
            .arg("--data")
            .arg(data)
            .arg("--dial")
            .arg(dial.join(","));
        if leech {
            cmd.arg("--leech");
        }
        cmd.args(torrents);
        Peer {
            port,
            data: data.to_path_buf(),
            daemon: Daemon::spawn(
                if leech {
                    "libtorrent leecher"
                } else {
                    "libtorrent seeder"
                },
                cmd,
            ),
        }
    }

    pub fn stop(&mut self) {
        self.daemon.stop();
    }
}
