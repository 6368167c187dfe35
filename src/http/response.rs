//! The pure HTTP/1.1 response parser: bytes in, a [`Response`] or a precise
//! [`ResponseError`] out. No I/O here, so it is fuzzed and table-tested on
//! its own; the client feeds it what it read from the socket.
//!
//! The header-block parser is shared with SCGI, whose responses carry the
//! same `Name: value` lines (CGI style, without an HTTP status line).

use std::fmt;

/// Longest header block accepted; real servers send a few hundred bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How the end of the body was known.
    pub body_end: BodyEnd,
}

/// How the end of a body was known: only [`BodyEnd::Close`] leaves open
/// whether the body was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEnd {
    /// The status or method has no body.
    NoBody,
    /// Content-Length was matched.
    ContentLength,
    /// The last-chunk and its empty line came.
    Chunked,
    /// Delimited by close, and the TLS peer sent close_notify first: the
    /// server itself ended the body.
    CloseNotify,
    /// Delimited by a plain TCP close: a complete body and one cut by a
    /// dying proxy or a reset look alike, so callers that act on what is
    /// missing from the body must confirm its end some other way.
    Close,
}

impl BodyEnd {
    /// The framing itself proves the body whole.
    pub fn is_confirmed(self) -> bool {
        self != BodyEnd::Close
    }
}

/// How the connection ended, as the reader saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// The reader stopped because [`is_complete`] said the framing was
    /// satisfied, before any close.
    Framed,
    /// TLS close_notify, then the close.
    CloseNotify,
    /// A plain TCP close (FIN) on an unencrypted connection.
    TcpClose,
    /// A TLS connection closed without close_notify: a truncation attack
    /// or a crashed server, never a clean end.
    TlsCutOff,
}

/// Whether a body delimited by the connection's close is whole (RFC 9112
/// 6.3 item 8 lets such a body end at close; RFC 8446 6.1 says a close
/// without close_notify may be a truncation).
pub fn close_delimited_end(end: ConnectionEnd) -> Result<BodyEnd, ResponseError> {
    match end {
        ConnectionEnd::CloseNotify => Ok(BodyEnd::CloseNotify),
        ConnectionEnd::TcpClose => Ok(BodyEnd::Close),
        ConnectionEnd::TlsCutOff => Err(ResponseError::Truncated(
            "TLS closed without close_notify, and the body had no Content-Length or chunked framing",
        )),
        // The reader never stops early on a close-delimited body.
        ConnectionEnd::Framed => Err(ResponseError::Truncated(
            "the reader stopped before the server closed",
        )),
    }
}

impl Response {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// Why a response could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    /// The connection ended before the response did.
    Truncated(&'static str),
    /// Not HTTP, or broken framing.
    Malformed(String),
    /// The body (or header block) is larger than the caller allows.
    TooLarge { limit: usize },
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Truncated(what) => {
                write!(f, "the response ended early ({what})")
            }
            ResponseError::Malformed(why) => write!(f, "malformed response: {why}"),
            ResponseError::TooLarge { limit } => {
                write!(f, "the response is larger than the {limit}-byte limit")
            }
        }
    }
}

impl std::error::Error for ResponseError {}

/// Status line and headers, plus where the body starts in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body_start: usize,
}

/// How the body's end is found (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    NoBody,
    ContentLength(u64),
    Chunked,
    UntilClose,
}

pub fn find_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Finds the end of a header block (`\r\n\r\n`, or bare `\n\n` from sloppy
/// servers) and returns the offset of the first byte after it, or None when
/// more bytes are needed.
pub fn header_block_end(buf: &[u8]) -> Option<usize> {
    for (i, &b) in buf.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        let rest = buf.get(i + 1..).unwrap_or(&[]);
        if rest.starts_with(b"\r\n") {
            return Some(i + 3);
        }
        if rest.starts_with(b"\n") {
            return Some(i + 2);
        }
    }
    None
}

/// Parses `Name: value` lines (the block without its final blank line).
pub fn parse_header_lines(block: &[u8]) -> Result<Vec<(String, String)>, ResponseError> {
    let text = std::str::from_utf8(block)
        .map_err(|_| ResponseError::Malformed("header block is not UTF-8".into()))?;
    let mut headers = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            return Err(ResponseError::Malformed(
                "folded header lines are not allowed".into(),
            ));
        }
        let (name, value) = line.split_once(':').ok_or_else(|| {
            ResponseError::Malformed(format!("header line without ':': {:?}", clip(line)))
        })?;
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(ResponseError::Malformed(format!(
                "bad header name {:?}",
                clip(name)
            )));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok(headers)
}

