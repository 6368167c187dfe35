//! `lowspace fish --magnets FILE` against real parts: a libtorrent seeder
//! holds a torrent, opentracker introduces it, and fish, given only the
//! magnet, fetches the metadata, writes a byte-identical .torrent into its
//! load path and then serves it to a libtorrent client that has only the
//! magnet too. And the other way round: a seeder fish cannot find dials
//! fish, and fish takes the metadata from it over that connection.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::fish::Fish;
use support::lt_client::{self, ClientSetup};
use support::opentracker::Opentracker;
use support::seeder::Peer;
use support::tempdir::TempDir;
use support::{free_port, libtorrent_info, mktorrent, run_lowspace, wait_until};

/// A torrent the seeder holds: `announce` and `info` only, so a .torrent
/// rebuilt from the magnet can be byte-identical to it.
struct Seeded {
    hash: String,
    /// The .torrent the seeder holds.
    torrent: PathBuf,
    /// Its info dictionary, as bytes.
    info: Vec<u8>,
    /// The directory holding the data.
    data_dir: PathBuf,
    tracker: Opentracker,
    url: String,
}

/// Data made with mktorrent (32 KiB pieces),
/// opentracker allowing its hash, and the torrent rewritten by real
/// libtorrent (Python) with only the tracker and the info dictionary.
fn seeded(dir: &TempDir, name: &str, size: usize) -> Seeded {
    let data_dir = dir.join("seed");
    mktorrent::write_data(&data_dir.join(name), size, 11);
    let made = mktorrent::make(
        &data_dir,
        name,
        "../made.torrent",
        &["-l", "15", "-a", "http://127.0.0.1:1/announce"],
    );
    let hash = info_hash_of(&made);
    let tracker = Opentracker::start(dir.path(), &[&hash]);
    let url = tracker.http_announce();
    let torrent = dir.join("seed.torrent");
    let script = "import sys, libtorrent as lt\n\
        d = lt.bdecode(open(sys.argv[1], 'rb').read())\n\
        out = {b'announce': sys.argv[2].encode(), b'info': d[b'info']}\n\
        open(sys.argv[3], 'wb').write(lt.bencode(out))\n";
    let status = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(&made)
        .arg(&url)
        .arg(&torrent)
        .status()
        .expect("run /usr/bin/python3");
    assert!(status.success(), "re-encoding the torrent failed");
    assert_eq!(info_hash_of(&torrent), hash, "the info dictionary changed");
    let bytes = std::fs::read(&torrent).unwrap();
    let head = format!("d8:announce{}:{}4:info", url.len(), url);
    assert!(bytes.starts_with(head.as_bytes()), "keys: announce, info");
    let info = bytes[head.len()..bytes.len() - 1].to_vec();
    Seeded {
        hash,
        torrent,
        info,
        data_dir,
        tracker,
        url,
    }
}

fn info_hash_of(torrent: &Path) -> String {
    libtorrent_info::torrent_info(torrent)["info_hash"]
        .as_str()
        .unwrap()
        .to_string()
}

fn url_bytes(hex: &str) -> String {
    (0..20)
        .map(|i| format!("%{}", &hex[2 * i..2 * i + 2]))
        .collect()
}

/// One HTTP/1.0 GET to opentracker; the body.
fn tracker_get(port: u16, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to opentracker");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let at = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |p| p + 4);
    reply[at..].to_vec()
}

/// Seeders opentracker knows for `hash` (its scrape).
fn seeders(tracker: &Opentracker, hash: &str) -> u64 {
    let body = tracker_get(
        tracker.port,
        &format!("/scrape?info_hash={}", url_bytes(hash)),
    );
    let text = String::from_utf8_lossy(&body);
    text.split("8:completei")
        .nth(1)
        .and_then(|rest| rest.split('e').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn write_magnets(dir: &TempDir, lines: &[String]) -> PathBuf {
    let file = dir.join("magnets.txt");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    file
}

fn torrents_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "torrent"))
        .collect();
    found.sort();
    found
}

