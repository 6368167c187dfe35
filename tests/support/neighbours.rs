//! What a real client writes for the files it was told to skip: one file
//! of a multi-file torrent downloaded alone (every other file priority 0),
//! then every file the client left in its download directory measured by
//! its length and by the blocks it really takes. The file-by-file mode's
//! charging rule (src/rotate/bigfile.rs) is checked against these figures.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lowspace::client::{FilePriority, NewTorrent, ThenDo, TorrentClient};
use lowspace::torrent::{InfoHash, Metainfo};

/// Three files whose boundaries fall inside pieces (32 KiB pieces, as
/// tests/support/rtorrent.rs makes them): the middle one shares a piece
/// with each of the others.
pub const THREE_UNALIGNED: &[(&str, usize)] = &[
    ("trio/a.bin", 100 * 1024 + 5000),
    ("trio/b.bin", 100 * 1024 + 7000),
    ("trio/c.bin", 100 * 1024 + 3000),
];

/// One file left in the download directory: path relative to it, length,
/// bytes allocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnDisk {
    pub path: PathBuf,
    pub len: u64,
    pub allocated: u64,
}

/// Every file under `dir`, sorted by path.
pub fn on_disk(dir: &Path) -> Vec<OnDisk> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<OnDisk>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let path = e.path();
        let Ok(m) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if m.is_dir() {
            walk(root, &path, out);
        } else {
            out.push(OnDisk {
                path: path.strip_prefix(root).unwrap().to_path_buf(),
                len: m.len(),
                allocated: std::os::unix::fs::MetadataExt::blocks(&m) * 512,
            });
        }
    }
}

/// Adds `torrent` stopped with every file off, turns file `wanted` on,
/// starts it, waits until the client calls that file complete, stops it
/// and returns its info-hash.
pub fn download_one_file(client: &dyn TorrentClient, torrent: &Path, wanted: usize) -> InfoHash {
    let metainfo = std::fs::read(torrent).unwrap();
    let meta = Metainfo::from_bytes(&metainfo).unwrap();
    let hash = meta.info_hash();
    let added = client
        .add(&[NewTorrent {
            metainfo,
            start: false,
            label: "lowspace".into(),
        }])
        .unwrap();
    assert!(added[0].is_ok(), "{:?}", added[0]);
    super::wait_until("the torrent added", Duration::from_secs(10), || {
        client.has(&hash).unwrap_or(false)
    });
    let count = client.files(&hash, false).unwrap().files.len();
    select_only(client, &hash, count, wanted);
    wait_complete(client, &hash, wanted);
    hash
}

/// Every file off but `wanted`, then started.
pub fn select_only(client: &dyn TorrentClient, hash: &InfoHash, count: usize, wanted: usize) {
    let priorities: Vec<(usize, FilePriority)> = (0..count)
        .map(|i| {
            let p = if i == wanted {
                FilePriority::Normal
            } else {
                FilePriority::Off
            };
            (i, p)
        })
        .collect();
    client
        .set_file_priorities(
            hash,
            &priorities,
            ThenDo {
                check_hash: false,
                start: true,
            },
        )
        .unwrap();
}

/// Waits until file `wanted` is complete, then stops the torrent (and
/// gives the client a moment to flush and close its files).
pub fn wait_complete(client: &dyn TorrentClient, hash: &InfoHash, wanted: usize) {
    super::wait_until("the selected file", Duration::from_secs(90), || {
        let files = client.files(hash, false).unwrap();
        let f = &files.files[wanted];
        f.pieces > 0 && f.done_pieces == f.pieces
    });
    client.stop(hash).unwrap();
    std::thread::sleep(Duration::from_secs(2));
}
