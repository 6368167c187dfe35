//! The state machine driven by byte strings, as a peer would send them.

use super::*;
use crate::fish::wire::message::{Block, REJECT_REQUEST};
use crate::fish::wire::metadata::ExtensionHandshake;

const OURS: [u8; 20] = *b"-LS0001-ourpeerid123";
const THEIRS: [u8; 20] = *b"-LT2080-theirpeerid1";
const HELD: InfoHash = InfoHash::from_bytes([0xaa; 20]);
const SIZE: u32 = 20_000;

struct OneTorrent;
impl Swarms for OneTorrent {
    fn metadata_size(&self, info_hash: &InfoHash) -> Option<u32> {
        (*info_hash == HELD).then_some(SIZE)
    }
}

fn config() -> SessionConfig {
    SessionConfig {
        peer_id: OURS,
        listen_port: 6881,
        dht_port: None,
    }
}

fn their_handshake(hash: InfoHash, ext: bool, fast: bool, peer_id: [u8; 20]) -> Vec<u8> {
    let mut hs = Handshake::ours(hash, peer_id, false);
    if !ext {
        hs.reserved[5] = 0;
    }
    if !fast {
        hs.reserved[7] = 0;
    }
    hs.encode().to_vec()
}

fn msg(m: Message) -> Vec<u8> {
    let mut out = Vec::new();
    encode(&m, &mut out);
    out
}

fn ext_handshake(ut_metadata: u8) -> Vec<u8> {
    let payload = format!("d1:md11:ut_metadatai{ut_metadata}eee");
    msg(Message::Extended {
        id: 0,
        payload: payload.as_bytes(),
    })
}

fn metadata_request(piece: u32) -> Vec<u8> {
    let payload = encode_metadata_message(&MetadataMessage::Request { piece });
    msg(Message::Extended {
        id: OUR_UT_METADATA_ID,
        payload: &payload,
    })
}

/// Feeds everything, returns the actions; asserts all bytes were used
/// unless the session closed.
fn run(session: &mut Session, input: &[u8]) -> Vec<Action> {
    let mut actions = Vec::new();
    let used = session.feed(input, &OneTorrent, &mut actions);
    if !matches!(actions.last(), Some(Action::Close(_))) {
        assert_eq!(used, input.len());
    }
    actions
}

fn sent(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(b) => Some(b.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Splits sent bytes into messages (after our 68-byte handshake).
fn messages(bytes: &[u8]) -> Vec<Message<'_>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Ok(Frame::Message(m, used)) = decode_frame(rest) {
        out.push(m);
        rest = &rest[used..];
    }
    assert!(rest.is_empty(), "undecodable tail {rest:?}");
    out
}

#[test]
fn incoming_handshake_is_answered_with_extensions_and_have_none() {
    let mut s = Session::incoming(config());
    let actions = run(&mut s, &their_handshake(HELD, true, true, THEIRS));
    assert!(actions.contains(&Action::Established { info_hash: HELD }));
    let out = sent(&actions);
    let ours = Handshake::decode(&out).unwrap().unwrap();
    assert_eq!(ours.info_hash, HELD);
    assert_eq!(ours.peer_id, OURS);
    assert!(ours.supports_extensions() && ours.supports_fast());
    let rest = messages(&out[68..]);
    let Message::Extended { id: 0, payload } = &rest[0] else {
        panic!("{rest:?}")
    };
    let ext = crate::fish::wire::metadata::decode_extension_handshake(payload).unwrap();
    assert_eq!(
        ext,
        ExtensionHandshake {
            ut_metadata: Some(OUR_UT_METADATA_ID),
            metadata_size: Some(SIZE),
            client: ext.client.clone(),
            yourip: None,
        }
    );
    assert_eq!(rest[1], Message::HaveNone);
    assert_eq!(rest.len(), 2);
}

#[test]
fn plain_peers_get_neither_extension_handshake_nor_have_none() {
    let mut s = Session::incoming(config());
    let out = sent(&run(&mut s, &their_handshake(HELD, false, false, THEIRS)));
    assert_eq!(out.len(), 68);
}

