//! A bare libtorrent DHT node on 127.0.0.1 (lt_dht_node.py): the "third
//! node" loopback DHT tests need (libtorrent never puts its bootstrap node
//! in its routing table, and answers get_peers only from announces it
//! stored), and a libtorrent node that announces or looks up on command.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::process::Daemon;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/lt_dht_node.py");

pub struct LtDhtNode {
    pub port: u16,
    /// The address it listens on (127.0.0.1 unless told).
    pub ip: String,
    status: PathBuf,
    _daemon: Daemon,
}

/// What the node does besides answering.
#[derive(Default)]
pub struct NodeSetup<'a> {
    /// The address to listen on: "::1" for an IPv6 node (default 127.0.0.1).
    pub ip: Option<&'a str>,
    /// "127.0.0.1:PORT" of the node(s) it joins through.
    pub bootstrap: Option<String>,
    /// Info-hashes (hex) it announces, at its own port, every few seconds.
    pub announce: &'a [&'a str],
    /// Info-hashes (hex) it looks up every few seconds.
    pub get_peers: &'a [&'a str],
    /// .torrent files it holds (without data), announces and serves the
    /// metadata of.
    pub torrents: &'a [&'a Path],
}

impl LtDhtNode {
    pub fn start(dir: &Path, name: &str, setup: &NodeSetup) -> LtDhtNode {
        super::require_program("python3");
        let port = super::free_port();
        let status = dir.join(format!("{name}.json"));
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(SCRIPT)
            .args(["--port", &port.to_string()])
            .arg("--status")
            .arg(&status)
            .arg("--save")
            .arg(dir.join(format!("{name}-data")));
        let ip = setup.ip.unwrap_or("127.0.0.1").to_string();
        cmd.args(["--ip", &ip]);
        if let Some(b) = &setup.bootstrap {
            cmd.args(["--bootstrap", b]);
        }
        for hash in setup.announce {
            cmd.args(["--announce", hash]);
        }
        for hash in setup.get_peers {
            cmd.args(["--get-peers", hash]);
        }
        for torrent in setup.torrents {
            cmd.arg("--torrent").arg(torrent);
        }
        let daemon = Daemon::spawn(name, cmd);
        let node = LtDhtNode {
            port,
            ip,
            status,
            _daemon: daemon,
        };
        super::wait_until(
            &format!("libtorrent DHT node {name} up"),
            std::time::Duration::from_secs(20),
            || node.status()["node_id"].is_string(),
        );
        node
    }

    /// ip:port, an IPv6 address in brackets.
    pub fn addr(&self) -> String {
        std::net::SocketAddr::new(self.ip.parse().expect("an IP address"), self.port).to_string()
    }

    /// Its last status (Null until the first one is written).
    pub fn status(&self) -> Value {
        std::fs::read_to_string(&self.status)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }

    /// True when its routing table holds a node with this id at this address.
    pub fn knows(&self, id: &str, addr: &str) -> bool {
        self.status()["live_nodes"]
            .as_array()
            .is_some_and(|nodes| nodes.iter().any(|n| n["id"] == id && n["addr"] == addr))
    }

    /// True when it accepted an announce_peer of `info_hash` from `addr`.
    pub fn saw_announce(&self, info_hash: &str, addr: &str) -> bool {
        self.status()["announces"].as_array().is_some_and(|seen| {
            seen.iter()
                .any(|a| a["info_hash"] == info_hash && a["addr"] == addr)
        })
    }

    /// How many of its torrents' DHT announces found peers.
    pub fn dht_replies(&self) -> u64 {
        self.status()["dht_replies"].as_u64().unwrap_or(0)
    }

    /// Peers its own lookups found for `info_hash`.
    pub fn peers_found(&self, info_hash: &str) -> Vec<String> {
        self.status()["peers"][info_hash]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}
