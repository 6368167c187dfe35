//! When each (torrent, tracker) pair is announced next: the tracker's
//! interval (never sooner than its min interval), and on failure a
//! doubling back-off; a tracker that cannot be reached at all is rested
//! for every torrent at once, so a dead tracker costs one timeout, not
//! one per torrent.
//!
//! At archive scale (100,000 torrents, several trackers each) two more
//! rules: announces are spread, never bursts — a torrent's first announce
//! falls at a point of a start window given by its info-hash (the window
//! grows with the number of torrents, [`START_RATE`] a second per
//! tracker), later ones keep that phase, and a tracker is never sent more
//! than one announce per [`pacing_gap`]; and the state is small — a job
//! is 16 bytes (indices into the swarm and tracker tables, times in
//! seconds since the announcer started), the due jobs found through a
//! heap, not a scan.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use super::response::AnnounceReply;
use crate::fish::discovery::Swarm;
use crate::torrent::InfoHash;

/// Bounds on a tracker's interval: no hammering, no vanishing.
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);
pub const MAX_INTERVAL: Duration = Duration::from_secs(6 * 3600);
/// First retry after a failure, doubled per further failure up to the cap.
pub const FIRST_RETRY: Duration = Duration::from_secs(60);
pub const MAX_RETRY: Duration = Duration::from_secs(3600);
/// While a magnet is adopted, its trackers are asked again this often at
/// most (their min interval permitting): a tracker that knew no peer at
/// the first announce would otherwise be asked again only after its
/// interval, often half an hour.
pub const ADOPTING_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// First announces a second per tracker while a start window is shorter
/// than an interval: 10,000 torrents start over about 8 minutes, not at
/// once; 100,000 over half an hour (55 a second).
pub const START_RATE: u32 = 20;
/// The interval assumed before a tracker has said its own.
pub const ASSUMED_INTERVAL: Duration = Duration::from_secs(1800);

/// Seconds since the announcer started: 4 bytes a job instead of an
/// `Instant`'s 16.
pub type Secs = u32;

fn secs(d: Duration) -> Secs {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// One torrent at one tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    /// Index into [`Book::swarms`].
    pub swarm: u32,
    /// Index into [`Book::trackers`].
    pub tracker: u32,
    pub next: Secs,
    pub failures: u8,
    /// A `started` announce went through: later ones carry no event, and
    /// leaving sends `stopped`.
    pub started: bool,
    /// An HTTP announce to a tracker this swarm also announces to over
    /// UDP (same host and port, see [`same_tracker`]): made only while
    /// that UDP tracker fails (from its first failure that rests it to
    /// its next success).
    pub standby: bool,
}

/// A swarm as the announcer needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwarmInfo {
    pub info_hash: InfoHash,
    pub left: u64,
    /// A magnet being adopted (see [`ADOPTING_INTERVAL`]).
    pub adopting: bool,
}

/// One tracker, shared by every job that announces to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerInfo {
    pub url: Box<str>,
    /// Jobs announcing here (for the pacing and the start window).
    pub jobs: u32,
    /// Unreachable: no announce before this.
    pub resting_until: Secs,
    pub down_count: u32,
    /// Pacing: the earliest time of its next announce, in milliseconds.
    pub next_send_ms: u64,
    /// The interval it last asked for.
    pub interval: Duration,
    /// For a plain HTTP tracker: the UDP tracker at the same host and
    /// port, if any swarm names one.
    pub twin: Option<u32>,
    /// Whether it is probed with a multi-hash scrape while resting.
    pub scrape: ScrapeSupport,
    /// The next round of health scrapes ([`NEVER`] before its first
    /// successful announce), and where in the jobs the round is.
    pub health_next: Secs,
    pub health_cursor: u32,
}

/// A time that never comes.
pub const NEVER: Secs = Secs::MAX;

