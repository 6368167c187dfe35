//! The tree manifest is read back from OUTPUT_DIR, where anything may have
//! replaced it: any bytes must give a manifest or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = lowspace::tree::manifest::Manifest::parse(data) {
        let _ = lowspace::tree::index::render(&manifest);
    }
});
