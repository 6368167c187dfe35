use super::*;

/// transmission-daemon 3.00's answers, recorded, for a two-file torrent
/// (40000 + 30000 bytes, 16 KiB pieces) added complete.
const GET_300: &str = r#"{"arguments":{"torrents":[{"doneDate":0,"downloadDir":"/tmp/trrec/data","hashString":"df0d43fb405e443e711cbf5f86596914f1f7d647","haveValid":70000,"labels":[],"leftUntilDone":0,"name":"multi","status":6,"totalSize":70000,"uploadRatio":0}]},"result":"success"}"#;
const FILES_300: &str = r#"{"arguments":{"torrents":[{"downloadDir":"/tmp/trrec/data","fileStats":[{"bytesCompleted":40000,"priority":0,"wanted":true},{"bytesCompleted":30000,"priority":0,"wanted":true}],"files":[{"bytesCompleted":40000,"length":40000,"name":"multi/a.bin"},{"bytesCompleted":30000,"length":30000,"name":"multi/b.bin"}],"hashString":"df0d43fb405e443e711cbf5f86596914f1f7d647","name":"multi","pieceCount":5,"pieceSize":16384,"pieces":"+A=="}]},"result":"success"}"#;
const ADDED_300: &str = r#"{"arguments":{"torrent-added":{"hashString":"df0d43fb405e443e711cbf5f86596914f1f7d647","id":1,"name":"multi"}},"result":"success"}"#;
const DUPLICATE_300: &str = r#"{"arguments":{"torrent-duplicate":{"hashString":"df0d43fb405e443e711cbf5f86596914f1f7d647","id":1,"name":"multi"}},"result":"success"}"#;
const CORRUPT_300: &str = r#"{"arguments":{},"result":"invalid or corrupt torrent file"}"#;
const UNKNOWN_300: &str = r#"{"arguments":{"torrents":[]},"result":"success"}"#;

/// A 4.x answer written by hand: labels set, a single-file torrent still
/// downloading, one being checked, and ratios Transmission marks as
/// not-a-number (-1) and infinite (-2).
const GET_4X: &str = r#"{"arguments":{"torrents":[
 {"doneDate":1700000000,"downloadDir":"/srv/dl","hashString":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","haveValid":100,"labels":["tv","lowspace"],"leftUntilDone":0,"name":"one.iso","status":0,"totalSize":100,"uploadRatio":1.25},
 {"doneDate":0,"downloadDir":"/srv/dl","hashString":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","haveValid":10,"labels":["tv","mine"],"leftUntilDone":90,"name":"two","status":4,"totalSize":100,"uploadRatio":-1},
 {"doneDate":0,"downloadDir":"","hashString":"cccccccccccccccccccccccccccccccccccccccc","haveValid":0,"labels":[],"leftUntilDone":0,"name":"three","status":2,"totalSize":5,"uploadRatio":-2}
]},"result":"success"}"#;

fn args(body: &str) -> Value {
    parse_reply(body.as_bytes()).unwrap()
}

#[test]
fn state_from_a_recorded_300_reply() {
    let ts = parse_state(&args(GET_300)).unwrap();
    assert_eq!(
        ts,
        [Torrent {
            hash: "df0d43fb405e443e711cbf5f86596914f1f7d647".into(),
            name: "multi".into(),
            size: 70000,
            done: 70000,
            complete: true,
            ratio_permille: 0,
            started: true,
            data_path: "/tmp/trrec/data/multi".into(),
            label: String::new(),
            // Complete when added: the executor keeps its first-seen time.
            finished_at: None,
        }]
    );
}

