use std::net::SocketAddr;

use super::*;

fn id(b: u8) -> NodeId {
    NodeId([b; 20])
}

fn hash(b: u8) -> InfoHash {
    InfoHash::from_bytes([b; 20])
}

#[test]
fn decodes_the_bep5_examples() {
    let ping = decode(b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe").unwrap();
    assert_eq!(ping.transaction, b"aa");
    assert_eq!(
        ping.body,
        Body::Query(Query::Ping {
            id: NodeId(*b"abcdefghij0123456789")
        })
    );
    let announce = decode(
        b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
    )
    .unwrap();
    assert_eq!(
        announce.body,
        Body::Query(Query::AnnouncePeer {
            id: NodeId(*b"abcdefghij0123456789"),
            info_hash: InfoHash::from_bytes(*b"mnopqrstuvwxyz123456"),
            port: 6881,
            token: b"aoeusnth".to_vec(),
            implied_port: true,
        })
    );
    let values = decode(b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re").unwrap();
    let Body::Response(r) = values.body else {
        panic!("not a response")
    };
    assert_eq!(r.token.as_deref(), Some(&b"aoeusnth"[..]));
    assert_eq!(r.values.len(), 2);
    assert_eq!(r.values[0].port(), u16::from_be_bytes(*b".u"));
    let error = decode(b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee").unwrap();
    assert_eq!(
        error.body,
        Body::Error {
            code: 201,
            message: "A Generic Error Ocurred".into()
        }
    );
}

#[test]
fn accepts_unsorted_keys_and_unknown_methods() {
    let m = decode(b"d1:y1:q1:t1:x1:q6:sample1:ad2:id20:abcdefghij0123456789ee").unwrap();
    assert_eq!(
        m.body,
        Body::Query(Query::Unknown {
            id: NodeId(*b"abcdefghij0123456789"),
            method: "sample".into()
        })
    );
}

#[test]
fn every_message_round_trips() {
    let addr: SocketAddr = "127.0.0.1:6881".parse().unwrap();
    let addr6: SocketAddr = "[::1]:6881".parse().unwrap();
    let bodies = vec![
        Body::Query(Query::Ping { id: id(1) }),
        Body::Query(Query::FindNode {
            id: id(1),
            target: id(2),
            want: Want::default(),
        }),
        Body::Query(Query::FindNode {
            id: id(1),
            target: id(2),
            want: Want { n4: true, n6: true },
        }),
        Body::Query(Query::GetPeers {
            id: id(1),
            info_hash: hash(3),
            want: Want {
                n4: false,
                n6: true,
            },
        }),
        Body::Query(Query::AnnouncePeer {
            id: id(1),
            info_hash: hash(3),
            port: 51413,
            token: vec![9; 8],
            implied_port: false,
        }),
        Body::Response(Response {
            id: Some(id(4)),
            nodes: vec![NodeInfo { id: id(5), addr }],
            nodes6: vec![NodeInfo {
                id: id(6),
                addr: addr6,
            }],
            values: vec![addr, addr6],
            token: Some(vec![1, 2]),
        }),
        Body::Response(Response {
            id: Some(id(4)),
            ..Response::default()
        }),
        Body::Error {
            code: ERROR_METHOD_UNKNOWN,
            message: "Method Unknown".into(),
        },
    ];
    for body in bodies {
        // Replies say where they saw us (BEP 42); other messages do not.
        let ip = matches!(body, Body::Response(_)).then_some(addr6);
        let m = Message {
            transaction: vec![0, 7],
            body,
            ip,
        };
        let bytes = encode(&m);
        assert_eq!(
            decode(&bytes).unwrap(),
            m,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn ipv6_values_nodes6_and_the_ip_field_are_read() {
    let m = decode(
        b"d2:ip6:\x01\x02\x03\x04\x1a\xe11:rd2:id20:abcdefghij01234567896:nodes638:ABCDEFGHIJ0123456789\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x1a\xe16:valuesl18:aaaaaaaaaaaaaaaaaa6:axje.uee1:t2:aa1:y1:re",
    )
    .unwrap();
    assert_eq!(m.ip, Some("1.2.3.4:6881".parse().unwrap()));
    let Body::Response(r) = m.body else { panic!() };
    assert_eq!(r.values.len(), 2);
    assert!(r.values[0].is_ipv6() && r.values[1].is_ipv4());
    assert_eq!(
        r.nodes6,
        vec![NodeInfo {
            id: NodeId(*b"ABCDEFGHIJ0123456789"),
            addr: "[2001:db8::1]:6881".parse().unwrap()
        }]
    );
    // A broken `ip` is advice lost, not an answer lost.
    let m = decode(b"d2:ip3:abc1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re").unwrap();
    assert_eq!(m.ip, None);
    assert!(matches!(m.body, Body::Response(_)));
}

#[test]
fn errors_name_the_field() {
    let long_t = format!("d1:t65:{}1:y1:qe", "x".repeat(65));
    let cases: Vec<(Vec<u8>, KrpcError)> = vec![
        (b"d1:t".to_vec(), KrpcError::Bencode(BencodeError::Truncated)),
        (b"le".to_vec(), KrpcError::NotADictionary),
        (b"d1:y1:qe".to_vec(), KrpcError::Missing("t")),
        (
            b"d1:ti1e1:y1:qe".to_vec(),
            KrpcError::WrongType {
                field: "t",
                expected: "a string",
            },
        ),
        (
            long_t.into_bytes(),
            KrpcError::BadLength { field: "t", len: 65 },
        ),
        (b"d1:t2:aae".to_vec(), KrpcError::Missing("y")),
        (b"d1:t2:aa1:y1:ze".to_vec(), KrpcError::UnknownKind("z".into())),
        (b"d1:t2:aa1:y1:qe".to_vec(), KrpcError::Missing("q")),
        (b"d1:q4:ping1:t2:aa1:y1:qe".to_vec(), KrpcError::Missing("a")),
        (
            b"d1:ai1e1:q4:ping1:t2:aa1:y1:qe".to_vec(),
            KrpcError::WrongType {
                field: "a",
                expected: "a dictionary",
            },
        ),
        (b"d1:ade1:q4:ping1:t2:aa1:y1:qe".to_vec(), KrpcError::Missing("a.id")),
        (
            b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe".to_vec(),
            KrpcError::BadLength {
                field: "a.id",
                len: 3,
            },
        ),
        (
            b"d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe".to_vec(),
            KrpcError::Missing("a.target"),
        ),
        (
            b"d1:ad2:id20:abcdefghij0123456789e1:q9:get_peers1:t2:aa1:y1:qe".to_vec(),
            KrpcError::Missing("a.info_hash"),
        ),
        (
            b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234565:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe".to_vec(),
            KrpcError::Missing("a.port"),
        ),
        (
            b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti70000e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe".to_vec(),
            KrpcError::BadPort(70000),
        ),
        (
            b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:port1:x5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe".to_vec(),
            KrpcError::WrongType {
                field: "a.port",
                expected: "an integer",
            },
        ),
        (
            b"d1:ad2:id20:abcdefghij012345678912:implied_port1:x9:info_hash20:mnopqrstuvwxyz1234564:porti1e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe".to_vec(),
            KrpcError::WrongType {
                field: "a.implied_port",
                expected: "an integer",
            },
        ),
        (
            b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti1ee1:q13:announce_peer1:t2:aa1:y1:qe".to_vec(),
            KrpcError::Missing("a.token"),
        ),
        (b"d1:t2:aa1:y1:re".to_vec(), KrpcError::Missing("r")),
        (
            b"d1:r1:x1:t2:aa1:y1:re".to_vec(),
            KrpcError::WrongType {
                field: "r",
                expected: "a dictionary",
            },
        ),
        (b"d1:rde1:t2:aa1:y1:re".to_vec(), KrpcError::Missing("r.id")),
        (
            b"d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re".to_vec(),
            KrpcError::BadLength {
                field: "r.nodes",
                len: 3,
            },
        ),
        (
            b"d1:rd2:id20:abcdefghij01234567896:nodes626:abcdefghij0123456789abcdefe1:t2:aa1:y1:re".to_vec(),
            KrpcError::BadLength {
                field: "r.nodes6",
                len: 26,
            },
        ),
        (
            b"d1:ad2:id20:abcdefghij01234567896:target20:abcdefghij01234567894:want2:n4e1:q9:find_node1:t2:aa1:y1:qe".to_vec(),
            KrpcError::WrongType {
                field: "a.want",
                expected: "a list",
            },
        ),
        (
            b"d1:ad2:id20:abcdefghij01234567896:target20:abcdefghij01234567894:wantli4eee1:q9:find_node1:t2:aa1:y1:qe".to_vec(),
            KrpcError::WrongType {
                field: "a.want",
                expected: "a list of strings",
            },
        ),
        (
            b"d1:rd2:id20:abcdefghij01234567895:nodesi1ee1:t2:aa1:y1:re".to_vec(),
            KrpcError::WrongType {
                field: "r.nodes",
                expected: "a string",
            },
        ),
        (
            b"d1:rd2:id20:abcdefghij01234567896:values1:xe1:t2:aa1:y1:re".to_vec(),
            KrpcError::WrongType {
                field: "r.values",
                expected: "a list",
            },
        ),
        (
            b"d1:rd2:id20:abcdefghij01234567896:valuesli1eee1:t2:aa1:y1:re".to_vec(),
            KrpcError::WrongType {
                field: "r.values",
                expected: "a list of strings",
            },
        ),
        (
            b"d1:rd2:id20:abcdefghij01234567896:valuesl3:abcee1:t2:aa1:y1:re".to_vec(),
            KrpcError::BadLength {
                field: "r.values",
                len: 3,
            },
        ),
        (
            b"d1:rd2:id20:abcdefghij01234567895:tokeni1ee1:t2:aa1:y1:re".to_vec(),
            KrpcError::WrongType {
                field: "r.token",
                expected: "a string",
            },
        ),
        (b"d1:t2:aa1:y1:ee".to_vec(), KrpcError::Missing("e")),
        (
            b"d1:e1:x1:t2:aa1:y1:ee".to_vec(),
            KrpcError::WrongType {
                field: "e",
                expected: "a list",
            },
        ),
        (
            b"d1:ele1:t2:aa1:y1:ee".to_vec(),
            KrpcError::WrongType {
                field: "e",
                expected: "a list of a code and a message",
            },
        ),
    ];
    for (input, want) in cases {
        let got = decode(&input);
        assert_eq!(
            got,
            Err(want.clone()),
            "{}",
            String::from_utf8_lossy(&input)
        );
        assert!(!want.to_string().is_empty());
    }
}
