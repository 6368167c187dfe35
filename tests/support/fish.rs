//! `lowspace fish` as a child process on 127.0.0.1, its log (stderr, debug
//! level) kept in a file so tests can check what it said and why, its
//! state read from fish.json, stopped by PID (SIGTERM, then SIGKILL on
//! drop).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, lowspace_command, wait_until};

pub struct Fish {
    pub child: Child,
    pub port: u16,
    pub state_dir: PathBuf,
    pub log: PathBuf,
}

impl Fish {
    /// Starts fish serving `load_path` with `extra` arguments; returns
    /// once it listens. The log goes to `home/fish-<port>.log`.
    pub fn start(home: &Path, load_path: &Path, extra: &[&str]) -> Fish {
        Fish::start_on(home, load_path, free_port(), extra)
    }

    /// The same on a given port (a DHT test restarts on the same one).
    pub fn start_on(home: &Path, load_path: &Path, port: u16, extra: &[&str]) -> Fish {
        let state_dir = home.join("state");
        let load = load_path.to_str().expect("UTF-8 load path");
        let state = state_dir.to_str().expect("UTF-8 state dir");
        let port_text = port.to_string();
        let mut args = vec![
            "--log-level",
            "debug",
            "fish",
            "--load-path",
            load,
            "--port",
            &port_text,
            "--listen-interface",
            "127.0.0.1",
            "--state-dir",
            state,
            "--report-interval",
            "1s",
        ];
        args.extend_from_slice(extra);
        Fish::spawn(home, &args, port, state_dir.clone())
    }

    /// Runs `lowspace ARGS` (which must make fish listen on `port` and keep
    /// its state in `state_dir`); returns once it listens.
    pub fn spawn(home: &Path, args: &[&str], port: u16, state_dir: PathBuf) -> Fish {
        let log = home.join(format!("fish-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("create fish log");
        let mut cmd = lowspace_command(home, args, &[]);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file));
        let child = cmd.spawn().expect("start lowspace fish");
        let mut fish = Fish {
            child,
            port,
            state_dir,
            log,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = fish.child.try_wait() {
                panic!("fish exited with {status}: {}", fish.log_text());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "fish not listening: {}",
                fish.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        fish
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        wait_until(&format!("fish to log {needle:?}"), timeout, || {
            self.log_text().contains(needle)
        });
    }

    pub fn state(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.state_dir.join("fish.json")).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// Resident memory in KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// SIGTERM, and the exit status within 15 s.
    pub fn terminate(&mut self) -> ExitStatus {
        let _ = std::process::Command::new(super::require_program("kill"))
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "fish ignored SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Fish {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
