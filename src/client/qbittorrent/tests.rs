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
        api_key: None,
    })
    .unwrap();
    assert!(matches!(c.state(), Err(ClientError::Unreachable(_))));
}

/// One request as the recorded WebUI saw it.
#[derive(Debug, Clone)]
struct Seen {
    line: String,
    cookie: Option<String>,
    authorization: Option<String>,
    body: String,
}

/// A loopback WebUI answering from recorded replies: `answer(method and
/// path)` gives (status line, extra headers, body). Each connection is one
/// request (lowspace sends `Connection: close`).
fn recorded_webui(
    answer: fn(&str) -> (&'static str, &'static str, &'static str),
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
    std::thread::JoinHandle<()>,
) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let handle = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut bytes = Vec::new();
            let mut buf = [0u8; 8192];
            let (head, body) = loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    return;
                }
                bytes.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break (head.to_string(), body.to_string());
                    }
                }
            };
            let line = head.lines().next().unwrap().to_string();
            let cookie = head.lines().find_map(|l| {
                l.strip_prefix("Cookie: ")
                    .or_else(|| l.strip_prefix("cookie: "))
                    .map(str::to_string)
            });
            let authorization = head.lines().find_map(|l| {
                l.strip_prefix("Authorization: ")
                    .or_else(|| l.strip_prefix("authorization: "))
                    .map(str::to_string)
            });
            let target = line.rsplit_once(' ').unwrap().0.to_string();
            let target = target.split('?').next().unwrap().to_string();
            let (status, headers, reply) = answer(&target);
            log.lock().unwrap().push(Seen {
                line,
                cookie,
                authorization,
                body,
            });
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
            if target.ends_with("/shutdown") {
                return;
            }
        }
    });
    (url, seen, handle)
}

const HASH: &str = "aca30217909342a1a5154d594d834f9729df7976";

/// Drives a logged-in client through version, stop, start and add, and
/// returns what the recorded WebUI saw.
fn session_against(
    answer: fn(&str) -> (&'static str, &'static str, &'static str),
) -> (String, Vec<Seen>) {
    let (url, seen, handle) = recorded_webui(answer);
    let c = Client::new(QbitOptions {
        url: url.clone(),
        username: Some("admin".into()),
        password: Some("secret".into()),
        api_key: None,
    })
    .unwrap();
    let about = c.about().unwrap();
    let hash = InfoHash::from_hex(HASH).unwrap();
    c.stop(&hash).unwrap();
    c.start(&hash).unwrap();
    let mut torrent = b"d4:infod6:lengthi3e4:name1:a12:piece lengthi16384e6:pieces20:".to_vec();
    torrent.extend_from_slice(&[7u8; 20]);
    torrent.extend_from_slice(b"ee");
    assert!(Metainfo::from_bytes(&torrent).is_ok());
    let _ = c.add(&[NewTorrent {
        metainfo: torrent,
        start: false,
        label: "lowspace".into(),
    }]);
    let _ = crate::http::HttpClient::default().send(crate::http::Request::get(
        crate::http::Url::parse(&format!("{url}/shutdown")).unwrap(),
    ));
    handle.join().unwrap();
    let seen = seen.lock().unwrap().clone();
    (about, seen)
}

fn webui_5_2(target: &str) -> (&'static str, &'static str, &'static str) {
    match target {
        // 5.2: 204 and a cookie named after the WebUI's port.
        "POST /api/v2/auth/login" => (
            "204 No Content",
            "Set-Cookie: QBT_SID_8080=xyz; HttpOnly; path=/\r\n",
            "",
        ),
        "GET /api/v2/app/webapiVersion" => ("200 OK", "", "2.11.4"),
        "GET /api/v2/app/version" => ("200 OK", "", "v5.2.0"),
        "POST /api/v2/torrents/stop" | "POST /api/v2/torrents/start" => ("200 OK", "", ""),
        "POST /api/v2/torrents/add" => ("200 OK", "", "Ok."),
        "GET /api/v2/torrents/info" => ("200 OK", "", "[]"),
        _ => ("404 Not Found", "", ""),
    }
}

fn webui_4_5(target: &str) -> (&'static str, &'static str, &'static str) {
    match target {
        "POST /api/v2/auth/login" => ("200 OK", "set-cookie: SID=abc; HttpOnly; path=/\r\n", "Ok."),
        "GET /api/v2/app/webapiVersion" => ("200 OK", "", "2.8.19"),
        "GET /api/v2/app/version" => ("200 OK", "", "v4.5.2"),
        "POST /api/v2/torrents/pause" | "POST /api/v2/torrents/resume" => ("200 OK", "", ""),
        "POST /api/v2/torrents/add" => ("200 OK", "", "Ok."),
        "GET /api/v2/torrents/info" => ("200 OK", "", "[]"),
        _ => ("404 Not Found", "", ""),
    }
}

#[test]
fn a_5_2_session_keeps_its_port_cookie_and_stops_and_starts() {
    let (about, seen) = session_against(webui_5_2);
    assert_eq!(about, "v5.2.0, WebUI API 2.11.4");
    let lines: Vec<&str> = seen.iter().map(|s| s.line.as_str()).collect();
    assert!(
        lines[0].starts_with("POST /api/v2/auth/login "),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("POST /api/v2/torrents/stop ")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("POST /api/v2/torrents/start ")),
        "{lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("/pause") || l.contains("/resume")),
        "{lines:?}"
    );
    // One login; every later request carries the cookie it gave.
    assert_eq!(
        lines.iter().filter(|l| l.contains("/auth/login")).count(),
        1
    );
    for s in seen
        .iter()
        .skip(1)
        .filter(|s| !s.line.contains("/shutdown"))
    {
        assert_eq!(s.cookie.as_deref(), Some("QBT_SID_8080=xyz"), "{}", s.line);
    }
    // The add says "stopped" both ways: 4.x reads paused, 5.x stopped.
    let add = seen
        .iter()
        .find(|s| s.line.contains("/torrents/add"))
        .unwrap();
    for field in [
        "name=\"paused\"\r\n\r\ntrue",
        "name=\"stopped\"\r\n\r\ntrue",
        "name=\"tags\"\r\n\r\nlowspace",
    ] {
        assert!(add.body.contains(field), "{field} not in {}", add.body);
    }
}

