//! Remote listings come from other programs on other machines: the readers
//! of `rsync --list-only` output, `rclone lsjson` output and relative paths
//! must answer anything with a value or an error, never a panic; and every
//! path they report must be a safe one under the listed root.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use lowspace::sync::{rclone, rsync, RelPath};

fuzz_target!(|data: &[u8]| {
    for root in ["T", "dir/T"] {
        let Ok(root) = RelPath::new(root) else { return };
        let mut found = BTreeMap::new();
        let _ = rsync::read_list_only(&mut &data[..], &root, &mut found);
        let mut placer = rclone::Placer::new(&root);
        let _ = rclone::read_lsjson(data, &mut |entry| placer.entry(entry, &mut found));
        for path in found.keys() {
            assert!(path.starts_with(&root), "{path} is outside {root}");
        }
    }
    let _ = rsync::parse_list_line(data);
    let _ = rsync::unescape_name(data);
    let _ = rsync::parse_size(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(words) = lowspace::config::split_command_line(text) {
            // rsync gets these words back from its -e argument.
            assert!(!words.is_empty());
            let _ = rsync::rsync_shell_arg(&words);
        }
        if let Ok(path) = RelPath::new(text) {
            // What was accepted must really be safe.
            assert!(!path.as_str().starts_with('/'));
            assert!(path.as_str().split('/').all(|c| !c.is_empty() && c != ".." && c != "."));
            let _ = path.parent();
        }
    }
});
