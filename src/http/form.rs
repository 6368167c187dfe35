//! Request bodies of HTML forms: `application/x-www-form-urlencoded` and
//! `multipart/form-data` (file uploads, e.g. .torrent files to a WebUI).

/// `key=value&...`, each part percent-encoded.
pub fn urlencoded(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encoding of everything but the unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `multipart/form-data` body being built.
#[derive(Debug)]
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Multipart {
    /// The boundary must not occur in any part: it carries a random tail,
    /// and a part containing it is refused by [`Multipart::file`].
    pub fn new() -> Multipart {
        let mut random = [0u8; 12];
        if getrandom_fill(&mut random).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            random.copy_from_slice(&nanos.to_le_bytes()[..12]);
        }
        let tail: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Multipart {
            boundary: format!("----lowspace{tail}"),
            body: Vec::new(),
        }
    }

    fn part_head(&mut self, disposition: &str, content_type: Option<&str>) {
        self.body
            .extend_from_slice(format!("--{}\r\n", self.boundary).as_bytes());
        self.body.extend_from_slice(
            format!("Content-Disposition: form-data; {disposition}\r\n").as_bytes(),
        );
        if let Some(ct) = content_type {
            self.body
                .extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        self.body.extend_from_slice(b"\r\n");
    }

    pub fn text(&mut self, name: &str, value: &str) -> &mut Multipart {
        self.part_head(&format!("name=\"{}\"", quote(name)), None);
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// A file part; false (and nothing added) when its bytes contain the
    /// boundary, which the random tail makes all but impossible.
    pub fn file(&mut self, name: &str, file_name: &str, content_type: &str, bytes: &[u8]) -> bool {
        let marker = self.boundary.as_bytes();
        if bytes.windows(marker.len()).any(|w| w == marker) {
            return false;
        }
        self.part_head(
            &format!(
                "name=\"{}\"; filename=\"{}\"",
                quote(name),
                quote(file_name)
            ),
            Some(content_type),
        );
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        true
    }

    /// The Content-Type header value and the body.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body,
        )
    }
}

impl Default for Multipart {
    fn default() -> Self {
        Multipart::new()
    }
}

fn quote(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '"' | '\r' | '\n'))
        .collect()
}

fn getrandom_fill(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_escapes_reserved_characters() {
        assert_eq!(
            urlencoded(&[("username", "a b"), ("password", "p&=%/ü")]),
            "username=a%20b&password=p%26%3D%25%2F%C3%BC"
        );
    }

    #[test]
    fn multipart_body_has_each_part_and_the_closing_boundary() {
        let mut m = Multipart::new();
        m.text("tags", "lowspace");
        assert!(m.file(
            "torrents",
            "a.torrent",
            "application/x-bittorrent",
            b"d4:infode"
        ));
        let (ct, body) = m.finish();
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\nlowspace\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"torrents\"; filename=\"a.torrent\"\r\n\
                 Content-Type: application/x-bittorrent\r\n\r\nd4:infode\r\n--{boundary}--\r\n"
            )
        );
    }

    #[test]
    fn a_file_holding_the_boundary_is_refused() {
        let mut m = Multipart::new();
        let evil = format!("x--{}y", m.boundary);
        assert!(!m.file("f", "f", "application/octet-stream", evil.as_bytes()));
    }
}
