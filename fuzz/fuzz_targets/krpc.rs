//! DHT packets: arbitrary bytes as a KRPC message. Errors are fine;
//! panics, unbounded lists and messages that do not survive a round trip
//! are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lowspace::fish::dht::krpc;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = krpc::decode(data) {
        if let krpc::Body::Response(r) = &message.body {
            assert!(r.values.len() <= krpc::MAX_VALUES);
        }
        let again = krpc::decode(&krpc::encode(&message));
        if !matches!(message.body, krpc::Body::Query(krpc::Query::Unknown { .. })) {
            assert_eq!(again.as_ref().ok(), Some(&message));
        }
    }
});
