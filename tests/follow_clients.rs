//! `lowspace follow` into a real qbittorrent-nox and a real deluged (with
//! deluge-web), driven by `[client] kind` alone: the main box's tree of
//! 300 files in nested non-ASCII directories is indexed by `lowspace tree`
//! and served by a real nginx; follow adds every torrent into its listed
//! directory under the client's own save path, labelled, leaves the user's
//! own torrent alone, keeps everything on a second run and removes (with
//! their data) exactly what left the listing. Nothing needs to download
//! for that: the assertions are on what the client itself reports.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use std::time::Duration;

use lowspace::client::{NewTorrent, TorrentClient};
use lowspace::follow::{Added, FollowClient};
use lowspace::torrent::Metainfo;
use support::mktorrent::{make, write_data};
use support::nginx::Nginx;
use support::tempdir::TempDir;
use support::{free_port, run_lowspace};

const TRACKER: &str = "http://127.0.0.1:9/announce";
const LABEL: &str = "lowspace-follow";

/// 5 × 6 × 10 files, a few KiB each: `Staffel N/Folge M – ü/clip K.bin`.
fn tree_files() -> Vec<(String, usize)> {
    let mut files = Vec::new();
    for s in 1..=5 {
        for d in 1..=6 {
            for k in 1..=10 {
                files.push((
                    format!("Staffel {s}/Folge {d} – ü/clip {k:02}.bin"),
                    1024 + (s * 997 + d * 131 + k * 17) % 3000,
                ));
            }
        }
    }
    files
}

/// The main box: its data, its index served over HTTP by nginx.
struct MainBox {
    tmp: TempDir,
    /// `--format` of `lowspace tree`.
    format: &'static str,
    main: PathBuf,
    www: PathBuf,
    port: u16,
    _nginx: Nginx,
}

impl MainBox {
    fn new(label: &str) -> MainBox {
        MainBox::with(label, &tree_files(), "v1")
    }

    fn with(label: &str, files: &[(String, usize)], format: &'static str) -> MainBox {
        let tmp = TempDir::new(label);
        let main = tmp.join("main");
        let www = tmp.join("www");
        for (i, (rel, len)) in files.iter().enumerate() {
            write_data(&main.join(rel), *len, 1000 + i as u32);
        }
        let out = run_lowspace(
            tmp.path(),
            &[
                "tree",
                main.to_str().unwrap(),
                www.to_str().unwrap(),
                "--tracker",
                TRACKER,
                "--format",
                format,
            ],
            &[],
        );
        assert_exit(&out, 0);
        let port = free_port();
        let server = format!(
            "server {{\nlisten 127.0.0.1:{port};\nroot {};\n}}\n",
            www.display()
        );
        let nginx = Nginx::start(&tmp.join("nginx"), &server, &[port]);
        MainBox {
            tmp,
            format,
            main,
            www,
            port,
            _nginx: nginx,
        }
    }

    fn tree_again(&self) {
        let out = run_lowspace(
            self.tmp.path(),
            &[
                "tree",
                self.main.to_str().unwrap(),
                self.www.to_str().unwrap(),
                "--tracker",
                TRACKER,
                "--format",
                self.format,
                "--prune",
            ],
            &[],
        );
        assert_exit(&out, 0);
    }

    /// Writes the config (`client` is the [client] body) and runs follow.
    fn follow(&self, client: &str) -> Output {
        let config = self.tmp.join("follow.toml");
        std::fs::write(
            &config,
            format!(
                "[client]\n{client}\n\n[follow]\nlisting = \"http://127.0.0.1:{}/index.txt\"\ntimeout = \"20s\"\n",
                self.port
            ),
        )
        .unwrap();
        run_lowspace(
            self.tmp.path(),
            &["--config", config.to_str().unwrap(), "follow"],
            &[],
        )
    }
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What the client reports of one torrent: its save path and label.
#[derive(Debug, Clone, PartialEq)]
struct Held {
    dir: PathBuf,
    label: String,
}

/// The user's own torrent: not in the listing, added without a label.
fn own_torrent(tmp: &Path) -> (Vec<u8>, String) {
    let dir = tmp.join("own");
    write_data(&dir.join("mine.bin"), 20_000, 7);
    let file = make(&dir, "mine.bin", "mine.torrent", &["-a", TRACKER]);
    (std::fs::read(file).unwrap(), "mine.bin".to_string())
}

/// Every listed file is held by the client by its name, in its listed
/// directory under `root`, with follow's label.
fn assert_mirrored(held: &BTreeMap<String, Held>, root: &Path, files: &[(String, usize)]) {
    for (rel, _) in files {
        let (dir, _) = rel.rsplit_once('/').unwrap();
        let got = held
            .get(rel.as_str())
            .unwrap_or_else(|| panic!("{rel} is not in the client"));
        assert_eq!(got.dir, root.join(dir), "{rel}");
        assert_eq!(got.label, LABEL, "{rel}");
    }
}

/// Torrent names repeat across directories (`clip 01.bin`): what the
/// client holds is keyed by its directory under `root` and its name.
fn key_of(root: &Path, dir: &Path, name: &str) -> String {
    match dir.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => name.to_string(),
        Ok(rel) => format!("{}/{name}", rel.display()),
        Err(_) => format!("{}/{name}", dir.display()),
    }
}

