//! Where peers come from: trackers and the DHT, each running in its own
//! thread behind this interface so the event loop only hands over the
//! swarm list and collects addresses.

use std::net::{IpAddr, SocketAddr};
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
    /// Scrapes of resting trackers that found them up again.
    pub tracker_scrapes: u64,
    pub dht_nodes: u64,
    /// The DHT's query rate (queries a second, all its nodes).
    pub dht_rate: u64,
    /// How long announcing every swarm on the DHT takes at that rate,
    /// and how often each should be announced.
    pub dht_cycle_secs: u64,
    pub dht_interval_secs: u64,
    pub dht_queries_sent: u64,
    pub dht_queries_received: u64,
    pub dht_get_peers_received: u64,
    /// DHT announces after a full lookup, and from cached nodes.
    pub dht_announces_full: u64,
    pub dht_announces_cached: u64,
}

/// What periodic multi-hash scrapes (BEP 48) tell of one HTTP tracker,
/// for the state file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrackerHealth {
    /// The announce URL, credentials and query redacted.
    pub tracker: String,
    /// Torrents in its last full round of scrapes.
    pub torrents_scraped: u64,
    /// Of those, how many it lists with peers besides us.
    pub with_other_peers: u64,
    /// "ok", or why the last scrape failed.
    pub last_scrape: String,
    /// False once it answered a multi-hash scrape with an error or with
    /// only one of the hashes: it is never scraped again.
    pub multi_scrape: bool,
}

/// A source of peers.
pub trait Discovery: Send {
    /// The swarms to announce from now on (all of them, every time).
    fn set_swarms(&mut self, swarms: Vec<Swarm>);
    /// Peers learned since the last call.
    fn take_peers(&mut self) -> Vec<(InfoHash, SocketAddr)>;
    /// Counters for the report.
    fn status(&self) -> DiscoveryStatus;
    /// Scrape health of its trackers (none but the tracker thread's).
    fn tracker_health(&self) -> Vec<TrackerHealth> {
        Vec::new()
    }
    /// A peer at `voter` said it sees us at `seen` (BEP 10 `yourip`): a
    /// vote for our external address, which the DHT binds its id to.
    fn saw_external(&mut self, _voter: IpAddr, _seen: IpAddr) {}
    /// Says goodbye (tracker `stopped` events) and ends its thread,
    /// waiting at most a few seconds.
    fn stop(self: Box<Self>);
}

/// Peers waiting for the event loop, at most (a bound on memory: the loop
/// takes them every wake-up, so only a stalled loop ever reaches it).
const MAX_PENDING_PEERS: usize = 10_000;

/// Votes for our external address waiting for the DHT thread, at most.
const MAX_PENDING_VOTES: usize = 64;

/// What a source's thread hands the event loop: the peers it found and
/// its counters. The thread writes, the loop reads (votes for our
/// external address go the other way).
#[derive(Default)]
pub struct Found {
    peers: Mutex<Vec<(InfoHash, SocketAddr)>>,
    votes: Mutex<Vec<(IpAddr, IpAddr)>>,
    /// Per HTTP tracker, replaced whole by the tracker thread.
    pub tracker_health: Mutex<Vec<TrackerHealth>>,
    pub tracker_failures: AtomicU64,
    pub tracker_announces: AtomicU64,
    pub tracker_scrapes: AtomicU64,
    pub dht_nodes: AtomicU64,
    pub dht_rate: AtomicU64,
    pub dht_cycle_secs: AtomicU64,
    pub dht_interval_secs: AtomicU64,
    pub dht_queries_sent: AtomicU64,
    pub dht_queries_received: AtomicU64,
    pub dht_get_peers_received: AtomicU64,
    pub dht_announces_full: AtomicU64,
    pub dht_announces_cached: AtomicU64,
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

    /// Votes (voter, what it sees us at) given since the last call.
    pub fn take_votes(&self) -> Vec<(IpAddr, IpAddr)> {
        match self.votes.lock() {
            Ok(mut votes) => std::mem::take(&mut *votes),
            Err(_) => Vec::new(),
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
            tracker_scrapes: self.tracker_scrapes.load(Ordering::Relaxed),
            dht_nodes: self.dht_nodes.load(Ordering::Relaxed),
            dht_rate: self.dht_rate.load(Ordering::Relaxed),
            dht_cycle_secs: self.dht_cycle_secs.load(Ordering::Relaxed),
            dht_interval_secs: self.dht_interval_secs.load(Ordering::Relaxed),
            dht_queries_sent: self.dht_queries_sent.load(Ordering::Relaxed),
            dht_queries_received: self.dht_queries_received.load(Ordering::Relaxed),
            dht_get_peers_received: self.dht_get_peers_received.load(Ordering::Relaxed),
            dht_announces_full: self.dht_announces_full.load(Ordering::Relaxed),
            dht_announces_cached: self.dht_announces_cached.load(Ordering::Relaxed),
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

    fn tracker_health(&self) -> Vec<TrackerHealth> {
        self.found
            .tracker_health
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default()
    }

    fn saw_external(&mut self, voter: IpAddr, seen: IpAddr) {
        // Only the DHT nodes read votes.
        if !self.name.starts_with("dht") {
            return;
        }
        if let Ok(mut votes) = self.found.votes.lock() {
            if votes.len() < MAX_PENDING_VOTES {
                votes.push((voter, seen));
            }
        }
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
