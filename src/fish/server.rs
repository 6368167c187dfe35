//! The event loop of the metadata-only peer: one thread, non-blocking
//! sockets, `poll(2)` (see [`super::sys`] for why), and the pure
//! [`Session`] per connection.
//!
//! Thread model, chosen for a Raspberry Pi (RSS under 10 MB, idle CPU far
//! under 1 %): this loop (listener and every peer connection), two
//! dialler threads with 64 KiB stacks (std connects only blocking), and
//! one thread per discovery source (trackers, DHT). The loop sleeps in
//! poll with a timeout of at most half a second when nothing happens.
//!
//! A peer that dials us about a magnet we are adopting is asked for its
//! metadata over that connection (see [`super::adopt::incoming`] for who
//! is asked); the outcome goes to the [`Adopter`] like a dialled fetch's.
//!
//! Bounds, so hostile peers cost little: at most `connections_limit`
//! connections (more are accepted and closed at once), a receive buffer
//! never larger than one message (16 KiB metadata piece plus headers),
//! a send buffer beyond which we stop reading from that peer, handshake
//! and idle deadlines in [`Session::timer`].

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::adopt::book::Standing;
use super::adopt::fetch::{MetadataFetch, Progress};
use super::adopt::incoming::{plan_caller, CallerPlan, CallerView, Refusal};
use super::adopt::worker::{AttemptError, ATTEMPT_DEADLINE};
use super::adopt::Adopter;
use super::dial::{skip_reason, Dialer, OwnAddresses};
use super::discovery::{Discovery, DiscoveryStatus, Swarm};
use super::peer_jobs::Done;
use super::registry::Registry;
use super::wire::{Action, CloseReason, Handshake, Session, SessionConfig, TimerDecision};
use crate::sys::{self, PollFd, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT};
use crate::torrent::{InfoHash, MagnetLink};

/// Stop reading from a peer whose unsent data exceeds this.
const MAX_SEND_BUFFER: usize = 256 * 1024;
/// Bytes read per connection per wake-up (fairness).
const READ_PER_WAKE: usize = 64 * 1024;
/// Connections accepted per wake-up.
const ACCEPT_PER_WAKE: usize = 64;
/// Longest sleep in poll.
const MAX_WAIT: Duration = Duration::from_millis(500);

/// How the loop is set up.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub load_path: PathBuf,
    pub connections_limit: usize,
    pub rescan_interval: Duration,
    pub report_interval: Duration,
    pub state_file: Option<PathBuf>,
    pub session: SessionConfig,
    pub own: OwnAddresses,
    /// Dial peers from this address (`--outgoing-interface`).
    pub outgoing_interface: Option<std::net::IpAddr>,
}

/// Counters for the report line and the state file.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Counters {
    pub swarms: usize,
    pub peers_connected: usize,
    pub connections_accepted: u64,
    pub connections_refused_full: u64,
    pub connections_dialled: u64,
    pub metadata_pieces_served: u64,
    pub metadata_requests_failed: u64,
    pub peers_dropped: u64,
    pub tracker_failures: u64,
    pub tracker_announces: u64,
    /// Multi-hash scrapes that found a resting tracker up again.
    pub tracker_scrapes: u64,
    pub dht_nodes: u64,
    /// The DHT's query rate, and how long announcing every swarm takes
    /// at it (0: no DHT).
    pub dht_rate: u64,
    pub dht_cycle_secs: u64,
    pub dht_interval_secs: u64,
    pub dht_queries_sent: u64,
    pub dht_queries_received: u64,
    pub dht_get_peers_received: u64,
    pub dht_announces_full: u64,
    pub dht_announces_cached: u64,
    /// Magnets (`--magnets`) whose metadata we are still looking for.
    pub magnets_pending: usize,
    /// Magnets whose .torrent we fetched and wrote this run.
    pub magnets_adopted: u64,
    /// Peers dropped for sending wrong or broken metadata.
    pub magnets_bad_peers: u64,
}

