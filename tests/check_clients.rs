//! `lowspace check` on each real client: it names the client and its
//! version, proves the login (qBittorrent with a real WebUI password, not
//! the localhost bypass), counts the torrents carrying rotate's label and
//! the managed ones loaded, and checks the disk and the remote; a wrong
//! password or an address nothing listens on is one clear FAIL line that
//! names the address.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::Path;
use std::process::Output;

use lowspace::client::{NewTorrent, TorrentClient, ROTATE_LABEL};
use support::client_rotation::{stage, write_config, Directories};
use support::seeder::{generate, MadeTorrent};
use support::tempdir::TempDir;
use support::{free_port, run_lowspace};

const LIMIT: u64 = 1024 * 1024;

fn check(home: &Path, config: &Path) -> (Option<i32>, String) {
    let out: Output = run_lowspace(home, &["--config", config.to_str().unwrap(), "check"], &[]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{said}");
    (out.status.code(), said)
}

/// The report line about `what` ("client", "torrents", ...).
fn line<'a>(said: &'a str, what: &str) -> &'a str {
    said.lines()
        .find(|l| {
            l.get(5..)
                .is_some_and(|rest| rest.starts_with(&format!("{what} ")))
        })
        .unwrap_or_else(|| panic!("no {what} line in:\n{said}"))
}

/// Two managed torrents (one loaded into the client with rotate's label,
/// one not yet) and the user's own torrent, loaded without a label.
fn stage_torrents(tmp: &Path, client: &dyn TorrentClient) -> Directories {
    let made = generate(
        &tmp.join("data"),
        &tmp.join("torrents"),
        &[
            ("one.bin", 64 * 1024),
            ("two.bin", 64 * 1024),
            ("own.bin", 32 * 1024),
        ],
    );
    let by_name = |n: &str| -> &MadeTorrent { made.iter().find(|t| t.name == n).unwrap() };
    for (name, label) in [("one.bin", ROTATE_LABEL), ("own.bin", "")] {
        let added = client
            .add(&[NewTorrent {
                metainfo: std::fs::read(&by_name(name).file).unwrap(),
                start: false,
                label: label.to_string(),
            }])
            .unwrap();
        assert!(added[0].is_ok(), "{name}: {:?}", added[0]);
    }
    stage(tmp, &[by_name("one.bin"), by_name("two.bin")])
}

/// What every healthy check says past the client line.
fn assert_rest_is_ok(said: &str, labelled: usize) {
    assert!(
        line(said, "torrents").starts_with("OK ")
            && line(said, "torrents").contains(&format!(
                "2 torrents in the client, {labelled} labelled \"lowspace\"; 1 of the 2 managed loaded"
            )),
        "{said}"
    );
    for what in ["managed", "state", "disk", "remote"] {
        assert!(line(said, what).starts_with("OK "), "{said}");
    }
}

#[test]
fn qbittorrent_with_a_password_login_and_a_wrong_one() {
    use lowspace::client::qbittorrent::{Client, QbitOptions};
    use support::qbittorrent::Qbittorrent;

    let tmp = TempDir::new("check-qbit");
    let mut qbit = Qbittorrent::start(&tmp.join("qbit"));
    qbit.require_password("lowspace-user", "s3cret pass");
    let client = Client::new(QbitOptions {
        url: qbit.url(),
        username: Some("lowspace-user".into()),
        password: Some("s3cret pass".into()),
        api_key: None,
    })
    .unwrap();
    let dirs = stage_torrents(tmp.path(), &client);

    let body = format!(
        "kind = \"qbittorrent\"\nurl = \"{}\"\nusername = \"lowspace-user\"\npassword = \"s3cret pass\"",
        qbit.url()
    );
    let config = write_config(tmp.path(), &body, &dirs, LIMIT);
    let (code, said) = check(tmp.path(), &config);
    assert_eq!(code, Some(0), "{said}");
    // Debian 12's qbittorrent-nox.
    assert!(
        line(&said, "client").starts_with(&format!(
            "OK   client    qBittorrent v4.5.2, WebUI API 2.8.19 at {}",
            qbit.url()
        )),
        "{said}"
    );
    assert_rest_is_ok(&said, 1);

    let wrong = body.replace("s3cret pass", "not it");
    let config = write_config(tmp.path(), &wrong, &dirs, LIMIT);
    let (code, said) = check(tmp.path(), &config);
    assert_eq!(code, Some(1), "{said}");
    let client_line = line(&said, "client");
    assert!(
        client_line.starts_with("FAIL")
            && client_line.contains(&qbit.url())
            && client_line.contains("wrong username or password"),
        "{said}"
    );
    // Nothing is said about torrents or the disk of a client not reached.
    assert!(!said.contains("torrents "), "{said}");
    assert!(said.contains("check: 1 problem to fix"), "{said}");
    qbit.stop();
}

