//! `lowspace fish` against real libtorrent clients: a client that has only
//! a magnet link gets the metadata from us, and never any piece data.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::net::TcpStream;
use std::path::{Path, PathBuf};

use std::time::Duration;

use support::fish::Fish;
use support::lt_client::{self, ClientSetup};
use support::opentracker::{tracker_peers, Opentracker};
use support::tempdir::TempDir;
use support::{free_port, libtorrent_info, mktorrent, wait_until};

/// A torrent made by mktorrent over `size` bytes with 32 KiB pieces (so
/// its info dictionary spans several 16 KiB metadata pieces), placed in
/// `load_path`; the data itself is deleted: the peer must not need it.
fn make_torrent(
    dir: &TempDir,
    load_path: &Path,
    name: &str,
    size: usize,
    trackers: &[&str],
) -> PathBuf {
    let data = dir.join(name);
    mktorrent::write_data(&data, size, size as u32);
    let mut args = vec!["-l", "15"];
    for t in trackers {
        args.extend(["-a", t]);
    }
    let torrent = mktorrent::make(dir.path(), name, &format!("{name}.torrent"), &args);
    std::fs::remove_file(&data).unwrap();
    let dest = load_path.join(format!("{name}.torrent"));
    std::fs::rename(&torrent, &dest).unwrap();
    dest
}

