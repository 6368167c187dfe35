//! Arbitrary bytes as a .torrent: must parse or give an error, never panic;
//! what parses must hold together.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lowspace::torrent::{MagnetLink, Metainfo, TorrentVersion};

fuzz_target!(|data: &[u8]| {
    if let Ok(torrent) = Metainfo::from_bytes(data) {
        let total: u64 = torrent.files().iter().map(|f| f.length).sum();
        assert_eq!(total, torrent.total_size());
        let v2_only = torrent.version() == TorrentVersion::V2;
        if v2_only {
            assert!(torrent.pieces().is_empty());
            assert_eq!(
                torrent.info_hash().as_bytes()[..],
                torrent.info_hash_v2().expect("v2 has a v2 hash")[..20]
            );
        } else {
            assert_eq!(torrent.pieces().len(), torrent.piece_count() * 20);
        }
        assert_eq!(
            torrent.info_hash_v2().is_some(),
            torrent.version() != TorrentVersion::V1
        );
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
        for file in torrent.files() {
            if let Some(root) = file.pieces_root {
                if let Some(layer) = torrent.piece_layer(&root) {
                    assert_eq!(layer.len() % 32, 0);
                }
            }
        }
        let magnet = MagnetLink::for_torrent(&torrent);
        // A v2-only link (urn:btmh: alone) is written but not read back:
        // lowspace's metadata peer fetches v1 metadata only.
        if !v2_only {
            let parsed = MagnetLink::parse(&magnet.to_uri()).expect("our own magnet parses");
            assert_eq!(parsed, magnet);
        }
    }
});