impl Counters {
    /// The periodic one-line report.
    pub fn line(&self) -> String {
        format!(
            "fish: {} swarms, {} peers connected, {} metadata pieces served, {} tracker failures, {} DHT nodes, {} magnets pending, {} adopted{}",
            self.swarms,
            self.peers_connected,
            self.metadata_pieces_served,
            self.tracker_failures,
            self.dht_nodes,
            self.magnets_pending,
            self.magnets_adopted,
            self.dht_cycle()
        )
    }

    /// ", DHT announce cycle 2h 46m at 50 queries/s", and a warning when
    /// that is longer than the announce interval (announces come late,
    /// and peers that stored ours forget it meanwhile).
    fn dht_cycle(&self) -> String {
        if self.dht_rate == 0 {
            return String::new();
        }
        let cycle = Duration::from_secs(self.dht_cycle_secs);
        let interval = Duration::from_secs(self.dht_interval_secs);
        let late = if cycle > interval && !interval.is_zero() {
            format!(
                " (longer than the {} announce interval: raise --dht-rate)",
                crate::size::short_duration(interval)
            )
        } else {
            String::new()
        };
        format!(
            ", DHT announce cycle {} at {} queries/s{late}",
            crate::size::short_duration(cycle),
            self.dht_rate
        )
    }
}

/// What a connection is for.
enum Role {
    /// Serving what we hold (or, before the handshake, not known yet).
    Serve(Session),
    /// The peer dialled us about a magnet we are adopting: we ask it.
    Fetch {
        fetch: Box<MetadataFetch>,
        since: Instant,
        /// How the fetch ended; None when the connection closed first.
        verdict: Option<Result<Vec<u8>, AttemptError>>,
    },
}

struct Connection {
    stream: TcpStream,
    addr: SocketAddr,
    role: Role,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
    started: Instant,
    last_received: Instant,
    last_sent: Instant,
    outgoing: bool,
    /// A caller whose handshake has been decided on.
    placed: bool,
    closing: Option<String>,
}

impl Connection {
    fn new(stream: TcpStream, addr: SocketAddr, session: Session, outgoing: bool) -> Connection {
        let now = Instant::now();
        Connection {
            stream,
            addr,
            role: Role::Serve(session),
            inbox: Vec::new(),
            outbox: Vec::new(),
            started: now,
            last_received: now,
            last_sent: now,
            outgoing,
            placed: false,
            closing: None,
        }
    }

    fn session(&self) -> &Session {
        match &self.role {
            Role::Serve(session) => session,
            Role::Fetch { fetch, .. } => fetch.session(),
        }
    }

    fn session_mut(&mut self) -> &mut Session {
        match &mut self.role {
            Role::Serve(session) => session,
            Role::Fetch { fetch, .. } => fetch.session_mut(),
        }
    }

    /// The handshake of a peer that dialled us, complete in the inbox and
    /// not acted on yet: what to do with it is [`Server::place_callers`]'
    /// decision, which needs to see every connection.
    fn waiting_handshake(&self) -> Option<Handshake> {
        match &self.role {
            Role::Serve(session)
                if !self.outgoing
                    && !self.placed
                    && !session.is_established()
                    && self.closing.is_none() =>
            {
                Handshake::decode(&self.inbox).ok().flatten()
            }
            _ => None,
        }
    }

    /// The magnet this connection is fetching from a caller, if it is.
    fn fetching(&self) -> Option<crate::torrent::InfoHash> {
        match &self.role {
            Role::Fetch { fetch, .. } if self.closing.is_none() => Some(fetch.info_hash()),
            _ => None,
        }
    }

    fn close(&mut self, why: impl Into<String>) {
        if self.closing.is_none() {
            self.closing = Some(why.into());
        }
    }

