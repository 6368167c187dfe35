//! deluge-web's JSON-RPC answers (any status, error objects with the
//! daemon's traceback text, torrent and file status, follow's torrent list
//! and plugin list, the version texts) must never panic the reader.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lowspace::client::deluge::follow::{label_plugin_on, parse_follow_rows};
use lowspace::client::deluge::{
    about_text, parse_files_status, parse_status, reply_result, short_message,
};

fuzz_target!(|data: &[u8]| {
    let _ = short_message(&String::from_utf8_lossy(data));
    for hash in [None, Some("0000000000000000000000000000000000000000")] {
        if let Ok(result) = reply_result(200, data, "core.get_torrents_status", hash) {
            if let Ok(rows) = parse_status(result.clone()) {
                for row in rows {
                    let _ = row.to_torrent();
                }
            }
            let _ = parse_follow_rows(result.clone(), "lowspace-follow");
            let _ = label_plugin_on(&result);
            let _ = about_text(&result, &result);
            if let Ok(status) = parse_files_status(result, "h") {
                let _ = status.to_files();
            }
        }
    }
});
