//! Arbitrary text as a magnet link: must parse or give an error, never
//! panic; what parses must survive a round trip through `to_uri`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lowspace::torrent::MagnetLink;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(magnet) = MagnetLink::parse(text) {
        let again = MagnetLink::parse(&magnet.to_uri()).expect("our own magnet parses");
        assert_eq!(again.info_hash, magnet.info_hash);
        assert_eq!(again.trackers, magnet.trackers);
        assert_eq!(again.web_seeds, magnet.web_seeds);
    }
});