/// True when `tracker` is due a batch of health scrapes: it answers
/// announces, may answer a multi-hash scrape, and its round is due.
pub fn health_due(tracker: &TrackerInfo, now: Secs) -> bool {
    tracker.down_count == 0
        && tracker.health_next <= now
        && matches!(
            tracker.scrape,
            ScrapeSupport::Untried | ScrapeSupport::Works
        )
}

/// True when a swarm a scrape lists has peers besides us (`ours`: our
/// announce to that tracker went through, so one of the peers is us).
pub fn has_other_peers(complete: u64, incomplete: u64, ours: bool) -> bool {
    complete.saturating_add(incomplete) > u64::from(ours)
}

/// False when a reply shows the tracker read only one `info_hash` of a
/// request: of `listed_ours` swarms we are listed in (each has at least
/// us as a peer) it lists only one.
pub fn reads_every_hash(listed_ours: usize, listed: usize) -> bool {
    listed_ours < 2 || listed >= 2
}

/// What we know of a tracker's multi-hash scrape (BEP 48).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrapeSupport {
    /// UDP, or an HTTP URL without an `announce` segment: no scrape URL.
    NoUrl,
    Untried,
    Works,
    /// It answered a scrape with an error: never scraped again.
    Refused,
}

impl ScrapeSupport {
    fn of(url: &str) -> ScrapeSupport {
        if super::scrape::scrape_url(url).is_some() {
            ScrapeSupport::Untried
        } else {
            ScrapeSupport::NoUrl
        }
    }
}

/// How a scrape of a resting tracker went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// A scrape reply that parsed.
    Swarms,
    /// An HTTP answer that is not a scrape reply (a `failure reason`,
    /// a bad body, a status other than 200).
    Answered { status: u16 },
    /// No connection, no answer in time.
    Unreachable,
}

/// What a probe says: is the tracker up (its announces resume), and what
/// its scrape support is now. A 5xx is a proxy in front of a tracker that
/// is down, so the tracker keeps resting.
pub fn probe_verdict(outcome: ProbeOutcome, before: ScrapeSupport) -> (bool, ScrapeSupport) {
    match outcome {
        ProbeOutcome::Swarms => (true, ScrapeSupport::Works),
        ProbeOutcome::Answered { status } if (500..600).contains(&status) => (false, before),
        ProbeOutcome::Answered { .. } => (true, ScrapeSupport::Refused),
        ProbeOutcome::Unreachable => (false, before),
    }
}

/// True when a tracker is probed with a scrape at `now`, not woken by an
/// announce: it is resting, its rest is over, and it may answer a scrape.
pub fn probe_due(tracker: &TrackerInfo, now: Secs) -> bool {
    tracker.down_count > 0
        && tracker.resting_until <= now
        && matches!(
            tracker.scrape,
            ScrapeSupport::Untried | ScrapeSupport::Works
        )
}

/// Every announce job and when it is due.
#[derive(Debug, Default)]
pub struct Book {
    pub swarms: Vec<SwarmInfo>,
    pub trackers: Vec<TrackerInfo>,
    pub jobs: Vec<Job>,
    /// (due, job index); an entry whose due time no longer matches its
    /// job's is stale and skipped.
    queue: BinaryHeap<Reverse<(Secs, u32)>>,
    /// Jobs never announced yet (neither success nor failure).
    pub untried: usize,
}

/// When to announce again after a success, in seconds from now.
pub fn after_success(reply: &AnnounceReply) -> Duration {
    let wanted = reply.interval.max(reply.min_interval.unwrap_or_default());
    wanted.clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// When to announce a job again after a success: as [`after_success`], but
/// sooner for a magnet being adopted (never before the tracker's min
/// interval, nor before [`MIN_INTERVAL`]).
pub fn next_announce(reply: &AnnounceReply, adopting: bool) -> Duration {
    let normal = after_success(reply);
    if !adopting {
        return normal;
    }
    let floor = reply.min_interval.unwrap_or_default().max(MIN_INTERVAL);
    normal.min(ADOPTING_INTERVAL.max(floor))
}

/// When to try again after the `failures`-th failure in a row.
pub fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY)
}

