//! HTTP(S) trackers: a GET of the announce URL with `compact=1`, through
//! the crate's one HTTP client; the body is read by [`super::response`].

use std::time::Duration;

use super::response::{parse_http_announce, AnnounceReply};
use super::{AnnounceRequest, Event, TrackerError};
use crate::http::{HttpClient, Request, Url};

/// Announce responses are a few kilobytes; a tracker sending more is broken.
const MAX_BODY: usize = 1024 * 1024;

/// The client used for every HTTP announce: short timeouts, so one dead
/// tracker does not hold the announce thread long; from `bind` (the
/// outgoing interface) when one is given.
pub fn client(bind: Option<std::net::IpAddr>) -> HttpClient {
    let mut client = HttpClient::default();
    client.local_address = bind;
    client.connect_timeout = Duration::from_secs(10);
    client.read_timeout = Duration::from_secs(20);
    client.total_timeout = Duration::from_secs(30);
    client.max_body = MAX_BODY;
    client
}

/// Percent-encodes raw bytes (info-hash, peer id) for a query string.
pub fn percent_encode_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    crate::torrent::percent_encode_into(&mut out, bytes, b"");
    out
}

/// The full announce URL for `request`.
pub fn announce_url(base: &str, request: &AnnounceRequest) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut url = format!(
        "{base}{separator}info_hash={}&peer_id={}&port={}&uploaded=0&downloaded=0&left={}&compact=1&numwant={}&key={:08x}",
        percent_encode_bytes(request.info_hash.as_bytes()),
        percent_encode_bytes(&request.peer_id),
        request.port,
        request.left,
        request.numwant,
        request.key,
    );
    match request.event {
        Event::None => {}
        Event::Started => url.push_str("&event=started"),
        Event::Stopped => url.push_str("&event=stopped"),
        Event::Completed => url.push_str("&event=completed"),
    }
    url
}

/// One HTTP announce.
pub fn announce(
    client: &HttpClient,
    base: &str,
    request: &AnnounceRequest,
) -> Result<AnnounceReply, TrackerError> {
    let url =
        Url::parse(&announce_url(base, request)).map_err(|e| TrackerError::Http(e.to_string()))?;
    let response = client
        .send(Request::get(url))
        .map_err(|e| TrackerError::Http(e.to_string()))?;
    if response.status != 200 {
        // Some trackers say why in a bencoded body even with an error status.
        if let Err(super::response::ResponseError::Refused(why)) =
            parse_http_announce(&response.body)
        {
            return Err(TrackerError::Response(
                super::response::ResponseError::Refused(why),
            ));
        }
        return Err(TrackerError::Status(response.status));
    }
    parse_http_announce(&response.body).map_err(TrackerError::Response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::torrent::InfoHash;

    #[test]
    fn url_carries_every_parameter() {
        let request = AnnounceRequest {
            info_hash: InfoHash::from_bytes([
                0x12, 0x41, 0xff, 0x2e, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ]),
            peer_id: *b"-LS0100-abc def~ghij",
            port: 6881,
            left: 5,
            event: Event::Started,
            key: 0xbeef,
            numwant: 50,
        };
        let url = announce_url("http://t.example/announce?passkey=x", &request);
        assert_eq!(
            url,
            "http://t.example/announce?passkey=x&info_hash=%12A%FF.%20%00%00%00%00%00%00%00%00%00%00%00%00%00%00%00\
&peer_id=-LS0100-abc%20def~ghij&port=6881&uploaded=0&downloaded=0&left=5&compact=1&numwant=50&key=0000beef&event=started"
        );
    }
}
