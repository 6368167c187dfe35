//! Configuration text in both syntaxes: the TOML layout and the original
//! driver's INI file, with sizes and durations inside.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = lowspace::config::parse(Path::new("/fuzz/config.toml"), &text);
    let _ = lowspace::config::parse(Path::new("/fuzz/driver.cf"), &text);
    let _ = lowspace::size::parse_size(&text);
    let _ = lowspace::size::parse_duration(&text);
});
