//! A real libtorrent client (python3-libtorrent under /usr/bin/python3)
//! that starts from a magnet link only: what must get the metadata from
//! our metadata peer, and nothing else. The script is lt_client.py.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/lt_client.py");

/// How the client is started.
pub struct ClientSetup<'a> {
    pub magnet: &'a str,
    pub listen_port: u16,
    /// Ports on 127.0.0.1 it dials itself (handle.connect_peer).
    pub connect: Vec<u16>,
    /// "127.0.0.1:PORT" of the DHT node it bootstraps from; None: no DHT.
    pub dht_bootstrap: Option<String>,
    pub timeout_secs: u64,
    pub save_path: &'a Path,
}

/// What the client reported.
#[derive(Debug)]
pub struct ClientReport {
    pub has_metadata: bool,
    pub info_hash: String,
    pub name: String,
    pub recv_payload_bytes: Option<u64>,
    pub raw: Value,
}

/// Runs the client until it has the metadata or times out.
pub fn fetch_metadata(setup: &ClientSetup) -> ClientReport {
    fetch_metadata_on(setup, "127.0.0.1")
}

/// The same with the client listening on `listen_ip` ("::1": an IPv6-only
/// client, its DHT node on IPv6 too).
pub fn fetch_metadata_on(setup: &ClientSetup, listen_ip: &str) -> ClientReport {
    fetch_metadata_with(setup, listen_ip, json!({}))
}

/// The same with more lt_client.py keys (`extra`, a JSON object: e.g.
/// "info_out" to keep the info dictionary's bytes as received).
pub fn fetch_metadata_with(setup: &ClientSetup, listen_ip: &str, extra: Value) -> ClientReport {
    super::require_program("python3");
    let mut config = json!({
        "magnet": setup.magnet,
        "listen_ip": listen_ip,
        "listen_port": setup.listen_port,
        "connect": setup.connect,
        "dht_bootstrap": setup.dht_bootstrap,
        "timeout": setup.timeout_secs,
        "save_path": setup.save_path,
    });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    let out = Command::new("/usr/bin/python3")
        .arg(SCRIPT)
        .arg(config.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run /usr/bin/python3");
    assert!(
        out.status.success(),
        "libtorrent client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let raw: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    ClientReport {
        has_metadata: raw["has_metadata"].as_bool().unwrap_or(false),
        info_hash: raw["info_hash"].as_str().unwrap_or_default().to_string(),
        name: raw["name"].as_str().unwrap_or_default().to_string(),
        recv_payload_bytes: raw["recv_payload_bytes"].as_u64(),
        raw,
    }
}
