//! When each info-hash is looked up and announced next, and the nodes
//! that were closest to it last time, so a re-announce asks those few
//! (get_peers for a fresh token, then announce_peer) instead of walking
//! the DHT again.
//!
//! Memory is the point: fish must hold 100,000 torrents in about 350
//! bytes each, everything included. Per info-hash this keeps the
//! addresses of [`CACHED_NODES`] nodes in compact form (6 bytes each, 18
//! on IPv6), the due time as whole seconds (4 bytes) and two small
//! counters: 44 bytes an entry with its key on IPv4 (80 on IPv6);
//! measured with the hash table's spare room, 59 (106) bytes a torrent at
//! 100,000 torrents. Not kept:
//! - the nodes' ids: a cached node's answer brings its id back, and the
//!   lookup places it then;
//! - their tokens: a token lives 5 to 10 minutes (BEP 5, libtorrent) and
//!   the announce interval is 15, so a cached token would always be
//!   stale; the get_peers to the cached node fetches a fresh one (and the
//!   peers we want anyway).
//!
//! A cache for every hash rather than a bounded LRU: announces come
//! round in a cycle, and a cycle over more hashes than the LRU holds
//! would miss every time. Pure: time comes in as arguments.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::node_id::{decode_peer, encode_peer};
use crate::torrent::InfoHash;

/// Nodes cached per info-hash: a re-announce costs about twice this many
/// queries while they stay the closest.
pub const CACHED_NODES: usize = 3;

#[derive(Debug, Clone, Copy)]
struct Job<const N: usize> {
    /// Due at this many seconds after the schedule's epoch.
    next: u32,
    /// Lookups in a row that found no peer (adopting magnets).
    empty: u8,
    /// [`ANNOUNCE`] and [`SEEN`] (one byte for both keeps the entry at 44).
    flags: u8,
    /// Compact addresses; all zeros is an empty slot.
    nodes: [[u8; N]; CACHED_NODES],
}

/// The swarm is announced, not only looked up.
const ANNOUNCE: u8 = 1;
/// In the swarm list being applied (the others are dropped after it).
const SEEN: u8 = 2;

impl<const N: usize> Job<N> {
    fn announce(&self) -> bool {
        self.flags & ANNOUNCE != 0
    }
}

/// A due lookup, as the shell starts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub info_hash: InfoHash,
    pub announce: bool,
    /// Empty: a full lookup.
    pub cached: Vec<SocketAddr>,
}

/// The jobs of one node; `N` is the compact address size of its family
/// (6 or 18).
#[derive(Debug)]
pub struct Schedule<const N: usize> {
    epoch: Instant,
    jobs: HashMap<InfoHash, Job<N>>,
    /// Jobs that announce, counted when the swarm list changes.
    announced: usize,
    /// Due jobs found by the last pass, most overdue first, handed out
    /// before the next pass: a pass over 100,000 jobs takes milliseconds
    /// on a Pi, so it runs once per [`READY_BATCH`] lookups, not per tick.
    ready: VecDeque<InfoHash>,
    /// No job is due before this (a pass before it would find none).
    earliest: u32,
}

/// Due jobs collected per pass over all jobs.
pub const READY_BATCH: usize = 256;

/// A schedule for either family, chosen when the node starts.
#[derive(Debug)]
pub enum AnySchedule {
    V4(Schedule<6>),
    V6(Schedule<18>),
}

macro_rules! both {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnySchedule::V4($s) => $e,
            AnySchedule::V6($s) => $e,
        }
    };
}