fn info_hash_of(torrent: &Path) -> String {
    libtorrent_info::torrent_info(torrent)["info_hash"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_libtorrent_client_with_a_magnet_gets_the_metadata_and_no_data() {
    let dir = TempDir::new("fish-direct");
    let load = dir.join("load");
    std::fs::create_dir_all(load.join("nested")).unwrap();
    let torrent = make_torrent(&dir, &load.join("nested"), "big.bin", 40 << 20, &[]);
    std::fs::write(load.join("corrupt.torrent"), b"d8:announce").unwrap();
    let hash = info_hash_of(&torrent);
    let mut fish = Fish::start(dir.path(), &load, &["--no-dht"]);

    let save = dir.join("client");
    let report = lt_client::fetch_metadata(&ClientSetup {
        magnet: &format!("magnet:?xt=urn:btih:{hash}"),
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
    assert_eq!(report.info_hash, hash);
    assert_eq!(report.name, "big.bin");
    assert_eq!(
        report.recv_payload_bytes,
        Some(0),
        "piece data moved: {:?}",
        report.raw
    );

    // 1280 pieces: about 26 KB of info dictionary, 2 metadata pieces.
    wait_until(
        "the state file counts the pieces served",
        Duration::from_secs(10),
        || fish.state()["metadata_pieces_served"].as_u64().unwrap_or(0) >= 2,
    );
    let state = fish.state();
    assert_eq!(state["swarms"], 1, "{state}");
    assert_eq!(state["torrents"][0]["info_hash"], hash.as_str());

    assert!(fish.terminate().success());
}

/// Announces to opentracker, and a client with only the magnet (tracker
/// included) finds us there and gets the metadata; `scheme` picks HTTP or
/// UDP (BEP 15) for both sides.
fn served_through_opentracker(udp: bool) {
    let dir = TempDir::new(if udp { "fish-udp" } else { "fish-http" });
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    // The tracker must be known before the torrent is made; its port is
    // picked first, the whitelist written once the info-hash is known.
    let probe = dir.join("probe");
    std::fs::create_dir_all(&probe).unwrap();
    let placeholder = "udp://127.0.0.1:1/announce";
    let torrent = make_torrent(&dir, &probe, "t.bin", 3 << 20, &[placeholder]);
    let hash = info_hash_of(&torrent);
    let tracker = support::opentracker::Opentracker::start(dir.path(), &[&hash]);
    let url = if udp {
        tracker.udp_announce()
    } else {
        tracker.http_announce()
    };
    // Re-make with the real tracker: the info-hash does not cover it.
    let torrent = make_torrent(&dir, &load, "t.bin", 3 << 20, &[&url]);
    assert_eq!(info_hash_of(&torrent), hash);

    let fish = Fish::start(dir.path(), &load, &["--no-dht"]);
    wait_until(
        "fish announced to opentracker",
        Duration::from_secs(20),
        || fish.state()["tracker_announces"].as_u64().unwrap_or(0) >= 1,
    );

    let magnet = format!("magnet:?xt=urn:btih:{hash}&tr={url}");
    let report = lt_client::fetch_metadata(&ClientSetup {
        magnet: &magnet,
        listen_port: free_port(),
        connect: vec![],
        dht_bootstrap: None,
        timeout_secs: 60,
        save_path: &dir.join("client"),
    });
    assert!(
        report.has_metadata,
        "client got no metadata: {:?}",
        report.raw
    );
    assert_eq!(report.info_hash, hash);
    assert_eq!(report.recv_payload_bytes, Some(0), "{:?}", report.raw);
    let state = fish.state();
    assert_eq!(state["tracker_failures"], 0, "{state}");
}

#[test]
fn found_through_an_http_tracker() {
    served_through_opentracker(false);
}

#[test]
fn found_through_a_udp_tracker() {
    served_through_opentracker(true);
}

mod fake_hostile_peer {
    //! Raw sockets doing what no real client does, to check the peer
    //! survives them and keeps serving real clients.
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    pub fn connect(port: u16) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to fish");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    pub fn handshake(s: &mut TcpStream, info_hash_hex: &str) {
        let mut hs = b"\x13BitTorrent protocol".to_vec();
        hs.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x04]);
        for i in 0..20 {
            hs.push(u8::from_str_radix(&info_hash_hex[2 * i..2 * i + 2], 16).unwrap());
        }
        hs.extend_from_slice(b"-XX0000-hostilepeer!");
        s.write_all(&hs).unwrap();
        let mut answer = [0u8; 68];
        s.read_exact(&mut answer).expect("handshake answer");
        assert_eq!(&answer[28..48], &hs[28..48]);
    }

    pub fn send_extended(s: &mut TcpStream, id: u8, payload: &[u8]) {
        let mut m = ((payload.len() + 2) as u32).to_be_bytes().to_vec();
        m.push(20);
        m.push(id);
        m.extend_from_slice(payload);
        s.write_all(&m).unwrap();
    }

    /// Reads messages until an extended one with `id` arrives; returns
    /// its payload.
    pub fn read_extended(s: &mut TcpStream, id: u8) -> Vec<u8> {
        loop {
            let mut len = [0u8; 4];
            s.read_exact(&mut len).expect("message length");
            let len = u32::from_be_bytes(len) as usize;
            let mut body = vec![0u8; len];
            s.read_exact(&mut body).expect("message body");
            if len >= 2 && body[0] == 20 && body[1] == id {
                return body[2..].to_vec();
            }
        }
    }

    /// True when the peer closed the connection (read gives 0 or an error).
    pub fn closed_by_peer(s: &mut TcpStream) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
                Err(_) => return true,
            }
        }
    }
}

/// This process's soft limit on open files (from /proc).
fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .unwrap_or(1024)
}

