//! Taking pieces back from an old .torrent reads a file anyone may have
//! edited: any bytes must give the pieces or None, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lowspace::torrent::create::{recover_pieces, SingleFileInfo};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, torrent)) = data.split_first() else {
        return;
    };
    let expected = SingleFileInfo {
        name: "f".into(),
        length: u64::from(selector) * 7000 + 1,
        piece_length: 16384,
        pieces: Vec::new(),
        private: selector & 1 == 1,
    };
    let _ = recover_pieces(torrent, &expected, &[0; 20]);
});
