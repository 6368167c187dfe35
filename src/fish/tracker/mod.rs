//! Announcing to trackers: every torrent to every tracker of every tier,
//! HTTP(S) and UDP (BEP 15), in one thread of its own so the peer loop
//! never waits for a tracker.
//!
//! - [`response`]: tracker answers, decoded without I/O (fuzzed).
//! - [`udp`]: BEP 15 packets and the connect/announce exchange.
//! - [`http`]: the announce URL and the GET.
//! - [`schedule`]: when each announce is due (pure).

pub mod http;
pub mod response;
pub mod schedule;
pub mod udp;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::discovery::{Found, SourceThread, Swarm};
use crate::torrent::InfoHash;
use response::AnnounceReply;
use schedule::Job;

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
                    jobs: Vec::new(),
                    resting: HashMap::new(),
                    down_count: HashMap::new(),
                    udp: HashMap::new(),
                    http: http::client(identity.bind),
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
    jobs: Vec<Job>,
    /// Trackers that could not be reached, resting until then.
    resting: HashMap<String, Instant>,
    down_count: HashMap<String, u32>,
    udp: HashMap<String, udp::UdpTracker>,
    http: crate::http::HttpClient,
}

impl Announcer {
    fn run(mut self, updates: Receiver<Vec<Swarm>>) {
        let mut owed_stops: Vec<Job> = Vec::new();
        while !self.stop.load(Ordering::SeqCst) {
            for job in owed_stops.drain(..) {
                let _ = self.announce(&job, Event::Stopped);
            }
            let now = Instant::now();
            if let Some(index) = schedule::next_due(&self.jobs, &self.resting, now) {
                self.run_job(index);
                continue;
            }
            let wait =
                schedule::sleep_for(&self.jobs, &self.resting, now).min(Duration::from_secs(1));
            match updates.recv_timeout(wait) {
                Ok(swarms) => {
                    let swarms: Vec<Swarm> = swarms.into_iter().collect();
                    owed_stops = schedule::reconcile(&mut self.jobs, &swarms, Instant::now());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.goodbye();
    }

    fn run_job(&mut self, index: usize) {
        let Some(job) = self.jobs.get(index).cloned() else {
            return;
        };
        let event = if job.started {
            Event::None
        } else {
            Event::Started
        };
        let result = self.announce(&job, event);
        let now = Instant::now();
        let Some(job) = self.jobs.get_mut(index) else {
            return;
        };
        match result {
            Ok(reply) => {
                job.failures = 0;
                job.started = true;
                job.next = schedule::next_announce(now, &reply, job.adopting);
                self.down_count.remove(&job.url);
                self.resting.remove(&job.url);
            }
            Err(error) => {
                job.failures = job.failures.saturating_add(1);
                job.next = now + schedule::retry_delay(job.failures);
                if error.tracker_down() {
                    let count = self.down_count.entry(job.url.clone()).or_insert(0);
                    *count = count.saturating_add(1);
                    self.resting
                        .insert(job.url.clone(), now + schedule::retry_delay(*count));
                }
            }
        }
    }

    /// One announce, counted and logged; peers go to the event loop.
    fn announce(&mut self, job: &Job, event: Event) -> Result<AnnounceReply, TrackerError> {
        let request = AnnounceRequest {
            info_hash: job.info_hash,
            peer_id: self.identity.peer_id,
            port: self.identity.port,
            left: job.left,
            event,
            key: self.identity.key,
            numwant: if event == Event::Stopped { 0 } else { 50 },
        };
        let result = if job.url.starts_with("udp://") {
            match self.udp_tracker(&job.url) {
                Ok(tracker) => tracker.announce(&request),
                Err(e) => Err(e),
            }
        } else if job.url.starts_with("http://") || job.url.starts_with("https://") {
            http::announce(&self.http, &job.url, &request)
        } else {
            Err(TrackerError::Unsupported(job.url.clone()))
        };
        match &result {
            Ok(reply) => {
                self.found.tracker_announces.fetch_add(1, Ordering::Relaxed);
                log::debug!(
                    "announced {} ({event:?}) to {}: {} peers, again in {:?}",
                    job.info_hash,
                    crate::http::url::redact(&job.url),
                    reply.peers.len(),
                    reply.interval
                );
                if let Some(warning) = &reply.warning {
                    log::warn!(
                        "tracker {} warns: {warning}",
                        crate::http::url::redact(&job.url)
                    );
                }
                for peer in &reply.peers {
                    self.found.add_peer(job.info_hash, *peer);
                }
            }
            Err(error) => {
                self.found.tracker_failures.fetch_add(1, Ordering::Relaxed);
                log::warn!(
                    "announce of {} to {} failed: {error}",
                    job.info_hash,
                    crate::http::url::redact(&job.url)
                );
            }
        }
        result
    }

    fn udp_tracker(&mut self, url: &str) -> Result<&mut udp::UdpTracker, TrackerError> {
        if !self.udp.contains_key(url) {
            let tracker = udp::UdpTracker::resolve(url, self.identity.bind)?;
            self.udp.insert(url.to_owned(), tracker);
        }
        self.udp
            .get_mut(url)
            .ok_or_else(|| TrackerError::Resolve(url.to_owned()))
    }

    /// `stopped` to every tracker we started with, within a time budget.
    fn goodbye(&mut self) {
        let deadline = Instant::now() + GOODBYE_BUDGET;
        let started: Vec<Job> = self.jobs.iter().filter(|j| j.started).cloned().collect();
        for job in started {
            if Instant::now() >= deadline {
                log::warn!("not every tracker was told we left: out of time");
                break;
            }
            if self
                .resting
                .get(&job.url)
                .is_some_and(|until| *until > Instant::now())
            {
                continue;
            }
            let _ = self.announce(&job, Event::Stopped);
        }
    }
}