impl AnySchedule {
    pub fn new(v6: bool, now: Instant) -> AnySchedule {
        if v6 {
            AnySchedule::V6(Schedule::new(now))
        } else {
            AnySchedule::V4(Schedule::new(now))
        }
    }
    pub fn set_swarms(&mut self, wanted: impl Iterator<Item = (InfoHash, bool)>, now: Instant) {
        both!(self, s => s.set_swarms(wanted, now))
    }
    pub fn take_due(
        &mut self,
        now: Instant,
        max: usize,
        interval: impl Fn(bool) -> Duration,
    ) -> Vec<Due> {
        both!(self, s => s.take_due(now, max, interval))
    }
    pub fn finished(
        &mut self,
        hash: &InfoHash,
        closest: &[SocketAddr],
        retry: Option<(bool, Duration)>,
        now: Instant,
    ) {
        both!(self, s => s.finished(hash, closest, retry, now))
    }
    pub fn empty_lookups(&self, hash: &InfoHash) -> u8 {
        both!(self, s => s.empty_lookups(hash))
    }
    pub fn retry_now(&mut self, hash: &InfoHash, now: Instant) {
        both!(self, s => s.retry_now(hash, now))
    }
    pub fn len(&self) -> usize {
        both!(self, s => s.len())
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn announced(&self) -> usize {
        both!(self, s => s.announced())
    }
    pub fn contains(&self, hash: &InfoHash) -> bool {
        both!(self, s => s.contains(hash))
    }
}

fn pack<const N: usize>(addr: &SocketAddr) -> Option<[u8; N]> {
    <[u8; N]>::try_from(encode_peer(addr).as_slice()).ok()
}

impl<const N: usize> Schedule<N> {
    pub fn new(now: Instant) -> Schedule<N> {
        Schedule {
            epoch: now,
            jobs: HashMap::new(),
            announced: 0,
            ready: VecDeque::new(),
            earliest: 0,
        }
    }

    fn secs(&self, at: Instant) -> u32 {
        u32::try_from(at.saturating_duration_since(self.epoch).as_secs()).unwrap_or(u32::MAX)
    }

    /// The swarms to look up (`true`: also announce); new ones are due
    /// now, gone ones forgotten with their cache. Marks and sweeps rather
    /// than building a set of the list: no second copy of 100,000 hashes.
    pub fn set_swarms(&mut self, wanted: impl Iterator<Item = (InfoHash, bool)>, now: Instant) {
        let now = self.secs(now);
        // Grown once to the list's size rather than doubling on the way:
        // each doubling leaves the old table's pages behind in the heap.
        let (least, most) = wanted.size_hint();
        self.jobs
            .reserve(most.unwrap_or(least).saturating_sub(self.jobs.len()));
        for (hash, announce) in wanted {
            let job = self.jobs.entry(hash).or_insert(Job {
                next: now,
                empty: 0,
                flags: 0,
                nodes: [[0; N]; CACHED_NODES],
            });
            // A magnet adopted since is announced from now on.
            if announce && !job.announce() {
                job.next = job.next.min(now);
            }
            job.flags = SEEN | if announce { ANNOUNCE } else { 0 };
            self.earliest = self.earliest.min(job.next);
        }
        self.jobs.retain(|_, job| job.flags & SEEN != 0);
        let mut announced = 0;
        for job in self.jobs.values_mut() {
            job.flags &= !SEEN;
            announced += usize::from(job.announce());
        }
        self.announced = announced;
    }

    /// Up to `max` due jobs, most overdue first; each is due again after
    /// `interval(announce)` (sooner if [`Schedule::finished`] says so).
    pub fn take_due(
        &mut self,
        now: Instant,
        max: usize,
        interval: impl Fn(bool) -> Duration,
    ) -> Vec<Due> {
        let at = self.secs(now);
        if self.ready.is_empty() && at >= self.earliest && max > 0 {
            self.collect_ready(at);
        }
        let mut out = Vec::new();
        while out.len() < max {
            let Some(hash) = self.ready.pop_front() else {
                break;
            };
            // Removed, or made due later, since the pass.
            let Some(job) = self.jobs.get_mut(&hash) else {
                continue;
            };
            if job.next > at {
                continue;
            }
            let again = u32::try_from(interval(job.announce()).as_secs()).unwrap_or(u32::MAX);
            job.next = at.saturating_add(again.max(1));
            self.earliest = self.earliest.min(job.next);
            out.push(Due {
                info_hash: hash,
                announce: job.announce(),
                cached: job
                    .nodes
                    .iter()
                    .filter(|n| n.iter().any(|b| *b != 0))
                    .filter_map(|n| decode_peer(n))
                    .collect(),
            });
        }
        out
    }

