//! `lowspace fish`: a metadata-only BitTorrent peer. It holds .torrent
//! files, never their data, and hands the info dictionary (BEP 9) to any
//! peer that arrives with only a magnet link, so a torrent stays
//! resolvable long after its seeders are gone.

pub mod adopt;
pub mod dht;
pub mod dial;
pub mod discovery;
pub mod peer_jobs;
pub mod registry;
pub mod server;
pub mod tracker;
pub mod wire;