    fn flush(&mut self) {
        while !self.outbox.is_empty() {
            match self.stream.write(&self.outbox) {
                Ok(0) => return self.close("peer stopped reading"),
                Ok(n) => {
                    self.outbox.drain(..n);
                    self.last_sent = Instant::now();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return self.close(format!("send failed: {e}")),
            }
        }
        if self.outbox.is_empty() && self.outbox.capacity() > 64 * 1024 {
            self.outbox = Vec::new();
        }
    }
}

/// The running peer.
pub struct Server {
    options: ServerOptions,
    listener: TcpListener,
    registry: Registry,
    connections: Vec<Connection>,
    dialer: Dialer,
    discovery: Vec<Box<dyn Discovery>>,
    counters: Counters,
    /// Magnets being adopted (`--magnets`), if any were given.
    adopter: Option<Adopter>,
}

impl Server {
    /// Binds nothing itself: `listener` is bound by the caller (so the
    /// CLI reports a taken port as a usage error before anything starts).
    pub fn new(
        options: ServerOptions,
        listener: TcpListener,
        discovery: Vec<Box<dyn Discovery>>,
    ) -> std::io::Result<Server> {
        listener.set_nonblocking(true)?;
        let outgoing_interface = options.outgoing_interface;
        Ok(Server {
            options,
            listener,
            registry: Registry::new(),
            connections: Vec::new(),
            dialer: Dialer::start(outgoing_interface)?,
            discovery,
            counters: Counters::default(),
            adopter: None,
        })
    }

    /// Adopts `magnets`: those not in the load path are fetched from their
    /// swarms, written there, and served from then on.
    pub fn adopt(&mut self, magnets: Vec<MagnetLink>) -> std::io::Result<()> {
        if !magnets.is_empty() {
            self.adopter = Some(Adopter::start(
                magnets,
                self.options.session,
                self.options.outgoing_interface,
            )?);
        }
        Ok(())
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Runs until `stop()` says so, then says goodbye to the trackers.
    pub fn run(mut self, stop: &dyn Fn() -> bool, report: &mut dyn FnMut(&str)) {
        let mut next_scan = Instant::now();
        let mut next_report = Instant::now() + self.options.report_interval;
        let mut next_sweep = Instant::now();
        let mut fds: Vec<PollFd> = Vec::new();
        while !stop() {
            let now = Instant::now();
            if now >= next_scan {
                self.rescan();
                next_scan = now + self.options.rescan_interval;
            }
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = now + Duration::from_secs(1);
            }
            self.collect_peers(now);
            self.adopt_turn(now);
            if now >= next_report {
                self.report(report);
                next_report = now + self.options.report_interval;
            }

            fds.clear();
            fds.push(PollFd::new(self.listener.as_raw_fd(), POLLIN));
            for c in &self.connections {
                let mut events = 0;
                if c.outbox.len() < MAX_SEND_BUFFER {
                    events |= POLLIN;
                }
                if !c.outbox.is_empty() {
                    events |= POLLOUT;
                }
                fds.push(PollFd::new(c.stream.as_raw_fd(), events));
            }
            let wait = MAX_WAIT.min(next_sweep.saturating_duration_since(Instant::now()));
            if let Err(e) = sys::wait(&mut fds, wait) {
                log::error!("poll failed: {e}; retrying in a second");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
            let listener_ready = fds.first().is_some_and(|f| f.revents != 0);
            for (index, fd) in fds.iter().enumerate().skip(1) {
                if fd.revents == 0 {
                    continue;
                }
                let Some(connection) = self.connections.get_mut(index - 1) else {
                    continue;
                };
                if fd.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL) != 0 {
                    receive(connection, &self.registry, &mut self.counters);
                    if let Some(seen) = connection.session_mut().take_yourip() {
                        for source in &mut self.discovery {
                            source.saw_external(connection.addr.ip(), seen);
                        }
                    }
                }
                if fd.revents & POLLOUT != 0 {
                    connection.flush();
                }
            }
            self.place_callers(Instant::now());
            if listener_ready {
                self.accept();
            }
            self.reap();
        }
        self.report(report);
        log::info!("stopping: telling trackers we leave");
        for source in std::mem::take(&mut self.discovery) {
            source.stop();
        }
        self.write_state();
    }