#[test]
fn an_address_nothing_listens_on_is_named() {
    let tmp = TempDir::new("check-unreachable");
    let dirs = stage(tmp.path(), &[]);
    let url = format!("http://127.0.0.1:{}", free_port());
    for kind in ["qbittorrent", "transmission", "deluge"] {
        let config = write_config(
            tmp.path(),
            &format!("kind = \"{kind}\"\nurl = \"{url}\""),
            &dirs,
            LIMIT,
        );
        let (code, said) = check(tmp.path(), &config);
        assert_eq!(code, Some(1), "{said}");
        let client_line = line(&said, "client");
        assert!(
            client_line.starts_with("FAIL") && client_line.contains(&url),
            "{kind}: {said}"
        );
        assert!(client_line.contains("refused"), "{kind}: {said}");
    }
}

#[test]
fn transmission_names_its_version_and_refuses_a_wrong_password() {
    use lowspace::client::transmission::Client;
    use support::transmission::{Transmission, PASSWORD, USER};

    let tmp = TempDir::new("check-tr");
    let mut tr = Transmission::start(&tmp.join("tr"));
    let client = Client::new(&tr.rpc_url(), Some(USER), Some(PASSWORD)).unwrap();
    let dirs = stage_torrents(tmp.path(), &client);
    let body = format!(
        "kind = \"transmission\"\nurl = \"{}\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"",
        tr.rpc_url()
    );
    let config = write_config(tmp.path(), &body, &dirs, LIMIT);
    let (code, said) = check(tmp.path(), &config);
    assert_eq!(code, Some(0), "{said}");
    // Debian 12's transmission-daemon 3.00 speaks RPC version 16.
    let client_line = line(&said, "client");
    assert!(
        client_line.starts_with("OK   client    Transmission 3.00 (")
            && client_line.contains(", RPC 16 at ")
            && client_line.contains(&tr.rpc_url()),
        "{said}"
    );
    assert_rest_is_ok(&said, 1);

    let config = write_config(tmp.path(), &body.replace(PASSWORD, "not it"), &dirs, LIMIT);
    let (code, said) = check(tmp.path(), &config);
    assert_eq!(code, Some(1), "{said}");
    let client_line = line(&said, "client");
    assert!(
        client_line.starts_with("FAIL")
            && client_line.contains(&format!("127.0.0.1:{}/transmission/rpc", tr.rpc_port))
            && client_line.contains("check username and password"),
        "{said}"
    );
    tr.stop();
}

#[test]
fn deluge_names_the_daemon_version_and_refuses_a_wrong_password() {
    use support::deluge::Deluge;

    let tmp = TempDir::new("check-deluge");
    let mut deluge = Deluge::start(&tmp.join("deluge"));
    let dirs = stage_torrents(tmp.path(), &deluge.client());
    let body = format!("kind = \"deluge\"\nurl = \"{}\"", deluge.url());
    let config = write_config(tmp.path(), &body, &dirs, LIMIT);
    let (code, said) = check(tmp.path(), &config);
    assert_eq!(code, Some(0), "{said}");
    let client_line = line(&said, "client");
    assert!(
        client_line.starts_with("OK   client    Deluge 2.0.3 (libtorrent ")
            && client_line.ends_with(&format!("), through deluge-web at {}", deluge.url())),
        "{said}"
    );
    // Deluge labels only with its Label plugin, which is off here.
    assert_rest_is_ok(&said, 0);

    let config = write_config(
        tmp.path(),
        &format!("{body}\npassword = \"not it\""),
        &dirs,
        LIMIT,
    );
    let (code, said) = check(tmp.path(), &config);
    assert_eq!(code, Some(1), "{said}");
    let client_line = line(&said, "client");
    assert!(
        client_line.starts_with("FAIL")
            && client_line.contains(&deluge.url())
            && client_line.contains("wrong [client] password"),
        "{said}"
    );
    deluge.stop();
}

#[test]
fn rtorrent_names_its_version() {
    use lowspace::rtorrent::Client;
    use support::rtorrent::Rtorrent;

    let tmp = TempDir::new("check-rt");
    let mut rt = Rtorrent::start(&tmp.join("rt"));
    let client = Client::new(&rt.socket_url()).unwrap();
    let dirs = stage_torrents(tmp.path(), &client);
    let config = tmp.join("lowspace.toml");
    std::fs::write(
        &config,
        format!(
            "[rtorrent]\nsocket_url = \"{}\"\n\n[rotate]\nmanaged_torrents_directory = \"{}\"\n\
             space_limit = {LIMIT}\n\n[remote]\nservice = \"local\"\npath = \"{}\"\n",
            rt.socket_url(),
            dirs.managed.display(),
            dirs.remote.display()
        ),
    )
    .unwrap();
    let (code, said) = check(tmp.path(), &config);
    assert_eq!(code, Some(0), "{said}");
    assert!(
        line(&said, "client").starts_with(&format!(
            "OK   client    rtorrent 0.9.8 at {}",
            rt.socket_url()
        )),
        "{said}"
    );
    assert_rest_is_ok(&said, 1);
    rt.stop();
}