/// Where in a window of `window` seconds a torrent's announce falls: given
/// by its info-hash, so torrents spread evenly and each keeps its place.
pub fn phase(info_hash: &InfoHash, window: Secs) -> Secs {
    if window == 0 {
        return 0;
    }
    let b = info_hash.as_bytes();
    let x = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    // x / 2^32 of the window.
    u32::try_from((u64::from(x) * u64::from(window)) >> 32).unwrap_or(0)
}

/// The window a tracker's first announces are spread over: `jobs` at
/// [`START_RATE`] a second, but never longer than an interval (a torrent
/// is announced within half an hour of the start, at any scale).
pub fn start_window(jobs: u32) -> Secs {
    (jobs / START_RATE).min(secs(ASSUMED_INTERVAL))
}

/// The shortest time between two announces to one tracker: twice as fast
/// as its jobs need to fit its interval, at most one a second, at least
/// 2 ms apart (500 a second).
pub fn pacing_gap(jobs: u32, interval: Duration) -> Duration {
    let jobs = jobs.max(1);
    (interval / 2 / jobs).clamp(Duration::from_millis(2), Duration::from_secs(1))
}

/// When a job due at `due_ms` may go to its tracker, and the tracker's
/// next free slot after it.
pub fn pace(due_ms: u64, next_send_ms: u64, gap: Duration) -> (u64, u64) {
    let at = due_ms.max(next_send_ms);
    (at, at + u64::try_from(gap.as_millis()).unwrap_or(1000))
}

/// Where a tracker URL listens, for [`same_tracker`]: `udp://` with any
/// path, or plain `http://` without a query or credentials (a passkey in
/// the URL means the HTTP tracker knows us by it: UDP cannot stand in).
fn endpoint(url: &str) -> Option<(bool, String, u16)> {
    if let Some(host_port) = super::udp::host_port(url) {
        let (host, port) = host_port.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        return Some((true, host.to_ascii_lowercase(), port.parse().ok()?));
    }
    let parsed = crate::http::Url::parse(url).ok()?;
    let plain = parsed.scheme == crate::http::Scheme::Http
        && !parsed.path_and_query.contains('?')
        && parsed.username.is_none();
    plain.then(|| (false, parsed.host.to_ascii_lowercase(), parsed.port))
}

/// True when `udp` and `http` are one tracker reached two ways: the same
/// host and port (opentracker and most public trackers answer UDP and
/// HTTP on one port, from one swarm table). A swarm announced to both
/// would be listed twice at the cost of a TCP connection per HTTP
/// announce, so the HTTP one stands by (see [`Job::standby`]).
pub fn same_tracker(udp: &str, http: &str) -> bool {
    match (endpoint(udp), endpoint(http)) {
        (Some((true, uh, up)), Some((false, hh, hp))) => uh == hh && up == hp,
        _ => false,
    }
}

