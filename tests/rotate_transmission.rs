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
    add_unmanaged, assert_file_by_file_complete, assert_rotation_complete, bytes_of,
    managed_torrents, rotate_file_by_file, rotate_until_done, stage, unmanaged, write_config,
    FileByFile, Rotation, UNMANAGED,
};
use support::neighbours::{download_one_file, on_disk, THREE_UNALIGNED};
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

fn client(tr: &Transmission) -> Client {
    Client::new(&tr.rpc_url(), Some(USER), Some(PASSWORD)).unwrap()
}

/// File-by-file mode on Transmission 3.00: a torrent of three files, each
/// more than half the limit, goes through one file at a time; what
/// Transmission writes into the skipped neighbours (`<file>.part`) is
/// charged and deleted, and the user's own torrent stays. Small files:
/// Transmission takes about 32 kB/s from the seeder.
#[test]
fn a_torrent_bigger_than_the_limit_goes_file_by_file_through_transmission() {
    let tmp = TempDir::new("rotate-transmission-big");
    let source = tmp.join("seeder-data");
    let made = generate(
        &source,
        &tmp.join("torrents"),
        &[
            ("big/a.bin", 100 * 1024 + 5000),
            ("big/b.bin", 90 * 1024 + 7000),
            ("big/c.bin", 80 * 1024 + 3000),
            (UNMANAGED, 20 * 1024),
        ],
    );
    let tr = Transmission::start(&tmp.join("transmission"));
    let files: Vec<_> = made.iter().map(|t| t.file.clone()).collect();
    let _seeder = Peer::seed(&source, &files, &[tr.peer_port]);
    add_unmanaged(&client(&tr), &made);
    let big = made.iter().find(|t| t.name == "big").unwrap();
    let dirs = stage(tmp.path(), &[big]);
    let limit = 170 * 1024;
    assert!(big.size > limit);
    let config = write_config(
        tmp.path(),
        &format!(
            "kind = \"transmission\"\nurl = \"{}\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"",
            tr.rpc_url()
        ),
        &dirs,
        limit,
    );
    let (report, peak) = rotate_file_by_file(&FileByFile {
        rotation: Rotation {
            home: tmp.path(),
            config: &config,
            managed: &dirs.managed,
            limit,
            max_runs: 30,
            // Each run stops it; Transmission needs a few seconds after a
            // start before the seeder's dial gets data flowing.
            pause: Duration::from_secs(15),
        },
        download_dir: &tr.download_dir,
        torrent: big,
    });
    assert_file_by_file_complete(&source, &dirs.remote, &tr.download_dir, big, &tr.names());
    eprintln!(
        "{} runs, sampled peak {peak} of {limit} bytes\n{}",
        report.runs,
        report.tail(3000)
    );
}

/// What Transmission 3.00 writes for skipped files: the neighbours' parts
/// of the shared pieces go into the neighbours themselves, sparse, named
/// `<file>.part` (a.bin.part has its full length but only its part's
/// blocks); removing the torrent leaves them. The charging rule in
/// src/rotate/bigfile.rs is built on these figures.
#[test]
fn transmission_writes_a_skipped_neighbours_part_into_it_sparse() {
    let tmp = TempDir::new("transmission-neighbours");
    let source = tmp.join("seeder-data");
    let made = generate(&source, &tmp.join("torrents"), THREE_UNALIGNED);
    let tr = Transmission::start(&tmp.join("transmission"));
    let _seeder = Peer::seed(&source, &[made[0].file.clone()], &[tr.peer_port]);
    let client = client(&tr);
    let hash = download_one_file(&client, &made[0].file, 1);
    let listed = on_disk(&tr.download_dir);
    eprintln!("{listed:#?}");
    let paths: Vec<String> = listed
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    assert_eq!(paths, ["trio/a.bin.part", "trio/b.bin", "trio/c.bin.part"]);
    // a.bin's last 9 096 bytes and c.bin's first 12 576, in blocks.
    assert_eq!(listed[0].len, 100 * 1024 + 5000, "full length, sparse");
    assert!(listed[0].allocated <= 12_288, "{:?}", listed[0]);
    assert_eq!(listed[2].len, 12_576);
    assert!(listed[2].allocated <= 16_384, "{:?}", listed[2]);
    client.erase(&hash).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        tr.download_dir.join("trio/a.bin.part").exists(),
        "Transmission leaves them: lowspace deletes them"
    );
}

/// Torrents added together are labelled together: one torrent-set for the
/// batch (3.00 takes labels only that way), and each carries the label.
#[test]
fn a_batch_of_adds_is_labelled_with_one_request() {
    let tmp = TempDir::new("transmission-labels");
    let files: Vec<(String, usize)> = (0..12)
        .map(|i| (format!("f{i:02}.bin"), 16 * 1024))
        .collect();
    let spec: Vec<(&str, usize)> = files.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let made = generate(&tmp.join("data"), &tmp.join("torrents"), &spec);
    let tr = Transmission::start(&tmp.join("transmission"));
    let client = client(&tr);
    let before = client.requests();
    let new: Vec<NewTorrent> = made
        .iter()
        .map(|t| NewTorrent {
            metainfo: std::fs::read(&t.file).unwrap(),
            start: false,
            label: "lowspace".to_string(),
        })
        .collect();
    let results = client.add(&new).unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // One torrent-add each, one torrent-set for all (plus at most the
    // session handshake).
    let spent = client.requests() - before;
    assert!(
        spent <= made.len() as u64 + 2,
        "{spent} requests for {} adds",
        made.len()
    );
    let state = client.state().unwrap();
    assert_eq!(state.torrents.len(), made.len());
    for t in &state.torrents {
        assert_eq!(t.label, "lowspace", "{} is not labelled", t.name);
    }
}
