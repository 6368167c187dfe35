//! Shared fixtures for integration tests: temporary directories, real child
//! processes stopped by PID, free loopback ports, and the lowspace binary.
//! Each real part (rtorrent, sshd, nginx, ...) gets its own file here so
//! every test starts it the same way.
#![allow(dead_code)]

pub mod client_rotation;
pub mod deluge;
pub mod disk;
pub mod files;
pub mod fish;
pub mod libtorrent;
pub mod libtorrent_info;
pub mod lt_client;
pub mod lt_dht_node;
pub mod mktorrent;
pub mod neighbours;
pub mod nginx;
pub mod opentracker;
pub mod process;
pub mod qbittorrent;
pub mod rtorrent;
pub mod seeder;
pub mod sshd;
pub mod tempdir;
pub mod tmpfs;
pub mod tracker6;
pub mod transmission;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The lowspace binary cargo built for this test run.
pub fn lowspace_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lowspace"))
}

/// The lowspace command with a clean environment (no user config, LANG=C)
/// plus `envs`, for tests that start it as a child (to signal it).
pub fn lowspace_command(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(lowspace_bin());
    cmd.args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

/// Runs lowspace with a clean environment (no user config, LANG=C) plus
/// `envs`, and returns what it printed and its exit code.
pub fn run_lowspace(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    lowspace_command(home, args, envs)
        .output()
        .expect("run lowspace binary")
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .unwrap()
        .port()
}

/// The programs tests may start, with the Debian package of each
/// (`tests/programs.txt`, which scripts/test installs from).
const PROGRAMS: &str = include_str!("../programs.txt");

/// The Debian package that provides `program`, if the manifest lists it.
pub fn package_of(program: &str) -> Option<&'static str> {
    PROGRAMS
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").split_whitespace())
        .filter_map(|mut words| Some((words.next()?, words.next()?)))
        .find(|(name, _)| *name == program)
        .map(|(_, package)| package)
}

/// Fails the test loudly when a real part the test needs is missing:
/// scripts/test installs them, so a missing one is a broken setup, not a skip.
/// A program that tests/programs.txt does not list fails even when it is
/// installed here: CI on a fresh machine would not have it.
pub fn require_program(name: &str) -> PathBuf {
    let Some(package) = package_of(name) else {
        panic!(
            "{name} is not in tests/programs.txt: add it with its Debian package, so scripts/test installs it on a fresh machine"
        );
    };
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!("{name} is not installed (Debian package {package}): run scripts/test, it installs every part the tests need");
}

/// Waits until `check` is true, polling every 50 ms, or panics with `what`.
pub fn wait_until(what: &str, timeout: std::time::Duration, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