    /// One pass: the [`READY_BATCH`] most overdue jobs into `ready`, and
    /// when the first of the others is due.
    fn collect_ready(&mut self, at: u32) {
        let mut picked: Vec<(u32, InfoHash)> = Vec::new();
        let mut earliest = u32::MAX;
        for (hash, job) in &self.jobs {
            if job.next > at {
                earliest = earliest.min(job.next);
                continue;
            }
            let place = picked.partition_point(|(next, _)| *next <= job.next);
            if place < READY_BATCH {
                picked.insert(place, (job.next, *hash));
                if picked.len() > READY_BATCH {
                    // The one pushed out is still due: the next pass.
                    picked.truncate(READY_BATCH);
                    earliest = earliest.min(at);
                }
            } else {
                earliest = earliest.min(at);
            }
        }
        self.earliest = earliest;
        self.ready = picked.into_iter().map(|(_, hash)| hash).collect();
    }

    /// A lookup of `hash` ended: `closest` (closest first) are cached for
    /// next time; empty means the cache failed and the next lookup of it
    /// is a full one. `retry`: Some((found_peers, wait)) for a magnet
    /// being adopted: no peers makes it due again after `wait`.
    pub fn finished(
        &mut self,
        hash: &InfoHash,
        closest: &[SocketAddr],
        retry: Option<(bool, Duration)>,
        now: Instant,
    ) {
        let at = self.secs(now);
        let Some(job) = self.jobs.get_mut(hash) else {
            return;
        };
        job.nodes = [[0; N]; CACHED_NODES];
        for (slot, addr) in job
            .nodes
            .iter_mut()
            .zip(closest.iter().filter_map(pack::<N>))
        {
            *slot = addr;
        }
        if let Some((found, wait)) = retry {
            if found {
                job.empty = 0;
            } else {
                job.empty = job.empty.saturating_add(1);
                let wait = u32::try_from(wait.as_secs()).unwrap_or(u32::MAX);
                job.next = job.next.min(at.saturating_add(wait));
                self.earliest = self.earliest.min(job.next);
            }
        }
    }

    /// Makes `hash` due now (its cached nodes all failed: a full lookup
    /// should follow at once, not an interval later).
    pub fn retry_now(&mut self, hash: &InfoHash, now: Instant) {
        let at = self.secs(now);
        if let Some(job) = self.jobs.get_mut(hash) {
            job.next = at;
            self.earliest = self.earliest.min(at);
            // Ahead of the batch: its cached nodes just failed.
            self.ready.push_front(*hash);
        }
    }

    /// Lookups in a row that found no peer.
    pub fn empty_lookups(&self, hash: &InfoHash) -> u8 {
        self.jobs.get(hash).map_or(0, |j| j.empty)
    }

    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    pub fn contains(&self, hash: &InfoHash) -> bool {
        self.jobs.contains_key(hash)
    }

    /// Jobs that announce (the announce cycle's length in lookups).
    pub fn announced(&self) -> usize {
        self.announced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> InfoHash {
        InfoHash::from_bytes([n; 20])
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    const QUARTER: Duration = Duration::from_secs(900);

    #[test]
    fn the_entry_stays_small() {
        assert_eq!(std::mem::size_of::<Job<6>>(), 24);
        assert_eq!(std::mem::size_of::<(InfoHash, Job<6>)>(), 44);
        assert_eq!(std::mem::size_of::<(InfoHash, Job<18>)>(), 80);
    }

    #[test]
    fn new_hashes_are_due_now_most_overdue_first_then_after_the_interval() {
        let t0 = Instant::now();
        let mut s = Schedule::<6>::new(t0);
        s.set_swarms([(hash(1), true), (hash(2), false)].into_iter(), t0);
        let interval = |announce: bool| {
            if announce {
                QUARTER
            } else {
                Duration::from_secs(60)
            }
        };
        let due = s.take_due(t0, 1, interval);
        assert_eq!(due.len(), 1);
        let due2 = s.take_due(t0, 5, interval);
        assert_eq!(due2.len(), 1, "the first one is not due again");
        assert!(s
            .take_due(t0 + Duration::from_secs(59), 5, interval)
            .is_empty());
        let again = s.take_due(t0 + Duration::from_secs(60), 5, interval);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].info_hash, hash(2));
        assert!(!again[0].announce);
        assert_eq!(s.take_due(t0 + QUARTER, 5, interval).len(), 2);
        // Gone swarms go, an adopted magnet is announced from now on.
        s.set_swarms([(hash(2), true)].into_iter(), t0 + QUARTER);
        assert_eq!(s.len(), 1);
        assert_eq!(s.announced(), 1);
        let due = s.take_due(t0 + QUARTER, 5, interval);
        assert_eq!(due.len(), 1);
        assert!(due[0].announce);
        assert_eq!(s.take_due(t0, 0, interval), vec![]);
    }

