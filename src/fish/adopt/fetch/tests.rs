//! The fetch driven by byte strings, as a peer would send them.

use super::*;
use crate::fish::wire::metadata::{
    decode_metadata_message, encode_metadata_message, MetadataMessage, OUR_UT_METADATA_ID,
};
use crate::fish::wire::{decode_frame, encode, Frame, Handshake, Message};

const OURS: [u8; 20] = *b"-LS0100-ourpeerid123";
const THEIRS: [u8; 20] = *b"-LT2080-theirpeerid1";
/// The id the peer wants its ut_metadata messages under.
const THEIR_ID: u8 = 2;

fn config() -> SessionConfig {
    SessionConfig {
        peer_id: OURS,
        listen_port: 6881,
        dht_port: None,
    }
}

/// An info dictionary of `len` bytes (a bencoded string padded to size).
fn info(len: usize) -> Vec<u8> {
    let head = b"d4:name1:x6:pieces";
    let inner = len - head.len() - 1;
    let digits = inner.to_string().len();
    let body = inner - digits - 1;
    let mut out = head.to_vec();
    out.extend_from_slice(format!("{body}:").as_bytes());
    out.extend(std::iter::repeat_n(b'p', body));
    out.push(b'e');
    assert_eq!(out.len(), len);
    out
}

fn handshake(hash: InfoHash, ext: bool) -> Vec<u8> {
    let mut hs = Handshake::ours(hash, THEIRS, false);
    if !ext {
        hs.reserved[5] = 0;
    }
    hs.encode().to_vec()
}

fn msg(m: Message) -> Vec<u8> {
    let mut out = Vec::new();
    encode(&m, &mut out);
    out
}

fn ext_handshake(payload: &str) -> Vec<u8> {
    msg(Message::Extended {
        id: 0,
        payload: payload.as_bytes(),
    })
}

fn with_size(size: usize) -> Vec<u8> {
    ext_handshake(&format!(
        "d1:md11:ut_metadatai{THEIR_ID}ee13:metadata_sizei{size}ee"
    ))
}

fn data(piece: u32, total_size: u32, bytes: &[u8]) -> Vec<u8> {
    let payload = encode_metadata_message(&MetadataMessage::Data {
        piece,
        total_size,
        data: bytes,
    });
    msg(Message::Extended {
        id: OUR_UT_METADATA_ID,
        payload: &payload,
    })
}

fn reject(piece: u32) -> Vec<u8> {
    let payload = encode_metadata_message(&MetadataMessage::Reject { piece });
    msg(Message::Extended {
        id: OUR_UT_METADATA_ID,
        payload: &payload,
    })
}

/// The pieces we asked for in `sent` bytes (messages only).
fn requested(sent: &[u8]) -> Vec<u32> {
    let mut rest = sent;
    let mut out = Vec::new();
    while let Ok(Frame::Message(m, used)) = decode_frame(rest) {
        if let Message::Extended { id, payload } = m {
            if id == THEIR_ID {
                if let Ok(MetadataMessage::Request { piece }) = decode_metadata_message(payload) {
                    out.push(piece);
                }
            }
        }
        rest = &rest[used..];
    }
    out
}

/// A fetch past both handshakes for metadata `meta`; returns it and the
/// pieces it asked for.
fn started(meta: &[u8]) -> (MetadataFetch, Vec<u32>) {
    let hash = InfoHash::of_info_bytes(meta);
    let (mut fetch, first) = MetadataFetch::start(config(), hash);
    let ours = Handshake::decode(&first).unwrap().unwrap();
    assert_eq!(ours.info_hash, hash);
    assert!(ours.supports_extensions());
    let mut input = handshake(hash, true);
    input.extend(with_size(meta.len()));
    let mut out = Vec::new();
    assert_eq!(fetch.receive(&input, &mut out), Ok(Progress::Pending));
    assert_eq!(fetch.size(), Some(meta.len() as u32));
    let asked = requested(&out[..]);
    (fetch, asked)
}

fn piece_of(meta: &[u8], piece: u32) -> &[u8] {
    let r = piece_range(meta.len() as u32, piece).unwrap();
    &meta[r.start as usize..r.end as usize]
}

#[test]
fn fetches_several_pieces_in_any_order_and_chunking() {
    let meta = info(5 * 16384 + 100);
    let (mut fetch, asked) = started(&meta);
    assert_eq!(asked, vec![0, 1, 2, 3]);
    let size = meta.len() as u32;
    // Answers in reverse order, delivered a byte at a time.
    let mut wire = Vec::new();
    for p in [3, 1, 2, 0] {
        wire.extend(data(p, size, piece_of(&meta, p)));
    }
    let mut out = Vec::new();
    for b in &wire {
        assert_eq!(fetch.receive(&[*b], &mut out), Ok(Progress::Pending));
    }
    assert_eq!(requested(&out), vec![4, 5]);
    let mut out = Vec::new();
    let mut last = fetch.receive(&data(5, size, piece_of(&meta, 5)), &mut out);
    assert_eq!(last, Ok(Progress::Pending));
    last = fetch.receive(&data(4, size, piece_of(&meta, 4)), &mut out);
    assert_eq!(last, Ok(Progress::Done(meta.clone())));
    assert_eq!(
        fetch.receive(b"x", &mut Vec::new()),
        Err(FetchError::Finished)
    );
}

