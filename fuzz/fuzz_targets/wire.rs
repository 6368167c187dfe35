//! Peer wire: arbitrary bytes through the handshake and message decoders
//! and a whole session (as an incoming connection that holds every
//! torrent), in arbitrary chunks. Nothing may panic or buffer unboundedly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lowspace::fish::wire::{self, metadata, Session, SessionConfig, Swarms};
use lowspace::torrent::InfoHash;

struct HoldsAll;
impl Swarms for HoldsAll {
    fn metadata_size(&self, _: &InfoHash) -> Option<u32> {
        Some(40_000)
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = wire::decode_frame(data);
    let _ = wire::Handshake::decode(data);
    let _ = metadata::decode_extension_handshake(data);
    let _ = metadata::decode_metadata_message(data);

    let config = SessionConfig {
        peer_id: *b"-LS0001-fuzzfuzzfuzz",
        listen_port: 6881,
        dht_port: Some(6881),
    };
    let mut session = Session::incoming(config);
    // A valid handshake first, so the fuzzer reaches the message phase.
    let mut input = wire::Handshake::ours(InfoHash::from_bytes([1; 20]), [2; 20], true)
        .encode()
        .to_vec();
    input.extend_from_slice(data);
    let chunk = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut buffer = Vec::new();
    let mut actions = Vec::new();
    for piece in input.chunks(chunk) {
        buffer.extend_from_slice(piece);
        let used = session.feed(&buffer, &HoldsAll, &mut actions);
        assert!(used <= buffer.len());
        buffer.drain(..used);
        assert!(buffer.len() <= wire::message::MAX_MESSAGE_LEN + 4 + chunk);
        if actions.iter().any(|a| matches!(a, wire::Action::Close(_))) {
            break;
        }
        actions.clear();
    }
});
