//! An IPv6-only test tracker (tracker6.py) on [::1]: Debian's opentracker
//! is built IPv4-only. HTTP with compact `peers6` and UDP with BEP 15's
//! IPv6 replies on one port; each announce is logged as a JSON line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::process::Daemon;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tracker6.py");

pub struct Tracker6 {
    pub port: u16,
    log: PathBuf,
    _daemon: Daemon,
}

impl Tracker6 {
    pub fn start(dir: &Path) -> Tracker6 {
        super::require_program("python3");
        let port = super::free_port();
        let log = dir.join(format!("tracker6-{port}.jsonl"));
        std::fs::write(&log, "").unwrap();
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(SCRIPT).arg(port.to_string()).arg(&log);
        let daemon = Daemon::spawn("tracker6", cmd);
        super::wait_until(
            "tracker6 listening on [::1]",
            Duration::from_secs(10),
            || std::net::TcpStream::connect(("::1", port)).is_ok(),
        );
        Tracker6 {
            port,
            log,
            _daemon: daemon,
        }
    }

    pub fn http_announce(&self) -> String {
        format!("http://[::1]:{}/announce", self.port)
    }

    pub fn udp_announce(&self) -> String {
        format!("udp://[::1]:{}/announce", self.port)
    }

    /// Every announce so far.
    pub fn announces(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}
