//! Torrents made by the real mktorrent, so tests read files another program
//! wrote rather than bytes we encoded ourselves.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `mktorrent <args> -o <output> <target>` in `dir` (so `target` may be
/// relative and the torrent's name is its last component) and returns the
/// output path. Panics with mktorrent's message when it fails.
pub fn make(dir: &Path, target: &str, output: &str, args: &[&str]) -> PathBuf {
    let program = super::require_program("mktorrent");
    let out_path = dir.join(output);
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .arg("-o")
        .arg(&out_path)
        .arg(target)
        .output()
        .expect("run mktorrent");
    assert!(
        out.status.success(),
        "mktorrent {args:?} {target} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out_path
}

/// Writes `len` bytes of deterministic, incompressible-looking data.
pub fn write_data(path: &Path, len: usize, seed: u32) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create data dir");
    }
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect();
    std::fs::write(path, bytes).expect("write data file");
}
