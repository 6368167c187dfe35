use super::decode::{decode_response, Response};
use super::encode::{fault_response, method_call, method_response};
use super::value::Value;

fn round_trip(v: &Value) -> Value {
    match decode_response(method_response(v).as_bytes()).unwrap() {
        Response::Value(v) => v,
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_type_round_trips() {
    let values = [
        Value::Int(0),
        Value::Int(-7),
        Value::Int(1 << 40), // sizes above 2^32
        Value::Int(i64::MAX),
        Value::Int(i64::MIN),
        Value::Bool(true),
        Value::Bool(false),
        Value::str(""),
        Value::str("a <b> & \"c\" 'd' \r\n\t ünï 日本 🎉"),
        Value::Double(0.1),
        Value::Double(-1.5e300),
        Value::Base64((0..=255u8).collect()),
        Value::Base64(Vec::new()),
        Value::DateTime("20240102T03:04:05".into()),
        Value::Nil,
        Value::Array(vec![]),
        Value::Array(vec![
            Value::Int(1),
            Value::Array(vec![Value::str("x"), Value::Nil]),
        ]),
        Value::Struct(vec![
            ("a".into(), Value::Int(1)),
            ("b & c".into(), Value::Struct(vec![])),
        ]),
    ];
    for v in &values {
        assert_eq!(&round_trip(v), v);
    }
}

#[test]
fn integer_spellings_and_bare_strings() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<methodResponse>
  <params><param><value><array><data>
    <value><i4>-5</i4></value>
    <value><int>+6</int></value>
    <value><i8>5000000000</i8></value>
    <value><ex:i8 xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions">7</ex:i8></value>
    <value>bare &amp; string</value>
    <value></value>
    <value/>
    <value><string/></value>
    <value><nil/></value>
    <value><boolean> 1 </boolean></value>
    <value><base64>
      aGVs
      bG8=
    </base64></value>
    <!-- comment -->
  </data></array></value></param></params>
</methodResponse>"#;
    let Response::Value(Value::Array(items)) = decode_response(xml.as_bytes()).unwrap() else {
        panic!("not an array");
    };
    assert_eq!(
        items,
        vec![
            Value::Int(-5),
            Value::Int(6),
            Value::Int(5_000_000_000),
            Value::Int(7),
            Value::str("bare & string"),
            Value::str(""),
            Value::str(""),
            Value::str(""),
            Value::Nil,
            Value::Bool(true),
            Value::Base64(b"hello".to_vec()),
        ]
    );
}

#[test]
fn faults_become_code_and_message() {
    let xml = fault_response(-501, "Could not find info-hash.");
    assert_eq!(
        decode_response(xml.as_bytes()).unwrap(),
        Response::Fault {
            code: -501,
            message: "Could not find info-hash.".into()
        }
    );
    let bad = "<methodResponse><fault><value><struct><member><name>faultCode</name><value><i4>1</i4></value></member></struct></value></fault></methodResponse>";
    assert!(decode_response(bad.as_bytes()).is_err());
}

#[test]
fn method_calls_are_well_formed() {
    let xml = method_call(
        "load.start",
        &[Value::str(""), Value::str("/a&b.torrent"), Value::Int(3)],
    );
    assert!(xml.contains("<methodName>load.start</methodName>"));
    assert!(xml.contains("<value><string></string></value>"));
    assert!(xml.contains("/a&amp;b.torrent"));
    assert!(xml.contains("<i8>3</i8>"));
}

#[test]
fn forbidden_characters_are_replaced_on_the_way_out() {
    let xml = method_call("d.custom1.set", &[Value::str("a\u{1}b")]);
    assert!(xml.contains("a\u{FFFD}b"));
    assert!(!xml.contains('\u{1}'));
}

#[test]
fn non_utf8_and_forbidden_references_keep_the_rest() {
    let mut xml = b"<methodResponse><params><param><value><array><data><value><string>bad\xff\xfename</string></value><value>ctl&#1;&#0;&#xD800;&bogus;</value><value><i8>42</i8></value></data></array></value></param></params></methodResponse>".to_vec();
    let Response::Value(Value::Array(items)) = decode_response(&xml).unwrap() else {
        panic!()
    };
    assert_eq!(items[0], Value::str("bad\u{FFFD}\u{FFFD}name"));
    assert_eq!(items[1], Value::str("ctl\u{1}\u{FFFD}\u{FFFD}&bogus;"));
    assert_eq!(items[2], Value::Int(42));
    // raw control bytes in text are kept too
    xml = b"<methodResponse><params><param><value>a\x01b</value></param></params></methodResponse>"
        .to_vec();
    assert_eq!(
        decode_response(&xml).unwrap(),
        Response::Value(Value::str("a\u{1}b"))
    );
}

#[test]
fn malformed_and_truncated_documents_are_errors() {
    let full = method_response(&Value::Array(vec![Value::Int(1), Value::str("x")]));
    for cut in 0..full.len() - 2 {
        assert!(
            decode_response(&full.as_bytes()[..cut]).is_err(),
            "cut at {cut}: {}",
            &full[..cut]
        );
    }
    let cases = [
        "",
        "not xml",
        "<methodResponse></methodResponse>",
        "<methodResponse><params><param><value><i4>12x</i4></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><i8>99999999999999999999</i8></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><boolean>2</boolean></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><double>nan</double></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><base64>!!</base64></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><blob>1</blob></value></param></params></methodResponse>",
        "<methodResponse><params><param><value>x<i4>1</i4></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><i4>1</i4></value></param></params></methodResponse><extra/>",
        "<methodResponse><params><param><value><i4>1</i8></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><array><value>1</value></array></value></param></params></methodResponse>",
        "<methodResponse><params><param><value><struct><member><value>1</value></member></struct></value></param></params></methodResponse>",
    ];
    for xml in cases {
        assert!(decode_response(xml.as_bytes()).is_err(), "{xml}");
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let depth = 10_000;
    let mut xml = String::from("<methodResponse><params><param>");
    for _ in 0..depth {
        xml.push_str("<value><array><data>");
    }
    let e = decode_response(xml.as_bytes()).unwrap_err();
    assert!(e.reason.contains("nested"), "{e}");
}

#[test]
fn huge_array_of_big_sizes() {
    let rows: Vec<Value> = (0..2000)
        .map(|i| {
            Value::Array(vec![
                Value::str(format!("{i:040X}")),
                Value::Int((1 << 33) + i),
            ])
        })
        .collect();
    let v = Value::Array(rows);
    assert_eq!(round_trip(&v), v);
}