    /// Collects fetched metadata and starts new fetches; a torrent written
    /// is served at once (rescan), not at the next scheduled scan.
    fn adopt_turn(&mut self, now: Instant) {
        let Some(adopter) = &mut self.adopter else {
            return;
        };
        let written = adopter.tick(now, &self.options.load_path);
        if !written.is_empty() {
            self.close_unwanted_fetches();
            self.rescan();
            for adopted in &written {
                if self.registry.get(&adopted.info_hash).is_none() {
                    log::warn!(
                        "wrote {} but the load-path scan did not take it; is it outside --load-path?",
                        adopted.path.display()
                    );
                }
            }
        }
        self.update_adopt_counters();
    }

    /// Ends fetches from callers for magnets no longer pending (adopted
    /// from another peer, or found in the load path).
    fn close_unwanted_fetches(&mut self) {
        let Some(adopter) = &self.adopter else {
            return;
        };
        for c in &mut self.connections {
            if c.fetching().is_some_and(|hash| !adopter.wants(&hash)) {
                c.close("the metadata is here already");
            }
        }
    }

    /// Decides, for each peer that dialled us and whose handshake is in,
    /// whether it is served, asked for a magnet's metadata or refused;
    /// then runs its connection on.
    fn place_callers(&mut self, now: Instant) {
        for index in 0..self.connections.len() {
            let Some((theirs, ip)) = self
                .connections
                .get(index)
                .and_then(|c| Some((c.waiting_handshake()?, c.addr.ip())))
            else {
                continue;
            };
            let hash = theirs.info_hash;
            let fetching: Vec<IpAddr> = self
                .connections
                .iter()
                .filter(|c| c.fetching() == Some(hash))
                .map(|c| c.addr.ip())
                .collect();
            let adopter = self.adopter.as_ref();
            let view = CallerView {
                held: self.registry.get(&hash).is_some(),
                adopting: adopter.is_some_and(|a| a.wants(&hash)),
                fetching: fetching.len(),
                fetching_from_ip: fetching.contains(&ip),
                standing: adopter.map_or(Standing::Welcome, |a| a.caller_standing(&hash, ip, now)),
            };
            let Some(c) = self.connections.get_mut(index) else {
                continue;
            };
            c.placed = true;
            match plan_caller(&view) {
                CallerPlan::Serve => {}
                CallerPlan::Fetch => {
                    log::debug!(
                        "{} dialled us about {hash}, a magnet we are adopting: asking it for the metadata",
                        c.addr
                    );
                    c.role = Role::Fetch {
                        fetch: Box::new(MetadataFetch::answering(self.options.session, hash)),
                        since: now,
                        verdict: None,
                    };
                }
                CallerPlan::Refuse(Refusal::Unknown) => {
                    c.close(CloseReason::UnknownTorrent(hash).to_string());
                    continue;
                }
                CallerPlan::Refuse(why) => {
                    c.close(format!("{why} ({hash})"));
                    continue;
                }
            }
            process(c, &self.registry, &mut self.counters);
            c.flush();
        }
    }

    fn update_adopt_counters(&mut self) {
        if let Some(adopter) = &self.adopter {
            let status = adopter.status();
            self.counters.magnets_pending = status.pending;
            self.counters.magnets_adopted = status.adopted;
            self.counters.magnets_bad_peers = status.bad_peers;
        }
    }

