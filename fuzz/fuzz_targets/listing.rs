//! The `follow` listing parser must never panic, whatever the server sends.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(listed) = lowspace::follow::listing::parse(data) {
        for entry in &listed.entries {
            let _ = entry.display();
            let _ = entry.dir().map(|d| d.to_string());
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = lowspace::follow::listing::parse_closing_line(text);
    }
});
