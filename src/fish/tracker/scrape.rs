//! Multi-hash scrapes (BEP 48): how fish learns whether an HTTP tracker
//! is up and what its swarms hold without announcing. The scrape URL,
//! the request and the reply parser are pure (the parser is fuzzed); the
//! GET goes through the crate's one HTTP client.

use std::collections::HashMap;
use std::fmt;

use crate::torrent::bencode::{self, Value};
use crate::torrent::InfoHash;

/// Hashes asked in one scrape: about 3 KB of query, under every
/// tracker's URL limit we know of.
pub const BATCH: usize = 50;

/// One swarm as a tracker counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwarmCounts {
    pub complete: u64,
    pub incomplete: u64,
    pub downloaded: u64,
}

/// Why a scrape reply is not a list of swarms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScrapeError {
    /// The tracker said no: its `failure reason`.
    Refused(String),
    /// Not bencode, or not a dictionary.
    NotBencode(String),
    /// No `files` dictionary.
    NoFiles,
    /// `files` is not a dictionary.
    FilesNotDict(&'static str),
    /// A key of `files` that is not a 20-byte info-hash.
    BadHash(usize),
    /// A swarm entry that is not a dictionary, or a count that is not a
    /// number of zero or more.
    BadCount { field: &'static str, detail: String },
}

impl fmt::Display for ScrapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScrapeError::Refused(why) => write!(f, "scrape refused: {why}"),
            ScrapeError::NotBencode(why) => write!(f, "scrape reply is not bencode: {why}"),
            ScrapeError::NoFiles => write!(f, "scrape reply has no files dictionary"),
            ScrapeError::FilesNotDict(kind) => {
                write!(f, "scrape reply files is {kind}, not a dictionary")
            }
            ScrapeError::BadHash(len) => {
                write!(
                    f,
                    "scrape reply files key of {len} bytes, not a 20-byte info-hash"
                )
            }
            ScrapeError::BadCount { field, detail } => {
                write!(f, "scrape reply field {field}: {detail}")
            }
        }
    }
}

impl std::error::Error for ScrapeError {}

/// The scrape URL of an announce URL (BEP 48): the last path segment
/// `announce` (or one starting with it, `announce.php`) becomes `scrape`,
/// the query kept. None when there is no such segment: that tracker has
/// no scrape.
pub fn scrape_url(announce: &str) -> Option<String> {
    if !(announce.starts_with("http://") || announce.starts_with("https://")) {
        return None;
    }
    let (path, query) = match announce.find('?') {
        Some(at) => announce.split_at(at),
        None => (announce, ""),
    };
    let slash = path.rfind('/')?;
    // The slash must be past "scheme://host".
    if path
        .get(..slash)
        .is_none_or(|head| head.ends_with('/') || !head.contains("//"))
    {
        return None;
    }
    let last = path.get(slash + 1..)?;
    let rest = last.strip_prefix("announce")?;
    Some(format!("{}/scrape{rest}{query}", path.get(..slash)?))
}

/// The full scrape URL for `hashes`.
pub fn scrape_request(scrape: &str, hashes: &[InfoHash]) -> String {
    let mut url = String::with_capacity(scrape.len() + hashes.len() * 71);
    url.push_str(scrape);
    let mut separator = if scrape.contains('?') { '&' } else { '?' };
    for hash in hashes {
        url.push(separator);
        url.push_str("info_hash=");
        crate::torrent::percent_encode_into(&mut url, hash.as_bytes(), b"");
        separator = '&';
    }
    url
}

fn count(field: &'static str, entry: &Value) -> Result<u64, ScrapeError> {
    match entry.get(field.as_bytes()) {
        None => Ok(0),
        Some(v) => v
            .as_int()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| ScrapeError::BadCount {
                field,
                detail: format!("{} where a count belongs", v.kind()),
            }),
    }
}

