//! The XML-RPC response decoder must answer any bytes with a value or an
//! error, never a panic; and what it decodes must survive a round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lowspace::rtorrent::xmlrpc::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(decode::Response::Value(v)) = decode::decode_response(data) {
        let again = encode::method_response(&v);
        let _ = decode::decode_response(again.as_bytes());
    }
});
