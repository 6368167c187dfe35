//! Streaming XML-RPC response decoder on quick-xml: events are pulled one by
//! one from any `BufRead` and turned into [`Value`]s by recursive descent
//! (depth-limited, so hostile nesting cannot overflow the stack).
//!
//! rtorrent passes torrent names and paths through as it got them, so a
//! response can hold bytes that are not UTF-8 or character references XML
//! forbids. Those strings are decoded lossily (U+FFFD) with a warning in the
//! log; the rest of the response is kept. Everything else that is not
//! XML-RPC is a [`DecodeError`] saying where.

use std::fmt;
use std::io::BufRead;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::value::Value;

/// Deepest array/struct nesting accepted (rtorrent uses 3 levels).
pub const MAX_DEPTH: usize = 64;

/// What a method response holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Value(Value),
    Fault { code: i64, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset in the response where the problem was seen.
    pub offset: u64,
    pub reason: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad XML-RPC response at byte {}: {}",
            self.offset, self.reason
        )
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a `<methodResponse>` from bytes.
pub fn decode_response(xml: &[u8]) -> Result<Response, DecodeError> {
    decode_response_from(xml)
}

/// Decodes a `<methodResponse>` pulled from a reader.
pub fn decode_response_from<R: BufRead>(input: R) -> Result<Response, DecodeError> {
    let mut d = Decoder::new(input);
    d.expect_start(b"methodResponse")?;
    let response = match d.next_tag()? {
        Tag::Start(name) if name == b"params" => {
            d.expect_start(b"param")?;
            d.expect_start(b"value")?;
            let value = d.value(0)?;
            d.expect_end(b"param")?;
            d.expect_end(b"params")?;
            Response::Value(value)
        }
        Tag::Start(name) if name == b"fault" => {
            d.expect_start(b"value")?;
            let fault = d.value(0)?;
            d.expect_end(b"fault")?;
            let code = fault.member("faultCode").and_then(Value::as_i64);
            let message = fault.member("faultString").and_then(Value::as_str);
            match (code, message) {
                (Some(code), Some(message)) => Response::Fault {
                    code,
                    message: message.to_string(),
                },
                _ => {
                    return Err(
                        d.error("a <fault> without an integer faultCode and a string faultString")
                    )
                }
            }
        }
        other => return Err(d.error(&format!("expected <params> or <fault>, found {other}"))),
    };
    d.expect_end(b"methodResponse")?;
    match d.next_tag()? {
        Tag::Eof => Ok(response),
        other => Err(d.error(&format!("unexpected {other} after </methodResponse>"))),
    }
}

/// A simplified event, owned, so the reader's buffer can be reused.
enum Ev {
    Start(Vec<u8>),
    End(Vec<u8>),
    /// Raw text bytes (not yet UTF-8 checked).
    Text(Vec<u8>),
    /// An entity or character reference, without `&` and `;`.
    Ref(Vec<u8>),
    Eof,
}

/// Markup only; whitespace text between tags is skipped.
enum Tag {
    Start(Vec<u8>),
    End(Vec<u8>),
    Eof,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tag::Start(n) => write!(f, "<{}>", String::from_utf8_lossy(n)),
            Tag::End(n) => write!(f, "</{}>", String::from_utf8_lossy(n)),
            Tag::Eof => f.write_str("the end of the response"),
        }
    }
}

struct Decoder<R> {
    reader: Reader<R>,
    buf: Vec<u8>,
}

impl<R: BufRead> Decoder<R> {
    fn new(input: R) -> Decoder<R> {
        let mut reader = Reader::from_reader(input);
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text_start = false;
        config.trim_text_end = false;
        Decoder {
            reader,
            buf: Vec::new(),
        }
    }

    fn error(&self, reason: &str) -> DecodeError {
        DecodeError {
            offset: self.reader.buffer_position(),
            reason: reason.to_string(),
        }
    }

