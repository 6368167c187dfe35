use super::*;

const STATUS: &[u8] = include_bytes!("testdata/torrents_status.json");
const MULTI: &[u8] = include_bytes!("testdata/torrent_status_multi.json");
const SINGLE: &[u8] = include_bytes!("testdata/torrent_status_single.json");
const UNKNOWN_STATUS: &[u8] = include_bytes!("testdata/torrent_status_unknown.json");
const REMOVE_UNKNOWN: &[u8] = include_bytes!("testdata/remove_unknown.json");
const PAUSE_UNKNOWN: &[u8] = include_bytes!("testdata/pause_unknown.json");
const ADD_ALREADY: &[u8] = include_bytes!("testdata/add_already.json");
const NOT_AUTH: &[u8] = include_bytes!("testdata/not_authenticated.json");
const LOGIN_WRONG: &[u8] = include_bytes!("testdata/login_wrong.json");
const UNKNOWN_METHOD: &[u8] = include_bytes!("testdata/unknown_method.json");
const HOSTS: &[u8] = include_bytes!("testdata/get_hosts.json");
const DOWNLOAD_LOCATION: &[u8] = include_bytes!("testdata/download_location.json");

const ZEROS: &str = "0000000000000000000000000000000000000000";

fn ok(body: &[u8]) -> Value {
    reply_result(200, body, "m", None).unwrap()
}

#[test]
fn torrents_status_of_2_0_3_in_neutral_terms() {
    let rows = parse_status(ok(STATUS)).unwrap();
    let t: Vec<Torrent> = rows.iter().map(StatusRow::to_torrent).collect();
    assert_eq!(t[0].hash, "23088b6def991e5c5001f892ebf73172ae9ff6c8");
    assert_eq!(t[0].data_path, PathBuf::from("/tmp/dlg/dl/single.bin"));
    assert_eq!((t[0].size, t[0].done, t[0].complete), (300000, 0, false));
    assert!(!t[0].started, "Paused");
    assert_eq!(t[0].ratio_permille, 0, "-1 before any transfer");
    assert_eq!(t[0].finished_at, None, "completed_time 0");
    assert_eq!(t[0].label, "", "no Label plugin");
    // A file turned off: the whole torrent's size, not the wanted bytes.
    assert_eq!(t[1].size, 150000);
    assert_eq!(t[1].data_path, PathBuf::from("/tmp/dlg/dl/multi"));
}

#[test]
fn a_finished_seeding_torrent_is_complete_unless_checking() {
    let json = json!({"aa": {"hash": "AA", "name": "x", "total_size": 5, "total_done": 5,
        "is_finished": true, "ratio": 1.25, "state": "Seeding", "save_path": "/dl",
        "label": "lowspace", "completed_time": 1796025152.5}});
    let t = parse_status(json.clone()).unwrap()[0].to_torrent();
    assert_eq!(t.hash, "aa");
    assert!(t.complete && t.started);
    assert_eq!((t.ratio_permille, t.finished_at), (1250, Some(1796025152)));
    assert_eq!(t.label, "lowspace");
    let mut checking = json;
    checking["aa"]["state"] = json!("Checking");
    assert!(!parse_status(checking).unwrap()[0].to_torrent().complete);
}

#[test]
fn status_of_the_wrong_shape_is_a_protocol_error() {
    let e = parse_status(json!([1, 2])).unwrap_err();
    assert!(matches!(e, ClientError::Protocol(_)), "{e}");
    let e = parse_status(json!({"aa": {"name": "x"}})).unwrap_err();
    assert!(e.to_string().contains("hash"), "{e}");
}

#[test]
fn multi_file_status_loses_the_torrent_directory_and_counts_pieces() {
    let mut v = ok(MULTI);
    let files = parse_files_status(v.clone(), "h").unwrap().to_files();
    assert_eq!(files.data_path, PathBuf::from("/tmp/dlg/dl/multi"));
    assert_eq!(files.directory, PathBuf::from("/tmp/dlg/dl/multi"));
    assert_eq!(files.files[0].path, "a");
    assert_eq!(files.files[0].priority, FilePriority::Off);
    assert_eq!((files.files[0].done_pieces, files.files[0].pieces), (0, 4));
    assert_eq!(files.files[1].path, "b");
    assert_eq!(files.files[1].priority, FilePriority::Normal);
    // a: pieces 0-3, b: pieces 3-4 (they share piece 3).
    assert_eq!(files.files[1].pieces, 2);
    v["pieces"] = json!([3, 3, 3, 3, 1]);
    let files = parse_files_status(v, "h").unwrap().to_files();
    assert_eq!(files.files[0].done_pieces, 4);
    assert_eq!(files.files[1].done_pieces, 1);
}

#[test]
fn single_file_status_and_a_seed_without_piece_list() {
    let mut v = ok(SINGLE);
    let files = parse_files_status(v.clone(), "h").unwrap().to_files();
    assert_eq!(files.data_path, PathBuf::from("/tmp/dlg/dl/single.bin"));
    assert_eq!(files.directory, PathBuf::from("/tmp/dlg/dl"));
    assert_eq!(files.files[0].path, "single.bin");
    v["pieces"] = Value::Null;
    v["is_seed"] = json!(true);
    let files = parse_files_status(v, "h").unwrap().to_files();
    assert_eq!(files.files[0].done_pieces, files.files[0].pieces);
}

