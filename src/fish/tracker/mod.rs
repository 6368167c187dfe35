//! Announcing to trackers: every torrent to every tracker of every tier
//! (one tracker named by both a `udp://` and an `http://` URL of the same
//! host and port is announced to over UDP, HTTP standing by),
//! HTTP(S) and UDP (BEP 15), in one thread of its own so the peer loop
//! never waits for a tracker.
//!
//! - [`response`]: tracker answers, decoded without I/O (fuzzed).
//! - [`udp`]: BEP 15 packets and the connect/announce exchange.
//! - [`http`]: the announce URL and the GET.
//! - [`schedule`]: when each announce is due (pure).
//! - [`scrape`]: multi-hash scrapes (BEP 48), which probe a resting
//!   HTTP tracker instead of waking its announces.

pub mod http;
pub mod response;
pub mod schedule;
pub mod scrape;
pub mod udp;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::discovery::{Found, SourceThread, Swarm, TrackerHealth};
use crate::torrent::InfoHash;
use response::AnnounceReply;
use schedule::{Book, ProbeOutcome, Secs, SwarmInfo};

/// The announce thread's stack: enough for a TLS handshake.
const THREAD_STACK: usize = 256 * 1024;
/// How long leaving may take (stopped announces) before we give up.
const GOODBYE_BUDGET: Duration = Duration::from_secs(10);

/// BEP 3 announce events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    None,
    Started,
    Stopped,
    Completed,
}

/// What one announce says about us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    pub info_hash: InfoHash,
    pub peer_id: [u8; 20],
    pub port: u16,
    pub left: u64,
    pub event: Event,
    pub key: u32,
    pub numwant: i32,
}

/// Why an announce failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerError {
    /// A scheme we do not speak (wss://, ...).
    Unsupported(String),
    Resolve(String),
    Io(String),
    Timeout(String),
    Http(String),
    Status(u16),
    Response(response::ResponseError),
}

impl TrackerError {
    /// True when the tracker itself is unreachable (rest it for every
    /// torrent), false when it answered about this torrent.
    pub fn tracker_down(&self) -> bool {
        matches!(
            self,
            TrackerError::Resolve(_)
                | TrackerError::Io(_)
                | TrackerError::Timeout(_)
                | TrackerError::Http(_)
        )
    }
}

impl fmt::Display for TrackerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackerError::Unsupported(url) => write!(f, "unsupported tracker scheme: {url}"),
            TrackerError::Resolve(why) => write!(f, "cannot resolve {why}"),
            TrackerError::Io(why) => write!(f, "network error: {why}"),
            TrackerError::Timeout(why) => write!(f, "timeout: {why}"),
            TrackerError::Http(why) => write!(f, "{why}"),
            TrackerError::Status(code) => write!(f, "HTTP status {code}"),
            TrackerError::Response(e) => write!(f, "{e}"),
        }
    }
}

/// Who we announce as.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    pub peer_id: [u8; 20],
    pub port: u16,
    pub key: u32,
    /// Source address for UDP trackers (`--outgoing-interface`).
    pub bind: Option<IpAddr>,
}

/// The announce thread, as a [`Discovery`] source.
pub struct TrackerDiscovery;

impl TrackerDiscovery {
    /// Starts the announce thread; its stop waits for the `stopped`
    /// announces (bounded by [`GOODBYE_BUDGET`]).
    pub fn start(identity: Identity) -> std::io::Result<SourceThread> {
        SourceThread::spawn(
            "trackers",
            THREAD_STACK,
            GOODBYE_BUDGET + Duration::from_secs(5),
            move |link| {
                let worker = Announcer {
                    identity,
                    found: link.found,
                    stop: link.stop,
                    book: Book::new(),
                    epoch: Instant::now(),
                    udp: HashMap::new(),
                    http: http::client(identity.bind),
                    first_round: None,
                    probes_checked: Secs::MAX,
                    health_checked: Secs::MAX,
                    health: BTreeMap::new(),
                };
                worker.run(link.swarms)
            },
        )
    }
}

