//! `lowspace rotate` loading real-sized .torrent files into a real
//! rtorrent 0.9.8 left at its default `network.xmlrpc.size_limit`
//! (512 KiB): a 4 GiB torrent with 2 MiB pieces carries 40 KB of piece
//! hashes, so a handful of them already fill one request. The metainfo is
//! written directly with random piece hashes: the data never needs to
//! download, only to be loaded.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use lowspace::rtorrent::xmlrpc::Value;
use lowspace::rtorrent::Client;
use lowspace::torrent::bencode::Encoder;
use support::rtorrent::Rtorrent;
use support::run_lowspace;
use support::tempdir::TempDir;

/// 16 KiB pieces keep the data small on disk (rtorrent creates the files
/// sparse anyway); the piece count sets the metainfo size.
const PIECE_LENGTH: u64 = 16 * 1024;

/// Writes a single-file .torrent of `pieces` random piece hashes (20
/// bytes each) and returns its size in bytes.
fn write_torrent(path: &Path, name: &str, pieces: u64) -> usize {
    let mut hashes = vec![0u8; (pieces * 20) as usize];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").unwrap(),
        &mut hashes,
    )
    .unwrap();
    let bytes = Encoder::new()
        .begin_dict()
        .bytes(b"announce")
        .bytes(b"http://127.0.0.1:9/announce")
        .bytes(b"info")
        .begin_dict()
        .bytes(b"length")
        .int((pieces * PIECE_LENGTH - 1) as i64)
        .bytes(b"name")
        .bytes(name.as_bytes())
        .bytes(b"piece length")
        .int(PIECE_LENGTH as i64)
        .bytes(b"pieces")
        .bytes(&hashes)
        .bytes(b"private")
        .int(1)
        .end()
        .end()
        .finish();
    std::fs::write(path, &bytes).unwrap();
    // Written an hour ago, as a managed directory's files usually were:
    // rotate does not remember files changed in the last seconds.
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();
    bytes.len()
}

struct Rig {
    tmp: TempDir,
    rtorrent: Rtorrent,
    managed: PathBuf,
    config: PathBuf,
}

impl Rig {
    /// rtorrent with no size limit of its own in the rc: its default.
    fn new(label: &str) -> Rig {
        let tmp = TempDir::new(label);
        let rtorrent = Rtorrent::start(&tmp.join("rtorrent"));
        let managed = tmp.join("managed");
        std::fs::create_dir_all(&managed).unwrap();
        let remote = tmp.join("remote");
        std::fs::create_dir_all(&remote).unwrap();
        let config = tmp.join("lowspace.toml");
        // Room for every torrent's data (a few GB, never written).
        std::fs::write(
            &config,
            format!(
                "log_level = \"debug\"\n\n[rtorrent]\nsocket_url = \"{}\"\n\n[rotate]\n\
                 managed_torrents_directory = \"{}\"\nspace_limit = \"40 GiB\"\nrequired_ratio = 0\n\n\
                 [remote]\nservice = \"local\"\npath = \"{}\"\n",
                rtorrent.socket_url(),
                managed.display(),
                remote.display()
            ),
        )
        .unwrap();
        Rig {
            tmp,
            rtorrent,
            managed,
            config,
        }
    }

    fn rotate(&self) -> Output {
        self.lowspace(&["rotate"])
    }

    fn lowspace(&self, args: &[&str]) -> Output {
        let config = self.config.display().to_string();
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        run_lowspace(self.tmp.path(), &all, &[])
    }

    fn client(&self) -> Client {
        Client::new(&self.rtorrent.socket_url()).unwrap()
    }