#[test]
fn hostile_peers_do_not_stop_good_ones() {
    use fake_hostile_peer::*;
    use std::io::Write;
    let dir = TempDir::new("fish-hostile");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    let torrent = make_torrent(&dir, &load, "h.bin", 3 << 20, &[]);
    let hash = info_hash_of(&torrent);
    let mut fish = Fish::start(
        dir.path(),
        &load,
        &["--no-dht", "--connections-limit", "100"],
    );

    // A flood of silent sockets: thousands, as many as this process may
    // open (the connection limit is 100).
    let flood = open_files_limit().saturating_sub(200).clamp(300, 3000);
    let silent: Vec<TcpStream> = (0..flood).map(|_| connect(fish.port)).collect();

    // A slow sender: the handshake one byte at a time, slower than the
    // handshake deadline (20 s) allows. It is hung up on.
    let trickle_port = fish.port;
    let trickle = std::thread::spawn(move || {
        let mut s = connect(trickle_port);
        let start = std::time::Instant::now();
        for byte in
            b"\x13BitTorrent protocol\0\0\0\0\0\x10\0\x04aaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbb"
        {
            if s.write_all(&[*byte]).is_err() {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(400));
        }
        closed_by_peer(&mut s).then(|| start.elapsed())
    });

    // Garbage instead of a handshake: hung up on.
    let mut garbage = connect(fish.port);
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(
        closed_by_peer(&mut garbage),
        "garbage handshake was not refused"
    );

    // A 4 GB length prefix after a good handshake: hung up on.
    let mut huge = connect(fish.port);
    handshake(&mut huge, &hash);
    huge.write_all(&[0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0])
        .unwrap();
    assert!(closed_by_peer(&mut huge), "4 GB prefix was not refused");

    // Metadata requests: out of range rejected, in range answered.
    let mut asker = connect(fish.port);
    handshake(&mut asker, &hash);
    send_extended(&mut asker, 0, b"d1:md11:ut_metadatai7eee");
    let ext = read_extended(&mut asker, 0);
    assert!(
        String::from_utf8_lossy(&ext).contains("ut_metadata"),
        "{ext:?}"
    );
    send_extended(&mut asker, 3, b"d8:msg_typei0e5:piecei999ee");
    let reject = read_extended(&mut asker, 7);
    assert_eq!(reject, b"d8:msg_typei2e5:piecei999ee");
    send_extended(&mut asker, 3, b"d8:msg_typei0e5:piecei0ee");
    let data = read_extended(&mut asker, 7);
    assert!(
        data.starts_with(b"d8:msg_typei1e5:piecei0e10:total_sizei"),
        "{:?}",
        &data[..40]
    );
    assert!(
        data.ends_with(b"e"),
        "the info dictionary ends the one-piece metadata"
    );

    // A peer that asks for the metadata 20,000 times and reads none of
    // it: we stop reading from it once 256 KiB wait to be sent, so it
    // cannot make us hold its 40 MB of answers.
    let mut hoarder = connect(fish.port);
    handshake(&mut hoarder, &hash);
    send_extended(&mut hoarder, 0, b"d1:md11:ut_metadatai7eee");
    hoarder
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    for _ in 0..20_000 {
        let mut m = 27u32.to_be_bytes().to_vec();
        m.extend_from_slice(&[20, 3]);
        m.extend_from_slice(b"d8:msg_typei0e5:piecei0ee");
        if hoarder.write_all(&m).is_err() {
            break; // our side's buffers are full: fish stopped reading
        }
    }

    // A real client is still served while the flood holds its sockets.
    let report = lt_client::fetch_metadata(&ClientSetup {
        magnet: &format!("magnet:?xt=urn:btih:{hash}"),
        listen_port: free_port(),
        connect: vec![fish.port],
        dht_bootstrap: None,
        timeout_secs: 60,
        save_path: &dir.join("client"),
    });
    assert!(report.has_metadata, "{:?}", report.raw);
    assert_eq!(report.recv_payload_bytes, Some(0));

    assert!(fish.child.try_wait().unwrap().is_none(), "fish died");
    let rss = fish.rss_kib();
    assert!(
        rss < 20 * 1024,
        "RSS {rss} KiB with {flood} hostile sockets and a hoarder"
    );
    let cut = trickle.join().unwrap();
    assert!(
        cut.is_some_and(|t| t < Duration::from_secs(30)),
        "the slow sender was not hung up on by the handshake deadline: {cut:?}"
    );
    drop((silent, hoarder));
    assert!(fish.terminate().success());
}

