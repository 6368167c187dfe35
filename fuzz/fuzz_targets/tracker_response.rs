//! Tracker answers: arbitrary bytes as an HTTP announce body and as UDP
//! connect/announce packets. Errors are fine; panics and unbounded peer
//! lists are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lowspace::fish::tracker::{response, udp};

fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = response::parse_http_announce(data) {
        assert!(reply.peers.len() <= 2 * response::MAX_PEERS);
    }
    let transaction = u32::from_be_bytes([
        data.get(4).copied().unwrap_or(0),
        data.get(5).copied().unwrap_or(0),
        data.get(6).copied().unwrap_or(0),
        data.get(7).copied().unwrap_or(0),
    ]);
    let _ = udp::parse_connect_response(data, transaction);
    for v6 in [false, true] {
        if let Ok(reply) = udp::parse_announce_response(data, transaction, v6) {
            assert!(reply.peers.len() <= response::MAX_PEERS);
        }
    }
});
