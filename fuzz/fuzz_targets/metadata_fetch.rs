//! Adopting a magnet: arbitrary bytes from a peer through the metadata
//! fetch state machine (after a valid handshake, so the fuzzer reaches
//! the extension handshake and ut_metadata data), in arbitrary chunks,
//! and through the magnets-file parser. Nothing may panic or grow
//! without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lowspace::fish::adopt::fetch::{MetadataFetch, Progress};
use lowspace::fish::adopt::magnets_file::parse_magnets;
use lowspace::fish::wire::{Handshake, SessionConfig};
use lowspace::torrent::InfoHash;

fuzz_target!(|data: &[u8]| {
    let _ = parse_magnets(data);

    let hash = InfoHash::from_bytes([1; 20]);
    let config = SessionConfig {
        peer_id: *b"-LS0100-fuzzfuzzfuzz",
        listen_port: 6881,
        dht_port: None,
    };
    let (mut fetch, _first) = MetadataFetch::start(config, hash);
    let mut input = Handshake::ours(hash, [2; 20], false).encode().to_vec();
    input.extend_from_slice(data);
    let chunk = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut out = Vec::new();
    for piece in input.chunks(chunk) {
        out.clear();
        match fetch.receive(piece, &mut out) {
            Ok(Progress::Pending) => {}
            Ok(Progress::Done(metadata)) => {
                assert_eq!(InfoHash::of_info_bytes(&metadata), hash);
                break;
            }
            Err(_) => break,
        }
    }
});
