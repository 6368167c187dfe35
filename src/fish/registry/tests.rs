use super::*;
use std::path::PathBuf;

fn stamp(len: u64) -> FileStamp {
    FileStamp {
        len,
        modified: None,
    }
}

#[test]
fn decide_loads_new_and_changed_keeps_known_and_skips_known_broken() {
    use FileAction::*;
    let table = [
        // known, broken, found → action
        (Some(stamp(1)), None, stamp(1), Keep),
        (Some(stamp(1)), None, stamp(2), Reload),
        (None, None, stamp(1), Load),
        (None, Some(stamp(5)), stamp(5), SkipBroken),
        (None, Some(stamp(5)), stamp(6), Load),
    ];
    for (known, broken, found, want) in table {
        assert_eq!(
            decide(known, broken, found),
            want,
            "{known:?} {broken:?} {found:?}"
        );
    }
}

/// A scratch directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);
impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("lowspace-fish-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A valid single-file torrent whose info dictionary is about `info_len`
/// bytes (padded with an unknown key), so metadata spans several pieces.
fn torrent_bytes(name: &str, padding: usize) -> Vec<u8> {
    let mut info = format!(
        "d6:lengthi5e4:name{}:{name}12:piece lengthi16384e6:pieces20:",
        name.len()
    )
    .into_bytes();
    info.extend_from_slice(&[7u8; 20]);
    info.extend_from_slice(format!("7:x-paddd{}:", padding).as_bytes());
    info.extend(std::iter::repeat_n(b'p', padding));
    info.extend_from_slice(b"e");
    let mut out = b"d8:announce21:http://127.0.0.1:1/an4:info".to_vec();
    out.extend_from_slice(&info);
    out.push(b'e');
    out
}

#[test]
fn scan_loads_nested_warns_on_corrupt_and_serves_pieces_from_the_file() {
    let dir = Scratch::new("scan");
    std::fs::create_dir_all(dir.0.join("sub/deeper")).unwrap();
    let bytes = torrent_bytes("a", 40_000);
    std::fs::write(dir.0.join("sub/deeper/a.torrent"), &bytes).unwrap();
    std::fs::write(dir.0.join("broken.torrent"), b"d4:info").unwrap();
    std::fs::write(dir.0.join("notes.txt"), b"x").unwrap();

    let mut registry = Registry::new();
    let report = registry.scan(&dir.0);
    assert_eq!(report.added.len(), 1);
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].0.ends_with("broken.torrent"));
    let hash = report.added[0];
    let meta = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(hash, meta.info_hash());
    assert_eq!(
        registry.metadata_size(&hash),
        Some(meta.info_bytes().len() as u32)
    );

    let mut rebuilt = Vec::new();
    for piece in 0.. {
        match registry.read_metadata_piece(&hash, piece) {
            Ok(data) => rebuilt.extend(data),
            Err(ServeError::OutOfRange) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(rebuilt, meta.info_bytes());
    assert_eq!(InfoHash::of_info_bytes(&rebuilt), hash);

    // Unchanged: nothing to do, the broken file is not reported again.
    let again = registry.scan(&dir.0);
    assert!(again.added.is_empty() && again.removed.is_empty() && again.failed.is_empty());

    // Removed: the swarm is left.
    std::fs::remove_file(dir.0.join("sub/deeper/a.torrent")).unwrap();
    let gone = registry.scan(&dir.0);
    assert_eq!(gone.removed, vec![hash]);
    assert!(registry.is_empty());
    assert!(matches!(
        registry.read_metadata_piece(&hash, 0),
        Err(ServeError::NotHeld)
    ));
}

#[test]
fn a_file_changed_under_us_is_not_served_from_old_offsets() {
    let dir = Scratch::new("changed");
    let path = dir.0.join("a.torrent");
    std::fs::write(&path, torrent_bytes("a", 10)).unwrap();
    let mut registry = Registry::new();
    let hash = registry.scan(&dir.0).added[0];
    std::fs::write(&path, torrent_bytes("b", 3000)).unwrap();
    assert!(matches!(
        registry.read_metadata_piece(&hash, 0),
        Err(ServeError::Changed(_))
    ));
    let report = registry.scan(&dir.0);
    assert_eq!(report.removed, vec![hash]);
    assert_eq!(report.added.len(), 1);
}

/// A hybrid (BEP 52) of one 20,000-byte file, as `tree` writes it.
fn hybrid_bytes() -> Vec<u8> {
    use crate::torrent::create::{FileTorrent, Format, Metadata, SingleFileInfo, V2Hashes};
    use sha1::{Digest, Sha1};
    use sha2::Sha256;
    let piece_length = 16384u64;
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 13) as u8).collect();
    let v1: Vec<u8> = data
        .chunks(piece_length as usize)
        .flat_map(|p| Sha1::digest(p).to_vec())
        .collect();
    let v2: Vec<[u8; 32]> = data
        .chunks(piece_length as usize)
        .map(|piece| {
            let blocks: Vec<[u8; 32]> = piece
                .chunks(16384)
                .map(|b| Sha256::digest(b).into())
                .collect();
            crate::torrent::create::v2_piece_hash(&blocks, piece_length, false)
        })
        .collect();
    FileTorrent {
        format: Format::Hybrid,
        info: SingleFileInfo {
            name: "h.bin".into(),
            length: data.len() as u64,
            piece_length,
            pieces: v1,
            private: false,
        },
        v2: Some(V2Hashes::from_piece_hashes(&v2, piece_length)),
    }
    .encode(&Metadata::default())
    .unwrap()
}

