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
