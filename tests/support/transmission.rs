//! A real transmission-daemon (3.00) started by the test: its own config
//! dir and settings.json, RPC on 127.0.0.1 with basic auth, peer port on
//! 127.0.0.1, no DHT/LPD/PEX/uTP/port mapping; stopped by PID. State is
//! checked with transmission-remote, Transmission's own client.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::Daemon;
use super::{free_port, require_program, wait_until};

pub const USER: &str = "follower";
pub const PASSWORD: &str = "rpc-secret";

pub struct Transmission {
    pub dir: PathBuf,
    pub download_dir: PathBuf,
    pub rpc_port: u16,
    pub peer_port: u16,
    daemon: Daemon,
}

impl Transmission {
    pub fn start(dir: &Path) -> Transmission {
        let bin = require_program("transmission-daemon");
        let config = dir.join("config");
        let download_dir = dir.join("data");
        std::fs::create_dir_all(&config).expect("create transmission config dir");
        std::fs::create_dir_all(&download_dir).expect("create transmission data dir");
        let rpc_port = free_port();
        let peer_port = free_port();
        let settings = serde_json::json!({
            "rpc-enabled": true,
            "rpc-bind-address": "127.0.0.1",
            "rpc-port": rpc_port,
            "rpc-authentication-required": true,
            "rpc-username": USER,
            "rpc-password": PASSWORD,
            "rpc-whitelist-enabled": true,
            "rpc-whitelist": "127.0.0.1",
            "rpc-host-whitelist-enabled": false,
            "bind-address-ipv4": "127.0.0.1",
            "bind-address-ipv6": "::1",
            "peer-port": peer_port,
            "peer-port-random-on-start": false,
            "port-forwarding-enabled": false,
            "dht-enabled": false,
            "lpd-enabled": false,
            "pex-enabled": false,
            "utp-enabled": false,
            "download-dir": download_dir,
            "incomplete-dir-enabled": false,
            "watch-dir-enabled": false,
            "start-added-torrents": true,
            "ratio-limit-enabled": false,
            "speed-limit-down-enabled": false,
            "speed-limit-up-enabled": false,
            "blocklist-enabled": false,
            "message-level": 2
        });
        std::fs::write(config.join("settings.json"), settings.to_string())
            .expect("write settings.json");
        let mut cmd = Command::new(bin);
        cmd.arg("-f").arg("-g").arg(&config);
        let daemon = Daemon::spawn("transmission-daemon", cmd);
        let t = Transmission {
            dir: dir.to_path_buf(),
            download_dir,
            rpc_port,
            peer_port,
            daemon,
        };
        wait_until("transmission RPC", Duration::from_secs(20), || {
            t.remote(&["-l"]).status.success()
        });
        t
    }

    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}/transmission/rpc", self.rpc_port)
    }

    /// Runs transmission-remote against this daemon with the credentials.
    pub fn remote(&self, args: &[&str]) -> std::process::Output {
        Command::new(require_program("transmission-remote"))
            .arg(format!("127.0.0.1:{}", self.rpc_port))
            .arg("-n")
            .arg(format!("{USER}:{PASSWORD}"))
            .args(args)
            .output()
            .expect("run transmission-remote")
    }

    /// Names of the torrents Transmission lists (`transmission-remote -l`).
    pub fn names(&self) -> Vec<String> {
        let out = self.remote(&["-l"]);
        assert!(out.status.success(), "transmission-remote -l failed");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // Columns: ID Done Have ETA Up Down Ratio Status Name; the header
        // gives where Name starts.
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        let at = header.find("Name").unwrap_or(header.len());
        lines
            .filter(|l| !l.starts_with("Sum:"))
            .filter_map(|l| l.get(at..).map(|n| n.trim().to_string()))
            .filter(|n| !n.is_empty())
            .collect()
    }

    pub fn stop(&mut self) {
        self.daemon.stop();
    }
}
