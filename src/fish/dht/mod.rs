//! The DHT node (BEP 5): finds peers for our torrents without trackers and
//! tells the DHT we have them, in a thread of its own behind
//! [`Discovery`], on one UDP socket bound to the TCP listener's address.
//!
//! - [`krpc`]: the messages (fuzzed).
//! - [`node_id`]: ids, XOR distance, compact node info.
//! - [`routing`]: the k-bucket routing table.
//! - [`token`]: announce tokens from a rotating secret.
//! - [`store`]: peers announced to us.
//! - [`lookup`]: the iterative get_peers / find_node state machine.
//! - [`state`]: node id and nodes kept across restarts.
//!
//! This file is the thin shell: socket, clock, and which pure piece is
//! asked what. Everything is bounded (table 160×8, store, outstanding
//! queries, concurrent lookups) and lookups are started one per tick, so
//! a thousand swarms do not burst.

pub mod krpc;
pub mod lookup;
pub mod node_id;
pub mod routing;
pub mod state;
pub mod store;
pub mod token;

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, SocketAddrV4, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dial::OwnAddresses;
use super::discovery::{Found, SourceThread, Swarm};
use crate::torrent::InfoHash;
use krpc::{Body, Message, Query, Response};
use lookup::Lookup;
use node_id::{NodeId, NodeInfo};
use routing::{RoutingTable, K};
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
/// The state file's name in the state directory.
pub const STATE_FILE: &str = "dht.json";

/// How long the thread sleeps in a read at most: the pace of timeouts,
/// lookups and the stop check (4 wake-ups a second cost nothing).
const TICK: Duration = Duration::from_millis(250);
/// An unanswered query is given up after this.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Queries in flight at once, at most.
const MAX_PENDING: usize = 48;
/// Lookups at once, at most (find_node refreshes included).
const MAX_LOOKUPS: usize = 4;
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
/// A KRPC packet larger than this is not one (BEP 5 packets fit 1500).
const MAX_PACKET: usize = 2048;
const THREAD_STACK: usize = 128 * 1024;
/// How long stopping may take.
const STOP_BUDGET: Duration = Duration::from_secs(3);

/// How the node is set up.
#[derive(Debug, Clone)]
pub struct DhtOptions {
    /// The TCP listener's address: the UDP socket binds the same.
    pub bind: SocketAddr,
    /// host:port of the nodes to join through, resolved in the thread.
    pub bootstrap: Vec<String>,
    /// Where dht.json lives.
    pub state_dir: PathBuf,
    /// Our own addresses: never handed out, never in the table.
    pub own: OwnAddresses,
    /// How often each info-hash is announced again.
    pub reannounce: Duration,
}

/// The DHT node, as a [`Discovery`](super::discovery::Discovery) source.
pub struct DhtDiscovery;

impl DhtDiscovery {
    /// Binds the socket (an error here is the caller's to report) and
    /// starts the node's thread; stopping saves the state and waits at
    /// most [`STOP_BUDGET`] (a bootstrap name lookup can hang in the
    /// resolver).
    pub fn start(options: DhtOptions) -> std::io::Result<SourceThread> {
        let SocketAddr::V4(bind) = options.bind else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "the DHT node speaks IPv4 only",
            ));
        };
        let socket = UdpSocket::bind(bind)?;
        socket.set_read_timeout(Some(TICK))?;
        SourceThread::spawn("dht", THREAD_STACK, STOP_BUDGET, move |link| {
            let node = Node::new(socket, options, Arc::clone(&link.found), Instant::now());
            node.run(&link.swarms, &link.stop);
        })
    }
}

/// The swarms the DHT looks up, and whether it announces each: never a
/// private torrent (BEP 27); a magnet being adopted is looked up but not
/// announced (we have nothing to give for it yet).
fn dht_swarms(swarms: &[Swarm]) -> HashMap<InfoHash, bool> {
    swarms
        .iter()
        .filter(|s| !s.private)
        .map(|s| (s.info_hash, !s.adopting))
        .collect()
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
    addr: SocketAddrV4,
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
}

struct Job {
    announce: bool,
    next: Instant,
    /// Lookups in a row that found no peer (adopting magnets only).
    empty: u32,
}

