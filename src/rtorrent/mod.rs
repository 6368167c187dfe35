//! rtorrent over XML-RPC.
//!
//! - [`url`]: `socket_url` → [`Transport`] (Unix socket, TCP, HTTP(S)).
//! - [`scgi`]: SCGI framing, pure, plus the read/write exchange.
//! - [`xmlrpc`]: values, encoder, streaming decoder.
//! - [`download`]: what lowspace reads about downloads and files.
//! - [`client`]: the typed [`Client`], which batches reads into
//!   `d.multicall2`/`f.multicall` and writes into `system.multicall`, and
//!   counts its round trips.
//! - [`error`]: [`RpcError`], worded for the user.
//! - [`limit`]: the request size rtorrent takes, and ours.
//! - [`directory`]: its download directory, made absolute.

pub mod client;
pub mod directory;
pub mod download;
pub mod error;
pub mod limit;
pub mod scgi;
pub mod url;
pub mod xmlrpc;

pub use client::{Call, Client, ClientOptions};
pub use download::{Download, FilePriority, TorrentFile};
pub use error::RpcError;
pub use url::{parse_socket_url, Transport};
