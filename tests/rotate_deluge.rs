//! `rotate` on a real Deluge (deluged + deluge-web 2.0.3): three torrents
//! whose total exceeds the space limit go through it one after another
//! into a local remote, while a torrent lowspace does not manage stays
//! untouched.

// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use lowspace::client::{NewTorrent, TorrentClient};
use support::client_rotation::{
    add_unmanaged, assert_file_by_file_complete, assert_rotation_complete, bytes_of,
    managed_torrents, rotate_file_by_file, rotate_until_done, stage, write_config, FileByFile,
    Rotation, BIG_AND_UNMANAGED, THREE_AND_UNMANAGED,
};
use support::deluge::Deluge;
use support::neighbours::{download_one_file, on_disk, THREE_UNALIGNED};
use support::seeder::{generate, Peer};
use support::tempdir::TempDir;

/// The `[client]` section for the test's Deluge.
fn client_section(deluge: &Deluge) -> String {
    format!("kind = \"deluge\"\nurl = \"{}\"", deluge.url())
}

#[test]
fn three_torrents_rotate_through_deluge_within_the_limit() {
    let tmp = TempDir::new("rotate-deluge");
    let source = tmp.join("seeder-data");
    let made = generate(&source, &tmp.join("torrents"), THREE_AND_UNMANAGED);
    let deluge = Deluge::start(&tmp.join("deluge"));
    let files: Vec<_> = made.iter().map(|t| t.file.clone()).collect();
    let _seeder = Peer::seed(&source, &files, &[deluge.peer_port]);

    // The user's own torrent, not in the managed directory.
    add_unmanaged(&deluge.client(), &made);

    let rotated = managed_torrents(&made);
    let dirs = stage(tmp.path(), &rotated);
    let total: u64 = rotated.iter().map(|t| t.size).sum();
    let limit = 800 * 1024;
    assert!(limit < total);
    let config = write_config(tmp.path(), &client_section(&deluge), &dirs, limit);

    let report = rotate_until_done(
        &Rotation {
            home: tmp.path(),
            config: &config,
            managed: &dirs.managed,
            limit,
            max_runs: 90,
            pause: Duration::from_millis(700),
        },
        || bytes_of(&deluge.download_dir, &rotated),
    );

    let names: Vec<String> = deluge
        .state()
        .torrents
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_rotation_complete(
        &source,
        &dirs.remote,
        &deluge.download_dir,
        &rotated,
        &names,
    );
    eprintln!("{}", report.tail(4000));
}

/// The trait's file calls, the error kinds and the login, on the real
/// deluge-web: a multi-file torrent downloaded, stopped, one file turned
/// off and back on with a recheck, an unknown torrent, a wrong password.
#[test]
fn deluge_files_priorities_and_errors_on_the_real_client() {
    use lowspace::client::deluge::{Client, DelugeOptions};
    use lowspace::client::{ClientError, FilePriority, ThenDo};
    use lowspace::torrent::{InfoHash, Metainfo};

    let tmp = TempDir::new("deluge-files");
    let source = tmp.join("seeder-data");
    let made = generate(
        &source,
        &tmp.join("torrents"),
        &[
            ("album/one.flac", 200 * 1024),
            ("album/two.flac", 90 * 1024),
        ],
    );
    let deluge = Deluge::start(&tmp.join("deluge"));
    let _seeder = Peer::seed(&source, &[made[0].file.clone()], &[deluge.peer_port]);
    let client = deluge.client();
    let metainfo = std::fs::read(&made[0].file).unwrap();
    let hash = Metainfo::from_bytes(&metainfo).unwrap().info_hash();
    let new = NewTorrent {
        metainfo,
        start: true,
        label: "lowspace".into(),
    };
    assert!(client.add(std::slice::from_ref(&new)).unwrap()[0].is_ok());
    // Added again: already there is still there.
    assert!(client.add(&[new]).unwrap()[0].is_ok());
    support::wait_until("the album downloaded", Duration::from_secs(60), || {
        client
            .state()
            .unwrap()
            .torrents
            .iter()
            .any(|t| t.hash == hash.to_hex() && t.complete)
    });
    let state = client.state().unwrap();
    let t = &state.torrents[0];
    assert_eq!(t.data_path, deluge.download_dir.join("album"));
    assert_eq!(t.size, 290 * 1024);
    assert!(
        t.finished_at.is_some(),
        "Deluge 2.0.3 reports completed_time"
    );
    assert_eq!(state.download_dir, deluge.download_dir);

    let files = client.files(&hash, true).unwrap();
    assert!(
        !client.state().unwrap().torrents[0].started,
        "stopped first"
    );
    assert_eq!(files.directory, deluge.download_dir.join("album"));
    let paths: Vec<&str> = files.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["one.flac", "two.flac"]);
    assert!(files
        .files
        .iter()
        .all(|f| f.done_pieces == f.pieces && f.pieces > 0));

    client
        .set_file_priorities(&hash, &[(1, FilePriority::Off)], ThenDo::default())
        .unwrap();
    let files = client.files(&hash, false).unwrap();
    assert_eq!(files.files[1].priority, FilePriority::Off);
    assert_eq!(files.files[0].priority, FilePriority::Normal);
    client
        .set_file_priorities(
            &hash,
            &[(1, FilePriority::High)],
            ThenDo {
                check_hash: true,
                start: true,
            },
        )
        .unwrap();
    assert_eq!(
        client.files(&hash, false).unwrap().files[1].priority,
        FilePriority::High
    );
    support::wait_until("checked and started", Duration::from_secs(30), || {
        let t = &client.state().unwrap().torrents[0];
        t.started && t.complete
    });

    let nobody = InfoHash::from_hex("0000000000000000000000000000000000000000").unwrap();
    for result in [
        client.erase(&nobody),
        client.stop(&nobody),
        client.files(&nobody, false).map(drop),
    ] {
        assert!(
            matches!(result, Err(ref e) if e.is_unknown_torrent()),
            "{result:?}"
        );
    }
    assert!(!client.has(&nobody).unwrap());
    assert!(client.has(&hash).unwrap());

    let wrong = Client::new(DelugeOptions {
        url: deluge.url(),
        password: "not-the-password".into(),
    })
    .unwrap();
    match wrong.state() {
        Err(ClientError::Refused(e)) => assert!(e.to_string().contains("password"), "{e}"),
        other => panic!("wrong password: {other:?}"),
    }

    client.erase(&hash).unwrap();
    assert!(!client.has(&hash).unwrap());
    assert!(
        deluge.download_dir.join("album/one.flac").exists(),
        "erase keeps the data"
    );
    eprintln!("{} requests", client.requests());
}

