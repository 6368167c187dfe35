//! `lowspace fish` at archive scale, with hybrid torrents and over IPv6:
//! 20,000 torrents held in little memory and announced spread out (not in
//! a burst), a BEP 52 hybrid served and announced under both of its
//! hashes, and trackers reached over IPv6 (UDP with 18-byte peers, HTTP
//! with compact `peers6`), where a magnet-only IPv6 client finds fish.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use lowspace::torrent::InfoHash;
use support::fish::Fish;
use support::lt_client::{self, ClientSetup};
use support::opentracker::{tracker_peers, Opentracker};
use support::tempdir::TempDir;
use support::tracker6::Tracker6;
use support::{free_port, require_program, run_lowspace, wait_until};

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> u64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The info dictionary of torrent `n` of a test archive: a small
/// single-file torrent, its one piece hash made from `n` (every hash
/// differs).
fn archive_info(n: usize) -> Vec<u8> {
    let name = format!("item-{n:06} archived.bin");
    let mut pieces = [0u8; 20];
    pieces[..8].copy_from_slice(&(n as u64).to_be_bytes());
    let mut info = format!(
        "d6:lengthi{}e4:name{}:{name}12:piece lengthi16384e6:pieces20:",
        1000 + n % 15000,
        name.len()
    )
    .into_bytes();
    info.extend_from_slice(&pieces);
    info.push(b'e');
    info
}

/// Writes torrents 0..count, 1,000 to a directory, all announcing to
/// `tracker`.
fn write_archive(load: &Path, count: usize, tracker: &str) {
    for n in 0..count {
        let dir = load.join(format!("{:04}", n / 1000));
        if n % 1000 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        let mut file = format!("d8:announce{}:{tracker}4:info", tracker.len()).into_bytes();
        file.extend_from_slice(&archive_info(n));
        file.push(b'e');
        std::fs::write(dir.join(format!("item-{n:06} archived.torrent")), file).unwrap();
    }
}

