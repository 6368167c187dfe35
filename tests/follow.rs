//! `lowspace follow` end to end with real parts: `lowspace tree` builds the
//! main box's index, a real nginx serves it over HTTPS demanding a client
//! certificate from a test CA made with openssl, a libtorrent seeder holds
//! the main box's data, and a real Transmission (then a real rtorrent) on
//! the follower downloads it. Faults nginx can produce (400 for a bad or
//! missing client certificate, 500, an empty file, an index cut before its
//! closing line, an index shrunk to one entry) come from nginx; what nginx
//! never does (a body cut short, a close-delimited body cut, a chunked body
//! cut, TLS closed without close_notify) comes from the `fake_*` servers.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use sha1::{Digest, Sha1};

use support::mktorrent::{make, write_data};
use support::nginx::{Nginx, TestCa};
use support::seeder::Peer;
use support::tempdir::TempDir;
use support::transmission::{self, Transmission};
use support::{free_port, run_lowspace, wait_until};

const TRACKER: &str = "http://127.0.0.1:9/announce";

/// The main box's files: small, because Transmission downloads slowly
/// from a loopback seeder. Nested non-ASCII directories, two different
/// files named `ß.bin`, and two identical `dup.bin` (one info-hash, two
/// paths). (path, size, data seed).
const FILES: &[(&str, usize, u32)] = &[
    ("a.bin", 4096, 1),
    ("sub ü/ß.bin", 3000, 2),
    ("other dir/deeper/ß.bin", 3500, 3),
    ("twin/x/dup.bin", 2048, 4),
    ("twin/y/dup.bin", 2048, 4),
    ("c.bin", 3072, 5),
];
/// The second path of the identical pair: the same torrent as the first.
const TWIN_COPY: &str = "twin/y/dup.bin";
/// Distinct torrents in FILES.
const TORRENTS: usize = 5;

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Everything on the main side: data, tree output, CA, certificates, nginx.
struct MainBox {
    tmp: TempDir,
    main: PathBuf,
    www: PathBuf,
    ca: TestCa,
    other_ca: TestCa,
    client_cert: (PathBuf, PathBuf),
    foreign_client_cert: (PathBuf, PathBuf),
    https_port: u16,
    _nginx: Nginx,
}

impl MainBox {
    fn new(label: &str) -> MainBox {
        let tmp = TempDir::new(label);
        let main = tmp.join("main");
        let www = tmp.join("www");
        for (rel, len, seed) in FILES {
            write_data(&main.join(rel), *len, *seed);
        }
        let home = tmp.path().to_path_buf();
        let out = run_lowspace(
            &home,
            &[
                "tree",
                main.to_str().unwrap(),
                www.to_str().unwrap(),
                "--tracker",
                TRACKER,
            ],
            &[],
        );
        assert_exit(&out, 0);
        // Listings that must remove nothing: empty, cut before the closing
        // line, shrunk to one entry, and an old index without the line.
        let index = std::fs::read_to_string(www.join("index.txt")).unwrap();
        let mut lines: Vec<&str> = index.lines().collect();
        assert_eq!(
            lines.last().copied(),
            Some(format!("# end of index: {} entries", FILES.len()).as_str())
        );
        lines.pop();
        let entries: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| !l.starts_with('#'))
            .collect();
        for (dir, text) in [
            (
                "empty",
                "# lowspace tree index v2\n# end of index: 0 entries\n".to_string(),
            ),
            ("cut", format!("{}\n", lines.join("\n"))),
            (
                "shrunk",
                format!(
                    "# lowspace tree index v2\n{}\n# end of index: 1 entries\n",
                    entries[0]
                ),
            ),
            (
                "v1",
                format!("# lowspace tree index v1\n{}\n", entries.join("\n")),
            ),
        ] {
            std::fs::create_dir_all(www.join(dir)).unwrap();
            std::fs::write(www.join(dir).join("index.txt"), text).unwrap();
        }

