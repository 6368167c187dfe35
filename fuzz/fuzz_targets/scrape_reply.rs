//! Multi-hash scrape replies (BEP 48): arbitrary bytes as the body.
//! Errors are fine; panics are not, nor a swarm without a 20-byte hash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lowspace::fish::tracker::scrape;

fuzz_target!(|data: &[u8]| {
    if let Ok(swarms) = scrape::parse_scrape(data) {
        assert!(swarms.len() <= data.len() / 20);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = scrape::scrape_url(text);
    }
});