#[test]
fn handshake_in_single_bytes() {
    let mut s = Session::incoming(config());
    let hs = their_handshake(HELD, true, true, THEIRS);
    let mut buf = Vec::new();
    let mut all = Vec::new();
    for byte in hs {
        buf.push(byte);
        let mut actions = Vec::new();
        let used = s.feed(&buf, &OneTorrent, &mut actions);
        buf.drain(..used);
        all.extend(actions);
    }
    assert!(s.is_established());
    assert!(all.contains(&Action::Established { info_hash: HELD }));
}

#[test]
fn unknown_torrent_self_and_garbage_are_closed() {
    let other = InfoHash::from_bytes([1; 20]);
    let mut s = Session::incoming(config());
    assert_eq!(
        run(&mut s, &their_handshake(other, true, true, THEIRS)),
        vec![Action::Close(CloseReason::UnknownTorrent(other))]
    );
    let mut s = Session::incoming(config());
    assert_eq!(
        run(&mut s, &their_handshake(HELD, true, true, OURS)),
        vec![Action::Close(CloseReason::OwnPeerId)]
    );
    let mut s = Session::incoming(config());
    assert_eq!(
        run(&mut s, b"GET /announce HTTP/1.0\r\n"),
        vec![Action::Close(CloseReason::Wire(WireError::NotBitTorrent))]
    );
}

fn established(fast: bool) -> Session {
    let mut s = Session::incoming(config());
    run(&mut s, &their_handshake(HELD, true, fast, THEIRS));
    run(&mut s, &ext_handshake(2));
    s
}

#[test]
fn metadata_requests_in_range_are_served_out_of_range_rejected() {
    let mut s = established(true);
    assert_eq!(
        run(&mut s, &metadata_request(1)),
        vec![Action::ServeMetadataPiece { piece: 1 }]
    );
    let actions = run(&mut s, &metadata_request(2));
    let out = sent(&actions);
    let m = messages(&out);
    let Message::Extended { id: 2, payload } = &m[0] else {
        panic!("{m:?}")
    };
    assert_eq!(
        decode_metadata_message(payload).unwrap(),
        MetadataMessage::Reject { piece: 2 }
    );
    // The data message the shell sends goes under the peer's id.
    let data = s.metadata_piece(1, b"abc").unwrap();
    let m = messages(&data);
    let Message::Extended { id: 2, payload } = &m[0] else {
        panic!("{m:?}")
    };
    assert_eq!(
        decode_metadata_message(payload).unwrap(),
        MetadataMessage::Data {
            piece: 1,
            total_size: SIZE,
            data: b"abc"
        }
    );
}

#[test]
fn metadata_request_flood_is_closed() {
    let mut s = established(true);
    let mut closed = false;
    for _ in 0..100 {
        if run(&mut s, &metadata_request(0)).contains(&Action::Close(CloseReason::TooManyRequests))
        {
            closed = true;
            break;
        }
    }
    assert!(closed);
}

#[test]
fn piece_requests_are_rejected_with_fast_and_ignored_without() {
    let block = Block {
        index: 0,
        begin: 0,
        length: 16384,
    };
    let mut s = established(true);
    let out = sent(&run(&mut s, &msg(Message::Request(block))));
    assert_eq!(out[4], REJECT_REQUEST);
    assert_eq!(messages(&out), vec![Message::RejectRequest(block)]);
    let mut s = established(false);
    assert_eq!(run(&mut s, &msg(Message::Request(block))), vec![]);
}

#[test]
fn oversized_bitfield_is_skipped_then_messages_continue() {
    let mut s = established(true);
    let mut big = msg(Message::Bitfield(&vec![0xff; 100_000]));
    big.extend(metadata_request(0));
    // Delivered in chunks, as a socket would.
    let mut buf = Vec::new();
    let mut actions = Vec::new();
    for chunk in big.chunks(4096) {
        buf.extend_from_slice(chunk);
        let used = s.feed(&buf, &OneTorrent, &mut actions);
        buf.drain(..used);
        assert!(buf.len() < 20_000, "buffered {}", buf.len());
    }
    assert_eq!(actions, vec![Action::ServeMetadataPiece { piece: 0 }]);
}