        let ca = TestCa::new(&tmp.join("ca"), "test-ca");
        let (server_cert, server_key) = ca.issue("server", false);
        let client_cert = ca.issue("follower", true);
        let other_ca = TestCa::new(&tmp.join("other-ca"), "other-ca");
        let foreign_client_cert = other_ca.issue("stranger", true);
        let https_port = free_port();
        let server = format!(
            "server {{\n\
             listen 127.0.0.1:{https_port} ssl;\n\
             ssl_certificate {};\n\
             ssl_certificate_key {};\n\
             ssl_client_certificate {};\n\
             ssl_verify_client on;\n\
             root {};\n\
             location /broken/ {{ return 500; }}\n\
             }}\n",
            server_cert.display(),
            server_key.display(),
            ca.cert.display(),
            www.display()
        );
        let nginx = Nginx::start(&tmp.join("nginx"), &server, &[https_port]);
        MainBox {
            tmp,
            main,
            www,
            ca,
            other_ca,
            client_cert,
            foreign_client_cert,
            https_port,
            _nginx: nginx,
        }
    }

    fn listing_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}/{path}", self.https_port)
    }

    /// (torrent, directory holding its data) for the seeder, one per torrent.
    fn seeds(&self) -> Vec<(PathBuf, PathBuf)> {
        FILES
            .iter()
            .filter(|(rel, _, _)| *rel != TWIN_COPY)
            .map(|(rel, _, _)| {
                let data = self.main.join(rel);
                (
                    self.www.join(format!("{rel}.torrent")),
                    data.parent().unwrap().to_path_buf(),
                )
            })
            .collect()
    }
}

/// The [follow] section; `tls` lines override the good defaults.
fn follow_config(main: &MainBox, listing: &str, client_lines: &str, tls: Option<&str>) -> String {
    let default_tls = format!(
        "ca_file = \"{}\"\nclient_cert = \"{}\"\nclient_key = \"{}\"\n",
        main.ca.cert.display(),
        main.client_cert.0.display(),
        main.client_cert.1.display()
    );
    format!(
        "[follow]\nlisting = \"{listing}\"\n{}{client_lines}timeout = \"10s\"\n",
        tls.map(str::to_string).unwrap_or(default_tls)
    )
}

fn follow(home: &Path, config: &str, args: &[&str]) -> Output {
    let path = home.join("follow.toml");
    std::fs::write(&path, config).unwrap();
    let mut all = vec!["--config", path.to_str().unwrap(), "follow"];
    all.extend_from_slice(args);
    run_lowspace(home, &all, &[])
}

/// A fake server: answers one request with `response`, then hangs up (a
/// plain TCP close). nginx never cuts a body short; a dying proxy does.
fn fake_http_server(response: Vec<u8>) -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(&response);
        }
    });
    (port, handle)
}

/// A fake HTTPS server (rustls, the test CA's certificate) that sends a
/// close-delimited body and closes the TCP connection without
/// close_notify, as a truncation attack or a crashed server would.
fn fake_tls_server_without_close_notify(
    ca: &TestCa,
    body: String,
) -> (u16, std::thread::JoinHandle<()>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (cert, key) = ca.issue("fake-server", false);
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let Ok((tcp, _)) = listener.accept() else {
            return;
        };
        tcp.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut buf = [0u8; 4096];
        let _ = tls.read(&mut buf);
        let _ = tls.write_all(format!("HTTP/1.1 200 OK\r\n\r\n{body}").as_bytes());
        let _ = tls.flush();
        // Dropped without send_close_notify: the TCP close alone ends it.
        let _ = tls.sock.shutdown(std::net::Shutdown::Both);
    });
    (port, handle)
}

