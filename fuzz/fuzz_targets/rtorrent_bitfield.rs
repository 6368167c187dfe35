//! Counting each file's chunks in rtorrent's `d.bitfield` must answer any
//! text, chunk size and file sizes with counts or an error, never a panic,
//! and never count more chunks than a file touches.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lowspace::rtorrent::download::chunks_done_per_file;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let split = rest.len() / 2;
    let (hex, sizes) = rest.split_at(split);
    let hex = String::from_utf8_lossy(hex);
    let sizes: Vec<u64> = sizes.iter().map(|&b| u64::from(b) * 7).collect();
    let chunk_size = u64::from(chunk);
    if let Ok(done) = chunks_done_per_file(&hex, chunk_size, &sizes) {
        assert_eq!(done.len(), sizes.len());
        let mut offset = 0u64;
        for (size, done) in sizes.iter().zip(done) {
            let touched = if *size == 0 {
                0
            } else {
                (offset + size - 1) / chunk_size - offset / chunk_size + 1
            };
            assert!(done <= touched);
            offset += size;
        }
    }
});
