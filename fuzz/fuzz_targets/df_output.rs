//! `df -P -k` output from whatever df the box has (GNU, busybox, odd mounts).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lowspace::rotate::gather::parse_df(&String::from_utf8_lossy(data));
});
