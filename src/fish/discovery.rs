//! Where peers come from: trackers and the DHT, each running in its own
//! thread behind this interface so the event loop only hands over the
//! swarm list and collects addresses.

use std::net::SocketAddr;

use crate::torrent::InfoHash;

/// A swarm as discovery needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swarm {
    pub info_hash: InfoHash,
    pub tracker_tiers: Vec<Vec<String>>,
    /// BEP 27: trackers only, never the DHT.
    pub private: bool,
    /// What we report as `left` (the torrent's size: we hold none of it).
    pub left: u64,
    /// A magnet being adopted (`--magnets`): we look for peers to fetch
    /// its metadata from, but have nothing to give yet, so the DHT must
    /// not announce us for it.
    pub adopting: bool,
}

/// Counters discovery reports for the status line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiscoveryStatus {
    pub tracker_failures: u64,
    pub tracker_announces: u64,
    pub dht_nodes: u64,
}

/// A source of peers.
pub trait Discovery: Send {
    /// The swarms to announce from now on (all of them, every time).
    fn set_swarms(&mut self, swarms: Vec<Swarm>);
    /// Peers learned since the last call.
    fn take_peers(&mut self) -> Vec<(InfoHash, SocketAddr)>;
    /// Counters for the report.
    fn status(&self) -> DiscoveryStatus;
    /// Says goodbye (tracker `stopped` events) and ends its thread,
    /// waiting at most a few seconds.
    fn stop(self: Box<Self>);
}
