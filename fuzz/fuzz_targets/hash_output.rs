//! Hash output comes from other programs on other machines (`sha1sum`
//! over ssh, `rclone hashsum`): its readers must answer anything with a
//! value or an error, never a panic, and record digests only for the
//! files asked about.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lowspace::sync::hash::{parse_hex, read_ordered, read_sha1sum, RemoteDigests};
use lowspace::sync::{rclone, RelPath};

fuzz_target!(|data: &[u8]| {
    let files: Vec<(RelPath, u64)> = ["T/a", "T/b c", "single.iso"]
        .iter()
        .filter_map(|s| RelPath::new(s).ok())
        .map(|p| (p, 1))
        .collect();
    let names: Vec<&RelPath> = files.iter().map(|(p, _)| p).collect();
    let mut digests = RemoteDigests::new(&files);
    let ordered = read_ordered(&mut &data[..], &names, &mut digests);
    if ordered.is_ok() {
        // Every file had its line: a digest or the unreadable mark.
        assert!(data.iter().filter(|b| **b == b'\n').count() + 1 >= names.len());
    }
    let mut digests = RemoteDigests::new(&files);
    let _ = read_sha1sum(&mut &data[..], &rclone::decode_name, &mut digests);
    let _ = parse_hex(data);
    assert!(digests.get("T/other").is_none());
});