/// Parses the status line and headers. `Ok(None)`: not all there yet.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, ResponseError> {
    let Some(end) = header_block_end(buf) else {
        if buf.len() > MAX_HEAD_BYTES {
            return Err(ResponseError::TooLarge {
                limit: MAX_HEAD_BYTES,
            });
        }
        if !buf.is_empty() && !b"HTTP/".starts_with(buf.get(..5).unwrap_or(buf)) {
            return Err(ResponseError::Malformed(
                "does not start with an HTTP/1.x status line".into(),
            ));
        }
        return Ok(None);
    };
    if end > MAX_HEAD_BYTES {
        return Err(ResponseError::TooLarge {
            limit: MAX_HEAD_BYTES,
        });
    }
    // header_block_end gives an offset within buf.
    let block = buf.get(..end).unwrap_or(buf);
    let line_end = block
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(block.len());
    let status_line = std::str::from_utf8(block.get(..line_end).unwrap_or(block))
        .map_err(|_| ResponseError::Malformed("status line is not UTF-8".into()))?;
    let status_line = status_line.strip_suffix('\r').unwrap_or(status_line);
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(ResponseError::Malformed(format!(
            "not an HTTP/1.x status line: {:?}",
            clip(status_line)
        )));
    }
    let code = parts.next().unwrap_or("");
    let status = match code.parse::<u16>() {
        Ok(n) if (100..=999).contains(&n) && code.len() == 3 => n,
        _ => {
            return Err(ResponseError::Malformed(format!(
                "bad status code {:?}",
                clip(code)
            )))
        }
    };
    let reason = parts.next().unwrap_or("").to_string();
    let headers = parse_header_lines(block.get(line_end + 1..).unwrap_or(&[]))?;
    Ok(Some(Head {
        status,
        reason,
        headers,
        body_start: end,
    }))
}