    fn next_event(&mut self) -> Result<Ev, DecodeError> {
        loop {
            self.buf.clear();
            let event = match self.reader.read_event_into(&mut self.buf) {
                Ok(e) => e,
                Err(e) => {
                    return Err(DecodeError {
                        offset: self.reader.error_position(),
                        reason: e.to_string(),
                    })
                }
            };
            return Ok(match event {
                Event::Start(e) => Ev::Start(e.local_name().as_ref().to_vec()),
                Event::End(e) => Ev::End(e.local_name().as_ref().to_vec()),
                Event::Empty(e) => Ev::Start(e.local_name().as_ref().to_vec()),
                Event::Text(t) => Ev::Text(t.to_vec()),
                Event::CData(t) => Ev::Text(t.to_vec()),
                Event::GeneralRef(r) => Ev::Ref(r.to_vec()),
                Event::Eof => Ev::Eof,
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => continue,
            });
        }
    }

    fn next_tag(&mut self) -> Result<Tag, DecodeError> {
        loop {
            match self.next_event()? {
                Ev::Start(n) => return Ok(Tag::Start(n)),
                Ev::End(n) => return Ok(Tag::End(n)),
                Ev::Eof => return Ok(Tag::Eof),
                Ev::Text(t) if t.iter().all(u8::is_ascii_whitespace) => continue,
                Ev::Text(_) | Ev::Ref(_) => {
                    return Err(self.error("text where only tags are allowed"))
                }
            }
        }
    }

    fn expect_start(&mut self, name: &[u8]) -> Result<(), DecodeError> {
        match self.next_tag()? {
            Tag::Start(n) if n == name => Ok(()),
            other => Err(self.error(&format!(
                "expected <{}>, found {other}",
                String::from_utf8_lossy(name)
            ))),
        }
    }

    fn expect_end(&mut self, name: &[u8]) -> Result<(), DecodeError> {
        match self.next_tag()? {
            Tag::End(n) if n == name => Ok(()),
            other => Err(self.error(&format!(
                "expected </{}>, found {other}",
                String::from_utf8_lossy(name)
            ))),
        }
    }

    /// Text up to the end tag `name`, with references resolved.
    fn text_until_end(&mut self, name: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let mut text = Vec::new();
        loop {
            match self.next_event()? {
                Ev::Text(t) => text.extend_from_slice(&t),
                Ev::Ref(r) => resolve_reference(&r, &mut text),
                Ev::End(n) if n == name => return Ok(text),
                Ev::End(n) | Ev::Start(n) => {
                    return Err(self.error(&format!(
                        "unexpected tag {} inside <{}>",
                        String::from_utf8_lossy(&n),
                        String::from_utf8_lossy(name)
                    )))
                }
                Ev::Eof => {
                    return Err(self.error(&format!(
                        "the response ends inside <{}>",
                        String::from_utf8_lossy(name)
                    )))
                }
            }
        }
    }

