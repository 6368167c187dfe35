//! Where peers come from: trackers and the DHT, each running in its own
//! thread behind this interface so the event loop only hands over the
//! swarm list and collects addresses.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::torrent::InfoHash;

/// Trackers by tier (BEP 12), shared: most torrents of an archive have
/// the same list, and 100,000 copies of it would be most of fish's memory.
pub type Tiers = Arc<Vec<Vec<String>>>;

/// A swarm as discovery needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swarm {
    pub info_hash: InfoHash,
    pub tracker_tiers: Tiers,
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

/// Peers waiting for the event loop, at most (a bound on memory: the loop
/// takes them every wake-up, so only a stalled loop ever reaches it).
const MAX_PENDING_PEERS: usize = 10_000;

/// What a source's thread hands the event loop: the peers it found and
/// its counters. The thread writes, the loop reads.
#[derive(Default)]
pub struct Found {
    peers: Mutex<Vec<(InfoHash, SocketAddr)>>,
    pub tracker_failures: AtomicU64,
    pub tracker_announces: AtomicU64,
    pub dht_nodes: AtomicU64,
}

impl Found {
    /// Queues a peer for the loop (dropped past [`MAX_PENDING_PEERS`]: it
    /// will be learned again).
    pub fn add_peer(&self, info_hash: InfoHash, addr: SocketAddr) {
        if let Ok(mut peers) = self.peers.lock() {
            if peers.len() < MAX_PENDING_PEERS {
                peers.push((info_hash, addr));
            }
        }
    }

    fn take_peers(&self) -> Vec<(InfoHash, SocketAddr)> {
        match self.peers.lock() {
            Ok(mut peers) => std::mem::take(&mut *peers),
            Err(_) => Vec::new(),
        }
    }

    fn status(&self) -> DiscoveryStatus {
        DiscoveryStatus {
            tracker_failures: self.tracker_failures.load(Ordering::Relaxed),
            tracker_announces: self.tracker_announces.load(Ordering::Relaxed),
            dht_nodes: self.dht_nodes.load(Ordering::Relaxed),
        }
    }
}

/// What a source's thread is given: the swarm lists as they change, where
/// to put what it finds, and the flag that tells it to say goodbye.
pub struct SourceLink {
    pub swarms: Receiver<Vec<Swarm>>,
    pub found: Arc<Found>,
    pub stop: Arc<AtomicBool>,
}

/// A peer source running in its own thread (trackers, the DHT): the one
/// shell both use, so the event loop sees them the same way.
pub struct SourceThread {
    name: &'static str,
    swarms: Sender<Vec<Swarm>>,
    found: Arc<Found>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    stop_budget: Duration,
}

impl SourceThread {
    /// Starts `body` on a thread called `name` with a `stack`-byte stack;
    /// [`Discovery::stop`] waits for it at most `stop_budget`.
    pub fn spawn(
        name: &'static str,
        stack: usize,
        stop_budget: Duration,
        body: impl FnOnce(SourceLink) + Send + 'static,
    ) -> std::io::Result<SourceThread> {
        let (swarms, updates) = mpsc::channel();
        let found = Arc::new(Found::default());
        let stop = Arc::new(AtomicBool::new(false));
        let link = SourceLink {
            swarms: updates,
            found: Arc::clone(&found),
            stop: Arc::clone(&stop),
        };
        let thread = std::thread::Builder::new()
            .name(name.into())
            .stack_size(stack)
            .spawn(move || body(link))?;
        Ok(SourceThread {
            name,
            swarms,
            found,
            stop,
            thread: Some(thread),
            stop_budget,
        })
    }
}

impl Discovery for SourceThread {
    fn set_swarms(&mut self, swarms: Vec<Swarm>) {
        let _ = self.swarms.send(swarms);
    }

    fn take_peers(&mut self) -> Vec<(InfoHash, SocketAddr)> {
        self.found.take_peers()
    }

    fn status(&self) -> DiscoveryStatus {
        self.found.status()
    }

    /// Raises the stop flag and waits at most the stop budget: a thread
    /// stuck in the resolver (a bootstrap or tracker host name) is left
    /// behind rather than holding up the exit.
    fn stop(mut self: Box<Self>) {
        self.stop.store(true, Ordering::SeqCst);
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + self.stop_budget;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            log::warn!("the {} thread did not stop in time; leaving it", self.name);
        }
    }
}