/// Sets each HTTP tracker's UDP twin and marks standby the HTTP jobs of
/// swarms that also have a job at that twin. Jobs come grouped by swarm.
fn link_twins(trackers: &mut [TrackerInfo], jobs: &mut [Job]) {
    // Each URL parsed once: an archive may name hundreds of trackers.
    let ends: Vec<Option<(bool, String, u16)>> =
        trackers.iter().map(|t| endpoint(&t.url)).collect();
    let twins: Vec<Option<u32>> = ends
        .iter()
        .map(|end| match end {
            Some((false, host, port)) => ends
                .iter()
                .position(|e| matches!(e, Some((true, h, p)) if h == host && p == port))
                .and_then(|i| u32::try_from(i).ok()),
            _ => None,
        })
        .collect();
    for (t, twin) in trackers.iter_mut().zip(twins) {
        t.twin = twin;
    }
    let mut start = 0;
    while start < jobs.len() {
        let swarm = jobs.get(start).map_or(0, |j| j.swarm);
        let end = jobs
            .iter()
            .skip(start)
            .position(|j| j.swarm != swarm)
            .map_or(jobs.len(), |n| start + n);
        let group = jobs.get_mut(start..end).unwrap_or(&mut []);
        let has = |group: &[Job], tracker: u32| group.iter().any(|j| j.tracker == tracker);
        for k in 0..group.len() {
            let twin = group
                .get(k)
                .and_then(|j| trackers.get(j.tracker as usize))
                .and_then(|t| t.twin);
            let standby = twin.is_some_and(|u| has(group, u));
            if let Some(job) = group.get_mut(k) {
                job.standby = standby;
            }
        }
        start = end.max(start + 1);
    }
}

impl Book {
    pub fn new() -> Book {
        Book::default()
    }

    pub fn swarm(&self, job: &Job) -> Option<&SwarmInfo> {
        self.swarms.get(job.swarm as usize)
    }

    pub fn tracker(&self, job: &Job) -> Option<&TrackerInfo> {
        self.trackers.get(job.tracker as usize)
    }

    fn push(&mut self, index: usize) {
        if let (Some(job), Ok(index)) = (self.jobs.get(index), u32::try_from(index)) {
            self.queue.push(Reverse((job.next, index)));
        }
    }

