//! Transmission's RPC replies (torrent-get, torrent-add) must never panic
//! the reader.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lowspace::client::transmission::follow::{parse_added, parse_reply, parse_torrents};

fuzz_target!(|data: &[u8]| {
    if let Ok(arguments) = parse_reply(data) {
        let _ = parse_torrents(&arguments, "lowspace-follow");
        let _ = parse_added(&arguments);
    }
});
