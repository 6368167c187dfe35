//! `rotate` on a real qbittorrent-nox: three torrents whose total exceeds
//! the space limit go through it one after another into a local remote,
//! while a torrent lowspace does not manage stays untouched.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use lowspace::client::qbittorrent::{Client, QbitOptions};
use lowspace::client::TorrentClient;
use support::client_rotation::{
    add_unmanaged, assert_file_by_file_complete, assert_rotation_complete, bytes_of,
    managed_torrents, rotate_file_by_file, rotate_until_done, stage, write_config, FileByFile,
    Rotation, BIG_AND_UNMANAGED, THREE_AND_UNMANAGED,
};
use support::neighbours::{download_one_file, on_disk, THREE_UNALIGNED};
use support::qbittorrent::Qbittorrent;
use support::seeder::{generate, Peer};
use support::tempdir::TempDir;

#[test]
fn three_torrents_rotate_through_qbittorrent_within_the_limit() {
    let tmp = TempDir::new("rotate-qbit");
    let source = tmp.join("seeder-data");
    let made = generate(&source, &tmp.join("torrents"), THREE_AND_UNMANAGED);
    let qbit = Qbittorrent::start(&tmp.join("qbit"));
    let files: Vec<_> = made.iter().map(|t| t.file.clone()).collect();
    let _seeder = Peer::seed(&source, &files, &[qbit.peer_port]);

    // The user's own torrent, added without lowspace's tag.
    let client = Client::new(QbitOptions {
        url: qbit.url(),
        username: None,
        password: None,
        api_key: None,
    })
    .unwrap();
    add_unmanaged(&client, &made);

    let rotated = managed_torrents(&made);
    let dirs = stage(tmp.path(), &rotated);
    let total: u64 = rotated.iter().map(|t| t.size).sum();
    let limit = 800 * 1024;
    assert!(limit < total);
    let config = write_config(
        tmp.path(),
        &format!("kind = \"qbittorrent\"\nurl = \"{}\"", qbit.url()),
        &dirs,
        limit,
    );

    let report = rotate_until_done(
        &Rotation {
            home: tmp.path(),
            config: &config,
            managed: &dirs.managed,
            limit,
            max_runs: 90,
            pause: Duration::from_millis(700),
        },
        || bytes_of(&qbit.download_dir, &rotated),
    );

    let listed = qbit.torrents();
    let names: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect();
    assert_rotation_complete(&source, &dirs.remote, &qbit.download_dir, &rotated, &names);
    eprintln!("{}", report.tail(4000));
}

fn client(qbit: &Qbittorrent) -> Client {
    Client::new(QbitOptions {
        url: qbit.url(),
        username: None,
        password: None,
        api_key: None,
    })
    .unwrap()
}

/// File-by-file mode on qBittorrent 4.5.2: a torrent of three files, each
/// more than half the limit, goes through one file at a time; the parts
/// file libtorrent keeps for the skipped files' pieces is charged and
/// deleted, and the user's own torrent stays.
#[test]
fn a_torrent_bigger_than_the_limit_goes_file_by_file_through_qbittorrent() {
    let tmp = TempDir::new("rotate-qbit-big");
    let source = tmp.join("seeder-data");
    let made = generate(&source, &tmp.join("torrents"), BIG_AND_UNMANAGED);
    let qbit = Qbittorrent::start(&tmp.join("qbit"));
    let files: Vec<_> = made.iter().map(|t| t.file.clone()).collect();
    let _seeder = Peer::seed(&source, &files, &[qbit.peer_port]);
    add_unmanaged(&client(&qbit), &made);
    let big = made.iter().find(|t| t.name == "big").unwrap();
    let dirs = stage(tmp.path(), &[big]);
    let limit = 500 * 1024;
    assert!(big.size > limit);
    let config = write_config(
        tmp.path(),
        &format!("kind = \"qbittorrent\"\nurl = \"{}\"", qbit.url()),
        &dirs,
        limit,
    );
    let (report, peak) = rotate_file_by_file(&FileByFile {
        rotation: Rotation {
            home: tmp.path(),
            config: &config,
            managed: &dirs.managed,
            limit,
            max_runs: 120,
            pause: Duration::from_millis(500),
        },
        download_dir: &qbit.download_dir,
        torrent: big,
    });
    let names: Vec<String> = qbit
        .torrents()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect();
    assert_file_by_file_complete(&source, &dirs.remote, &qbit.download_dir, big, &names);
    assert!(
        report.logs.contains("downloading next"),
        "{}",
        report.tail(3000)
    );
    eprintln!(
        "{} runs, sampled peak {peak} of {limit} bytes\n{}",
        report.runs,
        report.tail(3000)
    );
}

/// What qBittorrent 4.5.2 (libtorrent 2.0.8) writes for skipped files:
/// the neighbours' parts of the shared pieces go to `.<hash>.parts` in the
/// save path (the neighbours themselves are not created); removing the
/// torrent deletes it. The charging rule in src/rotate/bigfile.rs is built
/// on these figures.
#[test]
fn qbittorrent_keeps_a_skipped_neighbours_part_in_its_parts_file() {
    let tmp = TempDir::new("qbit-neighbours");
    let source = tmp.join("seeder-data");
    let made = generate(&source, &tmp.join("torrents"), THREE_UNALIGNED);
    let qbit = Qbittorrent::start(&tmp.join("qbit"));
    let _seeder = Peer::seed(&source, &[made[0].file.clone()], &[qbit.peer_port]);
    let client = client(&qbit);
    let hash = download_one_file(&client, &made[0].file, 1);
    let parts = format!(".{}.parts", hash.to_hex().to_ascii_lowercase());
    let listed = on_disk(&qbit.download_dir);
    eprintln!("{listed:#?}");
    let paths: Vec<String> = listed
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    assert_eq!(paths, [parts.as_str(), "trio/b.bin"]);
    // The neighbours' parts, 9 096 and 12 576 bytes, in 32 KiB slots
    // after a 1 KiB header.
    // Two slots after the header; the last one ends where its part does
    // (which piece came first decides the length).
    assert!(listed[0].len <= 1024 + 2 * 32 * 1024, "{:?}", listed[0]);
    assert!(listed[0].allocated <= 28_672, "{:?}", listed[0]);
    client.erase(&hash).unwrap();
    support::wait_until("the parts file deleted", Duration::from_secs(10), || {
        !qbit.download_dir.join(&parts).exists()
    });
}
