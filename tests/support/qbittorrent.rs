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
        // Read up to the end of the body its Content-Length gives: the
        // WebUI may keep the connection open despite `Connection: close`.
        let mut bytes = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = s.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&bytes);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_string())
                    })
                    .and_then(|v| v.parse::<usize>().ok());
                if length.is_some_and(|len| body.len() >= len) {
                    break;
                }
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200").then(|| body.to_string())
    }

    /// The status line of a form POST (no login: LocalHostAuth is off
    /// until [`Qbittorrent::require_password`]).
    pub fn post_form(&self, path: &str, form: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.webui_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            self.webui_port,
            form.len()
        )
        .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        text.lines().next().map(str::to_string)
    }

    /// Sets the WebUI's user name and password through qBittorrent's own
    /// preferences call (it hashes the password itself) and turns the
    /// localhost bypass off, so every request from here on needs a login.
    pub fn require_password(&self, username: &str, password: &str) {
        let json = serde_json::json!({
            "web_ui_username": username,
            "web_ui_password": password,
            "bypass_local_auth": false,
        })
        .to_string();
        let form: String = format!("json={}", percent_encode(&json));
        let status = self.post_form("/api/v2/app/setPreferences", &form);
        assert!(
            status.as_deref().is_some_and(|s| s.contains(" 200")),
            "setPreferences answered {status:?}"
        );
        wait_until(
            "the WebUI asking for a login",
            Duration::from_secs(10),
            || self.get("/api/v2/app/version").is_none(),
        );
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

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
