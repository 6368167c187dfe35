//! A real rtorrent 0.9.8 started by the test (see TESTBED.md): rc file in a
//! temp dir, SCGI on a Unix socket, stopped by the PID we started (SIGTERM).
//! Callers choose the data directory, listen port and extra rc lines, so the
//! rotate tests can reuse it. Also: making .torrent files with real mktorrent,
//! and info-hashes computed by libtorrent (another client) to check ours.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::Daemon;
use super::{free_port, require_program, wait_until};

#[derive(Default, Clone)]
pub struct RtorrentOptions {
    /// `directory.default.set`; default `<dir>/data`.
    pub data_dir: Option<PathBuf>,
    /// BitTorrent listen port; default a free one.
    pub port: Option<u16>,
    /// Extra rc lines, appended after the defaults.
    pub extra_rc: Vec<String>,
    /// Listen for SCGI on 127.0.0.1:PORT instead of the Unix socket
    /// (rtorrent takes only one SCGI listener).
    pub scgi_tcp_port: Option<u16>,
}

pub struct Rtorrent {
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    pub port: u16,
    pub scgi_tcp_port: Option<u16>,
    daemon: Daemon,
}

impl Rtorrent {
    /// Starts rtorrent with its files under `dir` (session, socket, rc).
    pub fn start(dir: &Path) -> Rtorrent {
        Rtorrent::start_with(dir, RtorrentOptions::default())
    }

    pub fn start_with(dir: &Path, options: RtorrentOptions) -> Rtorrent {
        let bin = require_program("rtorrent");
        let data_dir = options.data_dir.unwrap_or_else(|| dir.join("data"));
        let session = dir.join("session");
        let socket = dir.join("rt.sock");
        std::fs::create_dir_all(&data_dir).expect("create rtorrent data dir");
        std::fs::create_dir_all(&session).expect("create rtorrent session dir");
        let _ = std::fs::remove_file(&socket);
        let port = options.port.unwrap_or_else(free_port);
        let mut rc = format!(
            "directory.default.set = {data}\n\
             session.path.set = {session}\n\
             {scgi}\n\
             network.port_range.set = {port}-{port}\n\
             network.port_random.set = no\n\
             network.local_address.set = 127.0.0.1\n\
             dht.mode.set = disable\n\
             protocol.pex.set = no\n\
             trackers.use_udp.set = no\n\
             encoding.add = UTF-8\n\
             system.daemon.set = true\n",
            data = data_dir.display(),
            session = session.display(),
            scgi = match options.scgi_tcp_port {
                Some(p) => format!("network.scgi.open_port = 127.0.0.1:{p}"),
                None => format!("network.scgi.open_local = {}", socket.display()),
            },
        );
        for line in &options.extra_rc {
            rc.push_str(line);
            rc.push('\n');
        }
        let rc_path = dir.join("rtorrent.rc");
        std::fs::write(&rc_path, rc).expect("write rtorrent.rc");
        let mut cmd = Command::new(bin);
        cmd.arg("-n")
            .arg("-o")
            .arg(format!("import={}", rc_path.display()))
            .current_dir(dir)
            .env("HOME", dir)
            .env("TERM", "dumb");
        let daemon = Daemon::spawn("rtorrent", cmd);
        wait_until(
            "rtorrent's SCGI socket",
            Duration::from_secs(15),
            || match options.scgi_tcp_port {
                Some(p) => std::net::TcpStream::connect(("127.0.0.1", p)).is_ok(),
                None => std::os::unix::net::UnixStream::connect(&socket).is_ok(),
            },
        );
        Rtorrent {
            dir: dir.to_path_buf(),
            data_dir,
            socket,
            port,
            scgi_tcp_port: options.scgi_tcp_port,
            daemon,
        }
    }

    /// `scgi:///abs/path/rt.sock`, or `scgi://127.0.0.1:PORT` over TCP.
    pub fn socket_url(&self) -> String {
        match self.scgi_tcp_port {
            Some(p) => format!("scgi://127.0.0.1:{p}"),
            None => format!("scgi://{}", self.socket.display()),
        }
    }

    pub fn pid(&self) -> u32 {
        self.daemon.id()
    }

    pub fn is_running(&self) -> bool {
        self.daemon.is_running()
    }

    /// SIGTERM to the PID we started (the socket file stays behind, as after
    /// a crash).
    pub fn stop(&mut self) {
        self.daemon.stop();
    }
}

/// Runs real mktorrent on `source` (a file or directory) and returns the
/// .torrent path. A private tracker URL on a closed loopback port keeps
/// rtorrent from announcing anywhere real.
pub fn make_torrent(source: &Path, out: &Path) -> PathBuf {
    let _ = std::fs::remove_file(out);
    let dir = source.parent().expect("source has a parent");
    let name = source
        .file_name()
        .expect("source has a name")
        .to_string_lossy();
    super::mktorrent::make(
        dir,
        &name,
        &out.to_string_lossy(),
        &["-a", "http://127.0.0.1:9/announce", "-l", "15"],
    )
}

/// The info-hash (uppercase hex) as libtorrent computes it.
pub fn libtorrent_info_hash(torrent: &Path) -> String {
    let info = super::libtorrent_info::torrent_info(torrent);
    info["info_hash"]
        .as_str()
        .expect("libtorrent reports an info_hash")
        .to_ascii_uppercase()
}