    fn rescan(&mut self) {
        let started = Instant::now();
        let report = self.registry.scan(&self.options.load_path);
        if !report.added.is_empty() || !report.removed.is_empty() {
            log::info!(
                "holding {} torrents ({} added, {} left, {} failed) after a scan of {:.1} s",
                self.registry.len(),
                report.added.len(),
                report.removed.len(),
                report.failed.len(),
                started.elapsed().as_secs_f64()
            );
        }
        for (path, why) in &report.failed {
            log::warn!("skipping {}: {why}", path.display());
        }
        for hash in &report.added {
            if let Some(entry) = self.registry.get(hash) {
                let path = self.registry.path_of(entry);
                match self.registry.v2_alias_of(hash) {
                    Some(v2) => log::info!(
                        "joined swarm {hash} (and {v2}, its v2 hash) from {}",
                        path.display()
                    ),
                    None => log::info!("joined swarm {hash} from {}", path.display()),
                }
            }
        }
        for hash in &report.removed {
            log::info!("left swarm {hash}: its .torrent file is gone or changed");
        }
        if !report.removed.is_empty() {
            for c in &mut self.connections {
                let Role::Serve(session) = &c.role else {
                    continue;
                };
                if session
                    .info_hash()
                    .is_some_and(|h| self.registry.get(&h).is_none())
                {
                    c.close("we left that swarm");
                }
            }
        }
        let registry = &self.registry;
        let adopting_changed = self.adopter.as_mut().is_some_and(|adopter| {
            adopter.drop_held(&|hash| registry.get(hash).map(|e| registry.path_of(e)))
        });
        if adopting_changed {
            self.close_unwanted_fetches();
        }
        if !report.added.is_empty()
            || !report.removed.is_empty()
            || adopting_changed
            || self.counters.swarms == 0
        {
            // A hybrid is announced under both of its hashes.
            let mut swarms: Vec<Swarm> = self
                .registry
                .announce_hashes()
                .map(|(info_hash, e)| Swarm {
                    info_hash,
                    tracker_tiers: e.trackers.clone(),
                    private: e.private,
                    left: e.total_size,
                    adopting: false,
                })
                .collect();
            if let Some(adopter) = &self.adopter {
                swarms.extend(adopter.swarms());
            }
            // The last source gets the list itself: at 100,000 swarms a
            // copy is 4 MB.
            if let Some((last, others)) = self.discovery.split_last_mut() {
                for source in others {
                    source.set_swarms(swarms.clone());
                }
                last.set_swarms(swarms);
            }
        }
        self.counters.swarms = self.registry.len();
        self.update_adopt_counters();
    }

    fn sweep(&mut self, now: Instant) {
        for c in &mut self.connections {
            if let Role::Fetch { since, verdict, .. } = &mut c.role {
                if verdict.is_none() && now.saturating_duration_since(*since) >= ATTEMPT_DEADLINE {
                    *verdict = Some(Err(AttemptError::Timeout));
                    c.close(AttemptError::Timeout.to_string());
                    continue;
                }
            }
            let decision = c.session().timer(
                now.saturating_duration_since(c.started),
                now.saturating_duration_since(c.last_received),
                now.saturating_duration_since(c.last_sent),
            );
            match decision {
                TimerDecision::Nothing => {}
                TimerDecision::KeepAlive => {
                    c.outbox.extend_from_slice(&[0, 0, 0, 0]);
                    c.flush();
                }
                TimerDecision::Close(reason) => c.close(reason.to_string()),
            }
        }
        self.dialer.forget_old(now);
        self.reap();
    }