/// How this response's body is delimited. `head_request`: the request was
/// HEAD, so there is no body whatever the headers say.
pub fn framing(head: &Head, head_request: bool) -> Result<Framing, ResponseError> {
    if head_request || head.status < 200 || head.status == 204 || head.status == 304 {
        return Ok(Framing::NoBody);
    }
    if let Some(te) = find_header(&head.headers, "transfer-encoding") {
        if te
            .rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
        {
            return Ok(Framing::Chunked);
        }
        return Ok(Framing::UntilClose);
    }
    let mut length: Option<u64> = None;
    for (name, value) in &head.headers {
        if name.eq_ignore_ascii_case("content-length") {
            let n = value
                .parse::<u64>()
                .map_err(|_| ResponseError::Malformed(format!("bad Content-Length {value:?}")))?;
            if length.is_some_and(|prev| prev != n) {
                return Err(ResponseError::Malformed(
                    "conflicting Content-Length headers".into(),
                ));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(n) => Framing::ContentLength(n),
        None => Framing::UntilClose,
    })
}

/// Parses a complete response: `buf` holds everything read until the server
/// closed the connection (or until [`is_complete`] said so), and `end` says
/// which of the two happened.
pub fn parse_response(
    buf: &[u8],
    max_body: usize,
    head_request: bool,
    end: ConnectionEnd,
) -> Result<Response, ResponseError> {
    let head = parse_head(buf)?.ok_or(ResponseError::Truncated("no complete header block"))?;
    let rest = buf.get(head.body_start..).unwrap_or(&[]);
    let (body, body_end) = match framing(&head, head_request)? {
        Framing::NoBody => (Vec::new(), BodyEnd::NoBody),
        Framing::ContentLength(n) => {
            if n > max_body as u64 {
                return Err(ResponseError::TooLarge { limit: max_body });
            }
            let n = n as usize;
            match rest.get(..n) {
                Some(body) => (body.to_vec(), BodyEnd::ContentLength),
                None => return Err(ResponseError::Truncated("shorter than its Content-Length")),
            }
        }
        Framing::Chunked => (decode_chunked(rest, max_body)?.0, BodyEnd::Chunked),
        Framing::UntilClose => {
            if rest.len() > max_body {
                return Err(ResponseError::TooLarge { limit: max_body });
            }
            (rest.to_vec(), close_delimited_end(end)?)
        }
    };
    Ok(Response {
        status: head.status,
        reason: head.reason,
        headers: head.headers,
        body,
        body_end,
    })
}

/// True when `buf` already holds the whole response, so the client can stop
/// reading without waiting for the server to close.
pub fn is_complete(buf: &[u8], max_body: usize, head_request: bool) -> bool {
    let Ok(Some(head)) = parse_head(buf) else {
        return false;
    };
    let rest = buf.get(head.body_start..).unwrap_or(&[]);
    match framing(&head, head_request) {
        Ok(Framing::NoBody) => true,
        Ok(Framing::ContentLength(n)) => rest.len() as u64 >= n,
        Ok(Framing::Chunked) => {
            (rest.ends_with(b"\r\n\r\n") || rest.ends_with(b"\n\n"))
                && decode_chunked(rest, max_body).is_ok()
        }
        Ok(Framing::UntilClose) | Err(_) => false,
    }
}

/// Decodes a chunked body; returns the data and how many bytes it used.
pub fn decode_chunked(buf: &[u8], max_body: usize) -> Result<(Vec<u8>, usize), ResponseError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        let rest = buf.get(pos..).unwrap_or(&[]);
        let line_len = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(ResponseError::Truncated("in a chunk size line"))?;
        let line = rest.get(..line_len).unwrap_or(rest);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += line_len + 1;
        let size_text = line.split(|&b| b == b';').next().unwrap_or(&[]);
        let size_text = std::str::from_utf8(size_text)
            .map_err(|_| ResponseError::Malformed("chunk size is not ASCII".into()))?
            .trim();
        if size_text.is_empty() || size_text.len() > 16 {
            return Err(ResponseError::Malformed(format!(
                "bad chunk size {:?}",
                clip(size_text)
            )));
        }
        let size = u64::from_str_radix(size_text, 16).map_err(|_| {
            ResponseError::Malformed(format!("bad chunk size {:?}", clip(size_text)))
        })?;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let rest = buf.get(pos..).unwrap_or(&[]);
                let n = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .ok_or(ResponseError::Truncated("after the last chunk"))?;
                let line = rest.get(..n).unwrap_or(rest);
                pos += n + 1;
                if line.is_empty() || line == b"\r" {
                    return Ok((out, pos));
                }
            }
        }
        if size > (max_body - out.len().min(max_body)) as u64 {
            return Err(ResponseError::TooLarge { limit: max_body });
        }
        let size = size as usize;
        let data = buf
            .get(pos..pos + size)
            .ok_or(ResponseError::Truncated("inside a chunk"))?;
        out.extend_from_slice(data);
        pos += size;
        let rest = buf.get(pos..).unwrap_or(&[]);
        if rest.starts_with(b"\r\n") {
            pos += 2;
        } else if rest.starts_with(b"\n") {
            pos += 1;
        } else if rest.is_empty() || rest == b"\r" {
            return Err(ResponseError::Truncated("after a chunk"));
        } else {
            return Err(ResponseError::Malformed(
                "chunk data not followed by CRLF".into(),
            ));
        }
    }
}

