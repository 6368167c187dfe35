//! The DHT node (BEP 5): finds peers for our torrents without trackers and
//! tells the DHT we have them, in a thread of its own behind
//! [`Discovery`](super::discovery::Discovery), on one UDP socket bound to
//! the TCP listener's address; a second node on IPv6 (BEP 32) when the
//! listen address is IPv6 (`::` runs both).
//!
//! - [`krpc`]: the messages (fuzzed).
//! - [`node_id`]: ids, XOR distance, compact node info, BEP 42 ids.
//! - [`routing`]: the k-bucket routing table.
//! - [`token`]: announce tokens from a rotating secret.
//! - [`store`]: peers announced to us.
//! - [`lookup`]: the iterative get_peers / find_node state machine.
//! - [`schedule`]: when each info-hash is due, and its cached closest nodes.
//! - [`rate`]: the query rate (`--dht-rate`), a token bucket.
//! - [`external`]: our external address, voted by the nodes that answer.
//! - [`state`]: node id and nodes kept across restarts.
//!
//! This file is the thin shell: socket, clock, and which pure piece is
//! asked what. Everything is bounded (table 160×8, store, outstanding
//! queries, concurrent lookups) and every query we send waits for the
//! rate, so 100,000 swarms do not burst.

pub mod external;
pub mod krpc;
pub mod lookup;
pub mod node_id;
pub mod rate;
pub mod routing;
pub mod schedule;
pub mod state;
pub mod store;
pub mod token;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dial::OwnAddresses;
use super::discovery::{Found, SourceThread, Swarm};
use crate::torrent::InfoHash;
use external::ExternalVotes;
use krpc::{Body, Message, Query, Response, Want};
use lookup::Lookup;
use node_id::{bep42_exempt, bep42_id, bep42_valid, canonical, NodeId, NodeInfo};
use rate::TokenBucket;
use routing::{RoutingTable, K};
use schedule::{AnySchedule, CACHED_NODES};
use state::DhtState;
use store::PeerStore;
use token::Tokens;

/// The well-known public routers.
pub const DEFAULT_BOOTSTRAP: [&str; 4] = [
    "router.bittorrent.com:6881",
    "router.utorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "dht.libtorrent.org:25401",
];
/// How often each info-hash is announced again.
pub const DEFAULT_REANNOUNCE: Duration = Duration::from_secs(15 * 60);
/// The state files' names in the state directory (one node id and node
/// list per family: BEP 42 binds an id to an address of one family).
pub const STATE_FILE: &str = "dht.json";
pub const STATE_FILE6: &str = "dht6.json";
pub use rate::DEFAULT_RATE;

/// How long the thread sleeps in a read at most: the pace of timeouts,
/// lookups and the stop check (4 wake-ups a second cost nothing).
const TICK: Duration = Duration::from_millis(250);
/// An unanswered query is given up after this.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Queries in flight at once, at most.
const MAX_PENDING: usize = 256;
/// Lookups at once, at most (find_node refreshes included): enough that
/// re-announces from cached nodes (a round trip each) keep up with the
/// default rate.
const MAX_LOOKUPS: usize = 32;
/// announce_peer queries waiting for the rate, at most; no new lookup
/// starts while half this many wait.
const MAX_ANNOUNCE_QUEUE: usize = 256;
/// Nodes waiting for a ping, at most.
const MAX_TO_PING: usize = 256;
/// A node is not pinged again sooner than this.
const REPING_AFTER: Duration = Duration::from_secs(5 * 60);
const MAX_REMEMBERED_PINGS: usize = 2_048;
/// Bootstrap again while the table is this small, this often.
const BOOTSTRAP_RETRY: Duration = Duration::from_secs(60);
/// With saved nodes, bootstrap only if they have not answered by then.
const SAVED_NODES_GRACE: Duration = Duration::from_secs(10);
/// Routing table upkeep (questionable pings, bucket refresh), this often.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);
const SAVE_EVERY: Duration = Duration::from_secs(5 * 60);
/// The announce-cycle warning is repeated at most this often.
const CYCLE_WARNING_EVERY: Duration = Duration::from_secs(60 * 60);
/// A KRPC packet larger than this is not one (BEP 5 packets fit 1500).
const MAX_PACKET: usize = 2048;
const THREAD_STACK: usize = 128 * 1024;
/// How long stopping may take.
const STOP_BUDGET: Duration = Duration::from_secs(3);
/// Queries one announce is assumed to cost before any was measured: a
/// full lookup (about 20 get_peers) and 8 announce_peer.
const FIRST_COST_GUESS: f64 = 28.0;

/// How the node is set up.
#[derive(Debug, Clone)]
pub struct DhtOptions {
    /// The TCP listener's address: the UDP socket binds the same (`::`:
    /// an IPv4 node on 0.0.0.0 and an IPv6 node on ::).
    pub bind: SocketAddr,
    /// host:port of the nodes to join through, resolved in the thread.
    pub bootstrap: Vec<String>,
    /// Where dht.json (and dht6.json) live.
    pub state_dir: PathBuf,
    /// Our own addresses: never handed out, never in the table.
    pub own: OwnAddresses,
    /// How often each info-hash is announced again.
    pub reannounce: Duration,
    /// Queries a second, all nodes together (`--dht-rate`).
    pub rate: u32,
}