    fn accept(&mut self) {
        for _ in 0..ACCEPT_PER_WAKE {
            match self.listener.accept() {
                Ok((stream, addr)) => {
                    if self.connections.len() >= self.options.connections_limit
                        && !self.evict_stalled_handshake()
                    {
                        self.counters.connections_refused_full += 1;
                        log::debug!(
                            "refusing {addr}: {} connections already",
                            self.connections.len()
                        );
                        drop(stream);
                        continue;
                    }
                    if let Err(e) = stream.set_nonblocking(true) {
                        log::debug!("dropping {addr}: {e}");
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    self.counters.connections_accepted += 1;
                    let session = Session::incoming(self.options.session);
                    self.connections
                        .push(Connection::new(stream, addr, session, false));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => {
                    // EMFILE and friends: stop accepting for this round.
                    log::warn!("accept failed: {e}");
                    return;
                }
            }
        }
    }

    /// When full, the connection that has waited longest without a
    /// handshake makes room: a flood of silent sockets must not lock out
    /// real peers. False when every connection is a real peer.
    fn evict_stalled_handshake(&mut self) -> bool {
        let stalled = self
            .connections
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.session().is_established() && c.closing.is_none())
            .min_by_key(|(_, c)| c.started)
            .map(|(i, _)| i);
        match stalled {
            Some(index) => {
                let c = self.connections.swap_remove(index);
                log::debug!(
                    "closing {}: no handshake yet and a new peer needs the slot",
                    c.addr
                );
                self.counters.peers_dropped += 1;
                true
            }
            None => false,
        }
    }

    fn collect_peers(&mut self, now: Instant) {
        for done in self.dialer.finished() {
            let stream = match done.result {
                Ok(stream) => stream,
                Err(e) => {
                    log::debug!("dial {} failed: {e}", done.addr);
                    continue;
                }
            };
            let Some(size) = self.registry.get(&done.info_hash).map(|e| e.info_len) else {
                continue;
            };
            if self.connections.len() >= self.options.connections_limit
                || stream.set_nonblocking(true).is_err()
            {
                continue;
            }
            self.counters.connections_dialled += 1;
            let (session, first) =
                Session::outgoing(self.options.session, done.info_hash, Some(size));
            let mut c = Connection::new(stream, done.addr, session, true);
            c.outbox = first;
            c.flush();
            self.connections.push(c);
        }
        let outgoing_limit = self.options.connections_limit / 2;
        for index in 0..self.discovery.len() {
            let Some(source) = self.discovery.get_mut(index) else {
                continue;
            };
            for (info_hash, addr) in source.take_peers() {
                if self.registry.get(&info_hash).is_none() {
                    // A magnet being adopted: its peers are asked for the
                    // metadata, not dialled to be served.
                    if let Some(adopter) = self.adopter.as_mut().filter(|a| a.wants(&info_hash)) {
                        match skip_reason(&addr, &self.options.own, false, None, now, 0, 1) {
                            Some(why) => log::trace!("not asking {addr}: {why}"),
                            None => adopter.add_peer(&info_hash, addr, now),
                        }
                    }
                    continue;
                }
                let connected = self.connections.iter().any(|c| c.addr == addr);
                let outgoing = self.connections.iter().filter(|c| c.outgoing).count()
                    + self.dialer.in_flight();
                match skip_reason(
                    &addr,
                    &self.options.own,
                    connected,
                    self.dialer.last_dialled(&addr),
                    now,
                    outgoing,
                    outgoing_limit,
                ) {
                    Some(why) => log::trace!("not dialling {addr}: {why}"),
                    None => {
                        self.dialer.dial(info_hash, addr, now);
                    }
                }
            }
        }
    }

    fn reap(&mut self) {
        for c in &mut self.connections {
            if c.closing.is_none() {
                continue;
            }
            let Role::Fetch {
                fetch,
                since,
                verdict,
            } = &mut c.role
            else {
                continue;
            };
            let result = verdict.take().unwrap_or(Err(AttemptError::HungUp));
            if let Some(adopter) = self.adopter.as_mut() {
                adopter.caller_done(Done {
                    info_hash: fetch.info_hash(),
                    addr: c.addr,
                    result,
                    took: since.elapsed(),
                });
            }
        }
        let before = self.connections.len();
        self.connections.retain(|c| match &c.closing {
            Some(why) => {
                log::debug!("closing {}: {why}", c.addr);
                false
            }
            None => true,
        });
        self.counters.peers_dropped += (before - self.connections.len()) as u64;
        self.counters.peers_connected = self.connections.len();
    }

    fn status(&self) -> DiscoveryStatus {
        let mut total = DiscoveryStatus::default();
        for source in &self.discovery {
            let s = source.status();
            total.tracker_failures += s.tracker_failures;
            total.tracker_announces += s.tracker_announces;
            total.tracker_scrapes += s.tracker_scrapes;
            total.dht_nodes += s.dht_nodes;
            total.dht_rate += s.dht_rate;
            // The IPv4 and IPv6 nodes announce side by side.
            total.dht_cycle_secs = total.dht_cycle_secs.max(s.dht_cycle_secs);
            total.dht_interval_secs = total.dht_interval_secs.max(s.dht_interval_secs);
            total.dht_queries_sent += s.dht_queries_sent;
            total.dht_queries_received += s.dht_queries_received;
            total.dht_get_peers_received += s.dht_get_peers_received;
            total.dht_announces_full += s.dht_announces_full;
            total.dht_announces_cached += s.dht_announces_cached;
        }
        total
    }

    fn report(&mut self, report: &mut dyn FnMut(&str)) {
        let status = self.status();
        self.counters.tracker_failures = status.tracker_failures;
        self.counters.tracker_announces = status.tracker_announces;
        self.counters.tracker_scrapes = status.tracker_scrapes;
        self.counters.dht_nodes = status.dht_nodes;
        self.counters.dht_rate = status.dht_rate;
        self.counters.dht_cycle_secs = status.dht_cycle_secs;
        self.counters.dht_interval_secs = status.dht_interval_secs;
        self.counters.dht_queries_sent = status.dht_queries_sent;
        self.counters.dht_queries_received = status.dht_queries_received;
        self.counters.dht_get_peers_received = status.dht_get_peers_received;
        self.counters.dht_announces_full = status.dht_announces_full;
        self.counters.dht_announces_cached = status.dht_announces_cached;
        self.counters.peers_connected = self.connections.len();
        self.counters.swarms = self.registry.len();
        self.update_adopt_counters();
        if let Some(adopter) = &self.adopter {
            adopter.log_waiting();
        }
        report(&self.counters.line());
        self.write_state();
    }

    /// Writes the state file streaming: with 100,000 torrents the JSON is
    /// megabytes, and building it in memory first would double fish's
    /// peak.
    fn write_state(&self) {
        let Some(path) = &self.options.state_file else {
            return;
        };
        let mut peers: HashMap<InfoHash, usize> = HashMap::new();
        for c in &self.connections {
            if let Some(hash) = c.session().info_hash() {
                let hash = self.registry.get(&hash).map_or(hash, |e| e.info_hash);
                *peers.entry(hash).or_insert(0) += 1;
            }
        }
        let state = State {
            pid: std::process::id(),
            updated: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            listen_port: self.options.session.listen_port,
            counters: self.counters,
            trackers: self
                .discovery
                .iter()
                .flat_map(|d| d.tracker_health())
                .collect(),
            torrents: StateTorrents {
                registry: &self.registry,
                peers: &peers,
            },
        };
        let write = |file: &mut std::fs::File| -> std::io::Result<()> {
            let mut out = std::io::BufWriter::new(file);
            serde_json::to_writer_pretty(&mut out, &state)?;
            out.flush()
        };
        if let Err(e) = crate::fsutil::write_atomic_with(path, write) {
            log::warn!("cannot write state file {}: {e}", path.display());
        }
    }
}

/// The state file other tools read.
#[derive(serde::Serialize)]
struct State<'a> {
    pid: u32,
    updated: u64,
    listen_port: u16,
    #[serde(flatten)]
    counters: Counters,
    /// Per HTTP tracker: what multi-hash scrapes say of its swarms.
    trackers: Vec<super::discovery::TrackerHealth>,
    torrents: StateTorrents<'a>,
}

/// The torrents of the state file, serialized one by one from the registry.
struct StateTorrents<'a> {
    registry: &'a Registry,
    peers: &'a HashMap<InfoHash, usize>,
}