/// File-by-file mode on Deluge 2.0.3: a torrent of three files, each more
/// than half the limit, goes through one file at a time; the parts file
/// libtorrent keeps for the skipped files' pieces is charged and, as Deluge
/// leaves it, deleted by lowspace; the user's own torrent stays.
#[test]
fn a_torrent_bigger_than_the_limit_goes_file_by_file_through_deluge() {
    let tmp = TempDir::new("rotate-deluge-big");
    let source = tmp.join("seeder-data");
    let made = generate(&source, &tmp.join("torrents"), BIG_AND_UNMANAGED);
    let deluge = Deluge::start(&tmp.join("deluge"));
    let files: Vec<_> = made.iter().map(|t| t.file.clone()).collect();
    let _seeder = Peer::seed(&source, &files, &[deluge.peer_port]);
    add_unmanaged(&deluge.client(), &made);
    let big = made.iter().find(|t| t.name == "big").unwrap();
    let dirs = stage(tmp.path(), &[big]);
    let limit = 500 * 1024;
    assert!(big.size > limit);
    let config = write_config(tmp.path(), &client_section(&deluge), &dirs, limit);
    let (report, peak) = rotate_file_by_file(&FileByFile {
        rotation: Rotation {
            home: tmp.path(),
            config: &config,
            managed: &dirs.managed,
            limit,
            max_runs: 120,
            pause: Duration::from_millis(500),
        },
        download_dir: &deluge.download_dir,
        torrent: big,
    });
    let names: Vec<String> = deluge
        .state()
        .torrents
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_file_by_file_complete(&source, &dirs.remote, &deluge.download_dir, big, &names);
    eprintln!(
        "{} runs, sampled peak {peak} of {limit} bytes\n{}",
        report.runs,
        report.tail(3000)
    );
}

/// What Deluge 2.0.3 (libtorrent 2.0.8) writes for skipped files: as
/// qBittorrent, the neighbours' parts go to `.<hash>.parts` in the save
/// path; unlike qBittorrent, removing the torrent leaves that file.
#[test]
fn deluge_keeps_a_skipped_neighbours_part_in_its_parts_file_and_leaves_it() {
    let tmp = TempDir::new("deluge-neighbours");
    let source = tmp.join("seeder-data");
    let made = generate(&source, &tmp.join("torrents"), THREE_UNALIGNED);
    let deluge = Deluge::start(&tmp.join("deluge"));
    let _seeder = Peer::seed(&source, &[made[0].file.clone()], &[deluge.peer_port]);
    let client = deluge.client();
    let hash = download_one_file(&client, &made[0].file, 1);
    let parts = format!(".{}.parts", hash.to_hex().to_ascii_lowercase());
    let listed = on_disk(&deluge.download_dir);
    eprintln!("{listed:#?}");
    let paths: Vec<String> = listed
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    assert_eq!(paths, [parts.as_str(), "trio/b.bin"]);
    // Two slots after the header; the last one ends where its part does
    // (which piece came first decides the length).
    assert!(listed[0].len <= 1024 + 2 * 32 * 1024, "{:?}", listed[0]);
    assert!(listed[0].allocated <= 28_672, "{:?}", listed[0]);
    client.erase(&hash).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        deluge.download_dir.join(&parts).exists(),
        "Deluge leaves it: lowspace deletes it"
    );
}
