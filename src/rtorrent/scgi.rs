//! SCGI framing (https://python.ca/scgi/protocol.txt): the request is a
//! netstring of NUL-separated headers (CONTENT_LENGTH first, then SCGI=1)
//! followed by the body; rtorrent answers CGI-style (`Status:` and other
//! header lines, a blank line, the body) and closes the connection.
//!
//! Both directions are pure functions here; [`exchange`] is the thin I/O
//! part that works over any stream (Unix or TCP).

use std::io::{Read, Write};

use crate::http::response::{find_header, header_block_end, parse_header_lines};

/// The bytes of one SCGI request carrying `body`.
pub fn encode_request(body: &[u8]) -> Vec<u8> {
    let head = request_head(body.len());
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(&head);
    out.extend_from_slice(body);
    out
}

/// Everything of a request before its body: the header netstring and
/// its closing comma.
fn request_head(body_len: usize) -> Vec<u8> {
    let headers = format!(
        "CONTENT_LENGTH\0{body_len}\0SCGI\x001\0REQUEST_METHOD\0POST\0REQUEST_URI\0/RPC2\0"
    );
    let mut out = Vec::with_capacity(headers.len() + 8);
    out.extend_from_slice(format!("{}:", headers.len()).as_bytes());
    out.extend_from_slice(headers.as_bytes());
    out.push(b',');
    out
}

/// Bytes the SCGI framing adds to a body of `body_len` bytes; it never
/// shrinks as the body grows, so the framing of the largest body allowed
/// bounds every smaller one.
pub fn framing_len(body_len: usize) -> usize {
    request_head(body_len).len()
}

/// Why an SCGI reply could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    Truncated(&'static str),
    Malformed(String),
    /// A `Status:` other than 2xx.
    Status(String),
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyError::Truncated(what) => write!(f, "the reply ended early ({what})"),
            ReplyError::Malformed(why) => write!(f, "{why}"),
            ReplyError::Status(status) => write!(f, "status {status}"),
        }
    }
}

/// The body of a complete SCGI reply.
pub fn parse_reply(buf: &[u8]) -> Result<&[u8], ReplyError> {
    if buf.is_empty() {
        return Err(ReplyError::Truncated(
            "the connection closed without a reply",
        ));
    }
    let end = header_block_end(buf).ok_or(ReplyError::Truncated("no end of the header block"))?;
    let headers = parse_header_lines(buf.get(..end).unwrap_or(&[]))
        .map_err(|e| ReplyError::Malformed(e.to_string()))?;
    if let Some(status) = find_header(&headers, "status") {
        if !status.starts_with('2') {
            return Err(ReplyError::Status(status.to_string()));
        }
    }
    let rest = buf.get(end..).unwrap_or(&[]);
    match find_header(&headers, "content-length") {
        Some(text) => {
            let n: usize = text
                .parse()
                .map_err(|_| ReplyError::Malformed(format!("bad Content-Length {text:?}")))?;
            rest.get(..n)
                .ok_or(ReplyError::Truncated("shorter than its Content-Length"))
        }
        None => Ok(rest),
    }
}

/// How an exchange failed at the I/O level.
#[derive(Debug)]
pub enum ExchangeError {
    Io(std::io::Error),
    TooLarge,
    Reply(ReplyError),
}

/// Writes one request and reads the whole reply (rtorrent closes the
/// connection after it), up to `max_reply` bytes.
pub fn exchange<S: Read + Write>(
    stream: &mut S,
    body: &[u8],
    max_reply: usize,
) -> Result<Vec<u8>, ExchangeError> {
    stream
        .write_all(&encode_request(body))
        .map_err(ExchangeError::Io)?;
    stream.flush().map_err(ExchangeError::Io)?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ExchangeError::Io(e)),
        };
        buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
        if buf.len() > max_reply {
            return Err(ExchangeError::TooLarge);
        }
    }
    let body = parse_reply(&buf).map_err(ExchangeError::Reply)?;
    Ok(body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_a_netstring_with_content_length_first() {
        let wire = encode_request(b"<xml/>");
        let text = String::from_utf8(wire).unwrap();
        let (len, rest) = text.split_once(':').unwrap();
        let len: usize = len.parse().unwrap();
        assert!(rest[..len].starts_with("CONTENT_LENGTH\u{0}6\u{0}SCGI\u{0}1\u{0}"));
        assert_eq!(&rest[len..], ",<xml/>");
    }

    #[test]
    fn framing_len_is_what_encode_request_adds() {
        for n in [0, 9, 10, 99_999, 100_000, 524_288, 2 << 20] {
            let body = vec![b'x'; n];
            assert_eq!(encode_request(&body).len(), n + framing_len(n), "{n}");
            assert!(framing_len(n) <= framing_len(2 << 20));
        }
    }

    #[test]
    fn reply_body_by_content_length() {
        let reply = b"Status: 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 4\r\n\r\nbody";
        assert_eq!(parse_reply(reply).unwrap(), b"body");
        assert_eq!(
            parse_reply(b"Content-Type: text/xml\r\n\r\nall").unwrap(),
            b"all"
        );
    }

    #[test]
    fn truncated_and_bad_replies() {
        assert!(matches!(parse_reply(b""), Err(ReplyError::Truncated(_))));
        assert!(matches!(
            parse_reply(b"Status: 200 OK\r\nContent-Length: 10\r\n"),
            Err(ReplyError::Truncated(_))
        ));
        assert!(matches!(
            parse_reply(b"Status: 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
            Err(ReplyError::Truncated(_))
        ));
        assert!(matches!(
            parse_reply(b"Status: 200 OK\r\nContent-Length: x\r\n\r\n"),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(b"garbage without colon\r\n\r\n"),
            Err(ReplyError::Malformed(_))
        ));
        assert_eq!(
            parse_reply(b"Status: 500 Internal\r\n\r\n"),
            Err(ReplyError::Status("500 Internal".into()))
        );
    }

    /// A fake peer for what real rtorrent never does: reply forever.
    #[test]
    fn fake_endless_reply_hits_the_cap() {
        struct Endless;
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                buf.fill(b'a');
                Ok(buf.len())
            }
        }
        impl Write for Endless {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        assert!(matches!(
            exchange(&mut Endless, b"x", 1 << 20),
            Err(ExchangeError::TooLarge)
        ));
    }
}
