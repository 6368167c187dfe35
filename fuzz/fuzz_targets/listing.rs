//! The `follow` listing parser must never panic, whatever the server sends.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(listed) = lowspace::follow::listing::parse(data) {
        for entry in &listed {
            let _ = entry.display();
        }
    }
});