#[test]
fn a_magnet_is_adopted_byte_identical_and_then_served() {
    let dir = TempDir::new("adopt-e2e");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    // 1280 pieces: about 26 KB of info dictionary, two metadata pieces.
    let s = seeded(&dir, "adopted.bin", 40 << 20);
    assert!(s.info.len() > 16384);
    let mut seeder = Peer::seed_each(&[(s.torrent.clone(), s.data_dir.clone())], &[]);
    wait_until(
        "the seeder announced to opentracker",
        Duration::from_secs(30),
        || seeders(&s.tracker, &s.hash) >= 1,
    );

    let magnet = format!("magnet:?xt=urn:btih:{}&tr={}", s.hash, s.url);
    let magnets = write_magnets(&dir, std::slice::from_ref(&magnet));
    let magnets_arg = magnets.to_str().unwrap();
    let started = Instant::now();
    let mut fish = Fish::start(dir.path(), &load, &["--no-dht", "--magnets", magnets_arg]);
    let written = load.join("adopted.bin.torrent");
    wait_until("the adopted .torrent", Duration::from_secs(60), || {
        written.exists()
    });
    let took = started.elapsed();
    assert_eq!(
        std::fs::read(&written).unwrap(),
        std::fs::read(&s.torrent).unwrap(),
        "the adopted .torrent differs from the seeder's"
    );
    assert_eq!(torrents_in(&load), vec![written.clone()]);
    // fish writes the .torrent before it logs the fetch: wait for the line.
    let fetched = format!("fetched metadata of {}", s.hash);
    let bytes = format!("{} bytes", s.info.len());
    wait_until("fish logs the fetch", Duration::from_secs(10), || {
        let log = fish.log_text();
        log.contains(&fetched) && log.contains(&bytes)
    });
    wait_until("fish serves it", Duration::from_secs(10), || {
        let state = fish.state();
        state["swarms"] == 1 && state["magnets_adopted"] == 1 && state["magnets_pending"] == 0
    });
    eprintln!(
        "adopted {} bytes of metadata in {:.2} s (fish start included); fish RSS {} KiB",
        s.info.len(),
        took.as_secs_f64(),
        fish.rss_kib()
    );

    // Only fish holds the metadata now.
    seeder.stop();
    let report = lt_client::fetch_metadata(&ClientSetup {
        magnet: &magnet,
        listen_port: free_port(),
        connect: vec![fish.port],
        dht_bootstrap: None,
        timeout_secs: 60,
        save_path: &dir.join("client"),
    });
    assert!(report.has_metadata, "{:?}", report.raw);
    assert_eq!(report.info_hash, s.hash);
    assert_eq!(report.name, "adopted.bin");
    assert_eq!(report.recv_payload_bytes, Some(0), "{:?}", report.raw);
    wait_until(
        "fish counts the pieces served",
        Duration::from_secs(10),
        || fish.state()["metadata_pieces_served"].as_u64().unwrap_or(0) >= 1,
    );
    assert!(fish.terminate().success());

    // A restart finds it in the load path: nothing left to adopt.
    let fish = Fish::start(dir.path(), &load, &["--no-dht", "--magnets", magnets_arg]);
    fish.wait_for_log("nothing to adopt", Duration::from_secs(10));
    wait_until(
        "the restarted fish serves it",
        Duration::from_secs(10),
        || {
            let state = fish.state();
            state["swarms"] == 1 && state["magnets_pending"] == 0
        },
    );
    assert_eq!(torrents_in(&load), vec![written]);
}