#[test]
fn state_from_a_4x_reply_with_labels() {
    let ts = parse_state(&args(GET_4X)).unwrap();
    assert_eq!(ts[0].hash, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_eq!(ts[0].label, "lowspace");
    assert_eq!(ts[0].ratio_permille, 1250);
    assert_eq!(ts[0].finished_at, Some(1_700_000_000));
    assert!(ts[0].complete && !ts[0].started);
    assert_eq!(ts[0].data_path, Path::new("/srv/dl/one.iso"));
    assert_eq!(ts[1].label, "tv,mine");
    assert_eq!(ts[1].ratio_permille, 0);
    assert!(!ts[1].complete && ts[1].started);
    assert_eq!(ts[1].done, 10);
    // Being checked is not complete, whatever leftUntilDone says.
    assert!(!ts[2].complete);
    assert_eq!(ts[2].data_path, PathBuf::new());
    assert!(ts[2].ratio_permille >= 1_000_000);
}

#[test]
fn files_from_a_recorded_300_reply() {
    let f = parse_files(&args(FILES_300)).unwrap().unwrap();
    assert_eq!(f.data_path, Path::new("/tmp/trrec/data/multi"));
    assert_eq!(f.directory, Path::new("/tmp/trrec/data/multi"));
    // 40000 bytes span pieces 0..=2, 30000 from 40000 span 2..=4.
    assert_eq!(
        f.files,
        [
            TorrentFile {
                index: 0,
                path: "a.bin".into(),
                size: 40000,
                done_pieces: 3,
                pieces: 3,
                priority: FilePriority::Normal
            },
            TorrentFile {
                index: 1,
                path: "b.bin".into(),
                size: 30000,
                done_pieces: 3,
                pieces: 3,
                priority: FilePriority::Normal
            },
        ]
    );
    assert_eq!(parse_files(&args(UNKNOWN_300)).unwrap(), None);
}

#[test]
fn files_count_pieces_from_the_bitfield_and_priorities() {
    // Pieces 0 and 3 of 5 present: 0b1001_0000.
    let reply = json!({"torrents":[{"downloadDir":"/d","name":"m","pieceCount":5,"pieceSize":16384,
        "pieces":"kA==",
        "files":[{"name":"m/a","length":40000},{"name":"m/b","length":30000},{"name":"m/empty","length":0}],
        "fileStats":[{"wanted":true,"priority":1},{"wanted":false,"priority":0},{"wanted":1,"priority":-1}]}]});
    let f = parse_files(&reply).unwrap().unwrap();
    let got: Vec<_> = f
        .files
        .iter()
        .map(|f| (f.done_pieces, f.pieces, f.priority))
        .collect();
    assert_eq!(
        got,
        [
            (1, 3, FilePriority::High),
            (1, 3, FilePriority::Off),
            (0, 0, FilePriority::Normal)
        ]
    );
    // A single file's directory is the one holding it.
    let single = json!({"torrents":[{"downloadDir":"/d","name":"x.iso","pieceCount":1,"pieceSize":16384,
        "pieces":"gA==","files":[{"name":"x.iso","length":10}],"fileStats":[{"wanted":true,"priority":0}]}]});
    let f = parse_files(&single).unwrap().unwrap();
    assert_eq!(f.directory, Path::new("/d"));
    assert_eq!(f.data_path, Path::new("/d/x.iso"));
    assert_eq!(f.files[0].path, "x.iso");
    assert_eq!((f.files[0].done_pieces, f.files[0].pieces), (1, 1));
}

#[test]
fn added_duplicate_and_refused() {
    let (h, new) = parse_added(&args(ADDED_300)).unwrap();
    assert_eq!(h.to_hex(), "df0d43fb405e443e711cbf5f86596914f1f7d647");
    assert!(new);
    assert!(!parse_added(&args(DUPLICATE_300)).unwrap().1);
    assert_eq!(
        parse_reply(CORRUPT_300.as_bytes()).unwrap_err(),
        ReplyError::Refused("invalid or corrupt torrent file".into())
    );
}

#[test]
fn priorities_become_wanted_unwanted_and_bandwidth() {
    let h = InfoHash::from_hex("df0d43fb405e443e711cbf5f86596914f1f7d647").unwrap();
    let a = priority_arguments(
        &h,
        &[
            (0, FilePriority::Off),
            (1, FilePriority::Normal),
            (2, FilePriority::High),
        ],
    );
    assert_eq!(a["files-unwanted"], json!([0]));
    assert_eq!(a["files-wanted"], json!([1, 2]));
    assert_eq!(a["priority-normal"], json!([1]));
    assert_eq!(a["priority-high"], json!([2]));
    // An empty list would mean every file.
    let a = priority_arguments(&h, &[(0, FilePriority::Off)]);
    assert!(a.get("files-wanted").is_none());
}

#[test]
fn each_error_names_what_is_wrong() {
    let e = |r: Result<Value, ReplyError>| r.unwrap_err().to_string();
    assert!(e(parse_reply(b"<html>")).contains("not JSON"));
    assert!(e(parse_reply(b"{}")).contains("no \"result\""));
    assert_eq!(
        e(parse_reply(CORRUPT_300.as_bytes())),
        "Transmission says: invalid or corrupt torrent file"
    );
    assert!(parse_state(&json!({})).unwrap_err().contains("torrents"));
    let mut t: Value = args(GET_300)["torrents"][0].clone();
    for key in [
        "hashString",
        "name",
        "status",
        "leftUntilDone",
        "uploadRatio",
        "downloadDir",
        "totalSize",
        "haveValid",
    ] {
        let mut bad = t.clone();
        bad.as_object_mut().unwrap().remove(key);
        let err = parse_state(&json!({ "torrents": [bad] })).unwrap_err();
        assert!(err.contains(&format!("torrents[0].{key}")), "{key}: {err}");
    }
    t["labels"] = json!("lowspace");
    assert!(parse_state(&json!({ "torrents": [t] }))
        .unwrap_err()
        .contains("labels is not an array"));
    assert!(parse_download_dir(&json!({"download-dir": "rel"}))
        .unwrap_err()
        .contains("not an absolute path"));
    assert!(parse_download_dir(&json!({})).is_err());
    let f: Value = args(FILES_300)["torrents"][0].clone();
    for (key, value, wanted) in [
        ("pieceSize", json!(0), "pieceSize is 0"),
        ("pieces", json!("!!"), "pieces"),
        ("files", Value::Null, "files is missing"),
        ("fileStats", json!([]), "2 files but 0 fileStats"),
    ] {
        let mut bad = f.clone();
        bad[key] = value;
        let err = parse_files(&json!({ "torrents": [bad] })).unwrap_err();
        assert!(err.contains(wanted), "{key}: {err}");
    }
    let mut bad = f.clone();
    bad["files"][1] = json!({"name": "multi/b.bin"});
    assert!(parse_files(&json!({ "torrents": [bad] }))
        .unwrap_err()
        .contains("files[1].length"));
    let mut bad = f;
    bad["fileStats"][0] = json!({});
    assert!(parse_files(&json!({ "torrents": [bad] }))
        .unwrap_err()
        .contains("fileStats[0].wanted"));
    assert!(parse_added(&json!({})).is_err());
    assert!(parse_added(&json!({"torrent-added":{}})).is_err());
}

/// Transmission 4.1's JSON-RPC 2.0 form, written from its rpc-spec (no
/// 4.1 here): `result` is the arguments object, names are snake_case,
/// errors are `error` objects with the daemon's text in data.error_string.
const GET_41_JSONRPC: &str = r#"{"jsonrpc":"2.0","id":7,"result":{"torrents":[
 {"done_date":1700000000,"download_dir":"/srv/dl","hash_string":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","have_valid":100,"labels":["lowspace"],"left_until_done":0,"name":"one.iso","status":6,"total_size":100,"upload_ratio":2.5}
]}}"#;
const FILES_41_JSONRPC: &str = r#"{"jsonrpc":"2.0","id":8,"result":{"torrents":[{"download_dir":"/tmp/trrec/data","file_stats":[{"bytes_completed":40000,"priority":0,"wanted":true},{"bytes_completed":0,"priority":1,"wanted":false}],"files":[{"bytes_completed":40000,"length":40000,"name":"multi/a.bin"},{"bytes_completed":0,"length":30000,"name":"multi/b.bin"}],"hash_string":"df0d43fb405e443e711cbf5f86596914f1f7d647","name":"multi","piece_count":5,"piece_size":16384,"pieces":"+A=="}]}}"#;
const SESSION_41_JSONRPC: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"download_dir":"/srv/dl","rpc_version":18,"version":"4.1.0 (abcdef0123)"}}"#;
const ADDED_41_JSONRPC: &str = r#"{"jsonrpc":"2.0","id":3,"result":{"torrent_added":{"hash_string":"df0d43fb405e443e711cbf5f86596914f1f7d647","id":1,"name":"multi"}}}"#;
const ERROR_41_JSONRPC: &str = r#"{"jsonrpc":"2.0","id":4,"error":{"code":7,"message":"Invalid or corrupt torrent file","data":{"error_string":"invalid or corrupt torrent file"}}}"#;
/// 4.1 answering the old form lowspace sends: the old names, as 4.0.
const SESSION_41_LEGACY: &str = r#"{"arguments":{"download-dir":"/srv/dl","rpc-version":18,"rpc-version-semver":"5.4.0","version":"4.1.0 (abcdef0123)"},"result":"success"}"#;