/// Decodes a scrape reply body: the swarms it lists (a tracker lists only
/// those it knows; opentracker only those with peers).
pub fn parse_scrape(body: &[u8]) -> Result<HashMap<InfoHash, SwarmCounts>, ScrapeError> {
    let (value, _) =
        bencode::decode_prefix(body).map_err(|e| ScrapeError::NotBencode(e.to_string()))?;
    if !value.is_dict() {
        return Err(ScrapeError::NotBencode(format!(
            "{}, not a dictionary",
            value.kind()
        )));
    }
    if let Some(reason) = value.get(b"failure reason") {
        let why = reason
            .as_bytes()
            .map(|b| String::from_utf8_lossy(b).chars().take(200).collect())
            .unwrap_or_else(|| "(no text)".into());
        return Err(ScrapeError::Refused(why));
    }
    let files = match value.get(b"files") {
        None => return Err(ScrapeError::NoFiles),
        Some(Value::Dict(entries)) => entries,
        Some(other) => return Err(ScrapeError::FilesNotDict(other.kind())),
    };
    let mut out = HashMap::with_capacity(files.len().min(4 * BATCH));
    for (key, entry) in files {
        let hash: [u8; 20] = (*key)
            .try_into()
            .map_err(|_| ScrapeError::BadHash(key.len()))?;
        if !entry.is_dict() {
            return Err(ScrapeError::BadCount {
                field: "files",
                detail: format!("{} for a swarm, not a dictionary", entry.kind()),
            });
        }
        out.insert(
            InfoHash::from_bytes(hash),
            SwarmCounts {
                complete: count("complete", entry)?,
                incomplete: count("incomplete", entry)?,
                downloaded: count("downloaded", entry)?,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_urls_per_bep_48() {
        let table = [
            ("http://t.example/announce", Some("http://t.example/scrape")),
            (
                "http://t.example:6969/x/announce?passkey=1",
                Some("http://t.example:6969/x/scrape?passkey=1"),
            ),
            (
                "https://t.example/announce.php",
                Some("https://t.example/scrape.php"),
            ),
            ("http://t.example/a", None),
            ("http://t.example/x/announce/y", None),
            ("http://t.example/annonce", None),
            ("http://t.example", None),
            ("http://announce", None),
            ("udp://t.example:1/announce", None),
        ];
        for (announce, want) in table {
            assert_eq!(scrape_url(announce).as_deref(), want, "{announce}");
        }
        let a = InfoHash::from_bytes([0x41; 20]);
        let b = InfoHash::from_bytes([0xff; 20]);
        assert_eq!(
            scrape_request("http://t/scrape?k=1", &[a, b]),
            format!(
                "http://t/scrape?k=1&info_hash={}&info_hash={}",
                "A".repeat(20),
                "%FF".repeat(20)
            )
        );
    }

    #[test]
    fn swarms_are_read() {
        let mut body = b"d5:filesd20:".to_vec();
        body.extend_from_slice(&[7u8; 20]);
        body.extend_from_slice(b"d8:completei3e10:downloadedi9e10:incompletei2eee5:flagsdee\n");
        let swarms = parse_scrape(&body).unwrap();
        assert_eq!(
            swarms.get(&InfoHash::from_bytes([7; 20])),
            Some(&SwarmCounts {
                complete: 3,
                incomplete: 2,
                downloaded: 9
            })
        );
        assert!(parse_scrape(b"d5:filesdee").unwrap().is_empty());
    }

    #[test]
    fn every_error_is_named() {
        assert_eq!(
            parse_scrape(b"d14:failure reason9:no scrapee").unwrap_err(),
            ScrapeError::Refused("no scrape".into())
        );
        assert!(matches!(
            parse_scrape(b"<html>").unwrap_err(),
            ScrapeError::NotBencode(_)
        ));
        assert!(matches!(
            parse_scrape(b"li1ee").unwrap_err(),
            ScrapeError::NotBencode(_)
        ));
        assert_eq!(parse_scrape(b"de").unwrap_err(), ScrapeError::NoFiles);
        assert_eq!(
            parse_scrape(b"d5:fileslee").unwrap_err(),
            ScrapeError::FilesNotDict("a list")
        );
        assert_eq!(
            parse_scrape(b"d5:filesd3:abcdeee").unwrap_err(),
            ScrapeError::BadHash(3)
        );
        let entry = |tail: &[u8]| {
            let mut body = b"d5:filesd20:".to_vec();
            body.extend_from_slice(&[1u8; 20]);
            body.extend_from_slice(tail);
            body
        };
        assert!(matches!(
            parse_scrape(&entry(b"i5eee")).unwrap_err(),
            ScrapeError::BadCount { field: "files", .. }
        ));
        assert!(matches!(
            parse_scrape(&entry(b"d8:completei-1eeee")).unwrap_err(),
            ScrapeError::BadCount {
                field: "complete",
                ..
            }
        ));
        assert!(matches!(
            parse_scrape(&entry(b"d10:incomplete1:xeee")).unwrap_err(),
            ScrapeError::BadCount {
                field: "incomplete",
                ..
            }
        ));
        assert!(ScrapeError::BadHash(3).to_string().contains("20-byte"));
    }
}