/// The whole rig for one client: `held` reads the client, `client` is the
/// [client] body.
fn mirror_into(
    main: &MainBox,
    client: &str,
    follower: &dyn FollowClient,
    root: &Path,
    own_name: &str,
    held: &dyn Fn() -> BTreeMap<String, Held>,
) {
    let files = tree_files();
    let own_key = key_of(root, root, own_name);
    let own_before = held().get(&own_key).cloned().expect("the user's torrent");
    assert_eq!(held().len(), 1);

    // Two torrents an older lowspace mirrored flat, labelled: moved into
    // place by the client, not added again.
    for (rel, _) in files.iter().take(2) {
        let bytes = std::fs::read(main.www.join(format!("{rel}.torrent"))).unwrap();
        let hash = Metainfo::from_bytes(&bytes).unwrap().info_hash();
        assert_eq!(
            follower.add_metainfo(&bytes, hash, root).unwrap(),
            Added::Added
        );
    }
    assert_eq!(held().len(), 3);

    let out = main.follow(client);
    assert_exit(&out, 0);
    assert!(
        said(&out).contains("298 added, 0 removed, 2 kept, 2 moved, 0 copied, 0 failed"),
        "{}",
        said(&out)
    );
    // The client may finish a move in the background.
    support::wait_until("the moves done", Duration::from_secs(30), || {
        let now = held();
        files.iter().take(2).all(|(rel, _)| {
            now.get(rel.as_str())
                .is_some_and(|h| h.dir == root.join(rel.rsplit_once('/').unwrap().0))
        })
    });
    let now = held();
    assert_eq!(now.len(), files.len() + 1);
    assert_mirrored(&now, root, &files);
    assert_eq!(now.get(&own_key), Some(&own_before));

    // Nothing to do the second time.
    let out = main.follow(client);
    assert_exit(&out, 0);
    assert!(
        said(&out).contains("0 added, 0 removed, 300 kept, 0 moved"),
        "{}",
        said(&out)
    );

    // Five files leave the main box: exactly those leave the client.
    let gone: Vec<&(String, usize)> = files.iter().step_by(60).collect();
    assert_eq!(gone.len(), 5);
    for (rel, _) in &gone {
        std::fs::remove_file(main.main.join(rel)).unwrap();
    }
    main.tree_again();
    let out = main.follow(client);
    assert_exit(&out, 0);
    assert!(
        said(&out).contains("0 added, 5 removed, 295 kept"),
        "{}",
        said(&out)
    );
    let after = held();
    assert_eq!(after.len(), files.len() - 5 + 1);
    for (rel, _) in &gone {
        assert!(!after.contains_key(rel.as_str()), "{rel} is still held");
    }
    let kept: Vec<(String, usize)> = files
        .iter()
        .filter(|f| !gone.contains(f))
        .cloned()
        .collect();
    assert_mirrored(&after, root, &kept);
    assert_eq!(after.get(&own_key), Some(&own_before));
}

#[test]
fn qbittorrent_mirrors_a_tree_of_300_torrents_into_their_listed_paths() {
    use lowspace::client::qbittorrent::{Client, QbitOptions};
    use support::qbittorrent::Qbittorrent;

    let main = MainBox::new("follow-qbit");
    let mut qbit = Qbittorrent::start(&main.tmp.join("qbit"));
    let (own, own_name) = own_torrent(main.tmp.path());
    let client = Client::new(QbitOptions {
        url: qbit.url(),
        username: None,
        password: None,
        api_key: None,
    })
    .unwrap();
    let added = client
        .add(&[NewTorrent {
            metainfo: own,
            start: true,
            label: String::new(),
        }])
        .unwrap();
    assert!(added[0].is_ok(), "{:?}", added[0]);

    let root = qbit.download_dir.clone();
    let held = || -> BTreeMap<String, Held> {
        qbit.torrents()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let dir = PathBuf::from(t["save_path"].as_str().unwrap());
                let name = t["name"].as_str().unwrap();
                (
                    key_of(&root, &dir, name),
                    Held {
                        dir,
                        label: t["tags"].as_str().unwrap().to_string(),
                    },
                )
            })
            .collect()
    };
    let follower = lowspace::client::qbittorrent::follow::Follower::new(
        QbitOptions {
            url: qbit.url(),
            username: None,
            password: None,
            api_key: None,
        },
        LABEL,
        None,
    )
    .unwrap();
    mirror_into(
        &main,
        &format!("kind = \"qbittorrent\"\nurl = \"{}\"", qbit.url()),
        &follower,
        &root,
        &own_name,
        &held,
    );
    qbit.stop();
}