    /// The content of a `<value>` whose start tag was just read, through its end tag.
    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("values nested deeper than {MAX_DEPTH}")));
        }
        let mut bare = Vec::new();
        let type_tag = loop {
            match self.next_event()? {
                Ev::Text(t) => bare.extend_from_slice(&t),
                Ev::Ref(r) => resolve_reference(&r, &mut bare),
                // `<value>text</value>` is a string.
                Ev::End(n) if n == b"value" => return Ok(Value::String(lossy(bare, self))),
                Ev::Start(n) => break n,
                Ev::End(n) => {
                    return Err(self.error(&format!(
                        "unexpected </{}> in <value>",
                        String::from_utf8_lossy(&n)
                    )))
                }
                Ev::Eof => return Err(self.error("the response ends inside <value>")),
            }
        };
        if !bare.iter().all(u8::is_ascii_whitespace) {
            return Err(self.error("text before the type tag in <value>"));
        }
        let value = match type_tag.as_slice() {
            b"i4" | b"i8" | b"int" => {
                let text = self.text_until_end(&type_tag)?;
                let text = String::from_utf8_lossy(&text);
                let text = text.trim();
                let number = text.strip_prefix('+').unwrap_or(text);
                Value::Int(
                    number
                        .parse()
                        .map_err(|_| self.error(&format!("{text:?} is not a 64-bit integer")))?,
                )
            }
            b"boolean" => {
                let text = self.text_until_end(b"boolean")?;
                match String::from_utf8_lossy(&text).trim() {
                    "1" | "true" => Value::Bool(true),
                    "0" | "false" => Value::Bool(false),
                    other => return Err(self.error(&format!("{other:?} is not a boolean"))),
                }
            }
            b"double" => {
                let text = self.text_until_end(b"double")?;
                let text = String::from_utf8_lossy(&text);
                let text = text.trim();
                match text.parse::<f64>() {
                    Ok(d) if d.is_finite() => Value::Double(d),
                    _ => return Err(self.error(&format!("{text:?} is not a double"))),
                }
            }
            b"string" => {
                let text = self.text_until_end(b"string")?;
                Value::String(lossy(text, self))
            }
            b"base64" => {
                let text = self.text_until_end(b"base64")?;
                Value::Base64(crate::base64::decode(&text).map_err(|e| self.error(&e.to_string()))?)
            }
            b"dateTime.iso8601" => {
                let text = self.text_until_end(b"dateTime.iso8601")?;
                Value::DateTime(lossy(text, self).trim().to_string())
            }
            b"nil" => {
                self.text_until_end(b"nil")?;
                Value::Nil
            }
            b"array" => {
                self.expect_start(b"data")?;
                let mut items = Vec::new();
                loop {
                    match self.next_tag()? {
                        Tag::Start(n) if n == b"value" => items.push(self.value(depth + 1)?),
                        Tag::End(n) if n == b"data" => break,
                        other => {
                            return Err(self.error(&format!(
                                "expected <value> or </data> in an array, found {other}"
                            )))
                        }
                    }
                }
                self.expect_end(b"array")?;
                Value::Array(items)
            }
            b"struct" => {
                let mut members = Vec::new();
                loop {
                    match self.next_tag()? {
                        Tag::Start(n) if n == b"member" => {
                            self.expect_start(b"name")?;
                            let name = self.text_until_end(b"name")?;
                            let name = lossy(name, self);
                            self.expect_start(b"value")?;
                            let value = self.value(depth + 1)?;
                            self.expect_end(b"member")?;
                            members.push((name, value));
                        }
                        Tag::End(n) if n == b"struct" => break,
                        other => {
                            return Err(self
                                .error(&format!("expected <member> or </struct>, found {other}")))
                        }
                    }
                }
                Value::Struct(members)
            }
            other => {
                return Err(self.error(&format!(
                    "unknown value type <{}>",
                    String::from_utf8_lossy(other)
                )))
            }
        };
        self.expect_end(b"value")?;
        Ok(value)
    }
}

/// Text as a String; bytes that are not UTF-8 become U+FFFD, with a warning.
fn lossy<R: BufRead>(bytes: Vec<u8>, d: &Decoder<R>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let s = String::from_utf8_lossy(e.as_bytes()).into_owned();
            log::warn!(
                "rtorrent sent a string that is not UTF-8 (near byte {}); decoded as {:?}",
                d.reader.buffer_position(),
                s
            );
            s
        }
    }
}

/// Appends the text a reference stands for. Character references to
/// characters XML forbids (`&#1;`, `&#0;`, surrogates) and unknown entities
/// are kept lossily instead of failing the whole response.
fn resolve_reference(reference: &[u8], out: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(reference);
    let resolved = match text.as_ref() {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        t => t.strip_prefix('#').and_then(|num| {
            let code = match num.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse::<u32>().ok(),
            }?;
            match char::from_u32(code) {
                Some(c) if c != '\0' => {
                    if !super::encode::xml_allows(c) {
                        log::warn!("rtorrent sent the character U+{code:04X}, which XML forbids; kept as it is");
                    }
                    Some(c)
                }
                _ => {
                    log::warn!("rtorrent sent the invalid character reference &{t}; replaced by U+FFFD");
                    Some('\u{FFFD}')
                }
            }
        }),
    };
    match resolved {
        Some(c) => {
            let mut tmp = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
        }
        None => {
            log::warn!("unknown XML entity &{text}; kept as text");
            out.push(b'&');
            out.extend_from_slice(reference);
            out.push(b';');
        }
    }
}
