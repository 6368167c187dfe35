//! What real libtorrent (python3-libtorrent, through /usr/bin/python3 only)
//! reads from a .torrent file or a magnet link: the independent reference
//! our parser and magnet builder are checked against.

use std::path::Path;
use std::process::Command;

const PYTHON: &str = "/usr/bin/python3";

const TORRENT_SCRIPT: &str = r#"
import json, sys
import libtorrent as lt
ti = lt.torrent_info(sys.argv[1])
fs = ti.files()
print(json.dumps({
    "info_hash": str(ti.info_hash()),
    "name": ti.name(),
    "total_size": ti.total_size(),
    "piece_length": ti.piece_length(),
    "num_pieces": ti.num_pieces(),
    "private": ti.priv(),
    "comment": ti.comment(),
    "creator": ti.creator(),
    "files": [{"path": fs.file_path(i), "size": fs.file_size(i)} for i in range(fs.num_files())],
    "trackers": [{"url": t.url, "tier": t.tier} for t in ti.trackers()],
    "web_seeds": [w["url"] for w in ti.web_seeds()],
}))
"#;

const MAGNET_SCRIPT: &str = r#"
import json, sys
import libtorrent as lt
p = lt.parse_magnet_uri(sys.argv[1])
print(json.dumps({
    "info_hash": str(p.info_hashes.v1),
    "name": p.name,
    "trackers": list(p.trackers),
    "web_seeds": list(p.url_seeds),
}))
"#;

fn run_python(script: &str, arg: &str) -> serde_json::Value {
    super::require_program("python3");
    let out = Command::new(PYTHON)
        .args(["-c", script, arg])
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON}: {e}"));
    assert!(
        out.status.success(),
        "libtorrent refused {arg}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "libtorrent script printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// libtorrent's `torrent_info` view of a .torrent file, as JSON: info_hash,
/// name, total_size, piece_length, num_pieces, private, comment, creator,
/// files [{path, size}], trackers [{url, tier}], web_seeds.
pub fn torrent_info(path: &Path) -> serde_json::Value {
    run_python(TORRENT_SCRIPT, &path.to_string_lossy())
}

/// libtorrent's `parse_magnet_uri` view of a magnet link: info_hash, name,
/// trackers, web_seeds. Panics when libtorrent refuses the link.
pub fn parse_magnet(uri: &str) -> serde_json::Value {
    run_python(MAGNET_SCRIPT, uri)
}
