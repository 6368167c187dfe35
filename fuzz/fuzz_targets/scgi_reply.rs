//! rtorrent's SCGI reply framing must answer any bytes with a body or an
//! error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lowspace::rtorrent::scgi::parse_reply(data);
});
