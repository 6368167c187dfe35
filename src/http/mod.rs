//! The one HTTP/1.1 client of lowspace: rtorrent's XML-RPC over HTTP (how
//! seedboxes expose it behind basic auth), the `follow` job's listings over
//! HTTPS with client certificates, and BitTorrent HTTP trackers.
//!
//! Blocking and small: one request per connection, rustls with the ring
//! provider for HTTPS. The response parser is pure ([`response`]) so it can
//! be fuzzed apart from the sockets.

pub mod client;
pub mod error;
pub mod form;
pub mod response;
pub mod tls;
pub mod url;

pub use client::{HttpClient, Request};
pub use error::HttpError;
pub use response::{Response, ResponseError};
pub use tls::TlsOptions;
pub use url::{Scheme, Url, UrlError};