    #[test]
    fn the_closest_nodes_are_cached_per_family_and_cleared_on_failure() {
        let t0 = Instant::now();
        let wanted = [(hash(1), true)];
        let nodes = [
            addr("1.2.3.4:1"),
            addr("[2001:db8::1]:2"),
            addr("5.6.7.8:3"),
            addr("9.9.9.9:4"),
            addr("10.0.0.1:5"),
        ];
        let mut v4 = Schedule::<6>::new(t0);
        v4.set_swarms(wanted.into_iter(), t0);
        v4.finished(&hash(1), &nodes, None, t0);
        let due = v4.take_due(t0, 1, |_| QUARTER);
        // The other family is never cached; only the first three fit.
        assert_eq!(
            due[0].cached,
            vec![addr("1.2.3.4:1"), addr("5.6.7.8:3"), addr("9.9.9.9:4")]
        );
        let mut v6 = Schedule::<18>::new(t0);
        v6.set_swarms(wanted.into_iter(), t0);
        v6.finished(&hash(1), &nodes, None, t0);
        assert_eq!(
            v6.take_due(t0, 1, |_| QUARTER)[0].cached,
            vec![addr("[2001:db8::1]:2")]
        );
        v4.finished(&hash(1), &[], None, t0);
        assert_eq!(v4.take_due(t0 + QUARTER, 1, |_| QUARTER)[0].cached, vec![]);
        assert!(v4.take_due(t0 + QUARTER, 1, |_| QUARTER).is_empty());
        v4.retry_now(&hash(1), t0 + QUARTER);
        assert_eq!(v4.take_due(t0 + QUARTER, 1, |_| QUARTER).len(), 1);
    }

    #[test]
    fn due_jobs_come_in_batches_of_one_pass() {
        let t0 = Instant::now();
        let mut s = Schedule::<6>::new(t0);
        let many = (0..300u32).map(|n| {
            let mut b = [0u8; 20];
            b[..4].copy_from_slice(&n.to_be_bytes());
            (InfoHash::from_bytes(b), true)
        });
        s.set_swarms(many, t0);
        let all = |_| QUARTER;
        assert_eq!(s.take_due(t0, 1000, all).len(), READY_BATCH);
        assert_eq!(s.take_due(t0, 1000, all).len(), 300 - READY_BATCH);
        assert!(s.take_due(t0, 1000, all).is_empty());
        assert!(s
            .take_due(t0 + QUARTER - Duration::from_secs(1), 1000, all)
            .is_empty());
        assert_eq!(s.take_due(t0 + QUARTER, 1000, all).len(), READY_BATCH);
    }

    #[test]
    fn an_adopting_magnet_without_peers_is_retried_sooner() {
        let t0 = Instant::now();
        let wanted = [(hash(1), false)];
        let mut s = Schedule::<6>::new(t0);
        s.set_swarms(wanted.into_iter(), t0);
        let minute = |_| Duration::from_secs(60);
        assert_eq!(s.take_due(t0, 1, minute).len(), 1);
        s.finished(&hash(1), &[], Some((false, Duration::from_secs(5))), t0);
        assert_eq!(s.empty_lookups(&hash(1)), 1);
        assert!(s
            .take_due(t0 + Duration::from_secs(4), 1, minute)
            .is_empty());
        assert_eq!(s.take_due(t0 + Duration::from_secs(5), 1, minute).len(), 1);
        s.finished(&hash(1), &[], Some((true, Duration::from_secs(5))), t0);
        assert_eq!(s.empty_lookups(&hash(1)), 0);
    }
}
