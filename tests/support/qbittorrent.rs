//! A real qbittorrent-nox (4.5.2 here) started by the test with its own
//! profile: WebUI and peer port on loopback, no DHT/PeX/LSD, no login from
//! 127.0.0.1 (see TESTBED.md "Other clients"); stopped by PID.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::Daemon;
use super::{free_port, require_program, wait_until};

pub struct Qbittorrent {
    pub download_dir: PathBuf,
    pub webui_port: u16,
    pub peer_port: u16,
    daemon: Daemon,
}

impl Qbittorrent {
    pub fn start(dir: &Path) -> Qbittorrent {
        let bin = require_program("qbittorrent-nox");
        let config = dir.join("qBittorrent").join("config");
        let download_dir = dir.join("dl");
        std::fs::create_dir_all(&config).expect("create qBittorrent config dir");
        std::fs::create_dir_all(&download_dir).expect("create qBittorrent download dir");
        let webui_port = free_port();
        let peer_port = free_port();
        let conf = format!(
            "[LegalNotice]\nAccepted=true\n[Preferences]\nWebUI\\Port={webui_port}\n\
             WebUI\\Address=127.0.0.1\nWebUI\\LocalHostAuth=false\nDownloads\\SavePath={}\n\
             Connection\\PortRangeMin={peer_port}\nConnection\\Interface=lo\n\
             Bittorrent\\DHT=false\nBittorrent\\PeX=false\nBittorrent\\LSD=false\n",
            download_dir.display()
        );
        std::fs::write(config.join("qBittorrent.conf"), conf).expect("write qBittorrent.conf");
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--profile={}", dir.display()))
            .arg(format!("--webui-port={webui_port}"));
        let daemon = Daemon::spawn("qbittorrent-nox", cmd);
        let q = Qbittorrent {
            download_dir,
            webui_port,
            peer_port,
            daemon,
        };
        wait_until("qBittorrent WebUI", Duration::from_secs(20), || {
            q.get("/api/v2/app/webapiVersion").is_some()
        });
        q
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.webui_port)
    }

    /// The body of a GET, if it answered 200.
    pub fn get(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.webui_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.webui_port
        )
        .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200").then(|| body.to_string())
    }

    /// `/api/v2/torrents/info` as JSON.
    pub fn torrents(&self) -> serde_json::Value {
        serde_json::from_str(&self.get("/api/v2/torrents/info").expect("torrents/info"))
            .expect("torrents/info JSON")
    }

    pub fn stop(&mut self) {
        self.daemon.stop();
    }
}
