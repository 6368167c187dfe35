use super::*;

const INFO_4: &[u8] = include_bytes!("testdata/info_4.5.2_paused_complete.json");
const INFO_5: &[u8] = include_bytes!("testdata/info_5.x_stopped.json");
const FILES_4: &[u8] = include_bytes!("testdata/files_4.5.2_multi.json");

#[test]
fn a_paused_complete_hybrid_torrent_of_4_5_2_is_named_by_its_v1_hash() {
    let rows = parse_info(INFO_4).unwrap();
    let t = rows[0].to_torrent(LABEL);
    assert_eq!(t.hash, "aca30217909342a1a5154d594d834f9729df7976");
    assert_eq!(rows[0].hash, "f36a94f2b7675cb2378b33bc40201542904d8156");
    assert_eq!(
        (t.size, t.done, t.complete, t.started),
        (3000, 3000, true, false)
    );
    assert_eq!(t.data_path, PathBuf::from("/tmp/qb1/dl/single"));
    assert_eq!(t.label, "lowspace");
    assert_eq!(t.finished_at, Some(1796025152));
}

#[test]
fn stopped_states_of_5_x_are_not_started_and_minus_one_is_not_finished() {
    let rows = parse_info(INFO_5).unwrap();
    let album = rows[0].to_torrent(LABEL);
    assert!(!album.started);
    assert!(album.complete);
    assert_eq!(album.ratio_permille, 1250);
    assert_eq!(album.label, "lowspace", "one tag among several");
    let other = rows[1].to_torrent(LABEL);
    assert!(other.started);
    assert!(!other.complete);
    assert_eq!(other.finished_at, None);
    assert_eq!(other.label, "", "untagged: not ours");
}

#[test]
fn a_relative_content_path_during_the_first_check_is_made_absolute() {
    let json = br#"[{"hash":"aa","name":"single","size":3000,"state":"checkingResumeData","content_path":"single","save_path":"/dl","progress":1,"completed":3000}]"#;
    let t = parse_info(json).unwrap()[0].to_torrent(LABEL);
    assert_eq!(t.data_path, PathBuf::from("/dl/single"));
    assert!(!t.complete, "checking is not complete");
}

#[test]
fn files_lose_the_torrent_directory_and_count_pieces_done() {
    let rows = parse_files(FILES_4).unwrap();
    let files = neutral_files(&rows, &[2, 0], true);
    assert_eq!(files[0].path, "a");
    assert_eq!((files[0].done_pieces, files[0].pieces), (1, 1));
    assert_eq!(files[1].path, "b");
    assert_eq!((files[1].done_pieces, files[1].pieces), (0, 1));
    assert_eq!(files[1].priority, FilePriority::Normal);
}

#[test]
fn api_version_picks_the_verbs() {
    assert_eq!(Api::from_version("2.8.19").unwrap(), Api::PauseResume);
    assert_eq!(Api::from_version("2.11.2\n").unwrap(), Api::StopStart);
    assert_eq!(Api::from_version("3.0").unwrap(), Api::StopStart);
    assert!(Api::from_version("<html>")
        .unwrap_err()
        .contains("webapiVersion"));
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn login_cookies_of_4_x_and_5_2_are_kept() {
    let h = headers(&[("set-cookie", "SID=abc; HttpOnly; path=/; SameSite=Strict")]);
    assert_eq!(
        login_cookie(200, &h, b"Ok.", "u").unwrap().as_deref(),
        Some("SID=abc")
    );
    let h = headers(&[("Set-Cookie", "QBT_SID_8080=xyz; HttpOnly; path=/")]);
    assert_eq!(
        login_cookie(204, &h, b"", "u").unwrap().as_deref(),
        Some("QBT_SID_8080=xyz")
    );
}

#[test]
fn login_failures_are_refusals_or_protocol_errors() {
    let h = headers(&[]);
    assert!(matches!(
        login_cookie(200, &h, b"Fails.", "u"),
        Err(ClientError::Refused(_))
    ));
    assert!(matches!(
        login_cookie(403, &h, b"Forbidden", "u"),
        Err(ClientError::Refused(_))
    ));
    assert!(matches!(
        login_cookie(200, &h, b"Ok.", "u"),
        Err(ClientError::Protocol(_))
    ));
}

#[test]
fn statuses_map_to_the_client_neutral_kinds() {
    assert!(status_result(200, "u", None, b"").is_ok());
    assert!(matches!(
        status_result(401, "u", None, b""),
        Err(ClientError::Refused(_))
    ));
    assert!(matches!(
        status_result(403, "u", Some("h"), b""),
        Err(ClientError::Refused(_))
    ));
    assert!(status_result(404, "u", Some("h"), b"")
        .unwrap_err()
        .is_unknown_torrent());
    assert!(matches!(
        status_result(404, "u", None, b""),
        Err(ClientError::Refused(_))
    ));
    assert!(matches!(
        status_result(409, "u", Some("h"), b""),
        Err(ClientError::Refused(_))
    ));
    assert!(matches!(
        status_result(500, "u", None, b""),
        Err(ClientError::Protocol(_))
    ));
}

#[test]
fn bad_json_is_a_protocol_error() {
    assert!(matches!(
        parse_info(b"Forbidden"),
        Err(ClientError::Protocol(_))
    ));
    assert!(matches!(parse_files(b"{}"), Err(ClientError::Protocol(_))));
    assert!(matches!(
        parse_save_path(b"[]"),
        Err(ClientError::Protocol(_))
    ));
}

#[test]
fn add_results_report_each_torrent() {
    let listed = parse_info(INFO_4).unwrap();
    let there = InfoHash::from_hex("aca30217909342a1a5154d594d834f9729df7976").unwrap();
    let absent = InfoHash::from_hex("0000000000000000000000000000000000000001").unwrap();
    let r = add_results(&[Ok(there), Ok(absent), Err("bad".into())], &listed);
    assert!(r[0].is_ok());
    assert!(matches!(r[1], Err(ClientError::Refused(_))));
    assert!(matches!(r[2], Err(ClientError::Refused(_))));
}

#[test]
fn unreachable_webui_is_unreachable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::new(QbitOptions {
        url: format!("http://127.0.0.1:{port}"),
        username: None,
        password: None,
    })
    .unwrap();
    assert!(matches!(c.state(), Err(ClientError::Unreachable(_))));
}
