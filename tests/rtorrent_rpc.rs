//! The rtorrent client against a real rtorrent 0.9.8 started here: loading
//! torrents made by mktorrent, reading them back in one round trip, file
//! priorities, labels, stop/start/erase, faults, missing sockets, the
//! `lowspace rpc` command, and the HTTP transport through nginx + basic auth.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod support;

use std::path::Path;
use std::time::Duration;

use lowspace::rtorrent::xmlrpc::Value;
use lowspace::rtorrent::{Client, FilePriority, RpcError};
use support::nginx::{htpasswd, Nginx};
use support::rtorrent::{libtorrent_info_hash, make_torrent, Rtorrent};
use support::tempdir::TempDir;
use support::{free_port, run_lowspace, wait_until};

fn write_file(path: &Path, len: usize, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn typed_client_reads_and_drives_real_rtorrent() {
    let tmp = TempDir::new("rt-client");
    let rt = Rtorrent::start(&tmp.join("rt"));
    let client = Client::new(&rt.socket_url()).unwrap();
    assert_eq!(client.client_version().unwrap(), "0.9.8");

    // A single-file torrent whose data is already in rtorrent's directory
    // (it completes after the hash check), and a multi-file torrent with no
    // data, loaded as raw bytes.
    let single_data = rt.data_dir.join("single.bin");
    write_file(&single_data, 200_000, 1);
    let single = make_torrent(&single_data, &tmp.join("single.torrent"));
    let multi_src = tmp.join("src/album");
    write_file(&multi_src.join("01 intro.flac"), 40_000, 2);
    write_file(&multi_src.join("cover/front.jpg"), 3_000, 3);
    write_file(&multi_src.join("zz.txt"), 10, 4);
    let multi = make_torrent(&multi_src, &tmp.join("multi.torrent"));
    let single_hash = libtorrent_info_hash(&single);
    let multi_hash = libtorrent_info_hash(&multi);

    client
        .load_start(single.to_str().unwrap(), &["d.custom1.set=first"])
        .unwrap();
    client
        .load_raw_start(&std::fs::read(&multi).unwrap(), &[])
        .unwrap();

    // rtorrent may list a raw load a moment after it answered the call.
    wait_until(
        "the single-file torrent to complete and the album to be listed",
        Duration::from_secs(20),
        || {
            let downloads = client.downloads().unwrap();
            downloads
                .iter()
                .any(|d| d.hash == single_hash && d.complete)
                && downloads.iter().any(|d| d.hash == multi_hash)
        },
    );
    let before = client.round_trips();
    let mut downloads = client.downloads().unwrap();
    assert_eq!(
        client.round_trips(),
        before + 1,
        "one round trip for all downloads"
    );
    downloads.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(downloads.len(), 2);
    let (album, single_dl) = (&downloads[0], &downloads[1]);

    assert_eq!(album.hash, multi_hash);
    assert_eq!(album.name, "album");
    assert_eq!(album.size_bytes, 43_010);
    assert!(album.multi_file && !album.complete);
    assert_eq!(album.completed_bytes, 0);
    assert_eq!(album.label, "");
    assert_eq!(album.finished_at, None);
    assert!(album.started);

    assert_eq!(single_dl.hash, single_hash);
    assert_eq!(single_dl.name, "single.bin");
    assert_eq!(single_dl.size_bytes, 200_000);
    assert_eq!(single_dl.completed_bytes, 200_000);
    assert!(single_dl.complete && !single_dl.multi_file);
    assert_eq!(single_dl.label, "first");
    assert_eq!(Path::new(&single_dl.base_path), single_data);
    assert_eq!(Path::new(&single_dl.directory), rt.data_dir);
    assert!(single_dl.finished_at.is_some_and(|t| t > 1_600_000_000));
    assert_eq!(single_dl.ratio_permille, 0);

    // Files of the multi-file torrent, in torrent order.
    let files = client.files(&multi_hash).unwrap();
    let listed: Vec<(&str, u64)> = files
        .iter()
        .map(|f| (f.path.as_str(), f.size_bytes))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("01 intro.flac", 40_000),
            ("cover/front.jpg", 3_000),
            ("zz.txt", 10)
        ]
    );
    assert!(files.iter().all(|f| f.priority == FilePriority::Normal));
    assert!(files
        .iter()
        .all(|f| f.size_chunks >= 1 && f.completed_chunks == 0));

    // Priorities and labels in one round trip each.
    let before = client.round_trips();
    client
        .set_file_priorities(
            &multi_hash,
            &[(0, FilePriority::Off), (2, FilePriority::High)],
        )
        .unwrap();
    client
        .set_labels(&[(&multi_hash, "lowspace"), (&single_hash, "done")])
        .unwrap();
    assert_eq!(client.round_trips(), before + 2);
    let prios: Vec<FilePriority> = client
        .files(&multi_hash)
        .unwrap()
        .iter()
        .map(|f| f.priority)
        .collect();
    assert_eq!(
        prios,
        vec![FilePriority::Off, FilePriority::Normal, FilePriority::High]
    );
    let labels: Vec<(String, String)> = client
        .downloads()
        .unwrap()
        .into_iter()
        .map(|d| (d.hash, d.label))
        .collect();
    assert!(labels.contains(&(multi_hash.clone(), "lowspace".into())));
    assert!(labels.contains(&(single_hash.clone(), "done".into())));

    // stop / start / erase
    let started_and_active = || {
        let d = client
            .downloads()
            .unwrap()
            .into_iter()
            .find(|d| d.hash == multi_hash)
            .unwrap();
        (d.started, d.active)
    };
    client.stop(&multi_hash).unwrap();
    assert_eq!(started_and_active(), (false, false));
    client.start(&multi_hash).unwrap();
    assert_eq!(started_and_active(), (true, true));
    // What stop_and_drain waits on: rtorrent's count of pieces to hash,
    // an integer (a string or a fault would make it pause blindly).
    let queued = client
        .call("pieces.hash.queue_size", &[Value::str("")])
        .unwrap();
    assert!(matches!(queued, Value::Int(0)), "{queued:?}");
    client.stop_and_drain(&multi_hash).unwrap();
    assert_eq!(started_and_active(), (false, false));
    client.start(&multi_hash).unwrap();
    client.erase(&multi_hash).unwrap();
    let left: Vec<String> = client
        .downloads()
        .unwrap()
        .into_iter()
        .map(|d| d.hash)
        .collect();
    assert_eq!(left, vec![single_hash.clone()]);
    // erase keeps the data
    assert!(single_data.exists());

    // A fault names the method and keeps rtorrent's code and message.
    let err = client.files(&multi_hash).unwrap_err();
    assert!(err.is_unknown_hash(), "{err}");
    match client
        .stop("0000000000000000000000000000000000000000")
        .unwrap_err()
    {
        RpcError::Fault {
            method,
            code,
            message,
        } => {
            assert_eq!((method.as_str(), code), ("d.stop", -501));
            assert!(message.contains("info-hash"), "{message}");
        }
        other => panic!("expected a fault, got {other}"),
    }
    // One bad call inside a multicall fails only that call.
    let results = client
        .multicall(&[
            lowspace::rtorrent::Call::new(
                "d.name",
                vec![lowspace::rtorrent::xmlrpc::Value::str(&single_hash)],
            ),
            lowspace::rtorrent::Call::new(
                "d.name",
                vec![lowspace::rtorrent::xmlrpc::Value::str("00")],
            ),
        ])
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap().as_str(), Some("single.bin"));
    assert!(results[1]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("d.name"));
}

