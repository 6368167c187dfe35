//! A real deluged + deluge-web (2.0.3 here) started by the test on one
//! config directory, so deluge-web's default host entry (127.0.0.1:58846,
//! the localclient account) reaches the daemon; both with `-L none` (2.0.3
//! logging breaks on Python 3.11, see TESTBED.md "Other clients"). The
//! daemon's RPC port is that fixed 58846: deluge-web's host list names it,
//! so the tests of one binary take turns (a lock held while it runs).
//! Stopped by PID.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use lowspace::client::deluge::{Client, DelugeOptions};
use lowspace::client::{ClientState, TorrentClient};
use serde_json::json;

use super::process::Daemon;
use super::{free_port, require_program, wait_until};

pub const DAEMON_PORT: u16 = 58846;

static DAEMON_PORT_LOCK: Mutex<()> = Mutex::new(());

pub struct Deluge {
    pub download_dir: PathBuf,
    pub web_port: u16,
    pub peer_port: u16,
    web: Daemon,
    daemon: Daemon,
    // Last: released after both are stopped.
    _turn: MutexGuard<'static, ()>,
}

impl Deluge {
    pub fn start(dir: &Path) -> Deluge {
        let deluged = require_program("deluged");
        let deluge_web = require_program("deluge-web");
        let turn = DAEMON_PORT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let config = dir.join("config");
        let download_dir = dir.join("dl");
        std::fs::create_dir_all(&config).expect("create Deluge config dir");
        std::fs::create_dir_all(&download_dir).expect("create Deluge download dir");
        assert!(
            TcpListener::bind(("127.0.0.1", DAEMON_PORT)).is_ok(),
            "port {DAEMON_PORT} (deluged's, named by deluge-web's default host) is taken"
        );
        let web_port = free_port();
        let peer_port = free_port();
        let mut cmd = Command::new(deluged);
        cmd.arg("-c")
            .arg(&config)
            .args(["-p", &DAEMON_PORT.to_string()])
            .args(["-i", "127.0.0.1", "-u", "127.0.0.1", "-d", "-L", "none"]);
        let daemon = Daemon::spawn("deluged", cmd);
        wait_until("deluged", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", DAEMON_PORT)).is_ok()
        });
        let mut cmd = Command::new(deluge_web);
        cmd.arg("-c")
            .arg(&config)
            .args(["-p", &web_port.to_string()])
            .args(["-i", "127.0.0.1", "-d", "-L", "none"]);
        let web = Daemon::spawn("deluge-web", cmd);
        let d = Deluge {
            download_dir,
            web_port,
            peer_port,
            web,
            daemon,
            _turn: turn,
        };
        let client = d.client();
        wait_until(
            "deluge-web connected to deluged",
            Duration::from_secs(30),
            || {
                client
                    .call_method("core.get_config_value", json!(["download_location"]))
                    .is_ok()
            },
        );
        client
            .call_method(
                "core.set_config",
                json!([{
                    "listen_ports": [peer_port, peer_port],
                    "random_port": false,
                    "download_location": d.download_dir,
                    "dht": false, "upnp": false, "natpmp": false, "lsd": false,
                    "new_release_check": false,
                }]),
            )
            .expect("core.set_config");
        d
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.web_port)
    }

    pub fn client(&self) -> Client {
        Client::new(DelugeOptions {
            url: self.url(),
            password: "deluge".into(),
        })
        .expect("Deluge client")
    }

    pub fn state(&self) -> ClientState {
        self.client().state().expect("Deluge state")
    }

    pub fn stop(&mut self) {
        self.web.stop();
        self.daemon.stop();
    }
}