/// Every fault must leave the follower as it was, exit 1 and say why.
fn assert_faults_remove_nothing(
    main: &MainBox,
    home: &Path,
    client_lines: &str,
    still_there: &dyn Fn() -> bool,
) {
    let good = main.listing_url("index.txt");
    let ca = main.ca.cert.display().to_string();
    let wrong_cert = format!(
        "ca_file = \"{ca}\"\nclient_cert = \"{}\"\nclient_key = \"{}\"\n",
        main.foreign_client_cert.0.display(),
        main.foreign_client_cert.1.display()
    );
    let no_cert = format!("ca_file = \"{ca}\"\n");
    let unknown_ca = format!(
        "ca_file = \"{}\"\nclient_cert = \"{}\"\nclient_key = \"{}\"\n",
        main.other_ca.cert.display(),
        main.client_cert.0.display(),
        main.client_cert.1.display()
    );
    let index = std::fs::read_to_string(main.www.join("index.txt")).unwrap();
    let first_lines: String = index.lines().take(3).map(|l| format!("{l}\n")).collect();
    let mut fakes = Vec::new();
    let mut fake = |response: Vec<u8>| {
        let (port, handle) = fake_http_server(response);
        fakes.push(handle);
        format!("http://127.0.0.1:{port}/index.txt")
    };
    let short_body =
        fake(b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n# lowspace tree index".to_vec());
    let cut_without_length = fake(format!("HTTP/1.1 200 OK\r\n\r\n{first_lines}").into_bytes());
    let cut_after_chunk = fake(
        format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{first_lines}\r\n",
            first_lines.len()
        )
        .into_bytes(),
    );
    let (tls_port, tls_fake) = fake_tls_server_without_close_notify(&main.ca, first_lines.clone());
    fakes.push(tls_fake);
    let tls_cut = format!("https://127.0.0.1:{tls_port}/index.txt");
    let cases: Vec<(&str, String, Option<String>, &str)> = vec![
        (
            "wrong client certificate",
            good.clone(),
            Some(wrong_cert),
            "400",
        ),
        (
            "missing client certificate",
            good.clone(),
            Some(no_cert),
            "400",
        ),
        ("unknown CA", good.clone(), Some(unknown_ca), "TLS"),
        (
            "HTTP 500",
            main.listing_url("broken/index.txt"),
            None,
            "500",
        ),
        (
            "body shorter than its Content-Length",
            short_body,
            None,
            "ended early",
        ),
        (
            "close-delimited body cut after a line",
            cut_without_length,
            None,
            "cut off",
        ),
        (
            "chunked body cut after a chunk",
            cut_after_chunk,
            None,
            "ended early",
        ),
        (
            "TLS closed without close_notify",
            tls_cut,
            None,
            "without close_notify",
        ),
        (
            "index cut before its closing line",
            main.listing_url("cut/index.txt"),
            None,
            "cut off",
        ),
        (
            "old index without a closing line",
            main.listing_url("v1/index.txt"),
            None,
            "older lowspace",
        ),
        (
            "index shrunk to 1 entry",
            main.listing_url("shrunk/index.txt"),
            None,
            "would remove 4 of the 5 torrents",
        ),
        (
            "empty listing",
            main.listing_url("empty/index.txt"),
            None,
            "listing is empty",
        ),
    ];
    for (name, listing, tls, why) in cases {
        let out = follow(
            home,
            &follow_config(main, &listing, client_lines, tls.as_deref()),
            &[],
        );
        assert_exit(&out, 1);
        let said = text(&out);
        assert!(
            said.contains("removing nothing") && said.contains(why),
            "{name}: {said}"
        );
        assert!(still_there(), "{name}: the follower lost data");
    }
    for fake in fakes {
        fake.join().unwrap();
    }
}