/// Each file's chunks as `rotate` reads them (counted in `d.bitfield`)
/// equal rtorrent's own `f.completed_chunks` on a torrent that a hash
/// check found in part: the first and last files have their bytes, the
/// middle one does not, so the chunks it shares with them fail too.
/// With 32 KiB chunks: a.bin is chunks 0-2, b.bin 2-4, c.bin 4-7.
#[test]
fn file_chunks_counted_in_the_bitfield_match_rtorrents_counts() {
    use lowspace::client::TorrentClient;
    let tmp = TempDir::new("rt-bitfield");
    let rt = Rtorrent::start(&tmp.join("rt"));
    let client = Client::new(&rt.socket_url()).unwrap();
    let src = tmp.join("src/partial");
    let sizes = [("a.bin", 80_000), ("b.bin", 70_000), ("c.bin", 90_000)];
    for (i, (name, len)) in sizes.iter().enumerate() {
        write_file(&src.join(name), *len, i as u8 + 1);
    }
    let torrent = make_torrent(&src, &tmp.join("partial.torrent"));
    let hash = libtorrent_info_hash(&torrent);
    let local = rt.data_dir.join("partial");
    for (i, (name, len)) in sizes.iter().enumerate() {
        // The middle file's bytes are wrong.
        let seed = if i == 1 { 99 } else { i as u8 + 1 };
        write_file(&local.join(name), *len, seed);
    }
    client.load_start(torrent.to_str().unwrap(), &[]).unwrap();
    let info_hash = lowspace::torrent::InfoHash::from_hex(&hash).unwrap();
    let mut counted = Vec::new();
    // rtorrent may list a load a moment after it answered the call.
    wait_until("rtorrent's hash check", Duration::from_secs(20), || {
        let Ok(read) = TorrentClient::files(&client, &info_hash, false) else {
            return false;
        };
        counted = read
            .files
            .iter()
            .map(|f| (f.done_pieces, f.pieces))
            .collect();
        counted.iter().map(|(done, _)| done).sum::<u64>() == 5
    });
    assert_eq!(counted, vec![(2, 3), (0, 3), (3, 4)]);
    let own: Vec<(u64, u64)> = client
        .files(&hash)
        .unwrap()
        .iter()
        .map(|f| (f.completed_chunks, f.size_chunks))
        .collect();
    assert_eq!(counted, own);
    // And straight from the bitfield, so a silent fallback to rtorrent's
    // counts cannot pass for it.
    let bitfield = client.call("d.bitfield", &[Value::str(&hash)]).unwrap();
    let chunk = client.call("d.chunk_size", &[Value::str(&hash)]).unwrap();
    let lengths: Vec<u64> = sizes.iter().map(|(_, len)| *len as u64).collect();
    let from_bits = lowspace::rtorrent::download::chunks_done_per_file(
        bitfield.as_str().unwrap(),
        chunk.as_i64().unwrap() as u64,
        &lengths,
    )
    .unwrap();
    assert_eq!(from_bits, vec![2, 0, 3]);
}

