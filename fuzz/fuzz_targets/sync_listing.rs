//! Remote listings come from other programs on other machines: the parsers
//! of `find -printf` output, `rclone lsjson` output and relative paths must
//! answer anything with a value or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lowspace::sync::{rclone, rsync, RelPath};

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = RelPath::new("T") {
        let _ = rsync::parse_find_listing(&root, data);
        if let Ok(entries) = rclone::parse_lsjson(data) {
            let ambiguous = rclone::is_ambiguous(&root, &entries);
            let _ = rclone::place_entries(&root, entries, ambiguous);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(path) = RelPath::new(text) {
            // What was accepted must really be safe.
            assert!(!path.as_str().starts_with('/'));
            assert!(path.as_str().split('/').all(|c| !c.is_empty() && c != ".." && c != "."));
            let _ = path.parent();
        }
    }
});
