//! DHT packets (IPv4 and IPv6): arbitrary bytes as a KRPC message. Errors are fine;
//! panics, unbounded lists and messages that do not survive a round trip
//! are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lowspace::fish::dht::krpc;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = krpc::decode(data) {
        if let krpc::Body::Response(r) = &message.body {
            assert!(r.values.len() <= krpc::MAX_VALUES);
            // Each node list holds its own family only (BEP 32).
            assert!(r.nodes.iter().all(|n| n.addr.is_ipv4()));
            assert!(r.nodes6.iter().all(|n| n.addr.is_ipv6()));
        }
        let again = krpc::decode(&krpc::encode(&message));
        if !matches!(message.body, krpc::Body::Query(krpc::Query::Unknown { .. })) {
            assert_eq!(again.as_ref().ok(), Some(&message));
        }
    }
});