/// (relative path, SHA-1 of the content) of every file under `dir`,
/// leaving out `except` (the user's own torrent on the follower).
fn tree_digest(dir: &Path, except: &[&str]) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let digest = Sha1::digest(std::fs::read(&path).unwrap());
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                out.insert(rel, hex);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    for e in except {
        out.remove(*e);
    }
    out
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    match (std::fs::read(a), std::fs::read(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The Transmission RPC as lowspace itself speaks it, for what
/// transmission-remote does not show (labels, downloadDir, downloadedEver).
fn transmission_rpc(tr: &Transmission) -> lowspace::client::transmission::follow::Follower {
    lowspace::client::transmission::follow::Follower::new(
        &tr.rpc_url(),
        Some(transmission::USER),
        Some(transmission::PASSWORD),
        "lowspace-follow",
        None,
        Duration::from_secs(10),
    )
    .unwrap()
}

/// torrent-get's fields for every torrent, by name.
fn transmission_fields(tr: &Transmission, fields: &[&str]) -> Vec<serde_json::Value> {
    let reply = transmission_rpc(tr)
        .call("torrent-get", serde_json::json!({ "fields": fields }))
        .unwrap();
    reply["torrents"].as_array().unwrap().clone()
}

fn transmission_client_lines(tr: &Transmission) -> String {
    format!(
        "client = \"transmission\"\nrpc_url = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\n",
        tr.rpc_url(),
        transmission::USER,
        transmission::PASSWORD
    )
}

fn tree_again(main: &MainBox, extra: &[&str]) -> Output {
    let mut args = vec![
        "tree",
        main.main.to_str().unwrap(),
        main.www.to_str().unwrap(),
        "--tracker",
        TRACKER,
    ];
    args.extend_from_slice(extra);
    run_lowspace(main.tmp.path(), &args, &[])
}

#[test]
fn transmission_mirrors_the_main_tree_over_mutual_tls() {
    let main = MainBox::new("follow-tr");
    let home = main.tmp.path().to_path_buf();
    let mut tr = Transmission::start(&main.tmp.join("transmission"));

    // A torrent of the user's own, not labelled: follow must never touch it.
    let own_dir = main.tmp.join("own");
    write_data(&own_dir.join("mine.bin"), 8 * 1024, 99);
    let own_torrent = make(&own_dir, "mine.bin", "mine.torrent", &["-a", TRACKER]);
    std::fs::copy(own_dir.join("mine.bin"), tr.download_dir.join("mine.bin")).unwrap();
    let added = tr.remote(&["-a", own_torrent.to_str().unwrap()]);
    assert!(added.status.success(), "{}", text(&added));

    let _seeder = Peer::seed_each(&main.seeds(), &[tr.peer_port]);

    let client_lines = format!(
        "{}download_dir = \"{}\"\n",
        transmission_client_lines(&tr),
        tr.download_dir.display()
    );
    let listing = main.listing_url("index.txt");
    let config = follow_config(&main, &listing, &client_lines, None);

    // Dry run: what and where, and nothing added.
    let out = follow(&home, &config, &["--dry-run"]);
    assert_exit(&out, 0);
    let said = text(&out);
    assert!(
        said.contains("would add ")
            && said.contains(&format!("into {}", tr.download_dir.join("sub ü").display())),
        "{said}"
    );
    assert!(said.contains("dry run: 5 added, 0 removed"), "{said}");
    assert_eq!(tr.names(), ["mine.bin"]);

    let out = follow(&home, &config, &[]);
    assert_exit(&out, 0);
    assert!(text(&out).contains("5 added, 0 removed"), "{}", text(&out));
    for (rel, _, _) in FILES.iter().filter(|(rel, _, _)| *rel != TWIN_COPY) {
        let got = tr.download_dir.join(rel);
        wait_until(
            &format!("{rel} downloaded by Transmission"),
            Duration::from_secs(180),
            || same_bytes(&got, &main.main.join(rel)),
        );
    }
    wait_until("every torrent complete", Duration::from_secs(60), || {
        transmission_fields(&tr, &["percentDone"])
            .iter()
            .all(|t| t["percentDone"].as_f64() == Some(1.0))
    });

    // The second run places the identical file at its second path.
    let out = follow(&home, &config, &[]);
    assert_exit(&out, 0);
    assert!(
        text(&out).contains("0 added, 0 removed, 5 kept, 0 moved, 1 copied"),
        "{}",
        text(&out)
    );
    assert_eq!(
        tree_digest(&tr.download_dir, &["mine.bin"]),
        tree_digest(&main.main, &[]),
        "the follower's tree is not the main box's"
    );
    let out = follow(&home, &config, &[]);
    assert!(
        text(&out).contains("0 added, 0 removed, 5 kept, 0 moved, 0 copied, 0 failed"),
        "{}",
        text(&out)
    );

    let data_intact = || {
        tree_digest(&tr.download_dir, &["mine.bin"]) == tree_digest(&main.main, &[])
            && tr.names().len() == TORRENTS + 1
    };
    assert_faults_remove_nothing(&main, &home, &client_lines, &data_intact);

    // c.bin leaves the main box; the follower drops it and its data.
    std::fs::remove_file(main.main.join("c.bin")).unwrap();
    assert_exit(&tree_again(&main, &["--prune"]), 0);
    let out = follow(&home, &config, &[]);
    assert_exit(&out, 0);
    assert!(text(&out).contains("0 added, 1 removed"), "{}", text(&out));
    wait_until(
        "c.bin deleted by Transmission",
        Duration::from_secs(20),
        || !tr.download_dir.join("c.bin").exists(),
    );
    assert_eq!(
        tree_digest(&tr.download_dir, &["mine.bin"]),
        tree_digest(&main.main, &[])
    );
    assert!(same_bytes(
        &tr.download_dir.join("mine.bin"),
        &own_dir.join("mine.bin")
    ));
    tr.stop();
}

#[test]
fn transmission_moves_a_flat_follower_into_place_without_downloading() {
    use lowspace::follow::FollowClient;
    use lowspace::torrent::Metainfo;

    let main = MainBox::new("follow-tr-flat");
    let home = main.tmp.path().to_path_buf();
    let mut tr = Transmission::start(&main.tmp.join("transmission"));
    // What an older lowspace left: every torrent it could add, labelled, in
    // the one download directory, complete. (The two ß.bin collided flat
    // and the identical pair made it refuse the listing: those are left
    // out.) No peer runs in this test: whatever is in place at the end
    // was moved, not downloaded.
    let old = transmission_rpc(&tr);
    let flat = ["a.bin", "sub ü/ß.bin", "twin/x/dup.bin", "c.bin"];
    for rel in flat {
        let name = rel.rsplit('/').next().unwrap();
        std::fs::copy(main.main.join(rel), tr.download_dir.join(name)).unwrap();
        let bytes = std::fs::read(main.www.join(format!("{rel}.torrent"))).unwrap();
        let hash = Metainfo::from_bytes(&bytes).unwrap().info_hash();
        old.add_metainfo(&bytes, hash, &tr.download_dir).unwrap();
    }
    wait_until(
        "the flat torrents verified",
        Duration::from_secs(60),
        || {
            let ts = transmission_fields(&tr, &["percentDone"]);
            ts.len() == flat.len() && ts.iter().all(|t| t["percentDone"].as_f64() == Some(1.0))
        },
    );

    let client_lines = transmission_client_lines(&tr);
    let config = follow_config(&main, &main.listing_url("index.txt"), &client_lines, None);
    let out = follow(&home, &config, &["--dry-run"]);
    assert_exit(&out, 0);
    let said = text(&out);
    assert!(
        said.contains("would move") && said.contains("not at its listed path"),
        "{said}"
    );
    assert!(
        tr.download_dir.join("ß.bin").exists(),
        "the dry run moved data"
    );

    let out = follow(&home, &config, &[]);
    assert_exit(&out, 0);
    assert!(
        text(&out).contains("1 added, 0 removed, 4 kept, 2 moved"),
        "{}",
        text(&out)
    );
    for rel in flat {
        wait_until(
            &format!("{rel} moved into place"),
            Duration::from_secs(30),
            || same_bytes(&tr.download_dir.join(rel), &main.main.join(rel)),
        );
    }
    assert!(!tr.download_dir.join("ß.bin").exists());
    assert!(!tr.download_dir.join("dup.bin").exists());
    let other = tr.download_dir.join("other dir/deeper");
    for t in transmission_fields(
        &tr,
        &["name", "downloadDir", "downloadedEver", "percentDone"],
    ) {
        assert_eq!(t["downloadedEver"].as_u64(), Some(0), "{t}");
        if t["percentDone"].as_f64() != Some(1.0) {
            // The one the old version could not place: added where it belongs.
            assert_eq!(
                t["downloadDir"].as_str(),
                Some(other.to_str().unwrap()),
                "{t}"
            );
        }
    }
    // The next run links the identical file to its second path.
    let out = follow(&home, &config, &[]);
    assert!(text(&out).contains("1 copied"), "{}", text(&out));
    assert!(same_bytes(
        &tr.download_dir.join(TWIN_COPY),
        &main.main.join(TWIN_COPY)
    ));
    tr.stop();
}

#[test]
fn rtorrent_mirrors_the_main_tree_and_moves_a_flat_follower() {
    use lowspace::follow::FollowClient;
    use lowspace::rtorrent::Client;
    use lowspace::torrent::Metainfo;
    use support::rtorrent::{Rtorrent, RtorrentOptions};

    let main = MainBox::new("follow-rt");
    let home = main.tmp.path().to_path_buf();
    // directory.default with '~' (rtorrent's HOME is its dir): follow
    // must expand it as rotate does, for placement and for removal.
    let mut rt = Rtorrent::start_with(
        &main.tmp.join("rtorrent"),
        RtorrentOptions {
            extra_rc: vec!["directory.default.set = ~/data".into()],
            ..RtorrentOptions::default()
        },
    );
    let data = rt.data_dir.clone();
    assert_eq!(data, main.tmp.join("rtorrent/data"));
    let rpc = Client::new(&rt.socket_url()).unwrap();

    // The user's own torrent, without a label.
    let own_dir = main.tmp.join("own");
    write_data(&own_dir.join("mine.bin"), 8 * 1024, 99);
    let own_torrent = make(&own_dir, "mine.bin", "mine.torrent", &["-a", TRACKER]);
    std::fs::copy(own_dir.join("mine.bin"), data.join("mine.bin")).unwrap();
    rpc.load_raw_start(&std::fs::read(&own_torrent).unwrap(), &[])
        .unwrap();

    // An older lowspace mirrored a.bin and sub ü/ß.bin flat, complete.
    let old = lowspace::client::rtorrent::Follower::new(
        &rt.socket_url(),
        "lowspace-follow",
        Some(data.clone()),
    )
    .unwrap();
    let flat = ["a.bin", "sub ü/ß.bin"];
    for rel in flat {
        let name = rel.rsplit('/').next().unwrap();
        std::fs::copy(main.main.join(rel), data.join(name)).unwrap();
        let bytes = std::fs::read(main.www.join(format!("{rel}.torrent"))).unwrap();
        let hash = Metainfo::from_bytes(&bytes).unwrap().info_hash();
        old.add_metainfo(&bytes, hash, &data).unwrap();
    }
    wait_until("the flat torrents checked", Duration::from_secs(60), || {
        rpc.downloads()
            .unwrap()
            .iter()
            .filter(|d| d.label == "lowspace-follow")
            .all(|d| d.complete)
    });
    let downloaded = |rpc: &Client, name: &str| -> i64 {
        let d = rpc
            .downloads()
            .unwrap()
            .into_iter()
            .find(|d| d.name == name)
            .unwrap();
        match rpc
            .call(
                "d.down.total",
                &[lowspace::rtorrent::xmlrpc::Value::str(d.hash)],
            )
            .unwrap()
        {
            lowspace::rtorrent::xmlrpc::Value::Int(n) => n,
            other => panic!("d.down.total: {other:?}"),
        }
    };

    let client_lines = format!(
        "client = \"rtorrent\"\nsocket_url = \"{}\"\n",
        rt.socket_url()
    );
    let config = follow_config(&main, &main.listing_url("index.txt"), &client_lines, None);
    let out = follow(&home, &config, &[]);
    assert_exit(&out, 0);
    assert!(
        text(&out).contains("3 added, 0 removed, 2 kept, 1 moved"),
        "{}",
        text(&out)
    );
    // Moved before any peer existed: nothing of it was downloaded.
    assert!(same_bytes(
        &data.join("sub ü/ß.bin"),
        &main.main.join("sub ü/ß.bin")
    ));
    assert!(!data.join("ß.bin").exists());
    assert_eq!(downloaded(&rpc, "ß.bin"), 0);

    let _seeder = Peer::seed_each(&main.seeds(), &[rt.port]);
    for (rel, _, _) in FILES.iter().filter(|(rel, _, _)| *rel != TWIN_COPY) {
        let got = data.join(rel);
        wait_until(
            &format!("{rel} downloaded by rtorrent"),
            Duration::from_secs(120),
            || same_bytes(&got, &main.main.join(rel)),
        );
    }
    wait_until("every torrent complete", Duration::from_secs(60), || {
        rpc.downloads().unwrap().iter().all(|d| d.complete)
    });
    let out = follow(&home, &config, &[]);
    assert_exit(&out, 0);
    assert!(text(&out).contains("1 copied"), "{}", text(&out));
    assert_eq!(
        tree_digest(&data, &["mine.bin"]),
        tree_digest(&main.main, &[]),
        "the follower's tree is not the main box's"
    );
    let mut labels: Vec<(String, String)> = rpc
        .downloads()
        .unwrap()
        .into_iter()
        .map(|d| (d.name, d.label))
        .collect();
    labels.sort();
    assert_eq!(labels.len(), TORRENTS + 1);
    assert!(labels.contains(&("mine.bin".to_string(), String::new())));

    let data_intact = || {
        tree_digest(&data, &["mine.bin"]) == tree_digest(&main.main, &[])
            && Client::new(&rt.socket_url())
                .unwrap()
                .downloads()
                .unwrap()
                .len()
                == TORRENTS + 1
    };
    assert_faults_remove_nothing(&main, &home, &client_lines, &data_intact);

    std::fs::remove_file(main.main.join("c.bin")).unwrap();
    assert_exit(&tree_again(&main, &["--prune"]), 0);
    let out = follow(&home, &config, &[]);
    assert_exit(&out, 0);
    assert!(text(&out).contains("0 added, 1 removed"), "{}", text(&out));
    assert!(!data.join("c.bin").exists());
    assert_eq!(
        tree_digest(&data, &["mine.bin"]),
        tree_digest(&main.main, &[])
    );
    assert!(same_bytes(
        &data.join("mine.bin"),
        &own_dir.join("mine.bin")
    ));
    rt.stop();
}

#[test]
fn a_label_equal_to_rotates_is_a_configuration_error() {
    let tmp = TempDir::new("follow-label");
    let config = "[follow]\nlisting = \"/srv/www/index.txt\"\nclient = \"rtorrent\"\nsocket_url = \"scgi://127.0.0.1:5000\"\nlabel = \"lowspace\"\n";
    let out = follow(tmp.path(), config, &[]);
    assert_exit(&out, 2);
    assert!(
        text(&out).contains("the label rotate puts"),
        "{}",
        text(&out)
    );
}

#[test]
fn tree_refuses_to_prune_most_of_the_index_at_once() {
    let tmp = TempDir::new("tree-mass-prune");
    let (src, out_dir) = (tmp.join("src"), tmp.join("out"));
    for i in 0..5 {
        write_data(&src.join(format!("d/{i}.bin")), 1000, i);
    }
    let tree = |extra: &[&str]| {
        let mut args = vec!["tree", src.to_str().unwrap(), out_dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        run_lowspace(tmp.path(), &args, &[])
    };
    assert_exit(&tree(&[]), 0);
    for i in 1..5 {
        std::fs::remove_file(src.join(format!("d/{i}.bin"))).unwrap();
    }
    let out = tree(&["--prune"]);
    assert_exit(&out, 1);
    assert!(
        text(&out).contains("--allow-mass-removal"),
        "{}",
        text(&out)
    );
    assert!(out_dir.join("d/4.bin.torrent").exists());
    let index = std::fs::read_to_string(out_dir.join("index.txt")).unwrap();
    assert!(index.ends_with("# end of index: 5 entries\n"), "{index}");
    assert_exit(&tree(&["--prune", "--allow-mass-removal"]), 0);
    assert!(!out_dir.join("d/4.bin.torrent").exists());
    let index = std::fs::read_to_string(out_dir.join("index.txt")).unwrap();
    assert!(index.ends_with("# end of index: 1 entries\n"), "{index}");
}