#[test]
fn deluge_mirrors_a_tree_of_300_torrents_into_their_listed_paths() {
    use serde_json::json;
    use support::deluge::Deluge;

    let main = MainBox::new("follow-deluge");
    let mut deluge = Deluge::start(&main.tmp.join("deluge"));
    let (own, own_name) = own_torrent(main.tmp.path());
    let client = deluge.client();
    let added = client
        .add(&[NewTorrent {
            metainfo: own,
            start: true,
            label: String::new(),
        }])
        .unwrap();
    assert!(added[0].is_ok(), "{:?}", added[0]);
    let config = format!("kind = \"deluge\"\nurl = \"{}\"", deluge.url());

    // Without the Label plugin follow could not mark what it owns: it
    // refuses, naming the plugin, and adds nothing.
    let out = main.follow(&config);
    assert_exit(&out, 1);
    assert!(said(&out).contains("Label plugin is off"), "{}", said(&out));
    assert_eq!(deluge.state().torrents.len(), 1);

    client
        .call_method("core.enable_plugin", json!(["Label"]))
        .unwrap();
    support::wait_until(
        "the Label plugin on",
        std::time::Duration::from_secs(20),
        || {
            client
                .call_method("core.get_enabled_plugins", json!([]))
                .is_ok_and(|v| v.as_array().unwrap().iter().any(|p| p == "Label"))
        },
    );

    let root = deluge.download_dir.clone();
    let held = || -> BTreeMap<String, Held> {
        let v = client
            .call_method(
                "core.get_torrents_status",
                json!([{}, ["name", "save_path", "label"]]),
            )
            .unwrap();
        v.as_object()
            .unwrap()
            .values()
            .map(|t| {
                let dir = PathBuf::from(t["save_path"].as_str().unwrap());
                let name = t["name"].as_str().unwrap();
                (
                    key_of(&root, &dir, name),
                    Held {
                        dir,
                        label: t["label"].as_str().unwrap_or_default().to_string(),
                    },
                )
            })
            .collect()
    };
    let follower = lowspace::client::deluge::follow::Follower::new(
        lowspace::client::deluge::DelugeOptions {
            url: deluge.url(),
            password: "deluge".into(),
        },
        LABEL,
        None,
    )
    .unwrap();
    mirror_into(&main, &config, &follower, &root, &own_name, &held);
    deluge.stop();
}

/// Hybrid (v1 + v2) torrents: qBittorrent lists them under their v2 id,
/// the listing under their v1 hash; follow must still find, tag and keep
/// them, and remove the one that leaves.
#[test]
fn qbittorrent_follows_hybrid_torrents_by_their_v1_hash() {
    use support::qbittorrent::Qbittorrent;

    let files: Vec<(String, usize)> = ["a/one.bin", "a/b/two.bin", "three.bin"]
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), 40_000 + i * 1000))
        .collect();
    let main = MainBox::with("follow-qbit-hybrid", &files, "hybrid");
    let mut qbit = Qbittorrent::start(&main.tmp.join("qbit"));
    let config = format!("kind = \"qbittorrent\"\nurl = \"{}\"", qbit.url());
    let out = main.follow(&config);
    assert_exit(&out, 0);
    assert!(
        said(&out).contains("3 added, 0 removed, 0 kept"),
        "{}",
        said(&out)
    );
    let root = qbit.download_dir.clone();
    let listed = qbit.torrents();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for (rel, _) in &files {
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        let row = rows.iter().find(|r| r["name"] == *name).unwrap();
        assert_eq!(
            PathBuf::from(row["save_path"].as_str().unwrap()),
            root.join(dir),
            "{rel}"
        );
        assert_eq!(row["tags"], LABEL, "{rel}");
        // A hybrid: qBittorrent's id is not the v1 hash.
        assert_ne!(row["hash"], row["infohash_v1"], "{rel}");
    }
    let out = main.follow(&config);
    assert!(
        said(&out).contains("0 added, 0 removed, 3 kept"),
        "{}",
        said(&out)
    );
    std::fs::remove_file(main.main.join("three.bin")).unwrap();
    main.tree_again();
    let out = main.follow(&config);
    assert_exit(&out, 0);
    assert!(
        said(&out).contains("0 added, 1 removed, 2 kept"),
        "{}",
        said(&out)
    );
    assert_eq!(qbit.torrents().as_array().unwrap().len(), 2);
    qbit.stop();
}