mod fake_wrong_metadata_peer {
    //! A peer that answers ut_metadata requests with metadata that does
    //! not hash to the info-hash: a fault no real client produces (they
    //! check the hash themselves before serving). It announces itself to
    //! opentracker like a seeder, or dials fish itself ([`call`]).
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    /// Serves `metadata` for `hash_hex` to everyone who connects, until the
    /// test process ends. Returns the listening port.
    pub fn start(hash_hex: &str, metadata: Vec<u8>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hash = bytes(hash_hex);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let hash = hash.clone();
                let metadata = metadata.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &hash, &metadata);
                });
            }
        });
        port
    }

    /// Dials fish at `port` from the local address `from` about `hash_hex`,
    /// claiming `metadata`; answers fish's requests with it when `answer`,
    /// else stays silent. The thread returns whether fish answered the
    /// handshake (false: refused), once fish hangs up.
    pub fn call(
        port: u16,
        from: &str,
        hash_hex: &str,
        metadata: Vec<u8>,
        answer: bool,
    ) -> std::thread::JoinHandle<bool> {
        let hash = bytes(hash_hex);
        let from: std::net::IpAddr = from.parse().unwrap();
        std::thread::spawn(move || {
            let fish = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            let mut s =
                lowspace::sys::connect_from(Some(from), &fish, Duration::from_secs(5)).unwrap();
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            greet(&mut s, &hash, metadata.len()).unwrap();
            let mut theirs = [0u8; 68];
            if s.read_exact(&mut theirs).is_err() {
                return false;
            }
            assert_eq!(
                &theirs[28..48],
                &hash[..],
                "fish answered about another torrent"
            );
            let _ = exchange(s, &metadata, answer);
            true
        })
    }

    fn bytes(hex: &str) -> Vec<u8> {
        (0..20)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// Our handshake and extension handshake (ut_metadata, metadata_size).
    fn greet(s: &mut TcpStream, hash: &[u8], size: usize) -> std::io::Result<()> {
        let mut hs = b"\x13BitTorrent protocol".to_vec();
        hs.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0]);
        hs.extend_from_slice(hash);
        hs.extend_from_slice(b"-XX0000-wrongmetadat");
        s.write_all(&hs)?;
        let ext = format!("d1:md11:ut_metadatai1ee13:metadata_sizei{size}ee");
        send_extended(s, 0, ext.as_bytes())
    }

    fn serve(mut s: TcpStream, hash: &[u8], metadata: &[u8]) -> std::io::Result<()> {
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut theirs = [0u8; 68];
        s.read_exact(&mut theirs)?;
        greet(&mut s, hash, metadata.len())?;
        exchange(s, metadata, true)
    }

    /// Reads fish's messages until it hangs up, answering its metadata
    /// requests with `metadata` when `answer`.
    fn exchange(mut s: TcpStream, metadata: &[u8], answer: bool) -> std::io::Result<()> {
        let mut their_id = 0u8;
        loop {
            let mut len = [0u8; 4];
            s.read_exact(&mut len)?;
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
            s.read_exact(&mut body)?;
            if body.len() < 2 || body[0] != 20 {
                continue;
            }
            let text = String::from_utf8_lossy(&body[2..]).into_owned();
            if body[1] == 0 {
                if let Some(rest) = text.split("11:ut_metadatai").nth(1) {
                    their_id = rest.split('e').next().unwrap_or("0").parse().unwrap_or(0);
                }
            } else if answer && body[1] == 1 && text.contains("8:msg_typei0e") {
                let piece: usize = text
                    .split("5:piecei")
                    .nth(1)
                    .and_then(|r| r.split('e').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let start = (piece * 16384).min(metadata.len());
                let end = (start + 16384).min(metadata.len());
                let mut payload = format!(
                    "d8:msg_typei1e5:piecei{piece}e10:total_sizei{}ee",
                    metadata.len()
                )
                .into_bytes();
                payload.extend_from_slice(&metadata[start..end]);
                send_extended(&mut s, their_id, &payload)?;
            }
        }
    }

    fn send_extended(s: &mut TcpStream, id: u8, payload: &[u8]) -> std::io::Result<()> {
        let mut m = ((payload.len() + 2) as u32).to_be_bytes().to_vec();
        m.push(20);
        m.push(id);
        m.extend_from_slice(payload);
        s.write_all(&m)
    }
}

