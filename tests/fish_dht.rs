//! `lowspace fish`'s DHT node (BEP 5) against real libtorrent DHT nodes on
//! 127.0.0.1: a client with a bare magnet finds us through the DHT, our
//! node id and routing table survive a restart, and our node stores and
//! hands out announces like any DHT node.
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

use support::fish::Fish;
use support::lt_client::{self, ClientSetup};
use support::lt_dht_node::{LtDhtNode, NodeSetup};
use support::tempdir::TempDir;
use support::{free_port, libtorrent_info, mktorrent, run_lowspace, wait_until};

/// `lowspace fish` with its DHT on, on 127.0.0.1:`port` (TCP and UDP),
/// bootstrapping from `bootstrap`.
fn start_fish(home: &Path, load_path: &Path, port: u16, bootstrap: &str) -> Fish {
    start_fish_with(home, load_path, port, bootstrap, &[])
}

fn start_fish_with(
    home: &Path,
    load_path: &Path,
    port: u16,
    bootstrap: &str,
    extra: &[&str],
) -> Fish {
    let mut args = vec!["--dht-bootstrap", bootstrap];
    args.extend_from_slice(extra);
    Fish::start_on(home, load_path, port, &args)
}

/// What the DHT side of fish shows a user.
trait DhtView {
    fn addr(&self) -> String;
    /// What STATE_DIR/dht.json says (Null while absent).
    fn dht_state(&self) -> serde_json::Value;
    /// The node id in dht.json (written as the node starts).
    fn node_id(&self) -> String;
}

impl DhtView for Fish {
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn dht_state(&self) -> serde_json::Value {
        read_json(&self.state_dir.join("dht.json"))
    }