#[test]
fn jsonrpc_2_replies_of_4_1_read_as_the_old_form() {
    let ts = parse_state(&args(GET_41_JSONRPC)).unwrap();
    assert_eq!(ts[0].hash, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_eq!((ts[0].size, ts[0].done, ts[0].complete), (100, 100, true));
    assert_eq!(ts[0].ratio_permille, 2500);
    assert_eq!(ts[0].label, "lowspace");
    assert_eq!(ts[0].data_path, PathBuf::from("/srv/dl/one.iso"));
    assert_eq!(ts[0].finished_at, Some(1700000000));

    let files = parse_files(&args(FILES_41_JSONRPC)).unwrap().unwrap();
    assert_eq!(files.files[0].path, "a.bin");
    assert_eq!(files.files[1].priority, FilePriority::Off);
    assert_eq!(files.data_path, PathBuf::from("/tmp/trrec/data/multi"));

    let session = args(SESSION_41_JSONRPC);
    assert_eq!(
        parse_download_dir(&session).unwrap(),
        PathBuf::from("/srv/dl")
    );
    assert_eq!(about_text(&session).unwrap(), "4.1.0 (abcdef0123), RPC 18");
    let (hash, new) = parse_added(&args(ADDED_41_JSONRPC)).unwrap();
    assert_eq!(hash.to_hex(), "df0d43fb405e443e711cbf5f86596914f1f7d647");
    assert!(new);
    assert_eq!(
        parse_reply(ERROR_41_JSONRPC.as_bytes()).unwrap_err(),
        ReplyError::Refused("invalid or corrupt torrent file".into())
    );
    assert!(matches!(
        parse_reply(br#"{"jsonrpc":"2.0","id":1,"error":{"code":1}}"#),
        Err(ReplyError::Malformed(_))
    ));
    assert!(matches!(
        parse_reply(br#"{"jsonrpc":"2.0","id":1,"result":[1]}"#),
        Err(ReplyError::Malformed(_))
    ));
    assert_eq!(
        parse_reply(br#"{"jsonrpc":"2.0","id":1,"result":null}"#).unwrap(),
        json!({})
    );
}

#[test]
fn a_4_1_answer_to_the_old_form_is_the_old_form() {
    let session = args(SESSION_41_LEGACY);
    assert_eq!(
        parse_download_dir(&session).unwrap(),
        PathBuf::from("/srv/dl")
    );
    assert_eq!(about_text(&session).unwrap(), "4.1.0 (abcdef0123), RPC 18");
    assert_eq!(
        about_text(&args(
            r#"{"arguments":{"version":"3.00 (bb6b5a062e)","rpc-version":16},"result":"success"}"#
        ))
        .unwrap(),
        "3.00 (bb6b5a062e), RPC 16"
    );
    assert!(about_text(&json!({})).unwrap_err().contains("version"));
}
