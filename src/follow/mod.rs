//! `lowspace follow`: make a torrent client hold exactly what a published
//! listing holds, so several boxes keep the same data and any of them can
//! become the main one.
//!
//! - [`listing`]: the pure parser for `tree`'s index.txt and for plain
//!   lists of torrent URLs and magnet links.
//! - [`diff`]: the pure plan (add / remove / keep) and its safety rules:
//!   only labelled torrents are removed, and only after a complete listing.
//! - [`client`]: the small trait over the two clients, with
//!   [`transmission`] (JSON RPC) and [`rtorrent`] (XML-RPC, `d.custom1`).
//! - [`place`]: the directory each listed torrent's data belongs in.
//! - [`fetch`]: the listing and its .torrent files over HTTP(S) or disk.
//! - [`run`]: the executor.

pub mod client;
pub mod diff;
pub mod fetch;
pub mod listing;
pub mod place;
pub mod rtorrent;
pub mod run;
pub mod transmission;

pub use client::{ClientError, ClientTorrent, TorrentClient};
pub use run::{run, FollowOptions, FollowOutcome};
