//! A libtorrent seeder (lt_seed.py under /usr/bin/python3) that seeds the
//! given torrents and keeps dialling one leecher's port, which is what
//! makes loopback swarms reliable (TESTBED.md). Stopped by PID on drop.

use std::path::Path;
use std::process::Command;

use super::process::Daemon;
use super::{free_port, require_program};

const SCRIPT: &str = include_str!("lt_seed.py");

pub struct LtSeeder {
    _daemon: Daemon,
}

impl LtSeeder {
    /// Seeds each (torrent, directory holding its data) and dials
    /// 127.0.0.1:`leecher_port`. The script is written into `dir`.
    pub fn start(dir: &Path, leecher_port: u16, torrents: &[(&Path, &Path)]) -> LtSeeder {
        let python = require_program("python3");
        assert_eq!(
            python,
            Path::new("/usr/bin/python3"),
            "need /usr/bin/python3 with libtorrent"
        );
        std::fs::create_dir_all(dir).expect("create seeder dir");
        let script = dir.join("lt_seed.py");
        std::fs::write(&script, SCRIPT).expect("write lt_seed.py");
        let mut cmd = Command::new(python);
        cmd.arg(&script)
            .arg(free_port().to_string())
            .arg(leecher_port.to_string());
        for (torrent, save_path) in torrents {
            cmd.arg(torrent).arg(save_path);
        }
        LtSeeder {
            _daemon: Daemon::spawn("lt_seed.py", cmd),
        }
    }
}