impl serde::Serialize for StateTorrents<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.registry.len()))?;
        for e in self.registry.entries() {
            seq.serialize_element(&StateTorrent {
                info_hash: e.info_hash.to_hex(),
                info_hash_v2: self.registry.v2_alias_of(&e.info_hash).map(|h| h.to_hex()),
                path: self.registry.path_of(e).display().to_string(),
                metadata_size: e.info_len,
                peers: self.peers.get(&e.info_hash).copied().unwrap_or(0),
            })?;
        }
        seq.end()
    }
}

#[derive(serde::Serialize)]
struct StateTorrent {
    info_hash: String,
    /// A hybrid's v2 hash cut to 20 bytes (what v2 peers and the DHT use).
    #[serde(skip_serializing_if = "Option::is_none")]
    info_hash_v2: Option<String>,
    path: String,
    metadata_size: u32,
    peers: usize,
}

/// Reads what the socket has and runs the session over it.
fn receive(c: &mut Connection, registry: &Registry, counters: &mut Counters) {
    let mut chunk = [0u8; 16 * 1024];
    let mut total = 0;
    while total < READ_PER_WAKE
        && c.closing.is_none()
        && c.outbox.len() < MAX_SEND_BUFFER
        && c.waiting_handshake().is_none()
    {
        match c.stream.read(&mut chunk) {
            Ok(0) => {
                c.close("peer hung up");
                break;
            }
            Ok(n) => {
                total += n;
                c.last_received = Instant::now();
                c.inbox.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                process(c, registry, counters);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                c.close(format!("receive failed: {e}"));
                break;
            }
        }
    }
    if c.inbox.is_empty() && c.inbox.capacity() > 4096 {
        c.inbox = Vec::new();
    }
    c.flush();
}

