//! BitTorrent metainfo: building single-file v1 torrents (`create`).
pub mod create;