#[test]
fn one_piece_metadata() {
    let meta = info(300);
    let (mut fetch, asked) = started(&meta);
    assert_eq!(asked, vec![0]);
    let got = fetch.receive(&data(0, 300, &meta), &mut Vec::new());
    assert_eq!(got, Ok(Progress::Done(meta)));
}

#[test]
fn metadata_that_does_not_hash_to_the_info_hash_is_refused() {
    let meta = info(300);
    let (mut fetch, _) = started(&meta);
    let mut wrong = meta.clone();
    wrong[10] ^= 1;
    let got = fetch.receive(&data(0, 300, &wrong), &mut Vec::new());
    let err = got.unwrap_err();
    assert_eq!(
        err,
        FetchError::HashMismatch(InfoHash::of_info_bytes(&wrong))
    );
    assert!(err.peer_is_bad());
}

#[test]
fn each_error_case() {
    let meta = info(20_000);
    let hash = InfoHash::of_info_bytes(&meta);
    let size = meta.len() as u32;
    let other = InfoHash::from_bytes([9; 20]);
    // (what the peer sends after our handshake, the error, bad peer?)
    let cases: Vec<(&str, Vec<u8>, FetchError, bool)> = vec![
        (
            "another info-hash",
            handshake(other, true),
            FetchError::Wire(CloseReason::WrongInfoHash(other)),
            true,
        ),
        (
            "no extension bit",
            handshake(hash, false),
            FetchError::NoExtensionProtocol,
            true,
        ),
        (
            "not BitTorrent",
            b"HTTP/1.1 400 Bad Request\r\n".to_vec(),
            FetchError::Wire(CloseReason::Wire(
                crate::fish::wire::WireError::NotBitTorrent,
            )),
            true,
        ),
        (
            "no ut_metadata",
            [handshake(hash, true), ext_handshake("d1:md6:ut_pexi1eee")].concat(),
            FetchError::NoMetadata,
            false,
        ),
        (
            "ut_metadata but no size",
            [
                handshake(hash, true),
                ext_handshake("d1:md11:ut_metadatai2eee"),
            ]
            .concat(),
            FetchError::NoMetadata,
            false,
        ),
        (
            "size without ut_metadata",
            [
                handshake(hash, true),
                ext_handshake("d13:metadata_sizei300ee"),
            ]
            .concat(),
            FetchError::NoMetadata,
            false,
        ),
        (
            "too large",
            [handshake(hash, true), with_size(20 << 20)].concat(),
            FetchError::TooLarge(20 << 20),
            true,
        ),
        (
            "size changed",
            [handshake(hash, true), with_size(20_000), with_size(20_001)].concat(),
            FetchError::SizeChanged {
                was: 20_000,
                now: 20_001,
            },
            true,
        ),
        (
            "piece before any size",
            [handshake(hash, true), data(0, size, piece_of(&meta, 0))].concat(),
            FetchError::UnrequestedPiece(0),
            true,
        ),
        (
            "piece not asked for",
            [
                handshake(hash, true),
                with_size(20_000),
                data(7, size, &[0; 10]),
            ]
            .concat(),
            FetchError::UnrequestedPiece(7),
            true,
        ),
        (
            "piece twice",
            [
                handshake(hash, true),
                with_size(20_000),
                data(0, size, piece_of(&meta, 0)),
                data(0, size, piece_of(&meta, 0)),
            ]
            .concat(),
            FetchError::UnrequestedPiece(0),
            true,
        ),
        (
            "wrong total size",
            [
                handshake(hash, true),
                with_size(20_000),
                data(0, 19_999, piece_of(&meta, 0)),
            ]
            .concat(),
            FetchError::WrongTotalSize {
                piece: 0,
                claimed: 19_999,
                size,
            },
            true,
        ),
        (
            "short piece",
            [
                handshake(hash, true),
                with_size(20_000),
                data(1, size, &piece_of(&meta, 1)[1..]),
            ]
            .concat(),
            FetchError::WrongPieceLength {
                piece: 1,
                got: 20_000 - 16384 - 1,
                want: 20_000 - 16384,
            },
            true,
        ),
        (
            "rejected",
            [handshake(hash, true), with_size(20_000), reject(1)].concat(),
            FetchError::Rejected(1),
            false,
        ),
        (
            "4 GB length prefix",
            [handshake(hash, true), vec![0xff, 0xff, 0xff, 0xff, 7]].concat(),
            FetchError::Wire(CloseReason::Wire(crate::fish::wire::WireError::TooLong {
                id: 7,
                len: 0xffff_ffff,
            })),
            true,
        ),
    ];
    for (what, input, want, bad) in cases {
        let (mut fetch, _) = MetadataFetch::start(config(), hash);
        let got = fetch.receive(&input, &mut Vec::new());
        assert_eq!(got, Err(want.clone()), "{what}");
        assert_eq!(want.peer_is_bad(), bad, "{what}");
        assert!(!want.to_string().is_empty());
    }
}