struct Announcer {
    identity: Identity,
    found: Arc<Found>,
    stop: Arc<AtomicBool>,
    book: Book,
    /// When the thread started: job times are seconds since then.
    epoch: Instant,
    /// UDP trackers by address: one connection id (BEP 15, valid a
    /// minute) serves every torrent announced to that tracker.
    udp: HashMap<String, udp::UdpTracker>,
    http: crate::http::HttpClient,
    /// The first full round: when every job has been announced once, how
    /// long that took is logged (the announce-cycle time).
    first_round: Option<Instant>,
    /// The second resting trackers were last looked at for a probe.
    probes_checked: Secs,
    /// The second the last batch of health scrapes went.
    health_checked: Secs,
    /// Per tracker: the round of health scrapes under way (torrents
    /// scraped, with other peers) and what the state file shows.
    health: BTreeMap<u32, ((u64, u64), TrackerHealth)>,
}

impl Announcer {
    fn now(&self) -> Secs {
        u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn run(mut self, updates: Receiver<Vec<Swarm>>) {
        let mut owed_stops: Vec<(SwarmInfo, Box<str>)> = Vec::new();
        while !self.stop.load(Ordering::SeqCst) {
            for (swarm, url) in std::mem::take(&mut owed_stops) {
                let _ = self.announce(&swarm, &url, Event::Stopped);
            }
            let now = self.now();
            if now != self.probes_checked {
                self.probes_checked = now;
                for tracker in self.book.probes_due(now) {
                    self.probe(tracker);
                }
            }
            // One batch of health scrapes a second at most, before the
            // announces: a start's backlog of announces would starve it.
            if now != self.health_checked {
                self.health_checked = now;
                if let Some(tracker) = self.book.health_tracker(now) {
                    self.health_scrape(tracker);
                }
            }
            if let Some(index) = self.book.next_due(now) {
                self.run_job(index);
                continue;
            }
            let wait = self.book.sleep_for(now).min(Duration::from_secs(1));
            match updates.recv_timeout(wait) {
                Ok(swarms) => {
                    owed_stops = self.book.reconcile(&swarms, self.now());
                    drop(swarms);
                    self.first_round = Some(Instant::now());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.goodbye();
    }

    fn run_job(&mut self, index: usize) {
        let Some(job) = self.book.jobs.get(index).copied() else {
            return;
        };
        let (Some(swarm), Some(tracker)) =
            (self.book.swarm(&job).copied(), self.book.tracker(&job))
        else {
            return;
        };
        // Pacing: never two announces to one tracker closer than its gap.
        let gap = schedule::pacing_gap(tracker.jobs, tracker.interval);
        let (at, next_send) = schedule::pace(self.now_ms(), tracker.next_send_ms, gap);
        let url = tracker.url.clone();
        if let Some(t) = self.book.trackers.get_mut(job.tracker as usize) {
            t.next_send_ms = next_send;
        }
        let wait = at.saturating_sub(self.now_ms());
        if wait > 0 {
            std::thread::sleep(Duration::from_millis(wait));
        }
        let event = if job.started {
            Event::None
        } else {
            Event::Started
        };
        let result = self.announce(&swarm, &url, event);
        let now = self.now();
        match result {
            Ok(reply) => self.book.succeeded(index, now, &reply),
            Err(error) => self.book.failed(index, now, error.tracker_down()),
        }
        if let Some(since) = self.first_round {
            if self.book.untried == 0 {
                log::info!(
                    "trackers: every torrent announced once ({} announces to {} trackers) in {:.1} s",
                    self.book.jobs.iter().filter(|j| !j.standby).count(),
                    self.book.trackers.len(),
                    since.elapsed().as_secs_f64()
                );
                self.first_round = None;
            }
        }
    }

    /// One announce, counted and logged; peers go to the event loop.
    fn announce(
        &mut self,
        swarm: &SwarmInfo,
        url: &str,
        event: Event,
    ) -> Result<AnnounceReply, TrackerError> {
        let request = AnnounceRequest {
            info_hash: swarm.info_hash,
            peer_id: self.identity.peer_id,
            port: self.identity.port,
            left: swarm.left,
            event,
            key: self.identity.key,
            numwant: if event == Event::Stopped { 0 } else { 50 },
        };
        let result = if url.starts_with("udp://") {
            match self.udp_tracker(url) {
                Ok(tracker) => tracker.announce(&request),
                Err(e) => Err(e),
            }
        } else if url.starts_with("http://") || url.starts_with("https://") {
            http::announce(&self.http, url, &request)
        } else {
            Err(TrackerError::Unsupported(url.to_owned()))
        };
        match &result {
            Ok(reply) => {
                self.found.tracker_announces.fetch_add(1, Ordering::Relaxed);
                log::debug!(
                    "announced {} ({event:?}) to {}: {} peers, again in {:?}",
                    swarm.info_hash,
                    crate::http::url::redact(url),
                    reply.peers.len(),
                    reply.interval
                );
                if let Some(warning) = &reply.warning {
                    log::warn!("tracker {} warns: {warning}", crate::http::url::redact(url));
                }
                for peer in &reply.peers {
                    self.found.add_peer(swarm.info_hash, *peer);
                }
            }
            Err(error) => {
                self.found.tracker_failures.fetch_add(1, Ordering::Relaxed);
                log::warn!(
                    "announce of {} to {} failed: {error}",
                    swarm.info_hash,
                    crate::http::url::redact(url)
                );
            }
        }
        result
    }

    fn tracker_url(&self, tracker: u32) -> Option<Box<str>> {
        self.book
            .trackers
            .get(tracker as usize)
            .map(|t| t.url.clone())
    }

    /// One multi-hash scrape of a resting HTTP tracker: whether it is up
    /// again, learned without waking its announces.
    fn probe(&mut self, tracker: u32) {
        let Some(url) = self.tracker_url(tracker) else {
            return;
        };
        let Some(scrape) = scrape::scrape_url(&url) else {
            return;
        };
        let hashes = self.book.hashes_at(tracker, scrape::BATCH);
        let outcome = match crate::http::Url::parse(&scrape::scrape_request(&scrape, &hashes)) {
            Err(e) => {
                log::warn!("scrape of {}: {e}", crate::http::url::redact(&url));
                ProbeOutcome::Answered { status: 0 }
            }
            Ok(request) => match self.http.send(crate::http::Request::get(request)) {
                Err(e) => {
                    log::info!(
                        "tracker {} still down (scrape: {e})",
                        crate::http::url::redact(&url)
                    );
                    ProbeOutcome::Unreachable
                }
                Ok(response) if response.status != 200 => {
                    log::info!(
                        "tracker {} answers a scrape with HTTP status {}",
                        crate::http::url::redact(&url),
                        response.status
                    );
                    ProbeOutcome::Answered {
                        status: response.status,
                    }
                }
                Ok(response) => match scrape::parse_scrape(&response.body) {
                    Ok(swarms) => {
                        self.found.tracker_scrapes.fetch_add(1, Ordering::Relaxed);
                        log::info!(
                            "tracker {} is up again (a scrape of {} torrents lists {}): announces resume",
                            crate::http::url::redact(&url),
                            hashes.len(),
                            swarms.len()
                        );
                        ProbeOutcome::Swarms
                    }
                    Err(e) => {
                        log::info!(
                            "tracker {} is up again, but not scraped any more: {e}",
                            crate::http::url::redact(&url)
                        );
                        ProbeOutcome::Answered { status: 200 }
                    }
                },
            },
        };
        let now = self.now();
        self.book.probed(tracker, now, outcome);
    }

    /// One batch of a tracker's round of health scrapes; at the round's
    /// end (or a failure) the state file's entry for it is replaced.
    fn health_scrape(&mut self, tracker: u32) {
        let Some(url) = self.tracker_url(tracker) else {
            return;
        };
        let name = crate::http::url::redact(&url).to_string();
        let (batch, over) = self.book.health_batch(tracker, scrape::BATCH);
        let hashes: Vec<InfoHash> = batch.iter().map(|(h, _)| *h).collect();
        let result = match scrape::scrape_url(&url) {
            None => Err((false, format!("{name} has no scrape URL"))),
            Some(base) => self.scrape(&base, &hashes, &name),
        };
        let now = self.now();
        let entry = self.health.entry(tracker).or_insert_with(|| {
            (
                (0, 0),
                TrackerHealth {
                    tracker: name.clone(),
                    torrents_scraped: 0,
                    with_other_peers: 0,
                    last_scrape: String::new(),
                    multi_scrape: true,
                },
            )
        });
        match result {
            Ok(swarms) => {
                let listed_ours = batch
                    .iter()
                    .filter(|(h, ours)| *ours && swarms.contains_key(h))
                    .count();
                if !schedule::reads_every_hash(listed_ours, swarms.len()) {
                    entry.1.last_scrape = format!(
                        "{name} answered a scrape of {} torrents about only one: not scraped again",
                        hashes.len()
                    );
                    entry.1.multi_scrape = false;
                    log::info!("{}", entry.1.last_scrape);
                    self.book.health_done(tracker, now, false);
                } else {
                    let others = batch
                        .iter()
                        .filter(|(h, ours)| {
                            swarms.get(h).is_some_and(|c| {
                                schedule::has_other_peers(c.complete, c.incomplete, *ours)
                            })
                        })
                        .count();
                    entry.0 .0 += batch.len() as u64;
                    entry.0 .1 += others as u64;
                    if over {
                        entry.1.torrents_scraped = entry.0 .0;
                        entry.1.with_other_peers = entry.0 .1;
                        entry.1.last_scrape = "ok".into();
                        entry.0 = (0, 0);
                        self.book.health_done(tracker, now, true);
                    }
                }
            }
            Err((supported, why)) => {
                entry.0 = (0, 0);
                entry.1.last_scrape = why;
                entry.1.multi_scrape = supported;
                self.book.health_done(tracker, now, supported);
            }
        }
        let published: Vec<TrackerHealth> = self.health.values().map(|(_, h)| h.clone()).collect();
        if let Ok(mut shown) = self.found.tracker_health.lock() {
            *shown = published;
        }
    }

    /// One multi-hash scrape: the swarms listed, or whether the tracker
    /// may still be scraped (false: it refused) and why it failed.
    fn scrape(
        &self,
        base: &str,
        hashes: &[InfoHash],
        name: &str,
    ) -> Result<std::collections::HashMap<InfoHash, scrape::SwarmCounts>, (bool, String)> {
        let url = crate::http::Url::parse(&scrape::scrape_request(base, hashes))
            .map_err(|e| (false, format!("scrape of {name}: {e}")))?;
        let response = self
            .http
            .send(crate::http::Request::get(url))
            .map_err(|e| (true, format!("scrape of {name}: {e}")))?;
        if response.status != 200 {
            return Err((
                (500..600).contains(&response.status),
                format!("scrape of {name}: HTTP status {}", response.status),
            ));
        }
        scrape::parse_scrape(&response.body).map_err(|e| (false, format!("{name}: {e}")))
    }

    /// The UDP tracker of `url`, shared by every URL naming the same
    /// host and port (`udp://t:1` and `udp://t:1/announce` are one
    /// tracker with one connection id).
    fn udp_tracker(&mut self, url: &str) -> Result<&mut udp::UdpTracker, TrackerError> {
        let key = udp::host_port(url)
            .ok_or_else(|| TrackerError::Unsupported(url.to_owned()))?
            .to_ascii_lowercase();
        if !self.udp.contains_key(&key) {
            let tracker = udp::UdpTracker::resolve(url, self.identity.bind)?;
            self.udp.insert(key.clone(), tracker);
        }
        self.udp
            .get_mut(&key)
            .ok_or_else(|| TrackerError::Resolve(url.to_owned()))
    }

    /// `stopped` to every tracker we started with, within a time budget.
    fn goodbye(&mut self) {
        let deadline = Instant::now() + GOODBYE_BUDGET;
        let now = self.now();
        let started: Vec<(SwarmInfo, Box<str>)> = self
            .book
            .started()
            .filter_map(|j| {
                let tracker = self.book.tracker(j)?;
                if tracker.resting_until > now {
                    return None;
                }
                Some((*self.book.swarm(j)?, tracker.url.clone()))
            })
            .collect();
        for (swarm, url) in started {
            if Instant::now() >= deadline {
                log::warn!("not every tracker was told we left: out of time");
                break;
            }
            let _ = self.announce(&swarm, &url, Event::Stopped);
        }
    }
}
