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