fn process(c: &mut Connection, registry: &Registry, counters: &mut Counters) {
    if c.waiting_handshake().is_some() {
        return;
    }
    let session = match &mut c.role {
        Role::Serve(session) => session,
        Role::Fetch { fetch, verdict, .. } => {
            if verdict.is_some() {
                c.inbox.clear();
                return;
            }
            let mut out = Vec::new();
            let result = fetch.receive(&c.inbox, &mut out);
            c.inbox.clear();
            c.outbox.extend_from_slice(&out);
            let why = match result {
                Ok(Progress::Pending) => return,
                Ok(Progress::Done(metadata)) => {
                    *verdict = Some(Ok(metadata));
                    "gave us the metadata".to_string()
                }
                Err(e) => {
                    let why = e.to_string();
                    *verdict = Some(Err(AttemptError::Fetch(e)));
                    why
                }
            };
            c.close(why);
            return;
        }
    };
    let mut actions = Vec::new();
    let used = session.feed(&c.inbox, registry, &mut actions);
    c.inbox.drain(..used.min(c.inbox.len()));
    let mut closing = None;
    for action in actions {
        match action {
            Action::Send(bytes) => c.outbox.extend_from_slice(&bytes),
            Action::Established { info_hash } => {
                log::debug!("{} joined us in swarm {info_hash}", c.addr);
            }
            Action::ServeMetadataPiece { piece } => {
                let Some(hash) = session.info_hash() else {
                    continue;
                };
                match registry.read_metadata_piece(&hash, piece) {
                    Ok(data) => {
                        if let Some(bytes) = session.metadata_piece(piece, &data) {
                            c.outbox.extend_from_slice(&bytes);
                            counters.metadata_pieces_served += 1;
                            log::debug!("sent metadata piece {piece} of {hash} to {}", c.addr);
                        }
                    }
                    Err(e) => {
                        counters.metadata_requests_failed += 1;
                        log::warn!(
                            "cannot serve metadata piece {piece} of {hash} to {}: {e}",
                            c.addr
                        );
                        if let Some(bytes) = session.metadata_reject(piece) {
                            c.outbox.extend_from_slice(&bytes);
                        }
                    }
                }
            }
            Action::PeerHasMetadata { .. }
            | Action::MetadataPiece { .. }
            | Action::MetadataRejected { .. } => {}
            Action::Close(reason) => closing = Some(reason),
        }
    }
    if let Some(reason) = closing {
        c.close(reason.to_string());
    }
}
