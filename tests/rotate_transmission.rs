//! `rotate` on a real transmission-daemon (3.00): three small torrents
//! whose total exceeds the space limit go through it one after another
//! into a local remote, while a torrent lowspace does not manage stays
//! untouched. Transmission downloads slowly from the libtorrent seeder
//! (about 32 kB/s per torrent), so the data is tiny.

// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use lowspace::client::transmission::Client;
use lowspace::client::{ClientError, NewTorrent, TorrentClient};
use support::client_rotation::{
    add_unmanaged, assert_rotation_complete, bytes_of, managed_torrents, rotate_until_done, stage,
    unmanaged, write_config, Rotation, UNMANAGED,
};
use support::seeder::{generate, Peer};
use support::tempdir::TempDir;
use support::transmission::{Transmission, PASSWORD, USER};

#[test]
fn three_torrents_rotate_through_transmission_within_the_limit() {
    let tmp = TempDir::new("rotate-transmission");
    let source = tmp.join("seeder-data");
    let made = generate(
        &source,
        &tmp.join("torrents"),
        &[
            ("alpha.bin", 40 * 1024),
            ("beta/one.dat", 20 * 1024),
            ("beta/two.dat", 25 * 1024),
            ("gamma.iso", 60 * 1024),
            (UNMANAGED, 20 * 1024),
        ],
    );
    let tr = Transmission::start(&tmp.join("transmission"));
    let files: Vec<_> = made.iter().map(|t| t.file.clone()).collect();
    let _seeder = Peer::seed(&source, &files, &[tr.peer_port]);

    // The user's own torrent, added without lowspace's label.
    let client = Client::new(&tr.rpc_url(), Some(USER), Some(PASSWORD)).unwrap();
    add_unmanaged(&client, &made);
    let unmanaged = unmanaged(&made);
    // A second add of the same torrent is Transmission's duplicate: fine.
    let again = client
        .add(&[NewTorrent {
            metainfo: std::fs::read(&unmanaged.file).unwrap(),
            start: true,
            label: String::new(),
        }])
        .unwrap();
    assert!(again[0].is_ok(), "{:?}", again[0]);
    let bad = client
        .add(&[NewTorrent {
            metainfo: b"not a torrent".to_vec(),
            start: true,
            label: String::new(),
        }])
        .unwrap();
    let err = bad[0].as_ref().unwrap_err();
    assert!(
        matches!(err, ClientError::Refused(_)) && err.to_string().contains("corrupt"),
        "{err}"
    );
    let wrong = Client::new(&tr.rpc_url(), Some(USER), Some("wrong")).unwrap();
    let err = wrong.state().unwrap_err();
    assert!(
        matches!(err, ClientError::Refused(_)) && err.to_string().contains("401"),
        "{err}"
    );

    let rotated = managed_torrents(&made);
    let dirs = stage(tmp.path(), &rotated);
    let total: u64 = rotated.iter().map(|t| t.size).sum();
    let limit = 110 * 1024;
    assert!(limit < total);
    let config = write_config(
        tmp.path(),
        &format!(
            "kind = \"transmission\"\nurl = \"{}\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"",
            tr.rpc_url()
        ),
        &dirs,
        limit,
    );

    let report = rotate_until_done(
        &Rotation {
            home: tmp.path(),
            config: &config,
            managed: &dirs.managed,
            limit,
            max_runs: 120,
            pause: Duration::from_millis(700),
        },
        || bytes_of(&tr.download_dir, &rotated),
    );

    assert_rotation_complete(
        &source,
        &dirs.remote,
        &tr.download_dir,
        &rotated,
        &tr.names(),
    );
    // Requests per pass, for the report.
    let passes: Vec<&str> = report
        .logs
        .lines()
        .filter(|l| l.contains("rotate: synced"))
        .collect();
    eprintln!("{} runs\n{}", report.runs, passes.join("\n"));
}
