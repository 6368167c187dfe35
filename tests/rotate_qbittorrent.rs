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
use support::client_rotation::{
    add_unmanaged, assert_rotation_complete, bytes_of, managed_torrents, rotate_until_done, stage,
    write_config, Rotation, THREE_AND_UNMANAGED,
};
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