/// The DHT node, as a [`Discovery`](super::discovery::Discovery) source.
pub struct DhtDiscovery;

impl DhtDiscovery {
    /// Binds the socket(s) (an error here is the caller's to report) and
    /// starts a node's thread per family; stopping saves the state and
    /// waits at most [`STOP_BUDGET`] (a bootstrap name lookup can hang in
    /// the resolver).
    pub fn start(options: DhtOptions) -> std::io::Result<Vec<SourceThread>> {
        let port = options.bind.port();
        let sockets = match options.bind {
            SocketAddr::V6(v6) if v6.ip().is_unspecified() => vec![
                UdpSocket::bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port))?,
                crate::sys::udp_bind_v6_only(v6)?,
            ],
            addr => vec![UdpSocket::bind(addr)?],
        };
        let share = (options.rate / sockets.len().max(1) as u32).max(1);
        let mut threads = Vec::new();
        for socket in sockets {
            socket.set_read_timeout(Some(TICK))?;
            let v6 = socket.local_addr()?.is_ipv6();
            let mut options = options.clone();
            options.rate = share;
            let name = if v6 { "dht6" } else { "dht" };
            threads.push(SourceThread::spawn(
                name,
                THREAD_STACK,
                STOP_BUDGET,
                move |link| {
                    let node =
                        Node::new(socket, v6, options, Arc::clone(&link.found), Instant::now());
                    node.run(&link.swarms, &link.stop);
                },
            )?);
        }
        Ok(threads)
    }
}

/// How long announcing every swarm once takes at `rate` queries a second
/// when one announce costs `cost` queries (measured: cached re-announces
/// are cheap, full lookups are not).
pub fn announce_cycle(swarms: usize, cost: f64, rate: u32) -> Duration {
    let queries = swarms as f64 * cost.max(0.0);
    Duration::from_secs_f64((queries / f64::from(rate.max(1))).min(1e9))
}

/// The swarms the DHT looks up, and whether it announces each: never a
/// private torrent (BEP 27); a magnet being adopted is looked up but not
/// announced (we have nothing to give for it yet).
fn dht_swarms(swarms: &[Swarm]) -> impl Iterator<Item = (InfoHash, bool)> + '_ {
    swarms
        .iter()
        .filter(|s| !s.private)
        .map(|s| (s.info_hash, !s.adopting))
}

/// How often a magnet being adopted is looked up again: a swarm's peers
/// come and go, and until one is found the magnet cannot be served, so
/// waiting a full re-announce interval (15 min) after an empty answer
/// would leave it unresolved for long.
const ADOPTING_LOOKUP_EVERY: Duration = Duration::from_secs(60);

/// A magnet being adopted whose lookup found nobody is asked again after
/// this, doubling up to [`ADOPTING_LOOKUP_EVERY`]: right after start the
/// routing table is still filling, and the first answers are the poorest.
const ADOPTING_RETRY_FIRST: Duration = Duration::from_secs(5);

/// When an adopting magnet is looked up again after `empty` lookups in a
/// row that found no peer.
fn adopting_retry(empty: u32) -> Duration {
    ADOPTING_RETRY_FIRST
        .saturating_mul(1u32 << empty.saturating_sub(1).min(8))
        .min(ADOPTING_LOOKUP_EVERY)
}

