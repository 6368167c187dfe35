//! `lowspace follow` end to end with real parts: `lowspace tree` builds the
//! main box's index, a real nginx serves it over HTTPS demanding a client
//! certificate from a test CA made with openssl, a libtorrent seeder holds
//! the main box's data, and a real Transmission (then a real rtorrent) on
//! the follower downloads it. Faults nginx can produce (400 for a bad or
//! missing client certificate, 500, an empty file) come from nginx; a
//! truncated body comes from `fake_truncating_server`.
mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use support::mktorrent::{make, write_data};
use support::nginx::{Nginx, TestCa};
use support::seeder::Peer;
use support::tempdir::TempDir;
use support::transmission::{self, Transmission};
use support::{free_port, run_lowspace, wait_until};

const TRACKER: &str = "http://127.0.0.1:9/announce";

/// The main box's files: small, because Transmission downloads slowly
/// from a loopback seeder.
const FILES: &[(&str, usize)] = &[
    ("a.bin", 40 * 1024),
    ("sub dir/b ü.bin", 20 * 1024),
    ("c.bin", 30 * 1024),
];

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
        for (i, (rel, len)) in FILES.iter().enumerate() {
            write_data(&main.join(rel), *len, i as u32 + 1);
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
        // An empty listing, for the safety case.
        std::fs::create_dir_all(www.join("empty")).unwrap();
        std::fs::write(www.join("empty/index.txt"), "# lowspace tree index v1\n").unwrap();

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

    /// (torrent, directory holding its data) for the seeder.
    fn seeds(&self) -> Vec<(PathBuf, PathBuf)> {
        FILES
            .iter()
            .map(|(rel, _)| {
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

/// A server that promises 4096 bytes and sends 20, then hangs up: nginx
/// never cuts a body short, a dying proxy does.
fn fake_truncating_server() -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n# lowspace tree index");
        }
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
    let (fake_port, fake) = fake_truncating_server();
    let truncated = format!("http://127.0.0.1:{fake_port}/index.txt");
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
        ("truncated body", truncated, None, "ended early"),
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
    fake.join().unwrap();
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    match (std::fs::read(a), std::fs::read(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn file_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap()
}

#[test]
fn transmission_follows_the_main_box_over_mutual_tls() {
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
        "client = \"transmission\"\nrpc_url = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\n",
        tr.rpc_url(),
        transmission::USER,
        transmission::PASSWORD
    );
    let listing = main.listing_url("index.txt");
    let config = follow_config(&main, &listing, &client_lines, None);

    // Dry run: the diff, and nothing added.
    let out = follow(&home, &config, &["--dry-run"]);
    assert_exit(&out, 0);
    assert!(text(&out).contains("would add"), "{}", text(&out));
    assert_eq!(tr.names(), ["mine.bin"]);

    let out = follow(&home, &config, &[]);
    assert_exit(&out, 0);
    assert!(text(&out).contains("3 added, 0 removed"), "{}", text(&out));
    for (rel, _) in FILES {
        let got = tr.download_dir.join(file_name(rel));
        wait_until(
            &format!("{rel} downloaded by Transmission"),
            Duration::from_secs(180),
            || same_bytes(&got, &main.main.join(rel)),
        );
    }

    // Nothing to do the second time.
    let out = follow(&home, &config, &[]);
    assert_exit(&out, 0);
    assert!(
        text(&out).contains("0 added, 0 removed, 3 kept"),
        "{}",
        text(&out)
    );

    let data_intact = || {
        FILES
            .iter()
            .all(|(rel, _)| tr.download_dir.join(file_name(rel)).exists())
            && tr.names().len() == 4
    };
    assert_faults_remove_nothing(&main, &home, &client_lines, &data_intact);

    // c.bin leaves the main box; the follower drops it and its data.
    std::fs::remove_file(main.main.join("c.bin")).unwrap();
    let out = run_lowspace(
        &home,
        &[
            "tree",
            main.main.to_str().unwrap(),
            main.www.to_str().unwrap(),
            "--tracker",
            TRACKER,
            "--prune",
        ],
        &[],
    );
    assert_exit(&out, 0);
    let out = follow(&home, &config, &[]);
    assert_exit(&out, 0);
    assert!(text(&out).contains("0 added, 1 removed"), "{}", text(&out));
    wait_until(
        "c.bin deleted by Transmission",
        Duration::from_secs(20),
        || !tr.download_dir.join("c.bin").exists(),
    );
    let mut names = tr.names();
    names.sort();
    assert_eq!(names, ["a.bin", "b ü.bin", "mine.bin"]);
    assert!(same_bytes(
        &tr.download_dir.join("a.bin"),
        &main.main.join("a.bin")
    ));
    assert!(same_bytes(
        &tr.download_dir.join("mine.bin"),
        &own_dir.join("mine.bin")
    ));
    tr.stop();
}

#[test]
fn rtorrent_follows_the_main_box_over_mutual_tls() {
    use lowspace::rtorrent::Client;
    use support::rtorrent::Rtorrent;

    let main = MainBox::new("follow-rt");
    let home = main.tmp.path().to_path_buf();
    let mut rt = Rtorrent::start(&main.tmp.join("rtorrent"));
    let rpc = Client::new(&rt.socket_url()).unwrap();

    // The user's own torrent, without a label.
    let own_dir = main.tmp.join("own");
    write_data(&own_dir.join("mine.bin"), 8 * 1024, 99);
    let own_torrent = make(&own_dir, "mine.bin", "mine.torrent", &["-a", TRACKER]);
    std::fs::copy(own_dir.join("mine.bin"), rt.data_dir.join("mine.bin")).unwrap();
    rpc.load_raw_start(&std::fs::read(&own_torrent).unwrap(), &[])
        .unwrap();

    let _seeder = Peer::seed_each(&main.seeds(), &[rt.port]);

    let client_lines = format!(
        "client = \"rtorrent\"\nsocket_url = \"{}\"\ndownload_dir = \"{}\"\n",
        rt.socket_url(),
        rt.data_dir.display()
    );
    let config = follow_config(&main, &main.listing_url("index.txt"), &client_lines, None);
    let out = follow(&home, &config, &[]);
    assert_exit(&out, 0);
    assert!(text(&out).contains("3 added, 0 removed"), "{}", text(&out));
    for (rel, _) in FILES {
        let got = rt.data_dir.join(file_name(rel));
        wait_until(
            &format!("{rel} downloaded by rtorrent"),
            Duration::from_secs(120),
            || same_bytes(&got, &main.main.join(rel)),
        );
    }
    let labels = |rpc: &Client| {
        let mut v: Vec<(String, String)> = rpc
            .downloads()
            .unwrap()
            .into_iter()
            .map(|d| (d.name, d.label))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        labels(&rpc),
        [
            ("a.bin".to_string(), "lowspace-follow".to_string()),
            ("b ü.bin".into(), "lowspace-follow".into()),
            ("c.bin".into(), "lowspace-follow".into()),
            ("mine.bin".into(), "".into()),
        ]
    );

    let data_intact = || {
        FILES
            .iter()
            .all(|(rel, _)| rt.data_dir.join(file_name(rel)).exists())
            && Client::new(&rt.socket_url())
                .unwrap()
                .downloads()
                .unwrap()
                .len()
                == 4
    };
    assert_faults_remove_nothing(&main, &home, &client_lines, &data_intact);

    std::fs::remove_file(main.main.join("c.bin")).unwrap();
    let out = run_lowspace(
        &home,
        &[
            "tree",
            main.main.to_str().unwrap(),
            main.www.to_str().unwrap(),
            "--tracker",
            TRACKER,
            "--prune",
        ],
        &[],
    );
    assert_exit(&out, 0);
    let out = follow(&home, &config, &[]);
    assert_exit(&out, 0);
    assert!(text(&out).contains("0 added, 1 removed"), "{}", text(&out));
    assert!(!rt.data_dir.join("c.bin").exists());
    let names: Vec<String> = labels(&rpc).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["a.bin", "b ü.bin", "mine.bin"]);
    assert!(same_bytes(
        &rt.data_dir.join("mine.bin"),
        &own_dir.join("mine.bin")
    ));
    assert!(same_bytes(
        &rt.data_dir.join("a.bin"),
        &main.main.join("a.bin")
    ));
    rt.stop();
}