#[test]
fn a_hybrid_is_held_under_both_hashes_until_its_file_goes() {
    let dir = Scratch::new("hybrid");
    let bytes = hybrid_bytes();
    std::fs::write(dir.0.join("h.torrent"), &bytes).unwrap();
    std::fs::write(dir.0.join("a.torrent"), torrent_bytes("a", 10)).unwrap();
    let meta = Metainfo::from_bytes(&bytes).unwrap();
    let v1 = meta.info_hash();
    let v2 = InfoHash::from_bytes(crate::torrent::create::truncate_v2(
        &meta.info_hash_v2().unwrap(),
    ));

    let mut registry = Registry::new();
    let report = registry.scan(&dir.0);
    assert_eq!(report.added.len(), 2, "{:?}", report.failed);
    assert_eq!(registry.len(), 2, "one entry per torrent, not per hash");
    assert_eq!(registry.get(&v2).map(|e| e.info_hash), Some(v1));
    assert_eq!(registry.v2_alias_of(&v1), Some(v2));
    let announced: Vec<InfoHash> = registry.announce_hashes().map(|(h, _)| h).collect();
    assert_eq!(announced.len(), 3);
    assert!(announced.contains(&v1) && announced.contains(&v2));
    // Metadata asked for by the v2 hash is the same info dictionary.
    let piece = registry.read_metadata_piece(&v2, 0).unwrap();
    assert_eq!(piece, meta.info_bytes());

    std::fs::remove_file(dir.0.join("h.torrent")).unwrap();
    let gone = registry.scan(&dir.0);
    assert_eq!(gone.removed, vec![v1]);
    assert!(registry.get(&v2).is_none());
    assert_eq!(registry.announce_hashes().count(), 1);
}

#[test]
fn a_second_copy_of_a_torrent_is_reported_and_the_first_served() {
    let dir = Scratch::new("copies");
    std::fs::create_dir_all(dir.0.join("sub")).unwrap();
    let bytes = torrent_bytes("same", 10);
    std::fs::write(dir.0.join("one.torrent"), &bytes).unwrap();
    std::fs::write(dir.0.join("sub/two.torrent"), &bytes).unwrap();
    let mut registry = Registry::new();
    let report = registry.scan(&dir.0);
    assert_eq!(report.added.len(), 1);
    assert_eq!(report.failed.len(), 1);
    assert!(
        report.failed[0].1.contains("same torrent as"),
        "{:?}",
        report.failed
    );
    // Not reported again while unchanged.
    let again = registry.scan(&dir.0);
    assert!(again.failed.is_empty() && again.added.is_empty() && again.removed.is_empty());
}