    fn node_id(&self) -> String {
        wait_until("dht.json written", Duration::from_secs(10), || {
            self.dht_state()["id"].is_string()
        });
        self.dht_state()["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// A torrent made by mktorrent (no tracker) in `load_path`; its data is
/// deleted: the metadata peer must not need it.
fn make_torrent(dir: &TempDir, load_path: &Path, name: &str) -> String {
    let data = dir.join(name);
    mktorrent::write_data(&data, 1 << 20, 7);
    let torrent = mktorrent::make(dir.path(), name, &format!("{name}.torrent"), &["-l", "15"]);
    std::fs::remove_file(&data).unwrap();
    let dest = load_path.join(format!("{name}.torrent"));
    std::fs::rename(&torrent, &dest).unwrap();
    libtorrent_info::torrent_info(&dest)["info_hash"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A loopback port nothing answers on: a bootstrap node that is not there.
fn dead_node() -> String {
    format!("127.0.0.1:{}", free_port())
}

#[test]
fn a_client_with_a_bare_magnet_finds_us_through_the_dht_and_gets_the_metadata() {
    let dir = TempDir::new("fish-dht-magnet");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    let hash = make_torrent(&dir, &load, "dht.bin");
    let hub = LtDhtNode::start(dir.path(), "hub", &NodeSetup::default());
    let fish = start_fish(dir.path(), &load, free_port(), &hub.addr());

    // Our first announce comes as soon as we have a node, not after the
    // re-announce interval.
    wait_until(
        "the libtorrent node accepted our announce_peer",
        Duration::from_secs(30),
        || hub.saw_announce(&hash, &fish.addr()),
    );
    let report = lt_client::fetch_metadata(&ClientSetup {
        magnet: &format!("magnet:?xt=urn:btih:{hash}"),
        listen_port: free_port(),
        connect: vec![],
        dht_bootstrap: Some(hub.addr()),
        timeout_secs: 40,
        save_path: &dir.join("client"),
    });
    assert!(report.has_metadata, "no metadata: {:?}", report.raw);
    assert_eq!(report.info_hash, hash);
    assert_eq!(report.name, "dht.bin");
    assert_eq!(
        report.recv_payload_bytes,
        Some(0),
        "piece data moved: {:?}",
        report.raw
    );
    assert!(fish.state()["dht_nodes"].as_u64().unwrap_or(0) >= 1);
}

#[test]
fn the_node_id_and_the_nodes_survive_a_restart() {
    let dir = TempDir::new("fish-dht-restart");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    let hub = LtDhtNode::start(dir.path(), "hub", &NodeSetup::default());
    let port = free_port();

    let mut first = start_fish(dir.path(), &load, port, &hub.addr());
    let id = first.node_id();
    wait_until(
        "the libtorrent node has our node in its routing table",
        Duration::from_secs(40),
        || hub.knows(&id, &first.addr()),
    );
    assert!(first.terminate().success());
    let saved = first.dht_state();
    assert_eq!(saved["id"], id.as_str());
    assert!(
        saved["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["addr"] == hub.addr().as_str()),
        "the hub is not among the saved nodes: {saved}"
    );
    drop(first);

    // No working bootstrap node this time: only what we saved.
    let second = start_fish(dir.path(), &load, port, &dead_node());
    assert_eq!(second.node_id(), id, "a new node id after a restart");
    wait_until(
        "fish reports a DHT node without any bootstrap",
        Duration::from_secs(30),
        || second.state()["dht_nodes"].as_u64().unwrap_or(0) >= 1,
    );
    assert!(hub.knows(&id, &second.addr()));
}

#[test]
fn our_node_stores_an_announce_and_hands_it_to_another_node() {
    let dir = TempDir::new("fish-dht-store");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    let fish = start_fish(dir.path(), &load, free_port(), &dead_node());
    // A swarm fish does not serve: only announces can tell anyone about it.
    let hash = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
    let announcer = LtDhtNode::start(
        dir.path(),
        "announcer",
        &NodeSetup {
            bootstrap: Some(fish.addr()),
            announce: &[hash],
            ..NodeSetup::default()
        },
    );
    // It announces (get_peers to us for a token, then announce_peer); its
    // next announce finds a peer: itself, from our store, as we are the
    // only node it knows (libtorrent never puts its bootstrap node in its
    // table, so it does not learn others through us before this).
    wait_until(
        "the announcer's DHT announce finds a peer",
        Duration::from_secs(30),
        || announcer.dht_replies() >= 1,
    );
    let announced = announcer.addr();
    drop(announcer);
    // The announcer is gone and never met the seeker: the peer the seeker
    // finds can only come from our store.
    let seeker = LtDhtNode::start(
        dir.path(),
        "seeker",
        &NodeSetup {
            bootstrap: Some(fish.addr()),
            get_peers: &[hash],
            ..NodeSetup::default()
        },
    );
    wait_until(
        "the seeking libtorrent node finds the announced peer",
        Duration::from_secs(40),
        || seeker.peers_found(hash).contains(&announced),
    );
}

#[test]
fn a_bootstrap_node_that_is_not_host_port_is_a_usage_error() {
    let dir = TempDir::new("fish-dht-usage");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    let load = load.to_str().unwrap();
    for bad in ["router.example.net", "host:notaport", ":6881", "a:0"] {
        let out = run_lowspace(
            dir.path(),
            &[
                "fish",
                "--load-path",
                load,
                "--port",
                "0",
                "--dht-bootstrap",
                bad,
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--dht-bootstrap"), "{bad}: {stderr}");
    }
}

#[test]
fn a_dht_rate_or_interval_out_of_range_is_a_usage_error() {
    let dir = TempDir::new("fish-dht-rate-usage");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    let load = load.to_str().unwrap();
    for (flag, bad, says) in [
        (
            "--dht-rate",
            "0",
            "--dht-rate: expected 1 to 10000 queries a second",
        ),
        ("--dht-rate", "10001", "--dht-rate: expected 1 to 10000"),
        (
            "--dht-announce-interval",
            "0s",
            "--dht-announce-interval: must be more than zero",
        ),
        ("--dht-announce-interval", "soon", "--dht-announce-interval"),
    ] {
        let out = run_lowspace(
            dir.path(),
            &["fish", "--load-path", load, "--port", "0", flag, bad],
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{flag} {bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{flag} {bad}: {stderr}");
    }
}

/// Magnet adoption with no tracker at all: the only way to the seeder is
/// the DHT. A libtorrent node holds the torrent (no data) and announces
/// it; fish, given only the bare magnet, finds it, fetches and checks the
/// metadata, writes the .torrent and serves it from then on.
#[test]
fn a_bare_magnet_is_adopted_through_the_dht() {
    let dir = TempDir::new("fish-dht-adopt");
    let load = dir.join("load");
    let elsewhere = dir.join("seeder-torrents");
    std::fs::create_dir_all(&load).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let hash = make_torrent(&dir, &elsewhere, "far.bin");
    let seeded = elsewhere.join("far.bin.torrent");
    let hub = LtDhtNode::start(dir.path(), "hub", &NodeSetup::default());
    let seeder = LtDhtNode::start(
        dir.path(),
        "seeder",
        &NodeSetup {
            bootstrap: Some(hub.addr()),
            torrents: &[&seeded],
            ..NodeSetup::default()
        },
    );
    wait_until(
        "the seeder announced the torrent to the hub",
        Duration::from_secs(30),
        || hub.saw_announce(&hash, &seeder.addr()),
    );
    let magnets = dir.join("magnets.txt");
    std::fs::write(&magnets, format!("magnet:?xt=urn:btih:{hash}\n")).unwrap();
    let fish = start_fish_with(
        dir.path(),
        &load,
        free_port(),
        &hub.addr(),
        &["--magnets", magnets.to_str().unwrap()],
    );
    let adopted = load.join("far.bin.torrent");
    wait_until("the adopted .torrent", Duration::from_secs(60), || {
        adopted.exists()
    });
    assert_eq!(
        libtorrent_info::torrent_info(&adopted)["info_hash"],
        hash.as_str(),
        "libtorrent computes another info-hash from what we wrote"
    );
    assert_eq!(libtorrent_info::torrent_info(&adopted)["name"], "far.bin");
    wait_until("fish serves it", Duration::from_secs(10), || {
        fish.state()["swarms"] == 1 && fish.state()["magnets_adopted"] == 1
    });
    assert!(
        fish.log_text().contains("fetched metadata of"),
        "{}",
        fish.log_text()
    );
}

/// A counter of fish.json (read again if caught while being rewritten).
fn counter_of(fish: &Fish, name: &str) -> u64 {
    let mut state = fish.state();
    for _ in 0..50 {
        if !state.is_null() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        state = fish.state();
    }
    state[name].as_u64().unwrap_or(0)
}

/// Sums a counter over the fish.json of several fish.
fn total(fishes: &[Fish], counter: &str) -> u64 {
    fishes.iter().map(|f| counter_of(f, counter)).sum()
}

/// A local DHT of nine fish nodes; a tenth fish announces four torrents
/// every 10 s. The first announce of each is a full lookup (most of the
/// nine are asked get_peers); the next ones go to the three nodes cached
/// as closest, as the counters of the nodes that receive them show.
#[test]
fn re_announces_ask_only_the_cached_closest_nodes() {
    let dir = TempDir::new("fish-dht-cache");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let hub_home = dir.join("hub");
    std::fs::create_dir_all(&hub_home).unwrap();
    let hub = start_fish(&hub_home, &empty, free_port(), &dead_node());
    let mut swarm = vec![];
    for i in 0..8 {
        let home = dir.join(format!("node{i}"));
        std::fs::create_dir_all(&home).unwrap();
        swarm.push(start_fish(&home, &empty, free_port(), &hub.addr()));
    }
    swarm.push(hub);
    wait_until(
        "the hub knows the other eight nodes",
        Duration::from_secs(30),
        || swarm[8].state()["dht_nodes"].as_u64().unwrap_or(0) >= 8,
    );

    let home = dir.join("announcer");
    let load = home.join("load");
    std::fs::create_dir_all(&load).unwrap();
    for name in ["a.bin", "b.bin", "c.bin", "d.bin"] {
        make_torrent(&dir, &load, name);
    }
    let announcer = start_fish_with(
        &home,
        &load,
        free_port(),
        &swarm[8].addr(),
        &["--dht-announce-interval", "10s"],
    );
    let counter = |name: &str| counter_of(&announcer, name);
    wait_until(
        "four announces after full lookups",
        Duration::from_secs(30),
        || counter("dht_announces_full") >= 4,
    );
    // The nodes' fish.json are rewritten every second.
    std::thread::sleep(Duration::from_secs(2));
    let full = total(&swarm, "dht_get_peers_received");
    wait_until(
        "four re-announces from cached nodes",
        Duration::from_secs(40),
        || counter("dht_announces_cached") >= 4,
    );
    std::thread::sleep(Duration::from_secs(2));
    let cached = total(&swarm, "dht_get_peers_received") - full;
    let log = announcer.log_text();
    eprintln!(
        "get_peers the nine nodes received: {full} for 4 full lookups, {cached} for 4 re-announces"
    );
    assert!(
        full >= 4 * 6,
        "full lookups asked only {full} get_peers of the nine nodes: {log}"
    );
    assert!(
        (4 * 3..=4 * 4).contains(&cached),
        "re-announces asked {cached} get_peers (full lookups: {full}), not 3 per torrent: {log}"
    );
    assert_eq!(counter("dht_announces_full"), 4, "{log}");
    assert!(log.contains("from cached nodes"), "{log}");
    assert!(
        log.contains("DHT announce cycle") && log.contains("at 50 queries/s"),
        "{log}"
    );
}

/// With too low a rate for the swarms held, the report line says the
/// announce cycle is longer than the interval, and a warning says what
/// to do. Rate and interval come from [fish] in the config file.
#[test]
fn a_cycle_longer_than_the_announce_interval_is_reported() {
    let dir = TempDir::new("fish-dht-slow");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    make_torrent(&dir, &load, "slow.bin");
    let config = dir.join(".config/lowspace/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "[fish]\ndht_rate = 1\ndht_announce_interval = \"15s\"\n",
    )
    .unwrap();
    let fish = start_fish(dir.path(), &load, free_port(), &dead_node());
    fish.wait_for_log(
        "(longer than the 15s announce interval: raise --dht-rate)",
        Duration::from_secs(20),
    );
    fish.wait_for_log("raise --dht-rate", Duration::from_secs(5));
    assert!(fish.log_text().contains("at 1 queries/s"));
    // The report line is printed before fish.json is rewritten.
    wait_until("fish.json says the rate", Duration::from_secs(5), || {
        fish.state()["dht_rate"] == 1 && fish.state()["dht_interval_secs"] == 15
    });
}

/// BEP 32: fish on `::` runs an IPv4 and an IPv6 DHT node. A libtorrent
/// client on ::1 that knows only a magnet, and only an IPv6 DHT node
/// (no tracker, no IPv4), finds fish through the IPv6 DHT and gets the
/// metadata from it, no piece data.
#[test]
fn an_ipv6_client_finds_us_through_the_ipv6_dht() {
    let dir = TempDir::new("fish-dht-ipv6");
    let load = dir.join("load");
    std::fs::create_dir_all(&load).unwrap();
    let hash = make_torrent(&dir, &load, "six.bin");
    let hub = LtDhtNode::start(
        dir.path(),
        "hub6",
        &NodeSetup {
            ip: Some("::1"),
            ..NodeSetup::default()
        },
    );
    let port = free_port();
    let port_text = port.to_string();
    let state_dir = dir.join("state");
    let hub_addr = hub.addr();
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
            "--dht-bootstrap",
            &hub_addr,
        ],
        port,
        state_dir.clone(),
    );
    let ours = format!("[::1]:{port}");
    wait_until(
        "the IPv6 libtorrent node accepted our announce_peer",
        Duration::from_secs(30),
        || hub.saw_announce(&hash, &ours),
    );
    assert!(
        read_json(&state_dir.join("dht6.json"))["id"].is_string(),
        "no IPv6 node state"
    );
    let report = lt_client::fetch_metadata_on(
        &ClientSetup {
            magnet: &format!("magnet:?xt=urn:btih:{hash}"),
            listen_port: free_port(),
            connect: vec![],
            dht_bootstrap: Some(hub.addr()),
            timeout_secs: 40,
            save_path: &dir.join("client"),
        },
        "::1",
    );
    assert!(
        report.has_metadata,
        "no metadata: {:?} {}",
        report.raw,
        fish.log_text()
    );
    assert_eq!(report.info_hash, hash);
    assert_eq!(report.name, "six.bin");
    assert_eq!(
        report.recv_payload_bytes,
        Some(0),
        "piece data moved: {:?}",
        report.raw
    );
    wait_until(
        "fish counts the pieces it served",
        Duration::from_secs(5),
        || fish.state()["metadata_pieces_served"].as_u64().unwrap_or(0) >= 1,
    );
}