/// Everything from `[fish]` in the config file, no option on the command
/// line: the port, interface, state directory and report interval it
/// names are the ones used, and a client is served.
#[test]
fn every_option_can_come_from_the_fish_section() {
    let dir = TempDir::new("fish-config");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    let torrent = make_torrent(&dir, &load, "conf.bin", 1 << 20, &[]);
    let hash = info_hash_of(&torrent);
    let port = free_port();
    let state_dir = dir.join("configured-state");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[fish]\nload_path = \"{}\"\nport = {port}\nlisten_interface = \"127.0.0.1\"\ndht = false\nstate_dir = \"{}\"\nreport_interval = \"1s\"\n",
            load.display(),
            state_dir.display()
        ),
    )
    .unwrap();
    let mut fish = Fish::spawn(
        dir.path(),
        &["--config", config.to_str().unwrap(), "fish"],
        port,
        state_dir,
    );

    let report = lt_client::fetch_metadata(&ClientSetup {
        magnet: &format!("magnet:?xt=urn:btih:{hash}"),
        listen_port: free_port(),
        connect: vec![port],
        dht_bootstrap: None,
        timeout_secs: 60,
        save_path: &dir.join("client"),
    });
    assert!(report.has_metadata, "{:?}", report.raw);
    assert_eq!(report.info_hash, hash);
    wait_until(
        "fish.json in the configured state_dir",
        Duration::from_secs(10),
        || fish.state()["swarms"] == 1,
    );
    assert!(fish.terminate().success());
}

#[test]
fn without_a_load_path_anywhere_it_is_a_usage_error() {
    let dir = TempDir::new("fish-noload");
    let out = support::run_lowspace(dir.path(), &["fish", "--no-dht"], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--load-path is needed (or load_path in [fish]"),
        "{err}"
    );
    let bad = support::run_lowspace(
        dir.path(),
        &[
            "fish",
            "--load-path",
            "/",
            "--dht-bootstrap",
            "router.example",
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--dht-bootstrap: expected host:port"));
}

/// `--outgoing-interface 127.0.0.2` (Linux routes 127.0.0.0/8 to
/// loopback): both the HTTP and the UDP tracker see our announces coming
/// from that address, so that is the address they hand out.
#[test]
fn trackers_see_us_at_the_outgoing_interface() {
    let dir = TempDir::new("fish-outgoing");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    let by_http = make_torrent(&dir, &load, "http.bin", 1 << 20, &[]);
    let by_udp = make_torrent(&dir, &load, "udp.bin", 2 << 20, &[]);
    let (http_hash, udp_hash) = (info_hash_of(&by_http), info_hash_of(&by_udp));
    let tracker = Opentracker::start(dir.path(), &[&http_hash, &udp_hash]);
    for (torrent, url) in [
        (&by_http, tracker.http_announce()),
        (&by_udp, tracker.udp_announce()),
    ] {
        let name = torrent.file_stem().unwrap().to_str().unwrap().to_string();
        std::fs::remove_file(torrent).unwrap();
        let size = if name == "http.bin" { 1 << 20 } else { 2 << 20 };
        // The announce URL is outside the info dictionary: same info-hash.
        let remade = make_torrent(&dir, &load, &name, size, &[&url]);
        assert!([&http_hash, &udp_hash].contains(&&info_hash_of(&remade)));
    }
    let port = free_port();
    let state_dir = dir.join("state");
    let port_text = port.to_string();
    let args = [
        "--log-level",
        "debug",
        "fish",
        "--load-path",
        load.to_str().unwrap(),
        "--port",
        &port_text,
        "--outgoing-interface",
        "127.0.0.2",
        "--no-dht",
        "--report-interval",
        "1s",
        "--state-dir",
        state_dir.to_str().unwrap(),
    ];
    let fish = Fish::spawn(dir.path(), &args, port, state_dir.clone());
    wait_until("both announces made", Duration::from_secs(20), || {
        fish.state()["tracker_announces"].as_u64().unwrap_or(0) >= 2
    });
    let ours: std::net::SocketAddr = format!("127.0.0.2:{port}").parse().unwrap();
    for hash in [&http_hash, &udp_hash] {
        let peers = tracker_peers(tracker.port, hash);
        assert!(peers.contains(&ours), "{hash}: {peers:?}");
        assert!(
            !peers
                .iter()
                .any(|p| p.port() == port && p.ip() != ours.ip()),
            "{hash}: announced from another address too: {peers:?}"
        );
    }
}
