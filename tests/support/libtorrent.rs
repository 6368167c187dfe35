//! libtorrent (python3-libtorrent under /usr/bin/python3) as an independent
//! reader of our torrents: it parses them, reports what it sees, and
//! hash-checks the data on disk in a real session.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const CHECK_SCRIPT: &str = r#"
import json, sys, time
import libtorrent as lt
torrent, save_path = sys.argv[1], sys.argv[2]
ti = lt.torrent_info(torrent)
ses = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False,
                  'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False})
atp = lt.add_torrent_params()
atp.ti = ti
atp.save_path = save_path
h = ses.add_torrent(atp)
deadline = time.time() + 30
seen_checked = False
while time.time() < deadline:
    s = h.status()
    if s.state in (lt.torrent_status.downloading, lt.torrent_status.finished, lt.torrent_status.seeding):
        seen_checked = True
        break
    time.sleep(0.05)
s = h.status()
out = {
    'info_hash': str(ti.info_hash()),
    'name': ti.name(),
    'total_size': ti.total_size(),
    'piece_length': ti.piece_length(),
    'num_pieces': ti.num_pieces(),
    'priv': ti.priv(),
    'trackers': [t.url for t in ti.trackers()],
    'web_seeds': [w['url'] for w in ti.web_seeds()],
    'comment': ti.comment(),
    'creator': ti.creator(),
    'checked': seen_checked,
    'is_seeding': s.is_seeding,
    'progress': s.progress,
}
print(json.dumps(out))
"#;

/// What libtorrent read from a torrent and found on disk.
pub struct LtReport(pub Value);

impl LtReport {
    pub fn str(&self, key: &str) -> String {
        self.0[key].as_str().unwrap_or_default().to_string()
    }
    pub fn u64(&self, key: &str) -> u64 {
        self.0[key].as_u64().unwrap_or(u64::MAX)
    }
    pub fn bool(&self, key: &str) -> bool {
        self.0[key].as_bool().unwrap_or(false)
    }
    pub fn strings(&self, key: &str) -> Vec<String> {
        self.0[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Parses `torrent` with libtorrent and hash-checks its data in
/// `save_path` (the directory holding the file).
pub fn check(torrent: &Path, save_path: &Path) -> LtReport {
    let python = crate::support::require_program("python3");
    assert_eq!(
        python,
        Path::new("/usr/bin/python3"),
        "need /usr/bin/python3 with libtorrent"
    );
    let out = Command::new(python)
        .arg("-c")
        .arg(CHECK_SCRIPT)
        .arg(torrent)
        .arg(save_path)
        .output()
        .expect("run /usr/bin/python3");
    assert!(
        out.status.success(),
        "libtorrent could not read {}: {}",
        torrent.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    LtReport(serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}")))
}