    /// Brings the jobs in line with the swarms: one job per tracker of
    /// every tier of every swarm, a new one's first announce spread over
    /// its tracker's start window (at once for a magnet being adopted: it
    /// waits for peers). Returns the jobs of removed swarms that had
    /// started (they are owed a `stopped`), with their swarm and tracker.
    pub fn reconcile(&mut self, swarms: &[Swarm], now: Secs) -> Vec<(SwarmInfo, Box<str>)> {
        let mut tracker_ids: HashMap<&str, u32> = HashMap::new();
        for (i, t) in self.trackers.iter().enumerate() {
            tracker_ids.insert(&t.url, u32::try_from(i).unwrap_or(u32::MAX));
        }
        let mut new_trackers: Vec<Box<str>> = Vec::new();
        // The old jobs, to carry their state over: jobs are kept grouped
        // by swarm, so a swarm's jobs are one range; swarms found by hash
        // through a sorted list. About 30 bytes a swarm and 1 a job, for
        // the length of the call (100,000 swarms come at once).
        let mut ranges: Vec<(u32, u32)> = vec![(0, 0); self.swarms.len()];
        for (i, job) in self.jobs.iter().enumerate() {
            if let Some(range) = ranges.get_mut(job.swarm as usize) {
                let i = u32::try_from(i).unwrap_or(u32::MAX);
                if range.1 == 0 {
                    *range = (i, i + 1);
                } else {
                    range.1 = i + 1;
                }
            }
        }
        let mut by_hash: Vec<(InfoHash, u32)> = self
            .swarms
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((s.info_hash, u32::try_from(i).ok()?)))
            .collect();
        by_hash.sort_unstable();
        let mut carried = vec![false; self.jobs.len()];
        let mut swarm_infos = Vec::with_capacity(swarms.len());
        let mut jobs = Vec::new();
        let mut fresh = Vec::new();
        for swarm in swarms {
            let Ok(swarm_index) = u32::try_from(swarm_infos.len()) else {
                break;
            };
            swarm_infos.push(SwarmInfo {
                info_hash: swarm.info_hash,
                left: swarm.left,
                adopting: swarm.adopting,
            });
            let old_range = by_hash
                .binary_search_by(|(h, _)| h.cmp(&swarm.info_hash))
                .ok()
                .and_then(|at| by_hash.get(at))
                .and_then(|(_, old)| ranges.get(*old as usize))
                .map_or(0..0, |(a, b)| *a as usize..*b as usize);
            let first_job = jobs.len();
            for url in swarm.tracker_tiers.iter().flatten() {
                let tracker = match tracker_ids.get(url.as_str()) {
                    Some(id) => *id,
                    None => {
                        let id = u32::try_from(self.trackers.len() + new_trackers.len())
                            .unwrap_or(u32::MAX);
                        tracker_ids.insert(url, id);
                        new_trackers.push(url.as_str().into());
                        id
                    }
                };
                let ours: &[Job] = jobs.get(first_job..).unwrap_or(&[]);
                if ours.iter().any(|j| j.tracker == tracker) {
                    continue; // the same tracker twice in one torrent
                }
                let old = old_range
                    .clone()
                    .find(|i| self.jobs.get(*i).is_some_and(|j| j.tracker == tracker));
                match old.and_then(|i| Some((i, *self.jobs.get(i)?))) {
                    Some((i, job)) => {
                        if let Some(flag) = carried.get_mut(i) {
                            *flag = true;
                        }
                        jobs.push(Job {
                            swarm: swarm_index,
                            ..job
                        });
                    }
                    None => {
                        fresh.push(jobs.len());
                        jobs.push(Job {
                            swarm: swarm_index,
                            tracker,
                            next: now,
                            failures: 0,
                            started: false,
                            standby: false,
                        });
                    }
                }
            }
        }
        let mut gone = Vec::new();
        for (job, carried) in self.jobs.iter().zip(&carried) {
            if job.started && !carried {
                let swarm = self.swarms.get(job.swarm as usize).copied();
                let url = self
                    .trackers
                    .get(job.tracker as usize)
                    .map(|t| t.url.clone());
                if let (Some(swarm), Some(url)) = (swarm, url) {
                    gone.push((swarm, url));
                }
            }
        }
        drop((ranges, by_hash, carried));
        drop(tracker_ids);
        for url in new_trackers {
            self.trackers.push(TrackerInfo {
                jobs: 0,
                resting_until: 0,
                down_count: 0,
                next_send_ms: 0,
                interval: ASSUMED_INTERVAL,
                twin: None,
                scrape: ScrapeSupport::of(&url),
                health_next: NEVER,
                health_cursor: 0,
                url,
            });
        }
        link_twins(&mut self.trackers, &mut jobs);
        for t in &mut self.trackers {
            t.jobs = 0;
        }
        for job in &jobs {
            if let Some(t) = self.trackers.get_mut(job.tracker as usize) {
                t.jobs = t.jobs.saturating_add(1);
            }
        }
        for index in fresh {
            let Some(job) = jobs.get(index) else { continue };
            let swarm = swarm_infos.get(job.swarm as usize);
            let window = self
                .trackers
                .get(job.tracker as usize)
                .map_or(0, |t| start_window(t.jobs));
            let delay = match swarm {
                Some(s) if !s.adopting => phase(&s.info_hash, window),
                _ => 0,
            };
            if let Some(job) = jobs.get_mut(index) {
                job.next = now.saturating_add(delay);
            }
        }
        self.swarms = swarm_infos;
        self.untried = jobs
            .iter()
            .filter(|j| !j.started && j.failures == 0 && !j.standby)
            .count();
        self.jobs = jobs;
        self.jobs.shrink_to_fit();
        self.swarms.shrink_to_fit();
        self.queue = self
            .jobs
            .iter()
            .enumerate()
            .filter_map(|(i, j)| Some(Reverse((j.next, u32::try_from(i).ok()?))))
            .collect();
        gone
    }

    /// The next job due at `now` whose tracker is not resting (a job of a
    /// resting tracker is moved to the end of the rest, at its phase of a
    /// start window, so the tracker's return is not a burst).
    pub fn next_due(&mut self, now: Secs) -> Option<usize> {
        while let Some(Reverse((due, index))) = self.queue.peek().copied() {
            if due > now {
                return None;
            }
            self.queue.pop();
            let i = index as usize;
            let Some(job) = self.jobs.get(i).copied() else {
                continue;
            };
            if job.next != due {
                continue; // stale
            }
            let Some(tracker) = self.trackers.get(job.tracker as usize) else {
                continue;
            };
            if job.standby {
                let twin = tracker.twin.and_then(|t| self.trackers.get(t as usize));
                if let Some(twin) = twin.filter(|t| t.down_count == 0) {
                    // Announced over UDP: look again an interval later
                    // (sooner if the UDP tracker goes down, see `failed`).
                    let next = now.saturating_add(secs(twin.interval));
                    if let Some(job) = self.jobs.get_mut(i) {
                        job.next = next;
                    }
                    self.push(i);
                    continue;
                }
            }
            if tracker.resting_until > now {
                let window = start_window(tracker.jobs);
                let hash = self.swarm(&job).map(|s| s.info_hash);
                let delay = hash.map_or(0, |h| phase(&h, window));
                let next = tracker.resting_until.saturating_add(delay);
                if let Some(job) = self.jobs.get_mut(i) {
                    job.next = next;
                }
                self.push(i);
                continue;
            }
            return Some(i);
        }
        None
    }

    /// How long until the next job is due.
    pub fn sleep_for(&self, now: Secs) -> Duration {
        match self.queue.peek() {
            Some(Reverse((due, _))) => Duration::from_secs(u64::from(due.saturating_sub(now))),
            None => Duration::from_secs(3600),
        }
    }

    /// Records a successful announce of job `index`.
    pub fn succeeded(&mut self, index: usize, now: Secs, reply: &AnnounceReply) {
        let Some(job) = self.jobs.get(index).copied() else {
            return;
        };
        let adopting = self.swarm(&job).is_some_and(|s| s.adopting);
        if !job.started && job.failures == 0 && !job.standby {
            self.untried = self.untried.saturating_sub(1);
        }
        if let Some(t) = self.trackers.get_mut(job.tracker as usize) {
            t.down_count = 0;
            t.resting_until = 0;
            t.interval = after_success(reply);
            if t.health_next == NEVER {
                t.health_next = now;
            }
        }
        if let Some(job) = self.jobs.get_mut(index) {
            job.failures = 0;
            job.started = true;
            job.next = now.saturating_add(secs(next_announce(reply, adopting)));
        }
        self.push(index);
    }

    /// Records a failed announce of job `index`; `tracker_down` rests the
    /// tracker for every torrent.
    pub fn failed(&mut self, index: usize, now: Secs, tracker_down: bool) {
        let Some(job) = self.jobs.get_mut(index) else {
            return;
        };
        if !job.started && job.failures == 0 && !job.standby {
            self.untried = self.untried.saturating_sub(1);
        }
        job.failures = job.failures.saturating_add(1);
        job.next = now.saturating_add(secs(retry_delay(u32::from(job.failures))));
        let tracker = job.tracker;
        if tracker_down {
            if let Some(t) = self.trackers.get_mut(tracker as usize) {
                t.down_count = t.down_count.saturating_add(1);
                t.resting_until = now.saturating_add(secs(retry_delay(t.down_count)));
                if t.down_count == 1 {
                    self.wake_standbys(tracker, now);
                }
            }
        }
        self.push(index);
    }

    /// A UDP tracker just went down: the HTTP announces standing by for
    /// it are due now, spread over a start window, so the swarms stay
    /// listed at that tracker.
    fn wake_standbys(&mut self, udp: u32, now: Secs) {
        let woken: Vec<u32> = self
            .trackers
            .iter()
            .enumerate()
            .filter(|(_, t)| t.twin == Some(udp))
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        if woken.is_empty() {
            return;
        }
        for i in 0..self.jobs.len() {
            let Some(job) = self.jobs.get(i).copied() else {
                continue;
            };
            if !job.standby || !woken.contains(&job.tracker) {
                continue;
            }
            let window = self.tracker(&job).map_or(0, |t| start_window(t.jobs));
            let delay = self.swarm(&job).map_or(0, |s| phase(&s.info_hash, window));
            let next = now.saturating_add(delay);
            if next < job.next {
                if let Some(job) = self.jobs.get_mut(i) {
                    job.next = next;
                }
                self.push(i);
            }
        }
    }

    /// Resting trackers to probe with a scrape now.
    pub fn probes_due(&self, now: Secs) -> Vec<u32> {
        self.trackers
            .iter()
            .enumerate()
            .filter(|(_, t)| probe_due(t, now))
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect()
    }

    /// Up to `max` info-hashes announced to `tracker`, for one scrape.
    pub fn hashes_at(&self, tracker: u32, max: usize) -> Vec<InfoHash> {
        self.jobs
            .iter()
            .filter(|j| j.tracker == tracker)
            .filter_map(|j| self.swarm(j).map(|s| s.info_hash))
            .take(max)
            .collect()
    }

    /// The first tracker due a batch of health scrapes.
    pub fn health_tracker(&self, now: Secs) -> Option<u32> {
        let i = self.trackers.iter().position(|t| health_due(t, now))?;
        u32::try_from(i).ok()
    }

    /// The next batch of a health round at `tracker`: up to `max`
    /// (info-hash, our announce went through) from its cursor, and
    /// whether the round is over after it.
    pub fn health_batch(&mut self, tracker: u32, max: usize) -> (Vec<(InfoHash, bool)>, bool) {
        let Some(cursor) = self.trackers.get(tracker as usize).map(|t| t.health_cursor) else {
            return (Vec::new(), true);
        };
        let mut batch = Vec::new();
        let mut at = cursor as usize;
        while at < self.jobs.len() && batch.len() < max {
            if let Some(job) = self.jobs.get(at).filter(|j| j.tracker == tracker) {
                if let Some(swarm) = self.swarm(job) {
                    batch.push((swarm.info_hash, job.started));
                }
            }
            at += 1;
        }
        let over = at >= self.jobs.len();
        if let Some(t) = self.trackers.get_mut(tracker as usize) {
            t.health_cursor = if over {
                0
            } else {
                u32::try_from(at).unwrap_or(0)
            };
        }
        (batch, over)
    }

    /// A round of health scrapes at `tracker` is over (or failed): the
    /// next one an interval later; `supported` false ends them for good.
    pub fn health_done(&mut self, tracker: u32, now: Secs, supported: bool) {
        if let Some(t) = self.trackers.get_mut(tracker as usize) {
            t.health_cursor = 0;
            t.health_next = now.saturating_add(secs(t.interval));
            if !supported {
                t.scrape = ScrapeSupport::Refused;
            } else if t.scrape == ScrapeSupport::Untried {
                t.scrape = ScrapeSupport::Works;
            }
        }
    }

    /// Records a probe of a resting tracker: up, it stops resting and its
    /// announces go at their places in the start window after the rest
    /// (as after any rest); down, it rests again, backed off.
    pub fn probed(&mut self, tracker: u32, now: Secs, outcome: ProbeOutcome) {
        let Some(t) = self.trackers.get_mut(tracker as usize) else {
            return;
        };
        let (up, scrape) = probe_verdict(outcome, t.scrape);
        t.scrape = scrape;
        if up {
            t.down_count = 0;
            t.resting_until = 0;
        } else {
            t.down_count = t.down_count.saturating_add(1);
            t.resting_until = now.saturating_add(secs(retry_delay(t.down_count)));
        }
    }

    /// Started jobs, for the goodbye (`stopped`).
    pub fn started(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter().filter(|j| j.started)
    }
}

#[cfg(test)]
mod tests;
