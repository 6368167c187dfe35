//! How much batching saves: the state of 1,000 torrents loaded into a real
//! rtorrent, read with one `d.multicall2` through our client, and the way
//! the original driver did it (one XML-RPC call per torrent per field).
//! Both ways must produce the same downloads. Run: `cargo bench --bench rpc`
//! (or scripts/bench); LOWSPACE_BENCH_TORRENTS changes the count.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use lowspace::rtorrent::download::{download_from_row, DOWNLOAD_FIELDS};
use lowspace::rtorrent::xmlrpc::Value;
use lowspace::rtorrent::{Call, Client, Download};
use support::rtorrent::Rtorrent;
use support::tempdir::TempDir;

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` must not run this.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let count: usize = std::env::var("LOWSPACE_BENCH_TORRENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let tmp = TempDir::new("bench-rpc");
    let rt = Rtorrent::start(&tmp.join("rt"));
    let client = Client::new(&rt.socket_url()).expect("socket_url");

    let started = Instant::now();
    let src = tmp.join("src");
    let torrents = tmp.join("torrents");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&torrents).unwrap();
    let mut paths = Vec::with_capacity(count);
    for i in 0..count {
        let file = src.join(format!("file{i:05}.bin"));
        std::fs::write(&file, format!("tiny torrent number {i}\n")).unwrap();
        paths.push(support::rtorrent::make_torrent(
            &file,
            &torrents.join(format!("t{i:05}.torrent")),
        ));
    }
    println!(
        "made {count} torrents with mktorrent in {:.1?}",
        started.elapsed()
    );

    let started = Instant::now();
    for batch in paths.chunks(100) {
        let calls: Vec<Call> = batch
            .iter()
            .map(|p| {
                Call::new(
                    "load.normal",
                    vec![Value::str(""), Value::str(p.to_string_lossy())],
                )
            })
            .collect();
        for r in client.multicall(&calls).expect("load batch") {
            r.expect("load.normal");
        }
    }
    support::wait_until("all torrents loaded", Duration::from_secs(120), || {
        client.downloads().map(|d| d.len()).unwrap_or(0) == count
    });
    println!("loaded them (stopped) in {:.1?}", started.elapsed());

    // Ours: one round trip.
    let mut best_batched = Duration::MAX;
    let mut batched_trips = 0;
    let mut batched: Vec<Download> = Vec::new();
    for _ in 0..5 {
        let before = client.round_trips();
        let t = Instant::now();
        batched = client.downloads().expect("d.multicall2");
        best_batched = best_batched.min(t.elapsed());
        batched_trips = client.round_trips() - before;
    }

    // The original driver's way: one call per torrent per field.
    let before = client.round_trips();
    let t = Instant::now();
    let hashes = client
        .call("download_list", &[Value::str(""), Value::str("main")])
        .expect("download_list");
    let mut per_field: Vec<Download> = Vec::new();
    for hash in hashes.as_array().expect("array of hashes") {
        let row: Vec<Value> = DOWNLOAD_FIELDS
            .iter()
            .map(|field| {
                client
                    .call(field.trim_end_matches('='), std::slice::from_ref(hash))
                    .expect("per-field call")
            })
            .collect();
        per_field.push(download_from_row(&Value::Array(row)).expect("row"));
    }
    let per_field_time = t.elapsed();
    let per_field_trips = client.round_trips() - before;

    batched.sort_by(|a, b| a.hash.cmp(&b.hash));
    per_field.sort_by(|a, b| a.hash.cmp(&b.hash));
    assert_eq!(batched, per_field, "both ways must read the same state");
    assert_eq!(batched.len(), count);

    println!(
        "state of {count} torrents ({} fields each):",
        DOWNLOAD_FIELDS.len()
    );
    println!(
        "  d.multicall2 (lowspace):        {batched_trips:>6} round trip(s), {:>10.1?} (best of 5)",
        best_batched
    );
    println!(
        "  one call per torrent per field: {per_field_trips:>6} round trips,  {:>10.1?}",
        per_field_time
    );
    println!(
        "  ratio: {:.0}x fewer round trips, {:.1}x faster",
        per_field_trips as f64 / batched_trips.max(1) as f64,
        per_field_time.as_secs_f64() / best_batched.as_secs_f64().max(1e-9)
    );
}
