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

use std::path::Path;
use std::time::Duration;

use lowspace::client::transmission::Client;
use lowspace::client::{ClientError, NewTorrent, TorrentClient};
use support::files::{files_under, sha1_of};
use support::run_lowspace;
use support::seeder::{generate, Peer};
use support::tempdir::TempDir;
use support::transmission::{Transmission, PASSWORD, USER};

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
            ("unmanaged.bin", 20 * 1024),
        ],
    );
    let tr = Transmission::start(&tmp.join("transmission"));
    let files: Vec<_> = made.iter().map(|t| t.file.clone()).collect();
    let _seeder = Peer::seed(&source, &files, &[tr.peer_port]);

    // The user's own torrent, added without lowspace's label.
    let unmanaged = made.iter().find(|t| t.name == "unmanaged.bin").unwrap();
    let client = Client::new(&tr.rpc_url(), Some(USER), Some(PASSWORD)).unwrap();
    let added = client
        .add(&[NewTorrent {
            metainfo: std::fs::read(&unmanaged.file).unwrap(),
            start: true,
            label: String::new(),
        }])
        .unwrap();
    assert!(added[0].is_ok(), "{:?}", added[0]);
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

    let managed = tmp.join("managed");
    let remote = tmp.join("remote");
    std::fs::create_dir_all(&managed).unwrap();
    std::fs::create_dir_all(&remote).unwrap();
    let rotated: Vec<_> = made.iter().filter(|t| t.name != "unmanaged.bin").collect();
    for t in &rotated {
        std::fs::copy(&t.file, managed.join(t.file.file_name().unwrap())).unwrap();
    }
    let total: u64 = rotated.iter().map(|t| t.size).sum();
    let limit = 110 * 1024;
    assert!(limit < total);
    let config = tmp.join("lowspace.toml");
    std::fs::write(
        &config,
        format!(
            "log_level = \"debug\"\n\n[client]\nkind = \"transmission\"\nurl = \"{}\"\n\
             username = \"{USER}\"\npassword = \"{PASSWORD}\"\n\n[rotate]\n\
             managed_torrents_directory = \"{}\"\nspace_limit = {limit}\nrequired_ratio = 0.0\n\n\
             [remote]\nservice = \"local\"\npath = \"{}\"\n",
            tr.rpc_url(),
            managed.display(),
            remote.display()
        ),
    )
    .unwrap();
    let config_arg = config.display().to_string();

    let mut logs = String::new();
    let mut done = false;
    let mut runs = 0;
    for run in 1..=120 {
        runs = run;
        let out = run_lowspace(tmp.path(), &["--config", &config_arg, "rotate"], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "run {run} failed:\n{stderr}");
        logs.push_str(&stderr);
        let on_disk: u64 = rotated
            .iter()
            .map(|t| support::disk::bytes_under(&tr.download_dir.join(&t.name)))
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
            !tr.download_dir.join(&t.name).exists(),
            "{} still on the local disk",
            t.name
        );
    }
    assert_eq!(
        tr.names(),
        ["unmanaged.bin"],
        "only the user's torrent is left"
    );
    assert!(!remote.join("unmanaged.bin").exists());
    support::wait_until("the unmanaged torrent", Duration::from_secs(30), || {
        tr.download_dir.join("unmanaged.bin").exists()
            && sha1_of(&tr.download_dir.join("unmanaged.bin"))
                == sha1_of(&source.join("unmanaged.bin"))
    });
    // Requests per pass, for the report.
    let passes: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("rotate: synced"))
        .collect();
    eprintln!("{runs} runs\n{}", passes.join("\n"));
}
