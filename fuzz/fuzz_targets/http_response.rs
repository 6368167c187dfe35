//! The HTTP/1.1 response parser must answer any bytes with a response or
//! an error, never a panic, and never return a body above the cap.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lowspace::http::response;

fuzz_target!(|data: &[u8]| {
    let cap = 4096;
    use response::ConnectionEnd::*;
    for end in [Framed, CloseNotify, TcpClose, TlsCutOff] {
        if let Ok(r) = response::parse_response(data, cap, false, end) {
            assert!(r.body.len() <= cap);
            // A close without close_notify never yields a close-delimited body.
            assert!(!(end == TlsCutOff && r.body_end == response::BodyEnd::CloseNotify));
        }
    }
    let _ = response::is_complete(data, cap, false);
    let _ = response::decode_chunked(data, cap);
});