#[test]
fn missing_and_stale_sockets_say_what_to_check() {
    let tmp = TempDir::new("rt-missing");
    let client = Client::new(&format!("scgi://{}/nope.sock", tmp.path().display())).unwrap();
    let err = client.client_version().unwrap_err();
    assert!(matches!(err, RpcError::SocketMissing { .. }));
    let text = err.to_string();
    assert!(
        text.contains("is rtorrent running?") && text.contains("network.scgi.open_local"),
        "{text}"
    );

    // rtorrent stopped: its socket file stays, nobody listens.
    let mut rt = Rtorrent::start(&tmp.join("rt"));
    let client = Client::new(rt.socket.to_str().unwrap()).unwrap();
    assert!(client.client_version().is_ok());
    rt.stop();
    let err = client.client_version().unwrap_err();
    assert!(matches!(err, RpcError::ConnectionRefused { .. }), "{err}");

    // TCP: nothing listening.
    let port = free_port();
    let client = Client::new(&format!("scgi://127.0.0.1:{port}")).unwrap();
    let err = client.client_version().unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
}

#[test]
fn scgi_over_tcp_and_timeouts() {
    let tmp = TempDir::new("rt-tcp");
    let port = free_port();
    let rt = Rtorrent::start_with(
        &tmp.join("rt"),
        support::rtorrent::RtorrentOptions {
            scgi_tcp_port: Some(port),
            ..Default::default()
        },
    );
    let client = Client::new(&rt.socket_url()).unwrap();
    assert_eq!(client.client_version().unwrap(), "0.9.8");
    assert!(client.downloads().unwrap().is_empty());
    drop(rt);

    // A listener that never answers (a real fault rtorrent cannot produce on demand).
    let fake_silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = fake_silent.local_addr().unwrap().port();
    let client = Client::with_options(
        lowspace::rtorrent::parse_socket_url(&format!("scgi://127.0.0.1:{port}")).unwrap(),
        lowspace::rtorrent::ClientOptions {
            read_timeout: Duration::from_millis(300),
            ..Default::default()
        },
    );
    let err = client.client_version().unwrap_err();
    assert!(matches!(err, RpcError::Timeout { .. }), "{err}");
}