/// 20,000 torrents on one UDP tracker (a real opentracker): fish holds
/// them in little memory, idles quietly, announces them spread over a
/// start window (20 a second, not 20,000 at once), and serves any of them.
#[test]
fn twenty_thousand_torrents_are_held_small_announced_spread_and_served() {
    const COUNT: usize = 20_000;
    let dir = TempDir::new("fish-scale");
    let load = dir.join("load");
    let hashes: Vec<String> = (0..COUNT)
        .map(|n| InfoHash::of_info_bytes(&archive_info(n)).to_hex())
        .collect();
    let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
    let tracker = Opentracker::start(dir.path(), &refs);
    write_archive(&load, COUNT, &tracker.udp_announce());

    let port = free_port();
    let state_dir = dir.join("state");
    let port_text = port.to_string();
    let started = Instant::now();
    let mut fish = Fish::spawn(
        dir.path(),
        &[
            "fish",
            "--load-path",
            load.to_str().unwrap(),
            "--port",
            &port_text,
            "--listen-interface",
            "127.0.0.1",
            "--no-dht",
            "--report-interval",
            "5s",
            "--state-dir",
            state_dir.to_str().unwrap(),
        ],
        port,
        state_dir.clone(),
    );
    fish.wait_for_log(
        &format!("holding {COUNT} torrents"),
        Duration::from_secs(120),
    );
    let pid = fish.child.id();

    // Idle, announcing 20 a second: loose bounds (release: 0.6 % and
    // 10.8 MiB in scripts/bench fish --scale 20000; a debug build costs
    // several times the CPU).
    std::thread::sleep(Duration::from_secs(3));
    let t0 = cpu_ticks(pid);
    let window = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let cpu_percent = (cpu_ticks(pid) - t0) as f64 * 100.0
        / ticks_per_second() as f64
        / window.elapsed().as_secs_f64();
    let peak = proc_status_kib(pid, "VmHWM:");
    assert!(
        peak < 24 * 1024,
        "peak RSS {peak} KiB with {COUNT} torrents"
    );
    let cpu_limit = if cfg!(debug_assertions) { 15.0 } else { 3.0 };
    assert!(
        cpu_percent < cpu_limit,
        "{cpu_percent:.2} % of a core while idle"
    );

    // Spread: at 20 a second (the start window is 1,000 s for 20,000),
    // never a burst of thousands.
    wait_until("fish reports announces", Duration::from_secs(20), || {
        fish.state()["tracker_announces"].as_u64().unwrap_or(0) > 0
    });
    let announces = fish.state()["tracker_announces"].as_u64().unwrap();
    let seconds = started.elapsed().as_secs() + 1;
    assert!(
        announces <= 25 * seconds + 50,
        "{announces} announces in {seconds} s: a burst, not a spread"
    );
    assert_eq!(fish.state()["tracker_failures"], 0, "{}", fish.log_text());

    // Served: raw BEP 9 clients check each torrent's SHA-1.
    let python = require_program("python3");
    let out = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/fish/clients.py"
        ))
        .args(["--port", &port_text, "--load-path", load.to_str().unwrap()])
        .args(["--clients", "20", "--timeout", "30"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("clients.py: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["ok"], 20, "{report}");
    assert!(fish.terminate().success());
}

/// How many of `hashes` opentracker lists (it lists only swarms with
/// peers), by multi-hash scrapes by hand, 50 hashes each.
fn swarms_listed(tracker_port: u16, hashes: &[String]) -> usize {
    let mut listed = 0;
    for batch in hashes.chunks(50) {
        let mut query = String::new();
        for hex in batch {
            query.push_str(if query.is_empty() { "?" } else { "&" });
            query.push_str("info_hash=");
            for i in 0..20 {
                query.push_str(&format!("%{}", &hex[2 * i..2 * i + 2]));
            }
        }
        let mut s = TcpStream::connect(("127.0.0.1", tracker_port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET /scrape{query} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut reply = Vec::new();
        s.read_to_end(&mut reply).unwrap();
        listed += reply.windows(10).filter(|w| w == b"8:complete").count();
    }
    listed
}

/// A hybrid made by `lowspace tree --format hybrid`: fish announces it to
/// the tracker under its v1 hash and its v2 hash cut to 20 bytes, and a
/// libtorrent client holding only a v2 magnet (`urn:btmh:`) gets the
/// metadata from it.
#[test]
fn a_hybrid_is_served_and_announced_under_both_hashes() {
    let dir = TempDir::new("fish-hybrid");
    let source = dir.join("source");
    std::fs::create_dir_all(&source).unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(source.join("hybrid.bin"), &data).unwrap();
    let make = |out: &Path, trackers: &[&str]| {
        let mut args = vec!["tree", "--format", "hybrid"];
        for t in trackers {
            args.extend(["--tracker", t]);
        }
        args.extend([source.to_str().unwrap(), out.to_str().unwrap()]);
        let result = run_lowspace(dir.path(), &args, &[]);
        assert!(result.status.success(), "{result:?}");
        let torrent = out.join("hybrid.bin.torrent");
        let show = run_lowspace(
            dir.path(),
            &["show", "--json", torrent.to_str().unwrap()],
            &[],
        );
        let json: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
        assert_eq!(json["version"], "hybrid");
        let v1 = json["info_hash"].as_str().unwrap().to_string();
        let v2 = json["info_hash_v2"].as_str().unwrap().to_string();
        (torrent, v1, v2)
    };
    let (_, v1, v2) = make(&dir.join("probe"), &[]);
    let v2_short = v2[..40].to_string();
    let tracker = Opentracker::start(dir.path(), &[&v1, &v2_short]);
    let load = dir.join("load");
    let (torrent, v1_again, _) = make(&load, &[&tracker.udp_announce()]);
    assert_eq!(v1_again, v1, "the tracker is outside the info dictionary");
    std::fs::remove_dir_all(&source).unwrap();
    assert!(torrent.exists());

    let mut fish = Fish::start(dir.path(), &load, &["--no-dht"]);
    wait_until("both hashes announced", Duration::from_secs(30), || {
        fish.state()["tracker_announces"].as_u64().unwrap_or(0) >= 2
    });
    let ours: std::net::SocketAddr = format!("127.0.0.1:{}", fish.port).parse().unwrap();
    for hash in [&v1, &v2_short] {
        let peers = tracker_peers(tracker.port, hash);
        assert!(peers.contains(&ours), "{hash}: {peers:?}");
    }
    let state = fish.state();
    assert_eq!(state["swarms"], 1, "{state}");
    assert_eq!(state["torrents"][0]["info_hash_v2"], v2_short.as_str());

    let save = dir.join("client");
    let report = lt_client::fetch_metadata(&ClientSetup {
        magnet: &format!("magnet:?xt=urn:btmh:1220{v2}"),
        listen_port: free_port(),
        connect: vec![fish.port],
        dht_bootstrap: None,
        timeout_secs: 60,
        save_path: &save,
    });
    assert!(
        report.has_metadata,
        "client got no metadata: {:?}",
        report.raw
    );
    assert_eq!(report.name, "hybrid.bin");
    assert_eq!(report.recv_payload_bytes, Some(0), "{:?}", report.raw);
    assert!(fish
        .log_text()
        .contains(&format!("joined swarm {v1} (and {v2_short}, its v2 hash)")));
    assert!(fish.terminate().success());
}

/// Reads a BitTorrent handshake from a peer that dialled us; returns the
/// info-hash in it (hex).
fn handshake_hash(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut handshake = [0u8; 68];
    stream.read_exact(&mut handshake).unwrap();
    assert_eq!(&handshake[..20], b"\x13BitTorrent protocol");
    handshake[28..48]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Trackers over IPv6 (Debian's opentracker is IPv4-only, so a small test
/// tracker on [::1]): fish announces over UDP and HTTP from ::1, reads the
/// IPv6 peers of both replies (BEP 15's 18-byte entries, HTTP `peers6`),
/// and dials them.
#[test]
fn trackers_over_ipv6_udp_and_http() {
    let dir = TempDir::new("fish-tracker6");
    let tracker = Tracker6::start(dir.path());
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    let mut hashes = Vec::new();
    for (name, url) in [
        ("udp6.bin", tracker.udp_announce()),
        ("http6.bin", tracker.http_announce()),
    ] {
        let info = format!(
            "d6:lengthi5e4:name{}:{name}12:piece lengthi16384e6:pieces20:{}e",
            name.len(),
            name.repeat(3).get(..20).unwrap()
        );
        hashes.push(InfoHash::of_info_bytes(info.as_bytes()).to_hex());
        let file = format!("d8:announce{}:{url}4:info{info}e", url.len());
        std::fs::write(load.join(format!("{name}.torrent")), file).unwrap();
    }
    // A peer waiting on [::1] for each torrent (two: an address is not
    // dialled twice within minutes), known to the tracker.
    let mut peers = Vec::new();
    for hash in &hashes {
        let peer = TcpListener::bind("[::1]:0").unwrap();
        let peer_port = peer.local_addr().unwrap().port();
        let mut escaped = String::new();
        for i in 0..20 {
            escaped.push_str(&format!("%{}", &hash[2 * i..2 * i + 2]));
        }
        let mut s = TcpStream::connect(("::1", tracker.port)).unwrap();
        write!(
            s,
            "GET /announce?info_hash={escaped}&peer_id=-TT0000-waitinghere!&port={peer_port}&left=1&compact=1 HTTP/1.0\r\nHost: [::1]\r\n\r\n"
        )
        .unwrap();
        let mut reply = Vec::new();
        s.read_to_end(&mut reply).unwrap();
        assert!(
            reply.starts_with(b"HTTP/1.0 200"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
        peer.set_nonblocking(true).unwrap();
        peers.push((hash.clone(), peer));
    }

    let mut fish = Fish::start(dir.path(), &load, &["--no-dht"]);
    for (hash, peer) in &peers {
        let mut dialled = None;
        wait_until(
            &format!("fish dials the IPv6 peer of {hash}"),
            Duration::from_secs(30),
            || match peer.accept() {
                Ok((stream, from)) => {
                    dialled = Some((stream, from));
                    true
                }
                Err(_) => false,
            },
        );
        let (mut stream, from) = dialled.unwrap();
        assert!(from.ip().is_ipv6(), "{from}");
        stream.set_nonblocking(false).unwrap();
        assert_eq!(&handshake_hash(&mut stream), hash);
    }

    let announces = tracker.announces();
    for (proto, hash) in [("udp", &hashes[0]), ("http", &hashes[1])] {
        assert!(
            announces.iter().any(|a| a["proto"] == proto
                && a["info_hash"] == hash.as_str()
                && a["ip"] == "::1"
                && a["port"] == fish.port),
            "no {proto} announce of {hash} from fish: {announces:?}"
        );
    }
    wait_until("fish.json", Duration::from_secs(10), || {
        fish.state()["swarms"] == 2
    });
    assert_eq!(fish.state()["tracker_failures"], 0, "{}", fish.log_text());
    assert!(fish.terminate().success());
}

/// Issue 18: a libtorrent client on ::1 with no DHT, knowing only a magnet
/// naming an IPv6 UDP tracker, learns fish's [::1] address from that
/// tracker and gets the whole info dictionary (two metadata pieces) from
/// fish, and no piece data.
#[test]
fn an_ipv6_client_gets_the_metadata_through_an_ipv6_udp_tracker() {
    let dir = TempDir::new("fish-magnet6");
    let tracker = Tracker6::start(dir.path());
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    // 1,000 pieces: a 20,000-byte `pieces`, so more than one 16 KiB
    // metadata piece.
    let name = "magnet6.bin";
    let mut pieces = Vec::with_capacity(20_000);
    let mut x: u32 = 0x2545_f491;
    while pieces.len() < 20_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pieces.push((x >> 24) as u8);
    }
    let mut info = format!(
        "d6:lengthi{}e4:name{}:{name}12:piece lengthi16384e6:pieces{}:",
        1000 * 16384,
        name.len(),
        pieces.len()
    )
    .into_bytes();
    info.extend_from_slice(&pieces);
    info.push(b'e');
    let hash = InfoHash::of_info_bytes(&info).to_hex();
    let url = tracker.udp_announce();
    let mut file = format!("d8:announce{}:{url}4:info", url.len()).into_bytes();
    file.extend_from_slice(&info);
    file.push(b'e');
    std::fs::write(load.join(format!("{name}.torrent")), file).unwrap();

    let port = free_port();
    let port_text = port.to_string();
    let state_dir = dir.join("state");
    let fish = Fish::spawn(
        dir.path(),
        &[
            "--log-level",
            "debug",
            "fish",
            "--load-path",
            load.to_str().unwrap(),
            "--port",
            &port_text,
            "--listen-interface",
            "::",
            "--state-dir",
            state_dir.to_str().unwrap(),
            "--report-interval",
            "1s",
            "--no-dht",
        ],
        port,
        state_dir.clone(),
    );
    wait_until(
        "fish announces over UDP from [::1]",
        Duration::from_secs(30),
        || {
            tracker.announces().iter().any(|a| {
                a["proto"] == "udp"
                    && a["info_hash"] == hash.as_str()
                    && a["ip"] == "::1"
                    && a["port"] == port
            })
        },
    );

    let client_port = free_port();
    let info_out = dir.join("client-info.bin");
    let report = lt_client::fetch_metadata_with(
        &ClientSetup {
            magnet: &format!(
                "magnet:?xt=urn:btih:{hash}&tr=udp%3A%2F%2F%5B%3A%3A1%5D%3A{}%2Fannounce",
                tracker.port
            ),
            listen_port: client_port,
            connect: vec![],
            dht_bootstrap: None,
            timeout_secs: 40,
            save_path: &dir.join("client"),
        },
        "::1",
        serde_json::json!({ "info_out": info_out }),
    );
    assert!(
        report.has_metadata,
        "no metadata: {:?} tracker: {:?} {}",
        report.raw,
        tracker.announces(),
        fish.log_text()
    );
    let got = std::fs::read(&info_out).unwrap();
    assert_eq!(InfoHash::of_info_bytes(&got).to_hex(), hash);
    assert!(
        got == info,
        "the info dictionary differs from the .torrent's"
    );
    assert_eq!(report.name, name);
    assert_eq!(report.raw["num_pieces"], 1000);
    assert_eq!(
        report.recv_payload_bytes,
        Some(0),
        "piece data moved: {:?}",
        report.raw
    );
    // Its only peer is fish, learnt from the tracker (no DHT, no dialling).
    let fish_addr = format!("[::1]:{port}");
    assert_eq!(
        report.raw["peers"],
        serde_json::json!([fish_addr]),
        "{:?}",
        report.raw
    );
    assert!(
        tracker.announces().iter().any(|a| a["proto"] == "udp"
            && a["info_hash"] == hash.as_str()
            && a["ip"] == "::1"
            && a["port"] == client_port),
        "the client did not announce over UDP: {:?}",
        tracker.announces()
    );
    wait_until(
        "fish counts the metadata pieces it served",
        Duration::from_secs(5),
        || fish.state()["metadata_pieces_served"].as_u64().unwrap_or(0) >= 2,
    );
}

/// Writes `count` torrents of a test archive, each with the announce-list
/// `urls` (one tier each); returns their hex info-hashes.
fn write_listed(load: &Path, count: usize, urls: &[String]) -> Vec<String> {
    std::fs::create_dir_all(load).unwrap();
    let mut list = String::from("l");
    for url in urls {
        list.push_str(&format!("l{}:{url}e", url.len()));
    }
    list.push('e');
    (0..count)
        .map(|n| {
            let info = archive_info(n);
            let mut file = format!(
                "d8:announce{}:{}13:announce-list{list}4:info",
                urls[0].len(),
                urls[0]
            )
            .into_bytes();
            file.extend_from_slice(&info);
            file.push(b'e');
            std::fs::write(load.join(format!("item-{n:06}.torrent")), file).unwrap();
            InfoHash::of_info_bytes(&info).to_hex()
        })
        .collect()
}

/// Torrents naming one opentracker twice, `udp://H:P` and `http://H:P`:
/// fish announces over UDP only (no TCP connection reaches port P), and a
/// client asking the tracker over HTTP gets fish's address for each.
#[test]
fn a_tracker_named_over_udp_and_http_is_announced_to_over_udp_only() {
    const COUNT: usize = 5;
    let dir = TempDir::new("fish-twin");
    // opentracker answers UDP on `port`; its HTTP side (the same swarm
    // table) is on `http_port`, where the test asks as a client. TCP on
    // `port` is a listener counting fish's HTTP announces.
    let port = free_port();
    let http_port = free_port();
    let counter = TcpListener::bind(("127.0.0.1", port)).unwrap();
    counter.set_nonblocking(true).unwrap();
    let urls = [
        format!("udp://127.0.0.1:{port}/announce"),
        format!("http://127.0.0.1:{port}/announce"),
    ];
    let load = dir.join("load");
    let hashes = write_listed(&load, COUNT, &urls);
    let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
    let _tracker = Opentracker::start_on(dir.path(), &refs, http_port, port);

    let mut fish = Fish::start(dir.path(), &load, &["--no-dht"]);
    let ours: std::net::SocketAddr = format!("127.0.0.1:{}", fish.port).parse().unwrap();
    wait_until("every torrent listed", Duration::from_secs(30), || {
        hashes
            .iter()
            .all(|h| tracker_peers(http_port, h).contains(&ours))
    });
    // A few more seconds in which an HTTP announce would have come.
    std::thread::sleep(Duration::from_secs(3));
    let mut http_announces = 0;
    while counter.accept().is_ok() {
        http_announces += 1;
    }
    assert_eq!(http_announces, 0, "{}", fish.log_text());
    wait_until("the announces counted", Duration::from_secs(10), || {
        fish.state()["tracker_announces"] == COUNT as u64
    });
    let state = fish.state();
    assert_eq!(state["tracker_announces"], COUNT as u64, "{state}");
    assert_eq!(state["tracker_failures"], 0, "{state}");
    assert!(fish.terminate().success());
}

/// The same pair of URLs where the UDP side does not answer (nothing
/// listens for UDP on that port): fish falls back to HTTP at once, not an
/// interval later, and the tracker lists it.
#[test]
fn when_udp_fails_the_same_tracker_is_announced_to_over_http() {
    const COUNT: usize = 5;
    let dir = TempDir::new("fish-twin-down");
    let port = free_port();
    let udp_elsewhere = free_port();
    let urls = [
        format!("udp://127.0.0.1:{port}/announce"),
        format!("http://127.0.0.1:{port}/announce"),
    ];
    let load = dir.join("load");
    let hashes = write_listed(&load, COUNT, &urls);
    let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
    let _tracker = Opentracker::start_on(dir.path(), &refs, port, udp_elsewhere);

    let mut fish = Fish::start(dir.path(), &load, &["--no-dht"]);
    let ours: std::net::SocketAddr = format!("127.0.0.1:{}", fish.port).parse().unwrap();
    wait_until(
        "every torrent listed over HTTP",
        Duration::from_secs(30),
        || {
            hashes
                .iter()
                .all(|h| tracker_peers(port, h).contains(&ours))
        },
    );
    // fish.json is written once a second: wait for it to count them.
    wait_until("the announces counted", Duration::from_secs(10), || {
        fish.state()["tracker_announces"] == COUNT as u64
    });
    let state = fish.state();
    assert!(state["tracker_failures"].as_u64().unwrap() >= 1, "{state}");
    assert!(fish.terminate().success());
}

/// An HTTP tracker down when fish starts rests after its first failed
/// announce; when the rest is over one multi-hash scrape (BEP 48) finds
/// it up again — no announce is woken to find out — and every torrent is
/// then announced to it.
#[test]
fn a_tracker_that_comes_back_is_found_by_a_scrape_and_announced_to() {
    const COUNT: usize = 300;
    let dir = TempDir::new("fish-scrape-back");
    let port = free_port();
    let udp_elsewhere = free_port();
    let urls = [format!("http://127.0.0.1:{port}/announce")];
    let load = dir.join("load");
    let hashes = write_listed(&load, COUNT, &urls);
    let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();

    // The tracker's ports are held (connections closed unanswered, as by
    // a crashing tracker) so no other test's tracker takes them meanwhile.
    let held = TcpListener::bind(("127.0.0.1", port)).unwrap();
    held.set_nonblocking(true).unwrap();
    let held_udp = std::net::UdpSocket::bind(("127.0.0.1", udp_elsewhere)).unwrap();
    let release = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let closer = {
        let release = release.clone();
        std::thread::spawn(move || {
            while !release.load(std::sync::atomic::Ordering::SeqCst) {
                match held.accept() {
                    Ok((stream, _)) => drop(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })
    };
    let mut fish = Fish::start(dir.path(), &load, &["--no-dht"]);
    wait_until("the first announce failed", Duration::from_secs(30), || {
        fish.state()["tracker_failures"].as_u64().unwrap_or(0) >= 1
    });
    release.store(true, std::sync::atomic::Ordering::SeqCst);
    closer.join().unwrap();
    drop(held_udp);
    let _tracker = Opentracker::start_on(dir.path(), &refs, port, udp_elsewhere);
    // The rest is a minute from the failure; then the announces resume
    // over the start window (300 torrents: 15 s).
    let within = |what: &str, limit: Duration, done: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < limit,
                "{what}: not within {limit:?}; fish.json {}; log:\n{}",
                fish.state(),
                fish.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    within(
        "a scrape found the tracker up",
        Duration::from_secs(90),
        &|| fish.state()["tracker_scrapes"].as_u64().unwrap_or(0) >= 1,
    );
    // Announces resume at the tracker's pace (300 torrents over half an
    // interval: one every 3 s), none of them failing.
    within("announces resumed", Duration::from_secs(40), &|| {
        fish.state()["tracker_announces"].as_u64().unwrap_or(0) >= 5
    });
    let state = fish.state();
    let announced = state["tracker_announces"].as_u64().unwrap();
    // While it rested, no announce went to it (each would have failed).
    assert!(state["tracker_failures"].as_u64().unwrap() <= 3, "{state}");
    let listed = swarms_listed(port, &hashes);
    assert!(
        listed as u64 >= announced,
        "{listed} listed, {announced} announced"
    );
    assert!(
        listed < COUNT,
        "{listed}: the test should see announces still spread"
    );
    assert!(fish.terminate().success());
}

/// A few hundred torrents on an HTTP-only opentracker, ten of them with
/// another peer there: once the tracker answers an announce, fish scrapes
/// all of its torrents in multi-hash batches (BEP 48) and fish.json says
/// how many it scraped and which have other peers.
#[test]
fn scrape_health_of_an_http_tracker_is_in_the_state_file() {
    const COUNT: usize = 300;
    let dir = TempDir::new("fish-scrape-health");
    let port = free_port();
    let udp_elsewhere = free_port();
    let urls = [format!("http://127.0.0.1:{port}/announce")];
    let load = dir.join("load");
    let hashes = write_listed(&load, COUNT, &urls);
    let refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
    let _tracker = Opentracker::start_on(dir.path(), &refs, port, udp_elsewhere);
    // Another peer in ten swarms.
    for hash in hashes.iter().step_by(30) {
        tracker_peers(port, hash);
    }

    let fish = Fish::start(dir.path(), &load, &["--no-dht"]);
    let mut fish = fish;
    let health = |fish: &Fish| fish.state()["trackers"][0].clone();
    let start = Instant::now();
    while health(&fish)["last_scrape"] != "ok" {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no scrape health: {}\n{}",
            fish.state()["trackers"],
            fish.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let h = health(&fish);
    assert_eq!(h["tracker"], urls[0].as_str(), "{h}");
    assert_eq!(h["torrents_scraped"], COUNT as u64, "{h}");
    assert_eq!(h["with_other_peers"], 10, "{h}");
    assert_eq!(h["multi_scrape"], true, "{h}");
    // Health came from scrapes: announces go on at the tracker's pace.
    assert!(fish.state()["tracker_announces"].as_u64().unwrap() < COUNT as u64);
    assert!(fish.terminate().success());
}
