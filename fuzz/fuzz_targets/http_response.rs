//! The HTTP/1.1 response parser must answer any bytes with a response or
//! an error, never a panic, and never return a body above the cap.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lowspace::http::response;

fuzz_target!(|data: &[u8]| {
    let cap = 4096;
    if let Ok(r) = response::parse_response(data, cap, false, response::ConnectionEnd::TcpClose) {
        assert!(r.body.len() <= cap);
    }
    let _ = response::is_complete(data, cap, false);
    let _ = response::decode_chunked(data, cap);
});
