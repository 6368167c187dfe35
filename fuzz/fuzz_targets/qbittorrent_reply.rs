//! qBittorrent's WebUI answers (any status and headers, torrents/info,
//! torrents/files with piece states, app/preferences, the version texts)
//! as rotate, check and follow read them must never panic the reader.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lowspace::client::qbittorrent::follow::follow_torrent;
use lowspace::client::qbittorrent::{
    about_text, login_cookie, neutral_files, parse_files, parse_info, parse_save_path,
    status_result, Api,
};

fuzz_target!(|data: &[u8]| {
    let status = data
        .first()
        .map(|b| 100 + u16::from(*b) * 2)
        .unwrap_or(200);
    let text = String::from_utf8_lossy(data);
    let _ = status_result(status, "u", Some("h"), data);
    let headers: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let _ = login_cookie(status, &headers, data, "u");
    let _ = Api::from_version(&text);
    let _ = about_text(data, data);
    if let Ok(rows) = parse_info(data) {
        for row in &rows {
            let _ = row.to_torrent("lowspace");
            let _ = follow_torrent(row, "lowspace-follow");
        }
    }
    if let Ok(files) = parse_files(data) {
        for multi in [false, true] {
            let _ = neutral_files(&files, data, multi);
        }
    }
    let _ = parse_save_path(data);
});