    /// Names of the downloads rtorrent holds with the lowspace label, as
    /// its own d.multicall2 lists them.
    fn labelled(&self) -> BTreeSet<String> {
        let reply = self
            .client()
            .call(
                "d.multicall2",
                &[
                    Value::str(""),
                    Value::str("main"),
                    Value::str("d.name="),
                    Value::str("d.custom1="),
                ],
            )
            .unwrap();
        reply
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|row| {
                let row = row.as_array()?;
                (row.get(1)?.as_str()? == "lowspace")
                    .then(|| row.first()?.as_str().map(String::from))?
            })
            .collect()
    }

    /// rtorrent adds the last loads of a request to its views a moment
    /// after answering.
    fn wait_for_labelled(&self, want: &BTreeSet<String>, log: &str) {
        let start = std::time::Instant::now();
        loop {
            let got = self.labelled();
            if &got == want {
                return;
            }
            if start.elapsed() > std::time::Duration::from_secs(15) {
                panic!(
                    "rtorrent lists {} labelled downloads, expected {}: missing {:?}, extra {:?}\n{log}",
                    got.len(),
                    want.len(),
                    want.difference(&got).collect::<Vec<_>>(),
                    got.difference(want).collect::<Vec<_>>()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    fn size_limit(&self) -> i64 {
        self.client()
            .call("network.xmlrpc.size_limit", &[])
            .unwrap()
            .as_i64()
            .unwrap()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// About 40 KB of metainfo each (2,000 pieces), sizes all different so the
/// plan's order is defined.
fn write_managed(rig: &Rig, count: u64) -> BTreeSet<String> {
    (0..count)
        .map(|i| {
            let name = format!("real-sized {i:02}.bin");
            let len = write_torrent(
                &rig.managed.join(format!("{name}.torrent")),
                &name,
                2_000 + i,
            );
            assert!((40_000..42_000).contains(&len), "{len}");
            name
        })
        .collect()
}

#[test]
fn sixty_real_sized_torrents_load_in_one_run_under_the_default_limit() {
    let rig = Rig::new("rotate-load-60");
    assert_eq!(rig.size_limit(), 512 * 1024, "rtorrent's default limit");
    let names = write_managed(&rig, 60);

    let out = rig.rotate();
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    rig.wait_for_labelled(&names, &log);
    // 60 × ~54 KB of base64 is 3.2 MB: seven requests of at most 512 KiB,
    // plus the one that reads rtorrent's state.
    assert!(
        log.contains("loaded 60,") && log.contains(", 8 rtorrent round trips"),
        "{log}"
    );
    assert!(!log.contains("too large"), "{log}");
    assert!(
        log.contains("managed directory: 60 .torrent files, 60 read"),
        "{log}"
    );

    // The next run finds nothing changed: no .torrent is read again.
    let out = rig.rotate();
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("managed directory: 60 .torrent files, 0 read (0 bytes), 60 from"),
        "{log}"
    );
    assert!(log.contains("loaded 0,"), "{log}");
}

#[test]
fn a_torrent_over_the_limit_fails_alone_naming_the_rc_line() {
    let rig = Rig::new("rotate-load-big");
    let small = write_managed(&rig, 5);
    // 30,000 pieces: 600 KB of metainfo, 800 KB as base64, over 512 KiB.
    let big = "too big.bin";
    let len = write_torrent(&rig.managed.join("too big.bin.torrent"), big, 30_000);
    assert!(len > 512 * 1024, "{len}");

    let out = rig.rotate();
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    rig.wait_for_labelled(&small, &log);
    let line = log
        .lines()
        .find(|l| l.contains(big) && l.contains("not loaded"))
        .unwrap_or_else(|| panic!("no error for {big}: {log}"));
    assert!(
        line.contains("network.xmlrpc.size_limit.set = 1M") && line.contains(".rtorrent.rc"),
        "{line}"
    );

    let status = rig.lowspace(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains(big) && text.contains("cannot be loaded") && text.contains("size_limit.set"),
        "{text}"
    );

    // With the limit raised as told, the next run loads it.
    rig.client()
        .call(
            "network.xmlrpc.size_limit.set",
            &[Value::str(""), Value::str("1M")],
        )
        .unwrap();
    let out = rig.rotate();
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    let mut all = small;
    all.insert(big.to_string());
    rig.wait_for_labelled(&all, &log);
}