#[test]
fn a_4_5_session_keeps_sid_and_pauses_and_resumes() {
    let (about, seen) = session_against(webui_4_5);
    assert_eq!(about, "v4.5.2, WebUI API 2.8.19");
    let lines: Vec<&str> = seen.iter().map(|s| s.line.as_str()).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("POST /api/v2/torrents/pause ")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("POST /api/v2/torrents/resume ")),
        "{lines:?}"
    );
    for s in seen
        .iter()
        .skip(1)
        .filter(|s| !s.line.contains("/shutdown"))
    {
        assert_eq!(s.cookie.as_deref(), Some("SID=abc"), "{}", s.line);
    }
}

fn webui_5_2_with_key(target: &str) -> (&'static str, &'static str, &'static str) {
    match target {
        "GET /api/v2/app/webapiVersion" => ("200 OK", "", "2.14.1"),
        "GET /api/v2/app/version" => ("200 OK", "", "v5.2.0"),
        "POST /api/v2/torrents/stop" | "POST /api/v2/torrents/start" => ("200 OK", "", ""),
        _ => ("404 Not Found", "", ""),
    }
}

fn webui_4_5_ignoring_keys(target: &str) -> (&'static str, &'static str, &'static str) {
    match target {
        "GET /api/v2/app/webapiVersion" => ("200 OK", "", "2.8.19"),
        "GET /api/v2/app/version" => ("200 OK", "", "v4.5.2"),
        _ => ("404 Not Found", "", ""),
    }
}

fn keyed_client(url: &str) -> Client {
    Client::new(QbitOptions {
        url: url.to_string(),
        username: None,
        password: None,
        api_key: Some("qbt_recordedkey".into()),
    })
    .unwrap()
}

fn shut_down(url: &str, handle: std::thread::JoinHandle<()>) {
    let _ = crate::http::HttpClient::default().send(crate::http::Request::get(
        crate::http::Url::parse(&format!("{url}/shutdown")).unwrap(),
    ));
    handle.join().unwrap();
}

/// 5.2's API key: no login, the key as a bearer token on every request.
#[test]
fn an_api_key_goes_with_every_request_and_replaces_the_login() {
    let (url, seen, handle) = recorded_webui(webui_5_2_with_key);
    let c = keyed_client(&url);
    assert_eq!(c.about().unwrap(), "v5.2.0, WebUI API 2.14.1");
    let hash = InfoHash::from_hex(HASH).unwrap();
    c.stop(&hash).unwrap();
    c.start(&hash).unwrap();
    shut_down(&url, handle);
    let seen = seen.lock().unwrap().clone();
    let asked: Vec<&Seen> = seen
        .iter()
        .filter(|s| !s.line.contains("/shutdown"))
        .collect();
    assert!(asked.len() >= 4, "{asked:?}");
    for s in &asked {
        assert!(!s.line.contains("/auth/login"), "a login was sent: {s:?}");
        assert_eq!(
            s.authorization.as_deref(),
            Some("Bearer qbt_recordedkey"),
            "{s:?}"
        );
        assert_eq!(s.cookie, None, "{s:?}");
    }
    assert!(asked
        .iter()
        .any(|s| s.line.starts_with("POST /api/v2/torrents/stop")));
}

/// A qBittorrent older than 5.2 ignores the key (and, on localhost with
/// the bypass on, would answer anyway): refused, saying what to set.
#[test]
fn an_api_key_against_a_webui_older_than_5_2_is_refused_clearly() {
    let (url, _seen, handle) = recorded_webui(webui_4_5_ignoring_keys);
    let c = keyed_client(&url);
    let err = c.state().unwrap_err();
    shut_down(&url, handle);
    assert!(matches!(err, ClientError::Refused(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("2.8.19") && text.contains("predates API keys"),
        "{text}"
    );
    assert!(text.contains("username and password"), "{text}");
}

#[test]
fn api_versions_compare_as_numbers() {
    assert_eq!(api_version("2.14.1"), Some((2, 14, 1)));
    assert_eq!(api_version(" 2.8 "), Some((2, 8, 0)));
    assert_eq!(api_version("2.x"), None);
    assert_eq!(api_version(""), None);
    assert!(api_version("2.9.3").unwrap() < API_KEY_API);
    assert!(api_version("2.14.1").unwrap() >= API_KEY_API);
}
