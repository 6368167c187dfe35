//! /proc/self/io as a kernel (or a sandbox) might present it: any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = lowspace::sys::parse_proc_io(text);
    }
});