#[test]
fn an_empty_status_is_an_unknown_torrent() {
    let e = parse_files_status(ok(UNKNOWN_STATUS), ZEROS).unwrap_err();
    assert!(e.is_unknown_torrent(), "{e}");
}

#[test]
fn not_in_session_and_key_error_are_unknown_torrents() {
    for body in [REMOVE_UNKNOWN, PAUSE_UNKNOWN] {
        let e = reply_result(200, body, "core.x", Some(ZEROS)).unwrap_err();
        assert!(e.is_unknown_torrent(), "{e}");
    }
}

#[test]
fn already_in_session_is_refused_not_unknown() {
    let hash = "23088b6def991e5c5001f892ebf73172ae9ff6c8";
    let e = reply_result(200, ADD_ALREADY, "core.add_torrent_file", Some(hash)).unwrap_err();
    assert!(matches!(e, ClientError::Refused(_)), "{e}");
    assert!(
        e.to_string()
            .contains("AddTorrentError: Torrent already in session"),
        "{e}"
    );
}

#[test]
fn not_logged_in_and_unknown_method_are_refused() {
    let e = reply_result(200, NOT_AUTH, "web.connected", None).unwrap_err();
    assert!(matches!(e, ClientError::Refused(_)));
    assert!(e.to_string().contains("password"), "{e}");
    let e = reply_result(200, UNKNOWN_METHOD, "core.nope", None).unwrap_err();
    assert!(e.to_string().contains("Unknown method"), "{e}");
    // A wrong password is a successful call answering false.
    assert_eq!(ok(LOGIN_WRONG), Value::Bool(false));
}

#[test]
fn http_statuses_and_non_json() {
    let e = reply_result(403, b"", "m", None).unwrap_err();
    assert!(matches!(e, ClientError::Refused(_)));
    let e = reply_result(502, b"Bad Gateway", "m", None).unwrap_err();
    assert!(matches!(e, ClientError::Protocol(_)));
    assert!(e.to_string().contains("502"), "{e}");
    let e = reply_result(200, b"<html>", "m", None).unwrap_err();
    assert!(matches!(e, ClientError::Protocol(_)));
}

#[test]
fn hosts_and_download_location() {
    let hosts = ok(HOSTS);
    assert_eq!(
        hosts[0][0].as_str(),
        Some("40c5eea81a0d4035923b99ade9644af0")
    );
    assert_eq!(ok(DOWNLOAD_LOCATION).as_str(), Some("/tmp/dlg/dl"));
}

#[test]
fn session_cookie_is_found_among_headers() {
    let headers = vec![
        ("Server".to_string(), "TwistedWeb".to_string()),
        (
            "Set-Cookie".to_string(),
            "_session_id=315e4a; Expires=Mon, 30 Nov 2026 09:01:26 GMT; Path=/json".to_string(),
        ),
    ];
    assert_eq!(
        session_cookie(&headers).as_deref(),
        Some("_session_id=315e4a")
    );
    assert_eq!(session_cookie(&headers[..1]), None);
}

#[test]
fn priorities_are_merged_into_the_full_list() {
    let levels = merged_priorities(
        &[4, 4, 1],
        &[(0, FilePriority::Off), (2, FilePriority::High)],
        "h",
    )
    .unwrap();
    assert_eq!(levels, vec![0, 4, 7]);
    let e = merged_priorities(&[4], &[(3, FilePriority::Off)], "h").unwrap_err();
    assert!(e.to_string().contains("no file 3"), "{e}");
}

#[test]
fn add_results_from_the_listed_hashes() {
    let a = InfoHash::from_hex("23088b6def991e5c5001f892ebf73172ae9ff6c8").unwrap();
    let b = InfoHash::from_hex(ZEROS).unwrap();
    let r = add_results(
        &[Ok(a), Ok(b), Err("bad".into())],
        &["23088b6def991e5c5001f892ebf73172ae9ff6c8".to_string()],
    );
    assert!(r[0].is_ok());
    assert!(matches!(r[1], Err(ClientError::Refused(_))));
    assert!(r[2].is_err());
}

#[test]
fn short_message_without_a_class_is_its_first_line() {
    assert_eq!(short_message("Unknown method"), "Unknown method");
    assert_eq!(short_message("a\nb"), "a");
}

#[test]
fn absurd_offsets_and_sizes_neither_overflow_nor_loop() {
    let v = json!({"name": "x", "save_path": "/dl", "files": [
        {"index": 0, "path": "x/a", "size": u64::MAX, "offset": u64::MAX},
        {"index": 9, "path": "x/b", "size": 1, "offset": 0}],
        "file_priorities": [], "piece_length": 0, "pieces": [3]});
    let files = parse_files_status(v, "h").unwrap().to_files();
    assert_eq!(files.files[0].done_pieces, 0);
    assert_eq!((files.files[1].done_pieces, files.files[1].pieces), (1, 1));
    assert_eq!(
        files.files[1].priority,
        FilePriority::Normal,
        "missing level"
    );
}
