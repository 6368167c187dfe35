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

use std::path::Path;
use std::time::Duration;

use lowspace::client::{NewTorrent, TorrentClient};
use support::deluge::Deluge;
use support::files::{files_under, sha1_of};
use support::run_lowspace;
use support::seeder::{generate, Peer};
use support::tempdir::TempDir;

fn same_tree(a: &Path, b: &Path) {
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

#[test]
fn three_torrents_rotate_through_deluge_within_the_limit() {
    let tmp = TempDir::new("rotate-deluge");
    let source = tmp.join("seeder-data");
    let made = generate(
        &source,
        &tmp.join("torrents"),
        &[
            ("alpha.bin", 300 * 1024),
            ("beta/one.dat", 200 * 1024),
            ("beta/two.dat", 250 * 1024),
            ("gamma.iso", 500 * 1024),
            ("unmanaged.bin", 100 * 1024),
        ],
    );
    let deluge = Deluge::start(&tmp.join("deluge"));
    let files: Vec<_> = made.iter().map(|t| t.file.clone()).collect();
    let _seeder = Peer::seed(&source, &files, &[deluge.peer_port]);

    // The user's own torrent, not in the managed directory.
    let unmanaged = made.iter().find(|t| t.name == "unmanaged.bin").unwrap();
    let client = deluge.client();
    let added = client
        .add(&[NewTorrent {
            metainfo: std::fs::read(&unmanaged.file).unwrap(),
            start: true,
            label: String::new(),
        }])
        .unwrap();
    assert!(added[0].is_ok(), "{:?}", added[0]);

    let managed = tmp.join("managed");
    let remote = tmp.join("remote");
    std::fs::create_dir_all(&managed).unwrap();
    std::fs::create_dir_all(&remote).unwrap();
    let rotated: Vec<_> = made.iter().filter(|t| t.name != "unmanaged.bin").collect();
    for t in &rotated {
        std::fs::copy(&t.file, managed.join(t.file.file_name().unwrap())).unwrap();
    }
    let total: u64 = rotated.iter().map(|t| t.size).sum();
    let limit = 800 * 1024;
    assert!(limit < total);
    let config = tmp.join("lowspace.toml");
    std::fs::write(
        &config,
        format!(
            "log_level = \"debug\"\n\n[client]\nkind = \"deluge\"\nurl = \"{}\"\n\n[rotate]\n\
             managed_torrents_directory = \"{}\"\nspace_limit = {limit}\nrequired_ratio = 0.0\n\n\
             [remote]\nservice = \"local\"\npath = \"{}\"\n",
            deluge.url(),
            managed.display(),
            remote.display()
        ),
    )
    .unwrap();
    let config_arg = config.display().to_string();

    let mut logs = String::new();
    let mut done = false;
    for run in 1..=90 {
        let out = run_lowspace(tmp.path(), &["--config", &config_arg, "rotate"], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "run {run} failed:\n{stderr}");
        logs.push_str(&stderr);
        let on_disk: u64 = rotated
            .iter()
            .map(|t| support::disk::bytes_under(&deluge.download_dir.join(&t.name)))
            .sum();
        assert!(
            on_disk <= limit,
            "run {run}: {on_disk} bytes on disk, over {limit}"
        );
        let left = std::fs::read_dir(&managed)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".torrent"))
            .count();
        if left == 0 {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(700));
    }
    let tail: String = logs
        .chars()
        .rev()
        .take(4000)
        .collect::<String>()
        .chars()
        .rev()
        .collect();
    assert!(done, "rotation not finished:\n{tail}");

    for t in &rotated {
        let src = source.join(&t.name);
        let dst = remote.join(&t.name);
        if src.is_dir() {
            same_tree(&src, &dst);
        } else {
            assert_eq!(sha1_of(&src), sha1_of(&dst), "{}", t.name);
        }
        assert!(
            !deluge.download_dir.join(&t.name).exists(),
            "{} still on the local disk",
            t.name
        );
    }
    let listed = deluge.state();
    let names: Vec<&str> = listed.torrents.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["unmanaged.bin"], "only the user's torrent is left");
    assert!(!remote.join("unmanaged.bin").exists());
    support::wait_until("the unmanaged torrent", Duration::from_secs(30), || {
        deluge.download_dir.join("unmanaged.bin").exists()
            && sha1_of(&deluge.download_dir.join("unmanaged.bin"))
                == sha1_of(&source.join("unmanaged.bin"))
    });
    eprintln!("{tail}");
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

/// File-by-file mode on Deluge: one torrent bigger than the limit goes
/// through a file (with the pieces it shares) at a time.
#[test]
fn a_torrent_bigger_than_the_limit_goes_file_by_file_through_deluge() {
    let tmp = TempDir::new("rotate-deluge-big");
    let source = tmp.join("seeder-data");
    let made = generate(
        &source,
        &tmp.join("torrents"),
        &[
            ("big/a.bin", 300 * 1024),
            ("big/b.bin", 300 * 1024),
            ("big/c.bin", 300 * 1024),
        ],
    );
    let deluge = Deluge::start(&tmp.join("deluge"));
    let files: Vec<_> = made.iter().map(|t| t.file.clone()).collect();
    let _seeder = Peer::seed(&source, &files, &[deluge.peer_port]);
    let managed = tmp.join("managed");
    let remote = tmp.join("remote");
    std::fs::create_dir_all(&managed).unwrap();
    std::fs::create_dir_all(&remote).unwrap();
    std::fs::copy(&made[0].file, managed.join("big.torrent")).unwrap();
    let limit = 500 * 1024;
    let config = tmp.join("lowspace.toml");
    std::fs::write(
        &config,
        format!(
            "log_level = \"debug\"\n\n[client]\nkind = \"deluge\"\nurl = \"{}\"\n\n[rotate]\n\
             managed_torrents_directory = \"{}\"\nspace_limit = {limit}\nrequired_ratio = 0.0\n\n\
             [remote]\nservice = \"local\"\npath = \"{}\"\n",
            deluge.url(),
            managed.display(),
            remote.display()
        ),
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let mut logs = String::new();
    let mut done = false;
    let mut peak = 0;
    for run in 1..=120 {
        let out = run_lowspace(tmp.path(), &["--config", &config_arg, "rotate"], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "run {run} failed:\n{stderr}");
        logs.push_str(&stderr);
        let on_disk = support::disk::bytes_under(&deluge.download_dir);
        peak = peak.max(on_disk);
        assert!(
            on_disk <= limit,
            "run {run}: {on_disk} bytes on disk, over {limit}"
        );
        if !managed.join("big.torrent").exists() {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let tail: String = logs
        .chars()
        .rev()
        .take(6000)
        .collect::<String>()
        .chars()
        .rev()
        .collect();
    assert!(done, "rotation not finished:\n{tail}");
    same_tree(&source.join("big"), &remote.join("big"));
    assert!(!deluge.download_dir.join("big").join("a.bin").exists());
    assert!(deluge.state().torrents.is_empty());
    eprintln!("peak {peak} bytes\n{tail}");
}