struct Node {
    socket: UdpSocket,
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
    jobs: HashMap<InfoHash, Job>,
    to_ping: VecDeque<SocketAddrV4>,
    pinged: HashMap<SocketAddrV4, Instant>,
    next_bootstrap: Instant,
    next_maintenance: Instant,
    next_save: Instant,
}

impl Node {
    fn new(socket: UdpSocket, options: DhtOptions, found: Arc<Found>, now: Instant) -> Node {
        let path = options.state_dir.join(STATE_FILE);
        let loaded = match state::load(&path) {
            Ok(found) => found,
            Err(why) => {
                log::warn!("DHT state unusable, starting with a new node id: {why}");
                None
            }
        };
        let (id, saved_nodes) = match loaded {
            Some(s) => {
                log::info!(
                    "DHT node id {} and {} nodes from {}",
                    s.id,
                    s.nodes.len(),
                    path.display()
                );
                (s.id, s.nodes)
            }
            None => {
                let id = NodeId::random();
                log::info!("DHT node id {id} (new)");
                (id, Vec::new())
            }
        };
        let next_bootstrap = if saved_nodes.is_empty() {
            now
        } else {
            now + SAVED_NODES_GRACE
        };
        let node = Node {
            socket,
            found,
            table: RoutingTable::new(id, now),
            tokens: Tokens::new(crate::sys::random_bytes(), now),
            store: PeerStore::default(),
            to_ping: saved_nodes
                .iter()
                .filter(|n| !options.own.is_own(&SocketAddr::V4(n.addr)))
                .map(|n| n.addr)
                .take(MAX_TO_PING)
                .collect(),
            saved_nodes,
            options,
            pending: HashMap::new(),
            next_transaction: 0,
            lookups: Vec::new(),
            next_serial: 0,
            jobs: HashMap::new(),
            pinged: HashMap::new(),
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
                Ok((len, SocketAddr::V4(from))) => {
                    if let Some(packet) = buf.get(..len) {
                        self.handle_packet(packet, from, Instant::now());
                    }
                }
                Ok((_, SocketAddr::V6(_))) => {}
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
        let wanted = dht_swarms(&swarms);
        self.jobs.retain(|hash, _| wanted.contains_key(hash));
        self.lookups.retain(|a| match a.kind {
            LookupKind::GetPeers { info_hash, .. } => wanted.contains_key(&info_hash),
            LookupKind::FindNode => true,
        });
        for (hash, announce) in wanted {
            let job = self.jobs.entry(hash).or_insert(Job {
                announce,
                next: now,
                empty: 0,
            });
            // A magnet adopted since is announced from now on.
            if announce && !job.announce {
                job.next = now;
            }
            job.announce = announce;
        }
    }

    fn tick(&mut self, now: Instant) {
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
        self.drain_pings(now);
        self.advance_lookups(now);
        self.start_lookup(now);
        self.found
            .dht_nodes
            .store(self.table.len() as u64, Ordering::Relaxed);
        if now >= self.next_save {
            self.next_save = now + SAVE_EVERY;
            self.save();
        }
    }

    fn save(&self) {
        let mut nodes = self.table.nodes_to_keep(Instant::now());
        if nodes.is_empty() {
            // Nothing answered yet this run: keep what we knew.
            nodes = self.saved_nodes.clone();
        }
        let path = self.options.state_dir.join(STATE_FILE);
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
        for (index, host) in self.options.bootstrap.clone().iter().enumerate() {
            let addrs: Vec<SocketAddrV4> = match host.to_socket_addrs() {
                Ok(addrs) => addrs
                    .filter_map(|a| match a {
                        SocketAddr::V4(v4) => Some(v4),
                        SocketAddr::V6(_) => None,
                    })
                    .collect(),
                Err(e) => {
                    log::warn!("DHT bootstrap node {host}: cannot resolve: {e}");
                    continue;
                }
            };
            let Some(addr) = addrs.first() else {
                log::warn!("DHT bootstrap node {host}: no IPv4 address");
                continue;
            };
            log::debug!("DHT bootstrapping from {host} ({addr})");
            let query = Query::FindNode { id: target, target };
            self.send_query(*addr, query, Purpose::Bootstrap(index), now);
        }
    }

    fn maintain(&mut self, now: Instant) {
        for node in self.table.questionable(K, now) {
            self.queue_ping(node.addr, now);
        }
        let refreshing = self.lookups.iter().any(|a| a.kind == LookupKind::FindNode);
        if !refreshing && !self.table.is_empty() {
            if let Some(target) = self.table.refresh_target(now) {
                self.begin_lookup(LookupKind::FindNode, target.0, now);
            }
        }
    }

    fn queue_ping(&mut self, addr: SocketAddrV4, now: Instant) {
        if self.pinged.contains_key(&addr)
            || self.to_ping.contains(&addr)
            || self.to_ping.len() >= MAX_TO_PING
            || self.pinged.len() >= MAX_REMEMBERED_PINGS
            || self.options.own.is_own(&SocketAddr::V4(addr))
        {
            return;
        }
        let _ = now;
        self.to_ping.push_back(addr);
    }

    fn drain_pings(&mut self, now: Instant) {
        // Half the query budget at most, so lookups keep going.
        while self.pending.len() < MAX_PENDING / 2 {
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

    /// Starts the lookup of the most overdue swarm, one per tick at most.
    fn start_lookup(&mut self, now: Instant) {
        if self.table.is_empty() || self.lookups.len() >= MAX_LOOKUPS {
            return;
        }
        let due = self
            .jobs
            .iter()
            .filter(|(_, job)| job.next <= now)
            .min_by_key(|(_, job)| job.next)
            .map(|(hash, job)| (*hash, job.announce));
        let Some((info_hash, announce)) = due else {
            return;
        };
        if let Some(job) = self.jobs.get_mut(&info_hash) {
            job.next = now + lookup_interval(announce, self.options.reannounce);
        }
        self.begin_lookup(
            LookupKind::GetPeers {
                info_hash,
                announce,
            },
            *info_hash.as_bytes(),
            now,
        );
    }

    fn begin_lookup(&mut self, kind: LookupKind, target: [u8; 20], now: Instant) {
        let seeds = self.table.closest(&target, K, now);
        self.next_serial += 1;
        self.lookups.push(Active {
            serial: self.next_serial,
            kind,
            lookup: Lookup::new(target, &seeds),
        });
        self.advance_lookups(now);
    }

    fn advance_lookups(&mut self, now: Instant) {
        let own = self.table.own_id();
        let mut index = 0;
        while index < self.lookups.len() {
            let mut queries = Vec::new();
            let mut finished = None;
            if let Some(active) = self.lookups.get_mut(index) {
                if self.pending.len() < MAX_PENDING {
                    for node in active.lookup.next_queries() {
                        let query = match active.kind {
                            LookupKind::FindNode => Query::FindNode {
                                id: own,
                                target: NodeId(*active.lookup.target()),
                            },
                            LookupKind::GetPeers { info_hash, .. } => {
                                Query::GetPeers { id: own, info_hash }
                            }
                        };
                        queries.push((node.addr, query, active.serial));
                    }
                }
                if active.lookup.is_done() {
                    finished = Some(index);
                }
            }
            for (addr, query, serial) in queries {
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
        let peers: Vec<SocketAddrV4> = active
            .lookup
            .take_peers()
            .into_iter()
            .filter(|p| !self.options.own.is_own(&SocketAddr::V4(*p)))
            .collect();
        for peer in &peers {
            self.found.add_peer(info_hash, SocketAddr::V4(*peer));
        }
        if !announce {
            if let Some(job) = self.jobs.get_mut(&info_hash) {
                if peers.is_empty() {
                    job.empty = job.empty.saturating_add(1);
                    job.next = job.next.min(now + adopting_retry(job.empty));
                } else {
                    job.empty = 0;
                }
            }
            log::debug!(
                "DHT get_peers {info_hash}: {} peers (not announced: adopting)",
                peers.len()
            );
            return;
        }
        let targets = active.lookup.announce_targets();
        let own = self.table.own_id();
        for (node, token) in &targets {
            let query = Query::AnnouncePeer {
                id: own,
                info_hash,
                port: self.options.own.port,
                token: token.clone(),
                implied_port: true,
            };
            self.send_query(node.addr, query, Purpose::Announce, now);
        }
        log::debug!(
            "DHT announced {info_hash} to {} nodes ({} peers found)",
            targets.len(),
            peers.len()
        );
    }

    fn send_query(&mut self, addr: SocketAddrV4, query: Query, purpose: Purpose, now: Instant) {
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
        };
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

    fn reply(&self, to: SocketAddrV4, transaction: Vec<u8>, body: Body) {
        let bytes = krpc::encode(&Message { transaction, body });
        if let Err(e) = self.socket.send_to(&bytes, to) {
            log::debug!("DHT reply to {to}: {e}");
        }
    }

    fn handle_packet(&mut self, packet: &[u8], from: SocketAddrV4, now: Instant) {
        if self.options.own.is_own(&SocketAddr::V4(from)) {
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
                self.handle_response(from, &message.transaction, response, now)
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

    fn take_pending(&mut self, from: SocketAddrV4, transaction: &[u8]) -> Option<Pending> {
        let t = u16::from_be_bytes(<[u8; 2]>::try_from(transaction).ok()?);
        if self.pending.get(&t)?.addr != from {
            return None;
        }
        self.pending.remove(&t)
    }

    fn handle_response(
        &mut self,
        from: SocketAddrV4,
        transaction: &[u8],
        response: Response,
        now: Instant,
    ) {
        let Some(pending) = self.take_pending(from, transaction) else {
            log::debug!("DHT dropped response from {from}: no query of ours with that transaction");
            return;
        };
        let Some(id) = response.id else {
            return;
        };
        let node = NodeInfo { id, addr: from };
        self.table.responded(node, now);
        let nodes: Vec<NodeInfo> = response
            .nodes
            .iter()
            .filter(|n| {
                !self.options.own.is_own(&SocketAddr::V4(n.addr)) && n.id != self.table.own_id()
            })
            .copied()
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
                    let own = self.table.own_id();
                    self.begin_lookup(LookupKind::FindNode, own.0, now);
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
                    active
                        .lookup
                        .answered(from, &nodes, &response.values, response.token);
                }
            }
            Purpose::Ping | Purpose::Announce => {}
        }
    }

    fn answer(&mut self, from: SocketAddrV4, transaction: Vec<u8>, query: Query, now: Instant) {
        let own = self.table.own_id();
        let sender = query.sender();
        log::trace!("DHT {} from {from}", query.method());
        if sender == own {
            log::debug!("DHT dropped query from {from}: it uses our node id");
            return;
        }
        // A node that queries us may be worth a place in the table: find
        // out by pinging it (only nodes that answer us get in).
        if !self.table.contains(&from) && self.table.has_room_for(&sender, now) {
            self.queue_ping(from, now);
        }
        let body = match query {
            Query::Ping { .. } => Body::Response(Response {
                id: Some(own),
                ..Response::default()
            }),
            Query::FindNode { target, .. } => Body::Response(Response {
                id: Some(own),
                nodes: self.table.closest(&target.0, K, now),
                ..Response::default()
            }),
            Query::GetPeers { info_hash, .. } => {
                let values: Vec<SocketAddrV4> = self
                    .store
                    .peers(&info_hash, now)
                    .into_iter()
                    .filter(|p| !self.options.own.is_own(&SocketAddr::V4(*p)))
                    .collect();
                Body::Response(Response {
                    id: Some(own),
                    nodes: self.table.closest(info_hash.as_bytes(), K, now),
                    values,
                    token: Some(self.tokens.token_for(*from.ip()).to_vec()),
                })
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                token,
                implied_port,
                ..
            } => {
                if !self.tokens.is_valid(*from.ip(), &token) {
                    log::debug!("DHT dropped announce_peer from {from}: bad token");
                    Body::Error {
                        code: krpc::ERROR_PROTOCOL,
                        message: "bad token".into(),
                    }
                } else {
                    let port = if implied_port { from.port() } else { port };
                    let peer = SocketAddrV4::new(*from.ip(), port);
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
        let wanted = dht_swarms(&[
            swarm(1, false, false),
            swarm(2, true, false),
            swarm(3, false, true),
            swarm(4, true, true),
        ]);
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
}
