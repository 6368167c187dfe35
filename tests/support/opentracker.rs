//! opentracker (Debian's build: whitelist mode) on 127.0.0.1, HTTP and UDP
//! on the same port number. It wants an absolute, world-readable
//! whitelist of upper-case hex info-hashes, and hands each announcer its
//! own address back.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::process::Daemon;

pub struct Opentracker {
    pub daemon: Daemon,
    pub port: u16,
}

impl Opentracker {
    /// Starts opentracker allowing `info_hashes` (hex, any case); the
    /// whitelist is written in `dir`.
    pub fn start(dir: &Path, info_hashes: &[&str]) -> Opentracker {
        let port = super::free_port();
        Opentracker::start_on(dir, info_hashes, port, port)
    }

    /// The same with HTTP on `port` and UDP on `udp_port` (one swarm
    /// table behind both); `port` is the one [`Opentracker::port`] names.
    pub fn start_on(dir: &Path, info_hashes: &[&str], port: u16, udp_port: u16) -> Opentracker {
        let program = super::require_program("opentracker");
        let whitelist = dir.join("whitelist");
        let text: String = info_hashes
            .iter()
            .map(|h| format!("{}\n", h.to_ascii_uppercase()))
            .collect();
        std::fs::write(&whitelist, text).expect("write whitelist");
        // opentracker drops to `nobody`: the file and every directory above
        // it must be readable by others.
        std::fs::set_permissions(&whitelist, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut parent = Some(dir);
        while let Some(p) = parent {
            if let Ok(meta) = std::fs::metadata(p) {
                let mode = meta.permissions().mode();
                if mode & 0o005 != 0o005 {
                    let _ =
                        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode | 0o005));
                }
            }
            parent = p.parent();
        }
        let mut cmd = Command::new(program);
        cmd.current_dir("/")
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-P",
                &udp_port.to_string(),
            ])
            .arg("-w")
            .arg(&whitelist);
        let daemon = Daemon::spawn("opentracker", cmd);
        super::wait_until("opentracker listening", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Opentracker { daemon, port }
    }

    pub fn http_announce(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    pub fn udp_announce(&self) -> String {
        format!("udp://127.0.0.1:{}/announce", self.port)
    }
}

/// The peers opentracker lists for `hash_hex`, from an HTTP announce made
/// by hand (a raw HTTP/1.0 GET; compact IPv4 peer list), as another client
/// would see them.
pub fn tracker_peers(tracker_port: u16, hash_hex: &str) -> Vec<std::net::SocketAddr> {
    let mut hash = String::new();
    for i in 0..20 {
        hash.push_str(&format!("%{}", &hash_hex[2 * i..2 * i + 2]));
    }
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", tracker_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /announce?info_hash={hash}&peer_id=-TT0000-lookinghere!&port=9&uploaded=0&downloaded=0&left=1&compact=1&numwant=50 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let at = reply
        .windows(7)
        .position(|w| w == b"5:peers")
        .unwrap_or_else(|| panic!("no peers in {:?}", String::from_utf8_lossy(&reply)))
        + 7;
    let colon = at + reply[at..].iter().position(|b| *b == b':').unwrap();
    let len: usize = std::str::from_utf8(&reply[at..colon])
        .unwrap()
        .parse()
        .unwrap();
    reply[colon + 1..colon + 1 + len]
        .chunks(6)
        .map(|p| {
            std::net::SocketAddr::from(([p[0], p[1], p[2], p[3]], u16::from_be_bytes([p[4], p[5]])))
        })
        .collect()
}
