//! XML-RPC encoding: method calls (what we send) and method responses (what
//! a server sends; used by tests and the fuzz corpus).
//!
//! XML 1.0 cannot carry most control characters at all, not even as
//! character references, so a string holding one is sent with U+FFFD in its
//! place and a warning is logged: the call goes through and the log says why
//! a name looks different.

use super::value::Value;

pub fn method_call(method: &str, params: &[Value]) -> String {
    let mut out = String::with_capacity(128 + params.len() * 64);
    out.push_str("<?xml version=\"1.0\"?>\n<methodCall><methodName>");
    escape_into(&mut out, method);
    out.push_str("</methodName><params>");
    for p in params {
        out.push_str("<param>");
        value_into(&mut out, p);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>\n");
    out
}

pub fn method_response(value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodResponse><params><param>");
    value_into(&mut out, value);
    out.push_str("</param></params></methodResponse>\n");
    out
}

pub fn fault_response(code: i64, message: &str) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodResponse><fault>");
    value_into(
        &mut out,
        &Value::Struct(vec![
            ("faultCode".into(), Value::Int(code)),
            ("faultString".into(), Value::str(message)),
        ]),
    );
    out.push_str("</fault></methodResponse>\n");
    out
}

pub fn value_into(out: &mut String, value: &Value) {
    out.push_str("<value>");
    match value {
        // i8 always: rtorrent (xmlrpc-c) reads it, and sizes pass 2^31.
        Value::Int(n) => {
            out.push_str("<i8>");
            out.push_str(&n.to_string());
            out.push_str("</i8>");
        }
        Value::Bool(b) => {
            out.push_str(if *b {
                "<boolean>1</boolean>"
            } else {
                "<boolean>0</boolean>"
            });
        }
        Value::String(s) => {
            out.push_str("<string>");
            escape_into(out, s);
            out.push_str("</string>");
        }
        Value::Double(d) => {
            out.push_str("<double>");
            // `{:?}` keeps enough digits to round-trip; non-finite values
            // have no XML-RPC form, so they are sent as 0 with a warning.
            if d.is_finite() {
                out.push_str(&format!("{d:?}"));
            } else {
                log::warn!("XML-RPC cannot carry the double {d}; sending 0");
                out.push('0');
            }
            out.push_str("</double>");
        }
        Value::Base64(bytes) => {
            out.push_str("<base64>");
            out.push_str(&crate::base64::encode(bytes));
            out.push_str("</base64>");
        }
        Value::DateTime(text) => {
            out.push_str("<dateTime.iso8601>");
            escape_into(out, text);
            out.push_str("</dateTime.iso8601>");
        }
        Value::Array(items) => {
            out.push_str("<array><data>");
            for item in items {
                value_into(out, item);
            }
            out.push_str("</data></array>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>");
            for (name, v) in members {
                out.push_str("<member><name>");
                escape_into(out, name);
                out.push_str("</name>");
                value_into(out, v);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
        Value::Nil => out.push_str("<nil/>"),
    }
    out.push_str("</value>");
}

/// True for characters XML 1.0 allows in a document.
pub fn xml_allows(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

fn escape_into(out: &mut String, text: &str) {
    let mut replaced = false;
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // A bare CR would be normalised away by the XML parser.
            '\r' => out.push_str("&#13;"),
            c if xml_allows(c) => out.push(c),
            _ => {
                replaced = true;
                out.push('\u{FFFD}');
            }
        }
    }
    if replaced {
        log::warn!(
            "string {:?} holds characters XML cannot carry; sent with U+FFFD in their place",
            text
        );
    }
}
