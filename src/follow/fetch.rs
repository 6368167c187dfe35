//! Getting the listing and the .torrent files it names, from a URL (our
//! HTTP client, with the configured CA and client certificate) or from the
//! local disk, each with a size cap.

use std::io::Read;
use std::path::PathBuf;

use super::listing::TorrentSource;
use crate::http::{HttpClient, Request, TlsOptions, Url};

/// Largest listing accepted (a million lines of index is about 100 MB; a
/// real one is far smaller, and a runaway server must not fill memory).
pub const MAX_LISTING_BYTES: usize = 32 * 1024 * 1024;

/// Where the listing (or a torrent it names) is.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    Url(Url),
    File(PathBuf),
}

impl Location {
    /// `http://`, `https://` or an absolute path.
    pub fn parse(text: &str) -> Result<Location, String> {
        let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return Url::parse(text)
                .map(Location::Url)
                .map_err(|e| e.to_string());
        }
        let path = PathBuf::from(text);
        if !path.is_absolute() {
            return Err(format!(
                "listing {text:?}: expected an http:// or https:// URL or an absolute path"
            ));
        }
        Ok(Location::File(path))
    }

    /// Where a listed torrent's .torrent file is, relative to this listing.
    pub fn resolve(&self, source: &TorrentSource) -> Result<Location, String> {
        match (source, self) {
            (TorrentSource::Url(url), _) => Location::parse(url),
            (TorrentSource::Relative { encoded, .. }, Location::Url(base)) => base
                .join(encoded)
                .map(Location::Url)
                .map_err(|e| e.to_string()),
            (TorrentSource::Relative { segments, .. }, Location::File(listing)) => {
                let mut path = listing
                    .parent()
                    .map(|p| p.to_path_buf())
                    .unwrap_or_else(|| PathBuf::from("/"));
                path.extend(segments);
                Ok(Location::File(path))
            }
            (TorrentSource::Magnet(_), _) => Err("a magnet link has no .torrent to fetch".into()),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Url(url) => write!(f, "{url}"),
            Location::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Fetches with the same TLS settings for the listing and every torrent.
pub struct Fetcher {
    http: HttpClient,
}

impl Fetcher {
    pub fn new(tls: TlsOptions, timeout: std::time::Duration) -> Fetcher {
        let mut http = HttpClient::new(tls);
        http.connect_timeout = timeout;
        http.read_timeout = timeout;
        http.total_timeout = timeout.saturating_mul(5);
        Fetcher { http }
    }

    /// The whole body, or why not: HTTP errors (TLS, status other than
    /// 200, a cut-off body) and file errors are all reasons.
    pub fn get(&mut self, location: &Location, max_bytes: usize) -> Result<Vec<u8>, String> {
        self.get_checked(location, max_bytes)
            .map(|(bytes, _)| bytes)
    }

    /// The body and whether its end is confirmed: false only for a body a
    /// plain-HTTP server delimited by closing the connection, which looks
    /// the same whether it was whole or cut (a local file, Content-Length,
    /// chunked framing and TLS close_notify all confirm it).
    pub fn get_checked(
        &mut self,
        location: &Location,
        max_bytes: usize,
    ) -> Result<(Vec<u8>, bool), String> {
        match location {
            Location::Url(url) => {
                self.http.max_body = max_bytes;
                let response = self
                    .http
                    .send(Request::get(url.clone()))
                    .map_err(|e| e.to_string())?;
                if response.status != 200 {
                    return Err(format!(
                        "{url} answered HTTP {} {}",
                        response.status, response.reason
                    ));
                }
                let confirmed = response.body_end.is_confirmed();
                Ok((response.body, confirmed))
            }
            Location::File(path) => {
                let file = std::fs::File::open(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let mut bytes = Vec::new();
                file.take(max_bytes as u64 + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                if bytes.len() > max_bytes {
                    return Err(format!(
                        "{} is larger than {max_bytes} bytes",
                        path.display()
                    ));
                }
                Ok((bytes, true))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_paths_against_the_listing() {
        let rel = TorrentSource::Relative {
            encoded: "a%20b/c.torrent".into(),
            segments: vec!["a b".into(), "c.torrent".into()],
        };
        let web = Location::parse("https://main.example/pub/index.txt").unwrap();
        assert_eq!(
            web.resolve(&rel).unwrap().to_string(),
            "https://main.example/pub/a%20b/c.torrent"
        );
        let disk = Location::parse("/srv/www/index.txt").unwrap();
        assert_eq!(
            disk.resolve(&rel).unwrap(),
            Location::File("/srv/www/a b/c.torrent".into())
        );
        assert!(Location::parse("index.txt").is_err());
    }
}