/// When a swarm's next get_peers is due after this one.
fn lookup_interval(announce: bool, reannounce: Duration) -> Duration {
    if announce {
        reannounce
    } else {
        reannounce.min(ADOPTING_LOOKUP_EVERY)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Ping,
    /// find_node to a bootstrap node (the host:port it was given as).
    Bootstrap(usize),
    Lookup(u64),
    Announce,
}

struct Pending {
    addr: SocketAddr,
    sent: Instant,
    purpose: Purpose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LookupKind {
    /// Filling the table: our own id or a bucket to refresh.
    FindNode,
    /// Peers for a swarm, then announce_peer unless adopting.
    GetPeers { info_hash: InfoHash, announce: bool },
}

struct Active {
    serial: u64,
    kind: LookupKind,
    lookup: Lookup,
    /// Queries this lookup sent (its cost, for the cycle estimate).
    sent: u32,
}

/// An announce_peer waiting for the rate.
struct Announce {
    to: SocketAddr,
    info_hash: InfoHash,
    token: Vec<u8>,
}

struct Node {
    socket: UdpSocket,
    v6: bool,
    options: DhtOptions,
    found: Arc<Found>,
    table: RoutingTable,
    tokens: Tokens,
    store: PeerStore,
    saved_nodes: Vec<NodeInfo>,
    pending: HashMap<u16, Pending>,
    next_transaction: u16,
    lookups: Vec<Active>,
    next_serial: u64,
    schedule: AnySchedule,
    rate: TokenBucket,
    announces: VecDeque<Announce>,
    to_ping: VecDeque<SocketAddr>,
    pinged: HashMap<SocketAddr, Instant>,
    votes: ExternalVotes,
    external: Option<IpAddr>,
    /// Queries one announce costs, a moving average.
    cost: f64,
    last_cycle_warning: Option<Instant>,
    next_bootstrap: Instant,
    next_maintenance: Instant,
    next_save: Instant,
}

impl Node {
    fn state_path(&self) -> PathBuf {
        self.options
            .state_dir
            .join(if self.v6 { STATE_FILE6 } else { STATE_FILE })
    }

    fn new(
        socket: UdpSocket,
        v6: bool,
        options: DhtOptions,
        found: Arc<Found>,
        now: Instant,
    ) -> Node {
        let path = options
            .state_dir
            .join(if v6 { STATE_FILE6 } else { STATE_FILE });
        let family = if v6 { "IPv6 " } else { "" };
        let loaded = match state::load(&path) {
            Ok(found) => found,
            Err(why) => {
                log::warn!("{family}DHT state unusable, starting with a new node id: {why}");
                None
            }
        };
        let (id, saved_nodes) = match loaded {
            Some(s) => {
                log::info!(
                    "{family}DHT node id {} and {} nodes from {}",
                    s.id,
                    s.nodes.len(),
                    path.display()
                );
                let nodes: Vec<NodeInfo> = s
                    .nodes
                    .into_iter()
                    .filter(|n| n.addr.is_ipv6() == v6)
                    .collect();
                (s.id, nodes)
            }
            None => {
                let id = NodeId::random();
                log::info!("{family}DHT node id {id} (new)");
                (id, Vec::new())
            }
        };
        let next_bootstrap = if saved_nodes.is_empty() {
            now
        } else {
            now + SAVED_NODES_GRACE
        };
        found
            .dht_rate
            .store(u64::from(options.rate), Ordering::Relaxed);
        found
            .dht_interval_secs
            .store(options.reannounce.as_secs(), Ordering::Relaxed);
        let node = Node {
            socket,
            v6,
            found,
            table: RoutingTable::new(id, now),
            tokens: Tokens::new(crate::sys::random_bytes(), now),
            store: PeerStore::default(),
            to_ping: saved_nodes
                .iter()
                .filter(|n| !options.own.is_own(&n.addr))
                .map(|n| n.addr)
                .take(MAX_TO_PING)
                .collect(),
            saved_nodes,
            schedule: AnySchedule::new(v6, now),
            rate: TokenBucket::new(options.rate, now),
            options,
            pending: HashMap::new(),
            next_transaction: 0,
            lookups: Vec::new(),
            next_serial: 0,
            announces: VecDeque::new(),
            pinged: HashMap::new(),
            votes: ExternalVotes::default(),
            external: None,
            cost: FIRST_COST_GUESS,
            last_cycle_warning: None,
            next_bootstrap,
            next_maintenance: now + MAINTENANCE_EVERY,
            next_save: now + SAVE_EVERY,
        };
        node.save();
        node
    }

    fn run(mut self, updates: &Receiver<Vec<Swarm>>, stop: &AtomicBool) {
        let mut buf = [0u8; MAX_PACKET];
        let mut next_tick = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            match self.socket.recv_from(&mut buf) {
                Ok((len, from)) => {
                    let from = canonical(from);
                    if from.is_ipv6() == self.v6 {
                        if let Some(packet) = buf.get(..len) {
                            self.handle_packet(packet, from, Instant::now());
                        }
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => {
                    log::debug!("DHT socket: {e}");
                    std::thread::sleep(TICK);
                }
            }
            let now = Instant::now();
            if now < next_tick {
                continue;
            }
            next_tick = now + TICK;
            loop {
                match updates.try_recv() {
                    Ok(swarms) => self.set_swarms(swarms, now),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return self.save(),
                }
            }
            self.tick(now);
        }
        self.save();
    }

    fn set_swarms(&mut self, swarms: Vec<Swarm>, now: Instant) {
        self.schedule.set_swarms(dht_swarms(&swarms), now);
        let schedule = &self.schedule;
        self.lookups.retain(|a| match a.kind {
            LookupKind::GetPeers { info_hash, .. } => schedule.contains(&info_hash),
            LookupKind::FindNode => true,
        });
    }

    fn tick(&mut self, now: Instant) {
        for (voter, seen) in self.found.take_votes() {
            self.learn_external(voter, seen, now);
        }
        self.expire_queries(now);
        self.tokens.rotate_if_due(now, crate::sys::random_bytes);
        if now >= self.next_bootstrap {
            self.next_bootstrap = now + BOOTSTRAP_RETRY;
            if self.table.len() < K {
                self.bootstrap(now);
            }
        }
        if now >= self.next_maintenance {
            self.next_maintenance = now + MAINTENANCE_EVERY;
            self.maintain(now);
        }
        // What is under way first, so started work ends before new work
        // begins: announces of finished lookups, then lookups, then pings.
        self.drain_announces(now);
        self.advance_lookups(now);
        self.drain_pings(now);
        self.start_lookups(now);
        self.publish(now);
        if now >= self.next_save {
            self.next_save = now + SAVE_EVERY;
            self.save();
        }
    }

    /// Counters and the announce-cycle estimate for the report.
    fn publish(&mut self, now: Instant) {
        self.found
            .dht_nodes
            .store(self.table.len() as u64, Ordering::Relaxed);
        let announced = self.schedule.announced();
        let cycle = announce_cycle(announced, self.cost, self.rate.rate());
        self.found
            .dht_cycle_secs
            .store(cycle.as_secs(), Ordering::Relaxed);
        if cycle > self.options.reannounce
            && self
                .last_cycle_warning
                .is_none_or(|at| now.saturating_duration_since(at) >= CYCLE_WARNING_EVERY)
        {
            self.last_cycle_warning = Some(now);
            log::warn!(
                "DHT: announcing all {announced} swarms takes {} at {} queries/s ({:.0} queries each), longer than the {} announce interval: some announces will be late; raise --dht-rate",
                crate::size::short_duration(cycle),
                self.rate.rate(),
                self.cost,
                crate::size::short_duration(self.options.reannounce),
            );
        }
    }

    fn save(&self) {
        let mut nodes = self.table.nodes_to_keep(Instant::now());
        if nodes.is_empty() {
            // Nothing answered yet this run: keep what we knew.
            nodes = self.saved_nodes.clone();
        }
        let path = self.state_path();
        let state = DhtState {
            id: self.table.own_id(),
            nodes,
        };
        if let Err(e) = state::save(&path, &state) {
            log::warn!("cannot save DHT state to {}: {e}", path.display());
        }
    }

    fn expire_queries(&mut self, now: Instant) {
        let expired: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.sent) >= QUERY_TIMEOUT)
            .map(|(t, _)| *t)
            .collect();
        for t in expired {
            if let Some(p) = self.pending.remove(&t) {
                self.table.failed(&p.addr);
                match p.purpose {
                    Purpose::Lookup(serial) => {
                        if let Some(a) = self.lookups.iter_mut().find(|a| a.serial == serial) {
                            a.lookup.failed(p.addr);
                        }
                    }
                    Purpose::Bootstrap(i) => {
                        // Worth a warning only while it is all we have.
                        let level = if self.table.is_empty() {
                            log::Level::Warn
                        } else {
                            log::Level::Debug
                        };
                        log::log!(
                            level,
                            "DHT bootstrap node {} ({}) did not answer",
                            self.options.bootstrap.get(i).map_or("?", String::as_str),
                            p.addr
                        );
                    }
                    Purpose::Ping | Purpose::Announce => {}
                }
            }
        }
        self.store.expire(now);
        self.pinged
            .retain(|_, at| now.saturating_duration_since(*at) < REPING_AFTER);
    }

    fn bootstrap(&mut self, now: Instant) {
        let target = self.table.own_id();
        let family = if self.v6 { "IPv6" } else { "IPv4" };
        for (index, host) in self.options.bootstrap.clone().iter().enumerate() {
            let addrs: Vec<SocketAddr> = match host.to_socket_addrs() {
                Ok(addrs) => addrs.filter(|a| a.is_ipv6() == self.v6).collect(),
                Err(e) => {
                    log::warn!("DHT bootstrap node {host}: cannot resolve: {e}");
                    continue;
                }
            };
            let Some(addr) = addrs.first() else {
                log::debug!("DHT bootstrap node {host}: no {family} address");
                continue;
            };
            log::debug!("DHT bootstrapping from {host} ({addr})");
            let query = Query::FindNode {
                id: target,
                target,
                want: Want::default(),
            };
            // Rare (a few a minute while alone), so not held to the rate.
            self.send_query(*addr, query, Purpose::Bootstrap(index), now);
        }
    }

    fn maintain(&mut self, now: Instant) {
        for node in self.table.questionable(K, now) {
            self.queue_ping(node.addr);
        }
        let refreshing = self.lookups.iter().any(|a| a.kind == LookupKind::FindNode);
        if !refreshing && !self.table.is_empty() {
            if let Some(target) = self.table.refresh_target(now) {
                self.begin_lookup(
                    LookupKind::FindNode,
                    Lookup::new(target.0, &self.table.closest(&target.0, K, now)),
                    now,
                );
            }
        }
    }

    fn queue_ping(&mut self, addr: SocketAddr) {
        if self.pinged.contains_key(&addr)
            || self.to_ping.contains(&addr)
            || self.to_ping.len() >= MAX_TO_PING
            || self.pinged.len() >= MAX_REMEMBERED_PINGS
            || self.options.own.is_own(&addr)
        {
            return;
        }
        self.to_ping.push_back(addr);
    }

    fn drain_pings(&mut self, now: Instant) {
        // Half the in-flight budget at most, so lookups keep going.
        while self.pending.len() < MAX_PENDING / 2 && !self.to_ping.is_empty() {
            if !self.rate.try_take(now) {
                break;
            }
            let Some(addr) = self.to_ping.pop_front() else {
                break;
            };
            self.pinged.insert(addr, now);
            let query = Query::Ping {
                id: self.table.own_id(),
            };
            self.send_query(addr, query, Purpose::Ping, now);
        }
    }

    fn drain_announces(&mut self, now: Instant) {
        while self.pending.len() < MAX_PENDING && !self.announces.is_empty() {
            if !self.rate.try_take(now) {
                break;
            }
            let Some(a) = self.announces.pop_front() else {
                break;
            };
            let query = Query::AnnouncePeer {
                id: self.table.own_id(),
                info_hash: a.info_hash,
                port: self.options.own.port,
                token: a.token,
                implied_port: true,
            };
            self.send_query(a.to, query, Purpose::Announce, now);
        }
    }

    /// Starts the lookups of the most overdue swarms while lookup slots,
    /// the announce queue and the rate leave room.
    fn start_lookups(&mut self, now: Instant) {
        // Without nodes a full lookup would end at once with nothing, and
        // its swarm would wait a whole interval for the next one.
        if self.table.is_empty() {
            return;
        }
        let slots = MAX_LOOKUPS.saturating_sub(self.lookups.len());
        if slots == 0
            || self.announces.len() >= MAX_ANNOUNCE_QUEUE / 2
            || self.rate.available(now) < lookup::ALPHA
        {
            return;
        }
        let reannounce = self.options.reannounce;
        let due = self
            .schedule
            .take_due(now, slots, |announce| lookup_interval(announce, reannounce));
        for job in due {
            let target = *job.info_hash.as_bytes();
            let lookup = if job.cached.is_empty() {
                Lookup::new(target, &self.table.closest(&target, K, now))
            } else {
                Lookup::cached(target, &job.cached)
            };
            self.begin_lookup(
                LookupKind::GetPeers {
                    info_hash: job.info_hash,
                    announce: job.announce,
                },
                lookup,
                now,
            );
        }
    }

    fn begin_lookup(&mut self, kind: LookupKind, lookup: Lookup, now: Instant) {
        self.next_serial += 1;
        self.lookups.push(Active {
            serial: self.next_serial,
            kind,
            lookup,
            sent: 0,
        });
        self.advance_lookups(now);
    }

    fn advance_lookups(&mut self, now: Instant) {
        let own = self.table.own_id();
        let want = Want::default();
        let mut index = 0;
        while index < self.lookups.len() {
            let mut queries = Vec::new();
            let mut finished = None;
            let budget = self
                .rate
                .available(now)
                .min(MAX_PENDING.saturating_sub(self.pending.len()));
            if let Some(active) = self.lookups.get_mut(index) {
                for node in active.lookup.next_queries(budget) {
                    let query = match active.kind {
                        LookupKind::FindNode => Query::FindNode {
                            id: own,
                            target: NodeId(*active.lookup.target()),
                            want,
                        },
                        LookupKind::GetPeers { info_hash, .. } => Query::GetPeers {
                            id: own,
                            info_hash,
                            want,
                        },
                    };
                    active.sent = active.sent.saturating_add(1);
                    queries.push((node.addr, query, active.serial));
                }
                if active.lookup.is_done() {
                    finished = Some(index);
                }
            }
            for (addr, query, serial) in queries {
                let _ = self.rate.try_take(now);
                self.send_query(addr, query, Purpose::Lookup(serial), now);
            }
            match finished {
                Some(i) => {
                    let active = self.lookups.swap_remove(i);
                    self.finish_lookup(active, now);
                }
                None => index += 1,
            }
        }
    }

    fn finish_lookup(&mut self, mut active: Active, now: Instant) {
        let LookupKind::GetPeers {
            info_hash,
            announce,
        } = active.kind
        else {
            log::debug!(
                "DHT refresh done: {} nodes answered, {} in the table",
                active.lookup.answered_count(),
                self.table.len()
            );
            return;
        };
        let narrow = active.lookup.is_narrow();
        let peers: Vec<SocketAddr> = active
            .lookup
            .take_peers()
            .into_iter()
            .filter(|p| !self.options.own.is_own(p))
            .collect();
        for peer in &peers {
            self.found.add_peer(info_hash, *peer);
        }
        let targets = active.lookup.announce_targets();
        let closest: Vec<SocketAddr> = targets
            .iter()
            .map(|(n, _)| n.addr)
            .take(CACHED_NODES)
            .collect();
        if closest.is_empty() && narrow {
            // Every cached node is gone: a full lookup now, not in 15 min.
            log::debug!("DHT cached nodes of {info_hash} did not answer: a full lookup follows");
            self.schedule.finished(&info_hash, &[], None, now);
            self.schedule.retry_now(&info_hash, now);
            return;
        }
        if !announce {
            let empty = self.schedule.empty_lookups(&info_hash).saturating_add(1);
            let retry = adopting_retry(u32::from(empty));
            // Nobody found from the cache: look wider next time.
            let keep: &[SocketAddr] = if peers.is_empty() { &[] } else { &closest };
            self.schedule
                .finished(&info_hash, keep, Some((!peers.is_empty(), retry)), now);
            log::debug!(
                "DHT get_peers {info_hash}: {} peers (not announced: adopting)",
                peers.len()
            );
            return;
        }
        self.schedule.finished(&info_hash, &closest, None, now);
        if targets.is_empty() {
            log::debug!(
                "DHT get_peers {info_hash}: no node answered with a token; nothing announced"
            );
            return;
        }
        for (node, token) in &targets {
            if self.announces.len() < MAX_ANNOUNCE_QUEUE {
                self.announces.push_back(Announce {
                    to: node.addr,
                    info_hash,
                    token: token.clone(),
                });
            }
        }
        let cost = f64::from(active.sent) + targets.len() as f64;
        self.cost = self.cost * 0.9 + cost * 0.1;
        let counter = if narrow {
            &self.found.dht_announces_cached
        } else {
            &self.found.dht_announces_full
        };
        counter.fetch_add(1, Ordering::Relaxed);
        log::debug!(
            "DHT announcing {info_hash} to {} nodes ({} peers found, {} get_peers, {})",
            targets.len(),
            peers.len(),
            active.sent,
            if narrow {
                "from cached nodes"
            } else {
                "full lookup"
            }
        );
    }

    fn send_query(&mut self, addr: SocketAddr, query: Query, purpose: Purpose, now: Instant) {
        if self.pending.len() >= MAX_PENDING {
            if let Purpose::Lookup(serial) = purpose {
                if let Some(a) = self.lookups.iter_mut().find(|a| a.serial == serial) {
                    a.lookup.failed(addr);
                }
            }
            return;
        }
        self.next_transaction = self.next_transaction.wrapping_add(1);
        let t = self.next_transaction;
        let message = Message {
            transaction: t.to_be_bytes().to_vec(),
            body: Body::Query(query),
            ip: None,
        };
        self.found.dht_queries_sent.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.socket.send_to(&krpc::encode(&message), addr) {
            log::debug!("DHT send to {addr}: {e}");
            if let Purpose::Lookup(serial) = purpose {
                if let Some(a) = self.lookups.iter_mut().find(|a| a.serial == serial) {
                    a.lookup.failed(addr);
                }
            }
            return;
        }
        self.pending.insert(
            t,
            Pending {
                addr,
                sent: now,
                purpose,
            },
        );
    }

    fn reply(&self, to: SocketAddr, transaction: Vec<u8>, body: Body) {
        // BEP 42: tell every node where we saw it, as others tell us.
        let ip = matches!(body, Body::Response(_)).then_some(to);
        let bytes = krpc::encode(&Message {
            transaction,
            body,
            ip,
        });
        if let Err(e) = self.socket.send_to(&bytes, to) {
            log::debug!("DHT reply to {to}: {e}");
        }
    }

    fn handle_packet(&mut self, packet: &[u8], from: SocketAddr, now: Instant) {
        if self.options.own.is_own(&from) {
            log::debug!("DHT dropped packet from {from}: our own address");
            return;
        }
        let message = match krpc::decode(packet) {
            Ok(m) => m,
            Err(why) => {
                log::debug!("DHT dropped packet from {from}: {why}");
                return;
            }
        };
        match message.body {
            Body::Query(query) => self.answer(from, message.transaction, query, now),
            Body::Response(response) => {
                self.handle_response(from, &message.transaction, response, message.ip, now)
            }
            Body::Error {
                code,
                message: text,
            } => {
                log::debug!("DHT error {code} from {from}: {text}");
                if let Some(p) = self.take_pending(from, &message.transaction) {
                    if let Purpose::Lookup(serial) = p.purpose {
                        if let Some(a) = self.lookups.iter_mut().find(|a| a.serial == serial) {
                            a.lookup.failed(from);
                        }
                    }
                }
            }
        }
    }

    fn take_pending(&mut self, from: SocketAddr, transaction: &[u8]) -> Option<Pending> {
        let t = u16::from_be_bytes(<[u8; 2]>::try_from(transaction).ok()?);
        if self.pending.get(&t)?.addr != from {
            return None;
        }
        self.pending.remove(&t)
    }

    /// A node (BEP 42 `ip`) or a peer (BEP 10 `yourip`) told us where it
    /// saw us: once most agree on a public address our id is not valid
    /// for, we take a valid one.
    fn learn_external(&mut self, voter: IpAddr, seen: IpAddr, now: Instant) {
        let seen = canonical(SocketAddr::new(seen, 0)).ip();
        if seen.is_ipv6() != self.v6 {
            return;
        }
        let Some(winner) = self.votes.vote(voter, seen) else {
            return;
        };
        if self.external == Some(winner) {
            return;
        }
        self.external = Some(winner);
        self.options.own.learn(winner);
        log::info!("DHT: our external address is {winner} (what the nodes answering us say)");
        let own = self.table.own_id();
        if bep42_exempt(winner) || bep42_valid(&own, winner) {
            return;
        }
        let random = crate::sys::random_bytes();
        let id = bep42_id(winner, random[19], random);
        log::info!("DHT node id {id} for {winner} (BEP 42; was {own})");
        self.table = self.table.with_new_id(id, now);
        self.save();
    }

    fn handle_response(
        &mut self,
        from: SocketAddr,
        transaction: &[u8],
        response: Response,
        ip: Option<SocketAddr>,
        now: Instant,
    ) {
        let Some(pending) = self.take_pending(from, transaction) else {
            log::debug!("DHT dropped response from {from}: no query of ours with that transaction");
            return;
        };
        if let Some(seen) = ip {
            self.learn_external(from.ip(), seen.ip(), now);
        }
        let Some(id) = response.id else {
            return;
        };
        let node = NodeInfo { id, addr: from };
        self.table.responded(node, now);
        let own = self.table.own_id();
        let nodes: Vec<NodeInfo> = if self.v6 {
            response.nodes6
        } else {
            response.nodes
        }
        .into_iter()
        .filter(|n| !self.options.own.is_own(&n.addr) && n.id != own)
        .collect();
        match pending.purpose {
            Purpose::Bootstrap(index) => {
                log::info!(
                    "DHT bootstrapped from {}: {} nodes in its answer, {} in our table",
                    self.options
                        .bootstrap
                        .get(index)
                        .map_or("?", String::as_str),
                    nodes.len(),
                    self.table.len()
                );
                let refreshing = self.lookups.iter().any(|a| a.kind == LookupKind::FindNode);
                if !refreshing {
                    let seeds = self.table.closest(&own.0, K, now);
                    self.begin_lookup(LookupKind::FindNode, Lookup::new(own.0, &seeds), now);
                }
                if let Some(active) = self
                    .lookups
                    .iter_mut()
                    .find(|a| a.kind == LookupKind::FindNode)
                {
                    active.lookup.add_nodes(&nodes);
                }
            }
            Purpose::Lookup(serial) => {
                if let Some(active) = self.lookups.iter_mut().find(|a| a.serial == serial) {
                    let values: Vec<SocketAddr> =
                        response.values.into_iter().map(canonical).collect();
                    active
                        .lookup
                        .answered(from, id, &nodes, &values, response.token);
                }
                // The next round goes out now, not at the next tick: a
                // lookup is a few round trips, and at a quarter second a
                // round the rate could never be used up.
                self.advance_lookups(now);
                self.drain_announces(now);
            }
            Purpose::Ping | Purpose::Announce => {}
        }
    }

    /// The closest nodes to `target` for an answer, in our family's field.
    fn nodes_for(&self, target: &[u8; 20], now: Instant) -> (Vec<NodeInfo>, Vec<NodeInfo>) {
        let closest = self.table.closest(target, K, now);
        if self.v6 {
            (Vec::new(), closest)
        } else {
            (closest, Vec::new())
        }
    }

    fn answer(&mut self, from: SocketAddr, transaction: Vec<u8>, query: Query, now: Instant) {
        let own = self.table.own_id();
        let sender = query.sender();
        log::trace!("DHT {} from {from}", query.method());
        if sender == own {
            log::debug!("DHT dropped query from {from}: it uses our node id");
            return;
        }
        self.found
            .dht_queries_received
            .fetch_add(1, Ordering::Relaxed);
        // A node that queries us may be worth a place in the table: find
        // out by pinging it (only nodes that answer us get in).
        if !self.table.contains(&from) && self.table.has_room_for(&sender, &from, now) {
            self.queue_ping(from);
        }
        let body = match query {
            Query::Ping { .. } => Body::Response(Response {
                id: Some(own),
                ..Response::default()
            }),
            Query::FindNode { target, .. } => {
                let (nodes, nodes6) = self.nodes_for(&target.0, now);
                Body::Response(Response {
                    id: Some(own),
                    nodes,
                    nodes6,
                    ..Response::default()
                })
            }
            Query::GetPeers { info_hash, .. } => {
                self.found
                    .dht_get_peers_received
                    .fetch_add(1, Ordering::Relaxed);
                let values: Vec<SocketAddr> = self
                    .store
                    .peers(&info_hash, now)
                    .into_iter()
                    .filter(|p| !self.options.own.is_own(p))
                    .collect();
                let (nodes, nodes6) = self.nodes_for(info_hash.as_bytes(), now);
                Body::Response(Response {
                    id: Some(own),
                    nodes,
                    nodes6,
                    values,
                    token: Some(self.tokens.token_for(from.ip()).to_vec()),
                })
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                token,
                implied_port,
                ..
            } => {
                if !self.tokens.is_valid(from.ip(), &token) {
                    log::debug!("DHT dropped announce_peer from {from}: bad token");
                    Body::Error {
                        code: krpc::ERROR_PROTOCOL,
                        message: "bad token".into(),
                    }
                } else {
                    let port = if implied_port { from.port() } else { port };
                    let peer = SocketAddr::new(from.ip(), port);
                    if self.store.announce(info_hash, peer, now) {
                        log::debug!("DHT stored {peer} for {info_hash}");
                    } else {
                        log::debug!("DHT dropped announce_peer from {from}: peer store full");
                    }
                    Body::Response(Response {
                        id: Some(own),
                        ..Response::default()
                    })
                }
            }
            Query::Unknown { method, .. } => {
                log::debug!("DHT dropped query from {from}: unknown method {method:?}");
                Body::Error {
                    code: krpc::ERROR_METHOD_UNKNOWN,
                    message: "Method Unknown".into(),
                }
            }
        };
        self.reply(from, transaction, body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_torrents_stay_off_the_dht_and_adopted_magnets_are_not_announced() {
        let swarm = |b: u8, private: bool, adopting: bool| Swarm {
            info_hash: InfoHash::from_bytes([b; 20]),
            tracker_tiers: Default::default(),
            private,
            left: 1,
            adopting,
        };
        let swarms = [
            swarm(1, false, false),
            swarm(2, true, false),
            swarm(3, false, true),
            swarm(4, true, true),
        ];
        let wanted: HashMap<InfoHash, bool> = dht_swarms(&swarms).collect();
        let mut got: Vec<(u8, bool)> = wanted
            .iter()
            .map(|(h, announce)| (h.as_bytes()[0], *announce))
            .collect();
        got.sort();
        assert_eq!(got, vec![(1, true), (3, false)]);
    }

    #[test]
    fn a_magnet_being_adopted_is_looked_up_more_often() {
        let quarter = Duration::from_secs(15 * 60);
        assert_eq!(lookup_interval(true, quarter), quarter);
        assert_eq!(lookup_interval(false, quarter), ADOPTING_LOOKUP_EVERY);
        // An empty answer for a magnet being adopted: 5 s, 10 s ... 60 s.
        let retries: Vec<u64> = (1..=6).map(|n| adopting_retry(n).as_secs()).collect();
        assert_eq!(retries, [5, 10, 20, 40, 60, 60]);
        assert_eq!(adopting_retry(u32::MAX), ADOPTING_LOOKUP_EVERY);
        let short = Duration::from_secs(5);
        assert_eq!(lookup_interval(false, short), short);
    }

    fn test_node(dir: &std::path::Path) -> Node {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let options = DhtOptions {
            bind: socket.local_addr().unwrap(),
            bootstrap: Vec::new(),
            state_dir: dir.to_path_buf(),
            own: OwnAddresses::default(),
            reannounce: DEFAULT_REANNOUNCE,
            rate: DEFAULT_RATE,
        };
        Node::new(
            socket,
            false,
            options,
            Arc::new(Found::default()),
            Instant::now(),
        )
    }

    /// BEP 42 through the shell: votes from the `ip` of replies and from
    /// peers' `yourip` move our id to one valid for the address most of
    /// them see, saved at once; a local address or a lone vote does not.
    #[test]
    fn our_node_id_follows_the_external_address_most_voters_see() {
        let dir = std::env::temp_dir().join(format!("lowspace-dht-bep42-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut node = test_node(&dir);
        let first = node.table.own_id();
        let now = Instant::now();
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        // (voter, seen): whether our id is valid for `seen` afterwards.
        node.learn_external(ip("1.1.1.1"), ip("81.2.3.4"), now);
        assert_eq!(node.table.own_id(), first, "one vote moved us");
        node.learn_external(ip("2.2.2.2"), ip("81.2.3.4"), now);
        let second = node.table.own_id();
        assert_ne!(second, first);
        assert!(bep42_valid(&second, ip("81.2.3.4")));
        assert_eq!(node.external, Some(ip("81.2.3.4")));
        let saved = state::load(&dir.join(STATE_FILE)).unwrap().unwrap();
        assert_eq!(saved.id, second);
        // The address changes: three voters now see another one.
        for voter in ["3.3.3.3", "4.4.4.4", "5.5.5.5"] {
            node.learn_external(ip(voter), ip("90.1.2.3"), now);
        }
        let third = node.table.own_id();
        assert!(bep42_valid(&third, ip("90.1.2.3")));
        assert_ne!(third, second);
        // IPv6 votes are not the IPv4 node's business; local ones keep the id.
        node.learn_external(ip("6.6.6.6"), ip("2001:db8::1"), now);
        node.learn_external(ip("7.7.7.7"), ip("2001:db8::1"), now);
        assert_eq!(node.table.own_id(), third);
        let mut local = test_node(&dir.join("local"));
        let id = local.table.own_id();
        local.learn_external(ip("10.0.0.2"), ip("192.168.1.9"), now);
        local.learn_external(ip("10.0.0.3"), ip("192.168.1.9"), now);
        assert_eq!(local.external, Some(ip("192.168.1.9")));
        assert_eq!(local.table.own_id(), id, "BEP 42 exempts local addresses");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_announce_cycle_is_swarms_times_cost_over_rate() {
        // (swarms, queries per announce, rate, seconds)
        for (swarms, cost, rate, secs) in [
            (100_000, 8.0, 50, 16_000),
            (100_000, 28.0, 50, 56_000),
            (1_000, 8.0, 50, 160),
            (0, 8.0, 50, 0),
            (10, 8.0, 0, 80),
        ] {
            assert_eq!(announce_cycle(swarms, cost, rate).as_secs(), secs);
        }
    }
}