#[test]
fn ourselves_is_not_a_bad_peer() {
    let meta = info(300);
    let hash = InfoHash::of_info_bytes(&meta);
    let (mut fetch, first) = MetadataFetch::start(config(), hash);
    let got = fetch.receive(&first, &mut Vec::new()).unwrap_err();
    assert_eq!(got, FetchError::Wire(CloseReason::OwnPeerId));
    assert!(!got.peer_is_bad());
}

#[test]
fn other_messages_are_ignored() {
    let meta = info(300);
    let (mut fetch, _) = started(&meta);
    let mut input = msg(Message::HaveAll);
    input.extend(msg(Message::Unchoke));
    input.extend(msg(Message::KeepAlive));
    input.extend(msg(Message::Request(crate::fish::wire::Block {
        index: 0,
        begin: 0,
        length: 16384,
    })));
    let mut out = Vec::new();
    assert_eq!(fetch.receive(&input, &mut out), Ok(Progress::Pending));
    assert_eq!(
        fetch.receive(&data(0, 300, &meta), &mut out),
        Ok(Progress::Done(meta))
    );
}

#[test]
fn a_peer_that_dialled_us_is_answered_and_fetched_from() {
    let meta = info(16384 + 500);
    let hash = InfoHash::of_info_bytes(&meta);
    let size = meta.len() as u32;
    let mut fetch = MetadataFetch::answering(config(), hash);
    // Their handshake and extension handshake arrive together.
    let mut out = Vec::new();
    let input = [handshake(hash, true), with_size(meta.len())].concat();
    assert_eq!(fetch.receive(&input, &mut out), Ok(Progress::Pending));
    let ours = Handshake::decode(&out).unwrap().unwrap();
    assert_eq!((ours.info_hash, ours.peer_id), (hash, OURS));
    let Ok(Frame::Message(Message::Extended { id: 0, payload }, _)) = decode_frame(&out[68..])
    else {
        panic!("no extension handshake after ours")
    };
    let ext = crate::fish::wire::metadata::decode_extension_handshake(payload).unwrap();
    assert_eq!(ext.metadata_size, None, "we claimed metadata we lack");
    assert_eq!(requested(&out[68..]), vec![0, 1]);
    assert!(fetch.session().is_established());
    let wire = [
        data(1, size, piece_of(&meta, 1)),
        data(0, size, piece_of(&meta, 0)),
    ]
    .concat();
    assert_eq!(
        fetch.receive(&wire, &mut Vec::new()),
        Ok(Progress::Done(meta))
    );

    // A peer that dialled us about another torrent is not asked.
    let other = InfoHash::from_bytes([9; 20]);
    let mut fetch = MetadataFetch::answering(config(), hash);
    assert_eq!(
        fetch.receive(&handshake(other, true), &mut Vec::new()),
        Err(FetchError::Wire(CloseReason::WrongInfoHash(other)))
    );
    // Nor one without metadata.
    let mut fetch = MetadataFetch::answering(config(), hash);
    let input = [
        handshake(hash, true),
        ext_handshake("d1:md11:ut_metadatai2eee"),
    ]
    .concat();
    let got = fetch.receive(&input, &mut Vec::new()).unwrap_err();
    assert_eq!(got, FetchError::NoMetadata);
    assert!(!got.peer_is_bad());
}

#[test]
fn v2_only_metadata_is_checked_by_its_truncated_sha256() {
    use sha2::{Digest, Sha256};
    let meta = info(300);
    let v2: [u8; 32] = Sha256::digest(&meta).into();
    let hash = InfoHash::from_bytes(crate::torrent::create::truncate_v2(&v2));
    assert!(hashes_to(&meta, &hash));
    assert!(hashes_to(&meta, &InfoHash::of_info_bytes(&meta)));
    let mut wrong = meta.clone();
    wrong[10] ^= 1;
    assert!(!hashes_to(&wrong, &hash));
    assert!(!hashes_to(&wrong, &InfoHash::of_info_bytes(&meta)));

    let mut fetch = MetadataFetch::answering(config(), hash);
    let input = [handshake(hash, true), with_size(300)].concat();
    assert_eq!(
        fetch.receive(&input, &mut Vec::new()),
        Ok(Progress::Pending)
    );
    assert_eq!(
        fetch.receive(&data(0, 300, &meta), &mut Vec::new()),
        Ok(Progress::Done(meta))
    );
}
