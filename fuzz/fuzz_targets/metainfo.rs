//! Arbitrary bytes as a .torrent: must parse or give an error, never panic;
//! what parses must hold together.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lowspace::torrent::{MagnetLink, Metainfo};

fuzz_target!(|data: &[u8]| {
    if let Ok(torrent) = Metainfo::from_bytes(data) {
        let total: u64 = torrent.files().iter().map(|f| f.length).sum();
        assert_eq!(total, torrent.total_size());
        assert_eq!(torrent.pieces().len(), torrent.piece_count() * 20);
        assert!(torrent.piece_count() > 0);
        assert!(data
            .windows(torrent.info_bytes().len())
            .any(|w| w == torrent.info_bytes()));
        for file in torrent.files() {
            assert!(!file.path.is_empty());
            for part in &file.path {
                assert!(!part.is_empty() && part != ".." && part != "." && !part.contains('/'));
            }
        }
        let magnet = MagnetLink::for_torrent(&torrent);
        let parsed = MagnetLink::parse(&magnet.to_uri()).expect("our own magnet parses");
        assert_eq!(parsed, magnet);
    }
});