fn clip(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 1 << 20;

    #[test]
    fn content_length_body() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b c \r\n\r\nhelloEXTRA",
            LIMIT,
            false,
            ConnectionEnd::Framed,
        )
        .unwrap();
        assert_eq!(r.body_end, BodyEnd::ContentLength);
        assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
        assert_eq!(r.header("x-a"), Some("b c"));
        assert_eq!(r.body, b"hello");
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n";
        let r = parse_response(raw, LIMIT, false, ConnectionEnd::TcpClose).unwrap();
        assert_eq!(r.body, b"Wikipedia");
        assert!(is_complete(raw, LIMIT, false));
    }

    #[test]
    fn read_to_close_and_no_body_statuses() {
        let r = parse_response(
            b"HTTP/1.0 200 OK\r\n\r\nall of it",
            LIMIT,
            false,
            ConnectionEnd::TcpClose,
        )
        .unwrap();
        assert_eq!(r.body, b"all of it");
        let r = parse_response(
            b"HTTP/1.1 304 Not Modified\r\n\r\n",
            LIMIT,
            false,
            ConnectionEnd::TcpClose,
        )
        .unwrap();
        assert!(r.body.is_empty());
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
            LIMIT,
            true,
            ConnectionEnd::Framed,
        )
        .unwrap();
        assert!(r.body.is_empty());
    }

    #[test]
    fn framing_decides_whether_a_body_is_whole() {
        let close = b"HTTP/1.1 200 OK\r\n\r\nline 1\nline";
        let length = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody";
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n";
        let cut_chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n";
        use ConnectionEnd::*;
        let cases: &[(&[u8], ConnectionEnd, Result<BodyEnd, &str>)] = &[
            (close, TcpClose, Ok(BodyEnd::Close)),
            (close, CloseNotify, Ok(BodyEnd::CloseNotify)),
            (close, TlsCutOff, Err("without close_notify")),
            (close, Framed, Err("before the server closed")),
            (length, Framed, Ok(BodyEnd::ContentLength)),
            // A whole Content-Length body needs no close_notify.
            (length, TlsCutOff, Ok(BodyEnd::ContentLength)),
            (chunked, TlsCutOff, Ok(BodyEnd::Chunked)),
            (chunked, Framed, Ok(BodyEnd::Chunked)),
            (cut_chunked, TcpClose, Err("ended early")),
            (cut_chunked, CloseNotify, Err("ended early")),
        ];
        for (raw, end, want) in cases {
            let got = parse_response(raw, LIMIT, false, *end);
            match (got, want) {
                (Ok(r), Ok(w)) => assert_eq!(r.body_end, *w, "{end:?}"),
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{end:?}: {e}"),
                (got, want) => panic!("{end:?}: got {got:?}, want {want:?}"),
            }
        }
        assert!(!BodyEnd::Close.is_confirmed());
        assert!(BodyEnd::CloseNotify.is_confirmed() && BodyEnd::Chunked.is_confirmed());
    }

    #[test]
    fn bare_lf_line_endings_are_tolerated() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
            LIMIT,
            false,
            ConnectionEnd::TcpClose,
        )
        .unwrap();
        assert_eq!(r.body, b"ok");
    }

    #[test]
    fn truncated_responses() {
        let cases: [&[u8]; 6] = [
            b"",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
        ];
        for raw in cases {
            assert!(
                matches!(
                    parse_response(raw, LIMIT, false, ConnectionEnd::TcpClose),
                    Err(ResponseError::Truncated(_))
                ),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
            assert!(!is_complete(raw, LIMIT, false));
        }
    }

    #[test]
    fn garbage_is_malformed() {
        let cases: [&[u8]; 8] = [
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/2 200\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ];
        for raw in cases {
            assert!(
                matches!(
                    parse_response(raw, LIMIT, false, ConnectionEnd::TcpClose),
                    Err(ResponseError::Malformed(_))
                ),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        // Wrong start is reported before the header block is complete.
        assert!(parse_head(b"<html>").is_err());
    }

    #[test]
    fn missing_crlf_after_chunk_data() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n";
        assert!(matches!(
            parse_response(raw, LIMIT, false, ConnectionEnd::TcpClose),
            Err(ResponseError::Malformed(_))
        ));
    }

    #[test]
    fn huge_sizes_hit_the_cap_without_allocating() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nx";
        assert_eq!(
            parse_response(raw, LIMIT, false, ConnectionEnd::TcpClose),
            Err(ResponseError::TooLarge { limit: LIMIT })
        );
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx";
        assert!(matches!(
            parse_response(raw, LIMIT, false, ConnectionEnd::TcpClose),
            Err(ResponseError::Malformed(_))
        ));
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n";
        assert_eq!(
            parse_response(raw, LIMIT, false, ConnectionEnd::TcpClose),
            Err(ResponseError::TooLarge { limit: LIMIT })
        );
        let raw = b"HTTP/1.0 200 OK\r\n\r\n0123456789";
        assert_eq!(
            parse_response(raw, 4, false, ConnectionEnd::TcpClose),
            Err(ResponseError::TooLarge { limit: 4 })
        );
        let mut long_head = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        long_head.resize(MAX_HEAD_BYTES + 10, b'a');
        assert!(matches!(
            parse_head(&long_head),
            Err(ResponseError::TooLarge { .. })
        ));
    }
}