#[test]
fn four_gigabyte_prefix_is_closed() {
    let mut s = established(true);
    let actions = run(&mut s, &[0xff, 0xff, 0xff, 0xff, 7]);
    assert!(matches!(
        actions.as_slice(),
        [Action::Close(CloseReason::Wire(WireError::TooLong { .. }))]
    ));
}

#[test]
fn outgoing_checks_the_answer() {
    let (mut s, first) = Session::outgoing(config(), HELD, None);
    assert_eq!(Handshake::decode(&first).unwrap().unwrap().info_hash, HELD);
    let mut reply = their_handshake(HELD, true, true, THEIRS);
    reply.extend(msg(Message::Extended {
        id: 0,
        payload: b"d1:md11:ut_metadatai5ee13:metadata_sizei999ee",
    }));
    let actions = run(&mut s, &reply);
    assert!(actions.contains(&Action::PeerHasMetadata { size: 999 }));
    assert!(s.peer_serves_metadata());
    let request = s.metadata_request(0).unwrap();
    assert_eq!(request[5], 5);

    let (mut s, _) = Session::outgoing(config(), HELD, None);
    let other = InfoHash::from_bytes([3; 20]);
    assert_eq!(
        run(&mut s, &their_handshake(other, true, true, THEIRS)),
        vec![Action::Close(CloseReason::WrongInfoHash(other))]
    );
}

#[test]
fn answering_claims_no_metadata_and_checks_the_hash() {
    let adopting = InfoHash::from_bytes([0xbb; 20]);
    let mut s = Session::answering(config(), adopting);
    // The session asks no swarm: it already knows what it answers for.
    let mut input = their_handshake(adopting, true, true, THEIRS);
    input.extend(metadata_request(0));
    let actions = run(&mut s, &input);
    assert!(actions.contains(&Action::Established {
        info_hash: adopting
    }));
    let out = sent(&actions);
    let ours = Handshake::decode(&out).unwrap().unwrap();
    assert_eq!(ours.info_hash, adopting);
    let rest = messages(&out[68..]);
    let Message::Extended { id: 0, payload } = &rest[0] else {
        panic!("{rest:?}")
    };
    let ext = crate::fish::wire::metadata::decode_extension_handshake(payload).unwrap();
    assert_eq!(ext.ut_metadata, Some(OUR_UT_METADATA_ID));
    assert_eq!(ext.metadata_size, None, "we must not claim metadata");
    assert_eq!(rest[1], Message::HaveNone);
    // Their request before their extension handshake: nothing to serve,
    // and no id to reject it under.
    assert_eq!(rest.len(), 2);
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::ServeMetadataPiece { .. })));
    let more = run(&mut s, &[ext_handshake(3), metadata_request(0)].concat());
    let reply = sent(&more);
    assert!(matches!(
        messages(&reply).as_slice(),
        [Message::Extended { id: 3, .. }]
    ));
    assert!(!more
        .iter()
        .any(|a| matches!(a, Action::ServeMetadataPiece { .. })));

    let mut s = Session::answering(config(), adopting);
    assert_eq!(
        run(&mut s, &their_handshake(HELD, true, true, THEIRS)),
        vec![Action::Close(CloseReason::WrongInfoHash(HELD))]
    );
}

#[test]
fn timers() {
    let s = Session::incoming(config());
    let sec = Duration::from_secs;
    assert_eq!(s.timer(sec(5), sec(0), sec(5)), TimerDecision::Nothing);
    assert_eq!(
        s.timer(sec(21), sec(0), sec(0)),
        TimerDecision::Close(CloseReason::HandshakeTimeout)
    );
    let s = established(true);
    assert_eq!(s.timer(sec(500), sec(10), sec(10)), TimerDecision::Nothing);
    assert_eq!(
        s.timer(sec(500), sec(10), sec(95)),
        TimerDecision::KeepAlive
    );
    assert_eq!(
        s.timer(sec(500), sec(201), sec(0)),
        TimerDecision::Close(CloseReason::Idle)
    );
}