#[test]
fn a_peer_with_wrong_metadata_is_dropped_and_the_right_one_wins() {
    let dir = TempDir::new("adopt-wrong");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    let s = seeded(&dir, "right.bin", 1 << 20);
    let mut wrong = s.info.clone();
    let last = wrong.len() - 10;
    wrong[last] ^= 0x55;
    let fake_port = fake_wrong_metadata_peer::start(&s.hash, wrong);
    tracker_get(
        s.tracker.port,
        &format!(
            "/announce?info_hash={}&peer_id=-XX0000-wrongmetadat&port={fake_port}&uploaded=0&downloaded=0&left=0&compact=1&event=started",
            url_bytes(&s.hash)
        ),
    );
    assert_eq!(seeders(&s.tracker, &s.hash), 1, "the fake peer announced");

    let magnets = write_magnets(
        &dir,
        &[format!("magnet:?xt=urn:btih:{}&tr={}", s.hash, s.url)],
    );
    let magnets_arg = magnets.to_str().unwrap();
    let mut fish = Fish::start(dir.path(), &load, &["--no-dht", "--magnets", magnets_arg]);
    fish.wait_for_log(
        &format!(
            "peer 127.0.0.1:{fake_port} sent metadata that does not hash to {}: dropped",
            s.hash
        ),
        Duration::from_secs(30),
    );
    wait_until("the bad peer is counted", Duration::from_secs(5), || {
        fish.state()["magnets_bad_peers"] == 1
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        torrents_in(&load),
        Vec::<PathBuf>::new(),
        "wrong metadata written"
    );
    assert_eq!(fish.state()["magnets_pending"], 1);
    assert!(fish.terminate().success());

    // The real seeder joins; the tracker now hands out both.
    let _seeder = Peer::seed_each(&[(s.torrent.clone(), s.data_dir.clone())], &[]);
    wait_until(
        "both seeders at the tracker",
        Duration::from_secs(30),
        || seeders(&s.tracker, &s.hash) >= 2,
    );
    let fish = Fish::start(dir.path(), &load, &["--no-dht", "--magnets", magnets_arg]);
    let written = load.join("right.bin.torrent");
    wait_until("the adopted .torrent", Duration::from_secs(60), || {
        written.exists()
    });
    assert_eq!(
        std::fs::read(&written).unwrap(),
        std::fs::read(&s.torrent).unwrap()
    );
    assert_eq!(torrents_in(&load), vec![written]);
    drop(fish);
}

#[test]
fn a_seeder_that_dials_fish_gives_it_the_metadata_a_liar_and_a_staller_do_not_block_it() {
    let dir = TempDir::new("adopt-caller");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    let s = seeded(&dir, "called.bin", 40 << 20);
    assert!(s.info.len() > 16384, "two metadata pieces");
    // No tracker in the magnet and no DHT: fish has no way to find the
    // seeder; only connections the seeder opens reach it.
    let magnet = format!("magnet:?xt=urn:btih:{}", s.hash);
    let magnets = write_magnets(&dir, std::slice::from_ref(&magnet));
    let mut fish = Fish::start(
        dir.path(),
        &load,
        &["--no-dht", "--magnets", magnets.to_str().unwrap()],
    );

    // A liar dials first: dropped, counted, and refused when it calls again.
    let mut wrong = s.info.clone();
    let last = wrong.len() - 10;
    wrong[last] ^= 0x55;
    let liar = fake_wrong_metadata_peer::call(fish.port, "127.0.0.2", &s.hash, wrong.clone(), true);
    assert!(liar.join().unwrap(), "fish refused the first call");
    fish.wait_for_log(
        &format!("sent metadata that does not hash to {}: dropped", s.hash),
        Duration::from_secs(10),
    );
    assert!(fish.log_text().contains("peer 127.0.0.2:"));
    wait_until("the liar is counted", Duration::from_secs(5), || {
        fish.state()["magnets_bad_peers"] == 1
    });
    let again = fake_wrong_metadata_peer::call(fish.port, "127.0.0.2", &s.hash, wrong, true);
    assert!(!again.join().unwrap(), "the liar was asked again");
    fish.wait_for_log(
        "sent wrong metadata for this magnet lately",
        Duration::from_secs(5),
    );
    // A staller claims the metadata and never sends it: it holds one of
    // the few fetch slots until the attempt deadline.
    let staller =
        fake_wrong_metadata_peer::call(fish.port, "127.0.0.3", &s.hash, s.info.clone(), false);
    fish.wait_for_log(
        &format!("dialled us about {}, a magnet we are adopting", s.hash),
        Duration::from_secs(5),
    );
    assert_eq!(torrents_in(&load), Vec::<PathBuf>::new());

    let started = Instant::now();
    let mut seeder = Peer::seed_each(&[(s.torrent.clone(), s.data_dir.clone())], &[fish.port]);
    let written = load.join("called.bin.torrent");
    wait_until("the adopted .torrent", Duration::from_secs(60), || {
        written.exists()
    });
    let took = started.elapsed();
    // The magnet has no tracker: the .torrent is the info dictionary alone.
    let mut want = b"d4:info".to_vec();
    want.extend_from_slice(&s.info);
    want.push(b'e');
    assert_eq!(std::fs::read(&written).unwrap(), want);
    assert_eq!(torrents_in(&load), vec![written.clone()]);
    fish.wait_for_log(
        &format!("fetched metadata of {} from 127.0.0.1:", s.hash),
        Duration::from_secs(10),
    );
    assert!(fish.log_text().contains(" (it dialled us), "));
    wait_until("fish serves it", Duration::from_secs(10), || {
        let state = fish.state();
        state["swarms"] == 1
            && state["magnets_adopted"] == 1
            && state["magnets_pending"] == 0
            && state["magnets_bad_peers"] == 1
    });
    // The staller's slot is let go once the metadata is in.
    let waited = Instant::now();
    assert!(staller.join().unwrap(), "fish refused the staller");
    assert!(waited.elapsed() < Duration::from_secs(10));
    eprintln!(
        "adopted {} bytes of metadata from a seeder that dialled fish in {:.2} s (seeder start included)",
        s.info.len(),
        took.as_secs_f64()
    );

    // Only fish holds the metadata now.
    seeder.stop();
    let report = lt_client::fetch_metadata(&ClientSetup {
        magnet: &magnet,
        listen_port: free_port(),
        connect: vec![fish.port],
        dht_bootstrap: None,
        timeout_secs: 60,
        save_path: &dir.join("client"),
    });
    assert!(report.has_metadata, "{:?}", report.raw);
    assert_eq!(report.info_hash, s.hash);
    assert_eq!(report.name, "called.bin");
    assert_eq!(report.recv_payload_bytes, Some(0), "{:?}", report.raw);
    assert!(fish.terminate().success());
}

#[test]
fn bad_lines_are_warnings_and_a_missing_file_is_a_usage_error() {
    let dir = TempDir::new("adopt-lines");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    let magnets = write_magnets(
        &dir,
        &[
            "# comment".into(),
            "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567".into(),
            "https://example.invalid/not-a-magnet".into(),
            String::new(),
            "magnet:?xt=urn:btih:12345".into(),
        ],
    );
    let magnets_arg = magnets.to_str().unwrap();
    let mut fish = Fish::start(dir.path(), &load, &["--no-dht", "--magnets", magnets_arg]);
    fish.wait_for_log(
        &format!("{magnets_arg}:3: not a magnet link"),
        Duration::from_secs(5),
    );
    fish.wait_for_log(&format!("{magnets_arg}:5: "), Duration::from_secs(5));
    wait_until("one magnet pending", Duration::from_secs(10), || {
        fish.state()["magnets_pending"] == 1
    });
    // No tracker in the link: it waits for peers, and says so.
    fish.wait_for_log(
        "no peers yet for 0123456789abcdef0123456789abcdef01234567",
        Duration::from_secs(10),
    );
    assert!(fish.terminate().success());

    let missing = dir.join("no-such-magnets.txt");
    let out = run_lowspace(
        dir.path(),
        &[
            "fish",
            "--load-path",
            load.to_str().unwrap(),
            "--port",
            &free_port().to_string(),
            "--no-dht",
            "--magnets",
            missing.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-magnets.txt"), "{stderr}");
}
