//! Transmission's replies as rotate and check read them (torrent-get for
//! the state and for one torrent's files, session-get, torrent-add; the
//! old form and 4.1's JSON-RPC 2.0) must never panic the reader.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lowspace::client::transmission::{
    about_text, parse_added, parse_download_dir, parse_files, parse_reply, parse_state,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(arguments) = parse_reply(data) {
        let _ = parse_state(&arguments);
        let _ = parse_files(&arguments);
        let _ = parse_download_dir(&arguments);
        let _ = parse_added(&arguments);
        let _ = about_text(&arguments);
    }
});