#[test]
fn rpc_command_for_scripts() {
    let tmp = TempDir::new("rt-cli");
    let rt = Rtorrent::start(&tmp.join("rt"));
    let url = rt.socket_url();
    let data = rt.data_dir.join("x.bin");
    write_file(&data, 1000, 9);
    let torrent = make_torrent(&data, &tmp.join("x.torrent"));
    let hash = libtorrent_info_hash(&torrent);

    let out = run_lowspace(
        tmp.path(),
        &["rpc", "--socket-url", &url, "system.client_version"],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0.9.8");

    // Empty target passed through, @file as base64.
    let at = format!("@{}", torrent.display());
    let out = run_lowspace(
        tmp.path(),
        &["rpc", "--socket-url", &url, "load.raw", "", &at],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");

    // Numbers as integers: a throttle value read back.
    let out = run_lowspace(
        tmp.path(),
        &[
            "rpc",
            "--socket-url",
            &url,
            "throttle.global_up.max_rate.set",
            "",
            "+65536",
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_lowspace(
        tmp.path(),
        &["rpc", "--socket-url", &url, "throttle.global_up.max_rate"],
        &[],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "65536");

    // Rows tab-separated; JSON when asked.
    wait_until("the loaded torrent", Duration::from_secs(10), || {
        let out = run_lowspace(
            tmp.path(),
            &[
                "rpc",
                "--socket-url",
                &url,
                "d.multicall2",
                "",
                "main",
                "d.hash=",
                "d.size_bytes=",
            ],
            &[],
        );
        String::from_utf8_lossy(&out.stdout).trim() == format!("{hash}\t1000")
    });
    let out = run_lowspace(
        tmp.path(),
        &[
            "rpc",
            "--socket-url",
            &url,
            "--json",
            "d.multicall2",
            "",
            "main",
            "d.hash=",
            "d.size_bytes=",
        ],
        &[],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json, serde_json::json!([[hash, 1000]]));

    // Socket URL from the configuration file.
    let config = tmp.join("config.toml");
    std::fs::write(&config, format!("[rtorrent]\nsocket_url = \"{url}\"\n")).unwrap();
    let out = run_lowspace(
        tmp.path(),
        &["--config", config.to_str().unwrap(), "rpc", "d.name", &hash],
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "x.bin",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A fault: exit 1, the method named.
    let out = run_lowspace(
        tmp.path(),
        &[
            "rpc",
            "--socket-url",
            &url,
            "d.name",
            "0000000000000000000000000000000000000000",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("d.name") && err.contains("Could not find info-hash"),
        "{err}"
    );

    // Missing socket: exit 1 with the hint; bad URL: exit 2.
    let missing = format!("scgi://{}/gone.sock", tmp.path().display());
    let out = run_lowspace(
        tmp.path(),
        &["rpc", "--socket-url", &missing, "system.client_version"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is rtorrent running?"));
    let out = run_lowspace(
        tmp.path(),
        &[
            "rpc",
            "--socket-url",
            "relative.sock",
            "system.client_version",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn http_transport_through_nginx_with_basic_auth() {
    let tmp = TempDir::new("rt-http");
    let rt = Rtorrent::start(&tmp.join("rt"));
    let data = rt.data_dir.join("h.bin");
    write_file(&data, 5000, 7);
    let torrent = make_torrent(&data, &tmp.join("h.torrent"));
    let hash = libtorrent_info_hash(&torrent);

    let htpasswd_path = tmp.join("htpasswd");
    htpasswd(&htpasswd_path, "seedbox", "s3cret pass");
    let port = free_port();
    let server = format!(
        "server {{\n listen 127.0.0.1:{port};\n location /RPC2 {{\n  auth_basic \"rtorrent\";\n  auth_basic_user_file {};\n  include /etc/nginx/scgi_params;\n  scgi_pass unix:{};\n }}\n}}",
        htpasswd_path.display(),
        rt.socket.display()
    );
    let _nginx = Nginx::start(&tmp.join("nginx"), &server, &[port]);

    let client = Client::new(&format!(
        "http://seedbox:s3cret%20pass@127.0.0.1:{port}/RPC2"
    ))
    .unwrap();
    assert_eq!(client.client_version().unwrap(), "0.9.8");
    client
        .load_raw_start(
            &std::fs::read(&torrent).unwrap(),
            &["d.custom1.set=via-http"],
        )
        .unwrap();
    wait_until("the torrent over HTTP", Duration::from_secs(10), || {
        client
            .downloads()
            .unwrap()
            .iter()
            .any(|d| d.hash == hash && d.label == "via-http")
    });
    let files = client.files(&hash).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].size_bytes, 5000);
    assert!(client
        .stop(&"0".repeat(40))
        .unwrap_err()
        .to_string()
        .contains("d.stop"));

    for bad in [
        format!("http://seedbox:wrong@127.0.0.1:{port}/RPC2"),
        format!("http://127.0.0.1:{port}/RPC2"),
    ] {
        let err = Client::new(&bad).unwrap().client_version().unwrap_err();
        assert!(
            matches!(err, RpcError::HttpStatus { status: 401, .. }),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("401") && text.contains("credentials"),
            "{text}"
        );
        assert!(!text.contains("wrong"), "password leaked: {text}");
    }
    let out = run_lowspace(
        tmp.path(),
        &[
            "rpc",
            "--socket-url",
            &format!("http://seedbox:s3cret%20pass@127.0.0.1:{port}/RPC2"),
            "d.name",
            &hash,
        ],
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "h.bin",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
