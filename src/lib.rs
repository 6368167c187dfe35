//! lowspace: keeps BitTorrent work flowing through a small disk to big
//! storage, and keeps torrents alive at almost no cost.
//!
//! The crate is laid out by concern: `cli` is the imperative shell that reads
//! arguments and configuration and calls into the feature modules; each
//! feature module keeps its decisions in pure functions and its I/O in thin
//! executors.

pub(crate) mod base64;
pub mod cli;
pub mod client;
pub mod config;
pub(crate) mod env;
pub mod fish;
pub mod follow;
pub(crate) mod fsutil;
pub(crate) mod guard;
pub mod http;
pub(crate) mod logging;
pub mod process;
pub(crate) mod relpath;
pub mod rotate;
pub mod rtorrent;
pub mod size;
pub mod sync;
pub mod sys;
pub mod torrent;
pub mod tree;
